"""Plain SymPy that people write (issue 14): matrix powers, scalar Max/Min, the Sum SymPy makes
of a 1x1 product's entry, constant matrices, a scalar added to a matrix, Hadamard products
that broadcast, and parameters inside Lambdas. Each derives and agrees with the SymPy oracle
and with a formula derived by hand (evaluated in NumPy here), or is refused in one line."""
import warnings

import numpy as np
import pytest
import sympy as sp
from helpers import sigmoid

import symgrad as sg
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.errors import SymgradWarning
from symgrad.testing import (
    assert_matches_model,
    check_grads,
    load_module,
    relative_error,
    sympy_reference,
)

n, k = sp.symbols("n k", integer=True, positive=True)
X, M = sp.MatrixSymbol("X", n, n), sp.MatrixSymbol("M", n, n)   # SymPy's `*` and `**`
W, Z, b = sg.Param("W", n, k), sg.Param("Z", n, k), sg.Param("b", n, 1)
w, x, G = sg.Param("w", n, 1), sg.Input("x", n, 1), sg.Input("G", n, k)
a, c, s, beta, T = (sg.Param(name) for name in ("a", "c", "s", "beta", "T"))
z = sp.Symbol("z", real=True)

rng = np.random.default_rng(14)
X0 = 2 * np.eye(3) + 0.4 * rng.standard_normal((3, 3))      # det > 0, well conditioned
W0, G0 = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
b0, x0 = rng.standard_normal((3, 1)), rng.standard_normal((3, 1))


def checked(loss, params, inputs=(), dims=({}, {"n": 1, "k": 1})):
    """The module of a model, after checking it against the SymPy oracle (at dimensions 2
    or 3, and at 1) and central differences, with no warning that a parameter is unused."""
    model = sg.Model("m", loss, params, inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SymgradWarning)
        module = load_module(module_source(derive(model)))
    for d in dims:
        assert_matches_model(model, module, dims=d, rtol=1e-9)
    check_grads(module, rtol=1e-5)
    return module


def refused(loss, params, *words):
    with pytest.raises(sg.SymgradError) as error:
        derive(sg.Model("m", loss, params, [x, G]))
    message = str(error.value)
    assert "\n" not in message and all(word in message for word in words), message


def inv_t(A):
    return np.linalg.inv(A).T


# ---- matrix powers (MatPow) ---------------------------------------------------------------
@pytest.mark.parametrize("name,loss,value,grad", [
    ("M * M", sg.sum(M * M), lambda A: (A @ A).sum(),
     lambda A: np.ones((3, 3)) @ A.T + A.T @ np.ones((3, 3))),
    ("tr X**2", sp.Trace(X**2), lambda A: np.trace(A @ A), lambda A: 2 * A.T),
    ("tr X**3", sp.Trace(X**3), lambda A: np.trace(A @ A @ A), lambda A: 3 * (A @ A).T),
    ("det(X @ X)", sp.det(X @ X), lambda A: np.linalg.det(A) ** 2,
     lambda A: 2 * np.linalg.det(A) ** 2 * inv_t(A)),
    ("log det(X @ X)", sp.log(sp.det(X @ X)), lambda A: 2 * np.log(np.linalg.det(A)),
     lambda A: 2 * inv_t(A)),
    ("tr X**-2", sp.Trace(X**-2), lambda A: np.trace(np.linalg.matrix_power(A, -2)),
     lambda A: -2 * np.linalg.matrix_power(A, -3).T),
    ("sum X**5", sg.sum(X**5), lambda A: np.linalg.matrix_power(A, 5).sum(),
     lambda A: sum(np.linalg.matrix_power(A.T, i) @ np.ones((3, 3))
                   @ np.linalg.matrix_power(A.T, 4 - i) for i in range(5))),
])
def test_matrix_powers_match_the_oracle_and_the_cookbook(name, loss, value, grad):
    params = [M] if loss.has(M) else [X]
    module = checked(loss, params, dims=({},))
    got, (dA,) = module.value_and_grad(X0)
    assert relative_error(got, value(X0)) < 1e-12, name
    assert relative_error(dA, grad(X0)) < 1e-12, name


def test_det_of_a_product_with_itself_as_sympy_rewrites_it():
    # SymPy's doit writes det(X X^T) as det(X^T) det(X), simplify writes det(X @ X) as det(X)**2
    module = checked(sp.det(X @ X.T).doit() + sp.simplify(sp.det(X @ X)), [X], dims=({},))
    _, (dX,) = module.value_and_grad(X0)
    assert relative_error(dX, 4 * np.linalg.det(X0) ** 2 * inv_t(X0)) < 1e-12


def test_matrix_power_needs_an_integer_exponent():
    refused(sg.sum(X**k), [X], "MatPow", "integer exponent")
    refused(sg.sum(X**sp.Rational(1, 2)), [X], "integer exponent")


# ---- scalar Max and Min -------------------------------------------------------------------
@pytest.mark.parametrize("a0,c0", [(0.7, -0.3), (-0.7, 0.4), (0.2, 0.9)])
def test_relu_max_and_min_of_scalar_parameters(a0, c0):
    module = checked(sg.relu(a) + sp.Min(a, c) ** 2 + 3 * sp.Max(a, c), [a, c])
    value, (da, dc) = module.value_and_grad(a0, c0)
    low = min(a0, c0)
    assert np.isclose(value, max(a0, 0) + low**2 + 3 * max(a0, c0), rtol=1e-14)
    assert np.isclose(da, (a0 > 0) + 2 * low * (a0 < c0) + 3 * (a0 > c0), rtol=1e-14)
    assert np.isclose(dc, 2 * low * (c0 < a0) + 3 * (c0 > a0), rtol=1e-14)


def test_max_pooling_as_the_max_of_two_matrices():
    # SymPy has no elementwise Max of two matrices (sp.Max(A, B) raises "not comparable"):
    # max(A, B) = B + relu(A - B), with A and B e.g. two shifted windows S1 @ X, S2 @ X
    module = checked(sg.sum(sp.HadamardProduct(G, Z + sg.relu(W - Z))), [W, Z], [G])
    Z0 = rng.standard_normal((3, 4))
    value, (dW, dZ) = module.value_and_grad(W0, Z0, G0)
    assert np.isclose(value, np.sum(G0 * np.maximum(W0, Z0)), rtol=1e-14)
    assert relative_error(dW, G0 * (W0 > Z0)) < 1e-15
    assert relative_error(dZ, G0 * (W0 <= Z0)) < 1e-15


# ---- the [0, 0] entry of a 1x1 product: SymPy writes a Sum over a dummy index ----------------
def test_entry_of_a_one_by_one_product():
    loss = (w.T @ x)[0, 0] ** 2 + (x.T @ M @ x)[0, 0]
    assert loss.has(sp.Sum)
    module = checked(loss, [w, M], [x])
    value, (dw, dM) = module.value_and_grad(b0, X0, x0)
    assert np.isclose(value, (b0.T @ x0).item() ** 2 + (x0.T @ X0 @ x0).item(), rtol=1e-14)
    assert relative_error(dw, 2 * (b0.T @ x0).item() * x0) < 1e-14
    assert relative_error(dM, x0 @ x0.T) < 1e-14


def test_squared_norm_as_the_entry_of_a_one_by_one_product():
    loss = 3 * (w.T @ w)[0, 0] + ((M @ x).T @ (M @ x))[0, 0]
    module = checked(loss, [w, M], [x])
    value, (dw, dM) = module.value_and_grad(b0, X0, x0)
    assert np.isclose(value, 3 * np.sum(b0**2) + np.sum((X0 @ x0) ** 2), rtol=1e-14)
    assert relative_error(dw, 6 * b0) < 1e-14
    assert relative_error(dM, 2 * X0 @ x0 @ x0.T) < 1e-14


def test_other_sums_are_refused():
    i = sp.Symbol("i", integer=True)
    refused(sp.Sum(w[i, 0], (i, 0, n - 1)), [w], "unsupported Sum", "matrix product")


# ---- constant matrices fold to numbers in the dimensions ------------------------------------
@pytest.mark.parametrize("name,loss,value,grad", [
    ("tr I", sp.Trace(sp.Identity(n)) * sg.sum(W), lambda A: 3 * A.sum(),
     lambda A: 3 * np.ones_like(A)),
    ("tr 1", sp.Trace(sp.OneMatrix(n, n)) + sg.sum(sp.HadamardPower(W, 2)),
     lambda A: 3 + np.sum(A**2), lambda A: 2 * A),
    ("sum 0", sg.sum(sp.ZeroMatrix(n, k)) + sg.sum(sg.exp(W)), lambda A: np.exp(A).sum(), np.exp),
    ("sum 1", sg.sum(sp.OneMatrix(n, k)) * sg.sum(W), lambda A: 12 * A.sum(),
     lambda A: 12 * np.ones_like(A)),
])
def test_constant_matrices(name, loss, value, grad):
    module = checked(loss, [W])
    got, (dW,) = module.value_and_grad(W0)
    assert np.isclose(got, value(W0), rtol=1e-14), name
    assert relative_error(dW, grad(W0)) < 1e-14, name


# ---- a scalar added to a matrix, on either side ----------------------------------------------
@pytest.mark.parametrize("name,build,sign", [
    ("W + s", lambda: W + s, 1), ("s + W", lambda: s + W, 1), ("W - s", lambda: W - s, -1),
    ("W + 2*s", lambda: W + 2 * s, 2), ("s - W", lambda: -(s - W), -1),
])
def test_scalar_parameter_added_to_a_matrix(name, build, sign):
    module = checked(sg.sum(sg.exp(build())), [W, s])
    value, (dW, ds) = module.value_and_grad(W0, 0.3)
    e = np.exp(W0 + sign * 0.3)
    assert np.isclose(value, e.sum(), rtol=1e-14), name
    assert relative_error(dW, e) < 1e-14 and np.isclose(ds, sign * e.sum(), rtol=1e-14), name


def test_scalar_plus_a_plain_matrix_symbol_broadcasts():
    P = sp.MatrixSymbol("P", n, k)
    assert (P - s).shape == (n, k) == (s - P).shape == (P + s).shape


# ---- Hadamard products of a column and a matrix ----------------------------------------------
def test_hadamard_product_of_a_matrix_and_a_column_broadcasts():
    module = checked(sg.sum(sg.exp(sp.HadamardProduct(W, b))), [W, b])
    value, (dW, db) = module.value_and_grad(W0, b0)
    e = np.exp(W0 * b0)
    assert np.isclose(value, e.sum(), rtol=1e-14)
    assert relative_error(dW, e * b0) < 1e-14
    assert relative_error(db, (e * W0).sum(axis=1, keepdims=True)) < 1e-14


def test_hadamard_product_of_a_matrix_and_a_row_broadcasts():
    r, r0 = sg.Param("r", 1, k), rng.standard_normal((1, 4))
    module = checked(sg.sum(sg.exp(sp.HadamardProduct(W, r))), [W, r])
    value, (dW, dr) = module.value_and_grad(W0, r0)
    e = np.exp(W0 * r0)
    assert np.isclose(value, e.sum(), rtol=1e-14)
    assert relative_error(dW, e * r0) < 1e-14
    assert relative_error(dr, (e * W0).sum(axis=0, keepdims=True)) < 1e-14


def test_plain_matadd_of_a_matrix_and_a_column_broadcasts():
    module = checked(sg.sum(sg.exp(sp.MatAdd(W, b))), [W, b])
    value, (dW, db) = module.value_and_grad(W0, b0)
    e = np.exp(W0 + b0)
    assert np.isclose(value, e.sum(), rtol=1e-14)
    assert relative_error(dW, e) < 1e-14
    assert relative_error(db, e.sum(axis=1, keepdims=True)) < 1e-14


def test_column_first_is_refused_since_sympy_gives_it_the_column_shape():
    assert sp.HadamardProduct(b, W).shape == (n, 1)
    refused(sg.sum(sp.HadamardProduct(b, W)), [W, b], "HadamardProduct", "(n, k)", "first")
    refused(sg.sum(sp.MatAdd(b, W)), [W, b], "MatAdd", "first")


# ---- parameters inside Lambdas and helper activations ----------------------------------------
def test_learnable_swish_beta():
    swish = Z.applyfunc(sp.Lambda(z, z * sg.Sigmoid(beta * z)))
    module = checked(sg.sum(sp.HadamardProduct(G, swish)), [Z, beta], [G])
    value, (dZ, dbeta) = module.value_and_grad(W0, 1.3, G0)
    sb = sigmoid(1.3 * W0)
    assert np.isclose(value, np.sum(G0 * W0 * sb), rtol=1e-14)
    assert np.isclose(dbeta, np.sum(G0 * W0**2 * sb * (1 - sb)), rtol=1e-13)
    assert relative_error(dZ, G0 * (sb + 1.3 * W0 * sb * (1 - sb))) < 1e-14


def test_prelu_alpha():
    module = checked(sg.sum(sp.HadamardProduct(G, sg.leaky_relu(Z, alpha=a))), [Z, a], [G])
    value, (dZ, da) = module.value_and_grad(W0, 0.25, G0)
    assert np.isclose(value, np.sum(G0 * np.where(W0 > 0, W0, 0.25 * W0)), rtol=1e-14)
    assert np.isclose(da, np.sum(G0 * W0 * (W0 < 0)), rtol=1e-14)
    assert relative_error(dZ, G0 * np.where(W0 > 0, 1, 0.25)) < 1e-14


def test_learnable_temperature_in_a_lambda():
    module = checked(sg.sum(sp.HadamardProduct(G, Z.applyfunc(sp.Lambda(z, sp.exp(z / T))))),
                     [Z, T], [G])
    value, (dZ, dT) = module.value_and_grad(W0, 1.7, G0)
    e = np.exp(W0 / 1.7)
    assert np.isclose(value, np.sum(G0 * e), rtol=1e-14)
    assert np.isclose(dT, np.sum(G0 * e * -W0 / 1.7**2), rtol=1e-13)
    assert relative_error(dZ, G0 * e / 1.7) < 1e-14


@pytest.mark.parametrize("s0", [0.9, -0.9])        # tanh(0.3) = 0.29: either branch
def test_scalar_parameters_in_a_where_condition_are_bound_by_the_oracle(s0):
    """sg.where(tanh(a) <= s, X**3, -1): the condition is a SymPy relation of scalar
    parameters inside the map's Lambda, which the oracle's program once left unbound
    (certification: NameError: name 's' is not defined)."""
    torch = pytest.importorskip("torch")
    loss = sg.mean(sg.where(sg.less_equal(sg.tanh(a), s), Z ** 3, -1))
    module = sg.compile(sg.Model("m", loss, [a, s, Z]))            # certified
    value, grads = module.value_and_grad(0.3, s0, W0)
    at, st, Zt = (torch.tensor(v, dtype=torch.float64, requires_grad=True)
                  for v in (0.3, s0, W0))
    want = torch.where(torch.tanh(at) <= st, Zt ** 3, -1.0).mean()
    assert np.isclose(value, want.item(), rtol=1e-14)
    for got, g in zip(grads, torch.autograd.grad(want, [at, st, Zt], allow_unused=True),
                      strict=True):
        assert relative_error(got, 0.0 if g is None else g.numpy()) < 1e-14


def test_lambda_constant_in_the_entry_keeps_the_matrix_shape():
    t = sg.Input("t")
    module = checked(sg.sum(Z.applyfunc(sp.Lambda(z, t))) + sg.sum(sg.exp(Z)), [Z], [t])
    value, (dZ,) = module.value_and_grad(W0, 0.6)
    assert np.isclose(value, 12 * 0.6 + np.exp(W0).sum(), rtol=1e-14)
    assert relative_error(dZ, np.exp(W0)) < 1e-14


def test_unknown_symbol_or_matrix_in_a_lambda_is_refused():
    lam = sp.Symbol("lam")
    refused(sg.sum(Z.applyfunc(sp.Lambda(z, lam * z))), [Z], "symbol lam", "params=[...]")
    refused(sg.sum(Z.applyfunc(sp.Lambda(z, W[0, 0] * z))), [Z, W], "a matrix inside")


# ---- the oracle expands all of it by itself ---------------------------------------------------
def test_oracle_expands_matrix_powers_and_sums_independently():
    model = sg.Model("m", sg.sum(X**3) + (w.T @ x)[0, 0] + sp.Trace(X**-1), [X, w], [x])
    value, _ = sympy_reference(model, {"n": 3}, {"X": X0, "w": b0, "x": x0})
    want = np.linalg.matrix_power(X0, 3).sum() + (b0.T @ x0).item() + np.trace(np.linalg.inv(X0))
    assert np.isclose(value, want, rtol=1e-13)


def test_oracle_refuses_what_it_cannot_expand_by_name():
    with pytest.raises(NotImplementedError, match="KroneckerProduct"):
        sympy_reference(sg.Model("m", sp.Trace(sp.kronecker_product(X, X)), [X]), {"n": 3},
                        {"X": X0})
