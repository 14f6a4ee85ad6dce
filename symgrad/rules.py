"""The one registry of derivative rules: for each op, how an adjoint flows back (VJP) and how
a tangent flows forward (JVP), side by side.

`VJP[op](graph, node, g, i)` returns the contribution of node's output adjoint `g` to the
adjoint of `node.args[i]`, in node's broadcast shape (the sweep undoes broadcasting once).
`JVP[op](graph, node, ts)` returns the tangent of node's output, given the tangents `ts` of
its operands (None where an operand has none). Both are linear in `g` or `ts`, so either may
carry a leading batch axis (one seed per Jacobian row or column).

`LOCAL[op]` explains the VJP for the derivation trace and its LaTeX view: a description,
the structure of the local Jacobian (diagonal, Kronecker, ...), and the chain-rule product
it becomes, both as LaTeX given the operands' texts. Adding an op means adding its rules
here, with the explanation, and one converter method in convert.py.
"""
from dataclasses import dataclass
from typing import Callable

from .graph import Graph, Node

import sympy as sp

from .graph import block_regions, placeholder
from .simplify import simplify_derivative

# op -> its VJP rule (defvjp): (graph, node, g, i) -> operand i's adjoint contribution
VJP: dict[str, Callable[[Graph, Node, Node, int], Node | None]] = {}
# op -> its JVP rule (defjvp): (graph, node, operand tangents or None) -> node's tangent
JVP: dict[str, Callable[[Graph, Node, list], Node | None]] = {}
LOCAL: dict[str, "Local"] = {}    # op -> its local Jacobian's text for the derivation view


@dataclass(frozen=True)
class Local:
    """How one op's VJP reads. `jacobian(ops, i)` is d(node)/d(operand i) in LaTeX and
    `chain(ops, i, G)` the product dL/d(operand i) it gives, where ops are the LaTeX texts
    of node's operands (with .shape) and G the text of node's adjoint."""
    text: str
    jacobian: Callable
    chain: Callable


def defvjp(op, text, jacobian, chain):
    """Register the function below as op's VJP rule, explained by (text, jacobian, chain)."""
    def register(rule):
        VJP[op] = rule
        LOCAL[op] = Local(text, jacobian, chain)
        return rule
    return register


def defjvp(op):
    """Register the function below as op's JVP rule."""
    def register(rule):
        JVP[op] = rule
        return rule
    return register


def _t(text):
    return r"{%s}^{\top}" % text


def _eye(n):
    return r"I_{%s}" % sp.latex(n)


def _ones(n):
    return r"\mathbf{1}_{%s}" % sp.latex(n)


def _add(graph, terms, shape):
    """The sum of the non-None tangent terms (None if there are none)."""
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    return graph.map(sp.Add(*[placeholder(i) for i in range(len(terms))]), terms, shape)


# ---- matrix products ----------------------------------------------------------------------
@defvjp("matmul", "A B: dA = G B^T, dB = A^T G",
        jacobian=lambda ops, i: (r"%s \otimes %s" % (_t(ops[1]), _eye(ops[0].shape[0])) if i == 0
                                 else r"%s \otimes %s" % (_eye(ops[1].shape[1]), ops[0])),
        chain=lambda ops, i, G: (r"%s\, %s" % (G, _t(ops[1])) if i == 0
                                 else r"%s\, %s" % (_t(ops[0]), G)))
def _matmul(graph, node, g, i):
    a, b = node.args
    if i == 0:
        return graph.matmul(g, graph.transpose(b))
    return graph.matmul(graph.transpose(a), g)


@defjvp("matmul")
def _matmul_jvp(graph, node, ts):
    (a, b), (ta, tb) = node.args, ts
    return _add(graph, [ta and graph.matmul(ta, b), tb and graph.matmul(a, tb)], node.shape)


@defvjp("transpose", "A^T: dA = G^T",
        jacobian=lambda ops, i: r"\mathbf{K} \text{ (the commutation matrix)}",
        chain=lambda ops, i, G: _t(G))
def _transpose(graph, node, g, i):
    return graph.transpose(g, push=True)


@defjvp("transpose")
def _transpose_jvp(graph, node, ts):
    return graph.transpose(ts[0])


# ---- elementwise (any SymPy scalar function, by sympy.diff on the placeholder) ----------
def map_partial(node, i):
    """d(node)/d(operand i) of an elementwise node, as a scalar expression. The derivative
    of a step (Heaviside, sign: DiracDelta) is taken as 0, the value it has almost
    everywhere, as PyTorch takes it: relu, abs and maximum have second derivative 0."""
    partial = sp.diff(node.expr, placeholder(i))
    if partial.has(sp.DiracDelta):
        partial = partial.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    return simplify_derivative(partial)


def _map_jacobian(ops, i):
    """d vec(node) / d vec(operand i) of an elementwise node: diag(partial), times the matrix
    that broadcasts the operand to the node's shape (vec(b 1^T) = (1_m (x) I_n) vec(b) for a
    column b; a one-entry operand's Jacobian is the column vec(partial))."""
    p, shape, to = ops.partial, tuple(ops[i].shape), tuple(ops.node.shape)
    if to == ():
        return p
    if shape in ((), (1, 1)) and shape != to:
        return r"\operatorname{vec}\left(%s\right)" % (r"\mathbf{1}" if p == "1" else p)
    if shape == to:
        spread = "I"
    else:
        (n, m), (r, c) = to, shape
        spread = r"%s \otimes %s" % (_ones(m) if c != m else _eye(m),
                                     _ones(n) if r != n else _eye(n))
    if p in ("1", "-1"):
        return spread if p == "1" else "-" + (spread if spread == "I" else r"(%s)" % spread)
    return r"\operatorname{diag}\left(%s\right)" % p + ("" if spread == "I"
                                                         else r"\,(%s)" % spread)


@defvjp("map", "f(A, B, ...) elementwise: dA = G * df/dA (a diagonal Jacobian)",
        jacobian=_map_jacobian,
        chain=lambda ops, i, G: r"%s \%s %s" % (G, "cdot" if ops.node.shape == () else "odot",
                                               ops.wrapped_partial))
def _map(graph, node, g, i):
    local = map_partial(node, i)
    return graph.map(placeholder(len(node.args)) * local, list(node.args) + [g], node.shape)


@defjvp("map")
def _map_jvp(graph, node, ts):
    n, args, expr = len(node.args), list(node.args), sp.S.Zero
    for i, t in enumerate(ts):
        if t is not None:
            expr += placeholder(len(args)) * map_partial(node, i)
            args.append(t)
    return graph.map(expr, args, node.shape) if len(args) > n else None


# ---- reductions ---------------------------------------------------------------------------
@defvjp("sum", "sum(A): dA = G broadcast over the summed axes",
        jacobian=lambda ops, i: {
            None: r"\operatorname{vec}(\mathbf{1})^{\top}",
            0: r"%s \otimes %s" % (_eye(ops[0].shape[1]), _t(_ones(ops[0].shape[0]))),
            1: r"%s \otimes %s" % (_t(_ones(ops[0].shape[1])), _eye(ops[0].shape[0]))
        }[ops.node.axis],
        chain=lambda ops, i, G: r"%s \text{ broadcast to } %s" % (G, ops.shape_text(ops[0].shape)))
def _sum(graph, node, g, i):
    return graph.map(placeholder(0), [g], node.args[0].shape)


@defjvp("sum")
def _sum_jvp(graph, node, ts):
    return graph.sum(ts[0], node.axis, scalar=node.shape == ())


@defvjp("logsumexp", "logsumexp(A) along an axis: dA = G * softmax(A) along it",
        jacobian=lambda ops, i: r"\operatorname{blockdiag}_j\left(\operatorname{softmax}"
        r"({%s}_{:j})^{\top}\right)" % ops[0],
        chain=lambda ops, i, G: r"%s \odot \operatorname{softmax}\left(%s\right)" % (G, ops[0]))
def _logsumexp(graph, node, g, i):
    x, lse, gx = placeholder(0), placeholder(1), placeholder(2)
    return graph.map(gx * sp.exp(x - lse), [node.args[0], node, g], node.args[0].shape)


@defjvp("logsumexp")
def _logsumexp_jvp(graph, node, ts):
    x, lse, t = placeholder(0), placeholder(1), placeholder(2)
    return graph.sum(graph.map(t * sp.exp(x - lse), [node.args[0], node, ts[0]]), node.axis)


@defvjp("trace", "tr(A): dA = G I",
        jacobian=lambda ops, i: r"\operatorname{vec}(I)^{\top}",
        chain=lambda ops, i, G: r"%s\, %s" % (G, _eye(ops[0].shape[0])))
def _trace(graph, node, g, i):
    n = node.args[0].shape[0]
    return graph.map(placeholder(0) * placeholder(1), [g, graph.eye(n)], (n, n))


@defjvp("trace")
def _trace_jvp(graph, node, ts):
    return graph.trace(ts[0])


# ---- the Matrix Cookbook: inverse and determinants (Y = A^-1) -----------------------------
@defvjp("inverse", "A^-1: dA = -Y^T G Y^T",
        jacobian=lambda ops, i: r"-{%s}^{-\top} \otimes {%s}^{-1}" % (ops[0], ops[0]),
        chain=lambda ops, i, G: r"-{%s}^{-\top}\, %s\, {%s}^{-\top}" % (ops[0], G, ops[0]))
def _inverse(graph, node, g, i):
    yt = graph.transpose(node)
    return graph.map(-placeholder(0), [graph.matmul(graph.matmul(yt, g), yt)])


@defjvp("inverse")
def _inverse_jvp(graph, node, ts):
    return graph.map(-placeholder(0), [graph.matmul(graph.matmul(node, ts[0]), node)])


@defvjp("det", "det A: dA = G det(A) A^-T",
        jacobian=lambda ops, i: r"\det(%s)\, \operatorname{vec}\left({%s}^{-\top}\right)^{\top}"
        % (ops[0], ops[0]),
        chain=lambda ops, i, G: r"%s \det(%s)\, {%s}^{-\top}" % (G, ops[0], ops[0]))
def _det(graph, node, g, i):
    yt = graph.transpose(graph.inverse(node.args[0]))
    return graph.map(placeholder(0) * placeholder(1) * placeholder(2), [g, node, yt])


@defjvp("det")
def _det_jvp(graph, node, ts):
    inner = graph.trace(graph.matmul(graph.inverse(node.args[0]), ts[0]))
    return graph.map(placeholder(0) * placeholder(1), [node, inner])


@defvjp("logdet", "log|det A|: dA = G A^-T",
        jacobian=lambda ops, i: r"\operatorname{vec}\left({%s}^{-\top}\right)^{\top}" % ops[0],
        chain=lambda ops, i, G: r"%s\, {%s}^{-\top}" % (G, ops[0]))
def _logdet(graph, node, g, i):
    yt = graph.transpose(graph.inverse(node.args[0]))
    return graph.map(placeholder(0) * placeholder(1), [g, yt])


@defjvp("logdet")
def _logdet_jvp(graph, node, ts):
    return graph.trace(graph.matmul(graph.inverse(node.args[0]), ts[0]))


# ---- integer labels: pick and its adjoint, scatter ----------------------------------------
@defvjp("pick", "S[y], the entry of each example's label: dS = G scattered to the labels' "
        "entries (onehot(y) * G, no one-hot matrix formed)",
        jacobian=lambda ops, i: r"\operatorname{onehot}(%s)^{\top} \text{ per example}"
        % ops.labels,
        chain=lambda ops, i, G: r"\operatorname{onehot}(%s) \odot %s" % (ops.labels, G))
def _pick(graph, node, g, i):
    scores, labels = node.args
    return graph.scatter(graph.constant(0, scores.shape), labels, g, node.axis)


@defjvp("pick")
def _pick_jvp(graph, node, ts):
    return ts[0] and graph.pick(ts[0], node.args[1], node.axis)


@defjvp("scatter")
def _scatter_jvp(graph, node, ts):
    base, labels, values = node.args
    if ts[2] is None:
        return ts[0]
    return graph.scatter(ts[0] or graph.constant(0, base.shape), labels, ts[2], node.axis)


# ---- max and min, slices and concatenation (symgrad/ops.py) -------------------------------
def _region_tex(region, shape):
    """[0:k, :] as LaTeX, ':' for an axis taken whole."""
    axes = []
    for (start, stop, step), n in zip(region, shape):
        if start == 0 and stop == n and step == 1:
            axes.append(":")
            continue
        text = "%s:%s" % ("" if start == 0 else sp.latex(start),
                          "" if stop == n else sp.latex(stop))
        axes.append(text + ("" if step == 1 else ":%s" % sp.latex(step)))
    return r"\left[%s\right]" % r",\, ".join(axes)


def _extremum_rules(kind):
    """max or min along an axis: the whole adjoint of each slice goes to its first arg-max
    (arg-min), as np.argmax picks it. Put (the adjoint) and take (the tangent) are made by
    the sweeps only, so they need a JVP (for Hessians) but no VJP: they are linear in their
    first operand and constant (almost everywhere) in the second."""
    put, take = f"arg{kind}_put", f"arg{kind}_take"

    def arg(ops):
        under = {None: "", 0: r"_{\text{rows}}", 1: r"_{\text{cols}}"}[ops.node.axis]
        return r"\arg\%s%s %s" % (kind, under, ops[0])

    @defvjp(kind, f"{kind}(A): dA = G at the first arg-{kind} of each reduced slice, 0 elsewhere",
            jacobian=lambda ops, i: r"\operatorname{onehot}\left(%s\right)^{\top}" % arg(ops),
            chain=lambda ops, i, G: r"%s \text{ at } %s" % (G, arg(ops)))
    def _vjp(graph, node, g, i):
        return graph.at_extremum(kind, g, node.args[0], node.axis)

    @defjvp(kind)
    def _jvp(graph, node, ts):
        return graph.of_extremum(kind, ts[0], node.args[0], node.axis)

    @defjvp(put)
    def _put_jvp(graph, node, ts):
        x = node.args[1]
        return None if ts[0] is None else graph.at_extremum(kind, ts[0], x, node.axis)

    @defjvp(take)
    def _take_jvp(graph, node, ts):
        x = node.args[1]
        return None if ts[0] is None else graph.of_extremum(kind, ts[0], x, node.axis)


_extremum_rules("max")
_extremum_rules("min")


@defvjp("slice", "A[rows, cols]: dA = G added into zeros of A's shape at the slice",
        jacobian=lambda ops, i: r"S^{\top}\ \text{(selects the entries %s)}"
        % _region_tex(ops.node.expr, ops[0].shape).replace(r"\left", "").replace(r"\right", ""),
        chain=lambda ops, i, G: r"\operatorname{pad}_{%s}\left(%s\right)"
        % (_region_tex(ops.node.expr, ops[0].shape), G))
def _slice(graph, node, g, i):
    return graph.pad([g], [node.expr], node.args[0].shape)


@defjvp("slice")
def _slice_jvp(graph, node, ts):
    return graph.slice(ts[0], node.expr)


@defjvp("pad")          # made by the sweep only (the adjoint of slices): no VJP
def _pad_jvp(graph, node, ts):
    terms = [graph.pad([t], [r], node.shape) for t, r in zip(ts, node.expr) if t is not None]
    return graph.add(terms, node.shape) if terms else None


@defvjp("concat", "concat(A, B, ...): dA, dB, ... = the blocks of G",
        jacobian=lambda ops, i: r"S_{%d}" % i,
        chain=lambda ops, i, G: r"{%s}_{%s}" % (G, _region_tex(
            block_regions(ops.node.args, ops.node.axis)[i], ops.node.shape)))
def _concat(graph, node, g, i):
    return graph.slice(g, block_regions(node.args, node.axis)[i])


@defjvp("concat")
def _concat_jvp(graph, node, ts):
    regions = block_regions(node.args, node.axis)
    terms = [graph.pad([t], [r], node.shape) for t, r in zip(ts, regions) if t is not None]
    return graph.add(terms, node.shape) if terms else None


@defvjp("diag", "diag(A), the diagonal as a column: dA = Diag(G), G on the diagonal",
        jacobian=lambda ops, i: r"\left[e_i e_i^{\top}\right]_{i}\ \text{(picks the diagonal)}",
        chain=lambda ops, i, G: r"\operatorname{Diag}\left(%s\right)" % G)
def _diag(graph, node, g, i):
    return graph.diagonal_matrix(g)


@defjvp("diag")
def _diag_jvp(graph, node, ts):
    return graph.diagonal(ts[0])


@defjvp("undiag")       # made by the sweep only (the adjoint of diag): no VJP
def _undiag_jvp(graph, node, ts):
    return graph.diagonal_matrix(ts[0])
