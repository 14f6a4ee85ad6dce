"""Helpers shared by the test modules (fixtures are in conftest.py)."""
import numpy as np
import sympy as sp
from op_cases import evaluate, node_value

import symgrad as sg
from symgrad.derive import derive


# ---- statements, as the passes take and give them -------------------------------------------
def fresh_names():
    """A fresh() for liveness.reuse_and_free: t1, t2, ..."""
    counter = iter(range(1, 99))
    return lambda: f"t{next(counter)}"


def assert_same_results(lines, new, args, results, scratch=(), rtol=0.0):
    """Run the statements lines and their rewrite new, each on its own copy of args
    ({name: value}): the names results hold the same values after both, and neither wrote
    into an argument, but for the scratch ones (arrays that die in the statements)."""
    runs = []
    for code in (lines, new):
        env = {k: np.copy(v) for k, v in args.items()}
        env["np"] = np
        exec("\n".join(code), env)
        runs.append(env)
        for k, v in args.items():
            if k not in scratch:
                np.testing.assert_array_equal(env[k], v, err_msg=f"argument {k} was written")
    for name in results:
        np.testing.assert_allclose(runs[1][name], runs[0][name], rtol=rtol, atol=0,
                                   err_msg=name)


# ---- a schedule's statements, evaluated ------------------------------------------------------
def plan_values(p, values, dims=None, wanted=()):
    """{node id: value} for the statements of a schedule.Plan (and the nodes wanted), each
    map computed from the plan's expression for it (fused, rewritten, hoisted calls as
    operands), any other node, and an operand written inside its user, by its op
    (op_cases's evaluator)."""
    memo = {}

    def value(node):
        if node.id not in memo:
            expr, args = p.exprs[node.id] if node.op == "map" and node.id in p.exprs \
                else (None, node.args)
            memo[node.id] = node_value(node, [value(a) for a in args], values, dims, expr)
        return memo[node.id]

    for node in [*p.order, *wanted]:
        value(node)
    return memo


def assert_plan_computes_the_graph(p, roots, values, dims=None, rtol=1e-12):
    """Each root's value from the plan's statements equals its value from the graph."""
    computed = plan_values(p, values, dims, roots)
    for root in roots:
        np.testing.assert_allclose(computed[root.id], evaluate(root, values, dims),
                                   rtol=rtol, atol=1e-300, err_msg=root.name or root.op)


# ---- small models ----------------------------------------------------------------------------
def logistic():
    """The derivation of one sigmoid unit under binary cross-entropy, A an output."""
    n, m = sp.symbols("n m", integer=True, positive=True)
    X, Y = sg.Input("X", n, m), sg.Input("Y", 1, m)
    w, b = sg.Param("w", 1, n), sg.Param("b", 1, 1)
    A = sg.sigmoid(w @ X + b)
    return derive(sg.Model("logistic", sg.mean(sg.binary_cross_entropy(A, Y)), [w, b],
                           [X, Y], outputs={"A": A}))
