"""Activations, reductions and layers, each building an ordinary SymPy expression (the
losses are in losses.py).

Matrices hold one example per column by default (classes along rows for softmax); the
helpers that work along an axis take axis= for examples as rows. Every elementwise helper
works on a scalar expression too.
"""
import sympy as sp
from sympy.codegen.cfunctions import expm1
from sympy.core.basic import Basic
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .errors import SymgradError
from .functions import sigmoid as _sigmoid, softplus as _softplus
from .array import (add, axis_of, broadcast_to, matmul, reduce_mean, reduce_sum, subtract,
                    wrap)
from .graph import same_dim, shape_str

_t = sp.Dummy("t", real=True)


def _elementwise(f, x):
    """f of each entry of a matrix x, else f(x). For a 1 x 1 matrix SymPy's constructor calls
    f on the matrix itself, which relu's comparisons, gelu's and sqrt's powers refuse: the node
    is made as for any other shape (SymPy's own Lambda of a Dummy)."""
    if isinstance(x, sp.MatrixExpr):
        if not isinstance(f, sp.Lambda):
            d = sp.Dummy("d")
            f = sp.Lambda(d, f(d))
        return wrap(Basic.__new__(ElementwiseApplyFunction, f, x), x)
    return f(x)


def _number(value, what, low=None, high=None):
    """value as a SymPy scalar, refused when it is a number outside (low, high]."""
    value = sp.sympify(value)
    if value.is_number and (low is not None and not value > low
                            or high is not None and not value <= high):
        raise SymgradError(f"{what} must be in ({low}, {'inf' if high is None else high}], "
                           f"not {value}")
    return value


def sigmoid(x):
    """1/(1 + exp(-x)) elementwise."""
    return _elementwise(_sigmoid, x)


def tanh(x):
    """tanh elementwise."""
    return _elementwise(sp.tanh, x)


def relu(x):
    """max(x, 0) elementwise; its derivative at 0 is taken as 0 (PyTorch's)."""
    return _elementwise(sp.Lambda(_t, sp.Max(_t, 0)), x)


_ONE_HUNDREDTH = sp.Rational(1, 100)


def leaky_relu(x, alpha=_ONE_HUNDREDTH):
    """x for x > 0, alpha*x otherwise (torch.nn.functional.leaky_relu), elementwise, as
    alpha*x + (1 - alpha)*max(x, 0): its derivative at 0 is alpha, PyTorch's; alpha may be
    a scalar parameter (sg.Param("alpha")), which makes it PReLU."""
    alpha = sp.sympify(alpha)
    return _elementwise(sp.Lambda(_t, alpha * _t + (1 - alpha) * sp.Max(_t, 0)), x)


def prelu(x, alpha):
    """PReLU (He et al. 2015, "Delving Deep into Rectifiers"; torch.nn.functional.prelu with
    one weight): leaky_relu with a learnable slope, alpha = sg.Param("alpha"); derivative
    alpha at 0, PyTorch's."""
    return leaky_relu(x, alpha)


def _elu(t, alpha):
    """ELU's body: max(t, 0) + alpha*expm1(min(t, 0)), with min(t, 0) written t - max(t, 0)
    so that the derivative at 0 is alpha (PyTorch's: the limit from the left), and no exp
    overflows."""
    top = sp.Max(t, 0)
    return top + alpha * expm1(t - top)


def elu(x, alpha=1):
    """ELU (Clevert et al. 2015; torch.nn.functional.elu): x for x > 0, alpha*(exp(x) - 1)
    otherwise, elementwise; derivative alpha at 0, PyTorch's."""
    return _elementwise(sp.Lambda(_t, _elu(_t, _number(alpha, "elu: alpha", 0))), x)


SELU_ALPHA = sp.Float("1.6732632423543772848170429916717", 32)    # torch's constants
SELU_SCALE = sp.Float("1.0507009873554804934193349852946", 32)


def selu(x):
    """SELU (Klambauer et al. 2017, "Self-Normalizing Neural Networks";
    torch.nn.functional.selu): scale*elu(x, alpha) with PyTorch's alpha = 1.67326... and
    scale = 1.05070...; derivative scale*alpha at 0, PyTorch's."""
    return _elementwise(sp.Lambda(_t, SELU_SCALE * _elu(_t, SELU_ALPHA)), x)


def gelu(x, approximate="none"):
    """GELU (Hendrycks and Gimpel 2016; torch.nn.functional.gelu): x*Phi(x) =
    x*(1 + erf(x/sqrt(2)))/2, or with approximate="tanh" PyTorch's
    x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x**3)))/2, elementwise."""
    if approximate == "none":
        body = _t * (1 + sp.erf(_t / sp.sqrt(2))) / 2
    elif approximate == "tanh":
        body = _t * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (_t + sp.Float("0.044715") * _t**3))) / 2
    else:
        raise SymgradError(f"gelu: approximate={approximate!r}: give 'none' (exact, with erf) "
                           "or 'tanh'")
    return _elementwise(sp.Lambda(_t, body), x)


def mish(x):
    """Mish (Misra 2019; torch.nn.functional.mish): x*tanh(softplus(x)), elementwise."""
    return _elementwise(sp.Lambda(_t, _t * sp.tanh(_softplus(_t))), x)


def swish(x, beta=1):
    """Swish (Ramachandran et al. 2017, "Searching for Activation Functions"):
    x*sigmoid(beta*x), elementwise; beta=1 is SiLU (torch.nn.functional.silu), and beta may
    be a scalar parameter, learned (sg.Param("beta"))."""
    beta = sp.sympify(beta)
    return _elementwise(sp.Lambda(_t, _t * _sigmoid(beta * _t)), x)


def softsign(x):
    """x/(1 + |x|), elementwise (torch.nn.functional.softsign); derivative 1/(1 + |x|)**2."""
    return _elementwise(sp.Lambda(_t, _t / (1 + sp.Abs(_t))), x)


def hardtanh(x, min_val=-1, max_val=1):
    """x clipped to [min_val, max_val], elementwise (torch.nn.functional.hardtanh); its
    derivative is 0 at both ends, PyTorch's."""
    low, high = sp.sympify(min_val), sp.sympify(max_val)
    if low.is_number and high.is_number and not low < high:
        raise SymgradError(f"hardtanh: min_val={low} must be below max_val={high}")
    return _elementwise(sp.Lambda(_t, sp.Max(low, sp.Min(high, _t))), x)


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
    losses add up (sg.mean(...) + lam * sg.sum(W ** 2)); axis=0 sums down the rows, axis=1
    along the columns: with keepdims=True to a row (1, m) or a column (n, 1), without to
    NumPy's 1-d (m,) or (n,), held as the row it broadcasts as (its .T is itself, W @ v takes
    it as a column). Of a 1-d, axis=0 is all its entries."""
    return reduce_sum(x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """np.mean: the mean over the entries sg.sum(x, axis, keepdims) adds up."""
    return reduce_mean(x, axis, keepdims)


def logsumexp(z, axis=0):
    """log(sum(exp(z))) along axis: per column, a row (1, m), for axis 0 (classes along
    rows); per row, a column, for axis 1 (of a 1-d, axis 0 is its entries: a 1-d of one);
    computed with the maximum along it subtracted."""
    axis = axis_of(axis, "sg.logsumexp", z)
    return log(reduce_sum(exp(z), axis, True))


def softmax(z, axis=0):
    """exp(z) / sum(exp(z)) along axis (0: per column, 1: per row; of a 1-d, 0 is its
    entries); computed as exp(z - logsumexp(z))."""
    axis = axis_of(axis, "sg.softmax", z)
    e = exp(z)
    return wrap(sp.HadamardProduct(e, sp.HadamardPower(broadcast_to(reduce_sum(e, axis, True),
                                                                    z.shape), -1)), z)


def log_softmax(z, axis=0):
    """z - logsumexp(z) along axis (0: per column, 1: per row)."""
    axis = axis_of(axis, "sg.log_softmax", z)
    return log(softmax(z, axis))


def dense(w, x, b):
    """w x + b with the bias column b broadcast over the columns of x."""
    return add(matmul(w, x), b)


# ---- layers -------------------------------------------------------------------------------
def _normalised(z, axis, eps, gamma, beta, features, what):
    """gamma*(z - mean)/sqrt(var + eps) + beta, the mean and the biased variance taken along
    axis; gamma and beta hold one entry per feature (features: the axis they run along)."""
    count = z.shape[axis_of(axis, what)]
    mu = sp.MatMul(sp.S.One / count, reduce_sum(z, axis, True))
    centred = subtract(z, broadcast_to(mu, z.shape))
    var = sp.MatMul(sp.S.One / count, reduce_sum(sp.HadamardPower(centred, 2), axis, True))
    eps = _number(eps, f"{what}: eps", 0)
    scale = sp.HadamardPower(sp.MatAdd(var, sp.MatMul(eps, sp.OneMatrix(*var.shape))),
                             sp.Rational(-1, 2))
    out = sp.HadamardProduct(centred, broadcast_to(scale, z.shape))
    want = (z.shape[0], 1) if features == 0 else (1, z.shape[1])
    for name, v in (("gamma", gamma), ("beta", beta)):
        if v is not None and not (isinstance(v, sp.MatrixExpr)
                                  and all(same_dim(a, b) for a, b in zip(v.shape, want))):
            got = shape_str(v.shape) if isinstance(v, sp.MatrixExpr) else "a scalar"
            raise SymgradError(f"{what}: {name} is {got} but must be {shape_str(want)}, one "
                               "entry per feature")
    if gamma is not None:
        out = sp.HadamardProduct(out, broadcast_to(gamma, z.shape))
    return wrap(out if beta is None else sp.MatAdd(out, broadcast_to(beta, z.shape)))


def batch_norm(z, gamma=None, beta=None, eps=1e-5, axis=1):
    """Batch normalisation in training mode (Ioffe and Szegedy 2015;
    torch.nn.functional.batch_norm with training=True): each feature normalised over the
    examples by the batch mean and the biased batch variance, var + eps under the root, then
    scaled by gamma and shifted by beta (learnable, one entry per feature). axis is the
    examples' axis: 1 for examples as columns (z (n, m), gamma and beta (n, 1)), 0 for
    examples as rows (cs231n's x (N, D), gamma and beta (1, D))."""
    return _normalised(z, axis, eps, gamma, beta, 1 - axis, "batch_norm")


def layer_norm(z, gamma=None, beta=None, eps=1e-5, axis=0):
    """Layer normalisation (Ba et al. 2016; torch.nn.functional.layer_norm over the
    features): each example normalised over its features by their mean and biased variance,
    var + eps under the root, then scaled by gamma and shifted by beta (one entry per
    feature). axis is the features' axis: 0 for examples as columns (gamma (n, 1)), 1 for
    examples as rows (gamma (1, D))."""
    return _normalised(z, axis, eps, gamma, beta, axis, "layer_norm")


def dropout(a, d, keep_prob):
    """Inverted dropout with a mask input d of a's shape (1 keeps an entry, 0 drops it), as the
    deep-learning course writes it: a * d / keep_prob (torch.nn.functional.dropout with
    p = 1 - keep_prob, given its mask)."""
    keep = _number(keep_prob, "dropout: keep_prob", 0, 1)
    return wrap(sp.MatMul(1 / keep, sp.HadamardProduct(a, d)), a, d)


def l2(*weights, lam):
    """The L2 penalty lam/2 * (sum of the squares of every entry of each weight), a scalar:
    its gradient is lam*W, PyTorch's weight_decay=lam. The course's
    (lambd/(2m)) * sum ||W||**2 is l2(W1, W2, lam=lambd/m)."""
    if not weights:
        raise SymgradError("l2: give the weights to penalise, e.g. sg.l2(W1, W2, lam=0.01)")
    squares = [sum(sp.HadamardPower(w, 2)) if isinstance(w, sp.MatrixExpr) else w**2
               for w in weights]
    return sp.sympify(lam) / 2 * sp.Add(*squares)
