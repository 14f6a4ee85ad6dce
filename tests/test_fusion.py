"""The sigmoid taken from the loss's softplus and the softmax from the logsumexp's exponential
(symgrad/fusion.py): the rewrites, where they must not apply, and the emitted code's accuracy
against exact values in extended precision."""
import numpy as np
import pytest

from symgrad import fusion, ir


def _rewritten(lines, shapes=None):
    names = iter(["sp", "sp2"])
    shapes = {"Z": (1, "m"), "V": (1, "m")} if shapes is None else shapes
    out = fusion.sigmoid_from_softplus(ir.parse(lines), shapes, lambda: next(names))
    return ir.lines(out), shapes


def test_the_sigmoid_of_a_logit_reuses_its_softplus():
    lines, shapes = _rewritten(["t1 = np.logaddexp(0, Z) - Y*Z", "cost = t1.sum()/m",
                                "A = _sigmoid(Z)", "dZ = (A - Y)/m"])
    assert lines == ["sp = np.logaddexp(0, Z)", "t1 = sp - Y*Z", "cost = t1.sum()/m",
                     "# sigmoid(Z) = 1 - exp(-softplus(Z)): the softplus sp",
                     "A = -np.expm1(-sp)", "dZ = (A - Y)/m"]
    assert shapes["sp"] == (1, "m")           # so liveness can reuse and free it


def test_a_sigmoid_before_the_softplus_and_two_logits():
    lines, _ = _rewritten(["A = _sigmoid(Z)", "B = _sigmoid(V)*2",
                           "t = np.logaddexp(0, V) + np.logaddexp(0, Z)"])
    assert lines == ["sp = np.logaddexp(0, Z)",
                     "# sigmoid(Z) = 1 - exp(-softplus(Z)): the softplus sp",
                     "A = -np.expm1(-sp)",
                     "sp2 = np.logaddexp(0, V)",
                     "# sigmoid(V) = 1 - exp(-softplus(V)): the softplus sp2",
                     "B = -np.expm1(-sp2)*2", "t = sp2 + sp"]


def test_the_sigmoid_of_a_negated_logit_reuses_its_softplus():
    # the gradient of log(sigmoid(Z)): -sigmoid(-Z), once -(1 - exp(-softplus(-Z)))
    lines, _ = _rewritten(["t1 = -np.logaddexp(0, -Z)", "dZ = -_sigmoid(-Z)"])
    assert lines == ["sp = np.logaddexp(0, -Z)", "t1 = -sp",
                     "# sigmoid(-Z) = 1 - exp(-softplus(-Z)): the softplus sp",
                     "dZ = np.expm1(-sp)"]


@pytest.mark.parametrize("lines", [
    ["A = _sigmoid(Z)"],                                      # no softplus
    ["t = np.logaddexp(0, Z)", "A = _sigmoid(V)"],            # of another logit
    ["t = np.logaddexp(1, Z)", "A = _sigmoid(Z)"],            # not a softplus
    ["t = np.logaddexp(0, -Z)", "A = _sigmoid(Z)"],           # softplus(-Z), sigmoid(Z)
    ["t = np.logaddexp(0, -Z)", "Z += 1", "A = _sigmoid(-Z)"],  # Z changed between them
    ["t = np.logaddexp(0, Z*2)", "A = _sigmoid(Z*2)"],       # not of a name or its negation
    ["t = np.logaddexp(0, Z)", "Z += 1", "A = _sigmoid(Z)"],  # Z changed between them
    ["t = np.logaddexp(0, Z)", "np.exp(Z, out=Z)", "A = _sigmoid(Z)"],
])
def test_left_alone(lines):
    assert _rewritten(lines)[0] == lines


def _sigmoid_exact(z):
    z = np.asarray(z, np.longdouble)         # 64-bit significand on x86: 11 bits to spare
    return 1 / (1 + np.exp(-z))


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63, reason="needs an 80-bit long double")
@pytest.mark.parametrize("dtype, low, high, ulps", [(np.float64, -744.0, 40.0, 2),
                                                     (np.float32, -103.0, 17.0, 3)])
def test_the_emitted_sigmoid_is_accurate_to_the_last_bits(example, dtype, low, high, ulps):
    # logistic regression on one example of logit z and target 0: db = sigmoid(z) exactly;
    # down to the subnormals (below -709 1/(1 + exp(-z)) overflows to its limit 0)
    _, _, source, module = example("logistic_regression")
    assert "np.expm1(" in source
    for z in np.linspace(low, high, 397, dtype=dtype):
        w, X, Y = np.ones((1, 1), dtype), np.full((1, 1), z, dtype), np.zeros((1, 1), dtype)
        _, (_, db) = module.value_and_grad(w, dtype(0), X, Y)
        want = _sigmoid_exact(z).astype(dtype)
        assert db.dtype == dtype
        assert abs(db - want) <= ulps * np.spacing(want), (z, db, want)


def test_one_comment_for_two_sigmoids_in_a_statement():
    lines, _ = _rewritten(["t = np.logaddexp(0, Z)", "A = _sigmoid(Z)*(1 - _sigmoid(Z))"])
    assert lines == ["sp = np.logaddexp(0, Z)", "t = sp",
                     "# sigmoid(Z) = 1 - exp(-softplus(Z)): the softplus sp",
                     "A = -np.expm1(-sp)*(1 - -np.expm1(-sp))"]


# ---- the softmax taken from the logsumexp's exponential (fusion.softmax_from_logsumexp) -------
def _softmaxes(lines):
    names = iter(["c", "d", "e", "s", "c2", "d2", "e2", "s2"])
    shapes = {"Z": ("k", "m"), "t": (1, "m"), "V": ("k", "m"), "u": (1, "m")}
    out = fusion.softmax_from_logsumexp(ir.parse(lines), shapes, lambda: next(names))
    return ir.lines(out), shapes


def test_the_softmax_of_a_logit_reuses_its_logsumexp():
    lines, shapes = _softmaxes(["t = _logsumexp(Z, -2)", "cost = -np.vdot(Y, Z - t)/m",
                                "A = np.exp(Z - t)", "dZ = (A*2 - Y)/m"])
    # the log-probabilities Z - t as d - log(s): no cancellation of max + log(s) against Z
    assert lines == ["# softmax(Z) = e/s: e = exp(Z - max), s its sum; t = max + log(s)",
                     "c = Z.max(axis=-2, keepdims=True)", "d = Z - c", "e = np.exp(d)",
                     "s = e.sum(axis=-2, keepdims=True)", "c2 = np.log(s)",
                     "cost = -np.vdot(Y, d - c2)/m", "A = e/s", "dZ = (A*2 - Y)/m"]
    assert shapes["c"] == shapes["s"] == shapes["c2"] == (1, "m") and shapes["e"] == ("k", "m")


def test_the_softmax_fusion_keeps_the_logsumexp_another_statement_reads():
    lines, _ = _softmaxes(["t = _logsumexp(Z, -2)", "B = t - V[0]", "C = t*2",
                           "A = np.exp(Z - t)"])
    assert lines[5:] == ["c2 = np.log(s)", "t = c2 + c", "B = c2 - (V[0] - c)", "C = t*2",
                         "A = e/s"]


# ---- differences of a logsumexp without cancellation (fusion.stable_logsumexp_differences) --
def _differences(lines):
    names = iter(["n1", "n2"])
    shapes = {"Z": ("k", "m"), "V": ("k", "m"), "t": (1, "m")}
    out = fusion.stable_logsumexp_differences(ir.parse(lines), shapes, lambda: next(names))
    return ir.lines(out), shapes


@pytest.mark.parametrize("lines, want, shape", [
    (["t = _logsumexp(Z, -2)", "L = Z - t", "B = t - V", "C = -V + t"],
     ["L = _minus_logsumexp(Z, Z, -2)", "n1 = _minus_logsumexp(V, Z, -2)", "B = -n1",
      "C = -n1"], ("k", "m")),
    (["t = _logsumexp(Z, -2)", "L = Z - t", "u = t*2"],                  # t read otherwise
     ["t = _logsumexp(Z, -2)", "L = _minus_logsumexp(Z, Z, -2)", "u = t*2"], None),
    (["P = np.exp(Z - _logsumexp(Z, -2))", "L = Z - _logsumexp(Z, -2)"],  # computed once
     ["L = _minus_logsumexp(Z, Z, -2)", "P = np.exp(L)"], None),
    (["t = _logsumexp(Z.T, -1)", "a = Y*(Z.T - t)", "b = np.exp(Z - t.T)"],  # transposed
     ["n1 = _minus_logsumexp(Z.T, Z.T, -1)", "a = Y*n1", "b = np.exp(n1.T)"], ("m", "k")),
    (["t = _logsumexp(Z, -2)", "Z += 1", "L = Z - t"],                   # Z changed: alone
     ["t = _logsumexp(Z, -2)", "Z += 1", "L = Z - t"], None),
])
def test_differences_of_a_logsumexp_are_taken_from_its_maximum(lines, want, shape):
    got, shapes = _differences(lines)
    assert got == want and shapes.get("n1") == shape


def test_a_softmax_written_whole_is_one_exponential_and_no_logsumexp():
    # the forward pass's softmax output: its logsumexp is read by nothing else
    lines, shapes = _softmaxes(["A = np.exp(Z - _logsumexp(Z, -2))*2"])
    assert lines == ["# softmax(Z) = s/c2: s = exp(Z - max), c2 its sum",
                     "d = Z.max(axis=-2, keepdims=True)", "e = Z - d", "s = np.exp(e)",
                     "c2 = s.sum(axis=-2, keepdims=True)", "A = s/c2*2"]
    assert shapes["c"] == (1, "m")


@pytest.mark.parametrize("lines", [
    ["t = _logsumexp(Z, -2)", "cost = t.sum()"],                          # no softmax
    ["A = np.exp(V - _logsumexp(Z, -2))"],                                # of another logit
    ["t = _logsumexp(Z, -2)", "A = np.exp(V - t)"],                       # of another logit
    ["t = _logsumexp(Z, -2)", "A = np.exp(Z - u)"],                       # another logsumexp
    ["t = _logsumexp(Z, -2)", "Z += 1", "A = np.exp(Z - t)"],             # Z changed
    ["t = _logsumexp(Z, -2)", "t *= 2", "A = np.exp(Z - t)"],             # t changed
    ["t = _logsumexp(Z*2, -2)", "A = np.exp(Z - t)"],                     # not of a name
])
def test_softmax_left_alone(lines):
    assert _softmaxes(lines)[0] == lines


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63, reason="needs an 80-bit long double")
@pytest.mark.parametrize("dtype, scale, ulps", [(np.float64, 700.0, 4), (np.float32, 80.0, 4)])
def test_the_emitted_softmax_is_accurate_and_never_overflows(example, dtype, scale, ulps):
    # the softmax classifier on one example of zero input: db2 = softmax(b2) - y exactly, for
    # logits b2 up to the exponent's range (exp(700) overflows float64 unshifted)
    _, _, source, module = example("softmax_classifier")
    assert "_logsumexp" not in source.split("def value_and_grad")[1].split("\ndef ")[0]
    rng = np.random.default_rng(3)
    names = module.PARAMS
    for _ in range(50):
        k = int(rng.integers(2, 6))
        shapes = {"W1": (3, 2), "b1": (3, 1), "W2": (k, 3), "b2": (k, 1)}
        args = [np.zeros(shapes[n], dtype) for n in names]
        args[names.index("b2")] = (rng.uniform(-1, 1, (k, 1)) * scale).astype(dtype)
        X, Y = np.zeros((2, 1), dtype), np.eye(k, 1, dtype=dtype)
        cost, grads = module.value_and_grad(*args, X, Y)
        z = args[names.index("b2")].astype(np.longdouble)
        exact = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        want = (exact - Y).astype(dtype)
        got = grads[names.index("b2")]
        assert np.isfinite(cost) and got.dtype == dtype
        tolerance = ulps * np.spacing(np.abs(want)) + np.spacing(dtype(1))
        assert np.all(np.abs(got - want) <= tolerance), (got, want)
