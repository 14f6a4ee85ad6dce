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
    """The statements with each `_sigmoid(Z)` of a name Z (or of -Z) that a
    `np.logaddexp(0, Z)` (-Z) reads too, Z not written between them, written from that
    softplus: bound to a new name (fresh(), its shape added to shapes) before the first."""
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
        base = logit.removeprefix("-")
        if any(s.target == base for s in stmts[where[0]:where[-1] + 1]):      # Z changes
            continue
        softplus[logit] = name = fresh()
        if base in shapes:
            shapes[name] = shapes[base]
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
    """("softplus", Z) for np.logaddexp(0, Z), ("sigmoid", Z) for _sigmoid(Z), Z a name or
    the negation of one ("-Z"); else (None, None)."""
    if not isinstance(node, ast.Call) or node.keywords:
        return None, None
    func, args = ast.unparse(node.func), node.args
    logit = args[-1] if args else None
    if isinstance(logit, ast.UnaryOp) and isinstance(logit.op, ast.USub):
        logit = logit.operand
    if not isinstance(logit, ast.Name):
        return None, None
    if func == "_sigmoid" and len(args) == 1:
        return "sigmoid", ast.unparse(args[0])
    if func == "np.logaddexp" and len(args) == 2 \
            and isinstance(args[0], ast.Constant) and args[0].value == 0:
        return "softplus", ast.unparse(args[1])
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

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        twice = isinstance(node.op, ast.USub) and isinstance(node.operand, ast.UnaryOp) \
            and isinstance(node.operand.op, ast.USub)
        return node.operand.operand if twice else node          # -(-x) is x


def softmax_from_logsumexp(stmts: list[ir.Stmt], shapes: MutableMapping[str, ir.Shape],
                           fresh: Callable[[], str], keep=frozenset()) -> list[ir.Stmt]:
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
    shifted: dict[str, Callable] = {}                # t -> ((a, first) -> a - t or t - a)
    logs: dict[str, str] = {}                        # t -> the name of log(s)
    notes: dict[str, tuple] = {}                     # a softmax's comment -> (t, with t)
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
        logs[lse] = log_total = fresh()
        shapes[log_total] = shapes[lse]
        shifted[lse] = lambda a, first, z=logit, c=c, d=d, u=log_total: _difference(
            ast.Name(d, ast.Load()) if isinstance(a, ast.Name) and a.id == z else
            ast.BinOp(a, ast.Sub(), ast.Name(c, ast.Load())), ast.Name(u, ast.Load()), first)
        note = f"# softmax({logit}) = {e}/{total}: {e} = exp({logit} - max), {total} its sum"
        notes[note] = (lse, f"{note}; {lse} = max + log({total})")
        out += ir.parse([note, f"{c} = {logit}.max(axis={axis}, keepdims=True)",
                         f"{d} = {logit} - {c}",             # an array exp can write into
                         f"{e} = np.exp({d})",
                         f"{total} = {e}.sum(axis={axis}, keepdims=True)",
                         f"{log_total} = np.log({total})",
                         f"{lse} = {log_total} + {c}"])
    if not parts:
        return stmts
    out = ir.rewritten(ir.rewritten(out, _Softmax(parts)), _Differences(shifted))
    for made in (set(parts), set(logs.values())):      # t, then log(s), if nothing reads it
        unread = made - {name for r in out for name in r.reads} - set(keep)
        out = [r for r in out if r.target not in unread]
    kept = {r.target for r in out}             # the note tells where t is, if log(s) is kept
    return [ir.Stmt.parse(notes[r.text][1]) if r.text in notes and logs[notes[r.text][0]]
            in kept else r for r in out]


def stable_logsumexp_differences(stmts: list[ir.Stmt], shapes: MutableMapping[str, ir.Shape],
                                 fresh: Callable[[], str], keep=frozenset()) -> list[ir.Stmt]:
    """The statements with each difference of a logsumexp, a - _logsumexp(Z, axis) (or
    _logsumexp(Z, axis) - a, -a + ..., the logsumexp named t = ... or not), computed as
    _minus_logsumexp(a, Z, axis): (a - c) - log(sum(exp(Z - c))), c Z's maximum along the
    axis. a - (c + log(...)) loses the digits of a confident logit's log-probability where
    a is near c (float32 logits 200 and 188: 0 for log(1 + exp(-12)) = 6.1e-6); a - c is
    exact there. Where a is Z's own expression (log_softmax(-2*W): a = -2*W, Z = t1), a reads
    Z. A named logsumexp that nothing else reads (nor keeps) is not computed; a
    difference computed in several statements is computed once (new names from fresh(),
    their shapes added to shapes)."""
    named = {}
    for i, s in enumerate(stmts):
        found = _lse(s)
        if found is not None and not any(r.target in (found[0], found[1].split(".")[0])
                                         for r in stmts[i + 1:]):
            named[found[0]] = found[1:]

    computed = {s.target: ast.dump(s.value) for s in stmts if s.kind == "assign"}

    def minus(logit, axis):
        def rewrite(a, first):
            if ast.dump(a) == computed.get(logit):      # a is the logit itself: read it
                a = ast.Name(logit, ast.Load())
            call = ir.call("_minus_logsumexp", [a, ast.parse(logit, mode="eval").body,
                                                ast.Constant(axis)])
            return call if first else ast.UnaryOp(ast.USub(), call)
        return rewrite
    out = ir.rewritten(stmts, _Differences(
        {t: minus(*zx) for t, zx in named.items()}, inline=minus))
    unread = set(named) - {name for r in out for name in r.reads} - set(keep)
    return _computed_once([r for r in out if r.target not in unread], "_minus_logsumexp",
                          shapes, fresh)


def _computed_once(stmts, func, shapes, fresh):
    """The statements with each call of func computed once: where a statement X = call
    computes it whole, read as X by the others that compute it again (P = np.exp(L) after
    L = call), that statement moved up to the first of them if nothing between binds what
    it reads or X; else, computed in two statements or more, named first (fresh())."""
    out = list(stmts)

    def users(text, but=None):
        return [j for j, r in enumerate(out) if j != but and r.tree is not None
                and any(isinstance(n, ast.Call) and ast.unparse(n) == text
                        for n in ast.walk(r.tree))]
    for s in stmts:
        value = s.tree.value if s.kind == "assign" and s.target else None  # type: ignore[union-attr]
        if not (isinstance(value, ast.Call) and ast.unparse(value.func) == func):
            continue
        text, i = ast.unparse(value), out.index(s)
        first = min(users(text, i), default=i)
        if first < i and any(r.target in s.reads | {s.target} or s.target in r.reads
                             for r in out[first:i]):
            continue
        if first < i:
            out.insert(first, out.pop(i))
        out = out[:first + 1] + ir.rewritten(out[first + 1:], _Named({text: s.target}))
    calls = {ast.unparse(n) for r in out if r.tree is not None for n in ast.walk(r.tree)
             if isinstance(n, ast.Call) and ast.unparse(n.func) == func}
    for text in sorted(calls):
        found = users(text)
        shape = ir.shape_of(ast.parse(text, mode="eval").body, shapes)
        if len(found) > 1 and shape is not None:
            shapes[name := fresh()] = shape
            out = out[:found[0]] + [ir.Stmt.parse(f"{name} = {text}")] + ir.rewritten(
                out[found[0]:], _Named({text: name}))
    return out


def _difference(a, b, first):
    """a - b if first else b - a."""
    return ast.BinOp(a, ast.Sub(), b) if first else ast.BinOp(b, ast.Sub(), a)


class _Differences(ast.NodeTransformer):
    """a - T, T - a, -a + T and T + -a, T a name in `shifted` (its rewrite: (a, True) -> a - T,
    (a, False) -> T - a) or its transpose, or, with inline, a call _logsumexp(Z, axis) of a
    name Z or Z.T (rewritten by inline(Z, axis))."""

    def __init__(self, shifted, inline=None):
        self.shifted, self.inline = shifted, inline

    def _rewrite(self, node):
        if _is_transpose(node) and _name(node.value) in self.shifted:   # a - T.T = (a.T - T).T
            inner = self.shifted[node.value.id]           # type: ignore[attr-defined]
            return lambda a, first: _transposed(inner(_transposed(a), first))
        if isinstance(node, ast.Name) and node.id in self.shifted:
            return self.shifted[node.id]
        found = _logsumexp_of(node) if self.inline else None
        return None if found is None else self.inline(*found)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Sub):
            right, left = self._rewrite(node.right), self._rewrite(node.left)
            if right is not None:                          # a - T
                return right(node.left, True)
            if left is not None:                           # T - a
                return left(node.right, False)
        if isinstance(node.op, ast.Add):
            for t, a in ((node.right, node.left), (node.left, node.right)):
                f = self._rewrite(t)
                if f is not None and isinstance(a, ast.UnaryOp) and isinstance(a.op, ast.USub):
                    return f(a.operand, False)             # -a + T = T - a
        return node


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
    """(Z, axis) for node = _logsumexp(Z, axis), Z a name or its transpose (the text Z.T,
    which is no name of shapes: the softmax fusion takes names only); else None."""
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "_logsumexp" \
            and not node.keywords and len(node.args) == 2 and _name(_transposed(
                node.args[0]) if _is_transpose(node.args[0]) else node.args[0]):
        return ast.unparse(node.args[0]), ast.literal_eval(node.args[1])
    return None


def _name(node):
    return node.id if isinstance(node, ast.Name) else None


def _is_transpose(node):
    return isinstance(node, ast.Attribute) and node.attr == "T"


def _transposed(node):
    """x.T for x, x for x.T."""
    return node.value if _is_transpose(node) else ast.Attribute(node, "T", ast.Load())


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
