"""A NumPy evaluator of graphs, op by op, written apart from symgrad's printers: the value of
any node (forward or derived) at given leaf values. The shared ground of the rule tests, the
graph picture's values (`symgrad graph --at`) and `symgrad.testing.compare_backprop`."""
from collections.abc import Iterable, Mapping
from functools import lru_cache
from types import SimpleNamespace

import numpy as np
import sympy as sp

from .functions import logcosh, sigmoid, softplus, step_at_zero, to_elementary
from .graph import Node, placeholder, topo
from .printing import runtime


def values(roots: Iterable[Node], leaves: Mapping[str, object],
           dims: Mapping[str, int] | None = None) -> dict[int, np.ndarray]:
    """{node id: value} of every node below roots, given the leaves' values by name (floats,
    0-d arrays for scalars) and, for a graph with symbolic shapes, the dimensions' by name."""
    memo: dict[int, np.ndarray] = {}
    for n in topo(roots):
        memo[n.id] = node_value(n, [memo[a.id] for a in n.args], leaves, dims)
    return memo


def evaluate(node: Node, leaves: Mapping[str, object],
             dims: Mapping[str, int] | None = None) -> np.ndarray:
    """node's value (see values)."""
    return values([node], leaves, dims)[node.id]


def node_value(n, xs, values, dims=None, expr=None):
    """n's value from its operands' values xs, with expr in place of n's own expression (a
    schedule's fused one) if given."""
    if dims or expr is not None:
        n = _numeric(n, dims or {}, n.expr if expr is None else expr)
    return _value(n, xs, values)


def _numeric(n, dims, expr):
    """n with the dimensions in its shape and expression replaced by their values."""
    def at(e):
        e = sp.sympify(e)
        return e.xreplace({s: sp.Integer(dims[s.name]) for s in e.free_symbols
                           if s.name in dims})
    return SimpleNamespace(op=n.op, axis=n.axis, name=n.name, shape=tuple(map(at, n.shape)),
                           expr=None if expr is None else at(expr))


def _index(region):
    return tuple(slice(int(a), int(b), int(s)) for a, b, s in region)


def _arg(kind, x, axis):
    find = np.argmax if kind == "max" else np.argmin
    return find(x) if axis is None else find(x, axis=axis)


def _value(n, xs, values):
    shape = tuple(int(d) for d in n.shape)
    op, axis = n.op, n.axis
    if op == "leaf":
        return np.asarray(values[n.name])
    if op == "eye":
        return np.eye(shape[0])
    if op == "map":         # with symgrad's step, H(0) = 0 (relu'(z) is H(relu(z)))
        f = _function(n.expr, len(xs))
        return np.array(np.broadcast_to(np.asarray(f(*xs), dtype=float), shape))
    if op == "matmul":
        return xs[0] @ xs[1]
    if op == "transpose":
        return xs[0].T
    if op in ("sum", "max", "min"):
        reduce = {"sum": np.sum, "max": np.max, "min": np.min}[op]
        return np.asarray(reduce(xs[0])) if shape == () else reduce(xs[0], axis, keepdims=True)
    if op == "logsumexp":
        top = xs[0].max(axis, keepdims=True)
        return top + np.log(np.exp(xs[0] - top).sum(axis, keepdims=True))
    if op == "trace":
        return np.asarray(np.trace(xs[0]))
    if op == "inverse":
        return np.linalg.inv(xs[0])
    if op == "det":
        return np.asarray(np.linalg.det(xs[0]))
    if op == "logdet":
        return np.asarray(np.log(abs(np.linalg.det(xs[0]))))
    if op in ("pick", "scatter"):
        scores, y = xs[0], xs[1]
        m = np.arange(y.size)
        at = (y.ravel(), m) if axis == 0 else (m, y.ravel())
        if op == "pick":
            return scores[at].reshape(shape)
        out = np.array(scores, dtype=float)
        out[at] += xs[2].ravel()            # one label per example: no entry twice
        return out
    if op.startswith("arg"):                # argmax_put, argmin_take, ...
        kind, action, x = op[3:6], op[7:], xs[1]
        where = _arg(kind, x, axis)
        cols, rows = np.arange(x.shape[1]), np.arange(x.shape[0])
        at = np.unravel_index(where, x.shape) if axis is None \
            else (where, cols) if axis == 0 else (rows, where)
        if action == "take":
            return np.asarray(xs[0][at]).reshape(shape)
        out = np.zeros(x.shape)
        out[at] = xs[0].ravel() if axis is not None else xs[0]
        return out
    if op == "slice":
        return xs[0][_index(n.expr)]
    if op == "pad":
        out = np.zeros(shape)
        for part, region in zip(xs, n.expr):
            out[_index(region)] += part
        return out
    if op == "concat":
        return np.concatenate(xs, axis)
    if op == "diag":
        return np.diagonal(xs[0])[:, None].copy()
    if op == "undiag":
        return np.diagflat(xs[0])
    raise NotImplementedError(op)


# symgrad's functions as the generated code computes them (NUMERICS.md): log(1 + exp(z)) is
# inf past 709
_STABLE = {"softplus": lambda x: np.logaddexp(0, x), "sigmoid": runtime._sigmoid,
           "logcosh": runtime._logcosh}


@lru_cache(maxsize=1024)
def _function(expr, arity):
    """A map's scalar expression as a NumPy function of its operands, with symgrad's step:
    H(0) = 0 (relu'(z) is H(relu(z))) but where 1 is given (step_at_zero), and its softplus,
    sigmoid and logcosh (_STABLE)."""
    expr = to_elementary(expr, keep=(softplus, sigmoid, logcosh)).replace(
        sp.Heaviside, lambda x, *h0: sp.Heaviside(x, step_at_zero(sp.Heaviside(x, *h0))))
    return sp.lambdify([placeholder(i) for i in range(arity)], expr, [_STABLE, "numpy"])
