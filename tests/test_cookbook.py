"""Matrix Cookbook ops (inverse, det, log det, trace of products, quadratic forms): generated
gradients against central differences and against the Cookbook's formulas, evaluated with
NumPy's own inv."""
import numpy as np
import pytest
import sympy as sp
from helpers import compiled

import symgrad as sg
from symgrad.testing import finite_difference_grads, relative_error

n = sp.Symbol("n", integer=True, positive=True)
X, B = sg.Param("X", n, n), sg.Input("B", n, n)
x, A = sg.Param("x", n, 1), sg.Param("A", n, n)
rng = np.random.default_rng(0)
X0 = 2 * np.eye(4) + 0.4 * rng.standard_normal((4, 4))   # det > 0, not symmetric
B0 = rng.standard_normal((4, 4))


def module(loss, params, inputs=()):
    return compiled(sg.Model("m", loss, params, inputs))


def test_gradient_of_log_det_is_inverse_transpose():
    assert np.linalg.det(X0) > 0
    _, (dX,) = module(sp.log(sp.det(X)), [X]).value_and_grad(X0)
    assert relative_error(dX, np.linalg.inv(X0).T) < 1e-12
    assert relative_error(dX, np.linalg.inv(X0)) > 1e-2      # the transpose matters


def test_gradient_of_quadratic_form_is_a_plus_a_transpose_times_x():
    x0, A0 = rng.standard_normal((4, 1)), rng.standard_normal((4, 4))
    value, (dx, dA) = module(sg.sum(x.T @ A @ x), [x, A]).value_and_grad(x0, A0)
    assert np.isclose(value, (x0.T @ A0 @ x0).item(), rtol=1e-14)
    assert relative_error(dx, (A0 + A0.T) @ x0) < 1e-14
    assert relative_error(dA, x0 @ x0.T) < 1e-14


@pytest.mark.parametrize("name,loss", [
    ("inverse", sg.sum(X.I @ B)),
    ("inverse power", sp.Trace(B @ sp.MatPow(X, -1) @ B)),
    ("det", sp.det(X)),
    ("det of a product", sp.det(X @ B)),
    ("log det", sp.log(sp.det(X))),
    ("log det of a product", sp.log(sp.det(X.T @ X))),
    ("trace of a product", sp.Trace(X @ B @ X.T)),
    ("trace of an inverse", sp.Trace(sg.exp(X).I)),
])
def test_cookbook_gradients_match_central_differences(name, loss):
    args = [X0, B0]
    mod = module(loss, [X], [B])
    value, (dX,) = mod.value_and_grad(*args)
    assert np.isfinite(value)
    (reference,) = finite_difference_grads(mod.loss, args, 1)
    assert relative_error(dX, reference) < 1e-7, name


def test_log_det_is_stable_where_det_overflows():
    big = 1e200 * np.eye(4)
    value, (dX,) = module(sp.log(sp.det(X)), [X]).value_and_grad(big)
    assert np.isclose(value, 4 * np.log(1e200))
    assert relative_error(dX, 1e-200 * np.eye(4)) < 1e-14

