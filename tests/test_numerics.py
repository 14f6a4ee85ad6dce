"""Finite results where the math is finite (NUMERICS.md), dtypes kept, subgradient conventions."""
import warnings

import numpy as np
import pytest
import sympy as sp
from helpers import compiled

import symgrad as sg
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.testing import load_module

m = sp.Symbol("m", integer=True, positive=True)
t = sp.Symbol("t", real=True)


def _module(loss, params, inputs=()):
    return compiled(sg.Model("num", loss, params, list(inputs)))


def _bce_helpers():
    Z, Y = sg.Param("Z", 1, m), sg.Input("Y", 1, m)
    return _module(sg.mean(sg.binary_cross_entropy(sg.sigmoid(Z), Y)), [Z], [Y])


def _bce_plain_sympy():
    Z, Y = sp.MatrixSymbol("Z", 1, m), sp.MatrixSymbol("Y", 1, m)
    one = sp.OneMatrix(1, m)
    A = Z.applyfunc(sp.Lambda(t, 1 / (1 + sp.exp(-t))))
    cost = -(1 / m) * (Y * A.applyfunc(sp.log).T + (one - Y) * (one - A).applyfunc(sp.log).T)
    return _module(cost, [Z], [Y])


@pytest.mark.parametrize("build", [_bce_helpers, _bce_plain_sympy])
def test_sigmoid_bce_is_finite_at_extreme_logits(build):
    module = build()
    z = np.array([[-1000.0, 1000.0, 40.0, -40.0, 0.0]])
    y = np.array([[1.0, 0.0, 1.0, 0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # exp(1000) = inf is the exact limit: no warning
        loss, (dz,) = module.value_and_grad(z, y)
    # hand-derived: BCE on logits is softplus(z) - y z; its gradient is (sigmoid(z) - y)/m
    softplus = np.logaddexp(0, z)
    assert np.isclose(loss, np.mean(softplus - y * z), rtol=1e-12)
    assert np.allclose(dz, (1 / (1 + np.exp(-np.clip(z, -700, 700))) - y) / 5, atol=1e-15)


def _bce_logits():
    Z, Y = sg.Param("Z", 1, m), sg.Input("Y", 1, m)
    return _module(sg.bce_with_logits(Z, Y), [Z], [Y])


@pytest.mark.parametrize("build", [_bce_helpers, _bce_plain_sympy, _bce_logits])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-14), (np.float32, 1e-6)])
def test_bce_keeps_its_digits_where_the_model_is_confident_and_right(build, dtype, rtol):
    # softplus(z) - y*z, as one logaddexp minus a product, cancels for z >> 0 with y = 1:
    # softplus(z) rounds to z (float32 from z = 15, float64 from 37) and the loss to 0.
    # Expected: mpmath at 50 digits of the entries' y*softplus(-z) + (1 - y)*softplus(z).
    import mpmath
    mpmath.mp.dps = 50
    module = build()
    z = np.array([[5.0, 15.0, 30.0, 40.0, -20.0, -38.0, 12.5, -0.5]], dtype)
    y = np.array([[1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.75, 0.25]], dtype)

    def softplus(x):
        return mpmath.log1p(mpmath.exp(mpmath.mpf(float(x))))
    for k in range(z.shape[1]):                     # one example each: its own digits
        a, b = z[:, k:k + 1], y[:, k:k + 1]
        exact = float(b[0, 0]) * softplus(-a[0, 0]) + (1 - float(b[0, 0])) * softplus(a[0, 0])
        for loss in (module.loss(a, b), module.value_and_grad(a, b)[0]):
            assert np.asarray(loss).dtype == dtype
            assert abs(float(loss) / float(exact) - 1) < rtol, (k, float(loss), float(exact))


# Binary cross-entropy as a model may spell it: the sigmoid (f is sg, or mpmath for the
# reference) and the cost; every spelling is the same function, and should be as accurate
SIGMOIDS = {
    "sigmoid": lambda z, f: f.sigmoid(z),
    "1/(1 + exp(-z))": lambda z, f: 1 / (1 + f.exp(-z)),
    "exp(z)/(1 + exp(z))": lambda z, f: f.exp(z) / (1 + f.exp(z)),
    "exp(z)/(exp(z) + 1)": lambda z, f: f.exp(z) / (f.exp(z) + 1),
    "0.5*(1 + tanh(z/2))": lambda z, f: 0.5 * (1 + f.tanh(z / 2)),
    "(1 + tanh(z/2))/2": lambda z, f: (1 + f.tanh(z / 2)) / 2,
}
COSTS = {
    "helper": lambda a, y: sg.binary_cross_entropy(a, y),
    "-mean": lambda a, y: -sg.mean(y * sg.log(a) + (1 - y) * sg.log(1 - a)),
    "-sum/m": lambda a, y: -sg.sum(y * sg.log(a) + (1 - y) * sg.log(1 - a)) / m,
    "course notes": lambda a, y: -(1 / m) * (y @ sg.log(a).T + (1 - y) @ sg.log(1 - a).T),
}
SPELLINGS = [(s, "-mean") for s in SIGMOIDS] + [("sigmoid", c) for c in COSTS if c != "-mean"]
_spelt_modules = {}


def _spelt_module(sigmoid, cost):
    if (sigmoid, cost) not in _spelt_modules:
        W, X, Y = sg.Param("W", 1, 1), sg.Input("X", 1, m), sg.Input("Y", 1, m)
        A = SIGMOIDS[sigmoid](W @ X, sg)
        _spelt_modules[sigmoid, cost] = _module(COSTS[cost](A, Y), [W], [X, Y])
    return _spelt_modules[sigmoid, cost]


@pytest.mark.parametrize("sigmoid,cost", SPELLINGS)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-14), (np.float32, 1e-6)])
def test_bce_however_spelt_keeps_its_digits_and_its_gradient(sigmoid, cost, dtype, rtol):
    # -(y log a + (1 - y) log(1 - a)), a = sigmoid(z) however written, one example at a time:
    # a hand-written cost came out as y*z - softplus(z), which cancels to 0 for confident
    # right logits; exp(z)/(1 + exp(z)) and (1 + tanh(z/2))/2 as written are 1 or 0 for
    # large |z|, and their logs nan or inf (or a gradient of 0 where it is 1). Expected: the
    # model's own formula and its derivative in mpmath at 400 digits (1 - a at z = 800).
    import mpmath
    module = _spelt_module(sigmoid, cost)
    z = [5.0, 15.0, 30.0, 40.0, -20.0, -38.0, 12.5, -0.5, 30.0, -30.0, 800.0, -800.0]
    y = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.75, 0.25, 0.0, 1.0, 0.0, 1.0]
    one = np.ones((1, 1), dtype)
    with mpmath.workdps(400):
        for zk, yk in zip(z, y):
            def bce(w, yk=yk):
                a = SIGMOIDS[sigmoid](w, mpmath)
                return -(yk * mpmath.log(a) + (1 - yk) * mpmath.log(1 - a))
            exact, slope = bce(mpmath.mpf(zk)), mpmath.diff(bce, mpmath.mpf(zk))
            loss, (dw,) = module.value_and_grad(zk * one, one, yk * one)
            for value in (module.loss(zk * one, one, yk * one), loss):
                assert np.asarray(value).dtype == dtype
                assert abs(float(np.ravel(value)[0]) / float(exact) - 1) < rtol, (zk, yk, value)
            assert dw.dtype == dtype        # sigmoid(z) - y: within an ulp of 1 absolutely
            assert abs(float(dw[0, 0]) - float(slope)) <= rtol * abs(float(slope)) \
                + np.finfo(dtype).eps, (zk, yk, dw, float(slope))


@pytest.mark.parametrize("helper,reference", [
    (sg.softplus, lambda z: np.logaddexp(0, z)),
    (sg.tanh, np.tanh),
    (sg.sigmoid, lambda z: 0.5 * (1 + np.tanh(z / 2))),
])
def test_activations_finite_at_extremes(helper, reference):
    Z = sg.Param("Z", 1, m)
    module = _module(sg.sum(helper(Z)), [Z])
    z = np.array([[-1000.0, -40.0, 0.0, 40.0, 1000.0]])
    loss, (dz,) = module.value_and_grad(z)
    assert np.isfinite(loss) and np.all(np.isfinite(dz))
    assert np.isclose(loss, np.sum(reference(z)), rtol=1e-12)


GELU_U = sp.sqrt(2 / sp.pi) * (t + sp.Rational("0.044715") * t**3)


@pytest.mark.parametrize("activation", [
    sp.Lambda(t, 1 / (1 + sp.exp(-t))),                     # sigmoid
    sp.Lambda(t, t / 2 * (1 + sp.tanh(GELU_U))),            # tanh-GELU
], ids=["sigmoid", "gelu"])
def test_sigmoid_and_gelu_keep_relative_accuracy_in_the_far_tail(activation):
    # 0.5 + 0.5*tanh(z/2) and z*(1 + tanh(u))/2 cancel to a few correct digits, or to 0,
    # for very negative z, where the values and slopes are tiny but representable.
    # Reference: the same formula and its derivative in 1000-digit arithmetic (mpmath),
    # enough for 1 + tanh(u) to keep its digits down to u = -1000.
    import mpmath
    Z = sg.Param("Z", 1, m)
    A = Z.applyfunc(activation)
    module = load_module(module_source(derive(sg.Model("tail", sg.sum(A), [Z], outputs={"A": A}))))
    # (the slope s*(1 - s) still rounds to 0 in the far positive tail, as 1 - tanh**2 did)
    z = np.array([[-30.0, -12.0, -6.0, -1e-8, 0.0, 2.0, 5.0]])
    f = sp.lambdify(t, activation(t), "mpmath")
    with mpmath.workdps(1000):
        value = np.array([[float(f(mpmath.mpf(v))) for v in z[0]]])
        slope = np.array([[float(mpmath.diff(f, mpmath.mpf(v))) for v in z[0]]])
    np.testing.assert_allclose(module.forward(z)["A"], value, rtol=1e-13)
    np.testing.assert_allclose(module.value_and_grad(z)[1][0], slope, rtol=1e-12)


def test_log_softmax_cross_entropy_finite_at_extremes():
    k = sp.Symbol("k", integer=True, positive=True)
    Z, Y = sg.Param("Z", k, m), sg.Input("Y", k, m)
    module = _module(-sg.sum(sp.HadamardProduct(Y, sg.log_softmax(Z))), [Z], [Y])
    z = np.array([[1000.0, -1000.0], [0.0, 1000.0], [-1000.0, 0.0]])
    y = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    loss, (dz,) = module.value_and_grad(z, y)
    assert np.isclose(loss, 1000.0 + 1000.0)          # -log softmax at the true class
    p = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])  # softmax, rounded
    assert np.allclose(dz, p - y)


def test_column_sum_of_exp_is_stable_however_the_exponent_was_fused():
    """SymPy's * fuses 3*(W @ X) into the exp (one elementwise function of W @ X): the sum
    over each column must still be exp(logsumexp), not an exp that overflows."""
    k = sp.Symbol("k", integer=True, positive=True)
    W, X = sg.Param("W", k, 2), sg.Input("X", 2, m)
    module = _module(sg.sum(sg.log(sp.OneMatrix(1, k) @ sg.exp(3 * (W @ X)))), [W], [X])
    w = np.array([[100.0, 0.0], [0.0, 100.0], [50.0, 50.0]])
    x = np.array([[2.0, -1.0], [1.0, 3.0]])
    z = 3 * (w @ x)                                   # up to 1200: exp overflows
    top = z.max(axis=0)
    softmax = np.exp(z - top) / np.exp(z - top).sum(axis=0)
    loss, (dw,) = module.value_and_grad(w, x)
    assert np.isclose(loss, np.sum(top + np.log(np.exp(z - top).sum(axis=0))))
    assert np.allclose(dw, (3 * softmax) @ x.T)


@pytest.mark.parametrize("build", [
    lambda Z: sg.relu(Z),
    lambda Z: Z.applyfunc(sp.Lambda(t, sp.Max(t, 0))),
    lambda Z: Z.applyfunc(sp.Abs),
    lambda Z: sg.maximum(Z, 0),          # np.maximum(Z, 0), the course's NumPy ReLU
    lambda Z: sg.maximum(0, Z),
    lambda Z: -sg.minimum(-Z, 0),
], ids=["relu", "Max", "Abs", "maximum(Z, 0)", "maximum(0, Z)", "-minimum(-Z, 0)"])
def test_subgradient_at_zero_is_zero(build):
    Z = sg.Param("Z", 1, m)
    module = _module(sg.sum(build(Z)), [Z])
    _, (dz,) = module.value_and_grad(np.array([[-2.0, 0.0, 3.0]]))
    assert dz[0, 1] == 0.0
    assert dz[0, 2] == 1.0


@pytest.mark.parametrize("stem", ["two_layer", "softmax_classifier", "custom_activation",
                                  "deep_relu", "logistic_regression", "cs231n_softmax"])
def test_float32_in_gives_float32_out(example, stem):
    from symgrad.testing import default_dims, random_instance
    model, _, _, module = example(stem)
    values = random_instance(model, default_dims(model), dtype=np.float32)
    args = [values[n] for n in module.PARAMS + module.INPUTS]
    _, grads = module.value_and_grad(*args)
    for name, g in zip(module.PARAMS, grads):
        if np.ndim(values[name]):
            assert g.dtype == np.float32, name
    for name, value in module.forward(*[values[n] for n in module.forward.__code__.co_varnames[
            :module.forward.__code__.co_argcount]]).items():
        assert value.dtype == np.float32, name


k = sp.Symbol("k", integer=True, positive=True)


def _log_softmax_mean(form):
    """-mean(log_softmax(W @ X)*Y) over every entry (or kl_div's "mean")."""
    n = sp.Symbol("n", integer=True, positive=True)
    W, X, Y = sg.Param("W", k, n), sg.Input("X", n, m), sg.Input("Y", k, m)
    Z = W @ X
    if form == "helper":
        cost = -sg.mean(sg.log_softmax(Z) * Y)
    elif form == "by hand":
        cost = -sg.mean((Z - sg.logsumexp(Z, axis=0)) * Y)
    else:
        cost = sg.kl_div(sg.log_softmax(Z), Y)
    return _module(cost, [W], [X, Y])


@pytest.mark.parametrize("form", ["helper", "by hand", "kl_div"])
@pytest.mark.parametrize("dtype, scale", [(np.float64, 1000.0), (np.float32, 100.0)])
def test_log_softmax_averaged_over_every_entry_has_a_finite_gradient(form, dtype, scale):
    # dZ = (softmax(Z)*sum(Y) - Y)/(k*m): simplify once expanded exp(Z - t) into
    # exp(Z)*exp(-t), which overflowed (inf*0, inf - inf: NaN) past z = 709 (88 in float32).
    # X = I, so Z = W and dW = dZ. Expected: the formula by hand, the softmax shifted.
    module = _log_softmax_mean(form)
    rng = np.random.default_rng(5)
    w = (rng.uniform(-1, 1, (4, 3)) * scale).astype(dtype)
    w[1] = scale                                      # exp(scale) overflows: inf
    x, y = np.eye(3, dtype=dtype), rng.dirichlet(np.ones(4), 3).T.astype(dtype)
    with np.errstate(all="ignore"):
        _, (dw,) = module.value_and_grad(w, x, y)
    e = np.exp(w.astype(np.float64) - w.max(axis=0))
    want = (e / e.sum(axis=0) * y.sum(axis=0) - y) / w.size
    assert dw.dtype == dtype and np.all(np.isfinite(dw)), dw
    np.testing.assert_allclose(dw, want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-7 if dtype == np.float32 else 1e-15)


def _cross_entropies():
    """One-hot cross-entropy on columns of logits (with the softmax and log-softmax as
    outputs), and on rows with integer labels, as cs231n writes it."""
    k, n = sp.symbols("k n", integer=True, positive=True)
    Z, Y = sg.Param("Z", k, m), sg.Input("Y", k, m)
    columns = sg.Model("ce_columns", sg.cross_entropy(Z, Y), [Z], [Y],
                       outputs={"P": sg.softmax(Z), "L": sg.log_softmax(Z)})
    S, y = sg.Param("S", m, k), sg.Labels("y", m)
    rows = sg.Model("ce_rows", sg.cross_entropy(S, y, axis=1), [S], [y],
                    outputs={"P": sg.softmax(S, axis=1)})
    T = sg.Input("T", m, k)                                 # one-hot rows, logit columns
    transposed = sg.Model("ce_transposed", sg.cross_entropy(Z.T, T, axis=1), [Z], [T],
                          outputs={"P": sg.softmax(Z.T, axis=1)})
    return columns, rows, transposed


@pytest.mark.parametrize("style,target", [("fast", "numpy"), ("plain", "numpy"),
                                          ("plain", "array-api")])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 2e-2)])
def test_cross_entropy_keeps_its_digits_where_the_model_is_confident_and_right(
        style, target, dtype, rtol):
    # logsumexp(z) - z[label] as (c + log(s)) - z[label], c = max(z), cancels where the label
    # is the max: float32 logits (200, 188) gave 0 for log(1 + exp(-12)) = 6.1e-6 (float64:
    # 2e-9 off). As (z[label] - c) - log(s), only log(s) = log(1 + 6.1e-6) rounds: float32
    # keeps 2 digits (PyTorch's cross_entropy: 8.9e-3 off), float64 10. Expected: mpmath.
    import mpmath
    mpmath.mp.dps = 50
    columns, rows, transposed = _cross_entropies()
    cases = [((200.0, 188.0), 0), ((20.0, 8.0), 0), ((-3.0, 1.0), 1), ((1.0, 1.0, -30.0), 1)]
    for model in (columns, rows, transposed):
        module = load_module(module_source(derive(model), style, target), model.name)
        for logits, label in cases:
            z = np.array([logits], dtype).T                   # one example, a column
            terms = [mpmath.exp(mpmath.mpf(x)) for x in logits]
            exact = mpmath.log(sum(terms)) - logits[label]
            probs = [float(t / sum(terms)) for t in terms]
            if model is columns:
                y = np.eye(len(logits), dtype=dtype)[:, [label]]
                out = module.forward(z)
                log_probs = [float(mpmath.log(t / sum(terms))) for t in terms]
                assert np.allclose(out["L"][:, 0], log_probs, rtol=rtol, atol=0)
                got_probs = out["P"][:, 0]
            elif model is rows:
                z, y = z.T, np.array([label])
                got_probs = module.forward(z)["P"][0]
            else:
                y = np.eye(len(logits), dtype=dtype)[[label], :]
                got_probs = module.forward(z)["P"][0]
            assert np.allclose(got_probs, probs, rtol=1e-6 if dtype == np.float32 else 1e-13)
            for loss in (module.loss(z, y), module.value_and_grad(z, y)[0]):
                assert np.asarray(loss).dtype == dtype
                assert abs(float(loss) / float(exact) - 1) < rtol, (
                    model.name, logits, float(loss), float(exact))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softsign_gradient_does_not_cancel_for_large_inputs(dtype):
    # d/dz z/(1 + |z|) = 1/(1 + |z|)**2 (hand-derived); as SymPy writes it, 1/(1 + |z|) -
    # z*sign(z)/(1 + |z|)**2, the two terms cancel: 0 at z = 1e18, 2e-8 off at 1e8
    z = np.array([[-1e18, -1e8, -1e4, -3.0, 0.0, 0.5, 1e4, 1e8, 1e18]], dtype)
    Z = sg.Param("Z", 1, m)
    module = _module(sg.sum(sg.softsign(Z)), [Z])
    _, (dz,) = module.value_and_grad(z)
    want = 1 / (1 + np.abs(z.astype(np.float64))) ** 2
    assert dz.dtype == dtype
    np.testing.assert_allclose(dz, want, rtol=4 * np.finfo(dtype).eps)


def test_log_of_one_plus_tanh_is_finite_far_below_zero():
    # 1 + tanh(u) = 2 sigmoid(2u), and log(2 sigmoid(2u)) = log 2 - softplus(-2u): finite at
    # u = -400, where 1 + tanh(u) and sigmoid(2u) round to 0. Expected: mpmath, 400 digits.
    import mpmath
    Z = sg.Param("Z", 1, m)
    module = _module(sg.sum(sg.log(1 + sg.tanh(Z))), [Z])
    z = np.array([[-400.0, -20.0, -1.0, 0.0, 3.0, 30.0]])
    with mpmath.workdps(400):
        exact = float(sum(mpmath.log(1 + mpmath.tanh(mpmath.mpf(v))) for v in z[0]))
    assert abs(module.loss(z) / exact - 1) < 1e-14


@pytest.mark.parametrize("style, target", [("fast", "numpy"), ("plain", "numpy"),
                                           ("plain", "array-api")])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_sigmoid_gradient_keeps_its_digits_far_above_zero(style, target, dtype):
    # d/dz log(sigmoid(z)) = sigmoid(-z) = 1/(1 + exp(z)) (hand-derived): 1 - sigmoid(z),
    # as simplify writes it, rounds to 0 from z = 37 (float64) and 17 (float32); so does
    # the value of a model that writes 1 - sigmoid(z) itself
    Z = sg.Param("Z", 1, m)
    z = np.array([[-30.0, -1.0, 0.0, 2.0, 20.0, 40.0, 80.0]], dtype)
    want = 1 / (1 + np.exp(z.astype(np.float64)))
    for cost, log in ((sg.sum(sg.log(sg.sigmoid(Z))), True), (sg.sum(1 - sg.sigmoid(Z)), False)):
        source = module_source(derive(sg.Model("logsig", cost, [Z])), style, target)
        module = load_module(source, "logsig")
        if log:
            _, (dz,) = module.value_and_grad(z)
            assert dz.dtype == dtype
            np.testing.assert_allclose(dz, want, rtol=8 * np.finfo(dtype).eps)
        else:           # far above zero, where 1 - sigmoid(z) is all cancellation
            far = module.loss(z[:, 4:])
            assert abs(float(far) / want[:, 4:].sum() - 1) < 8 * np.finfo(dtype).eps


@pytest.mark.parametrize("style", ["fast", "plain"])
def test_a_sum_of_exponentials_that_is_only_added_is_a_plain_sum(style):
    """sum(exp(U)) is computed as the sum of the exponentials, not as exp(logsumexp(U)):
    that form was NaN for a row whose exponents are all -inf (exp(-Z**2) with Z**2
    overflowing in float32: 0 terms), and lost ~700 ulp to exp(c + log(...)) at U = -700.
    A log or a division of the sum still takes the stable log-sum-exp. Expected: the
    hand-derived sum(exp(-Z**2)) and -2 Z exp(-Z**2), from NumPy's own exp; mpmath."""
    import mpmath
    n = sp.Symbol("n", integer=True, positive=True)
    Z = sg.Param("Z", n, m)
    source = module_source(derive(sg.Model("g", sg.sum(sg.exp(-Z**2)), [Z])), style=style)
    module = load_module(source, f"gauss_{style}")
    assert "logsumexp" not in source.split("def value_and_grad")[1]
    z = np.array([[1e20, -2e20], [0.5, 1.0]], np.float32)
    with np.errstate(over="ignore"):
        want = np.exp(-z.astype(np.float64) ** 2)
    with np.errstate(over="ignore"):                     # Z**2 = inf, as in NumPy
        loss, (dz,) = module.value_and_grad(z)
    assert loss.dtype == dz.dtype == np.float32 and np.isfinite(loss) and np.isfinite(dz).all()
    np.testing.assert_allclose(loss, want.sum(), rtol=1e-6)
    np.testing.assert_allclose(dz, -2 * z * want, rtol=1e-6, atol=1e-30)
    mpmath.mp.dps = 50
    u = np.array([[-700.1, -699.3, -698.7]])
    E = sg.Param("E", 1, m)
    plain = load_module(module_source(derive(sg.Model("e", sg.sum(sg.exp(E)), [E])),
                                      style=style), f"sumexp_{style}")
    loss, (du,) = plain.value_and_grad(u)
    exact = float(mpmath.fsum(mpmath.exp(mpmath.mpf(float(x))) for x in u.ravel()))
    assert abs(loss / exact - 1) < 4e-16
    np.testing.assert_allclose(du, np.exp(u), rtol=4e-16)


@pytest.mark.parametrize("style", ["fast", "plain"])
@pytest.mark.parametrize("case", ["mean(relu)", "mean(hardtanh)", "sum(relu)*log(n)"])
def test_a_mask_scaled_by_dimensions_keeps_float32(style, case):
    """d mean(relu(A)) = (A > 0)/(m n): a boolean mask times a float is float64; the gradient
    must stay float32. Expected: the hand-derived masks over the constants."""
    n = sp.Symbol("n", integer=True, positive=True)
    A = sg.Param("A", n, m)
    loss = {"mean(relu)": sg.mean(sg.relu(A)), "mean(hardtanh)": sg.mean(sg.hardtanh(A)),
            "sum(relu)*log(n)": sg.sum(sg.relu(A)) * sp.log(n)}[case]
    module = load_module(module_source(derive(sg.Model("mask", loss, [A])), style=style),
                         "mask_" + style)
    a = np.array([[-2.0, 0.0, 0.5], [1.5, -0.25, 3.0]], np.float32)
    _, (da,) = module.value_and_grad(a)
    want = {"mean(relu)": (a > 0) / 6, "mean(hardtanh)": ((a > -1) & (a < 1)) / 6,
            "sum(relu)*log(n)": (a > 0) * np.log(2)}[case]
    assert da.dtype == np.float32
    np.testing.assert_allclose(da, want, rtol=1e-6)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_a_norm_s_gradient_at_zero_is_zero(axis):
    """sg.norm at a zero column (a bias started at 0): x/|x| was 0/0 = NaN, and it spread
    through every gradient that read it. The subgradient 0, as |x|'(0) and as
    torch.linalg.norm's; elsewhere x/|x|, by hand."""
    n = sp.Symbol("n", integer=True, positive=True)
    Z = sg.Param("Z", n, m)
    module = _module(sg.sum(sg.norm(Z, axis=axis)), [Z])
    z = np.array([[0.0, 3.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 0.0]]) * (axis is not None)
    with np.errstate(divide="ignore", invalid="ignore"):   # the branch np.where drops
        value, (dz,) = module.value_and_grad(z)
    norms = np.linalg.norm(z, axis=axis, keepdims=True)
    assert np.isclose(value, norms.sum())
    np.testing.assert_allclose(dz, np.divide(z, norms, out=np.zeros_like(z), where=norms > 0))
    assert "sqrt" in sg.Model("n", sg.sum(sg.norm(Z, axis=axis)), [Z]).derivation().latex()


def test_a_model_of_scalars_keeps_float32_and_gives_floats_for_numbers(example):
    """J = 3(a + b c) of np.float32 arguments: every result was float(...), a Python float
    (float64). Now their type: np.float32 for np.float32, a float for Python numbers. By
    hand: J = 33, dJ/da = 3, dJ/db = 3c = 6, dJ/dc = 3b = 9 at a, b, c = 5, 3, 2."""
    *_, module = example("graph")
    for kind, args in [(np.float32, [np.float32(v) for v in (5, 3, 2)]), (float, [5, 3, 2])]:
        value, grads = module.value_and_grad(*args)
        assert (value, grads) == (33, (3, 6, 9))
        assert all(type(x) is kind for x in (value, *grads, module.loss(*args))), kind


def _lse(z, axis=0):
    top = z.max(axis=axis, keepdims=True)
    return top + np.log(np.exp(z - top).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("case", ["log(sqrt(sum))", "sum/sum"])
def test_a_sum_of_exponentials_under_a_log_or_a_division_is_stable_through_maps(case):
    """A sum of exponentials is exp(logsumexp) where a log or a division reaches it, also
    through the maps between (a sqrt) and where it divides another: at logits of 1000 these
    were inf or NaN once the sum stayed a sum when only added. Expected: the same formulas
    by hand with logsumexp (max subtracted), in NumPy."""
    k = sp.Symbol("k", integer=True, positive=True)
    Z = sg.Param("Z", k, m)
    S = sg.sum(sg.exp(Z), axis=0, keepdims=True)
    loss = {"log(sqrt(sum))": sg.sum(sg.log(sg.sqrt(S))),
            "sum/sum": sg.sum(S / sg.sum(sg.exp(2 * Z), axis=0, keepdims=True))}[case]
    module = _module(loss, [Z])
    z = np.array([[1000.0, -3.0], [999.0, 2.0], [-1000.0, 1.0]])
    L, L2 = _lse(z), _lse(2 * z)
    want = {"log(sqrt(sum))": (L / 2).sum(), "sum/sum": np.exp(L - L2).sum()}[case]
    with np.errstate(over="ignore", under="ignore"):
        value, (dz,) = module.value_and_grad(z)
    assert np.isfinite(value) and np.isfinite(dz).all()
    np.testing.assert_allclose(value, want, rtol=1e-12)


def _steps_model(at_zero=1):
    """sum(Z*H(Z, at_zero)) + 3 sum(Z*H(Z)), with the steps H(Z, at_zero), H(Z) (SymPy's
    default 1/2, symgrad's 0) and H(Z, 0) as outputs."""
    Z = sg.Param("Z", 1, m)

    def step(*h0):
        return Z.applyfunc(sp.Lambda(t, sp.Heaviside(t, *h0)))
    loss = sg.sum(Z.applyfunc(sp.Lambda(t, t * sp.Heaviside(t, at_zero)))) \
        + 3 * sg.sum(Z.applyfunc(sp.Lambda(t, t * sp.Heaviside(t))))
    return sg.Model("steps", loss, [Z], outputs={"H1": step(at_zero), "H": step(),
                                                 "H0": step(0)})


@pytest.mark.parametrize("style, target", [("fast", "numpy"), ("plain", "numpy"),
                                           ("plain", "array-api")])
def test_an_explicit_heaviside_at_zero_of_one_is_honoured(style, target):
    """Heaviside(t, 1) is 1 at t = 0 exactly (it was printed Z > 0, giving 0); Heaviside(t) and
    Heaviside(t, 0) stay 0 there (SymPy's default 1/2 is symgrad's 0, as relu'(0)). By hand:
    d/dz (z H(z, 1) + 3 z H(z)) = H(z, 1) + 3 H(z), the deltas times z being 0."""
    model = _steps_model()
    source = module_source(derive(model), style, target)
    module = load_module(source, f"steps_{style}_{target.replace('-', '_')}")
    z = np.array([[-2.0, 0.0, 3.0]])
    out = module.forward(z)
    assert np.asarray(out["H1"]).tolist() == [[0.0, 1.0, 1.0]]
    assert np.asarray(out["H"]).tolist() == [[0.0, 0.0, 1.0]]
    assert np.asarray(out["H0"]).tolist() == [[0.0, 0.0, 1.0]]
    loss, (dz,) = module.value_and_grad(z)
    assert loss == 3.0 + 9.0
    assert np.asarray(dz).tolist() == [[0.0, 1.0, 4.0]]
    assert "(Z >= 0)" in source and "(Z > 0)" in source          # the docstrings' math


def test_the_graph_evaluator_takes_an_explicit_heaviside_at_zero_of_one_too():
    """The evaluator that certification compares modules with (symgrad/evaluate.py)."""
    from symgrad.evaluate import evaluate
    d = derive(_steps_model())
    z, dims = np.array([[-2.0, 0.0, 3.0]]), {"m": 3}
    assert evaluate(d.outputs["H1"], {"Z": z}, dims).tolist() == [[0.0, 1.0, 1.0]]
    assert evaluate(d.outputs["H"], {"Z": z}, dims).tolist() == [[0.0, 0.0, 1.0]]
    assert evaluate(d.grads[0], {"Z": z}, dims).tolist() == [[0.0, 1.0, 4.0]]


def test_the_latex_of_heaviside_one_is_the_indicator_of_z_at_least_zero():
    tex = sg.latex(_steps_model())
    assert r"\mathbf{1}\left[Z \geq 0\right]" in tex
    assert r"\mathbf{1}\left[Z > 0\right]" in tex


@pytest.mark.parametrize("at_zero", [0.3, sp.Rational(1, 4)])
def test_a_heaviside_at_zero_symgrad_cannot_compute_is_refused_in_one_line(at_zero):
    with pytest.raises(sg.SymgradError, match=r"asks for H\(0\) = (0\.3|1/4): symgrad computes "
                       r"H\(0\) = 0 .* or an explicit 1") as info:
        derive(_steps_model(at_zero))
    assert "\n" not in str(info.value)


def _mp_logsumexp(values):
    import mpmath
    return mpmath.log(sum(mpmath.exp(mpmath.mpf(float(v))) for v in values))


@pytest.mark.parametrize("style, target", [("fast", "numpy"), ("plain", "numpy"),
                                           ("plain", "array-api")])
@pytest.mark.parametrize("keepdims", [False, True])
def test_a_logsumexp_per_row_without_keepdims_is_stable(style, target, keepdims):
    # cs231n's rows of logits: log(sum(exp(Z), axis=1)) without keepdims is a (1, m) row, a
    # transpose of the column of sums, which hid the logsumexp: exp(800) overflowed (loss
    # inf, gradient NaN). Expected: mpmath, the softmax of each row for the gradient.
    import mpmath
    mpmath.mp.dps = 50
    k = sp.Symbol("k", integer=True, positive=True)
    Z, Y = sg.Param("Z", m, k), sg.Input("Y", m, k)
    cost = sg.mean(sg.log(sg.sum(sg.exp(Z), axis=1, keepdims=keepdims))) - sg.sum(Y * Z) / m
    module = load_module(module_source(derive(sg.Model("lse_rows", cost, [Z], [Y])), style,
                                       target), "lse_rows")
    z = np.array([[800.0, 0.0, 0.0], [1.0, 2.0, 3.0], [-750.0, 0.0, 795.0]])
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    lse = [_mp_logsumexp(row) for row in z]
    want = float(sum(lse) / 3 - sum(mpmath.mpf(v) for v in (y * z).ravel()) / 3)
    softmax = np.array([[float(mpmath.exp(v - lse[i])) for v in row] for i, row in enumerate(z)])
    with np.errstate(over="raise", invalid="raise"):
        loss, (dz,) = module.value_and_grad(z, y)
    np.testing.assert_allclose(float(loss), want, rtol=1e-14)
    np.testing.assert_allclose(dz, (softmax - y) / 3, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("style, target", [("fast", "numpy"), ("plain", "numpy"),
                                           ("plain", "array-api")])
@pytest.mark.parametrize("form", ["logsumexp", "softmax"])
def test_a_logsumexp_and_a_softmax_over_every_entry_are_stable(style, target, form):
    # log(sum(exp(Z))) and exp(Z)/sum(exp(Z)) over all the entries (no axis) took no maximum:
    # exp(710) overflowed (loss inf or NaN, gradient NaN). Expected: mpmath; the gradient
    # by hand, softmax(Z) - Y/m and (softmax(Z)*sum(Y) - Y)/m, softmax over every entry.
    import mpmath
    mpmath.mp.dps = 50
    k = sp.Symbol("k", integer=True, positive=True)
    Z, Y = sg.Param("Z", k, m), sg.Input("Y", k, m)
    cost = sg.log(sg.sum(sg.exp(Z))) - sg.sum(Y * Z) / m if form == "logsumexp" \
        else -sg.sum(Y * sg.log(sg.exp(Z) / sg.sum(sg.exp(Z)))) / m
    module = load_module(module_source(derive(sg.Model("lse_all", cost, [Z], [Y])), style,
                                       target), "lse_all")
    z = np.array([[710.0, 0.0], [-3.0, 800.0], [799.0, -790.0]])
    y = np.array([[0.0, 0.0], [1.0, 0.5], [0.0, 0.5]])
    lse = _mp_logsumexp(z.ravel())
    yz = sum(mpmath.mpf(v) for v in (y * z).ravel()) / 2
    want = float(lse - yz if form == "logsumexp" else lse * y.sum() / 2 - yz)
    softmax = np.array([[float(mpmath.exp(v - lse)) for v in row] for row in z])
    with np.errstate(over="raise", invalid="raise"):
        loss, (dz,) = module.value_and_grad(z, y)
    np.testing.assert_allclose(float(loss), want, rtol=1e-14)
    np.testing.assert_allclose(dz, softmax * (1 if form == "logsumexp" else y.sum() / 2) - y / 2,
                               rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("style", ["fast", "plain"])
@pytest.mark.parametrize("spelling", ["sg.gelu", "by hand"])
def test_the_exact_gelu_keeps_relative_accuracy_far_below_zero(style, spelling):
    # x*(1 + erf(x/sqrt(2)))/2 cancels for x < -5 (3.7e-2 off at -8, 0 at -10 for 5.2e-44):
    # 1 + erf(u) is computed as erfc(-u). Reference: the formula and its derivative in
    # 400-digit arithmetic (mpmath; 1 + erf(-30/sqrt(2)) is 1e-197), the slope by hand:
    # Phi(x) + x*exp(-x**2/2)/sqrt(2 pi).
    import mpmath
    Z = sg.Param("Z", 1, m)
    A = sg.gelu(Z) if spelling == "sg.gelu" \
        else Z.applyfunc(sp.Lambda(t, t * (1 + sp.erf(t / sp.sqrt(2))) / 2))
    source = module_source(derive(sg.Model("gelu", sg.sum(A), [Z], outputs={"A": A})), style)
    module = load_module(source, "gelu")
    z = np.array([[-30.0, -10.0, -8.0, -5.0, -1.0, -1e-8, 0.0, 0.5, 3.0, 8.0, 30.0]])
    with mpmath.workdps(400):
        def phi(x):
            return (1 + mpmath.erf(x / mpmath.sqrt(2))) / 2
        value = [float(mpmath.mpf(v) * phi(mpmath.mpf(v))) for v in z[0]]
        slope = [float(phi(mpmath.mpf(v)) + mpmath.mpf(v) * mpmath.exp(-mpmath.mpf(v)**2 / 2)
                       / mpmath.sqrt(2 * mpmath.pi)) for v in z[0]]
    # (x/sqrt(2) rounds, and erfc's condition number is 2u**2: 900 at x = -30)
    np.testing.assert_allclose(module.forward(z)["A"][0], value, rtol=1e-13)
    np.testing.assert_allclose(module.value_and_grad(z)[1][0][0], slope, rtol=1e-13)
