"""Scalar-level rewriting: stable forms (NUMERICS.md) and simplification of derivatives.

Patterns are recognised on scalar expressions after SymPy has composed the functions, so
`log` of a sigmoid is found however the user wrote it (helpers, Lambda, applyfunc).
"""
from functools import lru_cache

import sympy as sp

from .functions import erfc, sigmoid, softplus


def _exp_arg(e):
    """u if e is exp(u), else None."""
    return e.exp if isinstance(e, sp.exp) else None


def _one_plus_exp(e):
    """u if e is 1 + exp(u), else None."""
    if isinstance(e, sp.Add) and len(e.args) == 2 and sp.S.One in e.args:
        other = e.args[1] if e.args[0] == 1 else e.args[0]
        return _exp_arg(other)
    return None


def _as_sigmoid(e):
    """sigmoid(-u) for 1/(1 + exp(u)), and sigmoid(u) for exp(u)*sigmoid(-u) (exp(u)/(1 + exp(u))
    once the first is rewritten; replace rewrites the arguments first), else None."""
    if isinstance(e, sp.Pow) and e.exp == -1:
        u = _one_plus_exp(e.base)
        if u is not None:
            return sigmoid(-u)
    for f in e.args if e.is_Mul else ():
        if isinstance(f, sigmoid) and sp.exp(-f.args[0]) in e.args:
            return e / (f * sp.exp(-f.args[0])) * sigmoid(-f.args[0])
    return None


def sigmoid_of_tanh(e):
    """sigmoid(2u) for e = (1 + tanh(u))/2 and sigmoid(-2u) for (1 - tanh(u))/2 (NUMERICS.md's
    0.5*(1 + tanh(z/2)) is sigmoid(z)), else None. Only the sigmoid as a whole: 1 + tanh(u)
    and the tanh-GELU z*(1 + tanh(u))/2 keep their tanh for the schedule, which writes them
    and their derivatives with one sigmoid (schedule._tanh_as_sigmoid)."""
    terms = e.as_coefficients_dict()
    half = terms.pop(sp.S.One, sp.S.Zero)
    if len(terms) != 1 or not (2 * half - 1).is_zero:
        return None
    t, c = next(iter(terms.items()))
    if not isinstance(t, sp.tanh) or not (abs(c) - half).is_zero:
        return None
    return sigmoid(2 * t.args[0] if c > 0 else -2 * t.args[0])


def _log_rewrite(e):
    """Stable form of log(...) of a sigmoid, 1 + exp, or 1 - sigmoid; else None."""
    if not isinstance(e, sp.log):
        return None
    arg = e.args[0]
    u = _one_plus_exp(arg)
    if u is not None:                                   # log(1 + e^u) = softplus(u)
        return softplus(u)
    if isinstance(arg, sigmoid):                        # log s(u) = -softplus(-u)
        return -softplus(-arg.args[0])
    if isinstance(arg, sp.Add) and len(arg.args) == 2 and sp.S.One in arg.args:
        other = arg.args[1] if arg.args[0] == 1 else arg.args[0]
        if isinstance(other, sp.Mul) and other.args[0] == -1 and len(other.args) == 2 \
                and isinstance(other.args[1], sigmoid):  # log(1 - s(u)) = -softplus(u)
            return -softplus(other.args[1].args[0])
    if isinstance(arg, sp.Pow) and arg.exp == -1:       # log(1/x) = -log(x)
        return -sp.log(arg.base)
    return None


def _as_erfc(e):
    """erfc(-u) for 1 + erf(u) (the exact GELU's 2 Phi, which cancels far below zero: 1 +
    erf(-8/sqrt(2)) = 1.2e-15 keeps a digit or two); else None."""
    if isinstance(e, sp.Add) and len(e.args) == 2 and sp.S.One in e.args:
        other = e.args[1] if e.args[0] == 1 else e.args[0]
        if isinstance(other, sp.erf):
            return erfc(-other.args[0])
    return None


def _rewrite(expr, rule):
    return expr.replace(lambda e: rule(e) is not None, rule)


@lru_cache(maxsize=4096)
def canonical(expr):
    """Recognise sigmoid (1/(1 + exp(-u)), exp(u)/(1 + exp(u)), (1 + tanh(u/2))/2) and
    softplus, and use the stable forms of log(sigmoid), softmax and 1 + erf."""
    expr = sigmoid_of_tanh(expr) or expr
    expr = sp.powsimp(_rewrite(expr, _as_sigmoid))
    for _ in range(3):                     # log(1/(1+e^u)) needs two rewrites
        new = _rewrite(expr, _log_rewrite)
        if new == expr:
            break
        expr = new
    expr = _rewrite(expr, _as_erfc)
    return sp.powsimp(expr)                # exp(a) * exp(-b) -> exp(a - b)


def _one_softplus(expr):
    """softplus(-u) as softplus(u) - u where both appear, expanded: binary cross-entropy
    y*softplus(-z) + (1 - y)*softplus(z) becomes softplus(z) - y*z in the graph, whose
    derivative simplifies to sigmoid(z) - y (the plan evaluates it in the first form again,
    schedule._positive_bce: the second cancels)."""
    pairs = {f.args[0] for f in expr.atoms(softplus)} & {-f.args[0] for f in expr.atoms(softplus)}
    if not pairs:
        return expr
    negated = expr.xreplace({softplus(-u): softplus(u) - u for u in pairs
                             if not u.could_extract_minus_sign()})
    return sp.expand(negated)


def has_exp(expr):
    return expr.has(sp.exp) or expr.has(sigmoid)


def unstable_operands(expr):
    """The operands (placeholders) of which expr takes a log or a reciprocal."""
    return {s for e in sp.preorder_traversal(expr)
            if isinstance(e, sp.log) or isinstance(e, sp.Pow) and e.exp.is_negative
            for s in e.free_symbols if s.name.startswith("_x")}


def _ops(e):
    return sp.count_ops(e, visual=False)


BUDGET = 120        # tree nodes and expanded terms: the examples' largest has 56 nodes


def _small(expr):
    """Whether expr is small enough to try rewriting it: cancelling and expanding cost time
    exponential in the nesting (twelve nested sigmoids took 14 s), and past this size they
    rarely shorten anything."""
    return _terms(expr) <= BUDGET and all(
        k <= BUDGET for k, _ in enumerate(sp.preorder_traversal(expr)))


def _terms(e):
    """The number of terms e has once expanded (at the top level; function arguments are
    not expanded)."""
    if e.is_Add:
        return sum(_terms(a) for a in e.args)
    if e.is_Mul:
        n = 1
        for a in e.args:
            n *= _terms(a)
        return n
    if e.is_Pow and e.exp.is_Integer and e.exp > 0:
        return _terms(e.base) ** int(e.exp)
    return 1


@lru_cache(maxsize=4096)
def _times_its_sign(e):
    return e.is_Mul and any(isinstance(f, sp.sign) and f.args[0] in e.args for f in e.args)


def _absolute(e):
    """A product u*sign(u)*rest as |u|*rest."""
    u = next(f.args[0] for f in e.args if isinstance(f, sp.sign) and f.args[0] in e.args)
    return sp.Abs(u) * e.func(*[f for f in e.args if f not in (u, sp.sign(u))])


def simplify_derivative(expr):
    """A short form of a derivative: sigmoid(-u) as 1 - sigmoid(u), u*sign(u) as |u| (the
    derivative of softsign, 1/(1 + |u|) - u*sign(u)/(1 + |u|)**2, which cancels for large
    u, is then 1/(1 + |u|)**2), then the shortest of
    expr, its cancelled form and its expansion (cheap, and enough for the seeds' cases),
    each with its exponentials multiplied together taken as one: expand writes
    exp(z - t) as exp(z)*exp(-t), which overflows where z and t are large (a softmax's
    logit and its logsumexp) though their quotient does not."""
    expr = expr.replace(lambda e: isinstance(e, sigmoid) and e.args[0].could_extract_minus_sign(),
                        lambda e: 1 - sigmoid(-e.args[0]))
    expr = expr.replace(_times_its_sign, _absolute)       # u*sign(u) = |u| (u real)
    if not expr.free_symbols or not _small(expr):
        return expr
    candidates = [expr]
    for f in (sp.cancel, sp.expand, lambda e: sp.factor_terms(sp.cancel(e)), _one_softplus,
              sp.together):
        try:
            candidates.append(f(expr))
        except (sp.PolynomialError, TypeError, ValueError):
            pass
    return min((sp.powsimp(c, combine="exp") for c in candidates), key=_ops)
