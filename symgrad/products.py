"""The fast style's forms of matrix products: passes over a function's statements
(symgrad/ir.py), which the printers write as `a @ b` everywhere.

- `split_sums`: `Z = W @ A + b` becomes `Z = W @ A` then `Z += b`, and `dZ = (W.T @ dA)*M`
  `dZ = W.T @ dA` then `dZ *= M`: the product's new array takes the sum or the product,
  where the one statement would allocate a second array for it (M3: a 1 MB one).
- `call_forms`: a product of two matrices becomes `np.dot(a, b)` where the result is a
  vector (the same BLAS call as @ with a third less overhead: no generalized-ufunc
  dispatch; np.dot zeroes a matrix result first, which costs more than that), and
  `_matmul(a, b)` where it is a matrix (the helper picks the faster of the two ways to
  store it). A product of stacks of matrices (a Jacobian's seeds) stays `a @ b`.
- `dot_sums`: the sum of all the entries of `t = a*b + c*d` (a name nothing else reads, each
  term a product of two arrays of t's shape) as `np.vdot(a, b) + np.vdot(c, d)`: a dot
  product per term, no array for t (binary cross-entropy's Y*softplus(-Z) +
  (1 - Y)*softplus(Z): two calls fewer). Its terms are never negative there, where a dot
  product sums as accurately as a pairwise sum; a sum with a term of another form is kept.
- `float_literals`: an integer operand of a float array's arithmetic is written as a float
  (`1.0 - A`): NumPy converts a Python float to the array's dtype faster than an int.
- `last_forms`, the last step, on the text only (the passes before it, liveness and the
  workspace's, read out= as the keyword and sums as methods): `np.tanh(Z, out=Z)` is
  written `np.tanh(Z, Z)`, a ufunc's out after its inputs, which NumPy parses faster than a
  keyword (3% of M4), but for np.maximum and np.minimum (NumPy 2.4 deprecates it there);
  `x.sum(axis=1, keepdims=True)` is written `np.add.reduce(x, axis=1, keepdims=True)` and
  `x.sum()` `np.add.reduce(x, axis=None)`, the same reduction without the Python function
  between a method and the ufunc (0.2-0.5 us a call, 1.5% of M4).

For small arrays every call counts (M4 in benchmarks/).
"""
import ast
import copy
from collections.abc import Mapping

from . import ir


def forms(stmts: list[ir.Stmt], shapes: Mapping[str, ir.Shape],
          keep=frozenset()) -> list[ir.Stmt]:
    """The statements with the passes applied, in the order above (keep: the names that must
    survive)."""
    return float_literals(dot_sums(call_forms(split_sums(stmts, shapes), shapes), shapes, keep),
                          shapes)


def split_sums(stmts: list[ir.Stmt], shapes: Mapping[str, ir.Shape]) -> list[ir.Stmt]:
    """Each `Z = ... + P + ...` whose sum has a term P, a product of Z's shape (not
    broadcast) that no other term reads, as `Z = P` and `Z += rest` (`Z -= ...` where every
    other term is subtracted); each `Z = a*P/b` whose factor P is such a product and whose
    other factors are numbers, arrays or masks (no arithmetic: the later passes write that
    into a dying array) as `Z = P`, `Z *= a`, `Z /= b`, an update per factor."""
    out: list[ir.Stmt] = []
    for s in stmts:
        out += _split(s, shapes) or [s]
    return out


def _split(s, shapes):
    if s.kind != "assign" or not isinstance(s.value, ast.BinOp) or shapes.get(s.target) is None:
        return None
    if isinstance(s.value.op, (ast.Mult, ast.Div)):
        factors = _factors(s.value)
        for i, (op, factor) in enumerate(factors):
            rest = factors[:i] + factors[i + 1:]
            if isinstance(op, ast.Mult) and _alone(factor, rest, s.target, shapes) \
                    and all(_computed(f, shapes) for _, f in rest):
                target = ast.Name(s.target)
                return [ir.Stmt.of(ast.Assign([target], factor, lineno=0))] + [
                    ir.Stmt.of(ast.AugAssign(target, op, f)) for op, f in rest]
        return None
    if not isinstance(s.value.op, (ast.Add, ast.Sub)):
        return None
    terms = _terms(s.value, 1)
    for i, (sign, term) in enumerate(terms):
        rest = terms[:i] + terms[i + 1:]
        if sign > 0 and _alone(term, rest, s.target, shapes):
            subtract = all(sign < 0 for sign, _ in rest)
            rest.sort(key=lambda st: st[0] < 0)        # a term added first: a - b, not -b + a
            value = rest[0][1] if subtract or rest[0][0] > 0 else ast.UnaryOp(ast.USub(),
                                                                              rest[0][1])
            for sign, t in rest[1:]:
                value = ast.BinOp(value, ast.Add() if (sign > 0) != subtract else ast.Sub(), t)
            target = ast.Name(s.target)
            return [ir.Stmt.of(ast.Assign([target], term, lineno=0)),
                    ir.Stmt.of(ast.AugAssign(target, ast.Sub() if subtract else ast.Add(),
                                             value))]
    return None


def _alone(node, rest, target, shapes):
    """Whether node is a product of the target's shape that none of the rest ([(sign or
    operator, expression)]) reads."""
    return _is_product(node) and ir.shape_of(node, shapes) == shapes[target] \
        and not any(ast.dump(node) == ast.dump(n) for _, t in rest for n in ast.walk(t))


def _computed(node, shapes):
    """Whether an expression is an array or a number with no arithmetic on arrays: a name, a
    view, a mask, a number (float(np.sqrt(d_k)) too)."""
    return isinstance(node, (ast.Name, ast.Attribute, ast.Compare)) \
        or ir.shape_of(node, shapes) == () \
        or isinstance(node, ast.Call) and ast.unparse(node.func) == "float"


def _factors(node):
    """[(ast.Mult() or ast.Div(), factor)] of a product written with * and /."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _factors(node.left) + [(ast.Div(), node.right)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return _factors(node.left) + _factors(node.right)
    return [(ast.Mult(), node)]


def _terms(node, sign):
    """[(sign, term)] of a sum written with + and -."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        return _terms(node.left, sign) + _terms(
            node.right, sign if isinstance(node.op, ast.Add) else -sign)
    return [(sign, node)]


def _is_product(node):
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult)


def call_forms(stmts: list[ir.Stmt], shapes: Mapping[str, ir.Shape]) -> list[ir.Stmt]:
    """Each product of two matrices as np.dot(a, b) (a vector result) or _matmul(a, b)."""
    return ir.rewritten(stmts, _Calls(shapes), lambda tree: any(map(_is_product, ast.walk(tree))))


class _Calls(ast.NodeTransformer):
    def __init__(self, shapes):
        self.shapes = shapes

    def visit_BinOp(self, node):
        shape = ir.shape_of(node, self.shapes) if _is_product(node) else None
        self.generic_visit(node)             # the operands' products first
        if shape is None or len(shape) != 2:
            return node
        function = "np.dot" if 1 in shape else "_matmul"
        return ir.call(function, [node.left, node.right])


def dot_sums(stmts: list[ir.Stmt], shapes: Mapping[str, ir.Shape],
             keep=frozenset()) -> list[ir.Stmt]:
    """Each `t.sum()` of a name t assigned `a*b + c*d` before it (a sum of products of two
    arrays of t's shape), read by no other statement, not in keep (the names that must
    survive: returned ones) and none of whose names is written in between, as
    `(np.vdot(a, b) + np.vdot(c, d))`, the statement assigning t dropped."""
    out: list[ir.Stmt | None] = list(stmts)
    readers_of: dict[str, list[int]] = {}
    for j, r in enumerate(stmts):
        for name in r.reads:
            readers_of.setdefault(name, []).append(j)
    for i, s in enumerate(stmts):
        t = s.target
        if s.kind != "assign" or t is None or t in keep or len(shapes.get(t, ())) != 2:
            continue
        readers = readers_of.get(t, [])
        terms = _terms(s.value, 1)
        at = out[readers[0]] if len(readers) == 1 else None      # as rewritten so far
        reader = at.tree if at is not None else None
        if reader is None or readers[0] <= i \
                or not all(sign > 0 and _pair(term, shapes[t], shapes) for sign, term in terms) \
                or any(r.target in s.reads for r in stmts[i + 1:readers[0]]):
            continue
        total: ast.expr = ir.call("np.vdot", [terms[0][1].left, terms[0][1].right])
        for _, term in terms[1:]:
            total = ast.BinOp(total, ast.Add(), ir.call("np.vdot", [term.left, term.right]))
        tree = _Sum(t, total).visit(copy.deepcopy(reader))
        if t not in ir.names(tree):           # its one read was that sum
            out[i], out[readers[0]] = None, ir.Stmt.of(tree)
    return [s for s in out if s is not None]


def _pair(node, shape, shapes):
    """Whether node is a*b of two arrays of the shape (no broadcast)."""
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult) \
        and ir.shape_of(node.left, shapes) == shape == ir.shape_of(node.right, shapes)


class _Sum(ast.NodeTransformer):
    """name.sum() replaced by total."""

    def __init__(self, name, total):
        self.name, self.total = name, total

    def visit_Call(self, node):
        self.generic_visit(node)
        if ir.method_reduction(node) == ("np.add.reduce", {}) \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == self.name:
            return self.total
        return node


def float_literals(stmts: list[ir.Stmt], shapes: Mapping[str, ir.Shape]) -> list[ir.Stmt]:
    """Each integer operand of arithmetic on a float array (an operator's or a float ufunc's
    with an array result) written as a float."""
    return ir.rewritten(stmts, _Floats(shapes))


class _Floats(ast.NodeTransformer):
    def __init__(self, shapes):
        self.shapes = shapes

    def _array(self, node):
        return bool(ir.shape_of(node, self.shapes)) and ir.dtype_of(node, {}) == "float"

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)) and self._array(node):
            node.left, node.right = _float(node.left), _float(node.right)
        return node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        if not isinstance(node.op, ast.Pow) and self._array(node.target):
            node.value = _float(node.value)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if ir.ufunc(node.func) is not None and self._array(node):
            node.args = [_float(a) for a in node.args]
        return node


def _float(node):
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return ast.Constant(float(node.value))
    return node


def last_forms(stmts: list[ir.Stmt]) -> list[ir.Stmt]:
    """Each ufunc call's out= keyword, its only one, as the argument after its inputs; each
    x.sum(...) as np.add.reduce(x, ...), x.max(...) as np.maximum.reduce(x, ...) (.min too):
    no method's Python wrapper (0.5 us a call)."""
    return ir.rewritten(stmts, _Last(), lambda tree: "out=" in (text := ast.unparse(tree))
                        or any(f".{m}(" in text for m in ir.REDUCE))


class _Last(ast.NodeTransformer):
    KEYWORD_ONLY = {"np.maximum", "np.minimum"}

    def visit_Call(self, node):
        self.generic_visit(node)
        called = ir.ufunc(node.func)
        if called is not None and ast.unparse(node.func) not in self.KEYWORD_ONLY \
                and len(node.args) == called.nin and [k.arg for k in node.keywords] == ["out"]:
            node.args, node.keywords = [*node.args, node.keywords[0].value], []
        found = ir.method_reduction(node)
        if found is not None:
            axis = [] if "axis" in found[1] else [ast.keyword("axis", ast.Constant(None))]
            node = ir.call(found[0], [node.func.value], axis + node.keywords)
        return node
