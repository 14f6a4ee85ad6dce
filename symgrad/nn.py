"""Activations and losses, each building an ordinary SymPy expression.

Matrices hold one example per column (classes along rows for softmax). Every helper
works on a scalar expression too, where it makes sense.
"""
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .functions import sigmoid as _sigmoid, softplus as _softplus
from .array import reduce_mean, reduce_sum, wrap

_t = sp.Dummy("t", real=True)


def _elementwise(f, x):
    if isinstance(x, sp.MatrixExpr):
        return wrap(ElementwiseApplyFunction(f, x))
    return f(x)


def _negative(x):
    return sp.MatMul(sp.S.NegativeOne, x)       # the constructors call no .doit() (above)


def _subtract(x, y):
    return sp.MatAdd(x, _negative(y))


def sigmoid(x):
    """1/(1 + exp(-x)) elementwise."""
    return _elementwise(_sigmoid, x)


def tanh(x):
    """tanh elementwise."""
    return _elementwise(sp.tanh, x)


def relu(x):
    """max(x, 0) elementwise; its derivative at 0 is taken as 0."""
    return _elementwise(sp.Lambda(_t, sp.Max(_t, 0)), x)


def leaky_relu(x, alpha=sp.Rational(1, 100)):
    """max(x, alpha*x) elementwise, for 0 < alpha < 1; derivative 0 at 0 (see docs)."""
    return _elementwise(sp.Lambda(_t, sp.Max(_t, sp.sympify(alpha) * _t)), x)


def softplus(x):
    """log(1 + exp(x)) elementwise, evaluated stably."""
    return _elementwise(_softplus, x)


def exp(x):
    """exp elementwise."""
    return _elementwise(sp.exp, x)


def log(x):
    """Natural log elementwise."""
    return _elementwise(sp.log, x)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - the natural name; sg.sum mirrors np.sum
    """np.sum: of all entries a scalar, tr(1^T x 1) (no ones are materialised in code), so that
    losses add up (sg.mean(...) + lam * sg.sum(W ** 2)); axis=0 sums down the rows to a row
    (1, m); axis=1 along the columns, to a column (n, 1) with keepdims=True (as NumPy, a row
    (1, n) without: NumPy's (n,) broadcasts as a row)."""
    return reduce_sum(x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """np.mean: the mean over the entries sg.sum(x, axis, keepdims) adds up."""
    return reduce_mean(x, axis, keepdims)


def logsumexp(z):
    """log(sum(exp(z))) per column: a row vector (1, m); computed with the max subtracted."""
    rows, _ = z.shape
    return log(sp.MatMul(sp.OneMatrix(1, rows), exp(z)))


def softmax(z):
    """exp(z) / sum(exp(z)) per column; computed as exp(z - logsumexp(z))."""
    rows, _ = z.shape
    e = exp(z)
    return wrap(sp.HadamardProduct(e, sp.HadamardPower(sp.MatMul(sp.OneMatrix(rows, rows), e),
                                                       -1)))


def log_softmax(z):
    """z - logsumexp(z) per column."""
    return log(softmax(z))


def binary_cross_entropy(a, y):
    """-(y log a + (1 - y) log(1 - a)) elementwise, for probabilities a; mean it for a cost.

    When a is sigmoid(z), symgrad evaluates it on the logits z, stably.
    """
    if not isinstance(a, sp.MatrixExpr):
        return -(y * sp.log(a) + (1 - y) * sp.log(1 - a))
    ones = sp.OneMatrix(*a.shape)
    return wrap(sp.MatAdd(
        _negative(sp.HadamardProduct(_subtract(ones, y), log(_subtract(ones, a)))),
        _negative(sp.HadamardProduct(y, log(a)))))


def cross_entropy(a, y):
    """-sum(y log a) over classes and examples, for column probabilities a (e.g. softmax)."""
    return -sum(sp.HadamardProduct(y, log(a)))


def mse(a, y):
    """Mean of the squared differences over all entries (a scalar)."""
    return mean(sp.HadamardPower(_subtract(a, y), 2))


def dense(w, x, b):
    """w x + b with the bias column b broadcast over the columns of x."""
    return wrap(sp.MatAdd(sp.MatMul(w, x), sp.MatMul(b, sp.OneMatrix(1, x.shape[1]))))
