"""Full Jacobians in both orders and Hessians: generated code against central differences of
the generated forward outputs and gradients, and against hand formulas."""
import ast
import inspect

import numpy as np
import pytest
import sympy as sp

import symgrad as sg
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.testing import central_differences, load_module, relative_error

from conftest import ROOT, derived
from helpers import certified, module_args

n_x, n_h, m = sp.symbols("n_x n_h m", integer=True, positive=True)
X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)
W1, b1 = sg.Param("W1", n_h, n_x), sg.Param("b1", n_h, 1)
W2, c = sg.Param("W2", 1, n_h), sg.Param("c")          # c: a scalar parameter
A1 = sg.tanh(W1 @ X + b1)
A2 = sg.sigmoid(W2 @ A1 + c)
cost = sg.mean(sg.binary_cross_entropy(A2, Y)) + c**2
TWO_LAYER = sg.Model(
    "two_layer_jac", loss=cost, params=[W1, b1, W2, c], inputs=[X, Y],
    outputs={"A1": A1, "A2": A2, "cost": cost},
    jacobians={"dA2_dW1": (A2, W1), "dA1_dW1": (A1, W1), "dA2_dX": (A2, X),
               "dA1_dc": (A1, b1), "dcost_dW2": (cost, W2), "dA2_dc": (A2, c)},
    hessian=True)
TWO = load_module(module_source(derive(TWO_LAYER)))
COOKBOOK = derived(ROOT / "examples" / "cookbook.py")[0]
CASES = [(TWO_LAYER, TWO, name, out) for name, out in [
    ("dA2_dW1", "A2"), ("dA1_dW1", "A1"), ("dA2_dX", "A2"), ("dA1_dc", "A1"),
    ("dcost_dW2", "cost"), ("dA2_dc", "A2")]] + [
    (COOKBOOK[0], COOKBOOK[3], "dcov_dL", "covariance")]
DIMS = [{"n_x": 3, "n_h": 4, "m": 5, "n": 3}, {"n_x": 1, "n_h": 2, "m": 1, "n": 1}]


def _output(module, name):
    """f(*params, *inputs) -> the named forward output."""
    fwd = list(inspect.signature(module.forward).parameters)
    order = list(module.PARAMS + module.INPUTS)
    return lambda *args: module.forward(*[args[order.index(a)] for a in fwd])[name]


@pytest.mark.parametrize("dims", DIMS, ids=["3-4-5", "1-2-1"])
@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
@pytest.mark.parametrize("model,module,name,out", CASES, ids=[c[2] for c in CASES])
def test_jacobian_matches_central_differences(model, module, name, out, mode, dims):
    args = module_args(model, module, dims)
    wrt = model.jacobians[name][1].name
    jacobian = getattr(module, f"jacobian_{name}")(*args, mode=mode)
    reference = central_differences(_output(module, out), args,
                                    list(module.PARAMS + module.INPUTS).index(wrt))
    assert jacobian.shape == reference.shape
    assert relative_error(jacobian, reference) < 1e-7


def test_float32_in_float32_out():
    args = [a.astype(np.float32) if isinstance(a, np.ndarray) else a
            for a in module_args(TWO_LAYER, TWO, DIMS[0])]
    for mode in ("reverse", "forward"):
        assert TWO.jacobian_dA2_dW1(*args, mode=mode).dtype == np.float32


def test_auto_picks_the_order_with_fewer_products():
    source = module_source(derive(TWO_LAYER))
    assert 'mode = "reverse" if m <= n_h*n_x else "forward"' in source


def test_unknown_mode_is_a_one_line_error():
    with pytest.raises(ValueError, match="mode must be 'reverse', 'forward' or 'auto', not 'x'"):
        TWO.jacobian_dA2_dW1(*module_args(TWO_LAYER, TWO, DIMS[0]), mode="x")


def test_jacobian_of_an_unconnected_pair_is_an_error():
    model = sg.Model("m", cost, [W1, b1, W2, c], [X, Y], jacobians={"dA1_dW2": (A1, W2)})
    with pytest.raises(sg.SymgradError, match="jacobian dA1_dW2: A1 does not depend on W2"):
        derive(model)


def test_jacobian_of_a_non_symbol_is_an_error():
    with pytest.raises(sg.SymgradError, match="must be a pair"):
        sg.Model("m", cost, [W1, b1, W2, c], [X, Y], jacobians={"bad": (A1, W1 @ X)})


def test_no_python_loops_in_jacobians_and_hessians():
    tree = ast.parse(module_source(derive(TWO_LAYER)))
    functions = [f for f in tree.body if isinstance(f, ast.FunctionDef)
                 and ("jacobian" in f.name or "hessian" in f.name)]
    assert len(functions) == 6 * 3 + 2
    for f in functions:
        assert not any(isinstance(n, (ast.For, ast.While, ast.comprehension)) for n in ast.walk(f))


def _flat_grad(module):
    return lambda *args: np.concatenate([np.ravel(g) for g in module.value_and_grad(*args)[1]])


@pytest.mark.parametrize("dims", DIMS, ids=["3-4-5", "1-2-1"])
def test_hessian_matches_central_differences_of_the_gradient(dims):
    args = module_args(TWO_LAYER, TWO, dims)
    hessian = TWO.hessian(*args)
    reference = np.concatenate([
        central_differences(_flat_grad(TWO), args, k).reshape(len(hessian), -1)
        for k in range(len(TWO.PARAMS))], axis=1)
    assert hessian.shape == reference.shape
    assert relative_error(hessian, reference) < 1e-7
    assert relative_error(hessian, hessian.T) < 1e-12


def test_hessian_vector_product_is_hessian_times_vector():
    args = module_args(TWO_LAYER, TWO, DIMS[0])
    rng = np.random.default_rng(1)
    vectors = [rng.standard_normal(np.shape(a)) if np.ndim(a) else float(rng.standard_normal())
               for a in args[:len(TWO.PARAMS)]]
    products = TWO.hessian_vector_product(*args, *vectors)
    flat = np.concatenate([np.ravel(p) for p in products])
    expected = TWO.hessian(*args) @ np.concatenate([np.ravel(v) for v in vectors])
    assert relative_error(flat, expected) < 1e-12
    assert isinstance(products[3], float)


@pytest.mark.parametrize("m_", [1, 7, 50])
def test_logistic_hessian_is_x_diag_a_one_minus_a_x_transpose_over_m(m_):
    module = derived(ROOT / "examples" / "logistic_newton.py")[0][3]
    rng = np.random.default_rng(m_)
    w, X_ = rng.standard_normal((4, 1)), rng.standard_normal((4, m_))
    Y_ = (rng.uniform(size=(1, m_)) < 0.5).astype(float)
    A_ = 1 / (1 + np.exp(-(w.T @ X_)))
    expected = X_ @ np.diag(A_[0] * (1 - A_[0])) @ X_.T / m_
    assert relative_error(module.hessian(w, X_, Y_), expected) < 1e-13


def test_the_order_is_a_constant_where_the_sizes_always_compare_the_same(example):
    # the covariance P^-1 (n x n) and L (n x n): n**2 <= n**2 at every n, so no comparison
    source = example("cookbook")[2]
    assert 'mode = "reverse"\n' in source and "n**2 <= n**2" not in source


def test_the_order_is_compared_at_run_time_where_the_sizes_can_order_either_way():
    from symgrad.codegen import _fewer_products
    n, m, k = sp.symbols("n m k", integer=True, positive=True)
    assert _fewer_products((1, 1), (n, m)) == '"reverse"'           # 1 <= n m always
    assert _fewer_products((n, m + 1), (n, 1)) == '"forward"'       # n (m + 1) > n always
    assert _fewer_products((n, m), (k, 1)) == '"reverse" if m*n <= k else "forward"'


@pytest.mark.parametrize("style, target", [("fast", "numpy"), ("plain", "numpy"),
                                           ("plain", "array-api")])
def test_the_jacobian_of_a_scalar_by_a_scalar_is_a_number(style, target):
    # d(s**2 sum(X))/ds = 2 s sum(X) (hand-derived); it was `.reshape()`, a TypeError
    m = sp.Symbol("m", integer=True, positive=True)
    X, s = sg.Input("X", 1, m), sg.Param("s")
    cost = s**2 * sg.sum(X)
    model = sg.Model("scalar_jac", cost, [s], [X], jacobians={"cost_s": (cost, s)})
    module = load_module(module_source(derive(model), style, target), "scalar_jac")
    for mode in ("reverse", "forward", "auto"):
        got = module.jacobian_cost_s(1.5, np.array([[1.0, 2.0, 3.0]]), mode=mode)
        assert np.shape(got) == () and float(got) == 2 * 1.5 * 6.0, (mode, got)


def _hinge(torch, S, y):
    """cs231n's multiclass SVM loss, in PyTorch: the mean over examples of the margins."""
    return (torch.relu(S - S[y, torch.arange(S.shape[1])] + 1).sum(0) - 1).mean()


n = sp.Symbol("n", integer=True, positive=True)
Xh, yh = sg.Input("X", n, m), sg.Labels("y", m)
Wh, bh, Vh = sg.Param("W", 3, n), sg.Param("b", 3, 1), sg.Param("V", 1, 1)
ZERO_TANGENTS = [  # a second-order term that is 0 through a pick or a slice, and its torch loss
    (sg.Model("svm_hess", sg.multiclass_hinge(Wh @ Xh + bh, yh) + sg.l2(Wh, lam=0.1), [Wh, bh],
              [Xh, yh], hessian=True),
     lambda t, X_, y_, W, b: _hinge(t, W @ X_ + b, y_) + 0.05 * (W * W).sum()),
    (sg.Model("hinge_hess", sg.multiclass_hinge(Wh @ Xh, yh), [Wh], [Xh, yh], hessian=True),
     lambda t, X_, y_, W: _hinge(t, W @ X_, y_)),
    (sg.Model("slice_hess", sg.mean(sg.relu(Wh[0:1, :] @ Xh + Vh)), [Wh, Vh], [Xh],
              hessian=True),
     lambda t, X_, W, V: t.relu(W[0:1] @ X_ + V).mean()),
]


@pytest.mark.parametrize("model,loss", ZERO_TANGENTS, ids=[z[0].name for z in ZERO_TANGENTS])
def test_a_zero_second_order_term_through_a_pick_or_slice_is_dropped(model, loss):
    torch = pytest.importorskip("torch")
    module = certified(model)       # the hessian had no seed axis: concatenate/@ raised
    args = module_args(model, module, {"n": 2, "m": 4})
    params, inputs = args[:len(module.PARAMS)], [torch.tensor(a) for a in
                                                 args[len(module.PARAMS):]]
    sizes = [p.size for p in params]

    def flat_loss(v):
        parts = torch.split(v, sizes)
        return loss(torch, *inputs, *[q.reshape(p.shape) for q, p in zip(parts, params)])
    expected = torch.autograd.functional.hessian(
        flat_loss, torch.cat([torch.tensor(p.ravel()) for p in params])).numpy()
    hessian = module.hessian(*args)
    assert hessian.shape == expected.shape
    assert np.allclose(hessian, expected, rtol=0, atol=1e-12)


def test_the_jacobian_of_a_step_function_is_a_one_line_refusal():
    # its tangent does not depend on the seeds: 0, once emitted without their batch axis
    step = (W1 @ X).applyfunc(sp.Lambda(sp.Symbol("t"), sp.Heaviside(sp.Symbol("t"))))
    model = sg.Model("m", cost, [W1, b1, W2, c], [X, Y], jacobians={"dH_dW1": (step, W1)})
    with pytest.raises(sg.SymgradError, match="jacobian dH_dW1: .* is constant almost "
                                              "everywhere along W1"):
        derive(model)


def test_a_jacobian_output_not_real_at_a_point_tries_the_next_then_refuses_in_one_line():
    """certify stopped at the first point's NotFinite (an internal error: log(W) of a normal
    W) where the loss was real; the last point, of positive parameters, certifies log(W);
    log(W - 100) is real at none of them."""
    from symgrad.certify import certify
    W = sg.Param("W", n_x, 1)
    for output, certifies in [(sg.log(W), True), (sg.log(W - 100), False)]:
        model = sg.Model("j", loss=sg.sum(W ** 2), params=[W], jacobians={"J": (output, W)})
        source = module_source(derive(model))
        if certifies:
            certify(model, source)
            J = load_module(source).jacobian_J(np.array([[2.0], [4.0]]))
            np.testing.assert_allclose(J[:, 0, :, 0], np.diag([1 / 2, 1 / 4]), rtol=1e-14)
        else:
            with pytest.raises(sg.SymgradError, match=r"^model j: cannot certify the module: "
                               r"the model's loss \(or an output of a Jacobian\) is not real"):
                certify(model, source)
