"""Issue 16, tests by layer: each op's rules (symgrad/rules.py) on its own, numerically.

For a tiny graph of one op over leaves (tests/op_cases.py), random u shaped like the output
and v_i like the operands:
  the dot-product test   <u, JVP(v)> = sum_i <VJP_i(u), v_i>   (to 1e-10),
  JVP(v) = the central difference of the op's value along v,
  <VJP_i(u), v_i> = the central difference of <u, value> along v_i,
each evaluated by op_cases.evaluate (NumPy, op by op), not by symgrad's printers. A VJP
contribution is in the op's broadcast shape: summed here over the axes an operand was
broadcast along, as the sweep does once.
"""
import numpy as np
import pytest

from op_cases import CASES, build, evaluate, leaf
from symgrad.rules import JVP, VJP

H = 1e-5                # central differences: error ~ H**2 (truncation) + 1e-16 / H (rounding)
FD_TOL = 1e-7
DOT_TOL = 1e-10

BOTH = [c for c in CASES if c.op in VJP and c.op in JVP and c.operands]
WITH_JVP = [c for c in CASES if c.op in JVP and c.operands]


def _ids(cases):
    return [c.id for c in cases]


def _unbroadcast(x, shape):
    """x summed over the axes along which an operand of this shape is broadcast to x's."""
    x = np.asarray(x)
    if x.shape == tuple(shape):
        return x
    if shape == ():
        return np.asarray(x.sum())
    return x.sum(axis=tuple(k for k in (0, 1) if shape[k] == 1 and x.shape[k] != 1),
                 keepdims=True)


def _rules(case, seed=1):
    """The node, the leaves' values, its differentiable operands' positions, and the rules'
    outputs: the tangent JVP(v) and the adjoint contributions VJP_i(u)."""
    graph, node, values, kinds = build(case)
    float_args = [i for i, a in enumerate(node.args)
                  if a.op == "leaf" and not isinstance(kinds[a.name], tuple)]
    assert float_args, case.id
    rng = np.random.default_rng(seed)
    u = leaf(graph, "u", tuple(int(d) for d in node.shape))
    ts = [leaf(graph, f"v{i}", tuple(int(d) for d in node.args[i].shape))
          if i in float_args else None for i in range(len(node.args))]
    values["u"] = rng.standard_normal(u.shape)
    values.update({t.name: rng.standard_normal(t.shape) for t in ts if t is not None})
    graph.deriving = True            # as the sweeps do: nodes made now are derived
    try:
        tangent = JVP[node.op](graph, node, ts)
        adjoints = {i: VJP[node.op](graph, node, u, i) for i in float_args} \
            if node.op in VJP else {}
    finally:
        graph.deriving = False
    return node, values, float_args, ts, tangent, adjoints


def _shifted(values, node, ts, along, step):
    """The leaves' values moved by step along the tangents of operands `along`."""
    moved = dict(values)
    for i in along:
        name = node.args[i].name
        moved[name] = values[name] + step * values[ts[i].name]
    return moved


def _central(f, values, node, ts, along):
    return (f(_shifted(values, node, ts, along, H)) - f(_shifted(values, node, ts, along, -H))) \
        / (2 * H)


def _close(got, want, tol):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    assert float(np.abs(got - want).max(initial=0)) <= tol * scale, (got, want)


@pytest.mark.parametrize("case", BOTH, ids=_ids(BOTH))
def test_dot_product(case):
    """<u, JVP(v)> = sum_i <VJP_i(u), v_i>: the two rules are each other's transpose."""
    node, values, float_args, ts, tangent, adjoints = _rules(case)
    u = values["u"]
    lhs = float(np.sum(u * evaluate(tangent, values)))
    rhs = sum(float(np.sum(_unbroadcast(evaluate(adjoints[i], values), node.args[i].shape)
                           * values[ts[i].name])) for i in float_args)
    _close(lhs, rhs, DOT_TOL)


@pytest.mark.parametrize("case", WITH_JVP, ids=_ids(WITH_JVP))
def test_jvp_matches_finite_differences(case):
    node, values, float_args, ts, tangent, _ = _rules(case)
    want = _central(lambda vals: evaluate(node, vals), values, node, ts, float_args)
    got = evaluate(tangent, values)
    assert got.shape == tuple(int(d) for d in node.shape)
    _close(got, want, FD_TOL)


@pytest.mark.parametrize("case", BOTH, ids=_ids(BOTH))
def test_vjp_matches_finite_differences(case):
    """<VJP_i(u), v_i> = d/dh <u, value(x_i + h v_i)>, for each operand on its own, and each
    contribution, once unbroadcast, has its operand's shape."""
    node, values, float_args, ts, _, adjoints = _rules(case)

    def along_u(vals):
        return np.sum(values["u"] * evaluate(node, vals))

    for i in float_args:
        contribution = _unbroadcast(evaluate(adjoints[i], values), node.args[i].shape)
        assert contribution.shape == tuple(int(d) for d in node.args[i].shape), (case.id, i)
        got = float(np.sum(contribution * values[ts[i].name]))
        _close(got, _central(along_u, values, node, ts, [i]), FD_TOL)


def test_every_case_with_rules_is_tested():
    """Each op with both rules has a dot-product case, each op with a JVP a difference case."""
    assert {c.op for c in BOTH} == (set(VJP) & set(JVP))
    assert {c.op for c in WITH_JVP} == set(JVP)
