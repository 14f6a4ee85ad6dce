"""The Python API (issue 16, point 1): sg.derive, sg.latex and sg.compile name intermediates
after the caller's variables, as `symgrad derive` names them after the model file's."""
import sys

import numpy as np
import pytest
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


@pytest.mark.parametrize("returns", ["(dW1, db1, dW2)",
                                     "(dW1, np.repeat(db1, 3, axis=1), dW2, db2)",
                                     "(dW1, db1, dW2, db2.ravel())", "(dW1, db1, dW2, db2, dW2)"],
                         ids=["one missing", "wrong shape", "1-d", "one extra"])
def test_the_testing_helpers_refuse_a_module_with_the_wrong_gradients(example, returns):
    """assert_matches_model zipped the gradients with PARAMS (a missing or extra one passed)
    and compared them broadcasting (a (4, 3) db1 or a 1-d db2 passed); check_grads missed an
    extra one."""
    from symgrad.testing import assert_matches_model, check_grads, load_module
    model, _, source, _ = example("two_layer")
    body = "    return cost, (dW1, db1, dW2, db2)\n\n\ndef init"
    assert body in source
    module = load_module(source.replace(body, f"    return cost, {returns}\n\n\ndef init"),
                         "broken")
    for check in (lambda: assert_matches_model(model, module), lambda: check_grads(module)):
        with pytest.raises(AssertionError, match="gradients for the 4 parameters|has shape"):
            check()


def test_a_model_compiled_again_under_its_name_keeps_the_first_module_s_source():
    """sg.compile keyed linecache by the model's name alone: compiling a changed model of
    the same name made inspect.getsource (and tracebacks) of the first module show lines of
    the second."""
    import inspect
    n, m = sp.symbols("n m", integer=True, positive=True)
    X, Y, w = sg.Input("X", n, m), sg.Input("Y", 1, m), sg.Param("w", 1, n)
    first = sg.compile(sg.Model("lin", loss=sg.mse(w @ X, Y), params=[w], inputs=[X, Y]))
    before = inspect.getsource(first.loss)
    H, v = sg.Param("H", 3, n), sg.Param("v", 1, 3)
    sg.compile(sg.Model("lin", loss=sg.mse(v @ sg.tanh(H @ X), Y) + sg.l2(H, lam=0.1),
                        params=[H, v], inputs=[X, Y]))
    assert inspect.getsource(first.loss) == before and before.startswith("def loss(w, X, Y)")
