"""symgrad arrays: SymPy matrix expressions with NumPy's operators.

What `sg.Input`, `sg.Param` and the helpers return is an ordinary SymPy matrix expression
whose class also has this module's `Array` mixin. Its operators follow NumPy's: `@` is the
matrix product; `*`, `/`, `**`, `+` and `-` are elementwise, broadcasting (n, 1), (1, m),
(1, 1) and scalars in both directions, as NumPy does. The results are SymPy again
(HadamardProduct, HadamardPower, MatAdd, and `OneMatrix` products for a broadcast), so
everything after the model file sees plain SymPy.

What NumPy makes 1-d (A[i], A[i, :], A[:, j], a reduction along an axis without keepdims)
is of the `Vector` mixin's class: the (1, n) row NumPy's (n,) broadcasts as, with NumPy's
meaning of a 1-d where it differs from a row's: `v.T` is v, `W @ v` takes v as a column and
gives a 1-d, `u @ v` is the inner product (a scalar), `v[i]` an entry, `sg.sum(v, axis=0)` a
scalar. An elementwise result is 1-d when every matrix operand is. SymPy's `.shape` of a
1-d is still (1, n): a SymPy matrix has two dimensions.

Plain `sp.MatrixSymbol` expressions keep SymPy's meaning (`*` a matrix product, `**` a
matrix power). Where the two meanings differ (`*`, `/`, `**`) an operation between a plain
SymPy matrix and a symgrad array is refused: it would silently take one meaning or the other.
"""
import numbers
import sys
from functools import lru_cache

import sympy as sp
from sympy.printing.str import StrPrinter
from sympy.core.basic import Basic
from sympy.matrices.expressions.matexpr import MatrixElement

from .errors import SymgradError
from .graph import broadcast_shape, same_dim, shape_str

_NUMPY_HINT = {"dot": "A @ B", "matmul": "A @ B", "transpose": "A.T", "sum": "sg.sum(A, axis)",
               "mean": "sg.mean(A, axis)", "power": "A ** k", "square": "A ** 2",
               "multiply": "A * B", "divide": "A / B", "true_divide": "A / B",
               "add": "A + B", "subtract": "A - B", "negative": "-A",
               "outer": "u @ v.T of columns u (n, 1), v (m, 1) (keepdims=True, A[:, j:j+1])",
               "squeeze": "nothing (a (1, 1) loss is already a scalar to symgrad)",
               "var": "sg.mean((A - sg.mean(A, axis, keepdims=True)) ** 2, axis)",
               "concatenate": "sg.concat([A, B], axis)", "amax": "sg.max(A, axis)",
               "amin": "sg.min(A, axis)"}     # else sg.<name>(...) where symgrad has one
_COMPARE = {">": "greater", ">=": "greater_equal", "<": "less", "<=": "less_equal"}


class Array:
    """The NumPy operators of a symgrad array (a mixin before a SymPy MatrixExpr class)."""

    _op_priority = 12.0     # above MatrixExpr's 11: `X @ W + b` reaches our __radd__
    __array_priority__ = 1000

    # SymPy's own operators call .doit(), which walks the whole expression: built layer by
    # layer that is quadratic in depth. The constructors below are linear.
    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def __sub__(self, other):
        return subtract(self, other)

    def __rsub__(self, other):
        return subtract(other, self)

    def __neg__(self):
        return negative(self)

    def __pos__(self):
        return self

    def __mul__(self, other):
        return multiply(self, other)

    def __rmul__(self, other):
        if isinstance(other, sp.MatrixExpr) and _from_sympy_matmul():
            return matmul(other, self)
        return multiply(other, self)

    def __truediv__(self, other):
        return divide(self, other)

    def __rtruediv__(self, other):
        return divide(other, self)

    def __pow__(self, other):
        return power(self, other)

    def __rpow__(self, other):
        return power(other, self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    @property
    def T(self):
        return wrap(sp.Transpose(self))

    def transpose(self):
        return self.T

    @property
    def I(self):  # noqa: E743 - SymPy's name for the inverse
        return wrap(sp.Inverse(self))

    def inverse(self):
        return self.I

    def __getitem__(self, key):
        return wrap(getitem(self, key))

    def applyfunc(self, func):
        return wrap(super().applyfunc(func), self)

    def __setitem__(self, key, value):
        raise SymgradError(f"{_short(self)}[...] = ...: a symgrad array is an expression, not a "
                           "buffer: build the value instead (sg.where(cond, a, b) to replace "
                           "entries; cs231n's margins[np.arange(N), y] = 0 is sg.multiclass_hinge)")

    def _compare(self, other, op):
        raise SymgradError(f"`{_short(self)} {op} ...` on a symgrad array: write "
                           f"sg.{_COMPARE[op]}(A, B) for the elementwise condition (a condition "
                           "for sg.where, e.g. sg.where(sg.greater(Z, 0), Z, 0.01 * Z))")

    def __gt__(self, other):
        self._compare(other, ">")

    def __ge__(self, other):
        self._compare(other, ">=")

    def __lt__(self, other):
        self._compare(other, "<")

    def __le__(self, other):
        self._compare(other, "<=")

    def sum(self, axis=None, keepdims=False):
        """A.sum(axis, keepdims) as NumPy's; see sg.sum."""
        return reduce_sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        """A.mean(axis, keepdims) as NumPy's; see sg.mean."""
        return reduce_mean(self, axis, keepdims)

    @property
    def shape(self):        # found once (SymPy walks to the leaves on every query)
        shape = self.__dict__.get("_array_shape")
        if shape is None:
            shape = self.__dict__["_array_shape"] = super().shape
        return shape

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy's functions (np.tanh(Z), np.log, np.exp) cannot build a symbolic expression;
        a NumPy scalar in an operator (np.float64(0.5) * A) is taken as a number."""
        ops = {"add": add, "subtract": subtract, "multiply": multiply,
               "true_divide": divide, "divide": divide, "power": power, "matmul": matmul}
        if method == "__call__" and ufunc.__name__ in ops and not kwargs and len(inputs) == 2:
            return ops[ufunc.__name__](*[_number(x) for x in inputs])
        raise _numpy_function(f"np.{ufunc.__name__}", self)

    def __array_function__(self, func, types, args, kwargs):
        raise _numpy_function(f"np.{func.__name__}", self)


class Vector(Array):
    """NumPy's 1-d (n,), held as the (1, n) row it broadcasts as (its SymPy .shape is (1, n)):
    its transpose is itself, as NumPy's; `@`, indexing and reductions read it as 1-d."""

    @property
    def T(self):
        return self


def _from_sympy_matmul():
    """Whether SymPy's `plain @ array` called Array.__rmul__: its MatrixExpr.__matmul__
    defers to the other operand's __rmul__ (sympy.core.decorators.call_highest_priority
    is given '__rmul__'), so the wrapper's frame is asked which operator it wraps."""
    caller = sys._getframe(2).f_locals.get("func")
    return getattr(caller, "__name__", None) == "__matmul__"


def _numpy_function(name, x):
    base = name.split(".")[-1]
    helper = f"sg.{base}(...)" if hasattr(sys.modules.get("symgrad"), base) else \
        f"it with symgrad's operators and helpers (symgrad has no {base})"
    fix = _NUMPY_HINT.get(base, helper)
    return SymgradError(f"{name} applied to the symgrad array {_short(x)}: NumPy functions "
                        f"compute numbers, not the symbolic model: write {fix} (symgrad's "
                        f"helpers and operators build the expression)")


def _number(x):
    """A NumPy scalar or 0-d array as a SymPy number; anything else unchanged."""
    if hasattr(x, "dtype") and getattr(x, "shape", None) == ():
        return sp.sympify(x.item())
    if hasattr(x, "dtype"):
        raise SymgradError(f"a NumPy array of shape {x.shape} in a symgrad expression: "
                           "the model is symbolic; make it an sg.Input (or an sg.Param) and pass "
                           "its values to the generated module")
    return x


@lru_cache(maxsize=None)
def _array_class(cls):
    return type(cls.__name__, (Array, cls), {"__module__": __name__})


@lru_cache(maxsize=None)
def _vector_class(cls):
    return type(cls.__name__, (Vector, cls), {"__module__": __name__})


def wrap(expr, *operands):
    """expr with NumPy's operators: the same SymPy node, of its class with the Array mixin;
    1-d (a Vector) when it is elementwise in operands and every matrix among them is 1-d, as
    NumPy's result is (a scalar does not count; a 1-d with a 2-d gives 2-d)."""
    if not isinstance(expr, sp.MatrixExpr) or isinstance(expr, (Array, sp.MatrixBase)):
        return expr         # an explicit Matrix keeps SymPy's operators
    matrices = [x for x in operands if isinstance(x, sp.MatrixExpr)]
    if matrices and all(map(is_vector, matrices)):
        return vector(expr)
    return Basic.__new__(_array_class(type(expr)), *expr.args)


def vector(expr):
    """expr, a (1, n) row, as NumPy's 1-d (n,)."""
    return Basic.__new__(_vector_class(type(expr)), *expr.args)


def plain(expr, memo=None):
    """expr with every node of its SymPy class alone: what symgrad hands on from the model
    file. SymPy's own methods (entries of products, doit) write matrix products with `*`,
    which an array would take as elementwise; plain SymPy means what SymPy means. Refuses,
    here where the model file's line is known, what reads as NumPy but means something else
    in SymPy (see _refuse_ambiguous). memo (expression -> plain expression) is reused and
    extended."""
    if not isinstance(expr, Basic):
        return expr
    memo = {} if memo is None else memo       # shared by the calls for one model file
    for e in _bottom_up(expr, memo):
        _refuse_ambiguous(e)
        args = [memo.get(a, a) for a in e.args]
        if isinstance(e, sp.Float) and float(e).is_integer():     # the course's 1./m: 1/m
            memo[e] = sp.Integer(int(e))
        elif isinstance(e, Array):
            base = type(e).__mro__[type(e).__mro__.index(Array) + 1]
            memo[e] = Basic.__new__(base, *args)
        elif any(a is not b for a, b in zip(args, e.args)):
            memo[e] = Basic.__new__(type(e), *args) if isinstance(e, sp.MatrixExpr) \
                and not isinstance(e, sp.MatrixBase) else e.func(*args)
        else:
            memo[e] = e
    return memo[expr]


def _bottom_up(expr, done=()):
    """Each distinct subexpression once, children first, without recursion (deep networks),
    but none in done."""
    done, stack = set(done), [expr]
    while stack:
        e = stack[-1]
        if e in done:
            stack.pop()
            continue
        todo = [a for a in e.args if isinstance(a, Basic) and a not in done]
        if todo:
            stack.extend(todo)
            continue
        stack.pop()
        done.add(e)
        yield e


def getitem(a, key):
    """a[key] as NumPy indexes (a MatrixSlice of SymPy's): one integer index and one slice
    give NumPy's 1-d (a Vector: a[i] and a[i, :] are the row a[i:i+1, :], a[:, j] the column
    a[:, j:j+1] as a row, a[i, 1:3] too), two slices a matrix, a[i, j] a scalar entry; a
    negative index counts from the end. Of a 1-d v, v[i] is an entry and v[a:b] a 1-d. i
    alone of a 2-d (1, m) row is refused (NumPy's whole row, which a reader may take for an
    entry). An out-of-range index is refused by a message naming it."""
    key = tuple(map(_plain_index, key)) if isinstance(key, tuple) else _plain_index(key)
    if any(k is None for k in (key if isinstance(key, tuple) else (key,))):
        return _new_axis(a, key)
    for k in key if isinstance(key, tuple) else (key,):
        if not isinstance(k, (int, slice, sp.Expr)) or isinstance(k, (bool, sp.MatrixExpr)):
            raise SymgradError(f"{_short(a)}[{_key_text(key)}]: an index that is an array "
                               "(np.arange, integer labels) has no symbolic meaning here: for "
                               "the score at each example's label write sg.pick(S, y, axis)")
    written = key
    if is_vector(a):
        if isinstance(key, tuple):
            raise SymgradError(
                f"{_short(a)}[{_key_text(key)}]: too many indices: {_short(a, 20)} is 1-d "
                f"(NumPy's ({a.shape[1]},)): index it once, [i] or [a:b], or keep it 2-d "
                "(keepdims=True, A[:, j:j+1]) for two indices")
        key = (0, key)          # its entries run along the (1, n) row
    elif not isinstance(key, tuple):
        if a.shape[0] == 1 and _is_index(key):
            raise SymgradError(
                f"{_short(a)}[{key}] of a 2-d (1, {a.shape[1]}) row: NumPy's [{key}] is a "
                "whole row of a 2-d array, one entry of a 1-d one (what A[i], A[:, j] and "
                f"sums without keepdims are): write {_short(a, 20)}[0, :] for the row, "
                f"{_short(a, 20)}[0, {key}] for the entry")
        key = (key, slice(None))
    try:
        if len(key) == 2:
            single = [not isinstance(k, slice) for k in key]      # i, -1, n - 1
            key = tuple(_from_end(k, size) if _is_index(k) else k
                        for k, size in zip(key, a.shape))
            if single == [False, True]:         # NumPy's 1-d column, as the row it broadcasts as
                return vector(sp.Transpose(getitem(a, (key[0], slice(key[1], key[1] + 1)))))
            if is_vector(a) and all(single):
                return MatrixElement(a, *key)
            if single == [True, False]:
                return vector(sp.MatrixExpr.__getitem__(a, key))
        return sp.MatrixExpr.__getitem__(a, key)
    except IndexError as e:
        why = str(e) or "give rows and columns inside its shape"
        raise SymgradError(f"index [{_key_text(written)}] is out of range for {_short(a)}, "
                           f"which is {_shape_text(a)}: {why}") from None
    except TypeError:           # SymPy comparing symbolic bounds: a slice of a slice
        raise SymgradError(f"{_short(a)}[{_key_text(written)}]: SymPy cannot index this "
                           "slice with symbolic bounds: index the matrix once, e.g. "
                           "A[1, 1:3] for A[1][1:3]") from None


def _new_axis(a, key):
    """v[:, None] and v[None, :] (or v[None]) of a 1-d v, NumPy's new axis: its column and its
    row, 2-d; any other new axis would make more than two dimensions, and is refused."""
    whole = slice(None)
    if is_vector(a) and key == (whole, None):
        return sp.Transpose(a)
    if is_vector(a) and key in (None, (None,), (None, whole)):
        return Basic.__new__(type(a).__mro__[type(a).__mro__.index(Array) + 1], *a.args)
    raise SymgradError(f"{_short(a)}[{_key_text(key)}]: a new axis (None, np.newaxis) would make "
                       f"{_short(a, 20)}, which is {_shape_text(a)}, more than 2-d: symgrad's "
                       "arrays are matrices; of a 1-d v, v[:, None] is its column and "
                       "v[None, :] its row")


def _from_end(k, size):
    """A negative index k counted from the end of an axis of this size; one before the
    start is refused (NumPy's IndexError), not wrapped again by SymPy."""
    if k >= 0:
        return k
    if (size + k).is_negative:
        raise IndexError(f"{k} is before the first of {size}")
    return size + k


def _plain_index(k):
    """A NumPy integer (np.int64(1)) as the int it is; anything else as it is."""
    return int(k) if isinstance(k, numbers.Integral) and not isinstance(k, (bool, int)) else k


def _is_index(k):
    """Whether k is one integer index (not a slice, not a symbolic bound)."""
    return isinstance(k, int) or isinstance(k, sp.Integer)


def _key_text(key):
    def one(k):
        if isinstance(k, slice):
            text = "%s:%s" % ("" if k.start is None else k.start, "" if k.stop is None else k.stop)
            return text + ("" if k.step is None else ":%s" % k.step)
        return str(k)
    return ", ".join(one(k) for k in (key if isinstance(key, tuple) else (key,)))


def check_matrix_power(a, k):
    """Refuse a matrix power of a non-square matrix or with a non-integer exponent."""
    if not k.is_Integer:
        raise SymgradError(f"matrix power (MatPow) `{_short(a)}**{k}` needs an integer "
                           f"exponent, not {k}: write the product out (a symbolic or fractional "
                           "power of a matrix is not supported)")
    if not same_dim(*a.shape):
        raise SymgradError(
            f"matrix power (MatPow) `{_short(a)}**{k}`: {_short(a)} is {shape_str(a.shape)}, "
            f"not square, so it cannot multiply itself; for the elementwise power write "
            f"sp.HadamardPower({_short(a, 20)}, {k}), or make the matrices symgrad arrays "
            "(sg.Input/sg.Param) and write **")


def _refuse_ambiguous(e):
    """sp.tanh(Z) of a matrix (SymPy leaves it unevaluated, a matrix function, not the
    elementwise tanh) and X**2 of a non-square matrix (a matrix power in SymPy)."""
    if isinstance(e, sp.Function) and any(isinstance(a, sp.MatrixExpr) for a in e.args):
        name = type(e).__name__
        helper = f"sg.{name}(...)" if hasattr(sys.modules.get("symgrad"), name) \
            else f".applyfunc(sp.{name})"
        raise SymgradError(f"sp.{name} applied to the matrix {_short(e.args[0])}: of a matrix, "
                           f"SymPy reads it as the matrix function (a power series), which "
                           f"symgrad does not evaluate: write {helper} for the elementwise "
                           f"{name}, or the power series for the matrix function")
    if isinstance(e, sp.MatPow):
        check_matrix_power(*e.args)


def is_array(x):
    return isinstance(x, Array)


def is_vector(x):
    """Whether x is NumPy's 1-d (n,), held as a (1, n) row."""
    return isinstance(x, Vector)


class _Reading(StrPrinter):
    """A model's expression as a model file writes it, on one line: a product with ones is a
    sum, a BlockMatrix a concat."""

    def _print_BlockMatrix(self, expr):
        def joined(parts, axis):
            if len(parts) == 1:
                return parts[0]
            return f"concat([{', '.join(parts)}]{'' if is_vector(expr) else f', axis={axis}'})"
        b = expr.blocks
        return joined([joined([self._print(b[i, j]) for j in range(b.cols)], 1)
                       for i in range(b.rows)], 0)

    def _print_MatMul(self, expr):
        args = [a for a in expr.args if a != 1]
        if len(args) == 2 and isinstance(args[1], sp.OneMatrix) and args[1].shape[1] == 1:
            return "sum(%s, axis=1)" % self._print(args[0])
        if len(args) == 2 and isinstance(args[0], sp.OneMatrix) and args[0].shape[0] == 1:
            return "sum(%s, axis=0)" % self._print(args[1])
        if len(args) == 2 and isinstance(args[1], sp.OneMatrix) and args[1].shape[0] == 1:
            return self._print(args[0])           # b 1^T: b broadcast over the columns
        return super()._print_MatMul(expr)

    def _print_Transpose(self, expr):
        if is_vector(expr) and isinstance(expr.arg, sp.MatMul):     # sum(A, axis=1), 1-d
            return self._print(expr.arg)
        return super()._print_Transpose(expr)


def _shape_text(x):
    """x's shape as NumPy gives it: (n,) for a 1-d."""
    return f"({x.shape[1]},)" if is_vector(x) else shape_str(x.shape)


def _short(expr, limit=40):
    text = _Reading().doprint(expr) if isinstance(expr, sp.Basic) else str(expr)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _scalar(x):
    """x as a SymPy scalar, or None when it is a matrix."""
    x = _number(x)
    if isinstance(x, sp.MatrixExpr):
        return None
    try:
        x = sp.sympify(x, strict=True)
    except sp.SympifyError:
        raise SymgradError(f"{type(x).__name__} {_short(x)!r} in a symgrad expression: only "
                           "SymPy expressions, numbers and symgrad arrays combine with symgrad "
                           "arrays") from None
    return x


def _refuse_plain(op, a, b):
    """`*`, `/` and `**` mean one thing in NumPy and another in SymPy: between a plain SymPy
    matrix and a symgrad array, say so rather than pick one."""
    for x, y in ((a, b), (b, a)):
        if isinstance(x, sp.MatrixExpr) and not is_array(x) and is_array(y):
            fix = {"*": "use @ for the matrix product", "/": "multiply by the inverse (X.I) for "
                   "a matrix quotient", "**": "use sg.matrix_power for a matrix power"}[op]
            raise SymgradError(
                f"`{op}` between the plain SymPy matrix {_short(x)} and the symgrad array "
                f"{_short(y)}: SymPy and NumPy give it different meanings: {fix}, or make "
                f"both symgrad arrays (sg.Input/sg.Param) for the elementwise `{op}`")


def _result(expr, *operands):
    """expr, elementwise in operands, as a symgrad array when any matrix operand is one (see
    wrap), else as SymPy left it."""
    return wrap(expr, *operands) if any(is_array(x) for x in operands) else expr


def _broadcast(operands, what):
    """The matrix operands broadcast to their common shape (NumPy's rule: each dimension
    equal, or 1), with OneMatrix products; scalars are left to the caller."""
    shapes = [x.shape for x in operands]
    try:
        rows, cols = broadcast_shape(shapes, what)
    except SymgradError:
        sizes = " and ".join(f"{_short(x, 30)} is {_shape_text(x)}" for x in operands)
        raise SymgradError(f"shape mismatch in {what}: {sizes}; they do not broadcast "
                           "(NumPy's rule: each dimension equal, or 1): fix the dimensions, or "
                           "reduce one with sg.sum(..., axis, keepdims=True)") from None
    return [broadcast_to(x, (rows, cols)) for x in operands], (rows, cols)


def broadcast_to(x, shape):
    """x (a scalar, a column (n, 1), a row (1, m), 1x1, or of the shape) repeated to shape by
    OneMatrix products (no ones are formed in code), as np.broadcast_to."""
    rows, cols = shape
    if not isinstance(x, sp.MatrixExpr):
        return sp.MatMul(x, sp.OneMatrix(rows, cols))
    if not all(same_dim(d, want) or d == 1 for d, want in zip(x.shape, shape)):
        raise SymgradError(f"{_short(x)} is {shape_str(x.shape)}, which does not broadcast to "
                           f"{shape_str(shape)}: give it size 1 or the full size along each axis")
    if x.shape[0] == 1 and not same_dim(rows, 1):
        x = sp.MatMul(sp.OneMatrix(rows, 1), x)
    if x.shape[1] == 1 and not same_dim(cols, 1):
        x = sp.MatMul(x, sp.OneMatrix(1, cols))
    return x


def add(a, b):
    """a + b elementwise, NumPy's broadcasting."""
    sa, sb = _scalar(a), _scalar(b)
    if sa is not None and sb is not None:
        return sa + sb
    if sa is not None or sb is not None:
        s, x = (sa, b) if sa is not None else (sb, a)
        if s == 0:
            return x
        ones = sp.OneMatrix(*x.shape)
        fill = ones if s == 1 else sp.MatMul(s, ones)
        terms = [fill, x] if sa is not None else [x, fill]
        return _result(sp.MatAdd(*terms), x)
    (x, y), _ = _broadcast([a, b], "a sum")
    return _result(sp.MatAdd(x, y), a, b)


def subtract(a, b):
    """a - b elementwise, NumPy's broadcasting."""
    return add(a, negative(b))


def negative(a):
    s = _scalar(a)
    if s is not None:
        return -s
    return _result(sp.MatMul(sp.S.NegativeOne, a), a)


def multiply(a, b):
    """a * b elementwise, NumPy's broadcasting; a scalar scales."""
    _refuse_plain("*", a, b)
    return hadamard(a, b)


def hadamard(a, b):
    """The elementwise product of a and b, NumPy's broadcasting, of plain SymPy matrices too
    (the helpers' own products: no meaning of * to refuse)."""
    sa, sb = _scalar(a), _scalar(b)
    if sa is not None and sb is not None:
        return sa * sb
    if sa is not None or sb is not None:
        s, x = (sa, b) if sa is not None else (sb, a)
        return _result(x if s == 1 else sp.MatMul(s, x), x)
    (x, y), _ = _broadcast([a, b], "an elementwise product")
    return _result(sp.HadamardProduct(x, y), a, b)


def divide(a, b):
    """a / b elementwise, NumPy's broadcasting."""
    _refuse_plain("/", a, b)
    sb = _scalar(b)
    if sb is not None:
        if sb == 0:
            raise SymgradError(f"division of {_short(a)} by zero in the model")
        return multiply(a, 1 / sb)
    return multiply(a, power(b, -1))


def power(a, b):
    """a ** b elementwise (a scalar exponent or base, or a matrix of either)."""
    _refuse_plain("**", a, b)
    sa, sb = _scalar(a), _scalar(b)
    if sa is not None and sb is not None:
        return sa ** sb
    if sb is not None:
        return _result(a if sb == 1 else sp.HadamardPower(a, sb), a)
    if sa is not None:
        return _result(sp.HadamardPower(sa, b), b)
    (x, y), _ = _broadcast([a, b], "an elementwise power")
    return _result(sp.HadamardPower(x, y), a, b)


def matmul(a, b):
    """a @ b, the matrix product (both matrices, inner dimensions equal), as NumPy's of 1-d
    operands: v @ B (v the row) and A @ v (v as a column, the result the row of A v) are
    1-d, u @ v the inner product, a scalar."""
    a, b = _number(a), _number(b)
    for x in (a, b):
        if isinstance(x, sp.MatrixBase):        # sp.Matrix([[1, 2], [3, 4]]): entries given
            raise SymgradError(f"`@` with the explicit matrix {_short(x)}: symgrad derives "
                               "through symbolic matrices only: make it an input "
                               f"(sg.Input('M', {x.shape[0]}, {x.shape[1]})) and pass its "
                               "values when you call")
        if not isinstance(x, sp.MatrixExpr):
            raise SymgradError(f"`@` with the scalar {_short(x)}: a matrix product needs two "
                               "matrices: use `*` to scale")
    right = sp.Transpose(b) if is_vector(b) else b
    if not same_dim(a.shape[1], right.shape[0]):
        raise SymgradError(f"shape mismatch in a matrix product: {_short(a)} is "
                           f"{_shape_text(a)} but {_short(b)} is {_shape_text(b)}; the "
                           "inner dimensions must agree (for an elementwise product write `*`)")
    if is_vector(b):
        product = sp.MatMul(a, right)
        return sp.Trace(product) if is_vector(a) else vector(sp.Transpose(product))
    return vector(sp.MatMul(a, b)) if is_vector(a) else _result(sp.MatMul(a, b), a, b)


def axis_of(axis, what, x=None):
    """0, 1 or None, from NumPy's spellings (-2 and -1 too); anything else is refused, what
    naming the call. Of a 1-d x, axis 0 (or -1) is all its entries: None; 1 is refused."""
    if axis is None:
        return None
    if not (isinstance(axis, (int, sp.Integer)) and not isinstance(axis, bool)
            and int(axis) in (0, 1, -1, -2)):
        raise SymgradError(f"{what}: axis={axis!r} is not an axis of a matrix: give axis=None "
                           "(all entries: a scalar), 0 (down each column: a (1, m) row) or 1 "
                           "(along each row: an (n, 1) column)")
    if not is_vector(x):
        return int(axis) % 2
    if int(axis) in (0, -1):
        return None
    raise SymgradError(f"{what}: axis={axis} of {_short(x)}, which is 1-d (NumPy's "
                       f"({x.shape[1]},)): it has axis 0 alone (NumPy's AxisError): give axis=0 "
                       "or None for all its entries, or keep it 2-d (keepdims=True, "
                       "A[:, j:j+1]) to reduce along axis 1")


def reduce_sum(x, axis=None, keepdims=False):
    """The sum of x's entries as np.sum: over all of them (a scalar, or (1, 1) with keepdims),
    down the rows (axis=0: a row (1, m)) or along the columns (axis=1: a column (n, 1)); without
    keepdims the reduction along an axis is NumPy's 1-d (m,) or (n,), a Vector, held as the row
    it broadcasts as. Of a 1-d x, axis 0 is all its entries: a scalar (a 1-d of one entry
    with keepdims)."""
    if not isinstance(x, sp.MatrixExpr):
        return _scalar(x)
    axis = axis_of(axis, "sg.sum", x)
    rows, cols = x.shape
    if axis is None:
        total = sp.MatMul(sp.OneMatrix(1, rows), x, sp.OneMatrix(cols, 1))
        # a scalar (tr of the 1x1), so that losses add up: sg.mean(...) + lam * sg.sum(W**2)
        return wrap(total, x) if keepdims else sp.Trace(total)
    if axis == 0:
        row = sp.MatMul(sp.OneMatrix(1, rows), x)
        return wrap(row) if keepdims else vector(row)
    column = sp.MatMul(x, sp.OneMatrix(cols, 1))
    return wrap(column) if keepdims else vector(sp.Transpose(column))


def reduce_mean(x, axis=None, keepdims=False):
    """The mean of x's entries as np.mean, shaped as reduce_sum."""
    if not isinstance(x, sp.MatrixExpr):
        return _scalar(x)
    rows, cols = x.shape
    count = {None: rows * cols, 0: rows, 1: cols}[axis_of(axis, "sg.mean", x)]
    return multiply(reduce_sum(x, axis, keepdims), sp.S.One / count)
