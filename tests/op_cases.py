"""Tiny graphs, one op each, and a NumPy evaluator of graphs written here, op by op, apart
from symgrad's printers: the shared ground of test_rules.py and test_op_table.py.

A case's operands are leaves of small numeric shapes; its node is the op applied to them.
"""
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import numpy as np
import sympy as sp

from symgrad.functions import sigmoid, to_elementary
from symgrad.graph import Graph, placeholder, topo

X0, X1, X2 = placeholder(0), placeholder(1), placeholder(2)


@dataclass(frozen=True)
class Case:
    """op applied by build(graph, *leaves) to leaves of these (shape, kind) operands; kind is
    "real", "positive", "invertible" (det > 0), "negative det" or ("labels", classes)."""
    id: str
    op: str
    operands: list
    build: Callable


CASES = [
    Case("leaf", "leaf", [((2, 3), "real")], lambda g, a: a),
    Case("eye", "eye", [], lambda g: g.eye(sp.Integer(3))),
    Case("constant", "map", [], lambda g: g.constant(2, (sp.Integer(2), sp.Integer(3)))),
    # elementwise maps (args[i] is placeholder i, after the builder orders them by id)
    Case("map-sigmoid", "map", [((2, 3), "real")], lambda g, a: g.map(sigmoid(X0), [a])),
    Case("map-tanh", "map", [((2, 3), "real")], lambda g, a: g.map(sp.tanh(X0), [a])),
    Case("map-relu", "map", [((2, 3), "real")], lambda g, a: g.map(sp.Max(0, X0), [a])),
    Case("map-cube", "map", [((3, 2), "real")], lambda g, a: g.map(X0 ** 3, [a])),
    Case("map-product", "map", [((2, 3), "real"), ((2, 3), "real")],
         lambda g, a, b: g.map(X0 * X1, [a, b])),
    Case("map-power", "map", [((2, 3), "positive"), ((2, 3), "real")],
         lambda g, a, b: g.map(X0 ** X1, [a, b])),
    Case("map-broadcast-row", "map", [((2, 3), "real"), ((1, 3), "real")],
         lambda g, a, b: g.map(sp.sin(X0) * X1 + X1 ** 2, [a, b])),
    Case("map-broadcast-column-scalar", "map", [((3, 1), "real"), ((), "real"), ((1, 2), "real")],
         lambda g, a, s, b: g.map(sp.exp(X0 * X1) - X0 * X2, [a, s, b])),
    Case("map-scalars", "map", [((), "positive"), ((), "real")],
         lambda g, a, b: g.map(sp.log(X0) * X1, [a, b])),
    # matrix products
    Case("matmul", "matmul", [((2, 3), "real"), ((3, 2), "real")], lambda g, a, b: g.matmul(a, b)),
    Case("matmul-wide", "matmul", [((3, 2), "real"), ((2, 4), "real")],
         lambda g, a, b: g.matmul(a, b)),
    Case("transpose", "transpose", [((2, 3), "real")], lambda g, a: g.transpose(a)),
    # reductions
    Case("sum-all", "sum", [((2, 3), "real")], lambda g, a: g.sum(a)),
    Case("sum-scalar", "sum", [((2, 3), "real")], lambda g, a: g.sum(a, scalar=True)),
    Case("sum-axis0", "sum", [((2, 3), "real")], lambda g, a: g.sum(a, 0)),
    Case("sum-axis1", "sum", [((2, 3), "real")], lambda g, a: g.sum(a, 1)),
    Case("logsumexp-axis0", "logsumexp", [((3, 2), "real")], lambda g, a: g.logsumexp(a, 0)),
    Case("logsumexp-axis1", "logsumexp", [((3, 2), "real")], lambda g, a: g.logsumexp(a, 1)),
    Case("trace", "trace", [((3, 3), "real")], lambda g, a: g.trace(a)),
    # the Matrix Cookbook
    Case("inverse", "inverse", [((3, 3), "invertible")], lambda g, a: g.inverse(a)),
    Case("det", "det", [((3, 3), "invertible")], lambda g, a: g.det(a)),
    Case("det-negative", "det", [((3, 3), "negative det")], lambda g, a: g.det(a)),
    Case("logdet", "logdet", [((3, 3), "invertible")], lambda g, a: g.logdet(a)),
    Case("logdet-negative", "logdet", [((3, 3), "negative det")], lambda g, a: g.logdet(a)),
    # integer labels
    Case("pick-axis0", "pick", [((3, 4), "real"), ((1, 4), ("labels", 3))],
         lambda g, s, y: g.pick(s, y, 0)),
    Case("pick-axis1", "pick", [((4, 3), "real"), ((4, 1), ("labels", 3))],
         lambda g, s, y: g.pick(s, y, 1)),
    Case("scatter-axis0", "scatter", [((3, 4), "real"), ((1, 4), ("labels", 3)), ((1, 4), "real")],
         lambda g, b, y, v: g.scatter(b, y, v, 0)),
    Case("scatter-axis1", "scatter", [((4, 3), "real"), ((4, 1), ("labels", 3)), ((4, 1), "real")],
         lambda g, b, y, v: g.scatter(b, y, v, 1)),
    # max and min, and their adjoint (put) and tangent (take)
    *[Case(f"{kind}-{where}", kind, [((3, 4), "real")],
           lambda g, a, kind=kind, axis=axis: g.extremum(kind, a, axis))
      for kind in ("max", "min") for where, axis in (("axis0", 0), ("axis1", 1), ("all", None))],
    *[Case(f"arg{kind}_put-{where}", f"arg{kind}_put", [(shape, "real"), ((3, 4), "real")],
           lambda g, t, x, kind=kind, axis=axis: g.at_extremum(kind, t, x, axis))
      for kind in ("max", "min")
      for where, axis, shape in (("axis0", 0, (1, 4)), ("axis1", 1, (3, 1)), ("all", None, ()))],
    *[Case(f"arg{kind}_take-{where}", f"arg{kind}_take", [((3, 4), "real"), ((3, 4), "real")],
           lambda g, t, x, kind=kind, axis=axis: g.of_extremum(kind, t, x, axis))
      for kind in ("max", "min") for where, axis in (("axis0", 0), ("axis1", 1), ("all", None))],
    # slices, their adjoint (pad), concatenation, diagonals
    Case("slice", "slice", [((3, 4), "real")], lambda g, a: g.slice(a, ((0, 2, 1), (1, 3, 1)))),
    Case("slice-strided", "slice", [((3, 4), "real")],
         lambda g, a: g.slice(a, ((0, 3, 2), (1, 4, 1)))),
    Case("pad", "pad", [((2, 2), "real")],
         lambda g, a: g.pad([a], [((0, 2, 1), (1, 3, 1))], (sp.Integer(3), sp.Integer(4)))),
    Case("pad-overlapping", "pad", [((3, 4), "real"), ((2, 2), "real"), ((2, 1), "real")],
         lambda g, a, b, c: g.pad([a, b, c], [((0, 3, 1), (0, 4, 1)), ((0, 2, 1), (1, 3, 1)),
                                              ((1, 3, 1), (2, 3, 1))],
                                  (sp.Integer(3), sp.Integer(4)))),
    Case("concat-axis0", "concat", [((2, 3), "real"), ((1, 3), "real")],
         lambda g, a, b: g.concat([a, b], 0)),
    Case("concat-axis1", "concat", [((2, 3), "real"), ((2, 1), "real"), ((2, 2), "real")],
         lambda g, a, b, c: g.concat([a, b, c], 1)),
    Case("diag", "diag", [((3, 3), "real")], lambda g, a: g.diagonal(a)),
    Case("undiag", "undiag", [((3, 1), "real")], lambda g, d: g.diagonal_matrix(d)),
]


def leaf(graph, name, shape):
    """A leaf of this numeric shape, () a scalar."""
    symbol = sp.MatrixSymbol(name, *shape) if shape else sp.Symbol(name, real=True)
    return graph.leaf(symbol)


def draw(kind, shape, rng):
    """A random value of this kind and shape (a 0-d array for a scalar)."""
    if kind == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if kind in ("invertible", "negative det"):
        a = rng.standard_normal(shape) / 2 + 2 * np.eye(shape[0])
        if kind == "negative det":
            a[0] = -a[0]
        return a
    if isinstance(kind, tuple):
        return rng.integers(0, kind[1], shape)
    return rng.standard_normal(shape)


def build(case, seed=0):
    """(graph, node, {leaf name: value}, {leaf name: kind}) for a case."""
    rng = np.random.default_rng(seed)
    graph = Graph()
    names = ["y" if isinstance(kind, tuple) else f"x{i}"
             for i, (_, kind) in enumerate(case.operands)]
    leaves = [leaf(graph, name, shape) for name, (shape, _) in zip(names, case.operands)]
    node = case.build(graph, *leaves)
    assert node.op == case.op, (case.id, node)        # no builder algebra took another route
    values = {name: draw(kind, shape, rng) for name, (shape, kind) in zip(names, case.operands)}
    kinds = {name: kind for name, (_, kind) in zip(names, case.operands)}
    return graph, node, values, kinds


# ---- a NumPy evaluator of graphs, op by op -------------------------------------------------
def evaluate(node, values, dims=None):
    """node's value, given the leaves' values by name (floats, 0-d arrays for scalars) and,
    for a graph with symbolic shapes, the dimensions' by name."""
    memo = {}
    for n in topo([node]):
        memo[n.id] = node_value(n, [memo[a.id] for a in n.args], values, dims)
    return memo[node.id]


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
        expr = to_elementary(n.expr).replace(sp.Heaviside, lambda x, *h0: sp.Heaviside(x, 0))
        f = sp.lambdify([placeholder(i) for i in range(len(xs))], expr, "numpy")
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
