"""Losses, each building an ordinary SymPy expression, with PyTorch's reduction convention.

`reduction="mean"` (the default) averages the loss's entries, `"sum"` adds them and `"none"`
returns them: one per entry for the elementwise losses, one per example for those along the
class axis (cross_entropy, nll, multiclass_hinge), so that "mean" averages over the examples.
Class-axis losses take `axis=`, the class axis: 0 for examples as columns (scores (k, m),
symgrad's layout), 1 for examples as rows (cs231n's scores (N, C)); their target is one-hot
(or class probabilities) of the scores' shape, or integer labels (sg.Labels) read with Pick.
"""
import sympy as sp

from .errors import SymgradError
from .functions import logcosh, softplus as _softplus, xlogx
from .graph import same_dim, shape_str
from .array import (add, axis_of, broadcast_to, hadamard, negative, reduce_sum, subtract,
                    wrap)
from .labels import Pick, _Labels
from .nn import _elementwise, _number, log, log_softmax, logsumexp, mean, relu, sum


def pick(scores, labels, axis=0):
    """Pick(scores, labels, axis): the score at each example's integer label along the class
    axis (cs231n's scores[np.arange(N), y])."""
    if not isinstance(labels, _Labels):
        raise SymgradError(f"pick: {str(labels)[:40]} is not integer labels: declare them with "
                           "sg.Labels('y', m), or use a one-hot target")
    examples = scores.shape[1 - axis_of(axis, "pick")]
    if not same_dim(sp.Mul(*labels.shape), examples):
        raise SymgradError(f"pick: {labels.name} holds {sp.Mul(*labels.shape)} labels but the "
                           f"scores {shape_str(scores.shape)} have {examples} examples along axis "
                           f"{1 - axis}: pass axis={1 - axis} if the classes run along it")
    return wrap(Pick(scores, labels, axis))


def _reduce(loss, reduction, what, examples=None):
    """PyTorch's reduction of a loss's entries: mean, sum or none (the entries); batchmean
    (kl_div's) divides the sum by the number of examples. A scalar loss is its own mean and
    sum."""
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    if reduction == "none":
        return wrap(loss)
    if reduction == "batchmean" and examples is not None:
        return sum(loss) / examples
    extra = ", 'batchmean'" if examples is not None else ""
    raise SymgradError(f"{what}: reduction={reduction!r}: give 'mean' (the default), 'sum'"
                       f"{extra} or 'none'")


def _target(scores, target, axis, what):
    """Whether target is integer labels; otherwise check it has the scores' shape."""
    if not isinstance(scores, sp.MatrixExpr):
        raise SymgradError(f"{what}: the scores are a scalar: give a matrix of scores, "
                           "classes along the axis axis=")
    if isinstance(target, _Labels):
        return True
    if not (isinstance(target, sp.MatrixExpr)
            and all(same_dim(a, b) for a, b in zip(target.shape, scores.shape))):
        got = shape_str(target.shape) if isinstance(target, sp.MatrixExpr) else "a scalar"
        raise SymgradError(f"{what}: the target is {got} but the scores are "
                           f"{shape_str(scores.shape)}: give a one-hot target of the scores' "
                           "shape, or integer labels (sg.Labels)")
    return False


def _is_softmax(a):
    """Whether a is sg.softmax's output, exp(z) * 1/(the sums of exp(z))."""
    if not (isinstance(a, sp.HadamardProduct) and len(a.args) == 2):
        return False
    return any(isinstance(p, sp.HadamardPower) and p.exp == -1 and p.base.has(e)
               for e, p in (a.args, a.args[::-1]))


# ---- losses along the class axis ----------------------------------------------------------
def cross_entropy(scores, target, axis=0, reduction="mean"):
    """Softmax cross-entropy on scores (logits), as torch.nn.functional.cross_entropy: per
    example logsumexp(s) - s[y] for integer labels y, or -sum(Y * log_softmax(s)) over the
    classes for a one-hot (or class-probability) target Y; the mean is over the examples.
    The gradient is (softmax(s) - Y)/m; with labels the one-hot matrix is never formed."""
    if _is_softmax(scores):
        raise SymgradError("cross_entropy takes scores (logits), as PyTorch's does, and applies "
                           "the softmax itself: pass Z, not sg.softmax(Z), or use "
                           "sg.nll(sg.log(A), Y) for probabilities")
    if _target(scores, target, axis, "cross_entropy"):
        per = sp.MatAdd(logsumexp(scores, axis), negative(pick(scores, target, axis)))
    else:
        per = negative(reduce_sum(sp.HadamardProduct(target, log_softmax(scores, axis)), axis,
                                   True))
    return _reduce(per, reduction, "cross_entropy")


def nll(log_probs, target, axis=0, reduction="mean"):
    """Negative log-likelihood of log-probabilities (e.g. sg.log_softmax(Z)), as
    torch.nn.functional.nll_loss: per example -log_probs[y] for integer labels y, or
    -sum(Y * log_probs) over the classes for a one-hot target Y."""
    if _target(log_probs, target, axis, "nll"):
        per = negative(pick(log_probs, target, axis))
    else:
        per = negative(reduce_sum(sp.HadamardProduct(target, log_probs), axis, True))
    return _reduce(per, reduction, "nll")


def multiclass_hinge(scores, target, axis=0, margin=1, reduction="mean"):
    """The multiclass SVM loss (cs231n; Weston and Watkins 1999): per example the sum over
    the classes j other than the label y of max(0, s_j - s_y + margin), written as the sum
    over all j minus the label's own term, margin. torch.nn.functional.multi_margin_loss
    divides it by the number of classes; a kink (s_j - s_y + margin = 0) has derivative 0."""
    margin = _number(margin, "multiclass_hinge: margin", 0)
    if _target(scores, target, axis, "multiclass_hinge"):
        correct = pick(scores, target, axis)
    else:
        correct = reduce_sum(sp.HadamardProduct(scores, target), axis, True)
    margins = relu(sp.MatAdd(subtract(scores, broadcast_to(correct, scores.shape)),
                             sp.MatMul(margin, sp.OneMatrix(*scores.shape))))
    per = sp.MatAdd(reduce_sum(margins, axis, True),
                    sp.MatMul(-margin, sp.OneMatrix(*correct.shape)))
    return _reduce(per, reduction, "multiclass_hinge")


# ---- elementwise losses -------------------------------------------------------------------
def _elementwise_loss(f, a, y):
    """f of the residual a - y, entry by entry (a scalar for scalars)."""
    return _elementwise(f, subtract(a, y) if isinstance(a, sp.MatrixExpr) else a - y)


def binary_cross_entropy(a, y, reduction="mean"):
    """-(y log a + (1 - y) log(1 - a)) for probabilities a, entry by entry, as
    torch.nn.functional.binary_cross_entropy; when a is sigmoid(z), symgrad evaluates it on
    the logits z, stably."""
    if isinstance(a, sp.MatrixExpr):
        entries = add(negative(hadamard(subtract(1, y), log(subtract(1, a)))),
                      negative(hadamard(y, log(a))))
    else:
        entries = -(y * sp.log(a) + (1 - y) * sp.log(1 - a))
    return _reduce(entries, reduction, "binary_cross_entropy")


def bce_with_logits(z, y, reduction="mean"):
    """Binary cross-entropy on logits z, as torch.nn.functional.binary_cross_entropy_with_logits:
    softplus(z) - y*z entry by entry, the stable form max(z, 0) - y*z + log1p(exp(-|z|))
    (NUMERICS.md); its derivative is sigmoid(z) - y."""
    entries = subtract(_elementwise(_softplus, z), hadamard(z, y)) \
        if isinstance(z, sp.MatrixExpr) else _softplus(z) - y * z
    return _reduce(entries, reduction, "bce_with_logits")


def mse(a, y, reduction="mean"):
    """(a - y)**2 entry by entry, as torch.nn.functional.mse_loss (the mean over all entries
    by default)."""
    entries = sp.HadamardPower(subtract(a, y), 2) if isinstance(a, sp.MatrixExpr) \
        else (a - y) ** 2
    return _reduce(entries, reduction, "mse")


_r = sp.Dummy("r", real=True)


def _huber(delta):
    """Huber's function of the residual r: r**2/2 for |r| < delta, delta*(|r| - delta/2)
    beyond, as min(|r|, delta)*(|r| - min(|r|, delta)/2): derivative 0 at r = 0 and
    delta*sign(r) at |r| = delta, PyTorch's."""
    clipped = sp.Min(sp.Abs(_r), delta)
    return clipped * (sp.Abs(_r) - clipped / 2)


def huber(a, y, delta=1, reduction="mean"):
    """The Huber loss (Huber 1964; torch.nn.functional.huber_loss) of a - y entry by entry:
    r**2/2 for |r| < delta, delta*(|r| - delta/2) otherwise."""
    delta = _number(delta, "huber: delta", 0)
    return _reduce(_elementwise_loss(sp.Lambda(_r, _huber(delta)), a, y), reduction, "huber")


def smooth_l1(a, y, beta=1, reduction="mean"):
    """Smooth L1 (Girshick 2015, Fast R-CNN; torch.nn.functional.smooth_l1_loss) of a - y
    entry by entry: r**2/(2 beta) for |r| < beta, |r| - beta/2 otherwise (huber / beta)."""
    beta = _number(beta, "smooth_l1: beta", 0)
    return _reduce(_elementwise_loss(sp.Lambda(_r, _huber(beta) / beta), a, y), reduction,
                   "smooth_l1")


def log_cosh(a, y, reduction="mean"):
    """log(cosh(a - y)) entry by entry, evaluated without overflow (NUMERICS.md): about
    r**2/2 near 0 and |r| - log 2 far from it; its derivative is tanh(r)."""
    return _reduce(_elementwise_loss(logcosh, a, y), reduction, "log_cosh")


def kl_div(log_q, p, axis=0, reduction="mean"):
    """The Kullback-Leibler divergence KL(p || q) as torch.nn.functional.kl_div(log_q, p):
    p*(log p - log_q) entry by entry, for log-probabilities log_q and probabilities p, with
    p log p = 0 where p = 0 (torch.xlogy). "mean" averages over every entry, as PyTorch's;
    "batchmean" (the divergence's mean over the examples) divides the sum by the number of
    examples, those along the other axis than the class axis `axis`."""
    if not isinstance(log_q, sp.MatrixExpr):
        return _reduce(xlogx(p) - p * log_q, reduction, "kl_div", examples=1)
    entries = sp.MatAdd(_elementwise(xlogx, p), negative(sp.HadamardProduct(log_q, p)))
    examples = log_q.shape[1 - axis_of(axis, "kl_div")]
    return _reduce(entries, reduction, "kl_div", examples=examples)
