"""Tiny graphs, one op each, and the NumPy evaluator of graphs (symgrad/evaluate.py, op by op,
apart from symgrad's printers): the shared ground of test_rules.py and test_op_table.py.

A case's operands are leaves of small numeric shapes; its node is the op applied to them.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from symgrad.evaluate import evaluate, node_value  # noqa: F401 - the tests' evaluator
from symgrad.functions import sigmoid
from symgrad.graph import Graph, placeholder

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
