"""Issue 14 (Trust), the derivation's part: shapes survive SymPy's cancellations, stable
forms hold along either axis, and certified emission refuses what disagrees with the model.
Expected values are written by hand in NumPy from the model's formula."""
import numpy as np
import pytest
import sympy as sp
from conftest import EXAMPLES
from helpers import compiled

import symgrad as sg
from symgrad import rules
from symgrad.certify import certify
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.errors import SymgradError
from symgrad.graph import placeholder
from symgrad.load import load
from symgrad.testing import check_model, default_dims, load_module, random_instance

n, k, m = sp.symbols("n k m", integer=True, positive=True)
RNG = np.random.default_rng(14)


def test_a_broadcast_keeps_its_count_when_sympy_cancels_the_matrix_beside_it():
    # mse(X + b, X): X cancels, leaving b broadcast over the k columns (0.208 was given for 0.625)
    X, b = sg.Input("X", n, k), sg.Param("b", n, 1)
    module = compiled(sg.Model("cancel", loss=sg.mse(X + b, X), params=[b], inputs=[X]))
    bv, Xv = np.array([[0.5], [1.0]]), RNG.standard_normal((2, 4))
    loss, (db,) = module.value_and_grad(bv, Xv)
    assert np.isclose(loss, np.mean((Xv + bv - Xv) ** 2))          # 0.625
    np.testing.assert_allclose(db, 2 * bv / 2, rtol=1e-12)         # d/db mean over n*k of b^2


def test_a_gradient_has_its_parameters_shape_when_the_rest_folds_to_a_row():
    # d sum(s W X - W)/dW = s 1 (X 1)^T - 1, a (1, 2) row broadcast to W's (3, 2)
    W, X, s = sg.Param("W", 3, 2), sg.Input("X", 2, 2), sg.Param("s")
    module = compiled(sg.Model("rowfold", loss=sg.sum(s * (W @ X) - W), params=[s, W],
                               inputs=[X]))
    Wv, Xv = RNG.standard_normal((3, 2)), RNG.standard_normal((2, 2))
    loss, (ds, dW) = module.value_and_grad(0.3, Wv, Xv)
    assert np.isclose(loss, np.sum(0.3 * Wv @ Xv - Wv))
    assert np.isclose(ds, np.sum(Wv @ Xv))
    assert np.shape(dW) == (3, 2)
    np.testing.assert_allclose(dW, 0.3 * np.ones((3, 1)) @ Xv.sum(axis=1)[None, :] - 1)


def _rows_model():
    """cs231n's layout: examples as rows, classes along columns."""
    Xr, W, Y = sg.Input("Xr", m, n), sg.Param("W", n, k), sg.Input("Y", m, k)
    E = sg.exp(Xr @ W)
    P = sp.HadamardProduct(E, sp.HadamardPower(sp.MatMul(E, sp.OneMatrix(k, k)), -1))
    cross_entropy = -sg.sum(sp.HadamardProduct(Y, sg.log(P)))
    lse = sg.sum(sg.log(sp.MatMul(E, sp.OneMatrix(k, 1))))
    return (sg.Model("rows_ce", loss=cross_entropy, params=[W], inputs=[Xr, Y],
                     outputs={"P": P}),
            sg.Model("rows_lse", loss=lse, params=[W], inputs=[Xr]))


def test_softmax_and_logsumexp_along_rows_are_stable_at_logits_of_1000():
    ce, lse = (compiled(model) for model in _rows_model())
    Xv, Y = np.ones((4, 2)), np.eye(3)[[0, 1, 2, 0]]
    Wv = np.array([[0.0, 500.0, 1000.0]] * 2)          # logits 0, 1000, 2000 in every row
    loss, (dW,) = ce.value_and_grad(Wv, Xv, Y)
    assert loss == 2000 + 1000 + 0 + 2000                  # -log softmax, by hand
    p = np.array([0.0, 0.0, 1.0])                          # softmax of each row, to 1e-434
    np.testing.assert_allclose(dW, Xv.T @ (p - Y), atol=1e-12)
    np.testing.assert_allclose(ce.forward(Wv, Xv)["P"], np.tile(p, (4, 1)), atol=1e-300)
    loss, (dW,) = lse.value_and_grad(Wv, Xv)
    assert np.isclose(loss, 4 * (2000 + np.log1p(np.exp(-1000) + np.exp(-2000))))
    np.testing.assert_allclose(dW, Xv.T @ np.tile(p, (4, 1)), atol=1e-12)


def test_logsumexp_along_rows_is_exact_at_moderate_logits():
    _, lse = _rows_model()
    module = compiled(lse)
    Xv, Wv = RNG.standard_normal((5, 2)), RNG.standard_normal((2, 3))
    Z = Xv @ Wv
    loss, (dW,) = module.value_and_grad(Wv, Xv)
    assert np.isclose(loss, np.sum(np.log(np.exp(Z).sum(axis=1))), rtol=1e-14)
    softmax = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(dW, Xv.T @ softmax, rtol=1e-13)


# ---- certified emission --------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_is_certified(path):
    for model, names in load(path):
        certify(model, module_source(derive(model, names)))


def _two_layer():
    (model, names), = load(next(p for p in EXAMPLES if p.stem == "two_layer"))
    return model, names


def test_a_deliberately_broken_rule_is_refused(monkeypatch):
    right = rules.VJP["matmul"]

    def wrong(graph, node, g, i):          # dB = 2 A^T G: dA1 = 2 W2^T dZ2, so dW1, db1 wrong
        out = right(graph, node, g, i)
        return graph.map(2 * rules.placeholder(0), [out]) if i == 1 else out
    monkeypatch.setitem(rules.VJP, "matmul", wrong)
    model, names = _two_layer()
    with pytest.raises(SymgradError, match=r"model two_layer: certification failed at .*"
                       r"the gradient dW1, db1 disagrees with the model's SymPy expression"):
        certify(model, module_source(derive(model, names)))
    report = check_model(model, names=names)
    assert not report.passed and report.errors["b1"] > 0.1 and report.errors["W2"] < 1e-12


def _edited(source, old, new):
    assert old in source
    return source.replace(old, new)


def test_a_wrong_loss_with_consistent_gradients_is_refused():
    # twice the loss and twice every gradient: central differences of the module's own loss
    # agree with its gradients; only the model's expression tells
    model, names = _two_layer()
    source = module_source(derive(model, names))
    doubled = _edited(source, "    return cost, (dW1, db1, dW2, db2)",
                      "    return 2*cost, (2*dW1, 2*db1, 2*dW2, 2*db2)")
    with pytest.raises(SymgradError, match="the loss disagrees with the model's SymPy "
                       r"expression \(relative error 1.0e\+00\)"):
        certify(model, doubled)


def test_a_module_that_returns_or_writes_its_argument_is_refused():
    W, X = sg.Param("W", n, k), sg.Input("X", n, k)
    model = sg.Model("hadamard", loss=sg.sum(sp.HadamardProduct(W, X)), params=[W],
                     inputs=[X])
    fake = '''
PARAMS, INPUTS, SHAPES = ("W",), ("X",), {"W": ("n", "k"), "X": ("n", "k")}
def forward(W, X):
    return {}
def loss(W, X):
    return (W * X).sum()
def value_and_grad(W, X):
    return (W * X).sum(), (X,)
'''
    with pytest.raises(SymgradError, match="returns memory of its argument X"):
        certify(model, fake)
    writes = fake.replace("return (W * X).sum(), (X,)",
                          "X *= 1.0\n    return (W * X).sum(), (X.copy(),)")
    certify(model, writes.replace("X *= 1.0", "pass"))          # the honest variant passes
    with pytest.raises(SymgradError, match="value_and_grad writes into its argument X"):
        certify(model, writes.replace("X *= 1.0", "X *= 2.0"))


def test_a_module_that_crashes_is_refused_not_written():
    model, names = _two_layer()
    source = _edited(module_source(derive(model, names)), "    return cost, (",
                     "    return cost.sum(1), (")
    with pytest.raises(SymgradError, match=r"value_and_grad raises \w+Error"):
        certify(model, source)


def test_certification_runs_where_the_model_is_finite():
    # log(W) is complex for a negative W: the last point tried takes |parameters|
    W, X = sg.Param("W", n, k), sg.Input("X", n, k)
    model = sg.Model("logw", loss=sg.sum(sp.HadamardProduct(X, sg.log(W))), params=[W],
                     inputs=[X])
    certify(model, module_source(derive(model)))


def test_a_loss_term_that_folds_to_a_constant_matrix_sums_to_its_count():
    # sg.sum(W) + sg.mse(X, X) and sg.sum(W - s): the constant parts were printed (1).sum()
    W, X, s = sg.Param("W", n, k), sg.Input("X", n, k), sg.Param("s")
    Wv, Xv = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))
    module = compiled(sg.Model("fold", loss=sg.sum(W) + sg.mse(X, X), params=[W], inputs=[X]))
    loss, (dW,) = module.value_and_grad(Wv, Xv)
    assert np.isclose(loss, Wv.sum()) and np.array_equal(dW, np.ones((2, 3)))
    module = compiled(sg.Model("minus", loss=sg.sum(W - s), params=[W, s]))
    loss, (dW, ds) = module.value_and_grad(Wv, 0.5)
    assert np.isclose(loss, Wv.sum() - 6 * 0.5) and ds == -6 and np.array_equal(dW, np.ones((2, 3)))


def test_twelve_nested_sigmoids_derive_right():
    # the scalar simplification's budget keeps this linear (it took 14 s); the value is checked
    X, W = sg.Input("X", n, k), sg.Param("W", n, n)
    A = W @ X
    for _ in range(12):
        A = sg.sigmoid(A)
    model = sg.Model("nested", loss=sg.mean(A), params=[W], inputs=[X])
    certify(model, module_source(derive(model)))


def test_a_scalar_function_of_a_matrix_is_not_taken_for_a_scalar_loss():
    # sp.log of a column is SymPy's scalar log: the "loss" was a column, returned as [0, 0]
    X, W = sg.Input("X", m, n), sg.Param("W", n, k)
    lse = sp.log(sp.MatMul(sg.exp(X @ W), sp.OneMatrix(k, 1)))
    # (now refused where the Model is made, so the model file's line is named)
    with pytest.raises(SymgradError, match=r"sp.log applied to the matrix .*: write sg.log"):
        derive(sg.Model("scalarlog", loss=sg.sum(lse), params=[W], inputs=[X]))


def _jacobian_model():
    X, Y = sg.Input("X", n, m), sg.Input("Y", 1, m)
    W1, W2, c = sg.Param("W1", k, n), sg.Param("W2", 1, k), sg.Param("c")
    A1 = sg.tanh(W1 @ X)
    A2 = sg.sigmoid(W2 @ A1 + c)
    return sg.Model("jac", loss=sg.mean(sg.binary_cross_entropy(A2, Y)) + c**2,
                    params=[W1, W2, c], inputs=[X, Y],
                    jacobians={"dA2_dW1": (A2, W1), "dA1_dX": (A1, X), "dA2_dc": (A2, c)},
                    hessian=True)


def test_jacobians_and_hessians_are_certified_and_a_wrong_tangent_rule_is_refused(monkeypatch):
    model = _jacobian_model()
    certify(model, module_source(derive(model)))
    right = rules.JVP["matmul"]

    def wrong(graph, node, ts):        # the tangent of A B drops the term A dB
        ta = ts[0]
        return right(graph, node, [ta, None]) if ta is not None else right(graph, node, ts)
    monkeypatch.setitem(rules.JVP, "matmul", wrong)
    with pytest.raises(SymgradError, match=r"jacobian_dA2_dW1 \(forward\) disagrees|hessian"):
        certify(model, module_source(derive(model)))


def test_a_hessian_that_is_zero_is_certified_and_a_wrong_one_refused(monkeypatch):
    # |w x| at n = m = 1 has the Hessian 0 (hand-derived), which the module computes as
    # 1e-15: the certificate refused the model for that rounding
    X, W = sg.Input("X", n, m), sg.Param("W", n, n)
    model = sg.Model("norm_hessian", loss=sg.norm(W @ X), params=[W], inputs=[X],
                     hessian=True)
    certify(model, module_source(derive(model)))
    right = rules.JVP["sum"]

    def wrong(graph, node, ts):        # the tangent of a sum 1.1 times too large
        t = right(graph, node, ts)
        return graph.map(sp.Rational(11, 10) * placeholder(0), [t], t.shape)
    monkeypatch.setitem(rules.JVP, "sum", wrong)
    with pytest.raises(SymgradError, match="hessian"):
        certify(model, module_source(derive(model)))


def test_dimensions_named_like_sympys_namespace_are_plain_dimensions():
    # N (cs231n's batch size), S, I, E, Q, beta, gamma, pi: sympify took them for SymPy's own
    names = "N S I E Q beta gamma pi"
    N, S, I, E, Q, beta, gamma, pi = sp.symbols(names, integer=True, positive=True)  # noqa: E741
    X, W = sg.Input("X", N, S), sg.Param("W", S, I)
    V, U = sg.Param("V", E, Q), sg.Param("U", beta, gamma)
    P = sg.Param("P", pi, N)
    loss = sg.sum(sg.tanh(P @ X @ W)) + sg.sum(sp.HadamardPower(V, 2)) + sg.sum(sg.exp(U))
    model = sg.Model("namespace", loss=loss, params=[W, V, U, P], inputs=[X])
    source = module_source(derive(model))
    certify(model, source)
    module = load_module(source)
    dims = default_dims(module, seed=1)
    assert sorted(dims) == sorted(["N", "S", "I", "E", "Q", "beta", "gamma", "pi"])
    values = random_instance(module, dims)
    assert values["X"].shape == (dims["N"], dims["S"])
    assert check_model(model, dims={"N": 2, "E": 3}).passed


def test_a_model_may_be_named_like_a_builtin_which_only_names_its_module():
    W, X = sg.Param("W", n, k), sg.Input("X", n, k)
    model = sg.Model("abs", loss=sg.sum((W @ X.T).applyfunc(sp.Abs)), params=[W], inputs=[X])
    certify(model, module_source(derive(model)))


def _tampered(source, old, new):
    assert source.count(old) == 1, old
    return source.replace(old, new)


def test_a_gradient_that_is_exactly_zero_is_certified_and_a_small_wrong_one_refused():
    # the columns of a softmax sum to 1, so sum(softmax(2 W)) = m and dW = 0 (by hand); the
    # module's rounding, 2e-16, was refused: the allowance was 1e-8 of 1e-14 |dW| |v|
    W = sg.Param("W", n, m)
    model = sg.Model("zero_grad", loss=sg.sum(sg.softmax(2 * W)), params=[W])
    source = module_source(derive(model))
    certify(model, source)
    line = "    return t3, (dW,)\n"
    for wrong in ("dW + 1e-9", "dW + 0.01 * W"):      # off by little, and on W's scale
        with pytest.raises(SymgradError, match="the gradient dW disagrees"):
            certify(model, _tampered(source, line, f"    return t3, ({wrong},)\n"))


def test_an_output_that_is_exactly_zero_is_certified_and_a_small_wrong_one_refused():
    # log_softmax over k = 1 class is 0 (by hand); SymPy's 1e-28 there made the module's
    # exact 0 a relative error of 1
    X, Y = sg.Input("X", n, m), sg.Input("Y", k, m)
    W, b = sg.Param("W", k, n), sg.Param("b", k, 1)
    Z = W @ X + b
    model = sg.Model("ls_out", loss=sg.cross_entropy(Z, Y), params=[W, b], inputs=[X, Y],
                     outputs={"lse": sg.logsumexp(Z), "ls": sg.log_softmax(Z)})
    source = module_source(derive(model))
    certify(model, source)
    line = "    return {'lse': lse, 'ls': ls}\n"
    with pytest.raises(SymgradError, match="output 'ls' disagrees"):
        certify(model, _tampered(source, line, "    return {'lse': lse, 'ls': ls + 1e-9}\n"))


@pytest.mark.parametrize("wrong", ["1.01 * dW", "-dW", "dW - X"])     # too large, sign, a term
def test_a_gradient_off_by_a_factor_a_sign_or_a_term_is_refused(wrong):
    X, W = sg.Input("X", n, m), sg.Param("W", n, m)
    model = sg.Model("hadamard", loss=sg.sum(sp.HadamardProduct(W, X)) + sg.sum(sg.exp(W)),
                     params=[W], inputs=[X])
    source = module_source(derive(model))
    certify(model, source)
    returned = next(line for line in source.splitlines() if line.startswith("    return")
                    and "(dW,)" in line)
    with pytest.raises(SymgradError, match="the gradient dW disagrees"):
        certify(model, _tampered(source, returned, returned.replace("(dW,)", f"({wrong},)")))


def test_a_hessian_of_the_wrong_shape_is_refused_naming_its_shape():
    # (1, 4) was multiplied by the directions: "internal error ... matmul"
    X, W = sg.Input("X", n, m), sg.Param("W", n, n)
    model = sg.Model("norm_hessian", loss=sg.norm(W @ X), params=[W], inputs=[X],
                     hessian=True)
    source = module_source(derive(model))
    start = source.index("\ndef hessian(")
    at = source.index("\n    return ", start) + len("\n    return ")
    with pytest.raises(SymgradError, match=r"hessian has shape \(1, \d+\), not \((\d+), \1\)"):
        certify(model, source[:at] + "(" + source[at:].replace("\n", ")[:1]\n", 1))
