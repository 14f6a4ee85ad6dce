"""Reductions, elementwise selections and functions, slicing, concatenation and matrix powers.

Each helper builds an ordinary SymPy expression (plain SymPy classes where SymPy has one:
`MatrixSlice`, `BlockMatrix`, `MatPow`, `Abs`, `Piecewise`; small `MatrixExpr` subclasses
where it has none), which symgrad converts to graph nodes with their own VJP and JVP rules.
Shapes follow NumPy with keepdims=True: `max(A, axis=0)` of an (n, m) matrix is a (1, m)
row, `max(A, axis=1)` an (n, 1) column, `max(A)` a scalar. Of NumPy's 1-d (A[i],
sg.sum(A, axis)), axis 0 is all its entries: `max(v, axis=0)` is a scalar; the elementwise
helpers keep it 1-d.
"""
import sympy as sp
from sympy.logic.boolalg import Boolean, BooleanAtom

from .errors import SymgradError
from .functions import root
from .graph import broadcast_shape, same_dim, shape_str
from .array import _short, axis_of as _axis, check_matrix_power, is_vector, wrap
from .nn import _elementwise


def _is_matrix(x):
    return isinstance(x, sp.MatrixExpr)


# ---- max and min reductions ---------------------------------------------------------------
class ScalarExtremum(sp.Expr):
    """The largest (MatrixMax) or smallest (MatrixMin) entry of a matrix: a scalar."""

    kind: str = ""
    is_commutative = True

    def __new__(cls, arg):
        return sp.Expr.__new__(cls, sp.sympify(arg))

    @property
    def arg(self):
        return self.args[0]

    def _eval_is_extended_real(self):
        return True

    def _sympystr(self, printer):
        return "%s(%s)" % (self.kind, printer._print(self.arg))

    def _latex(self, printer, exp=None):
        text = r"\%s\left(%s\right)" % (self.kind, printer._print(self.arg))
        return text if exp is None else r"\left(%s\right)^{%s}" % (text, exp)


class MatrixMax(ScalarExtremum):
    kind = "max"


class MatrixMin(ScalarExtremum):
    kind = "min"


class AxisExtremum(sp.MatrixExpr):
    """The max (AxisMax) or min (AxisMin) along axis 0 (a (1, m) row: one per column) or
    axis 1 (an (n, 1) column: one per row)."""

    kind: str = ""

    def __new__(cls, arg, axis):
        return sp.MatrixExpr.__new__(cls, sp.sympify(arg), sp.Integer(axis))

    @property
    def arg(self):
        return self.args[0]

    @property
    def axis(self):
        return int(self.args[1])

    @property
    def shape(self):
        rows, cols = self.arg.shape
        return (sp.S.One, cols) if self.axis == 0 else (rows, sp.S.One)

    def _entry(self, i, j, **kwargs):
        rows, cols = self.arg.shape
        line = [self.arg[k, j] for k in range(rows)] if self.axis == 0 \
            else [self.arg[i, k] for k in range(cols)]
        return (sp.Max if self.kind == "max" else sp.Min)(*line)

    def _sympystr(self, printer):
        return "%s(%s, axis=%d)" % (self.kind, printer._print(self.arg), self.axis)

    def _latex(self, printer, exp=None):
        under = r"\text{rows}" if self.axis == 0 else r"\text{cols}"
        return r"\%s_{%s}\left(%s\right)" % (self.kind, under, printer._print(self.arg))


class AxisMax(AxisExtremum):
    kind = "max"


class AxisMin(AxisExtremum):
    kind = "min"


def _extremum(x, axis, scalar, along, what):
    axis = _axis(axis, what, x)
    if not _is_matrix(x):
        return x
    return scalar(x) if axis is None else wrap(along(x, axis))


def max(x, axis=None):  # noqa: A001 - sg.max mirrors np.max
    """The largest entry (axis=None: a scalar), or the largest along axis 0 (a (1, m) row)
    or 1 (an (n, 1) column), as np.max with keepdims=True. Its derivative passes the whole
    adjoint to one entry of each reduced slice: the first arg-max, as np.argmax picks it."""
    return _extremum(x, axis, MatrixMax, AxisMax, "sg.max")


def min(x, axis=None):  # noqa: A001 - sg.min mirrors np.min
    """The smallest entry, or the smallest along an axis; see sg.max (the first arg-min)."""
    return _extremum(x, axis, MatrixMin, AxisMin, "sg.min")


# ---- elementwise functions of several operands, with broadcasting -------------------------
class _Verbatim(sp.Dummy):
    """A stand-in printed as given text (an operand's, for printing a map's body)."""

    def __new__(cls, text):
        obj = super().__new__(cls, "v", real=True)
        obj._text = text
        return obj

    def _latex(self, printer, exp=None):
        return self._text if exp is None else r"{%s}^{%s}" % (self._text, exp)

    def _sympystr(self, printer):
        return self._text


class ElementwiseMap(sp.MatrixExpr):
    """f(x_1, ..., x_k) entry by entry, for a Lambda f of k scalars and operands that are
    matrices of one shape, columns (n, 1), rows (1, m), 1 x 1 matrices or scalars, broadcast
    as NumPy broadcasts them. sg.maximum, sg.where and the comparisons build one."""

    def __new__(cls, function, *operands):
        obj = sp.MatrixExpr.__new__(cls, function, *operands)
        try:
            obj._shape = broadcast_shape([o.shape for o in obj.operands if _is_matrix(o)])
        except SymgradError as e:
            raise SymgradError(f"{_describe(obj)}: {e}") from None
        return obj

    @property
    def function(self):
        return self.args[0]

    @property
    def operands(self):
        return self.args[1:]

    @property
    def shape(self):        # found once, here too when wrap or plain made the object
        if "_shape" not in self.__dict__:
            self._shape = broadcast_shape([o.shape for o in self.operands if _is_matrix(o)])
        return self._shape

    @property
    def is_condition(self):
        body = self.function.expr             # (a variable is a Boolean too: where(c, A, A))
        return isinstance(body, Boolean) and not isinstance(body, sp.Symbol)

    def _entry(self, i, j, **kwargs):
        return self.function(*[o[0 if o.rows == 1 else i, 0 if o.cols == 1 else j]
                               if _is_matrix(o) else o for o in self.operands])

    def _eval_transpose(self):
        return ElementwiseMap(self.function, *[o.T if _is_matrix(o) else o
                                               for o in self.operands])

    def _body(self, printer):
        return self.function(*[_Verbatim(printer._print(o)) for o in self.operands])

    def _sympystr(self, printer):
        return printer._print(self._body(printer))

    def _latex(self, printer, exp=None):
        return printer._print(self._body(printer))


def _describe(expr):
    return "an elementwise `%s`" % _short(expr)


def _apply(build, operands):
    """build(*operands) for scalars; an ElementwiseMap of build when one is a matrix (each
    distinct operand one variable)."""
    operands = [sp.sympify(o) for o in operands]
    if not any(_is_matrix(o) for o in operands):
        return build(*operands)
    distinct = list(dict.fromkeys(operands))
    xs = [sp.Dummy(f"x{k}", real=True) for k in range(len(distinct))]
    var = dict(zip(distinct, xs))
    return wrap(ElementwiseMap(sp.Lambda(tuple(xs), build(*[var[o] for o in operands])),
                               *distinct), *distinct)


def maximum(a, b):
    """The larger of a and b entry by entry (np.maximum), broadcasting scalars, columns and
    rows. At a tie the whole adjoint goes to a, the first argument, unless b is a number: a
    number takes the tie, so that sg.maximum(Z, 0), sg.maximum(0, Z) and sg.relu(Z) all have
    derivative 0 at 0 (NUMERICS.md)."""
    ties = sp.StrictGreaterThan if sp.sympify(b).is_number else sp.GreaterThan
    return _apply(lambda x, y: sp.Piecewise((x, ties(x, y)), (y, True)), [a, b])


def minimum(a, b):
    """The smaller of a and b entry by entry (np.minimum); a tie passes the adjoint to a,
    unless b is a number (as sg.maximum)."""
    ties = sp.StrictLessThan if sp.sympify(b).is_number else sp.LessThan
    return _apply(lambda x, y: sp.Piecewise((x, ties(x, y)), (y, True)), [a, b])


def greater(a, b):
    """The elementwise condition a > b, for sg.where (a SymPy relation for scalars)."""
    return _apply(lambda x, y: sp.StrictGreaterThan(x, y), [a, b])


def greater_equal(a, b):
    """The elementwise condition a >= b, for sg.where."""
    return _apply(lambda x, y: sp.GreaterThan(x, y), [a, b])


def less(a, b):
    """The elementwise condition a < b, for sg.where."""
    return _apply(lambda x, y: sp.StrictLessThan(x, y), [a, b])


def less_equal(a, b):
    """The elementwise condition a <= b, for sg.where."""
    return _apply(lambda x, y: sp.LessThan(x, y), [a, b])


def where(condition, a, b):
    """a where the condition holds and b elsewhere, entry by entry (np.where), e.g. a leaky
    ReLU sg.where(sg.greater(Z, 0), Z, Z/100). The condition is a comparison (sg.greater,
    sg.less, ...; for scalars a SymPy relation such as x > 0); derivatives flow only to the
    branch that was chosen."""
    if isinstance(condition, ElementwiseMap) and condition.is_condition:
        test, operands = condition.function, list(condition.operands)
        k = len(operands)
        return _apply(lambda *xs: sp.Piecewise((xs[k], test(*xs[:k])), (xs[k + 1], True)),
                      operands + [a, b])
    if isinstance(condition, (bool, BooleanAtom)) and any(_is_matrix(x) for x in (a, b)):
        raise SymgradError(f"sg.where: the condition is {condition}, one Python bool, not a "
                           "condition per entry (X == 0 of arrays compares them as whole "
                           "expressions): compare entries with sg.greater, sg.greater_equal, "
                           "sg.less or sg.less_equal, e.g. sg.less_equal(sg.abs(X), 0) for X == 0")
    if isinstance(condition, bool) or (isinstance(condition, Boolean)
                                       and not _is_matrix(condition)):
        return _apply(lambda x, y: sp.Piecewise((x, condition), (y, True)), [a, b])
    raise SymgradError(f"sg.where: the condition `{_short(condition)}` is not a comparison: "
                       "write one with sg.greater, sg.greater_equal, sg.less or sg.less_equal, "
                       "e.g. sg.where(sg.greater(Z, 0), Z, Z/100)")


def abs(x):  # noqa: A001 - sg.abs mirrors np.abs
    """|x| elementwise; its derivative is sign(x), 0 at 0."""
    return _elementwise(sp.Abs, x)


def sqrt(x):
    """The square root elementwise (its derivative is infinite at 0)."""
    return _elementwise(sp.Lambda(_t, sp.sqrt(_t)), x)


def sin(x):
    """sin elementwise."""
    return _elementwise(sp.sin, x)


def cos(x):
    """cos elementwise."""
    return _elementwise(sp.cos, x)


_t = sp.Dummy("t", real=True)


def norm(x, axis=None):
    """The Frobenius norm sqrt(sum(x**2)) (axis=None: a scalar), or the 2-norm of each column
    (axis=0: a (1, m) row) or of each row (axis=1: an (n, 1) column), as np.linalg.norm with
    keepdims=True. Its gradient x/norm is taken as 0 where the norm is 0 (as PyTorch's)."""
    axis = _axis(axis, "sg.norm", x)
    if not _is_matrix(x):
        return sp.Abs(x)
    rows, cols = x.shape
    squares = sp.HadamardPower(x, 2)
    if axis is None:
        return root(sp.Trace(sp.MatMul(sp.OneMatrix(1, rows), squares, sp.OneMatrix(cols, 1))))
    summed = sp.MatMul(sp.OneMatrix(1, rows), squares) if axis == 0 \
        else sp.MatMul(squares, sp.OneMatrix(cols, 1))
    return _elementwise(sp.Lambda(_t, root(_t)), summed)


# ---- concatenation and matrix powers ------------------------------------------------------
def concat(blocks, axis=0):
    """The matrices stacked along axis 0 (on top of each other: the columns must agree) or
    axis 1 (side by side: the rows must agree), as np.concatenate; a SymPy BlockMatrix.
    NumPy's 1-d arrays are joined end to end, a 1-d."""
    blocks = list(blocks)
    if not blocks or not all(_is_matrix(b) for b in blocks):
        raise SymgradError("sg.concat: give a list of matrices, e.g. sg.concat([A, B], axis=0)"
                           + (f"; `{_short(next(b for b in blocks if not _is_matrix(b)))}` is "
                              "not a matrix (a scalar s is s*OneMatrix(1, 1))"
                              if blocks else ""))
    one_d = [is_vector(b) for b in blocks]
    if all(one_d):                  # the (1, n) rows side by side
        _axis(axis, "sg.concat", blocks[0])
        axis = 1
    elif any(one_d):
        raise SymgradError(f"sg.concat: {_short(blocks[one_d.index(True)])} is 1-d and "
                           f"{_short(blocks[one_d.index(False)])} 2-d, which NumPy does not "
                           "join: make the 1-d 2-d where it is made (keepdims=True, "
                           "A[i:i+1, :], A[:, j:j+1])")
    else:
        axis = _axis(axis, "sg.concat")
    if axis is None:
        raise SymgradError("sg.concat: axis=None would flatten the blocks: give axis=0 "
                           "(stack rows) or axis=1 (stack columns)")
    other = 1 - axis
    for b in blocks[1:]:
        if not same_dim(b.shape[other], blocks[0].shape[other]):
            what = "columns" if axis == 0 else "rows"
            raise SymgradError(
                f"sg.concat along axis {axis}: the blocks must have the same number of {what}: "
                f"{_short(blocks[0])} is {shape_str(blocks[0].shape)} but {_short(b)} is "
                f"{shape_str(b.shape)}; fix the dimensions, or concatenate along axis {other}")
    if len(blocks) == 1:
        return blocks[0]
    return wrap(sp.BlockMatrix([[b] for b in blocks] if axis == 0 else [blocks]), *blocks)


def matrix_power(a, k):
    """a @ a @ ... @ a (k factors) for a square matrix a and an integer k, as
    np.linalg.matrix_power (k = 0 gives the identity, k < 0 powers of the inverse): a
    MatPow, computed by repeated squaring. On symgrad arrays a ** k is elementwise."""
    if not _is_matrix(a):
        return sp.sympify(a) ** k
    check_matrix_power(a, sp.sympify(k))
    return wrap(sp.MatPow(a, sp.Integer(k)))
