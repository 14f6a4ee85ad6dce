"""Issue 15, points 4 and 3: every loss against PyTorch's own function (float64), value and
gradient through a generated module, to 1e-8 relative, for each reduction ("mean", "sum",
"none" weighted by a random cotangent) and, for the class-axis losses, in both layouts
(examples as columns, axis=0; cs231n's examples as rows, axis=1) with one-hot targets and
with integer labels."""
import re
import warnings

import numpy as np
import pytest
import sympy as sp
from helpers import close, tensor
from helpers import module_and_source as compiled

import symgrad as sg
from symgrad.certify import certify
from symgrad.derive import derive
from symgrad.errors import SymgradError
from symgrad.graph import placeholder

torch = pytest.importorskip("torch")
F = torch.nn.functional

n, m, k = sp.symbols("n m k", integer=True, positive=True)
RNG = np.random.default_rng(15)
REDUCTIONS = ["mean", "sum", "none"]


def reduced(loss, reduction, cotangent):
    """A scalar loss for each reduction: "none" is weighted by a cotangent input, so its
    gradient is the loss's VJP."""
    return loss if reduction != "none" else sg.sum(sp.HadamardProduct(loss, cotangent))


def torch_reduced(out, reduction, g):
    return out if reduction != "none" else (out * tensor(g)).sum()


# ---- elementwise losses -------------------------------------------------------------------
ELEMENTWISE = {
    "mse": (lambda a, y, r: sg.mse(a, y, reduction=r),
            lambda a, y, r: F.mse_loss(a, y, reduction=r)),
    "bce": (lambda a, y, r: sg.binary_cross_entropy(a, y, reduction=r),
            lambda a, y, r: F.binary_cross_entropy(a, y, reduction=r)),
    "bce_with_logits": (lambda a, y, r: sg.bce_with_logits(a, y, reduction=r),
                        lambda a, y, r: F.binary_cross_entropy_with_logits(a, y, reduction=r)),
    "huber": (lambda a, y, r: sg.huber(a, y, delta=0.5, reduction=r),
              lambda a, y, r: F.huber_loss(a, y, delta=0.5, reduction=r)),
    "smooth_l1": (lambda a, y, r: sg.smooth_l1(a, y, beta=0.5, reduction=r),
                  lambda a, y, r: F.smooth_l1_loss(a, y, beta=0.5, reduction=r)),
    "kl_div": (lambda a, y, r: sg.kl_div(a, y, reduction=r),
               lambda a, y, r: F.kl_div(a, y, reduction=r)),
}


def _elementwise_data(name):
    """(prediction, target): probabilities for BCE, logits out to +-40 for BCE with logits,
    residuals at 0 and at the Huber/smooth-L1 threshold exactly, targets with zeros for KL."""
    a = RNG.standard_normal((3, 5))
    y = RNG.uniform(0, 1, (3, 5))
    if name == "bce":
        a = RNG.uniform(0.05, 0.95, (3, 5))
    if name == "bce_with_logits":
        a[0, :3] = [40.0, -40.0, 0.0]
    if name in ("huber", "smooth_l1"):
        y[0, :4] = 0.0
        a[0, :4] = [0.0, 0.5, -0.5, 3.0]
    if name == "kl_div":
        a = np.log(RNG.dirichlet(np.ones(3), 5).T)        # log-probabilities per column
        y = RNG.dirichlet(np.ones(3), 5).T
        y[0, :2] = 0.0                                     # 0 log 0 = 0
    return a, y


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_loss_matches_pytorch(name, reduction):
    ours, theirs = ELEMENTWISE[name]
    A, Y, G = sg.Param("A", n, m), sg.Input("Y", n, m), sg.Input("G", n, m)
    loss = ours(A, Y, reduction)
    inputs = [Y, G] if reduction == "none" else [Y]
    module, _ = compiled(sg.Model(name, loss=reduced(loss, reduction, G), params=[A],
                                  inputs=inputs, outputs={"loss": loss}))
    a, y = _elementwise_data(name)
    g = RNG.standard_normal(a.shape)
    at = tensor(a, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # kl_div's "mean" warns (PyTorch's own)
        out = theirs(at, tensor(y), reduction)
    want = torch_reduced(out, reduction, g)
    args = (a, y, g) if reduction == "none" else (a, y)
    value, (da,) = module.value_and_grad(*args)
    close(value, want)
    close(da, torch.autograd.grad(want, at)[0])
    got = module.forward(a, y)["loss"]
    close(got if reduction == "none" else np.reshape(got, ()), out)


def test_kl_div_batchmean_is_the_sum_over_the_examples_count():
    logq, P = sg.Param("logq", k, m), sg.Input("P", k, m)
    module, _ = compiled(sg.Model("kl", loss=sg.kl_div(logq, P, reduction="batchmean"),
                                  params=[logq], inputs=[P]))
    a, y = _elementwise_data("kl_div")
    at = tensor(a, True)
    # torch's batchmean divides by its first axis, the examples: ours are columns
    want = F.kl_div(at.T, tensor(y).T, reduction="batchmean")
    value, (da,) = module.value_and_grad(a, y)
    close(value, want)
    close(da, torch.autograd.grad(want, at)[0])


def test_log_cosh_matches_pytorch_and_its_large_residual_limit():
    A, Y = sg.Param("A", n, m), sg.Input("Y", n, m)
    module, source = compiled(sg.Model("logcosh", loss=sg.log_cosh(A, Y, reduction="sum"),
                                       params=[A], inputs=[Y]))
    a, y = RNG.standard_normal((2, 4)), RNG.standard_normal((2, 4))
    at = tensor(a, True)
    want = torch.log(torch.cosh(at - tensor(y))).sum()         # no torch function: its formula
    value, (da,) = module.value_and_grad(a, y)
    close(value, want)
    close(da, torch.autograd.grad(want, at)[0])
    # past |r| = 710 cosh overflows: log cosh r = |r| - log 2 and the derivative is tanh r = +-1
    big = np.array([[1000.0, -1000.0]])
    value, (da,) = module.value_and_grad(big, np.zeros((1, 2)))
    assert np.isclose(value, 2 * (1000 - np.log(2)), rtol=1e-15)
    np.testing.assert_array_equal(da, [[1.0, -1.0]])
    assert "np.cosh" not in source


# ---- class-axis losses: one-hot targets and integer labels, both layouts ------------------
def _scores(axis):
    """Scores (k, m) for axis 0, (m, k) for axis 1, a per-example cotangent's shape."""
    shape = (k, m) if axis == 0 else (m, k)
    return sg.Param("S", *shape), ((1, m) if axis == 0 else (m, 1))


CLASS_AXIS = {
    "cross_entropy": (sg.cross_entropy, lambda s, y, r: F.cross_entropy(s, y, reduction=r)),
    "nll": (lambda s, t, axis, reduction: sg.nll(sg.log_softmax(s, axis), t, axis, reduction),
            lambda s, y, r: F.nll_loss(F.log_softmax(s, dim=1), y, reduction=r)),
    # cs231n's SVM sums over the classes; PyTorch's multi_margin_loss averages over them
    "multiclass_hinge": (sg.multiclass_hinge,
                         lambda s, y, r: F.multi_margin_loss(s, y, reduction=r) * s.shape[1]),
}


def _class_data(name):
    """Torch's layout: scores (N, C) and labels (N,); integer scores for the hinge, so that
    margins hit their kink s_j - s_y + 1 = 0 exactly."""
    scores = RNG.standard_normal((6, 4)) * 3
    if name == "multiclass_hinge":
        scores = RNG.integers(-2, 3, (6, 4)).astype(float)
    scores[0, :2] = [800.0, -800.0]
    return scores, RNG.integers(0, 4, 6)


@pytest.mark.parametrize("target", ["labels", "onehot"])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(CLASS_AXIS))
def test_class_axis_loss_matches_pytorch(name, reduction, axis, target):
    ours, theirs = CLASS_AXIS[name]
    S, per_example = _scores(axis)
    Y = sg.Labels("y", m) if target == "labels" else sg.Input("Y", *S.shape)
    G = sg.Input("G", *per_example)
    loss = ours(S, Y, axis=axis, reduction=reduction)
    inputs = [Y, G] if reduction == "none" else [Y]
    module, source = compiled(sg.Model(name, loss=reduced(loss, reduction, G), params=[S],
                                       inputs=inputs))
    s, y = _class_data(name)
    g = RNG.standard_normal(6)
    st = tensor(s, True)
    want = torch_reduced(theirs(st, torch.tensor(y), reduction), reduction, g)
    ds_want = torch.autograd.grad(want, st)[0].numpy()
    layout = (lambda a: np.asarray(a).T) if axis == 0 else (lambda a: np.asarray(a))
    y_arg = y if target == "labels" else layout(np.eye(4)[y])         # labels as (m,)
    args = [layout(s), y_arg] + [np.reshape(g, per_example_values(axis))] * (reduction == "none")
    value, (ds,) = module.value_and_grad(*args)
    close(value, want)
    close(ds, layout(ds_want))
    if target == "labels":
        assert not re.search(r"np\.(eye|zeros)|onehot", source.split('"""')[-1])


def per_example_values(axis):
    return (1, 6) if axis == 0 else (6, 1)


def test_labels_come_as_a_vector_or_in_their_declared_shape_row_or_column():
    S = sg.Param("S", m, k)
    s, labels = _class_data("cross_entropy")
    want = F.cross_entropy(tensor(s), torch.tensor(labels))
    row, column = labels[None, :], labels[:, None]
    for y, declared, other in ((sg.Labels("y", m), row, column),
                               (sg.Input("y", m, 1, dtype=int), column, row)):
        module, _ = compiled(sg.Model("rows", loss=sg.cross_entropy(S, y, axis=1), params=[S],
                                      inputs=[y]))
        for given in (labels, declared):
            close(module.loss(s, given), want)
        with pytest.raises(ValueError, match=r"^(1|m): y has (1|6) (rows|columns) but"):
            module.loss(s, other)


def test_integer_labels_give_softmax_minus_one_at_the_labels_in_place():
    X, y = sg.Input("X", n, m), sg.Labels("y", m)
    W2, b2 = sg.Param("W2", k, n), sg.Param("b2", k, 1)
    Z2 = W2 @ X + b2
    _, source = compiled(sg.Model("softmax_labels", loss=sg.cross_entropy(Z2, y),
                                  params=[W2, b2], inputs=[X, y], outputs={"A2": sg.softmax(Z2)}))
    body = source[source.index("def value_and_grad"):]
    assert "dZ2 = A2/m - onehot(y)/m" in body               # the docstring's math
    assert re.search(r"\n    dZ2\[y, np\.arange\(m\)\] -= 1 / m\n", body)
    assert "np.zeros" not in body and "np.eye" not in body


@pytest.mark.parametrize("axis", [0, 1])
def test_models_with_labels_are_certified_hessian_and_jacobian_included(axis):
    if axis == 0:
        X, W, b = sg.Input("X", n, m), sg.Param("W", k, n), sg.Param("b", k, 1)
        S = W @ X + b
    else:
        X, W, b = sg.Input("X", m, n), sg.Param("W", n, k), sg.Param("b", 1, k)
        S = X @ W + sp.OneMatrix(m, 1) @ b
    y = sg.Labels("y", m)
    model = sg.Model("certified", loss=sg.cross_entropy(S, y, axis=axis) + sg.l2(W, lam=0.1),
                     params=[W, b], inputs=[X, y], outputs={"S": S}, hessian=True,
                     jacobians={"J": (S, W)})
    _, source = compiled(model)
    certify(model, source)
    hinge = sg.Model("hinge", loss=sg.multiclass_hinge(S, y, axis=axis), params=[W, b],
                     inputs=[X, y])
    certify(hinge, compiled(hinge)[1])


def test_certification_refuses_a_wrong_scatter(monkeypatch):
    from symgrad import rules
    X, W, y = sg.Input("X", n, m), sg.Param("W", k, n), sg.Labels("y", m)
    model = sg.Model("wrong", loss=sg.cross_entropy(W @ X, y), params=[W], inputs=[X, y])
    right = rules.VJP["pick"]
    monkeypatch.setitem(rules.VJP, "pick", lambda graph, node, g, i: right(
        graph, node, graph.map(2 * placeholder(0), [g]), i))
    with pytest.raises(SymgradError, match="the gradient dW disagrees"):
        certify(model, compiled(model)[1])


@pytest.mark.parametrize("labels,error,words", [
    (np.array([0.0, 1.0, 2.0]), TypeError, "y must hold integer class labels, not float64"),
    (np.array([0, 3, 1]), ValueError, "y holds the label 3, which is not a class index: the "
                                      "scores have 3 classes, 0 to 2"),
    (np.array([0, -1, 1]), ValueError, "y holds the label -1"),
    (np.zeros((1, 1, 3), int), ValueError, "y must be a vector of labels or a matrix of shape "
                                            "(1, m)"),
    (np.array([0, 1]), ValueError, "m: y has 2 columns but S has 3 columns"),
])
def test_the_module_checks_integer_labels(labels, error, words):
    S, y = sg.Param("S", k, m), sg.Labels("y", m)
    module, _ = compiled(sg.Model("checked", loss=sg.cross_entropy(S, y), params=[S],
                                  inputs=[y]))
    with pytest.raises(error) as raised:
        module.value_and_grad(np.zeros((3, 3)), labels)
    assert words in str(raised.value)


def test_bad_models_and_arguments_are_refused_in_one_line():
    S, y, Y = sg.Param("S", k, m), sg.Labels("y", m), sg.Input("Y", k, m)
    cases = [
        (lambda: sg.cross_entropy(sg.softmax(S), Y), "takes scores (logits)"),
        (lambda: sg.mse(S, Y, reduction="avg"), "reduction='avg': give 'mean'"),
        (lambda: sg.cross_entropy(S, sg.Input("T", 1, m)), "the target is (1, m) but the "
                                                            "scores are (k, m)"),
        (lambda: sg.cross_entropy(S, y, axis=1), "pick: y holds m labels but the scores (k, m) "
                                                 "have k examples along axis 0"),
        (lambda: sg.Input("y", k, m, dtype=int), "one class index per example"),
        (lambda: sg.Input("y", 1, m, dtype=str), "dtype=<class 'str'>"),
        (lambda: sg.Model("p", loss=sg.cross_entropy(S, y), params=[S, y]), "holds integer "
                                                                             "labels"),
        (lambda: sg.Model("u", loss=sg.mse(S, Y), params=[S], inputs=[Y, y]),
         "the labels y are the target of no loss"),
        (lambda: derive(sg.Model("a", loss=sg.cross_entropy(S, y) + sg.sum(y), params=[S],
                                 inputs=[y])), "y holds integer class labels, which only index"),
        (lambda: sg.Model("j", loss=sg.cross_entropy(S, y), params=[S], inputs=[y],
                          jacobians={"J": (S, y)}), "with respect to the integer labels y"),
        (lambda: sg.huber(S, Y, delta=0), "huber: delta must be in (0, inf]"),
    ]
    for build, words in cases:
        with pytest.raises(SymgradError) as error:
            build()
        assert words in str(error.value) and "\n" not in str(error.value), str(error.value)


def test_losses_of_scalars_are_scalars():
    a, t = sg.Param("a"), sg.Input("t")
    cost = (sg.mse(a, t) + sg.bce_with_logits(a, t) + sg.huber(a, t, delta=0.5)
            + sg.smooth_l1(a, t, beta=0.5) + sg.log_cosh(a, t) + sg.kl_div(a, t)
            + sg.binary_cross_entropy(sg.sigmoid(a), t))
    module, _ = compiled(sg.Model("scalars", loss=cost, params=[a], inputs=[t]))
    at, tt = tensor(-0.3, True), tensor(0.4)
    want = (F.mse_loss(at, tt) + F.binary_cross_entropy_with_logits(at, tt)
            + F.huber_loss(at, tt, delta=0.5) + F.smooth_l1_loss(at, tt, beta=0.5)
            + torch.log(torch.cosh(at - tt)) + F.kl_div(at, tt, reduction="sum")
            + F.binary_cross_entropy(torch.sigmoid(at), tt))
    value, (da,) = module.value_and_grad(-0.3, 0.4)
    close(value, want)
    close(da, torch.autograd.grad(want, at)[0])


@pytest.mark.parametrize("axis", [0, 1])
def test_cross_entropy_with_class_probabilities_matches_pytorch(axis):
    S, _ = _scores(axis)
    P = sg.Input("P", *S.shape)
    module, _ = compiled(sg.Model("soft", loss=sg.cross_entropy(S, P, axis=axis), params=[S],
                                  inputs=[P]))
    s, p = RNG.standard_normal((6, 4)), RNG.dirichlet(np.ones(4), 6)
    st = tensor(s, True)
    want = F.cross_entropy(st, tensor(p))
    layout = (lambda a: np.asarray(a).T) if axis == 0 else np.asarray
    value, (ds,) = module.value_and_grad(layout(s), layout(p))
    close(value, want)
    close(ds, layout(torch.autograd.grad(want, st)[0].numpy()))


@pytest.mark.parametrize("case", ["logits, target 1", "probabilities, target 1",
                                  "probabilities, a row of targets", "logits, a scalar target"])
def test_bce_takes_a_number_a_scalar_or_a_row_as_its_target(case):
    """A GAN's bce_with_logits(D, 1), or one row of targets for every row of logits: NumPy's
    broadcasting, as the other losses take it (the helpers' own products were SymPy's
    HadamardProduct: a raw TypeError, or an error naming internals). Expected: the mean of
    softplus(z) - y z and (sigmoid(z) - y)/(n m), by hand."""
    from helpers import certified
    n = sp.Symbol("n", integer=True, positive=True)
    Z, row, t = sg.Param("Z", n, m), sg.Input("y", 1, m), sg.Input("t")
    target, inputs = {"logits, target 1": (1, []), "probabilities, target 1": (1, []),
                      "probabilities, a row of targets": (row, [row]),
                      "logits, a scalar target": (t, [t])}[case]
    loss = sg.bce_with_logits(Z, target) if case.startswith("logits") \
        else sg.binary_cross_entropy(sg.sigmoid(Z), target)
    module = certified(sg.Model("bce", loss, [Z], inputs))
    z = np.array([[0.5, -1.0, 2.0], [3.0, 0.0, -0.25]])
    y = {1: np.float64(1.0), row: np.array([[1.0, 0.0, 0.25]]), t: np.float64(0.75)}[target]
    args = [z] + ([y] if inputs else [])
    value, (dz,) = module.value_and_grad(*args)
    assert np.isclose(value, np.mean(np.logaddexp(0, z) - y * z), rtol=1e-13)
    np.testing.assert_allclose(dz, (1 / (1 + np.exp(-z)) - y) / z.size, rtol=1e-12)
