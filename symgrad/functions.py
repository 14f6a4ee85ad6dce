"""Scalar SymPy functions symgrad adds: sigmoid and softplus, with their derivatives."""
import sympy as sp


class sigmoid(sp.Function):
    """The logistic function 1/(1 + exp(-x)); its derivative reuses its value."""

    nargs = 1

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.S.Half

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):        # in (0, 1): Max(0, sigmoid(u)) needs no search
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        arg = printer._print(self.args[0])
        base = r"\sigma\left(%s\right)" % arg
        return base if exp is None else r"\sigma^{%s}\left(%s\right)" % (exp, arg)


class softplus(sp.Function):
    """log(1 + exp(x)), evaluated stably; its derivative is sigmoid(x)."""

    nargs = 1

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return sp.log(1 + sp.exp(x))

    def _eval_is_real(self):
        return self.args[0].is_real

    _eval_is_positive = _eval_is_real   # log(1 + e^x) > 0

    def _latex(self, printer, exp=None):
        arg = printer._print(self.args[0])
        name = r"\operatorname{softplus}" if exp is None else r"\operatorname{softplus}^{%s}" % exp
        return r"%s\left(%s\right)" % (name, arg)


def to_elementary(expr):
    """Rewrite symgrad's functions into exp/log so any SymPy tool can evaluate them."""
    return expr.replace(sigmoid, lambda x: 1 / (1 + sp.exp(-x))).replace(
        softplus, lambda x: sp.log(1 + sp.exp(x)))
