"""The products' forms (symgrad/products.py), golden strings over hand-written statements:
each expected value is the NumPy an expert writes for that shape, and each rewrite is run
against the statements it replaces."""
import numpy as np
import pytest
import sympy as sp
from helpers import assert_same_results

import symgrad as sg
from symgrad import ir, products
from symgrad.printing import runtime

# W (4 x 3), X (3 x 5), b (4 x 1), w (1 x 4), c (4 x 5), s (1 x 1); Z, V, A the statements'
SHAPES = dict(W=(4, 3), X=(3, 5), b=(4, 1), w=(1, 4), c=(4, 5), s=(1, 1), Z=(4, 5),
              V=(1, 5), A=(4, 5), S=(2, 4, 5), G=(2, 4, 3), P=(1, 1))
RNG = np.random.default_rng(18)
ARGS = {k: RNG.standard_normal(v) for k, v in SHAPES.items() if k in "WXbwcsG"}

FORMS = {
    # a matrix result: the helper choosing the faster storage; a vector one: np.dot
    "matrix product": (["Z = W @ X"], ["Z = _matmul(W, X)"]),
    "vector product": (["V = w @ (W @ X)"], ["V = np.dot(w, _matmul(W, X))"]),
    "through a transpose": (["A = (X.T @ W.T).T"], ["A = _matmul(X.T, W.T).T"]),
    "1 x 1 result": (["P = w @ b"], ["P = np.dot(w, b)"]),
    # a slice's shape is not inferred: its product keeps the operator (correct, untuned)
    "unknown shape": (["V = w @ W @ X[:, :5]"], ["V = np.dot(w, W) @ X[:, :5]"]),
    # a sum with the product of the target's shape: the product's array takes it
    "bias added in place": (["Z = W @ X + b"], ["Z = _matmul(W, X)", "Z += b"]),
    "bias first": (["Z = b + W @ X"], ["Z = _matmul(W, X)", "Z += b"]),
    "subtracted terms": (["Z = W @ X - b - c"], ["Z = _matmul(W, X)", "Z -= b + c"]),
    "mixed terms": (["Z = c - b + W @ X"], ["Z = _matmul(W, X)", "Z += c - b"]),
    # a negated product or a broadcast one (a row, widened by b) keeps its one statement
    "negated product": (["Z = b - W @ X"], ["Z = b - _matmul(W, X)"]),
    "broadcast product": (["A = w @ W @ X + c"], ["A = np.dot(np.dot(w, W), X) + c"]),
    "product read twice": (["Z = W @ X + np.tanh(W @ X)"],
                           ["Z = _matmul(W, X) + np.tanh(_matmul(W, X))"]),
    # a stack of matrices (a Jacobian's seeds) stays a @ b
    "stacked product": (["S = G @ X + c"], ["S = G @ X", "S += c"]),
    # a product with it by arrays, masks and numbers: the product's array takes them, one
    # update each (a ReLU's mask, attention's 1/sqrt(d_k), dropout's 1/keep)
    "masked product": (["Z = (W @ X)*(c > 0)"], ["Z = _matmul(W, X)", "Z *= c > 0"]),
    "scaled product": (["Z = (W @ X)/float(np.sqrt(m))"],
                       ["Z = _matmul(W, X)", "Z /= float(np.sqrt(m))"]),
    "factors around it": (["Z = 2*c*(W @ X)/m*b"],
                          ["Z = _matmul(W, X)", "Z *= 2.0", "Z *= c", "Z /= m", "Z *= b"]),
    # arithmetic beside it stays in one statement: the later passes write it into an array
    # that dies there (1 - A**2 into A), where an update would allocate it
    "factor computed": (["Z = (W @ X)*(1 - c**2)"], ["Z = _matmul(W, X)*(1.0 - c**2)"]),
    "product divides": (["Z = c/(W @ X)"], ["Z = c/_matmul(W, X)"]),
    "broadcast by a factor": (["A = (w @ W @ X)*c"], ["A = np.dot(np.dot(w, W), X)*c"]),
}


@pytest.mark.parametrize("lines,expected", FORMS.values(), ids=FORMS)
def test_products_forms(lines, expected):
    new = ir.lines(products.forms(ir.parse(lines), SHAPES | {"m": ()}))
    assert new == expected
    target = lines[0].split(" = ")[0]
    assert_same_results(lines, new, ARGS | {"_matmul": runtime._matmul, "m": 7}, [target],
                        rtol=1e-14)


def test_statements_without_products_are_kept_as_printed():
    lines = ["A = np.tanh(c)*(1/2)", "A += b", "# a comment", "del A"]
    assert ir.lines(products.forms(ir.parse(lines), SHAPES)) == lines


def test_integers_beside_float_arrays_are_written_as_floats():
    """`1 - A` converts the int 1 at every call, 1.0 faster (0.3 us of a small array's
    1.5 us here); a dimension's arithmetic, an axis, an exponent and a slice keep theirs, as
    does arithmetic on a value of unknown shape (a slice's)."""
    lines = ["A = 1 - np.logaddexp(0, c)*2", "A += 1", "A *= 3 - c", "B = c[:, 1:2] + 1",
             "Z = np.tanh(c)/(2*m)", "V = c.sum(axis=0, keepdims=True)**3"]
    new = ir.lines(products.forms(ir.parse(lines), SHAPES | {"m": ()}))
    assert new == ["A = 1.0 - np.logaddexp(0.0, c)*2.0", "A += 1.0", "A *= 3.0 - c",
                   "B = c[:, 1:2] + 1", "Z = np.tanh(c)/(2*m)",
                   "V = c.sum(axis=0, keepdims=True)**3"]
    for dtype in (np.float64, np.float32):         # the arrays' dtype is kept
        args = {k: v.astype(dtype) for k, v in ARGS.items()} | {"m": 3}
        assert_same_results(lines, new, args, ["A", "Z", "V"])
        env = {"np": np, **args}
        exec("\n".join(new), env)
        assert env["A"].dtype == env["Z"].dtype == dtype


@pytest.mark.parametrize("line, printed", [
    ("A = np.tanh(Z, out=Z)", "A = np.tanh(Z, Z)"),
    ("S = np.subtract(1.0, S, out=S)", "S = np.subtract(1.0, S, S)"),
    ("t = np.multiply(np.exp(T, out=T), B, out=B)", "t = np.multiply(np.exp(T, T), B, B)"),
    ("A = np.maximum(0.0, Z, out=Z)", None),              # NumPy 2.4 deprecates it positional
    ("A = _sigmoid(Z, out=Z)", None),                     # a helper, not a ufunc
    ("s = np.add.reduce(Z, axis=1, keepdims=True, out=B)", None),
    ("A = np.add(Z, 1.0, out=Z, casting='unsafe')", None),   # another keyword
    ("db = dZ.sum(axis=1, keepdims=True)", "db = np.add.reduce(dZ, axis=1, keepdims=True)"),
    ("c = t.sum()/m", "c = np.add.reduce(t, axis=None)/m"),
    ("s = (A*B).sum(axis=(0, 1), keepdims=True)",
     "s = np.add.reduce(A*B, axis=(0, 1), keepdims=True)"),
    ("s = np.sum(A)", None),                              # the plain style's
    ("s = A.sum(dtype=np.float64)", None),
])
def test_the_last_forms_write_out_positionally_and_sums_as_reductions(line, printed):
    assert ir.lines(products.last_forms(ir.parse([line]))) == [printed or line]


def test_sums_of_products_are_dot_products_however_many_a_statement_reads():
    """t = a*b + c*d summed: np.vdot per term and no array for t; two in one statement both
    (the second once overwrote the first); a term of another form, a broadcast factor, or a
    t read again keeps the sum."""
    shapes = SHAPES | {"t": (4, 5), "u": (4, 5), "q": ()}
    lines = ["t = A*c + (1 - A)*Z", "u = -c*A", "q = t.sum() - u.sum()/2"]
    args = {"A": RNG.standard_normal((4, 5)), "Z": RNG.standard_normal((4, 5)), "c": ARGS["c"]}
    new = ir.lines(products.dot_sums(ir.parse(lines), shapes))
    assert new == ["q = np.vdot(A, c) + np.vdot(1 - A, Z) - np.vdot(-c, A)/2"]
    assert_same_results(lines, new, args, ["q"], rtol=1e-14)
    for kept in (["t = A*c + np.tanh(Z)", "q = t.sum()"], ["t = A*b", "q = t.sum()"],
                 ["t = A*c", "q = t.sum()", "u = t + 1"]):
        assert ir.lines(products.dot_sums(ir.parse(kept), shapes)) == kept


def test_a_sum_of_products_keeps_the_statement_of_a_name_that_must_survive():
    """t = a*b summed, t also returned (keep): the sum is a dot product, t's statement stays."""
    shapes = SHAPES | {"t": (4, 5), "q": ()}
    lines = ["t = A*c", "q = t.sum()"]
    assert ir.lines(products.dot_sums(ir.parse(lines), shapes, keep={"t", "q"})) == lines


def test_a_returned_adjoint_summed_into_another_is_still_computed():
    """loss = sum(((s + w)*x) @ y), s a scalar: dw = x*y.T is returned and summed into ds; the
    sum once became np.vdot(x, y.T) and dw's statement was dropped (certification: NameError).
    By hand: loss = sum_j (s + w_j) x_j y_j, so ds = sum_j x_j y_j and dw_j = x_j y_j."""
    n = sp.Symbol("n", integer=True, positive=True)
    s, w = sg.Param("s"), sg.Param("w", 1, n)
    x, y = sg.Input("x", 1, n), sg.Input("y", n, 1)
    model = sg.Model("dot_sum_kept", loss=sg.sum(((s + w) * x) @ y), params=[s, w],
                     inputs=[x, y])
    module = sg.compile(model)                    # certified
    sv, wv, xv, yv = 0.7, RNG.standard_normal((1, 3)), RNG.standard_normal((1, 3)), \
        RNG.standard_normal((3, 1))
    loss, (ds, dw) = module.value_and_grad(sv, wv, xv, yv)
    np.testing.assert_allclose(loss, np.sum((sv + wv) * xv * yv.T), rtol=1e-13)
    np.testing.assert_allclose(ds, np.sum(xv * yv.T), rtol=1e-13)
    np.testing.assert_allclose(dw, xv * yv.T, rtol=1e-13)
