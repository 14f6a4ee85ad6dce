"""symgrad arrays follow NumPy's operators (issue 15, point 1): model files written as the
course writes NumPy derive, and agree with PyTorch's autograd of the same formulas written
in torch; a plain SymPy matrix keeps SymPy's meaning; mixing the two where the meanings
differ, or calling NumPy on a symbolic array, is refused in one line."""
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from helpers import certified as module_of

import symgrad as sg
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.testing import relative_error

torch = pytest.importorskip("torch")

n, m, k = sp.symbols("n m k", integer=True, positive=True)
rng = np.random.default_rng(15)


def agrees_with_torch(model, formula, values, rtol=1e-10):
    """The module's loss and gradients equal torch autograd of formula(**tensors)."""
    module = module_of(model)
    leaves = model.params + model.inputs
    args = [values[s.name] for s in leaves]
    value, grads = module.value_and_grad(*args)
    tensors = {s.name: torch.tensor(values[s.name], dtype=torch.float64,
                                    requires_grad=s in model.params) for s in leaves}
    want = formula(**tensors)
    want.backward()
    assert relative_error(value, want.item()) < rtol
    for p, g in zip(model.params, grads):
        assert relative_error(g, tensors[p.name].grad.numpy()) < rtol, p.name
    return module


# ---- the course's two-layer network, as its NumPy reads ----------------------------------------
def test_two_layer_network_in_the_course_spelling():
    X, Y = sg.Input("X", n, m), sg.Input("Y", 1, m)
    W1, b1, W2, b2 = sg.Param("W1", k, n), sg.Param("b1", k, 1), sg.Param("W2", 1, k), \
        sg.Param("b2", 1, 1)
    A1 = sg.tanh(W1 @ X + b1)
    A2 = sg.sigmoid(W2 @ A1 + b2)
    cost = -sg.sum(Y * sg.log(A2) + (1 - Y) * sg.log(1 - A2)) / m
    model = sg.Model("course", cost, [W1, b1, W2, b2], [X, Y])

    def formula(W1, b1, W2, b2, X, Y):
        A2 = torch.sigmoid(W2 @ torch.tanh(W1 @ X + b1) + b2)
        return -torch.sum(Y * torch.log(A2) + (1 - Y) * torch.log(1 - A2)) / X.shape[1]
    values = dict(W1=rng.standard_normal((4, 3)), b1=rng.standard_normal((4, 1)),
                  W2=rng.standard_normal((1, 4)), b2=rng.standard_normal((1, 1)),
                  X=rng.standard_normal((3, 6)), Y=(rng.random((1, 6)) > 0.5) * 1.0)
    module = agrees_with_torch(model, formula, values)
    # the simplification dZ2 = (A2 - Y)/m was found: logits of 800 give finite gradients
    values["W2"] = 200 * np.sign(values["W2"])
    value, grads = module.value_and_grad(*values.values())
    assert np.isfinite(value) and all(np.isfinite(g).all() for g in grads)


def test_inverted_dropout_and_the_tanh_derivative_as_the_course_writes_them():
    X, D = sg.Input("X", n, m), sg.Input("D", k, m)
    W1, W2 = sg.Param("W1", k, n), sg.Param("W2", 1, k)
    keep_prob = 0.8
    A1 = sg.tanh(W1 @ X)
    A1 = A1 * D / keep_prob
    cost = sg.sum((W2 @ A1) ** 2) / (2 * m) + sg.mean(1 - A1 ** 2)
    model = sg.Model("dropout", cost, [W1, W2], [X, D])

    def formula(W1, W2, X, D):
        A1 = torch.tanh(W1 @ X) * D / keep_prob
        return torch.sum((W2 @ A1) ** 2) / (2 * X.shape[1]) + torch.mean(1 - A1 ** 2)
    agrees_with_torch(model, formula, dict(
        W1=rng.standard_normal((4, 3)), W2=rng.standard_normal((1, 4)),
        X=rng.standard_normal((3, 5)), D=(rng.random((4, 5)) < keep_prob) * 1.0))


def test_examples_as_rows_with_a_row_bias():
    """cs231n's layout: scores = X @ W + b, b of shape (1, C), broadcast down the N rows."""
    X, Y = sg.Input("X", m, n), sg.Input("Y", m, k)
    W, b = sg.Param("W", n, k), sg.Param("b", 1, k)
    H = sg.tanh(X @ W + b)
    loss = sg.mean((H - Y) ** 2) + 0.5 * 1e-3 * sg.sum(W * W)
    model = sg.Model("rows", loss, [W, b], [X, Y])

    def formula(W, b, X, Y):
        return torch.mean((torch.tanh(X @ W + b) - Y) ** 2) + 0.5e-3 * torch.sum(W * W)
    agrees_with_torch(model, formula, dict(W=rng.standard_normal((3, 4)),
                                           b=rng.standard_normal((1, 4)),
                                           X=rng.standard_normal((6, 3)),
                                           Y=rng.standard_normal((6, 4))))


def test_batch_statistics_with_scalars_on_either_side():
    """var + eps, A / keep_prob, 1 - A, a scalar parameter scaling and shifting, a (1, 1)
    matrix broadcast both ways, x ** 3 and 2 ** x elementwise, a quotient of arrays."""
    Z, G = sg.Param("Z", n, m), sg.Input("G", n, m)
    s, c = sg.Param("s"), sg.Param("c", 1, 1)
    eps = 1e-5
    mu = sg.mean(Z, axis=1, keepdims=True)
    var = sg.mean((Z - mu) ** 2, axis=1, keepdims=True)
    Zn = (Z - mu) * (var + eps) ** -0.5
    out = s * Zn + c - 1 / (2 + Z ** 2) + 2 ** (Z / 4) + (Z ** 3) / 10 - c * Z / s
    loss = sg.sum(G * out) + sg.sum(Z, axis=0) @ sg.mean(G, axis=0).T
    model = sg.Model("stats", loss, [Z, s, c], [G])

    def formula(Z, s, c, G):
        mu = Z.mean(dim=1, keepdim=True)
        var = ((Z - mu) ** 2).mean(dim=1, keepdim=True)
        out = s * (Z - mu) / torch.sqrt(var + eps) + c - 1 / (2 + Z ** 2) + 2 ** (Z / 4) \
            + Z ** 3 / 10 - c * Z / s
        return torch.sum(G * out) + Z.sum(dim=0) @ G.mean(dim=0)
    agrees_with_torch(model, formula, dict(Z=rng.standard_normal((3, 5)), s=1.3,
                                           c=rng.standard_normal((1, 1)),
                                           G=rng.standard_normal((3, 5))), rtol=1e-9)


@pytest.mark.parametrize("axis,keepdims", [(None, False), (None, True), (0, False), (0, True),
                                           (1, True), (1, False), (-1, True)])
def test_sum_and_mean_along_an_axis_as_numpy(axis, keepdims):
    A, G = sg.Param("A", n, m), sg.Input("G", n, m)
    total, avg = sg.sum(A, axis=axis, keepdims=keepdims), sg.mean(A, axis, keepdims)
    # NumPy's shapes, a 1-D result taken as the row it broadcasts as
    want = {(None, False): (), (None, True): (1, 1), (0, False): (1, m), (0, True): (1, m),
            (1, True): (n, 1), (1, False): (1, n), (-1, True): (n, 1)}[axis, keepdims]
    assert getattr(total, "shape", ()) == want == getattr(avg, "shape", ())
    a0 = rng.standard_normal((3, 4))
    loss = sg.sum(sg.exp(total)) + sg.sum(avg ** 2) + sg.sum(G * A)
    model = sg.Model("axis", loss, [A], [G])

    def formula(A, G):
        kw = {} if axis is None else dict(dim=axis, keepdim=keepdims)
        return torch.sum(torch.exp(A.sum(**kw))) + torch.sum(A.mean(**kw) ** 2) \
            + torch.sum(G * A)
    agrees_with_torch(model, formula, dict(A=a0, G=rng.standard_normal((3, 4))))


def test_methods_and_numpy_scalars_as_numpy():
    A = sg.Param("A", n, m)
    loss = A.sum() + (np.float64(0.5) * A).mean() + A.T.sum(axis=0, keepdims=True).sum() \
        + sg.sum(A / np.float64(4.0))
    model = sg.Model("methods", loss, [A])
    agrees_with_torch(model, lambda A: A.sum() + (0.5 * A).mean() + A.T.sum() + (A / 4).sum(),
                      dict(A=rng.standard_normal((2, 3))))


# ---- plain SymPy keeps SymPy's meaning -------------------------------------------------------
def test_plain_sympy_matrices_keep_their_meaning():
    P, Q = sp.MatrixSymbol("P", n, n), sp.MatrixSymbol("Q", n, n)
    assert isinstance(P * Q, sp.MatMul) and isinstance(P ** 2, sp.MatPow)
    A, B = sg.Param("A", n, n), sg.Param("B", n, n)
    assert isinstance(A * B, sp.HadamardProduct) and isinstance(A ** 2, sp.HadamardPower)
    assert isinstance(A @ B, sp.MatMul) and isinstance(P @ A, sp.MatMul)
    assert isinstance(P + A, sp.MatAdd) and (P - A).shape == (n, n)


@pytest.mark.parametrize("build,words", [
    (lambda P, A: P * A, ["`*`", "plain SymPy matrix P", "use @"]),
    (lambda P, A: A * P, ["`*`", "use @", "both symgrad arrays"]),
    (lambda P, A: A / P, ["`/`", "inverse"]),
    (lambda P, A: P / A, ["`/`"]),
    (lambda P, A: A ** P, ["`**`"]),
    (lambda P, A: np.tanh(A), ["np.tanh", "sg.tanh(...)"]),
    (lambda P, A: np.exp(A), ["np.exp", "sg.exp(...)"]),
    (lambda P, A: np.clip(A, 0, 1), ["np.clip", "symgrad has no clip"]),
    (lambda P, A: A > 0, ["`A > ...`", "sg.greater(A, B)", "sg.where"]),
    (lambda P, A: A <= P, ["`A <= ...`", "sg.less_equal"]),
    (lambda P, A: A.__setitem__((0, 0), 1), ["not a buffer", "sg.where"]),
    (lambda P, A: A[np.arange(2), sg.Labels("y", m)], ["an index that is an array", "sg.pick"]),
    (lambda P, A: np.dot(A, A), ["np.dot", "A @ B"]),
    (lambda P, A: np.sum(A, axis=1), ["np.sum", "sg.sum"]),
    (lambda P, A: A * sg.Input("V", k, m), ["shape mismatch in an elementwise product",
                                            "A is (n, m) and V is (k, m)", "broadcast"]),
    (lambda P, A: A + sg.Input("V", m, 1), ["shape mismatch in a sum", "broadcast"]),
    (lambda P, A: A @ A, ["shape mismatch in a matrix product", "write `*`"]),
    (lambda P, A: sg.concat([A, P], axis=1) + A,             # as the model wrote it
     ["shape mismatch in a sum", "concat([A, P], axis=1) is (n, 2*m) and A is (n, m)"]),
    (lambda P, A: sg.concat([sg.sum(A, axis=0), A[0, :]]) @ A,       # 1-d: no axis
     ["matrix product", "concat([sum(A, axis=0), A[:1, :]]) is (2*m,)"]),
    (lambda P, A: 2 @ A, ["scalar", "use `*`"]),
    (lambda P, A: A * np.ones((2, 2)), ["NumPy array", "sg.Input"]),
    (lambda P, A: sg.sum(A, axis=2), ["sg.sum", "axis=2", "axis=None"]),
])
def test_mixing_meanings_is_refused_in_one_line(build, words):
    P, A = sp.MatrixSymbol("P", n, m), sg.Param("A", n, m)
    with pytest.raises(sg.SymgradError) as error:
        build(P, A)
    message = str(error.value)
    assert "\n" not in message and all(w in message for w in words), message


@pytest.mark.parametrize("line,words", [
    ("Z = np.tanh(W @ X)", ["model.py:6:", "np.tanh", "sg.tanh"]),
    ("Z = P * X", ["model.py:6:", "`*`", "use @"]),
    ("Z = W * X", ["model.py:6:", "shape mismatch in an elementwise product", "broadcast"]),
])
def test_errors_name_the_line_of_the_model_file(tmp_path, line, words):
    (tmp_path / "model.py").write_text(
        "import numpy as np\nimport sympy as sp\nimport symgrad as sg\n"
        "W, X = sg.Param('W', 3, 2), sg.Input('X', 2, 4)\nP = sp.MatrixSymbol('P', 4, 2)\n"
        f"{line}\n")
    result = subprocess.run([sys.executable, "-m", "symgrad.cli", "derive", "model.py"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), result.stderr


@pytest.mark.parametrize("line,words", [
    ("Z = sp.tanh(W @ X)\nmodel = sg.Model('m', sg.sum(Z), [W], [X])",
     ["model.py:7:", "sp.tanh applied to the matrix W*X", "sg.tanh"]),
    ("Z = sp.exp(P.T)\nmodel = sg.Model('m', sg.sum(Z), [P])",
     ["model.py:7:", "sp.exp", "sg.exp"]),
    ("Q = sp.MatrixSymbol('Q', sp.Symbol('n'), 2)\nmodel = sg.Model('m', sg.sum(Q**2), [Q])",
     ["model.py:7:", "matrix power", "not square", "sp.HadamardPower", "symgrad arrays"]),
    ("Z = P.T ** 2", ["model.py:6:", "non-square", "matrix power", "sp.HadamardPower"]),
    ("Z = P * P", ["model.py:6:", "matrix product", "P is (4, 2) but P is (4, 2)",
                   "sp.HadamardProduct"]),
])
def test_sympy_spellings_that_mean_something_else_are_refused_at_their_line(tmp_path, line,
                                                                                words):
    test_errors_name_the_line_of_the_model_file(tmp_path, line, words)


def test_batch_norm_as_cs231n_writes_its_forward_pass():
    """cs231n's batchnorm_forward (training): examples as rows, gamma and beta rows (1, D)."""
    N, D = sp.symbols("N D", integer=True, positive=True)
    x, G = sg.Param("x", N, D), sg.Input("G", N, D)        # dx is checked too
    gamma, beta = sg.Param("gamma", 1, D), sg.Param("beta", 1, D)
    eps = 1e-5
    sample_mean = sg.mean(x, axis=0)
    sample_var = sg.mean((x - sample_mean) ** 2, axis=0)
    x_hat = (x - sample_mean) / sg.sqrt(sample_var + eps)
    out = gamma * x_hat + beta
    model = sg.Model("bn", sg.sum(G * sg.tanh(out)), [gamma, beta, x], [G])

    def formula(gamma, beta, x, G):
        out = torch.nn.functional.batch_norm(x, None, None, gamma[0], beta[0], training=True,
                                             eps=eps)
        return torch.sum(G * torch.tanh(out))
    agrees_with_torch(model, formula, dict(gamma=rng.standard_normal((1, 4)),
                                           beta=rng.standard_normal((1, 4)),
                                           x=rng.standard_normal((6, 4)),
                                           G=rng.standard_normal((6, 4))))


def test_the_courses_float_constants_that_are_integers_print_as_integers():
    """-1. / m * np.sum(...) (the course's spelling) is -1/m, not 1.0*...: and 0.7 stays."""
    A = sg.Param("A", n, m)
    model = sg.Model("floats", -1. / m * sg.sum(A) + 0.7 * sg.sum(A ** 2.0), [A])
    floats = model.loss.atoms(sp.Float)
    assert floats == {sp.Float(0.7)}, floats
    assert "1.0" not in module_source(derive(model)).split('"""')[1]


# ---- indexing as NumPy indexes -------------------------------------------------------------------
INDEXED = {   # the same formula in symgrad and in torch (which indexes as NumPy does)
    "row": (lambda B, A: sg.sum(B[1] * 2) + sg.sum(A[-1] * A[0]),      # a[i]: row i
            lambda B, A: (B[1] * 2).sum() + (A[-1] * A[0]).sum()),
    "negative": (lambda B, A: sg.sum(B[-1, :] - B[1, -1]) + A[-2, -1] * A[0, -3],
                 lambda B, A: (B[-1, :] - B[1, -1]).sum() + A[-2, -1] * A[0, -3]),
    "column-as-row": (lambda B, A: sg.sum(sg.exp(A - A[:, 0])) + sg.sum(B[:, :3] * B[:, -1]),
                      lambda B, A: (A - A[:, 0]).exp().sum() + (B[:, :3] * B[:, -1]).sum()),
    "last column, symbolic": (lambda B, A: sg.sum(A * A[:, -1]) + sg.sum(A * A[:, n - 2])
                              + B[0, 0],
                              lambda B, A: (A * A[:, -1]).sum() + (A * A[:, -2]).sum() + B[0, 0]),
    "numpy integer": (lambda B, A: sg.sum(B[np.int64(2)] ** 2) + A[0, 0],
                      lambda B, A: (B[2] ** 2).sum() + A[0, 0]),
}


@pytest.mark.parametrize("case", INDEXED)
def test_indexing_follows_numpy(case):
    """B[i] is NumPy's row i (SymPy's B[i] is the i-th entry in row-major order: it gave
    2*B[0, 1] for sum(B[1]*2), and symgrad check passed it); a negative index counts from the
    end; A[:, j], 1-d in NumPy, broadcasts as a row (A - A[:, 0] subtracts A[j, 0] from
    column j)."""
    ours, theirs = INDEXED[case]
    B, A = sg.Param("B", 3, 6), sg.Param("A", n, n)
    model = sg.Model("index", loss=ours(B, A), params=[B, A])
    values = {"B": rng.standard_normal((3, 6)), "A": rng.standard_normal((4, 4))}
    agrees_with_torch(model, theirs, values)


def test_a_column_index_beside_a_matrix_of_other_width_is_refused_as_numpy_does():
    A = sg.Param("A", n, m)
    with pytest.raises(sg.SymgradError, match=r"shape mismatch in a sum: A is \(n, m\)"):
        A - A[:, 0]


@pytest.mark.parametrize("build, says", [
    (lambda W, A: W @ sg.sum(A, axis=0), r"W is \(k, n\) but sum\(A, axis=0\) is \(m,\)"),
    (lambda W, A: A - sg.sum(A, axis=1), r"-sum\(A, axis=1\) is \(n,\)"),
    (lambda W, A: sg.sum(sg.sum(A, axis=1), axis=1), r"^sg.sum: axis=1 of sum\(A, axis=1\), "
                                                     r"which is 1-d .*AxisError.*keepdims=True"),
    (lambda W, A: sg.softmax(A[0], axis=1), r"^sg.softmax: axis=1 of A\[:1, :\], which is 1-d"),
    (lambda W, A: sg.sum(A, axis=1)[1, 2], r"too many indices: sum\(A, axis=1\) is 1-d"),
    (lambda W, A: sg.concat([A[0], A]), r"^sg.concat: A\[:1, :\] is 1-d and A 2-d"),
    (lambda W, A: A[:, None], r"^A\[:, None\]: a new axis .* more than 2-d.*v\[:, None\] is"),
    (lambda W, A: sg.sum(A, axis=0)[None, None], r"sum\(A, axis=0\), which is \(m,\), more"),
    (lambda W, A: sg.softmax(A, axis=2), r"^sg.softmax: axis=2"),
    (lambda W, A: sg.log_softmax(A, axis=2), r"^sg.log_softmax: axis=2"),
])
def test_refusals_name_what_the_model_wrote(build, says):
    """A sum was shown as SymPy's product with ones, (A*1).T; softmax's axis error named
    sg.sum; a 1-d is named as the model wrote it (no .T) and shaped as NumPy shapes it."""
    W, A = sg.Param("W", k, n), sg.Param("A", n, m)
    with pytest.raises(sg.SymgradError, match=says) as error:
        build(W, A)
    assert "*1" not in str(error.value)


@pytest.mark.parametrize("index, says", [
    (lambda B, A: B[-4, 0], "index \\[-4, 0\\] is out of range for B"),   # (was wrapped twice)
    (lambda B, A: B[1:2, :][1], "NumPy's \\[1\\] is a whole row of a 2-d array, one entry of"),
    (lambda B, A: A[1][1:3], "SymPy cannot index this slice with symbolic bounds"),
])
def test_indexing_numpy_would_read_otherwise_is_refused(index, says):
    """B[-4] of 3 rows was row 2 (-4 + 3, then SymPy's own wrap); B[1:2, :][i], a 2-d (1, 6)
    row indexed once, is NumPy's row i, which reads as an entry; a slice of a slice with
    symbolic bounds raised SymPy's TypeError."""
    B, A = sg.Param("B", 3, 6), sg.Param("A", n, n)
    with pytest.raises(sg.SymgradError, match=says):
        index(B, A)


# ---- elementwise helpers of a 1 x 1 array -------------------------------------------------------
TORCH_OF = {"relu": torch.relu, "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
            "elu": torch.nn.functional.elu, "selu": torch.nn.functional.selu,
            "hardtanh": torch.nn.functional.hardtanh, "gelu": torch.nn.functional.gelu,
            "mish": torch.nn.functional.mish, "swish": torch.nn.functional.silu,
            "softsign": torch.nn.functional.softsign, "sqrt": torch.sqrt, "abs": torch.abs,
            "tanh": torch.tanh}


@pytest.mark.parametrize("name", TORCH_OF)
def test_an_elementwise_helper_of_a_one_by_one_array_is_elementwise(name):
    """SymPy's constructor applied relu, gelu, ... to a 1 x 1 matrix itself: a raw ValueError
    or NotImplementedError, and for sqrt and abs a refusal about a matrix power or `*`."""
    c, w, x = sg.Param("c", 1, 1), sg.Param("w", 1, n), sg.Input("x", n, 1)
    f, sign = getattr(sg, name), 1 if name == "sqrt" else -1      # both signs where defined
    loss = sg.sum(f(c * c + 0.3 * sign)) + sg.sum(f(sign * (w @ x)))
    model = sg.Model("one_by_one", loss, [c, w], [x])
    agrees_with_torch(model, lambda c, w, x: TORCH_OF[name](c * c + 0.3 * sign).sum()
                      + TORCH_OF[name](sign * (w @ x)).sum(),
                      dict(c=np.array([[0.9]]), w=rng.random((1, 4)), x=rng.random((4, 1))))


# ---- NumPy's 1-d: A[i], A[:, j], reductions without keepdims ----------------------------------
ONE_D = {   # the same formula in symgrad and in torch (whose 1-d tensors are NumPy's)
    # v.T of a 1-d is v: it was the column (n, 1), broadcast along the rows of M, and
    # `symgrad check` passed the wrong loss (it checks the code against symgrad's reading)
    "transpose is a no-op": (lambda A, M, W, G: sg.sum(sg.sum(A, axis=1).T * M)
                             + sg.sum(A[:, 1].T * M) + sg.sum(A[2].transpose() * M),
                             lambda A, M: (A.sum(1) * M).sum() + (A[:, 1] * M).sum()
                             + (A[2] * M).sum()),
    "scalars and functions keep it 1-d": (
        lambda A, M, W, G: sg.sum((2 * sg.sum(A, axis=1)).T * M)
        + sg.sum((sg.mean(A, axis=0) / 3 - 1).T * M) + sg.sum(sg.tanh(A[0]).T * M)
        + sg.sum(sg.maximum(A[:, 0], 0).T * M) + sg.sum((A[0] * A[1]).T * M),
        lambda A, M: (2 * A.sum(1) * M).sum() + ((A.mean(0) / 3 - 1) * M).sum()
        + (torch.tanh(A[0]) * M).sum() + (torch.clamp(A[:, 0], min=0) * M).sum()
        + (A[0] * A[1] * M).sum()),
    "keepdims stays 2-d": (lambda A, M, W, G: sg.sum(sg.sum(A, 0, keepdims=True).T * M)
                           + sg.sum(sg.sum(A, 0).T * M) + sg.sum(A[:, 1:2].T * M),
                           lambda A, M: (A.sum(0, keepdim=True).T * M).sum()
                           + (A.sum(0) * M).sum() + (A[:, 1:2].T * M).sum()),
    "matrix @ 1-d": (lambda A, M, W, G: sg.sum(sg.tanh(W @ sg.sum(A, axis=1)) * G)
                     + sg.sum((sg.mean(A, axis=0) @ M) * (M @ A[0])),
                     lambda A, M, W, G: (torch.tanh(W @ A.sum(1)) * G).sum()
                     + ((A.mean(0) @ M) * (M @ A[0])).sum()),
    "inner product": (lambda A, M, W, G: sg.mean(A, axis=0) @ sg.sum(M, axis=0)
                      + A[0] @ A[:, 2].T + sg.sum(A, axis=1) @ A[1] * sg.sum(A),
                      lambda A, M: A.mean(0) @ M.sum(0) + A[0] @ A[:, 2]
                      + A.sum(1) @ A[1] * A.sum()),
    "entries and slices": (lambda A, M, W, G: sg.sum(A, axis=1)[1] * sg.mean(A, axis=0)[-1]
                           + sg.sum(sg.exp(sg.sum(A, axis=0)[1:3]) * A[:, 2][:2]) + A[1, 1:][0],
                           lambda A: A.sum(1)[1] * A.mean(0)[-1]
                           + (A.sum(0)[1:3].exp() * A[:, 2][:2]).sum() + A[1, 1:][0]),
    # v[:, None] was refused as "an index that is an array"
    "a new axis makes it 2-d": (
        lambda A, M, W, G: sg.sum(sg.sum(A, axis=1)[:, None] * M)
        + sg.sum(A[0][None, :].T * M) + sg.sum(sg.mean(A, axis=0)[None] * M),
        lambda A, M: (A.sum(1)[:, None] * M).sum() + (A[0][None, :].T * M).sum()
        + (A.mean(0)[None] * M).sum()),
    "reductions along its axis": (
        lambda A, M, W, G: sg.sum(sg.sum(A, axis=1), axis=0) * sg.mean(A[0], -1)
        + sg.logsumexp(sg.concat([sg.sum(A, axis=1), sg.mean(M, axis=0)]))
        + sg.sum(sg.softmax(A[1]) * sg.mean(A, axis=1, keepdims=True))
        + sg.max(A[:, 0], axis=0) + sg.norm(A[2], axis=0)
        + sg.sum(sg.sum(A[0], axis=0, keepdims=True) * M),
        lambda A, M: A.sum(1).sum(0) * A[0].mean(-1)
        + torch.logsumexp(torch.cat([A.sum(1), M.mean(0)]), 0)
        + (torch.softmax(A[1], 0) * A.mean(1, keepdim=True)).sum()
        + A[:, 0].max(0).values + A[2].norm(dim=0)
        + (A[0].sum(0, keepdim=True) * M).sum()),
}


@pytest.mark.parametrize("case", ONE_D)
def test_one_d_arrays_follow_numpy(case):
    """What NumPy makes 1-d is held as the (1, n) row it broadcasts as, with NumPy's meaning
    where a 1-d and a row differ: .T is itself, W @ v takes v as a column, u @ v is the inner
    product, v[i] an entry, an axis-0 reduction all its entries; keepdims=True and A[:, j:j+1]
    stay 2-d."""
    ours, theirs = ONE_D[case]
    A, M = sg.Param("A", n, n), sg.Param("M", n, n)
    W, G = sg.Param("W", k, n), sg.Input("G", k, k)
    loss = ours(A, M, W, G)
    model = sg.Model("one_d", loss, [p for p in (A, M, W) if loss.has(p)],
                     [G] if loss.has(G) else [])
    values = {"A": rng.standard_normal((4, 4)), "M": rng.standard_normal((4, 4)),
              "W": rng.standard_normal((3, 4)), "G": rng.standard_normal((3, 3))}
    agrees_with_torch(model, theirs, values)
