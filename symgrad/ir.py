"""The statement IR of one generated function: what the passes read and rewrite.

A body is a list of `Stmt`s: an assignment (`x = value`: a new array, a view, an alias or a
number), an update in place (`x += y`, `x[i, j] -= y`, or a call writing `out=x` as a
statement of its own), a free (`del x, y`) or a comment. Each knows the names it reads and
the one it writes. The shapes and dtypes of the named arrays come with the body (name ->
shape, name -> dtype); `shape_of` and `dtype_of` give those of any value a statement
computes. The printers make the statements (their text is parsed once, here); the passes in
products.py and liveness.py rewrite the list, as syntax trees; `lines` gives the text back,
as printed where no pass rewrote a statement, else by `source`, in the printers' notation.
"""
import ast
import copy
from ast import _Precedence, _Unparser  # type: ignore[attr-defined]
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .errors import SymgradError
from .graph import broadcast_shape


@dataclass
class Stmt:
    """One statement: kind "assign", "update", "free" or "comment"; tree, its Python syntax
    tree (None for a comment); text, its source."""
    kind: str
    tree: ast.stmt | None
    text: str
    reads: frozenset[str] = field(default=frozenset())
    target: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Stmt":
        """The statement of one line of source."""
        if text.startswith("#"):
            return cls("comment", None, text)
        tree = ast.parse(text).body[0]
        if isinstance(tree, ast.Delete):
            return cls("free", tree, text, frozenset(), None)
        if isinstance(tree, ast.Expr):        # np.f(..., out=x): an update of x
            return cls("update", tree, text, names(tree.value), out_of(tree.value))
        if isinstance(tree, ast.AugAssign):   # x += y reads x; x[k, :] += y reads k too
            into = tree.target
            parts = [tree.value] + ([into.slice] if isinstance(into, ast.Subscript) else [])
            base = into.value if isinstance(into, ast.Subscript) else into
            assert isinstance(base, ast.Name), text
            return cls("update", tree, text,
                       frozenset().union(*map(names, parts)) | {base.id}, base.id)
        assert isinstance(tree, ast.Assign) and isinstance(tree.targets[0], ast.Name), text
        return cls("assign", tree, text, names(tree.value), tree.targets[0].id)

    @property
    def value(self):
        return self.tree.value if self.kind in ("assign", "update") else None

    def allocates(self) -> bool:
        """Whether the statement binds its target to a new array (not a view such as x.T, a
        name, or a read-only broadcast)."""
        if self.kind != "assign":
            return False
        value = self.value
        if isinstance(value, ast.Call):
            return ast.unparse(value.func) not in _BROADCASTS | _VIEW_CALLS
        return isinstance(value, (ast.BinOp, ast.UnaryOp))

    def holder(self) -> str | None:
        """The name whose array the target is bound to (y for x = y and for
        x = np.f(..., out=y)), else None."""
        if self.kind != "assign":
            return None
        return self.value.id if isinstance(self.value, ast.Name) else out_of(self.value)


    @classmethod
    def of(cls, tree: ast.stmt) -> "Stmt":
        """The statement of a syntax tree a pass built, its text in the printers' notation."""
        return cls.parse(source(tree))


def parse(lines: Iterable[str]) -> list[Stmt]:
    return [Stmt.parse(line) for line in lines]


def rewritten(stmts: list[Stmt], transformer: ast.NodeTransformer,
              wanted: Callable[[ast.AST], bool] = lambda tree: True) -> list[Stmt]:
    """The statements, each whose tree is wanted rewritten by the transformer (on a copy), the
    others and those it leaves alone kept as printed."""
    out = []
    for s in stmts:
        if s.tree is not None and wanted(s.tree):
            tree = transformer.visit(copy.deepcopy(s.tree))
            s = Stmt.of(tree) if ast.dump(tree) != ast.dump(s.tree) else s
        out.append(s)
    return out


def call(func: str, args: Iterable[ast.expr], keywords: Iterable[ast.keyword] = ()) -> ast.Call:
    """The syntax tree of a call of func (a dotted name, such as np.add.reduce)."""
    return ast.Call(ast.parse(func, mode="eval").body, list(args), list(keywords))


def lines(stmts: Iterable[Stmt]) -> list[str]:
    return [s.text for s in stmts]


def out_of(call: ast.AST) -> str | None:
    """The name a call writes into (out=name), else None."""
    if not isinstance(call, ast.Call):
        return None
    out = next((k.value for k in call.keywords if k.arg == "out"), None)
    return out.id if isinstance(out, ast.Name) else None


def names(tree: ast.AST) -> frozenset[str]:
    """The names a syntax tree reads or writes."""
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))


def owned(stmts: list[Stmt], shapes: Mapping[str, tuple], given: Iterable[str] = ()) -> set[str]:
    """The float matrices the statements allocate (and those given, bound before them, that
    nothing else holds), less any that a view or an alias of another name reads: the arrays a
    function may write into (a float result never goes into a mask) and free."""
    arrays = {t for t, shape in shapes.items() if len(shape) == 2 and shape != (1, 1)}
    found = ({s.target for s in stmts if s.target and s.allocates()
              and dtype_of(s.value, {}) == "float"} | set(given)) & arrays
    for s in stmts:
        if s.kind == "assign" and not s.allocates():
            found -= s.reads          # a view (x.T) or an alias shares memory: never reuse
    return found


_VIEWS = {"T", "mT", "reshape"}      # attributes and methods that may give a view
_VIEW_CALLS = {"xp.reshape"}         # functions that may (array-API: xp.reshape(x, shape))
_BROADCASTS = {"np.broadcast_to", "xp.broadcast_to"}     # read-only (or overlapping) views


def sharing(stmts: list[Stmt], args: Iterable[str]) -> dict[str, set[str]]:
    """{name: the names of the arrays whose memory its value may share}: an argument's its
    own, a new array its target's, a view or an alias its base's, a broadcast "<read-only>"
    as well."""
    shares = {a: {a} for a in args}
    for s in stmts:
        if s.kind == "assign" and s.target is not None:
            shares[s.target] = shared_by(s.value, shares, s.target)
    return shares


def shared_by(value, shares, target):
    """The names of the arrays whose memory an expression's value may share (target: the
    name a new array is bound to, if any)."""
    if isinstance(value, ast.Name):
        return shares.get(value.id, {value.id})
    if isinstance(value, ast.Subscript):
        return shared_by(value.value, shares, target)
    if isinstance(value, ast.Attribute) and value.attr in _VIEWS:
        return shared_by(value.value, shares, target)
    if isinstance(value, ast.Call):
        func, into = value.func, out_of(value)
        if into:
            return shares.get(into, {into})
        if ast.unparse(func) in _BROADCASTS:
            return shared_by(value.args[0], shares, target) | {"<read-only>"}
        if ast.unparse(func) in _VIEW_CALLS:
            return shared_by(value.args[0], shares, target)
        if isinstance(func, ast.Attribute) and func.attr in _VIEWS:
            return shared_by(func.value, shares, target)
    return {target} if target else set()


# -- the text of a syntax tree ---------------------------------------------------------------
class _Notation(_Unparser):
    """Python source in the printers' notation (SymPy's): a*b, a/b and a**b without spaces,
    a fraction of two numbers in parentheses inside a product ((1/2)*D), and a product of
    products in parentheses ((A @ B) @ C: the order the schedule chose, shown)."""

    def visit_BinOp(self, node):
        op = self.binop[node.op.__class__.__name__]
        precedence = self.binop_precedence[op]
        with self.require_parens(precedence, node):
            left, right = (precedence.next(), precedence) if op in self.binop_rassoc \
                else (precedence, precedence.next())
            for side, operand in ((0, node.left), (1, node.right)):
                level = (left, right)[side]
                if op in ("*", "/") and _fraction(operand) \
                        or op == "@" and isinstance(operand, ast.BinOp) \
                        and isinstance(operand.op, ast.MatMult):
                    level = _Precedence.ATOM
                self.set_precedence(level, operand)
                self.traverse(operand)
                if side == 0:
                    self.write(op if op in ("*", "/", "**") else f" {op} ")


def _fraction(node):
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) \
        and isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant)


def source(tree: ast.AST) -> str:
    """The Python source of a syntax tree, in the printers' notation (see _Notation)."""
    return _Notation().visit(tree)


# -- the shape and dtype of a value ----------------------------------------------------------
Shape = tuple


def shape_of(node: ast.AST, shapes: Mapping[str, Shape]) -> Shape | None:
    """The shape of the value of an expression, from the shapes of the names it reads;
    () for a number, None where it cannot be told (an unknown name or function)."""
    if isinstance(node, ast.Name):
        return shapes.get(node.id)
    if isinstance(node, ast.Constant):
        return ()
    if isinstance(node, ast.Attribute) and node.attr in ("T", "mT"):
        shape = shape_of(node.value, shapes)
        return None if shape is None or len(shape) < 2 else (*shape[:-2], shape[-1], shape[-2])
    if isinstance(node, ast.Call) and ast.unparse(node.func) in _PRODUCTS \
            and len(node.args) == 2:
        node = ast.BinOp(left=node.args[0], op=ast.MatMult(), right=node.args[1])
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "_minus_logsumexp":
        minuend, logits, axis = node.args               # minuend - logsumexp(logits)
        return _broadcast([shape_of(minuend, shapes),
                           reduced(shape_of(logits, shapes), ast.literal_eval(axis))])
    if isinstance(node, ast.Call) and _keepdims_reduction(node):
        shape = shape_of(node.func.value, shapes)      # type: ignore[attr-defined]
        return reduced(shape, ast.literal_eval(node.keywords[0].value))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
        a, b = shape_of(node.left, shapes), shape_of(node.right, shapes)
        if a is None or b is None or len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
            return None
        lead = _broadcast([a[:-2], b[:-2]])
        return None if lead is None else (*lead, a[-2], b[-1])
    if isinstance(node, ast.UnaryOp):
        return shape_of(node.operand, shapes)
    if isinstance(node, (ast.BinOp, ast.Compare)):
        kids = [node.left, node.right] if isinstance(node, ast.BinOp) \
            else [node.left, *node.comparators]
        return _broadcast([shape_of(k, shapes) for k in kids])
    if isinstance(node, ast.Call) and (ufunc(node.func) is not None
                                       or ast.unparse(node.func) in ELEMENTWISE):
        return _broadcast([shape_of(a, shapes) for a in node.args])
    return None


_PRODUCTS = {"np.dot", "np.matmul", "_matmul"}     # the matrix product's call forms
ELEMENTWISE = {"_sigmoid"}       # the runtime's elementwise helpers (with an out= of theirs)


REDUCE = {"sum": "np.add.reduce", "max": "np.maximum.reduce", "min": "np.minimum.reduce"}


def reduced(shape: Shape | None, axis: int | tuple[int, ...]) -> Shape | None:
    """The shape of a reduction along axis (or axes) with keepdims (those axes 1); None if
    shape is unknown or has no such axis."""
    axes = axis if isinstance(axis, tuple) else (axis,)
    if not shape or not all(-len(shape) <= a < len(shape) for a in axes):
        return None
    return tuple(1 if i in {a % len(shape) for a in axes} else n for i, n in enumerate(shape))


def method_reduction(node: ast.AST) -> tuple[str, dict[str, ast.expr]] | None:
    """(the ufunc's reduce, the keywords) of x.sum(...), x.max(...) or x.min(...) (axis and
    keepdims only; x is node.func.value), None if node is not such a call: the form of a
    reduction the passes read, respelled last (products.last_forms)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr in REDUCE and not node.args \
            and {k.arg for k in node.keywords} <= {"axis", "keepdims"}:
        return REDUCE[node.func.attr], {str(k.arg): k.value for k in node.keywords}
    return None


def _keepdims_reduction(node: ast.Call) -> bool:
    """Whether a call is x.sum(axis=k, keepdims=True) (or .max, .min), a reduction along one
    axis."""
    found = method_reduction(node)
    if found is None or list(found[1]) != ["axis", "keepdims"]:
        return False
    keywords = found[1]
    try:
        axis, keep = ast.literal_eval(keywords["axis"]), ast.literal_eval(keywords["keepdims"])
    except ValueError:                # a name, not a literal
        return False
    return type(axis) is int and keep is True


def _broadcast(shapes):
    """The shape these broadcast to; None if one is unknown or they do not broadcast."""
    if any(s is None for s in shapes):
        return None
    try:
        return broadcast_shape(shapes)
    except SymgradError:
        return None


def dtype_of(node: ast.AST, dtypes: Mapping[str, str]) -> str:
    """The kind of the values of an expression: "bool" for a comparison (a mask) or a logical
    ufunc's result, a name's own (dtypes, "float" where it has none), else "float" (the
    arrays' dtype: the arguments give it and arithmetic keeps it)."""
    if isinstance(node, ast.Name):
        return dtypes.get(node.id, "float")
    if isinstance(node, ast.Compare):
        return "bool"
    called = ufunc(node.func) if isinstance(node, ast.Call) else None
    if called is not None and "d" * called.nin + "->d" not in called.types:
        return "bool"
    return "float"


def ufunc(func: ast.AST):
    """The NumPy ufunc np.<name> names, else None."""
    text = ast.unparse(func)
    found = getattr(np, text[3:], None) if text.startswith("np.") else None
    return found if isinstance(found, np.ufunc) else None
