"""The Python API (issue 16, point 1): sg.derive, sg.latex and sg.compile name intermediates
after the caller's variables, as `symgrad derive` names them after the model file's."""
import sys

import numpy as np
import sympy as sp

import symgrad as sg
from symgrad.testing import relative_error

n, m = sp.symbols("n m", integer=True, positive=True)


def test_derive_latex_and_compile_use_the_callers_names():
    X, W = sg.Input("X", n, m), sg.Param("W", 1, n)
    hidden = sg.tanh(W @ X)
    cost = sg.mean(hidden ** 2)
    model = sg.Model("api", cost, [W], [X])
    derivation = sg.derive(model)
    assert type(derivation).__name__ == "Derivation"
    assert len(derivation.steps) == len(model.derivation().steps)
    text = sg.latex(model)
    assert text.startswith(r"\documentclass") and r"\mathit{hidden} &= \tanh" in text
    assert "hidden" in sg.latex(model, fmt="md")
    module = sg.compile(model)
    assert "hidden = np.tanh(" in sys.modules[module.__name__].__doc__ + _source(module)
    w0, x0 = np.array([[0.3, -0.2]]), np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 1.0]])
    value, (dW,) = module.value_and_grad(w0, x0)
    h = np.tanh(w0 @ x0)                      # by hand: d mean(h^2)/dW = mean(2 h (1 - h^2)) X^T
    assert relative_error(value, np.mean(h ** 2)) < 1e-14
    assert relative_error(dW, (2 * h * (1 - h ** 2)) @ x0.T / 3) < 1e-14


def test_the_module_symgrad_derive_is_still_importable_by_name():
    import importlib
    assert hasattr(importlib.import_module("symgrad.derive"), "Derivation")


def _source(module):
    import inspect
    return inspect.getsource(module)
