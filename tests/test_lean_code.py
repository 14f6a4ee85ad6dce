"""What makes generated code fast and lean: shared calls once, cheap forms of powers and ReLU
masks, arrays reused in place without touching the caller's, and dtypes kept."""
import re

import numpy as np
import pytest
import sympy as sp
from conftest import EXAMPLES, ROOT, derived
from helpers import assert_same_results, fresh_names, module_args

import symgrad as sg
from symgrad.codegen import module_source
from symgrad.liveness import reuse_and_free
from symgrad.derive import derive
from symgrad.printing.numpy import HELPERS
from symgrad.testing import load_module, random_instance

m, n = sp.symbols("m n", integer=True, positive=True)
STEMS = [p.stem for p in EXAMPLES if derived(p)[0][0].params]


def _function_text(source, name, kind="def"):
    """The text of one function (or class) of a generated module, from its def to the next
    definition."""
    text = source[source.index(f"\n{kind} {name}" + "(:"[kind == "class"]) + 1:]
    return re.split("\n\n\n(?:def|class) ", text)[0].rstrip()


def _body(source, function="value_and_grad"):
    """The code (not the docstring) of one generated function, after that of the forward pass
    it starts with (_forward_pass), if it calls one."""
    text = source[source.index(f"def {function}("):]
    text = text[text.index('"""', text.index('"""') + 3) + 3:].split("\ndef ")[0]
    if " = _forward_pass(" in text and function != "_forward_pass":
        return _body(source, "_forward_pass") + text
    return text


@pytest.mark.parametrize("stem", STEMS)
def test_value_and_grad_leaves_its_arguments_unchanged(example, stem):
    model, _, _, module = example(stem)
    args = module_args(model, module)
    before = [np.copy(a) for a in args]
    module.value_and_grad(*args)
    code = module.forward.__code__           # forward takes only the inputs its outputs read
    wanted = code.co_varnames[:code.co_argcount]
    module.forward(**{k: a for k, a in zip(module.PARAMS + module.INPUTS, args) if k in wanted})
    for name, a, b in zip(module.PARAMS + module.INPUTS, args, before):
        assert np.array_equal(a, b), name


def test_swish_and_gelu_each_evaluate_one_sigmoid(example):
    # GELU's z*(1 + tanh(u))/2 is z*sigmoid(2u): its derivative's 1 - tanh(u)**2 and
    # tanh(u)/2 + 1/2 use the same sigmoid, and the cheaper exp-based sigmoid replaces tanh
    body = _body(example("custom_activation")[2])
    assert body.count("_sigmoid(") == 2
    assert body.count("np.tanh(") == 0
    assert "**3" not in body                  # cubes as products: NumPy fast-paths x**2 only


def test_a_tanh_used_bare_stays_tanh(example):
    # 2*sigmoid(2z) - 1 would lose the relative accuracy of tanh(z) near z = 0
    assert "A1 = np.tanh(Z1, Z1)" in _body(example("two_layer")[2])


def test_cube_gradient_matches_hand_formula():
    Z = sg.Param("Z", n, m)
    module = load_module(module_source(derive(sg.Model("cube", sg.sum(sp.HadamardPower(Z, 3)),
                                                       [Z]))))
    z = np.random.default_rng(0).standard_normal((3, 4))
    loss, (dz,) = module.value_and_grad(z)
    assert np.isclose(loss, np.sum(z**3)) and np.allclose(dz, 3 * z**2)


def test_relu_backward_masks_the_output_so_z_is_freed(example):
    body = _body(example("deep_relu")[2])
    assert "np.heaviside" not in body
    assert "dZ1 = np.multiply(dA1, A1 > 0, dA1)" in body
    assert re.search(r"A1 = np.maximum\(0.0, Z1, out=Z1\)\n    Z2 = ", body)   # no del Z1 here
    assert "dZ1 = np.multiply(dA1, A1 > 0, dA1)\n    del A1\n" in body   # but here


@pytest.mark.parametrize("faster", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,inner,cols,wide", [
    (64, 300, 512, True),      # wide and large: b.T @ a.T into its transpose if faster
    (64, 1, 512, True),        # a column times a row
    (512, 300, 64, False),     # taller than wide: always row-major
    (8, 4, 32, False),         # wide but below 2**14 entries
])
def test_matmul_helper_lays_out_products_by_shape(faster, dtype, rows, inner, cols, wide):
    namespace = {"np": np}
    exec(HELPERS["_Layout"], namespace)
    exec(HELPERS["_matmul"], namespace)
    for kind in (False, True):        # as if measured: columns faster, or not
        namespace["_Layout"].faster[np.dtype(dtype), np.dtype(dtype), kind] = faster
    column_major = wide and faster
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, inner)).astype(dtype)
    b = rng.standard_normal((cols, inner)).astype(dtype).T          # a transposed operand
    product = namespace["_matmul"](a, b)
    reference = a.astype(np.float64) @ b.astype(np.float64)
    assert product.dtype == dtype and product.shape == (rows, cols)
    bound = inner * np.finfo(dtype).eps * (abs(a) @ abs(b)).max()     # rounding of the sums
    assert np.abs(product - reference).max() <= bound
    assert product.flags.owndata     # not a view: NumPy may reuse it for x*y in place
    assert product.flags.f_contiguous if column_major else product.flags.c_contiguous


def test_the_sigmoid_is_computed_in_the_dying_logit_and_a_minus_y_in_it(example):
    source = example("two_layer")[2]
    assert "A2 = _sigmoid(Z2, out=Z2)\n" in _body(source, "forward")
    # value_and_grad takes it from the loss's softplus, in that array (symgrad/fusion.py)
    body = _body(source, "value_and_grad")
    assert "t2 = np.logaddexp(0.0, Z2)\n" in body and "A2 = np.negative(t2, t2)\n" in body
    assert "_sigmoid" not in body and "dZ2 = np.subtract(A2, Y, A2)" in body


def test_binary_cross_entropy_is_two_dot_products_of_softplus(example):
    # y*softplus(-z) + (1 - y)*softplus(z), summed as two dot products: both terms are never
    # negative (test_numerics: softplus(z) - y*z cancels), no array for the entries' loss
    body = _body(example("two_layer")[2], "loss")
    assert body.count("np.logaddexp") == 2 and body.count("np.vdot") == 2, body
    assert "Y*Z2" not in body and "np.add.reduce" not in body, body


@pytest.mark.parametrize("stem", [s for s in STEMS if s != "graph"])   # graph: scalars only
def test_float32_in_gives_float32_loss_and_gradients(example, stem):
    model, _, _, module = example(stem)
    loss64, grads64 = module.value_and_grad(*module_args(model, module))
    loss, grads = module.value_and_grad(*module_args(model, module, dtype=np.float32))
    assert np.asarray(loss).dtype == np.float32
    assert np.isclose(loss, loss64, rtol=1e-4)
    for name, g, g64 in zip(module.PARAMS, grads, grads64):
        assert np.asarray(g).dtype == np.float32, name
        assert np.allclose(g, g64, rtol=1e-3, atol=1e-5), name


@pytest.mark.parametrize("lines,reused", [
    # a part computed from a dying array and constants is written into it, and the
    # product around it too when the shapes agree; the outer product is a matmul
    (["T = A*2", "S = (u @ v)*(1 - T**2)"], "S = np.square(T, out=T)\nnp.subtract(1, S, out=S)"),
    (["T = A*2", "S = B @ (T + 1)"], "np.add(T, 1, out=T)"),
    (["T = A*2", "S = np.tanh(T)"], "np.tanh(T, out=T)"),
    (["T = A*2", "S = T*T + 1"], "S = np.multiply(T, T, out=T)\nS += 1"),   # one op reads both
    (["T = A*2", "S = (T + 1)*np.dot(T, B)"], None),  # read later: never overwritten early
    # T*2 is computed before T is overwritten: one out= per statement keeps Python's order
    (["T = A*2", "S = T*2 - np.exp(T)"],
     "t1 = T*2\nS = np.exp(T, out=T)\nnp.subtract(t1, S, out=S)"),
    (["T = A*2", "S = T + B"], "np.add(T, B, out=T)"),
])
def test_in_place_rewrites_compute_the_same_values(lines, reused):
    shapes = {"T": (3, 3), "S": (3, 3)}
    new = reuse_and_free(lines, keep=["A", "B", "u", "v"], shapes=shapes, fresh=fresh_names())
    assert (reused in "\n".join(new)) if reused else "out=" not in "\n".join(new)
    assert all(line.count("out=") <= 1 for line in new)
    rng = np.random.default_rng(0)
    args = dict(A=rng.standard_normal((3, 3)), B=rng.standard_normal((3, 3)),
                u=rng.standard_normal((3, 1)), v=rng.standard_normal((1, 3)))
    assert_same_results(lines, new, args, ["S"])      # and the arguments are left alone


def test_a_chain_of_writes_is_one_statement_each_and_every_del_frees():
    # two_layer's dZ1 = dA1*(1 - A1**2) with A1 dying, and A1 = tanh(Z1) into Z1: before,
    # np.multiply(dA1, np.subtract(1, np.square(A1, out=A1), out=A1), out=A1) and a del Z1
    # right after A1 = np.tanh(Z1, out=Z1), which freed nothing
    lines = ["Z1 = A*2", "A1 = np.tanh(Z1)", "dA1 = B*3", "dZ1 = dA1*(1 - A1**2)", "S = dZ1 @ B"]
    shapes = {n: (3, 3) for n in ("Z1", "A1", "dA1", "dZ1", "S")}
    new = reuse_and_free(lines, keep=["A", "B", "S"], shapes=shapes, fresh=fresh_names())
    assert new[1:6] == ["A1 = np.tanh(Z1, out=Z1)", "dA1 = B*3", "dZ1 = np.square(A1, out=A1)",
                        "np.subtract(1, dZ1, out=dZ1)", "dZ1 *= dA1"]
    # every array is freed once, with all the names bound to it
    assert [x for x in new if x.startswith("del")] == ["del dA1", "del dZ1, Z1, A1"]
    rng = np.random.default_rng(0)
    args = dict(A=rng.standard_normal((3, 3)), B=rng.standard_normal((3, 3)))
    assert_same_results(lines, new, args, ["S"], rtol=1e-15)


def test_in_place_rewrite_keeps_the_parentheses_around_it():
    # found by the property test: (a*(1 - T) + b) lost its parentheses once 1 - T was
    # rewritten inside it
    lines = ["T = A*2", "S = B*(A*(1 - T) + A)/2"]
    new = reuse_and_free(lines, keep=["A", "B"], shapes={"T": (2, 2), "S": (2, 2)},
                         fresh=fresh_names())
    assert "S = B*(A*np.subtract(1, T, out=T) + A)/2" in new


def test_the_forward_pass_is_written_once_and_shared(example):
    """forward, loss and value_and_grad start with the same statements: they are one private
    function, _forward_pass, returning what each reads later (deep_relu: the activations the
    masks need and the logits); a call binds what it does not need to _."""
    source = example("deep_relu")[2]
    assert source.count("_matmul(W1, X)") == 1 and source.count("Z2 += b2") == 1
    call = "_forward_pass(W1, b1, W2, b2, W3, b3, W4, b4, X)"
    assert f"    A1, A2, A3, Z4 = {call}\n" in _body(source, "value_and_grad")
    assert f"    _, _, _, Z4 = {call}\n" in source[source.index("def forward("):]
    assert "    return A1, A2, A3, Z4\n" in source


def test_a_forward_pass_too_short_to_pay_for_a_function_stays_inline(example):
    # the lecture's J = 3(a + bc): forward shows u = b*c, v = a + u, J = 3*v itself
    source = example("graph")[2]
    assert "_forward_pass" not in source
    assert "u = b*c\n    v = a + u\n    J = 3*v\n" in _body(source, "forward")


def test_generated_examples_are_a_quarter_shorter_than_in_0_1_and_lines_fit_in_100():
    """0.1's largest example, deep_relu.py, had 289 lines; at most 216 now, not counting
    init_params and its helper, nor _Layout (the measured layout of wide products), nor the
    inline argument checks (and the rank check _shape_error does for them), which 0.1 did
    not have."""
    for path in sorted((ROOT / "generated").glob("*.py")):
        text = path.read_text()
        lines = text.splitlines()
        added = sum(len(_function_text(text, f, kind).splitlines()) + 2
                    for f, kind in (("_init_params", "def"), ("init_params", "def"),
                                    ("_Layout", "class")) if f"{kind} {f}" in text)
        # the inline check before each _arrays (0.1: the _arrays line alone) and the rank
        # check of the arguments it leaves to _dims (in _shape_error), and the comment on a
        # sigmoid taken from a softplus (symgrad/fusion.py), which 0.1 did not have
        added += sum(len(check.splitlines()) for check in re.findall(
            r"^    if not \(type\(.*?\):$", text, re.M | re.S))
        added += 2 * ("    # raises its error for the wrong rank" in text)
        added += len(re.findall(r"^    # sigmoid\(.*\) = 1 - exp", text, re.M))
        assert len(lines) - added <= 216, (path.name, len(lines), added)
        assert max(map(len, lines)) <= 100, path.name


def test_the_hessian_of_one_parameter_is_its_block_not_a_one_block_concatenate(example):
    model, _, source, module = example("logistic_newton")
    assert "np.concatenate" not in _body(source, "hessian")
    w, X, Y = module_args(model, module)
    H = module.hessian(w, X, Y)
    a = 1 / (1 + np.exp(-(w.T @ X)))            # by hand: X diag(a(1 - a)) X^T / m
    assert np.allclose(H, (X * (a * (1 - a))) @ X.T / X.shape[1], rtol=1e-12, atol=0)
    assert not any(np.shares_memory(H, x) for x in (w, X, Y))


COURSE_NET = '''
n_x, n_h = sp.symbols("n_x n_h", integer=True, positive=True)
X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)
W1, b1 = sg.Param("W1", n_h, n_x), sg.Param("b1", n_h, 1)
W2, b2 = sg.Param("W2", 1, n_h), sg.Param("b2", 1, 1)
A1 = sg.tanh(W1 @ X + b1)
Z2 = W2 @ A1 + b2
A2 = {sigmoid}
cost = {cost}
model = sg.Model("net", loss=cost, params=[W1, b1, W2, b2], inputs=[X, Y])
'''


def _net(tmp_path, cost, name, sigmoid="sg.sigmoid(Z2)"):
    path = tmp_path / f"{name}.py"
    path.write_text("import sympy as sp\nimport symgrad as sg\n"
                    'm = sp.Symbol("m", integer=True, positive=True)\n'
                    + COURSE_NET.format(cost=cost, sigmoid=sigmoid))
    from conftest import derived as derive_file
    return derive_file(path)[0]


# binary cross-entropy as a course writes it by hand, and the sigmoid as it may be spelt
BY_HAND = {
    "course notes": ("-(1 / m) * (Y @ sg.log(A2).T + (1 - Y) @ sg.log(1 - A2).T)",
                     "sg.sigmoid(Z2)"),
    "-sum/m": ("-sg.sum(Y * sg.log(A2) + (1 - Y) * sg.log(1 - A2)) / m", "sg.sigmoid(Z2)"),
    "-mean": ("-sg.mean(Y * sg.log(A2) + (1 - Y) * sg.log(1 - A2))", "sg.sigmoid(Z2)"),
    "1/(1 + exp(-z))": ("-sg.mean(Y * sg.log(A2) + (1 - Y) * sg.log(1 - A2))",
                        "1 / (1 + sg.exp(-Z2))"),
    "exp(z)/(1 + exp(z))": ("-sg.mean(Y * sg.log(A2) + (1 - Y) * sg.log(1 - A2))",
                            "sg.exp(Z2) / (1 + sg.exp(Z2))"),
    "0.5*(1 + tanh(z/2)), helper": ("sg.binary_cross_entropy(A2, Y)", "0.5*(1 + sg.tanh(Z2/2))"),
}


@pytest.mark.parametrize("spelling", BY_HAND)
def test_the_course_notes_cost_compiles_to_binary_cross_entropy_code(tmp_path, spelling):
    """-(1/m)(Y log(A2)^T + (1 - Y) log(1 - A2)^T), as the course notes write the cost, or
    -sum(...)/m, -mean(...), gives the code of sg.binary_cross_entropy: its two logaddexp,
    Y*softplus(-Z2) + (1 - Y)*softplus(Z2) (softplus(Z2) - Y*Z2 cancels, so would its
    negation), no product of Y with a row of logs, the column layout (W1 @ X, never
    X.T @ W1.T), the same backward statements."""
    cost, sigmoid = BY_HAND[spelling]
    course = _net(tmp_path, cost, "course", sigmoid)
    bce = _net(tmp_path, "sg.binary_cross_entropy(A2, Y)", "bce")
    body = _body(course[2])
    assert body.count("np.logaddexp") == 2 and "np.dot(Y" not in body, body
    assert "Y*Z2" not in body and "Y, Z2" not in body, body
    assert "_matmul(W1, X)" in body and "X.T" not in body.split("# back through")[0], body
    backward = [_body(s).split("# back through Z2 = ")[1].split("return ")[0]
                for s in (course[2], bce[2])]
    assert backward[0] == backward[1]        # (the course's cost is a 1 x 1 matrix)
    # the loss by the course's own formula, from NumPy (not from either module)
    rng = np.random.default_rng(5)
    W1v, b1v, W2v, b2v = (rng.standard_normal(s) for s in ((4, 3), (4, 1), (1, 4), (1, 1)))
    Xv, Yv = rng.standard_normal((3, 7)), (rng.uniform(size=(1, 7)) > 0.5) * 1.0
    A2v = 1 / (1 + np.exp(-(W2v @ np.tanh(W1v @ Xv + b1v) + b2v)))
    want = -(Yv @ np.log(A2v).T + (1 - Yv) @ np.log(1 - A2v).T)[0, 0] / 7
    for _, _, _, module in (course, bce):
        loss, grads = module.value_and_grad(W1v, b1v, W2v, b2v, Xv, Yv)
        assert np.isclose(loss, want, rtol=1e-12)
    np.testing.assert_allclose(course[3].value_and_grad(W1v, b1v, W2v, b2v, Xv, Yv)[1][0],
                               bce[3].value_and_grad(W1v, b1v, W2v, b2v, Xv, Yv)[1][0],
                               rtol=1e-12)


def test_a_row_dot_a_row_of_arguments_stays_one_product():
    """u @ v.T of two arguments is one BLAS dot, no elementwise temporary (only a row built
    elementwise is summed as a product, so that its elementwise work fuses)."""
    u, v = sg.Input("u", 1, n), sg.Param("v", 1, n)
    source = module_source(derive(sg.Model("dot", loss=(u @ v.T)[0, 0], params=[v],
                                           inputs=[u])))
    assert "np.dot(u, v.T)" in _body(source, "loss"), _body(source, "loss")


@pytest.mark.parametrize("style", ["fast", "plain"])
def test_a_log_softmax_of_an_expression_computes_it_once(style):
    """log_softmax(-2*W) reads its logits t1 = -2*W as the confident logit a of
    _minus_logsumexp(a, t1, axis) too: -2*W was computed a second time."""
    W, G = sg.Param("W", n, m), sg.Input("G", n, m)
    model = sg.Model("lsm", loss=sg.sum(G * sg.log_softmax(-2 * W, axis=0)), params=[W],
                     inputs=[G])
    source = module_source(derive(model), style=style)
    for function in ("loss", "value_and_grad"):
        body = _body(source, function)
        code = "\n".join(line for line in body.splitlines() if not line.strip().startswith("#"))
        assert len(re.findall(r"-2 ?\* ?W", code)) == 1, body
        assert "_minus_logsumexp(t1, t1, -2)" in body, body
    module = load_module(source)
    Wv, Gv = np.random.default_rng(5).standard_normal((2, 4, 3))
    z = -2 * Wv
    logp = z - z.max(0) - np.log(np.exp(z - z.max(0)).sum(0))     # by hand, stable
    value, (dW,) = module.value_and_grad(Wv, Gv)
    assert np.isclose(value, (Gv * logp).sum(), rtol=1e-13)
    # d/dW of sum(G*(z - lse(z))) = -2*(G - softmax(z)*sum(G, 0)), by hand
    np.testing.assert_allclose(dW, -2 * (Gv - np.exp(logp) * Gv.sum(0)), rtol=1e-12)


def test_sums_of_one_shape_added_are_one_sum():
    """c*sum(exp(P)) + d*sum(tanh(Q)) for P, Q of one shape is one reduction of one
    elementwise expression, c*sum(exp(P) + (d/c)*tanh(Q)): one array where there were two.
    Sums of arguments, of squares (np.vdot) or along an axis are left as they are."""
    from symgrad.graph import Graph, placeholder
    g = Graph()
    P, Q = (g.leaf(sp.MatrixSymbol(s, n, m)) for s in "PQ")
    X0, X1 = placeholder(0), placeholder(1)
    e, t = g.map(sp.exp(X0), [P]), g.map(sp.tanh(X0), [Q])
    node = g.map(3 * X0 - 6 * X1, [g.sum(e), g.sum(t)])
    assert node.op == "map" and node.expr == 3 * X0 and node.args[0].op == "sum"
    inner = node.args[0].args[0]
    assert inner.op == "map" and inner.expr == X0 - 2 * X1 and inner.args == (e, t)
    for kept in ([g.sum(P), g.sum(Q)], [g.sum(e), g.sum(g.map(X0**2, [Q]))],
                 [g.sum(g.map(sp.sin(X0), [P]), 0), g.sum(t, 0)]):
        assert sorted(a.op for a in g.map(X0 + X1, kept).args) == ["sum", "sum"]


@pytest.mark.parametrize("slow", ["rows", "columns"])
def test_the_layout_is_the_one_measured_faster_once_per_dtype_and_kind(slow):
    """_Layout times both ways on the first wide product of a dtype (here a fake product
    that sleeps one way) and keeps the answer."""
    import time
    namespace = {"np": np}
    exec(HELPERS["_Layout"], namespace)
    calls = []

    def product(a, b, out=None):
        calls.append(out is None)
        if (out is None) == (slow == "rows"):
            time.sleep(0.002)
        return np.matmul(a, b, out=out)
    a, b = np.ones((64, 3)), np.ones((3, 512))
    layout = namespace["_Layout"]
    assert layout.columns(product, a, b) == (slow == "rows")
    assert len(calls) == 10
    assert layout.columns(product, a, b) == (slow == "rows") and len(calls) == 10   # kept
    assert layout.columns(product, a.astype(np.float32), b.astype(np.float32)) \
        == (slow == "rows") and len(calls) == 20        # another dtype: measured again


def test_no_del_just_before_a_return_that_computes_nothing():
    """A `del` as a function's last statement frees nothing that a return reading names only
    (or an entry: cost[0, 0]) would not free at once: there is none; one before a return
    that computes an array (cookbook's reshaped covariance) stays, freeing first."""
    from symgrad.codegen import _only_names
    assert _only_names("cost, (dW1, db1)") and _only_names("{'A2': A2}")
    assert _only_names("cost[0, 0], (dW,)") and not _only_names("X[k]")
    assert not _only_names("A.reshape(2, 2).T") and not _only_names("cost, (dW + W,)")
    found = []
    for path in sorted((ROOT / "generated").glob("*.py")):
        for returned in re.findall(r"\n    del [^\n]*\n    return ([^\n]*)", path.read_text()):
            assert not _only_names(returned), (path.name, returned)
            found.append(path.name)
    assert found == ["cookbook.py"]


@pytest.mark.parametrize("style", ["fast", "plain"])
def test_a_zero_hessian_builds_no_seeds_and_a_zero_block_reads_none(style):
    # sum(W * X) is linear, so its Hessian is 0 (by hand): vW = np.eye(n_seeds, n*m) was
    # built and never read (ruff F841, (n m)^2 memory), and its docstring said vW[k] = e_k
    W, X = sg.Param("W", n, m), sg.Input("X", n, m)
    V, b = sg.Param("V", 2, n), sg.Param("b", 2, 1)
    linear = sg.Model("hess_linear", loss=sg.sum(sp.HadamardProduct(W, X)), params=[W],
                      inputs=[X], hessian=True)
    # V's block is V's alone: b's seed is read by no block of V (b's column is 0)
    split = sg.Model("hess_split", loss=sg.sum(sg.exp(V @ X[:, :1])) + sg.sum(b), params=[V, b],
                     inputs=[X], hessian=True)
    for model, seeds in ((linear, []), (split, ["vV"])):
        source = module_source(derive(model), style=style)
        hessian = _function_text(source, "hessian")
        assigned = set(re.findall(r"^    (\w+) = ", hessian, re.M))
        assert {s for s in ("vW", "vV", "vb") if s in assigned} == set(seeds), hessian
        assert ("n_seeds" in assigned) == bool(seeds)
        assert [f"{s}[k] = e_k" in hessian for s in seeds] == [True] * len(seeds)
        assert "vb[k]" not in hessian and "vW[k]" not in hessian
        values = random_instance(model, {"n": 3, "m": 2}, 0)
        module = load_module(source, model.name)
        args = [values[k] for k in module.PARAMS + module.INPUTS]
        expected = np.zeros((6, 6))                          # d2/dV2 of sum(exp(V x)), by hand
        if model is split:
            x = values["X"][:, 0]
            for i in range(2):
                expected[3 * i:3 * i + 3, 3 * i:3 * i + 3] = \
                    np.exp(values["V"][i] @ x) * np.outer(x, x)
            expected = np.pad(expected, ((0, 2), (0, 2)))
        assert np.allclose(module.hessian(*args), expected, rtol=1e-12, atol=0)


def _one_dimension_models():
    """Models with a single dimension, whose functions mostly never read it: a square tanh
    layer (n) and a logistic unit over m examples with a Jacobian and a Hessian."""
    W = sg.Param("W", n, n)
    X, Y = sg.Input("X", 1, m), sg.Input("Y", 1, m)
    w, b = sg.Param("w", 1, 1), sg.Param("b", 1, 1)
    Z = w @ X + b
    return [sg.Model("one_n", loss=sg.sum(sg.tanh(W)), params=[W]),
            sg.Model("one_m", loss=sg.bce_with_logits(Z, Y), params=[w, b], inputs=[X, Y],
                     hessian=True, jacobians={"dZ_dw": (Z, w)}, outputs={"Z": Z})]


@pytest.mark.parametrize("style, target, workspace", [
    ("fast", "numpy", False), ("fast", "numpy", True), ("plain", "numpy", False),
    ("plain", "array-api", False)])
def test_a_function_that_reads_no_dimension_calls_dims_without_binding_one(
        tmp_path, style, target, workspace):
    """`n = _dims(W)` where nothing reads n is ruff's F841 (a tuple `n, m = ...` is not
    flagged, so only one-dimension models failed): such a function calls _dims bare, for its
    shape check, which still refuses a wrong shape."""
    import shutil
    import subprocess
    ruff = shutil.which("ruff")
    for model in _one_dimension_models():
        source = module_source(derive(model), style, target, workspace)
        (tmp_path / f"{model.name}.py").write_text(source)
        for line in source.splitlines():
            if re.fullmatch(r"    \w+ = _dims\(.*\)", line):
                name = line.split()[0]
                function = source[:source.index(line)].rsplit("\ndef ", 1)[1]
                rest = source[source.index(line) + len(line):].split("\n\n\n")[0]
                assert re.search(rf"\b{name}\b", rest), (model.name, function.split("(")[0])
        module = load_module(source, f"{model.name}_{style}_{target}_{workspace}")
        bad = (np.zeros((2, 3)),) if model.name == "one_n" else (
            np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((1, 3)), np.zeros((1, 4)))
        with pytest.raises(ValueError, match="columns"):
            module.loss(*bad)
    if ruff is not None:
        result = subprocess.run([ruff, "check", "--no-cache", "--config",
                                 str(ROOT / "pyproject.toml"), str(tmp_path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
