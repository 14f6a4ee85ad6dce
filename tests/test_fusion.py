"""The sigmoid taken from the loss's softplus (symgrad/fusion.py): the rewrite, where it must
not apply, and the emitted code's accuracy against an exact sigmoid in extended precision."""
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


@pytest.mark.parametrize("lines", [
    ["A = _sigmoid(Z)"],                                      # no softplus
    ["t = np.logaddexp(0, Z)", "A = _sigmoid(V)"],            # of another logit
    ["t = np.logaddexp(1, Z)", "A = _sigmoid(Z)"],            # not a softplus
    ["t = np.logaddexp(0, -Z)", "A = _sigmoid(Z)"],           # softplus(-Z), not of a name
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
