"""Scalar SymPy functions symgrad adds, with their derivatives: sigmoid and softplus, and the
stable forms of log cosh and x log x that the losses use."""
import sympy as sp

from .errors import SymgradError


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


class logcosh(sp.Function):
    """log(cosh(x)), evaluated as logaddexp(x, -x) - log 2 (cosh overflows past 710); its
    derivative is tanh(x) (NUMERICS.md)."""

    nargs = 1

    def fdiff(self, argindex=1):
        return sp.tanh(self.args[0])

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        name = r"\log\cosh" if exp is None else r"\log^{%s}\cosh" % exp
        return r"%s\left(%s\right)" % (name, printer._print(self.args[0]))


class xlogx(sp.Function):
    """x log(x), and 0 at x = 0, its limit (as torch.xlogy(x, x)); its derivative is
    log(x) + 1."""

    nargs = 1

    def fdiff(self, argindex=1):
        return sp.log(self.args[0]) + 1

    def _latex(self, printer, exp=None):
        arg = printer._print(self.args[0])
        base = r"%s \log %s" % (arg, arg) if self.args[0].is_Atom \
            else r"\left(%s\right) \log\left(%s\right)" % (arg, arg)
        return base if exp is None else r"\left(%s\right)^{%s}" % (base, exp)


class erfc(sp.erfc):
    """SymPy's erfc, kept as written where its argument is negative: SymPy writes erfc(-x) as
    2 - erfc(x), which cancels to 0 where erfc(-x) is tiny (1 + erf(u) for u << 0, the exact
    GELU's, simplify writes erfc(-u)). It prints, evaluates and differentiates as erfc."""

    @classmethod
    def eval(cls, x):
        if x.is_number or not x.could_extract_minus_sign():
            return super().eval(x)
        return None


class root(sp.Function):
    """sqrt(x) of a sum of squares, sg.norm's: its derivative 1/(2 sqrt(x)) is taken as 0 at
    x = 0, where the norm's gradient x/|x| would be 0/0: the subgradient 0, as |x|'(0) and
    torch.linalg.norm's. It prints as sqrt in every printer."""

    nargs = 1

    def fdiff(self, argindex=1):
        x = self.args[0]            # (no 1/0 evaluated in the branch np.where does not take)
        return sp.Piecewise((1, x > 0), (0, True)) / (
            2 * sp.sqrt(sp.Piecewise((x, x > 0), (1, True))))

    def _eval_is_nonnegative(self):
        return True

    def _numpycode(self, printer, **kwargs):
        return printer._print(sp.sqrt(self.args[0]))

    _sympystr = _numpycode

    def _latex(self, printer, exp=None):
        text = printer._print(sp.sqrt(self.args[0]))
        return text if exp is None else r"\left(%s\right)^{%s}" % (text, exp)


def to_elementary(expr, keep=()):
    """Rewrite symgrad's functions (but those in keep) into exp/log so any SymPy tool can
    evaluate them."""
    rewrites = {sigmoid: lambda x: 1 / (1 + sp.exp(-x)),
                softplus: lambda x: sp.log(1 + sp.exp(x)),
                logcosh: lambda x: sp.log(sp.cosh(x)),
                xlogx: lambda x: sp.Piecewise((0, sp.Eq(x, 0)), (x * sp.log(x), True)),
                root: sp.sqrt}
    for function, elementary in rewrites.items():
        if function not in keep:
            expr = expr.replace(function, elementary)
    return expr


def step_at_zero(h):
    """H(0) of a Heaviside step as symgrad computes it: 0 where SymPy's default 1/2 stands
    (relu'(0) = 0, as PyTorch; Heaviside(x, 1/2) is the same expression as Heaviside(x), so it
    cannot be told from it) and where 0 is given, 1 where 1 is given; any other is refused."""
    value = h.args[1] if len(h.args) > 1 else sp.S.Half
    if value == sp.S.Half or value == 0:
        return 0
    if value == 1:
        return 1
    value = sp.sstr(value, full_prec=False)
    raise SymgradError(f"Heaviside(x, {value}) asks for H(0) = {value}: symgrad computes H(0) = 0 "
                       "(SymPy's default 1/2 taken as 0, as relu'(0)) or an explicit 1: write "
                       "Heaviside(x), Heaviside(x, 0) or Heaviside(x, 1)")


def step_comparison(h):
    """The comparison with 0 that a Heaviside step is (step_at_zero): ">" or ">="."""
    return ">=" if step_at_zero(h) else ">"


def check_steps(expr):
    """Refuse (step_at_zero) a Heaviside step in expr whose H(0) symgrad cannot compute."""
    for h in expr.atoms(sp.Heaviside):
        step_at_zero(h)
