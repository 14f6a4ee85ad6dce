"""Issue 15, point 4: activations and layers against PyTorch's own functions (float64): the
value and the gradient, through a module generated from a Model, to 1e-8 relative; the
derivative at a kink is PyTorch's."""
import numpy as np
import pytest
import sympy as sp
from helpers import close, compiled, tensor

import symgrad as sg
from symgrad.errors import SymgradError

torch = pytest.importorskip("torch")
F = torch.nn.functional

n, m = sp.symbols("n m", integer=True, positive=True)
Z, G = sg.Param("Z", n, m), sg.Input("G", n, m)
RNG = np.random.default_rng(15)
KINKS = np.array([[0.0, 1.0, -1.0, 2.5, -3.0], [0.5, -0.25, 40.0, -40.0, 1e-9]])


def torch_vjp(f, z, g, *scalars):
    """f(z, *scalars) and its gradients along g, by PyTorch's autograd."""
    zt, st = tensor(z, True), [tensor(s, True) for s in scalars]
    out = f(zt, *st)
    grads = torch.autograd.grad((out * tensor(g)).sum(), [zt, *st])
    return out, grads


ACTIVATIONS = [
    ("elu", lambda z: sg.elu(z, alpha=1.5), lambda z: F.elu(z, alpha=1.5)),
    ("selu", sg.selu, F.selu),
    ("gelu", sg.gelu, F.gelu),
    ("gelu_tanh", lambda z: sg.gelu(z, approximate="tanh"),
     lambda z: F.gelu(z, approximate="tanh")),
    ("mish", sg.mish, F.mish),
    ("silu", sg.swish, F.silu),
    ("softsign", sg.softsign, F.softsign),
    ("hardtanh", sg.hardtanh, F.hardtanh),
    ("hardtanh_02", lambda z: sg.hardtanh(z, 0, 2), lambda z: F.hardtanh(z, 0.0, 2.0)),
    ("leaky_relu", lambda z: sg.leaky_relu(z, 0.1), lambda z: F.leaky_relu(z, 0.1)),
    ("relu", sg.relu, F.relu),
]


@pytest.mark.parametrize("name,ours,theirs", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_value_and_gradient_match_pytorch_kinks_included(name, ours, theirs):
    module = compiled(sg.Model(name, loss=sg.sum(sp.HadamardProduct(G, ours(Z))), params=[Z],
                               inputs=[G], outputs={"A": ours(Z)}))
    z = np.hstack([KINKS, 3 * RNG.standard_normal((2, 6))])
    g = RNG.standard_normal(z.shape)
    out, (dz,) = torch_vjp(theirs, z, g)
    close(module.forward(z)["A"], out)
    loss, (ours_dz,) = module.value_and_grad(z, g)
    close(loss, (out * tensor(g)).sum())
    close(ours_dz, dz)


def test_activations_are_finite_at_large_inputs():
    # ELU's exp never overflows (no warning), mish's softplus and tanh saturate
    model = sg.Model("big", loss=sg.sum(sg.elu(Z)) + sg.sum(sg.mish(Z)) + sg.sum(sg.selu(Z)),
                     params=[Z])
    module = compiled(model)
    z = np.array([[800.0, -800.0, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, (dz,) = module.value_and_grad(z)
    zt = tensor(z, True)
    want = F.elu(zt).sum() + F.mish(zt).sum() + F.selu(zt).sum()
    close(loss, want)
    close(dz, torch.autograd.grad(want, zt)[0])


@pytest.mark.parametrize("name", ["swish", "prelu"])
def test_learnable_scalar_of_swish_and_prelu_gets_pytorchs_gradient(name):
    s = sg.Param("s")
    ours = sg.swish(Z, beta=s) if name == "swish" else sg.prelu(Z, s)
    module = compiled(sg.Model(name, loss=sg.sum(sp.HadamardProduct(G, ours)), params=[Z, s],
                               inputs=[G]))
    z, g = np.hstack([KINKS, RNG.standard_normal((2, 4))]), RNG.standard_normal((2, 9))

    def theirs(zt, st):
        return zt * torch.sigmoid(st * zt) if name == "swish" else F.prelu(zt, st.reshape(1))
    out, (dz, ds) = torch_vjp(theirs, z, g, 0.7)
    loss, (ours_dz, ours_ds) = module.value_and_grad(z, 0.7, g)
    close(loss, (out * tensor(g)).sum())
    close(ours_dz, dz)
    close(ours_ds, ds)


def test_activations_of_a_scalar_are_scalars():
    a = sg.Param("a")
    cost = sg.elu(a) + sg.gelu(a) + sg.mish(a) + sg.softsign(a) + sg.hardtanh(a) + sg.selu(a)
    module = compiled(sg.Model("scalars", loss=cost, params=[a]))
    at = tensor(-0.3, True)
    want = F.elu(at) + F.gelu(at) + F.mish(at) + F.softsign(at) + F.hardtanh(at) + F.selu(at)
    loss, (da,) = module.value_and_grad(-0.3)
    close(loss, want)
    close(da, torch.autograd.grad(want, at)[0])


# ---- layers -------------------------------------------------------------------------------
def _norm_model(kind, axis):
    """A normalisation layer on examples as columns (axis for symgrad) or as rows."""
    rows, cols = (n, m) if (kind == "batch") == (axis == 1) else (m, n)
    features = (rows, 1) if (kind == "batch") == (axis == 1) else (1, cols)
    X, Gx = sg.Param("X", rows, cols), sg.Input("G", rows, cols)
    gamma, beta = sg.Param("gamma", *features), sg.Param("beta", *features)
    layer = sg.batch_norm if kind == "batch" else sg.layer_norm
    out = layer(X, gamma, beta, eps=1e-3, axis=axis)
    model = sg.Model(f"{kind}_norm", loss=sg.sum(sp.HadamardProduct(out, Gx)),
                     params=[X, gamma, beta], inputs=[Gx], outputs={"out": out})
    return compiled(model), features


@pytest.mark.parametrize("kind", ["batch", "layer"])
@pytest.mark.parametrize("axis", [0, 1])
def test_batch_and_layer_norm_match_pytorch_in_both_layouts(kind, axis):
    module, features = _norm_model(kind, axis)
    n_features, n_examples = 3, 5
    rows_layout = (kind == "batch") == (axis == 0)        # torch's (N, C): examples as rows
    x = RNG.standard_normal((n_examples, n_features)) * 2 + 1
    gamma, beta = RNG.standard_normal(n_features), RNG.standard_normal(n_features)
    g = RNG.standard_normal(x.shape)

    def theirs(xt, gt, bt):
        if kind == "batch":
            return F.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-3)
        return F.layer_norm(xt, (n_features,), gt, bt, eps=1e-3)
    out, (dx, dgamma, dbeta) = torch_vjp(theirs, x, g, gamma, beta)
    shaped = (lambda a: a.reshape(1, -1)) if rows_layout else (lambda a: a.reshape(-1, 1))
    flip = (lambda a: a) if rows_layout else (lambda a: np.asarray(a).T)
    args = (flip(x), shaped(gamma), shaped(beta), flip(g))
    close(module.forward(*args[:3])["out"], flip(out.detach().numpy()))
    loss, (ours_dx, ours_dgamma, ours_dbeta) = module.value_and_grad(*args)
    close(loss, (out * tensor(g)).sum())
    close(ours_dx, flip(dx.numpy()))
    close(ours_dgamma, shaped(dgamma.numpy()))
    close(ours_dbeta, shaped(dbeta.numpy()))


def test_dropout_matches_pytorchs_own_dropout_given_its_mask():
    keep = 0.8
    D = sg.Input("D", n, m)
    out = sg.dropout(sg.tanh(Z), D, keep)
    module = compiled(sg.Model("dropout", loss=sg.sum(sp.HadamardProduct(G, out)), params=[Z],
                               inputs=[D, G], outputs={"out": out}))
    torch.manual_seed(15)
    z, g = RNG.standard_normal((4, 50)), RNG.standard_normal((4, 50))
    out_t, (dz,) = torch_vjp(lambda zt: F.dropout(torch.tanh(zt), p=1 - keep, training=True),
                             z, g)
    d = (out_t != 0).double().numpy()                   # the mask PyTorch drew
    assert 0 < d.mean() < 1
    close(module.forward(z, d)["out"], out_t)
    loss, (ours_dz,) = module.value_and_grad(z, d, g)
    close(loss, (out_t * tensor(g)).sum())
    close(ours_dz, dz)


def test_l2_is_half_lam_times_the_squares_and_its_gradient_is_pytorchs_weight_decay():
    W, w = sg.Param("W", n, m), sg.Param("w")
    module = compiled(sg.Model("l2", loss=sg.l2(W, w, lam=0.1), params=[W, w]))
    Wv, wv = RNG.standard_normal((3, 4)), 1.5
    loss, (dW, dw) = module.value_and_grad(Wv, wv)
    assert np.isclose(loss, 0.1 / 2 * (np.sum(Wv**2) + wv**2), rtol=1e-14)
    # SGD with weight_decay=lam, lr=1 and a zero gradient steps by -lam*W: the penalty's gradient
    p = torch.nn.Parameter(tensor(Wv))
    opt = torch.optim.SGD([p], lr=1.0, weight_decay=0.1)
    p.grad = torch.zeros_like(p)
    opt.step()
    close(dW, tensor(Wv) - p.detach())
    assert np.isclose(dw, 0.1 * wv, rtol=1e-14)


@pytest.mark.parametrize("build,words", [
    (lambda: sg.gelu(Z, approximate="erf"), "approximate='erf'"),
    (lambda: sg.elu(Z, alpha=-1), "elu: alpha must be in (0, inf]"),
    (lambda: sg.hardtanh(Z, 1, -1), "min_val=1 must be below max_val=-1"),
    (lambda: sg.dropout(Z, G, 1.5), "keep_prob must be in (0, 1]"),
    (lambda: sg.batch_norm(Z, sg.Param("g", 1, m)), "gamma is (1, m) but must be (n, 1)"),
    (lambda: sg.layer_norm(Z, axis=2), "axis=2"),
    (lambda: sg.l2(lam=0.1), "give the weights"),
])
def test_bad_arguments_are_refused_in_one_line(build, words):
    with pytest.raises(SymgradError) as error:
        build()
    assert words in str(error.value) and "\n" not in str(error.value)


def test_dense_checks_its_shapes_as_the_operators_do():
    """sg.dense(W, X, b) is W @ X + b: the operands swapped are refused when the model is
    built, in the product's words (its raw SymPy product was checked only at derive time),
    and a row bias broadcasts as in NumPy."""
    n, m, k = sp.symbols("n m k", integer=True, positive=True)
    W, X, b, r = sg.Param("W", k, n), sg.Input("X", n, m), sg.Param("b", k, 1), sg.Param("r", 1, m)
    with pytest.raises(sg.SymgradError, match="shape mismatch in a matrix product: X is"):
        sg.dense(X, W, b)
    assert sg.dense(W, X, r) == W @ X + r and sg.dense(W, X, b) == W @ X + b
