"""The runtime helpers a generated module carries (symgrad/printing/runtime.py), each on its
own: values against mpmath at 50 digits or hand-derived results, the errors they raise, and
what they never do (write their inputs, warn, return a view of an argument)."""
import warnings

import mpmath
import numpy as np
import pytest

from symgrad.printing import runtime

mpmath.mp.dps = 50
RNG = np.random.default_rng(7)


def _exact(f, x):
    return np.array([float(f(mpmath.mpf(float(v)))) for v in np.ravel(x)]).reshape(np.shape(x))


@pytest.fixture(autouse=True)
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# -- argument checks ---------------------------------------------------------------------------
SHAPES = {"W": ("n", "k"), "b": ("n", "1"), "X": ("k", "m"), "c": ()}


def test_arrays_returns_float_matrices_as_they_are():
    W, b = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 1)).astype(np.float32)
    out = runtime._arrays((W, b, 0.5), ("W", "b", "c"), SHAPES)
    assert out[0] is W and out[1] is b and out[2] == 0.5


def test_arrays_converts_lists_and_integers_to_the_floats_dtype_and_keeps_float32_scalars():
    # integers and booleans take the dtype of the float arguments (a float32 scalar here),
    # float64 where there is none
    for c, dtype in [(np.float32(2), np.float32), (2, np.float64)]:
        W, b, c = runtime._arrays(([[1, 2, 3], [4, 5, 6]], np.ones((2, 1), bool), c),
                                  ("W", "b", "c"), SHAPES)
        assert W.dtype == dtype and W.tolist() == [[1, 2, 3], [4, 5, 6]]
        assert b.dtype == dtype and b.tolist() == [[1.0], [1.0]]
        assert type(c) is dtype and c == 2


@pytest.mark.parametrize("values,error,message", [
    ((np.ones((2, 3), complex),), TypeError,
     "W must hold real numbers, not complex128 (complex numbers are not supported)"),
    ((np.array([["a"]]),), TypeError, "W must hold real numbers, not <U1"),
    ((np.ones(3),), ValueError, "W must be a matrix of shape (n, k), not an array of shape (3,)"),
])
def test_arrays_refuses_what_is_not_a_real_matrix_by_name(values, error, message):
    with pytest.raises(error) as caught:
        runtime._arrays(values, ("W",), SHAPES)
    assert str(caught.value) == message


def test_shape_error_names_the_first_dimension_that_disagrees_and_where_it_was_read():
    W, b, X = np.ones((2, 3)), np.ones((2, 1)), np.ones((4, 5))
    with pytest.raises(ValueError, match=r"^k: X has 4 rows but W has 3 columns$"):
        runtime._shape_error(SHAPES, ("W", "b", "X"), (W, b, X))
    with pytest.raises(ValueError, match=r"^1: b has 2 columns but it must be 1$"):
        runtime._shape_error(SHAPES, ("W", "b"), (W, np.ones((2, 2))))


def test_shape_error_skips_an_argument_not_given_and_reads_a_dimension_from_the_next():
    shapes = {"X": ("k", "m"), "Y": ("1", "m"), "Z": ("2", "m")}
    with pytest.raises(ValueError, match=r"^m: Z has 4 columns but Y has 5 columns$"):
        runtime._shape_error(shapes, ("X", "Y", "Z"), (None, np.ones((1, 5)), np.ones((2, 4))))


def test_shape_error_raises_even_when_no_single_dimension_is_to_blame():
    # a compound dimension (2*n) is not checked one by one: the call still fails
    with pytest.raises(ValueError, match="disagree with"):
        runtime._shape_error({"A": ("2*n", "n")}, ("A",), (np.ones((3, 2)),))


def test_labels_keep_integers_shape_a_vector_and_refuse_floats():
    y = runtime._labels([0, 2, 1], "y", ("1", "m"))
    assert y.dtype.kind == "i" and y.shape == (1, 3)
    assert runtime._labels(np.arange(3), "y", ("m", "1")).shape == (3, 1)
    with pytest.raises(TypeError, match=r"^y must hold integer class labels, not float64"):
        runtime._labels([0.0, 1.0], "y", ("1", "m"))
    with pytest.raises(ValueError, match=r"holds the label 3, which is not a class index"):
        runtime._check_labels(np.array([[0, 3, 1]]), "y", 3)
    runtime._check_labels(np.zeros((1, 0), int), "y", 3)        # no labels: nothing to check


# -- numerics ------------------------------------------------------------------------------------
EDGES = np.array([-800.0, -709.5, -40.0, -1e-300, 0.0, 1e-8, 0.3, 5.0, 40.0, 800.0])


def test_sigmoid_is_correctly_rounded_everywhere_and_never_overflows():
    x = np.concatenate([EDGES, RNG.standard_normal(50) * 20])
    got = runtime._sigmoid(x.copy())
    exact = _exact(lambda v: 1 / (1 + mpmath.exp(-v)), x)
    assert np.all(np.abs(got - exact) <= 2 * np.spacing(exact))
    assert runtime._sigmoid(-800.0) == 0.0
    assert runtime._sigmoid(np.float32(-100)).dtype == np.float32


def test_sigmoid_leaves_its_argument_alone():
    x = RNG.standard_normal((3, 4))
    before = x.copy()
    s = runtime._sigmoid(x)
    assert np.array_equal(x, before) and not np.shares_memory(s, x)


def test_logcosh_has_full_relative_accuracy_near_zero_and_no_overflow_far_out():
    x = np.concatenate([EDGES, RNG.standard_normal(50) * 3])
    exact = _exact(lambda v: mpmath.log(mpmath.cosh(v)), x)
    got = runtime._logcosh(x)
    assert np.all(np.abs(got - exact) <= 4 * np.spacing(np.abs(exact)) + (exact == 0))


def test_xlogx_is_zero_at_zero_and_x_log_x_elsewhere():
    x = np.array([0.0, 1e-300, 0.5, 1.0, 3.0])
    assert runtime._xlogx(x)[0] == 0.0
    assert np.allclose(runtime._xlogx(x)[1:], _exact(lambda v: v * mpmath.log(v), x[1:]),
                       rtol=1e-15, atol=0)


def test_logsumexp_per_column_and_per_row_without_overflow():
    x = np.array([[1000.0, -2.0], [999.0, 3.0], [1.0, -1e300]])
    cols = runtime._logsumexp(x, -2)
    exact = [float(mpmath.log(sum(mpmath.exp(mpmath.mpf(v)) for v in col))) for col in x.T]
    assert cols.shape == (1, 2) and np.allclose(cols[0], exact, rtol=1e-15)
    rows = runtime._logsumexp(x[:2], -1)
    exact = [float(mpmath.log(sum(mpmath.exp(mpmath.mpf(v)) for v in row))) for row in x[:2]]
    assert rows.shape == (2, 1) and np.allclose(rows[:, 0], exact, rtol=1e-15)


# -- max, min and diagonal adjoints ----------------------------------------------------------------
def test_put_at_arg_puts_each_column_adjoint_at_its_first_maximum():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [3.0, 0.0]])
    g = np.array([[10.0, 20.0]])
    out = runtime._put_at_arg(g, x, -2, np.argmax)
    assert out.tolist() == [[0, 20], [10, 0], [0, 0]]          # ties: the first
    assert runtime._put_at_arg(7.0, x, None, np.argmin).tolist() == [[0, 0], [0, 0], [0, 7]]


def test_take_at_arg_takes_the_tangent_at_each_rows_minimum_with_a_seed_axis():
    x = np.array([[4.0, 1.0, 9.0], [2.0, 8.0, 2.0]])
    t = np.arange(12.0).reshape(2, 2, 3)                            # two seeds
    out = runtime._take_at_arg(t, x, -1, np.argmin)
    assert out.shape == (2, 2, 1) and out[:, :, 0].tolist() == [[1, 3], [7, 9]]


def test_diagonal_matrix_puts_a_column_on_the_diagonal_of_a_new_array():
    d = np.array([[1.0], [2.0], [3.0]])
    out = runtime._diagonal_matrix(d)
    assert np.array_equal(out, np.diag([1.0, 2.0, 3.0])) and not np.shares_memory(out, d)
    batch = runtime._diagonal_matrix(np.stack([d, 2 * d]))
    assert batch.shape == (2, 3, 3) and np.array_equal(batch[1], np.diag([2.0, 4.0, 6.0]))
