"""Fast-style passes over a function's statements (symgrad/ir.py) that take two functions of
one logit from one exponential: the softmax from the logsumexp (softmax_from_logsumexp),
and the sigmoid of a logit whose softplus the function computes too (binary cross-entropy
on logits and its gradient, sigmoid(Z) - Y) from that softplus, sigmoid(Z) =
1 - exp(-softplus(Z)):

    t1 = np.logaddexp(0, Z) - Y*Z               t2 = np.logaddexp(0, Z)
    ...                                  ->     t1 = t2 - Y*Z
    A = _sigmoid(Z)                             ...
                                                A = -np.expm1(-t2)

one exponential and two negations in place of the helper's four calls and its overflow
guard (M4 in benchmarks/: 10% of a call). It is as accurate: within 1.1 ulp of the exact
sigmoid over float64 (2.2 in float32), where 1/(1 + exp(-Z)) is within 1.2 (1.6); softplus
never overflows and expm1 of a negative number never does.
"""
import ast
from collections.abc import Callable, MutableMapping

from . import ir


def sigmoid_from_softplus(stmts: list[ir.Stmt], shapes: MutableMapping[str, ir.Shape],
                          fresh: Callable[[], str]) -> list[ir.Stmt]:
    """The statements with each `_sigmoid(Z)` of a name Z that a `np.logaddexp(0, Z)` reads
    too, Z not written between them, written from that softplus: bound to a new name (fresh(),
    its shape added to shapes) before the first of them."""
    seen: dict[str, dict[str, list[int]]] = {}      # Z -> {"softplus"/"sigmoid": [i, ...]}
    for i, s in enumerate(stmts):
        for node in ast.walk(s.tree) if s.tree is not None else ():
            kind, logit = _form(node)
            if kind:
                seen.setdefault(logit, {}).setdefault(kind, []).append(i)
    softplus: dict[str, str] = {}                   # Z -> the name of its softplus
    before: dict[int, list[ir.Stmt]] = {}           # i -> statements to insert before it
    for logit, at in seen.items():
        if len(at) < 2:
            continue
        where = sorted(at["softplus"] + at["sigmoid"])
        if any(s.target == logit for s in stmts[where[0]:where[-1] + 1]):     # Z changes
            continue
        softplus[logit] = name = fresh()
        if logit in shapes:
            shapes[name] = shapes[logit]
        before.setdefault(where[0], []).append(ir.Stmt.parse(f"{name} = np.logaddexp(0, {logit})"))
        for i in sorted(set(at["sigmoid"])):
            before.setdefault(i, []).append(ir.Stmt.parse(
                f"# sigmoid({logit}) = 1 - exp(-softplus({logit})): the softplus {name}"))
    if not softplus:
        return stmts
    out: list[ir.Stmt] = []
    for i, s in enumerate(ir.rewritten(stmts, _Shared(softplus))):
        out += before.get(i, []) + [s]
    return out


def _form(node):
    """("softplus", Z) for np.logaddexp(0, Z), ("sigmoid", Z) for _sigmoid(Z), Z a name;
    else (None, None)."""
    if not isinstance(node, ast.Call) or node.keywords \
            or not all(isinstance(a, (ast.Name, ast.Constant)) for a in node.args):
        return None, None
    func, args = ast.unparse(node.func), node.args
    if func == "_sigmoid" and len(args) == 1 and isinstance(args[0], ast.Name):
        return "sigmoid", args[0].id
    if func == "np.logaddexp" and len(args) == 2 and isinstance(args[1], ast.Name) \
            and isinstance(args[0], ast.Constant) and args[0].value == 0:
        return "softplus", args[1].id
    return None, None


class _Shared(ast.NodeTransformer):
    def __init__(self, softplus):
        self.softplus = softplus

    def visit_Call(self, node):
        self.generic_visit(node)
        kind, logit = _form(node)
        if logit not in self.softplus:
            return node
        name = ast.Name(self.softplus[logit], ast.Load())
        if kind == "softplus":
            return name
        minus = ast.UnaryOp(ast.USub(), name)
        return ast.UnaryOp(ast.USub(), ir.call("np.expm1", [minus]))


def softmax_from_logsumexp(stmts: list[ir.Stmt], shapes: MutableMapping[str, ir.Shape],
                           fresh: Callable[[], str]) -> list[ir.Stmt]:
    """The statements with each `t = _logsumexp(Z, axis)` of a name Z whose softmax
    `np.exp(Z - t)` they compute too (cross-entropy on logits and its gradient), neither Z
    nor t written after it, computed from one exponential (new names from fresh(), their
    shapes added to shapes):

        t = _logsumexp(Z, -2)                    c = Z.max(axis=-2, keepdims=True)
        ...                                      e = np.exp(Z - c)    (two statements)
        A = np.exp(Z - t)                ->      s = e.sum(axis=-2, keepdims=True)
                                                 t = np.log(s) + c
                                                 ...
                                                 A = e/s

    one exponential of Z's size in place of two, and each array in a statement of its own
    (which liveness and the workspace pass can place). e/s is as accurate as exp(Z - t). A
    softmax written whole, np.exp(Z - _logsumexp(Z, axis)), is one too: its logsumexp,
    named first, is not computed at all if nothing else reads it."""
    named = _named_logsumexps(stmts, shapes, fresh)
    parts: dict[str, tuple[str, str, str]] = {}      # t -> (Z, e, s)
    out: list[ir.Stmt] = []
    for i, s in enumerate(named):
        later = named[i + 1:]
        found = _lse(s)
        if found is None or not {found[0], found[1]} <= set(shapes) \
                or any(r.target in found[:2] for r in later) \
                or not any(_softmax_of(n, found[1], found[0])
                           for r in later if r.tree is not None for n in ast.walk(r.tree)):
            out.append(s)
            continue
        (lse, logit, axis), c, d, e, total = found, fresh(), fresh(), fresh(), fresh()
        shapes[c] = shapes[total] = shapes[lse]
        shapes[d] = shapes[e] = shapes[logit]
        parts[lse] = (logit, e, total)
        note = f"# softmax({logit}) = {e}/{total}: {e} = exp({logit} - max), {total} its sum"
        out += ir.parse([note, f"{c} = {logit}.max(axis={axis}, keepdims=True)",
                         f"{d} = {logit} - {c}",             # an array exp can write into
                         f"{e} = np.exp({d})",
                         f"{total} = {e}.sum(axis={axis}, keepdims=True)",
                         f"{lse} = np.log({total}) + {c}"])
    if not parts:
        return stmts
    out = ir.rewritten(out, _Softmax(parts))
    unread = set(parts) - {name for r in out for name in r.reads}
    return [r for r in out if r.target not in unread]


def _named_logsumexps(stmts, shapes, fresh):
    """The statements with each np.exp(Z - _logsumexp(Z, axis)) of a name Z in shapes read
    as np.exp(Z - t), t = _logsumexp(Z, axis) a statement before (a new name)."""
    out = []
    for s in stmts:
        found = {}                              # text of the call -> its shape
        for node in ast.walk(s.tree) if s.tree is not None else ():
            inner = _inline_softmax(node)
            if inner is not None and ir.reduced(shapes.get(inner[1]), inner[2]) is not None:
                found[inner[0]] = ir.reduced(shapes[inner[1]], inner[2])
        if not found:
            out.append(s)
            continue
        names = {}
        for text, shape in found.items():
            names[text] = name = fresh()
            shapes[name] = shape
            out.append(ir.Stmt.parse(f"{name} = {text}"))
        out += ir.rewritten([s], _Named(names))
    return out


def _inline_softmax(node):
    """(the text of the call _logsumexp(Z, axis), Z, axis) for node = np.exp(Z -
    _logsumexp(Z, axis)), Z a name; else None."""
    z, inner = _exp_of_difference(node)
    found = _logsumexp_of(inner)
    if found is None or not isinstance(z, ast.Name) or found[0] != z.id:
        return None
    return ast.unparse(inner), *found


class _Named(ast.NodeTransformer):
    def __init__(self, names):
        self.names = names

    def visit_Call(self, node):
        text = ast.unparse(node)
        if text in self.names:
            return ast.Name(self.names[text], ast.Load())
        self.generic_visit(node)
        return node


def _lse(stmt):
    """(t, Z, axis) for `t = _logsumexp(Z, axis)`, Z a name; else None."""
    found = _logsumexp_of(stmt.tree.value) if stmt.kind == "assign" else None  # type: ignore[union-attr]
    return None if found is None or stmt.target is None else (stmt.target, *found)


def _logsumexp_of(node):
    """(Z, axis) for node = _logsumexp(Z, axis), Z a name; else None."""
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "_logsumexp" \
            and not node.keywords and len(node.args) == 2 and isinstance(node.args[0], ast.Name):
        return node.args[0].id, ast.literal_eval(node.args[1])
    return None


def _exp_of_difference(node):
    """(a, b) for node = np.exp(a - b); else (None, None)."""
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "np.exp" \
            and len(node.args) == 1 and not node.keywords \
            and isinstance(node.args[0], ast.BinOp) and isinstance(node.args[0].op, ast.Sub):
        return node.args[0].left, node.args[0].right
    return None, None


def _softmax_of(node, logit, lse):
    """Whether node is np.exp(logit - lse), logit and lse names."""
    a, b = _exp_of_difference(node)
    return isinstance(a, ast.Name) and a.id == logit and isinstance(b, ast.Name) and b.id == lse


class _Softmax(ast.NodeTransformer):
    def __init__(self, parts):
        self.parts = parts

    def visit_Call(self, node):
        self.generic_visit(node)
        for lse, (logit, e, total) in self.parts.items():
            if _softmax_of(node, logit, lse):
                return ast.BinOp(ast.Name(e, ast.Load()), ast.Div(), ast.Name(total, ast.Load()))
        return node
