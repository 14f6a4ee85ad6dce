"""Generated modules against hand-written NumPy (the textbook formulas) at random dimensions."""
import numpy as np
import pytest
import sympy as sp
from helpers import compiled, sigmoid

import symgrad as sg
from symgrad.testing import relative_error


def _dims(seed):
    rng = np.random.default_rng(seed)
    return [int(v) for v in rng.integers(2, 9, size=4)]


def _assert_close(got, want, tol=1e-8):
    loss, grads = got
    ref_loss, ref_grads = want
    assert relative_error(loss, ref_loss) < tol
    for g, r in zip(grads, ref_grads):
        assert np.shape(g) == np.shape(r)
        assert relative_error(g, r) < tol


@pytest.mark.parametrize("seed", range(4))
def test_two_layer_tanh_sigmoid_equals_textbook_backprop(seed):
    n_x, n_h, m, _ = _dims(seed)
    nx, nh, mm = sp.symbols("n_x n_h m", integer=True, positive=True)
    X, Y = sg.Input("X", nx, mm), sg.Input("Y", 1, mm)
    W1, b1, W2, b2 = (sg.Param("W1", nh, nx), sg.Param("b1", nh, 1), sg.Param("W2", 1, nh),
                      sg.Param("b2", 1, 1))
    A2 = sg.sigmoid(W2 @ sg.tanh(W1 @ X + b1) + b2)
    module = compiled(sg.Model("two", sg.mean(sg.binary_cross_entropy(A2, Y)),
                               [W1, b1, W2, b2], [X, Y]))
    rng = np.random.default_rng(seed)
    w1, c1 = rng.standard_normal((n_h, n_x)), rng.standard_normal((n_h, 1))
    w2, c2 = rng.standard_normal((1, n_h)), rng.standard_normal((1, 1))
    x, y = rng.standard_normal((n_x, m)), (rng.random((1, m)) > 0.5).astype(float)
    a1 = np.tanh(w1 @ x + c1)
    a2 = sigmoid(w2 @ a1 + c2)
    cost = -np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2))
    dz2 = (a2 - y) / m
    dz1 = (w2.T @ dz2) * (1 - a1**2)
    want = cost, [dz1 @ x.T, dz1.sum(1, keepdims=True), dz2 @ a1.T, dz2.sum(1, keepdims=True)]
    _assert_close(module.value_and_grad(w1, c1, w2, c2, x, y), want)


@pytest.mark.parametrize("seed", range(4))
def test_softmax_cross_entropy_equals_textbook_backprop(seed):
    n_x, k, m, _ = _dims(seed)
    nx, kk, mm = sp.symbols("n_x k m", integer=True, positive=True)
    X, Y = sg.Input("X", nx, mm), sg.Input("Y", kk, mm)
    W, b = sg.Param("W", kk, nx), sg.Param("b", kk, 1)
    cost = -sg.sum(sp.HadamardProduct(Y, sg.log_softmax(W @ X + b))) / mm
    module = compiled(sg.Model("soft", cost, [W, b], [X, Y]))
    rng = np.random.default_rng(seed)
    w, c = rng.standard_normal((k, n_x)), rng.standard_normal((k, 1))
    x = rng.standard_normal((n_x, m))
    y = np.eye(k)[:, rng.integers(0, k, m)]
    z = w @ x + c
    p = np.exp(z - z.max(0)) / np.exp(z - z.max(0)).sum(0)
    cost = -np.sum(y * np.log(p)) / m
    dz = (p - y) / m                      # one-hot targets
    _assert_close(module.value_and_grad(w, c, x, y), (cost, [dz @ x.T, dz.sum(1, keepdims=True)]))


@pytest.mark.parametrize("seed", range(4))
def test_logistic_regression_plain_sympy_vectorised_cost(seed):
    """The notes' cost, -(1/m)(Y log(A)^T + (1 - Y) log(1 - A)^T), in plain SymPy."""
    n_x, m, _, _ = _dims(seed)
    nx, mm = sp.symbols("n_x m", integer=True, positive=True)
    X, Y = sp.MatrixSymbol("X", nx, mm), sp.MatrixSymbol("Y", 1, mm)
    w, b = sp.MatrixSymbol("w", nx, 1), sp.Symbol("b", real=True)
    one = sp.OneMatrix(1, mm)
    t = sp.Symbol("t", real=True)
    A = (w.T * X + b * one).applyfunc(sp.Lambda(t, 1 / (1 + sp.exp(-t))))
    cost = -(1 / mm) * (Y * A.applyfunc(sp.log).T + (one - Y) * (one - A).applyfunc(sp.log).T)
    module = compiled(sg.Model("notes", cost, [w, b], [X, Y]))
    rng = np.random.default_rng(seed)
    wv, bv = rng.standard_normal((n_x, 1)), float(rng.standard_normal())
    x, y = rng.standard_normal((n_x, m)), (rng.random((1, m)) > 0.5).astype(float)
    a = sigmoid(wv.T @ x + bv)
    cost = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
    loss, (dw, db) = module.value_and_grad(wv, bv, x, y)
    assert isinstance(db, float)
    _assert_close((loss, [dw, db]), (cost, [x @ (a - y).T / m, float(np.sum(a - y) / m)]))


@pytest.mark.parametrize("seed", range(3))
def test_custom_lambda_activation_with_l2_penalty(seed):
    """swish written as a Lambda, squared error, and (lam/2) tr(W^T W) as the penalty."""
    n_x, n_y, m, _ = _dims(seed)
    nx, ny, mm = sp.symbols("n_x n_y m", integer=True, positive=True)
    X, Y = sp.MatrixSymbol("X", nx, mm), sp.MatrixSymbol("Y", ny, mm)
    W, lam = sp.MatrixSymbol("W", ny, nx), sp.Symbol("lam", real=True)
    t = sp.Symbol("t", real=True)
    A = (W * X).applyfunc(sp.Lambda(t, t / (1 + sp.exp(-t))))
    cost = sg.mse(A, Y) + lam / 2 * sp.Trace(W.T * W)
    module = compiled(sg.Model("swish", cost, [W, lam], [X, Y]))
    rng = np.random.default_rng(seed)
    wv, lv = rng.standard_normal((n_y, n_x)), 0.3
    x, y = rng.standard_normal((n_x, m)), rng.standard_normal((n_y, m))
    z = wv @ x
    s = sigmoid(z)
    a = z * s
    cost = np.mean((a - y) ** 2) + lv / 2 * np.sum(wv**2)
    dz = 2 * (a - y) / (n_y * m) * (s + z * s * (1 - s))
    _assert_close(module.value_and_grad(wv, lv, x, y),
                  (cost, [dz @ x.T + lv * wv, 0.5 * np.sum(wv**2)]))
