"""The statement IR of one generated function: what the passes read and rewrite.

A body is a list of `Stmt`s: an assignment (`x = value`: a new array, a view, an alias or a
number), an update in place (`x += y`, `x[i, j] -= y`, or a call writing `out=x` as a
statement of its own), a free (`del x, y`) or a comment. Each knows the names it reads and
the one it writes; the shapes of the arrays come with the body (name -> shape). The printers
make the statements (their text is parsed once, here); the passes in liveness.py rewrite the
list; `lines` gives the text back, as printed where no pass rewrote a statement.
"""
import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


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
            return ast.unparse(value.func) != "np.broadcast_to"
        return isinstance(value, (ast.BinOp, ast.UnaryOp))

    def holder(self) -> str | None:
        """The name whose array the target is bound to (y for x = y and for
        x = np.f(..., out=y)), else None."""
        if self.kind != "assign":
            return None
        return self.value.id if isinstance(self.value, ast.Name) else out_of(self.value)


def parse(lines: Iterable[str]) -> list[Stmt]:
    return [Stmt.parse(line) for line in lines]


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
    """The matrices the statements allocate (and those given, bound before them, that nothing
    else holds), less any that a view or an alias of another name reads: the arrays a
    function may write into and free."""
    arrays = {t for t, shape in shapes.items() if len(shape) == 2 and shape != (1, 1)}
    found = ({s.target for s in stmts if s.target and s.allocates()} | set(given)) & arrays
    for s in stmts:
        if s.kind == "assign" and not s.allocates():
            found -= s.reads          # a view (x.T) or an alias shares memory: never reuse
    return found


_VIEWS = {"T", "mT", "reshape"}      # attributes and methods that may give a view


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
        if ast.unparse(func) == "np.broadcast_to":
            return shared_by(value.args[0], shares, target) | {"<read-only>"}
        if isinstance(func, ast.Attribute) and func.attr in _VIEWS:
            return shared_by(func.value, shares, target)
    return {target} if target else set()
