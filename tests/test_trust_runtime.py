"""Issue 14 at run time: generated code never aliases nor writes user data, checks and converts
its arguments, references only names that exist, keeps masks out of float buffers, and runs
for the models that used to derive into modules that crashed. Expected values come from hand
formulas, central differences of hand-written NumPy, math.erf or SymPy (sympy_reference)."""
import itertools
import math
import re

import numpy as np
import pytest
import sympy as sp
from helpers import compiled, module_args

import symgrad as sg
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.errors import SymgradError
from symgrad.printing.runtime import _erf
from symgrad.testing import (central_differences, default_dims, load_module, random_instance,
                             sympy_reference)

n, m, k = sp.symbols("n m k", integer=True, positive=True)
z = sp.Symbol("z", real=True)
W, X = sg.Param("W", n, m), sg.Input("X", n, m)
V, Y = sg.Param("V", k, n), sg.Input("Y", k, m)
s = sg.Param("s")


def _module(name, **kw):
    return compiled(sg.Model(name, **kw))


def _values(module, seed=0, dims=None):
    dims = dims or default_dims(module, seed)
    return random_instance(module, dims, seed)


def _call(module, function, values):
    f = getattr(module, function)
    code = f.__code__
    return f(*[values[a] for a in code.co_varnames[:code.co_argcount] if a != "mode"])


def _arrays_in(result):
    if isinstance(result, np.ndarray):
        return [result]
    if isinstance(result, dict):
        result = list(result.values())
    if isinstance(result, (tuple, list)):
        return [a for r in result for a in _arrays_in(r)]
    return []


# -- 1. no returned array is an input, a view of one, or shares memory with another ----------
ALIASING = {
    "hadamard": dict(loss=sg.sum(sp.HadamardProduct(W, X)), params=[W], inputs=[X]),
    "outputs": dict(loss=sg.sum(sp.HadamardProduct(W, X)), params=[W], inputs=[X],
                    outputs={"X": X, "XT": X.T, "W": W, "again": W}),
    "broadcast": dict(loss=sg.sum(s * (V @ X)), params=[s, V], inputs=[X], hessian=True),
    "jacobian": dict(loss=sg.sum(V @ X), params=[V], inputs=[X], outputs={"Z": V @ X},
                     jacobians={"dZ_dV": (V @ X, V), "dVT_dV": (V.T, V)}),
    "same_grads": dict(loss=sg.sum(W) + sg.sum(sg.Param("U", n, m)),
                       params=[W, sg.Param("U", n, m)]),
}


@pytest.mark.parametrize("name", ALIASING)
def test_returned_arrays_own_their_memory_and_inputs_are_untouched(name):
    module = _module(name, **ALIASING[name])
    values = _values(module)
    before = {k: np.copy(v) for k, v in values.items()}
    functions = [f for f in dir(module) if not f.startswith("_") and callable(
        getattr(module, f)) and f not in ("hessian_vector_product",)]
    assert "value_and_grad" in functions
    for function in functions:
        out = _arrays_in(module.init_params(default_dims(module, 0)) if function ==
                         "init_params" else _call(module, function, values))
        inputs = [v for v in values.values() if isinstance(v, np.ndarray)]
        for a in out:
            assert a.flags.writeable, function
            assert not any(np.shares_memory(a, x) for x in inputs), function
        for a, b in itertools.combinations(out, 2):
            assert not np.shares_memory(a, b), function
        for key, value in values.items():
            np.testing.assert_array_equal(value, before[key])


def test_hadamard_gradient_is_a_copy_of_x():
    module = _module("hadamard", **ALIASING["hadamard"])
    w, x = np.ones((2, 3)), np.arange(6.0).reshape(2, 3)
    loss, (dw,) = module.value_and_grad(w, x)
    assert loss == 15.0 and dw is not x
    np.testing.assert_array_equal(dw, x)          # d sum(W * X) / dW = X, by hand
    dw *= 0                                       # clipping the gradient in place ...
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(2, 3))   # ... leaves X alone


# -- 2. arguments checked and converted at entry ---------------------------------------------
def _logistic():
    w, x, y = sg.Param("w", n, 1), sg.Input("X", n, m), sg.Input("Y", 1, m)
    b = sg.Param("b")
    a = sg.sigmoid(w.T @ x + b)
    return _module("logistic", loss=sg.mean(sg.binary_cross_entropy(a, y)), params=[w, b],
                   inputs=[x, y], outputs={"A": a})


def _logistic_by_hand(w, b, x, y):
    zz = w.T @ x + b
    loss = np.mean(np.logaddexp(0, zz) - y * zz)
    d = (1 / (1 + np.exp(-zz)) - y) / x.shape[1]
    return loss, (x @ d.T, d.sum())


@pytest.fixture(scope="module")
def logistic():
    return _logistic()


def _logistic_args(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((3, 1)), 0.3, rng.standard_normal((3, 5)),
            (rng.uniform(size=(1, 5)) > 0.5).astype(float))


def test_one_dimensional_array_names_the_argument_and_both_shapes(logistic):
    w, b, x, y = _logistic_args()
    with pytest.raises(ValueError, match=re.escape(
            "X must be a matrix of shape (n, m), not an array of shape (15,)")):
        logistic.value_and_grad(w, b, x.ravel(), y)


@pytest.mark.parametrize("function", ["forward", "loss", "value_and_grad"])
def test_scalars_and_matrices_are_not_interchangeable(logistic, function):
    w, b, x, y = _logistic_args()
    args = dict(forward=(w, b, x), loss=(w, b, x, y), value_and_grad=(w, b, x, y))[function]
    with pytest.raises(ValueError, match="b must be a scalar, not an array of shape"):
        getattr(logistic, function)(w, np.full((1, 1), b), *args[2:])
    with pytest.raises(ValueError, match=re.escape("w must be a matrix of shape (n, 1), not")):
        getattr(logistic, function)(2.0, b, *args[2:])


def test_numpy_and_zero_d_scalars_are_accepted(logistic):
    w, b, x, y = _logistic_args()
    expected = _logistic_by_hand(w, b, x, y)[0]
    for scalar in (b, np.float64(b), np.array(b)):
        assert np.isclose(logistic.loss(w, scalar, x, y), expected, rtol=1e-13)


def test_integer_boolean_and_list_arguments_are_promoted_to_float64(logistic):
    w, b, x, y = _logistic_args()
    xi = np.round(3 * x).astype(np.int64)
    yb = y.astype(bool)
    loss, (dw, db) = logistic.value_and_grad(w.tolist(), 0, xi, yb)
    ref_loss, (ref_dw, ref_db) = _logistic_by_hand(w, 0.0, xi.astype(float), y)
    assert dw.dtype == np.float64
    assert np.isclose(loss, ref_loss, rtol=1e-13) and np.isclose(db, ref_db, rtol=1e-12)
    np.testing.assert_allclose(dw, ref_dw, rtol=1e-12)
    np.testing.assert_allclose(logistic.forward(w, b, xi.astype(np.int32))["A"],
                               1 / (1 + np.exp(-(w.T @ xi + b))), rtol=1e-14)


def test_complex_arguments_are_refused(logistic):
    w, b, x, y = _logistic_args()
    with pytest.raises(TypeError, match="X must hold real numbers, not complex128"):
        logistic.loss(w, b, x + 0j, y)
    with pytest.raises(TypeError, match="b must hold real numbers"):
        logistic.loss(w, 1j, x, y)


FLOAT32 = {
    "identity": dict(loss=sg.sum(sg.tanh(sg.Param("S", n, n) + sp.Identity(n)) @ X),
                     params=[sg.Param("S", n, n)], inputs=[X]),
    "log_of_dimension": dict(loss=sg.sum(V @ X) * sp.log(m) + sp.sqrt(n) * sg.sum(V),
                             params=[V], inputs=[X], outputs={"o": sg.sum(V) * sp.log(m)}),
    "logistic": None,
    "hessian": dict(loss=sg.sum(sg.tanh(s * (V @ X))), params=[s, V], inputs=[X],
                    hessian=True),
}


@pytest.mark.parametrize("name", FLOAT32)
def test_float32_in_float32_out(name):
    module = _logistic() if FLOAT32[name] is None else _module(name, **FLOAT32[name])
    values = {k: v.astype(np.float32) if isinstance(v, np.ndarray) else v
              for k, v in _values(module).items()}
    for function in ("forward", "loss", "value_and_grad", "hessian"):
        if hasattr(module, function):
            result = _call(module, function, values)
            scalars = [result] if function == "loss" else \
                [result[0], *result[1]] if function == "value_and_grad" else []
            for a in _arrays_in(result) + [x for x in scalars if isinstance(x, np.generic)]:
                assert a.dtype == np.float32, function


# -- 3. every emitted name resolves; erf is exact ---------------------------------------------
def test_erf_helper_matches_math_erf_to_1e_15_everywhere():
    x = np.concatenate([np.linspace(-30, 30, 120001), np.geomspace(1e-300, 30, 20001),
                        -np.geomspace(1e-300, 30, 20001), [0.0, 0.46875, 4.0, 26.5, np.inf]])
    for complement, reference in ((False, math.erf), (True, math.erfc)):
        expected = np.array([reference(v) for v in x])
        got = _erf(x, complement)
        normal = np.abs(expected) > np.finfo(float).tiny    # erfc underflows past 26.5
        relative = np.abs(got - expected)[normal] / np.abs(expected[normal])
        assert relative.max() <= 1e-15, (complement, x[normal][relative.argmax()])
        assert np.abs(got[~normal] - expected[~normal]).max(initial=0) <= 1e-307
    assert _erf(np.float32([0.5, -3.0])).dtype == np.float32


def test_exact_gelu_runs_and_matches_sympy():
    gelu = sp.Lambda(z, z * (1 + sp.erf(z / sp.sqrt(2))) / 2)
    cost = sg.mean((V @ X).applyfunc(gelu)) + sg.sum(X.applyfunc(sp.Lambda(z, sp.erfc(z))))
    model = sg.Model("gelu", loss=cost, params=[V], inputs=[X])
    source = module_source(derive(model))
    assert "math.erf(" not in source and "_erf(" in source
    module = load_module(source, "gelu")
    dims = default_dims(model)
    values = random_instance(model, dims, seed=1)
    loss, grads = module.value_and_grad(values["V"], values["X"])
    ref_loss, ref_grads = sympy_reference(model, dims, values)
    assert np.isclose(loss, ref_loss, rtol=1e-13)
    np.testing.assert_allclose(grads[0], ref_grads[0], rtol=1e-12)


@pytest.mark.parametrize("function", [sp.gamma, sp.loggamma, lambda x: sp.besselj(0, x),
                                      lambda x: sp.polygamma(1, x)])
def test_functions_numpy_lacks_are_refused_with_their_own_name(function):
    name = function(z).func.__name__
    cost = sg.sum((V @ X).applyfunc(sp.Lambda(z, function(z))))
    with pytest.raises(SymgradError, match=rf"^unsupported function {name} \(needed for "):
        module_source(derive(sg.Model("refused", loss=cost, params=[V], inputs=[X])))


# -- 4. no comparison or mask written into a float buffer -------------------------------------
def test_piecewise_elu_runs_and_matches_sympy():
    elu = sp.Lambda(z, sp.Piecewise((z, z > 0), (sp.exp(z) - 1, True)))
    model = sg.Model("elu", loss=sg.mean((V @ X).applyfunc(elu)), params=[V], inputs=[X])
    source = module_source(derive(model))
    assert not re.search(r"np\.(greater|less|equal|logical_\w+)\([^()]*, out=", source)
    module = load_module(source, "elu")
    dims = default_dims(model)
    values = random_instance(model, dims, seed=2)
    values["X"] -= 0.5                       # both branches taken
    loss, (dv,) = module.value_and_grad(values["V"], values["X"])
    ref_loss, (ref_dv,) = sympy_reference(model, dims, values)
    assert np.isclose(loss, ref_loss, rtol=1e-13)
    np.testing.assert_allclose(dv, ref_dv, rtol=1e-12)


# -- 5. models that derived into modules that could not run -----------------------------------
def test_loss_part_that_folds_to_a_constant():
    module = _module("constant_part", loss=sg.sum(W) + sg.mse(X, X), params=[W], inputs=[X])
    w, x = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    loss, (dw,) = module.value_and_grad(w, x)
    assert loss == 15.0                                # sum(W) + 0, by hand
    np.testing.assert_array_equal(dw, np.ones((2, 3)))


@pytest.mark.parametrize("constant,value", [
    (2 * sp.OneMatrix(n, n), lambda n: 2 * n),
    (sp.OneMatrix(n, 1) @ sp.OneMatrix(1, n), lambda n: n),
    (sp.Identity(n) + sp.OneMatrix(n, n), lambda n: 2 * n),
])
def test_trace_of_a_constant_matrix(constant, value):
    S = sg.Param("S", n, n)
    module = _module("trace", loss=sp.Trace(S) + sp.Trace(constant), params=[S])
    S0 = np.arange(16.0).reshape(4, 4)
    loss, (dS,) = module.value_and_grad(S0)
    assert loss == np.trace(S0) + value(4)
    np.testing.assert_array_equal(dS, np.eye(4))


def test_output_needing_a_dimension_of_an_input_the_loss_alone_reads():
    module = _module("dims", loss=sg.sum(V @ X) + sg.sum(Y), params=[V], inputs=[X, Y],
                     outputs={"o": sg.sum(V) * sp.log(m)})
    v, x = np.ones((2, 3)), np.ones((3, 7))
    assert np.isclose(module.forward(v, x)["o"], 6 * np.log(7), rtol=1e-15)


def test_hessian_with_a_scalar_parameter_times_a_matrix():
    module = _module("scaled", loss=sg.sum(sg.tanh(s * (V @ X))), params=[s, V], inputs=[X],
                     hessian=True)
    rng = np.random.default_rng(3)
    s0, v, x = 0.7, rng.standard_normal((2, 3)), rng.standard_normal((3, 4))

    def grad(theta):                        # d/ds, d/dV of sum(tanh(s V X)), by hand
        s, v_ = theta[0], theta[1:].reshape(2, 3)
        p = v_ @ x
        d = 1 - np.tanh(s * p) ** 2
        return np.concatenate([[np.sum(d * p)], (s * d @ x.T).ravel()])
    theta = np.concatenate([[s0], v.ravel()])
    np.testing.assert_allclose(module.hessian(s0, v, x), central_differences(grad, [theta], 0),
                               rtol=1e-6, atol=1e-8)


def test_nested_softplus_does_not_overflow():
    softplus = sp.Lambda(z, sp.log(1 + sp.exp(z)))
    module = _module("softplus2", loss=sg.sum(2 * X.applyfunc(softplus).applyfunc(softplus))
                     + sg.sum(W), params=[W], inputs=[X])
    x = np.array([[710.0, -710.0, 0.0]])
    # by hand: softplus(softplus(x)) = log(1 + 1 + e^x) = logaddexp(log 2, x)
    expected = 2 * np.sum(np.logaddexp(np.log(2), x)) + 3.0
    assert np.isclose(module.loss(np.ones((1, 3)), x), expected, rtol=1e-15)


def test_nested_softplus_gradient_is_finite():
    softplus = sp.Lambda(z, sp.log(1 + sp.exp(z)))
    module = _module("softplus2_grad", loss=sg.sum(2 * W.applyfunc(softplus).applyfunc(softplus)),
                     params=[W])
    w = np.array([[710.0, -710.0, 0.0, 3.0]])
    loss, (dw,) = module.value_and_grad(w)
    # by hand: d/dw 2 log(2 + e^w) = 2 e^w/(2 + e^w) = 2 sigmoid(w - log 2)
    assert np.isclose(loss, 2 * np.sum(np.logaddexp(np.log(2), w)), rtol=1e-15)
    exact = 2 / (1 + 2 * np.exp(-w.astype(np.longdouble)))     # e^-710 is no overflow there
    np.testing.assert_allclose(dw, exact.astype(np.float64), rtol=1e-15)


class _Subclass(np.ndarray):
    pass


def test_every_argument_is_checked_where_all_are_matrices(example):
    # the fast style checks "all float matrices" inline and calls _arrays only otherwise:
    # whichever argument is not one is converted or refused as _arrays does
    model, _, source, module = example("two_layer")
    assert "    if not (type(W1) is type(b1) is" in source
    args = [np.round(3 * a) for a in module_args(model, module)]     # integer-valued
    want_loss, want = module.value_and_grad(*args)
    for k, name in enumerate(module.PARAMS + module.INPUTS):
        for other in (args[k].astype(np.int64), args[k].tolist(), args[k].view(_Subclass)):
            given = args[:k] + [other] + args[k + 1:]
            loss, grads = module.value_and_grad(*given)
            assert loss == want_loss and all(map(np.array_equal, grads, want)), (name, other)
        for bad in (args[k][0], args[k][None]):
            with pytest.raises(ValueError, match=re.escape(f"{name} must be a matrix of shape")):
                module.value_and_grad(*args[:k], bad, *args[k + 1:])
        with pytest.raises(TypeError, match=f"{name} must hold real numbers, not complex128"):
            module.value_and_grad(*args[:k], args[k] + 0j, *args[k + 1:])
