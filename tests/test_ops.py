"""Issue 15, reductions and indexing (symgrad/ops.py): max and min reductions, elementwise
maximum, minimum, where, abs, sqrt and norms, slices, concatenation, matrix powers and the
trace of an elementwise function. Every model is derived, certified against its own SymPy
expression (symgrad/certify.py), and its generated module's loss and gradients are compared
with PyTorch autograd at float64 (to 1e-8 relative) or with formulas written by hand."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy as sp
from helpers import certified as built

import symgrad as sg
from symgrad.array import plain
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.errors import SymgradError
from symgrad.testing import relative_error

torch = pytest.importorskip("torch")
F = torch.nn.functional

n, m, k = sp.symbols("n m k", integer=True, positive=True)
RNG = np.random.default_rng(15)
RTOL = 1e-8


def values_for(model, dims, seed=0):
    """Random values for the model's parameters (normal) and inputs (uniform in (-1, 1))."""
    rng = np.random.default_rng(seed)
    out = {}
    for x in model.params + model.inputs:
        shape = tuple(int(sp.sympify(d).subs({s: dims[s.name] for s in sp.sympify(d).free_symbols}))
                      for d in getattr(x, "shape", ()))
        out[x.name] = float(rng.standard_normal()) if not shape else \
            rng.standard_normal(shape) if x in model.params else rng.uniform(-1, 1, shape)
    return out


def agrees_with_torch(model, module, torch_loss, dims, seed=0):
    """The module's loss and gradients against torch autograd on torch_loss(**tensors)."""
    values = values_for(model, dims, seed)
    args = [values[name] for name in module.PARAMS + module.INPUTS]
    loss, grads = module.value_and_grad(*args)
    tensors = {name: torch.tensor(v, dtype=torch.float64, requires_grad=name in module.PARAMS)
               for name, v in values.items()}
    ref = torch_loss(**tensors)
    ref.backward()
    assert relative_error(loss, ref.item()) <= RTOL, "the loss"
    assert np.isclose(module.loss(*args), loss, rtol=1e-12)
    for name, g in zip(module.PARAMS, grads):
        want = tensors[name].grad.numpy()
        assert np.shape(g) == np.shape(want), name
        assert relative_error(g, want) <= RTOL, f"d{name}"
    return values, grads


# ---- max and min reductions -----------------------------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_max_and_min_reductions_have_numpys_keepdims_shapes(axis):
    A = sg.Param("A", n, m)
    for f in (sg.max, sg.min):
        e = f(A, axis=axis)
        want = () if axis is None else (1, m) if axis == 0 else (n, 1)
        assert getattr(e, "shape", ()) == want
    assert sg.max(A, axis=-1).shape == (n, 1) and sg.min(A, axis=-2).shape == (1, m)


def test_max_and_min_along_each_axis_and_of_all_entries_match_torch():
    W, b, X = sg.Param("W", n, k), sg.Param("b", n, 1), sg.Input("X", k, m)
    Z = W @ X + b
    loss = (sg.sum(sg.tanh(sg.max(Z, axis=0))) + sg.mean(sp.HadamardPower(sg.min(Z, axis=1), 2))
            + 2 * sg.max(Z) - sg.min(Z) * sg.max(W))
    model = sg.Model("extrema", loss=loss, params=[W, b], inputs=[X], hessian=True)
    module = built(model)

    def reference(W, b, X):
        Z = W @ X + b
        return (torch.tanh(torch.amax(Z, 0, keepdim=True)).sum()
                + (torch.amin(Z, 1, keepdim=True) ** 2).mean() + 2 * Z.max() - Z.min() * W.max())
    values, _ = agrees_with_torch(model, module, reference, {"n": 4, "k": 3, "m": 5})
    source = module_source(derive(model))
    assert "np.argmax" in source and "np.argmin" in source     # no dense mask of ties


def test_the_whole_adjoint_goes_to_the_first_arg_max_of_each_slice():
    A = sg.Param("A", 3, 4)
    module = built(sg.Model("ties", loss=sg.sum(sg.max(A, axis=0)) + 10 * sg.sum(sg.min(A, axis=1))
                            + 100 * sg.max(A), params=[A]))
    A0 = np.array([[1.0, 2.0, 0.0, 5.0],
                   [1.0, 2.0, 0.0, 5.0],        # ties with row 0 in every column
                   [0.0, 2.0, 0.0, 1.0]])
    _, (dA,) = module.value_and_grad(A0)
    want = np.zeros_like(A0)
    want[np.argmax(A0, axis=0), np.arange(4)] += 1             # row 0 wins each tie
    want[np.arange(3), np.argmin(A0, axis=1)] += 10            # the first minimum of each row
    want.flat[np.argmax(A0)] += 100                            # the first maximum overall
    np.testing.assert_array_equal(dA, want)
    assert dA.sum() == 4 + 30 + 100                             # one entry per reduced slice


def test_max_pooling_over_windows_in_both_layouts_matches_torch_max_pool1d():
    L = 6
    W1 = sg.Param("W1", L, k)
    # examples as columns: pool each column's L features in windows of 2 down the rows
    Xc = sg.Input("Xc", k, m)
    H = sg.tanh(W1 @ Xc)
    P = sg.concat([sg.max(H[2 * j:2 * j + 2, :], axis=0) for j in range(L // 2)], axis=0)
    v = sg.Param("v", 1, L // 2)
    cols = sg.Model("pool_cols", loss=sg.sum(sg.tanh(v @ P)), params=[W1, v], inputs=[Xc])

    def pool_cols(W1, v, Xc):
        H = torch.tanh(W1 @ Xc)                                            # (L, m)
        P = F.max_pool1d(H.T[:, None, :], 2)[:, 0, :].T                    # (L/2, m)
        return torch.tanh(v @ P).sum()
    agrees_with_torch(cols, built(cols), pool_cols, {"k": 3, "m": 5})
    # examples as rows: the same network on X (m, k), pooling along each row
    Xr = sg.Input("Xr", m, k)
    Hr = sg.tanh(Xr @ W1.T)
    Pr = sg.concat([sg.max(Hr[:, 2 * j:2 * j + 2], axis=1) for j in range(L // 2)], axis=1)
    rows = sg.Model("pool_rows", loss=sg.sum(sg.tanh(Pr @ v.T)), params=[W1, v], inputs=[Xr],
                    hessian=True)

    def pool_rows(W1, v, Xr):
        P = F.max_pool1d(torch.tanh(Xr @ W1.T)[:, None, :], 2)[:, 0, :]   # (m, L/2)
        return torch.tanh(P @ v.T).sum()
    agrees_with_torch(rows, built(rows), pool_rows, {"k": 3, "m": 5})


def test_a_max_a_slice_and_a_concatenation_have_jacobians_in_both_orders():
    W, X = sg.Param("W", n, k), sg.Input("X", k, m)
    Z = sg.tanh(W @ X)
    model = sg.Model("jac_max", loss=sg.sum(sg.max(Z, axis=0)), params=[W], inputs=[X],
                     jacobians={"J": (sg.max(Z[:2, :], axis=1), W),
                                "K": (sg.concat([Z[1:, :], sg.min(Z, axis=0)], axis=0), X)},
                     hessian=True)
    module = built(model)            # certify checks both orders along a random direction
    Wv, Xv = RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4))
    J = module.jacobian_J(Wv, Xv, mode="reverse")
    np.testing.assert_allclose(module.jacobian_J(Wv, Xv, mode="forward"), J, rtol=1e-12)
    Wt = torch.tensor(Wv, requires_grad=True)
    want = torch.autograd.functional.jacobian(
        lambda W: torch.amax(torch.tanh(W @ torch.tensor(Xv))[:2], 1, keepdim=True), Wt)
    assert relative_error(J, want.numpy()) <= RTOL


# ---- elementwise maximum, minimum, where, abs, sqrt, norms -------------------------------
def test_maximum_minimum_and_where_broadcast_scalars_columns_and_rows_as_torch():
    W, b, X = sg.Param("W", n, k), sg.Param("b", n, 1), sg.Input("X", k, m)
    r, s = sg.Param("r", 1, m), sg.Param("s")
    Z = W @ X + b
    leaky = sg.where(sg.greater(Z, 0), Z, sp.HadamardProduct(Z, 0.01 * sp.OneMatrix(n, m)))
    loss = (sg.sum(sg.tanh(leaky)) + sg.sum(sg.maximum(Z, b)) + sg.sum(sg.minimum(Z, r))
            + sg.sum(sg.maximum(s, Z)) + sg.sum(sg.where(sg.less_equal(Z, s), Z, 2 * Z))
            + sg.sum(sg.minimum(sg.where(sg.greater_equal(r, 0), r, -r), 0.5)))
    model = sg.Model("selection", loss=loss, params=[W, b, r, s], inputs=[X], hessian=True)

    def reference(W, b, r, s, X):
        Z = W @ X + b
        leaky = torch.where(Z > 0, Z, 0.01 * Z)
        return (torch.tanh(leaky).sum() + torch.maximum(Z, b).sum() + torch.minimum(Z, r).sum()
                + torch.maximum(s, Z).sum() + torch.where(Z <= s, Z, 2 * Z).sum()
                + torch.minimum(torch.abs(r), torch.tensor(0.5)).sum())
    agrees_with_torch(model, built(model), reference, {"n": 4, "k": 3, "m": 5})


def test_a_tie_of_maximum_and_minimum_passes_the_adjoint_to_the_first_argument():
    a, c = sg.Param("a", 1, 3), sg.Param("c", 1, 3)
    module = built(sg.Model("tie", loss=sg.sum(sg.maximum(a, c)) + 10 * sg.sum(sg.minimum(a, c)),
                            params=[a, c]))
    av, cv = np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 0.0, 4.0]])
    _, (da, dc) = module.value_and_grad(av, cv)
    np.testing.assert_array_equal(da, [[11.0, 1.0, 10.0]])        # the tie in column 0: all a's
    np.testing.assert_array_equal(dc, [[0.0, 10.0, 1.0]])


def test_where_sends_derivatives_only_to_the_chosen_branch():
    x = sg.Param("x", 2, 2)
    safe = sg.where(sg.greater(x, 0), sg.sqrt(sg.abs(x)), sp.ZeroMatrix(2, 2))
    module = built(sg.Model("branch", loss=sg.sum(safe), params=[x]))
    xv = np.array([[4.0, -1.0], [0.0, 0.25]])
    with np.errstate(divide="ignore", invalid="ignore"):
        loss, (dx,) = module.value_and_grad(xv)
    assert loss == 2.0 + 0.5
    np.testing.assert_array_equal(dx, [[0.25, 0.0], [0.0, 1.0]])   # 0 at x = 0, not 0 * inf


def test_abs_sqrt_and_norms_match_torch():
    W, X = sg.Param("W", n, k), sg.Input("X", k, m)
    Z = W @ X
    loss = (sg.sum(sg.abs(Z)) + sg.sum(sg.sqrt(sg.abs(W) + 1)) + sg.norm(Z)
            + sg.sum(sg.norm(Z, axis=0)) + sg.mean(sg.norm(Z, axis=1)) + sg.norm(W[:, :1]))
    model = sg.Model("norms", loss=loss, params=[W], inputs=[X], hessian=True)

    def reference(W, X):
        Z = W @ X
        return (Z.abs().sum() + torch.sqrt(W.abs() + 1).sum() + torch.linalg.norm(Z)
                + torch.linalg.norm(Z, dim=0, keepdim=True).sum()
                + torch.linalg.norm(Z, dim=1, keepdim=True).mean() + torch.linalg.norm(W[:, :1]))
    agrees_with_torch(model, built(model), reference, {"n": 4, "k": 3, "m": 5})
    assert sg.norm(W, axis=0).shape == (1, k) and sg.norm(W, axis=1).shape == (n, 1)


def test_elementwise_helpers_work_on_scalars_too():
    a = sg.Param("a")
    assert sg.maximum(a, 1) == sp.Piecewise((a, a > 1), (1, True))
    assert sg.where(a > 0, a, 0) == sp.Piecewise((a, a > 0), (0, True))
    assert sg.abs(a) == sp.Abs(a) and sg.max(a) == a and sg.norm(a) == sp.Abs(a)
    module = built(sg.Model("scalars", loss=sg.maximum(a, 1) * sg.sqrt(sg.abs(a)), params=[a]))
    value, (da,) = module.value_and_grad(4.0)
    assert value == 8.0 and np.isclose(da, 1 / 4 * 4 + 2)       # d(a sqrt a) = 3/2 sqrt a


# ---- slices -----------------------------------------------------------------------------
def test_what_sympy_indexing_gives():
    A = sg.Param("A", n, m)
    assert isinstance(A[:, 0:k], sp.MatrixSlice) and A[:, 0:k].shape == (n, k)
    # NumPy's 1-d row 2: the SymPy node of the (1, m) row A[2:3, :], but its .T is itself
    assert A[2, :].shape == (1, m) and plain(A[2, :]) == plain(A[2:3, :])
    assert A[2, :].T == A[2, :] and A[2:3, :].T.shape == (m, 1)
    assert A[0:k, :].shape == (k, m) and A[:, 0].shape == (1, n)   # NumPy: 1-d, a row
    assert not isinstance(A[1, 2], sp.MatrixExpr)                   # an entry is a scalar


def test_slices_with_integer_and_symbolic_bounds_match_torch():
    A, B, X = sg.Param("A", n, m), sg.Param("B", k, m), sg.Input("X", m, m)
    C = sg.Param("C", 4, 6)
    loss = (sg.sum(sg.tanh(A[:, 0:k] @ B[:, :k])) + sg.sum(sp.HadamardProduct(A[1, :], A[0, :]))
            + A[0, 1] * sg.sum(A[n - 1, :]) + sg.sum(sg.tanh(A[0:2, :] @ X[:, 1:3]))
            + sg.sum(sp.HadamardPower(B[:, k:], 2)) + sg.sum(sg.exp(C[:, ::2]))
            + sg.sum(sg.tanh(C[1:, 1:5:2] @ C[::2, 2:4].T)))
    model = sg.Model("slices", loss=loss, params=[A, B, C], inputs=[X], hessian=True)

    def reference(A, B, C, X):
        kk = B.shape[0]
        return (torch.tanh(A[:, :kk] @ B[:, :kk]).sum() + (A[1:2] * A[0:1]).sum()
                + A[0, 1] * A[-1].sum() + torch.tanh(A[0:2] @ X[:, 1:3]).sum()
                + (B[:, kk:] ** 2).sum() + torch.exp(C[:, ::2]).sum()
                + torch.tanh(C[1:, 1:5:2] @ C[::2, 2:4].T).sum())
    module = built(model)
    agrees_with_torch(model, module, reference, {"n": 4, "m": 5, "k": 2})
    agrees_with_torch(model, module, reference, {"n": 3, "m": 6, "k": 4}, seed=1)


def test_a_slices_adjoint_is_accumulated_in_place_not_formed_from_zeros_per_slice():
    L = 7
    W1, X, K = sg.Param("W1", L, k), sg.Input("X", k, m), sg.Param("K", 2, 3)
    H = sg.tanh(W1 @ X)
    loss = sg.sum(sg.tanh(sg.concat([K @ H[t:t + 3, :] for t in range(L - 2)], axis=0)))
    source = module_source(derive(sg.Model("conv", loss=loss, params=[W1, K], inputs=[X])))
    body = source[source.index("def value_and_grad"):]
    assert body.count("np.zeros(") == 1                         # one array for dH ...
    assert body.count("] += _matmul(K.T, ") == L - 2              # ... each window added into it
    assert "np.pad" not in body and "np.concatenate" in body


def test_convolution_windows_in_both_layouts_derive_certify_and_match_torch_conv1d():
    L, w, c = 7, 3, 2
    P = L - w + 1
    W1, K = sg.Param("W1", L, k), sg.Param("K", c, w)
    # examples as columns: windows of the L hidden rows
    X = sg.Input("X", k, m)
    H = sg.tanh(W1 @ X)
    Z = sg.concat([K @ H[t:t + w, :] for t in range(P)], axis=0)           # (P c, m)
    V = sg.Param("V", 1, P * c)
    cols = sg.Model("conv_cols", loss=sg.sum(sg.tanh(V @ sg.tanh(Z))), params=[W1, K, V],
                    inputs=[X], hessian=True)

    def conv_cols(W1, K, V, X):
        H = torch.tanh(W1 @ X)                                              # (L, m)
        out = F.conv1d(H.T[:, None, :], K[:, None, :])                      # (m, c, P)
        Z = out.permute(2, 1, 0).reshape(P * c, -1)                         # row t c + c'
        return torch.tanh(V @ torch.tanh(Z)).sum()
    agrees_with_torch(cols, built(cols), conv_cols, {"k": 3, "m": 4})
    # examples as rows: windows of the L hidden columns, side by side
    Xr = sg.Input("Xr", m, k)
    Hr = sg.tanh(Xr @ W1.T)
    Zr = sg.concat([Hr[:, t:t + w] @ K.T for t in range(P)], axis=1)       # (m, P c)
    rows = sg.Model("conv_rows", loss=sg.sum(sg.tanh(sg.tanh(Zr) @ V.T)), params=[W1, K, V],
                    inputs=[Xr])

    def conv_rows(W1, K, V, Xr):
        out = F.conv1d(torch.tanh(Xr @ W1.T)[:, None, :], K[:, None, :])    # (m, c, P)
        Z = out.permute(0, 2, 1).reshape(Xr.shape[0], P * c)                # column t c + c'
        return torch.tanh(torch.tanh(Z) @ V.T).sum()
    agrees_with_torch(rows, built(rows), conv_rows, {"k": 3, "m": 4})


def test_a_sum_over_slices_times_scalar_weights_is_a_convolution():
    L = 6
    x, w = sg.Input("x", L, m), [sg.Param(f"w{t}") for t in range(3)]
    y = sp.MatAdd(*[w[t] * x[t:t + L - 2, :] for t in range(3)])
    model = sg.Model("taps", loss=sg.sum(sg.tanh(y)), params=w, inputs=[x])

    def reference(w0, w1, w2, x):
        return torch.tanh(F.conv1d(x.T[:, None, :], torch.stack([w0, w1, w2])[None, None])).sum()
    agrees_with_torch(model, built(model), reference, {"m": 5})


# ---- concatenation and block matrices -----------------------------------------------------
def test_concat_and_block_matrices_of_2x1_1x2_and_2x2_blocks_match_torch_cat():
    A, B = sg.Param("A", n, m), sg.Param("B", k, m)
    C, D = sg.Param("C", n, k), sg.Param("D", k, k)
    X = sg.Input("X", n + k, m)
    stacked = sg.concat([A, B], axis=0)                             # (n + k, m)
    side = sg.concat([A, C], axis=1)                                # (n, m + k)
    blocks = sp.BlockMatrix([[A, C], [B, D]])                       # (n + k, m + k)
    ones = sg.concat([A, sp.OneMatrix(1, m)], axis=0)               # a row of ones appended
    loss = (sg.sum(sg.tanh(sp.HadamardProduct(stacked, X))) + sg.sum(sg.tanh(side @ side.T))
            + sg.sum(sg.sin(blocks)) + sp.Trace(blocks @ blocks.T @ blocks @ blocks.T)
            + sg.sum(sg.tanh(ones.T @ ones)))
    model = sg.Model("blocks", loss=loss, params=[A, B, C, D], inputs=[X], hessian=True)

    def reference(A, B, C, D, X):
        stacked, side = torch.cat([A, B], 0), torch.cat([A, C], 1)
        blocks = torch.cat([torch.cat([A, C], 1), torch.cat([B, D], 1)], 0)
        ones = torch.cat([A, torch.ones(1, A.shape[1], dtype=A.dtype)], 0)
        return (torch.tanh(stacked * X).sum() + torch.tanh(side @ side.T).sum()
                + torch.sin(blocks).sum() + torch.trace(blocks @ blocks.T @ blocks @ blocks.T)
                + torch.tanh(ones.T @ ones).sum())
    assert stacked.shape == (n + k, m) and side.shape == (n, m + k)
    agrees_with_torch(model, built(model), reference, {"n": 3, "k": 2, "m": 4})


# ---- matrix powers --------------------------------------------------------------------------
def test_matrix_powers_derive_and_match_torch_and_the_cookbook():
    M, W, X = sg.Param("M", n, n), sg.Param("W", n, n), sg.Input("X", n, m)
    loss = sp.Trace(sg.matrix_power(M, 3)) + sg.sum(sg.tanh(sg.matrix_power(W, 2) @ X)) \
        + sg.sum(sp.MatPow(W, 5))
    model = sg.Model("powers", loss=loss, params=[M, W], inputs=[X], hessian=True)
    mp = torch.linalg.matrix_power

    def reference(M, W, X):
        return torch.trace(mp(M, 3)) + torch.tanh(mp(W, 2) @ X).sum() + mp(W, 5).sum()
    values, (dM, _) = agrees_with_torch(model, built(model), reference, {"n": 3, "m": 4})
    M0 = values["M"]            # The Matrix Cookbook: d tr(M^k)/dM = k (M^(k-1))^T
    assert relative_error(dM, 3 * np.linalg.matrix_power(M0, 2).T) <= 1e-12
    zeroth = sg.matrix_power(M, 0)                  # a MatPow (a symgrad array: its class)
    assert isinstance(zeroth, sp.MatPow) and zeroth.args == (M, 0)
    assert sg.matrix_power(M, 1).shape == (n, n)


def test_the_trace_of_a_matrix_polynomial_has_the_cookbooks_gradient():
    # d tr(p(X))/dX = p'(X)^T, here p the sine's series to X^5/120 and p' the cosine's
    X = sg.Param("X", n, n)
    p = sp.MatAdd(X, -sp.Rational(1, 6) * sg.matrix_power(X, 3),
                  sp.Rational(1, 120) * sg.matrix_power(X, 5))
    module = built(sg.Model("series", loss=sp.Trace(p), params=[X]))
    X0 = 0.5 * RNG.standard_normal((3, 3))
    _, (dX,) = module.value_and_grad(X0)
    mp = np.linalg.matrix_power
    assert relative_error(dX, (np.eye(3) - mp(X0, 2) / 2 + mp(X0, 4) / 24).T) <= 1e-12


# ---- the trace of an elementwise function -------------------------------------------------
def test_the_trace_of_an_elementwise_sine_is_computed_on_the_diagonal():
    # elementwise, tr(sin(X)) = sum_i sin(X_ii), so d/dX = I * cos(X) (the Cookbook's
    # cos(X)^T is for the matrix sine, the series above)
    X = sg.Param("X", n, n)
    loss = sp.Trace(X.applyfunc(sp.sin)) + sp.Trace(sg.cos(X @ X.T)) * sg.sum(X)
    model = sg.Model("trace_sin", loss=loss, params=[X], hessian=True)

    def reference(X):
        return torch.trace(torch.sin(X)) + torch.trace(torch.cos(X @ X.T)) * X.sum()
    values, _ = agrees_with_torch(model, built(model), reference, {"n": 4})
    module = built(sg.Model("trace_sin_only", loss=sp.Trace(sg.sin(X)), params=[X]))
    X0 = values["X"]
    _, (dX,) = module.value_and_grad(X0)
    np.testing.assert_allclose(dX, np.eye(4) * np.cos(X0), rtol=1e-15)
    body = module_source(derive(sg.Model("t", loss=sp.Trace(sg.sin(X)), params=[X])))
    body = body[body.index("def value_and_grad"):]
    assert "np.diagonal(X)" in body and "np.eye" not in body and "np.sin(X)" not in body


# ---- dtype and arguments ----------------------------------------------------------------------
def test_float32_in_gives_float32_out_through_selections_slices_and_reductions():
    W, X = sg.Param("W", n, k), sg.Input("X", k, m)
    Z = W @ X
    loss = (sg.sum(sg.where(sg.greater(Z, 0), Z, sp.ZeroMatrix(n, m)))
            + sg.sum(sg.maximum(Z, 0)) + sg.max(Z) + sg.sum(sg.max(Z, axis=1))
            + sg.sum(sg.tanh(sg.concat([Z[:1, :], Z], axis=0))) + sg.norm(W[:, :1]))
    module = built(sg.Model("f32", loss=loss, params=[W], inputs=[X]))
    args = [RNG.standard_normal((3, 2)).astype(np.float32),
            RNG.standard_normal((2, 4)).astype(np.float32)]
    loss32, (dW,) = module.value_and_grad(*args)
    assert np.result_type(loss32) == np.float32 and dW.dtype == np.float32
    _, (dW64,) = module.value_and_grad(*[a.astype(np.float64) for a in args])
    assert relative_error(dW, dW64) < 1e-5


# ---- misuse: one-line errors naming the fix ---------------------------------------------------
def test_a_wrong_axis_is_refused_by_name():
    A = sg.Param("A", n, m)
    for f in (sg.max, sg.min, sg.norm):
        with pytest.raises(SymgradError, match=r"axis=2 is not an axis of a matrix: give "
                           r"axis=None"):
            f(A, axis=2)
    with pytest.raises(SymgradError, match="axis=None would flatten"):
        sg.concat([A, A], axis=None)


def test_an_out_of_range_slice_is_refused_when_building_it_and_at_run_time():
    W = sg.Param("W", 3, 4)
    with pytest.raises(SymgradError, match=r"index \[0:5, :\] is out of range for W, which is "
                       r"\(3, 4\)"):
        W[0:5, :]
    A = sg.Param("A", n, m)
    with pytest.raises(SymgradError, match=r"index \[:, 0:m \+ 1\] is out of range"):
        A[:, 0:m + 1]
    # bounds in the dimensions are checked where the module runs: NumPy would take fewer
    module = built(sg.Model("window", loss=sg.sum(A[:, :k]) + sg.sum(sg.Param("B", k, 1)),
                            params=[A, sg.Param("B", k, 1)]))
    with pytest.raises(ValueError, match=r"the slice \[:, :k\] of A needs k <= m, but k = 5, "
                       r"m = 4"):
        module.value_and_grad(np.ones((2, 4)), np.ones((5, 1)))


def test_a_slice_bound_that_is_no_dimension_or_a_bad_step_is_refused_at_derive_time():
    A = sg.Param("A", n, m)
    i = sp.Symbol("i", integer=True, nonnegative=True)
    with pytest.raises(SymgradError, match="has a bound in i, which is not a dimension"):
        derive(sg.Model("bad", loss=sg.sum(A[i, :]), params=[A]))
    with pytest.raises(SymgradError, match="the bounds of a strided slice integers"):
        derive(sg.Model("bad", loss=sg.sum(A[:, ::2]), params=[A]))
    C = sg.Param("C", 3, 5)                  # SymPy says C[:, ::2] is (3, 2): it is (3, 3)
    with pytest.raises(SymgradError, match=r"takes \(3, 3\) entries but SymPy gives it the "
                       r"shape \(3, 2\).*use a step that divides"):
        derive(sg.Model("bad", loss=sg.sum(C[:, ::2]), params=[C]))


def test_mismatched_concat_shapes_are_refused_naming_both_blocks():
    A, B = sg.Param("A", n, m), sg.Param("B", k, n)
    with pytest.raises(SymgradError, match=r"sg.concat along axis 0: the blocks must have the "
                       r"same number of columns: A is \(n, m\) but B is \(k, n\)"):
        sg.concat([A, B], axis=0)
    with pytest.raises(SymgradError, match="same number of rows"):
        sg.concat([A, B], axis=1)
    with pytest.raises(SymgradError, match="give a list of matrices"):
        sg.concat([A, sg.Param("s")], axis=0)


def test_a_matrix_power_of_a_non_square_matrix_is_refused_naming_the_fix():
    A = sg.Param("A", n, m)
    fix = r"A is \(n, m\), not square, so it cannot multiply itself; for the elementwise power " \
          r"write sp.HadamardPower\(A, 2\)"
    with pytest.raises(SymgradError, match=fix):
        sg.matrix_power(A, 2)
    with pytest.raises(SymgradError, match=fix):          # SymPy builds it; symgrad refuses it
        derive(sg.Model("bad", loss=sg.sum(sp.MatPow(A, 2)), params=[A]))
    with pytest.raises(SymgradError, match="needs an integer exponent"):
        sg.matrix_power(sg.Param("S", n, n), sp.Rational(1, 2))


def test_a_comparison_is_a_condition_for_where_and_nothing_else():
    A = sg.Param("A", n, m)
    with pytest.raises(SymgradError, match="is a condition, not a value: use it as the first "
                       "argument of sg.where"):
        derive(sg.Model("bad", loss=sg.sum(sg.greater(A, 0)), params=[A]))
    with pytest.raises(SymgradError, match="sg.where: the condition `A` is not a comparison"):
        sg.where(A, A, 0)
    with pytest.raises(SymgradError, match="do not broadcast"):
        sg.maximum(A, sg.Param("B", k, 2))


def test_the_command_line_gives_a_one_line_error_for_an_out_of_range_slice(tmp_path):
    (tmp_path / "model.py").write_text(textwrap.dedent("""\
        import symgrad as sg
        W = sg.Param("W", 3, 4)
        model = sg.Model("bad", loss=sg.sum(W[:, 2:6]), params=[W])
        """))
    result = subprocess.run([sys.executable, "-m", "symgrad.cli", "derive", "model.py"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "symgrad: error: model.py:3: index [:, 2:6] is out of range for W, which is (3, 4): "
        "give rows and columns inside its shape"]


# ---- the LaTeX view -----------------------------------------------------------------------------
def test_the_derivation_shows_each_new_op_and_its_local_jacobian():
    W, X = sg.Param("W", n, k), sg.Input("X", k, m)
    H = sg.tanh(W @ X)
    loss = (sg.sum(sg.concat([sg.max(H[0:2, :], axis=0), H[2:3, :]], axis=0))
            + sg.sum(sg.maximum(H, 0)) + sp.Trace(sg.sin(W @ W.T)))
    text = sg.Model("view", loss=loss, params=[W], inputs=[X]).derivation().latex(steps=True)
    for expected in [r"\max_{\text{rows}}", r"\arg\max_{\text{rows}}", r"\operatorname{pad}_{",
                     r"\begin{bmatrix}", r"\max\left(", r"\operatorname{diag}",
                     r"\left[:2,\, :\right]"]:
        assert expected in text, expected


def test_the_readmes_snippet_runs():
    import re
    from pathlib import Path
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    snippet = re.search(r"\*\*Reductions, selections, slices and concatenation\*\*.*?```python\n"
                        r"(.*?)```", readme, re.S).group(1)
    namespace = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    assert np.isfinite(namespace["value"]) and namespace["dK"].shape == (2, 3)


def test_where_of_one_branch_twice_and_maximum_of_a_with_itself_derive():
    """An elementwise body that is a bare variable was taken for a condition (a SymPy Symbol
    is a Boolean): 'the comparison `A` is a condition, not a value'. Both are A itself:
    the gradient of sum(A**2) is 2 A."""
    A, X = sg.Param("A", n, m), sg.Input("X", n, m)
    a, x = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([[1.0, -1.0], [0.0, 2.0]])
    for body in (sg.where(sg.greater(X, 0), A, A), sg.maximum(A, A), sg.minimum(A, A)):
        module = built(sg.Model("same", loss=sg.sum(body ** 2), params=[A], inputs=[X]))
        value, (da,) = module.value_and_grad(a, x)
        assert np.isclose(value, np.sum(a ** 2)) and np.allclose(da, 2 * a)


def test_where_with_one_python_bool_for_arrays_is_refused():
    """X == 0 of symgrad arrays is SymPy's comparison of whole expressions (False), not one
    per entry: sg.where(X == 0, 0, A) was A everywhere."""
    A, X = sg.Param("A", n, m), sg.Input("X", n, m)
    with pytest.raises(sg.SymgradError, match="one Python bool, not a condition per entry"):
        sg.where(X == 0, 0, 2 * A)
