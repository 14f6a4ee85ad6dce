"""Every example, written again in plain SymPy's spelling (`sp.MatrixSymbol`, `*` the matrix
product, `OneMatrix` broadcasts, `applyfunc`, Hadamard products): it derives, its module is
certified against the plain model's own SymPy expression, and it computes what the example
(written with NumPy's operators) computes (issue 15: plain SymPy keeps working)."""
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from sympy import HadamardPower, HadamardProduct, Lambda, MatrixSymbol, OneMatrix, Trace

import symgrad as sg
from symgrad.certify import certify
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.testing import default_dims, load_module, random_instance, relative_error

t = sp.Symbol("t", real=True)
relu = Lambda(t, sp.Max(t, 0))


def dims(*names):
    return sp.symbols(names, integer=True, positive=True)


def total(M):
    return OneMatrix(1, M.shape[0]) * M * OneMatrix(M.shape[1], 1)


def bce(A, Y, m):
    """The notes' vectorised cost, a 1x1 matrix."""
    one = OneMatrix(1, m)
    return -(Y * A.applyfunc(sp.log).T + (one - Y) * (one - A).applyfunc(sp.log).T) / m


def two_layer():
    n_x, n_h, m = dims("n_x", "n_h", "m")
    X, Y = MatrixSymbol("X", n_x, m), MatrixSymbol("Y", 1, m)
    W1, b1 = MatrixSymbol("W1", n_h, n_x), MatrixSymbol("b1", n_h, 1)
    W2, b2 = MatrixSymbol("W2", 1, n_h), MatrixSymbol("b2", 1, 1)
    A1 = (W1 * X + b1 * OneMatrix(1, m)).applyfunc(sp.tanh)
    A2 = (W2 * A1 + b2 * OneMatrix(1, m)).applyfunc(sg.Sigmoid)
    return sg.Model("two_layer", bce(A2, Y, m), [W1, b1, W2, b2], [X, Y], outputs={"A2": A2})


def dropout():
    n_x, n_h, m = dims("n_x", "n_h", "m")
    X, Y, D1 = MatrixSymbol("X", n_x, m), MatrixSymbol("Y", 1, m), MatrixSymbol("D1", n_h, m)
    W1, b1 = MatrixSymbol("W1", n_h, n_x), MatrixSymbol("b1", n_h, 1)
    W2, b2 = MatrixSymbol("W2", 1, n_h), MatrixSymbol("b2", 1, 1)
    A1 = HadamardProduct((W1 * X + b1 * OneMatrix(1, m)).applyfunc(relu), D1) / 0.8
    A2 = (W2 * A1 + b2 * OneMatrix(1, m)).applyfunc(sg.Sigmoid)
    return sg.Model("dropout", bce(A2, Y, m), [W1, b1, W2, b2], [X, Y, D1], outputs={"A2": A2})


def logistic_regression():
    n_x, m = dims("n_x", "m")
    X, Y = MatrixSymbol("X", n_x, m), MatrixSymbol("Y", 1, m)
    w, b = MatrixSymbol("w", n_x, 1), sp.Symbol("b", real=True)
    A = (w.T * X + b * OneMatrix(1, m)).applyfunc(sg.Sigmoid)
    return sg.Model("logistic_regression", bce(A, Y, m), [w, b], [X, Y], outputs={"A": A})


def logistic_newton():
    n_x, m = dims("n_x", "m")
    X, Y = MatrixSymbol("X", n_x, m), MatrixSymbol("Y", 1, m)
    w = MatrixSymbol("w", n_x, 1)
    A = (w.T * X).applyfunc(sg.Sigmoid)
    return sg.Model("logistic_newton", bce(A, Y, m), [w], [X, Y], outputs={"A": A},
                    hessian=True)


def softmax_classifier():
    n_x, n_h, k, m = dims("n_x", "n_h", "k", "m")
    X, Y = MatrixSymbol("X", n_x, m), MatrixSymbol("Y", k, m)
    W1, b1 = MatrixSymbol("W1", n_h, n_x), MatrixSymbol("b1", n_h, 1)
    W2, b2 = MatrixSymbol("W2", k, n_h), MatrixSymbol("b2", k, 1)
    A1 = (W1 * X + b1 * OneMatrix(1, m)).applyfunc(sp.tanh)
    E = (W2 * A1 + b2 * OneMatrix(1, m)).applyfunc(sp.exp)
    A2 = HadamardProduct(E, HadamardPower(OneMatrix(k, k) * E, -1))
    cost = -total(HadamardProduct(Y, A2.applyfunc(sp.log))) / m
    return sg.Model("softmax_classifier", cost, [W1, b1, W2, b2], [X, Y], outputs={"A2": A2})


def deep_relu():
    L = 4
    n = dims(*[f"n{i}" for i in range(L)])
    (m,) = dims("m")
    X, Y = MatrixSymbol("X", n[0], m), MatrixSymbol("Y", 1, m)
    sizes, params, A = list(n) + [1], [], X
    for layer in range(1, L + 1):
        W = MatrixSymbol(f"W{layer}", sizes[layer], sizes[layer - 1])
        b = MatrixSymbol(f"b{layer}", sizes[layer], 1)
        params += [W, b]
        A = (W * A + b * OneMatrix(1, m)).applyfunc(relu if layer < L else sg.Sigmoid)
    return sg.Model("deep_relu", bce(A, Y, m), params, [X, Y], outputs={"AL": A})


def cookbook():
    n, m = dims("n", "m")
    X, mu, L = MatrixSymbol("X", n, m), MatrixSymbol("mu", n, 1), MatrixSymbol("L", n, n)
    P = L * L.T
    D = X - mu * OneMatrix(1, m)
    nll = (Trace(P * D * D.T) / m - sp.log(sp.det(P))) / 2
    return sg.Model("cookbook", nll, [mu, L], [X], outputs={"covariance": P.I},
                    jacobians={"dcov_dL": (P.I, L)})


def attention():
    d, d_k, m = dims("d", "d_k", "m")
    X, Y = MatrixSymbol("X", d, m), MatrixSymbol("Y", d, m)
    Wq, Wk, Wv = MatrixSymbol("Wq", d_k, d), MatrixSymbol("Wk", d_k, d), MatrixSymbol("Wv", d, d)
    S = (Wk * X).T * (Wq * X) / sp.sqrt(d_k)
    E = S.applyfunc(sp.exp)
    P = HadamardProduct(E, HadamardPower(OneMatrix(m, m) * E, -1))
    cost = total(HadamardPower(Wv * X * P - Y, 2)) / (d * m)
    return sg.Model("attention", cost, [Wq, Wk, Wv], [X, Y], outputs={"P": P})


def cs231n_softmax():
    N, D, C = dims("N", "D", "C")
    X, y = MatrixSymbol("X", N, D), sg.Labels("y", N)
    W, b = MatrixSymbol("W", D, C), MatrixSymbol("b", 1, C)
    scores = X * W + OneMatrix(N, 1) * b
    loss = sg.cross_entropy(scores, y, axis=1) + 1e-3 * Trace(total(HadamardPower(W, 2)))
    return sg.Model("cs231n_softmax", loss, [W, b], [X, y], outputs={"scores": scores})


BUILDS = [two_layer, dropout, logistic_regression, logistic_newton, softmax_classifier,
          deep_relu, cookbook, attention, cs231n_softmax]
WRITTEN_PLAIN = {"custom_activation", "graph"}       # the examples already in plain SymPy


def test_every_example_has_its_plain_spelling_here():
    examples = {p.stem for p in (Path(__file__).parent.parent / "examples").glob("*.py")}
    assert examples - WRITTEN_PLAIN == {f.__name__ for f in BUILDS}


@pytest.mark.parametrize("build", BUILDS, ids=lambda f: f.__name__)
def test_the_plain_sympy_spelling_of_each_example(build, example):
    model = build()
    source = module_source(derive(model))
    certify(model, source)            # against the plain model's own SymPy expression
    plain = load_module(source, model.name)
    _, _, _, numpy_spelled = example(model.name)
    assert plain.PARAMS == numpy_spelled.PARAMS and plain.INPUTS == numpy_spelled.INPUTS
    at = default_dims(numpy_spelled, seed=1)
    if model.name == "cookbook":
        at = {**at, "n": 3}
    values = random_instance(numpy_spelled, at, seed=1)
    for name, classes in getattr(numpy_spelled, "LABELS", {}).items():   # valid class indices
        values[name] = np.arange(values[name].size) % at[classes]
    if model.name == "cookbook":
        values["L"] = values["L"] + 2 * np.eye(3)       # well conditioned
    args = [values[name] for name in plain.PARAMS + plain.INPUTS]
    (v1, g1), (v2, g2) = plain.value_and_grad(*args), numpy_spelled.value_and_grad(*args)
    assert relative_error(v1, v2) < 1e-12
    for a, b in zip(g1, g2):
        assert relative_error(a, b) < 1e-12
