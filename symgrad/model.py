"""What a user writes: Input, Param and Model."""
import builtins
import keyword
import sys

import sympy as sp

from .errors import SymgradError
from .graph import same_dim, shape_str


def _broadcast(x, like):
    """x broadcast to like's shape when x is a scalar, a column (n, 1) or 1x1 and like is
    wider."""
    if not isinstance(like, sp.MatrixExpr):
        return x
    if not isinstance(x, sp.MatrixExpr):
        return x * sp.OneMatrix(*like.shape)
    if x.shape == like.shape:
        return x
    rows, cols = like.shape
    if x.shape == (rows, 1) or x.shape == (1, 1) and rows == 1:
        return x * sp.OneMatrix(1, cols)
    if x.shape == (1, 1):
        return sp.OneMatrix(rows, 1) * x * sp.OneMatrix(1, cols)
    return x


def _mismatch(what, a, b):
    return SymgradError(f"shape mismatch in {what}: {str(a)[:40]} is {shape_str(a.shape)} but "
                        f"{str(b)[:40]} is {shape_str(b.shape)}; fix the dimensions in the model")


def _matadd(a, b):
    if not isinstance(a, sp.MatrixExpr) or not isinstance(b, sp.MatrixExpr):
        return sp.MatrixExpr.__add__(a, b) if isinstance(a, sp.MatrixExpr) else NotImplemented
    if not all(same_dim(x, y) for x, y in zip(a.shape, b.shape)):
        raise _mismatch("a sum", a, b)
    return sp.MatAdd(a, b)


def _matmul(a, b):
    if not same_dim(a.shape[1], b.shape[0]):
        raise _mismatch("a matrix product", a, b)
    return sp.MatMul(a, b)


class _Broadcasting:
    """Mixin: `W @ X + b` broadcasts a bias column b of shape (n, 1) over the m columns."""

    _op_priority = 12.0     # above MatrixExpr's 11, so W @ X + b reaches our __radd__

    # SymPy's own operators call .doit(), which walks the whole expression: built layer by
    # layer that is quadratic in depth. The shape-checked constructors alone are linear.
    def __add__(self, other):
        return _matadd(_broadcast(self, other), _broadcast(other, self))

    def __radd__(self, other):
        return _matadd(_broadcast(other, self), _broadcast(self, other))

    def __matmul__(self, other):
        return _matmul(self, other) if isinstance(other, sp.MatrixExpr) else NotImplemented

    def __rmatmul__(self, other):
        return _matmul(other, self) if isinstance(other, sp.MatrixExpr) else NotImplemented

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)


class _Matrix(_Broadcasting, sp.MatrixSymbol):
    """A MatrixSymbol that broadcasts a bias column when added."""


class _Scalar(sp.Symbol):
    """A real scalar Symbol that broadcasts over a matrix when added to one."""

    _op_priority = 12.0

    def __add__(self, other):
        return _plus(self, other)

    __radd__ = __add__

    def __sub__(self, other):
        return _plus(self, -other)

    def __rsub__(self, other):
        return _plus(-self, other)


def _plus(scalar, other):
    """scalar + other, the scalar broadcast over other when other is a matrix."""
    if isinstance(other, sp.MatrixExpr):
        return other + _broadcast(scalar, other)
    return sp.Expr.__add__(scalar, other)


RESERVED = {"np", "mode"} | set(dir(builtins))    # the generated code's own names


def check_name(name, what="symbol", reserved=RESERVED):
    """Names become Python variables in generated code: only plain identifiers that shadow
    nothing the code uses (NumPy as np, the Jacobians' mode=, Python's builtins) pass; a
    model's name only names a module (reserved=())."""
    why = ("is not a string" if not isinstance(name, str) else
           "is not a Python identifier" if not name.isidentifier() else
           "is a Python keyword" if keyword.iskeyword(name) else
           "starts with an underscore (kept for symgrad's helpers)" if name.startswith("_") else
           f"is a name the generated code uses ({_USE.get(name, 'a Python builtin')})"
           if name in reserved else None)
    if why:
        raise SymgradError(f"{what} name {name!r} cannot be a variable in generated code: it "
                           f"{why}: rename it, using letters, digits and underscores, e.g. 'W1'")


_USE = {"np": "NumPy", "mode": "the mode= argument of jacobian_<name>"}


def _symbol(name, rows, cols):
    check_name(name)
    if rows is None and cols is None:
        return _Scalar(name, real=True)
    if rows is None or cols is None:
        raise SymgradError(f"{name}: give both dimensions (rows, cols), or neither for a scalar")
    return _Matrix(name, _dim(rows), _dim(cols))


def _dim(d):
    """A dimension: a string is a symbol's name, never parsed (N, E and beta are names, not
    SymPy's N, e and beta function), else a SymPy expression or an integer."""
    return sp.Symbol(d, integer=True, positive=True) if isinstance(d, str) else sp.sympify(d)


def Input(name, rows=None, cols=None):
    """A data matrix (columns are examples), or a scalar input when no dimensions are given."""
    return _symbol(name, rows, cols)


def Param(name, rows=None, cols=None):
    """A trainable matrix parameter, or a real scalar parameter when no dimensions are given."""
    return _symbol(name, rows, cols)


def dim_symbols(symbol):
    """The symbols in a matrix symbol's shape (none for a scalar)."""
    return set().union(*(sp.sympify(d).free_symbols for d in getattr(symbol, "shape", ())))


def _is_leaf(x):
    return isinstance(x, (sp.MatrixSymbol, sp.Symbol))


class Model:
    """A loss with its parameters and inputs: the unit `symgrad derive` turns into a module.

    `outputs` maps names to expressions that `forward` returns; `names` maps node names to
    display names for the LaTeX view; `jacobians` maps names to (output, wrt) pairs, each
    emitted as `jacobian_<name>`; `hessian=True` emits `hessian_vector_product` and `hessian`.
    """

    def __init__(self, name, loss, params, inputs=(), outputs=None, names=None, jacobians=None,
                 hessian=False):
        check_name(name, "model", reserved=())
        self.name = name
        try:
            self.loss = sp.sympify(loss, strict=True)       # strict: no strings parsed
        except sp.SympifyError:
            raise SymgradError(f"model {name}: the loss is {type(loss).__name__}, not a SymPy "
                               "expression: pass loss=<the expression>, e.g. sg.mse(A, Y)") \
                from None
        self.params = list(params)
        self.inputs = list(inputs)
        self.outputs = dict(outputs or {})
        self.names = dict(names or {})
        self.jacobians = dict(jacobians or {})
        self.hessian = bool(hessian)
        self.source = None          # set by the loader: (path, sha256) of the model file
        self._check()

    def _check(self):
        if not self.params:
            raise SymgradError(f"model {self.name}: no parameters: pass params=[...]")
        seen = {}
        for x in self.params + self.inputs:
            if not _is_leaf(x):
                raise SymgradError(f"model {self.name}: {x} is not a symbol: params and inputs "
                                   "must be sg.Param/sg.Input, sp.Symbol or sp.MatrixSymbol")
            what = "parameter" if x in self.params else "input"
            check_name(x.name, what)
            if x.name in seen:
                raise SymgradError(f"model {self.name}: {x.name} is listed twice in params/inputs")
            seen[x.name] = what
        dims = set()
        for d in self.dims:
            check_name(d.name, "dimension")
            if d.name in seen or d.name in dims:
                other = f"a {seen[d.name]}" if d.name in seen else "another dimension"
                raise SymgradError(f"model {self.name}: {d.name} names both a dimension and "
                                   f"{other}, which would be one variable in the generated code: "
                                   "rename one of them")
            dims.add(d.name)
        for key, pair in self.jacobians.items():
            check_name(f"jacobian_{key}", "jacobian")
            if not (isinstance(pair, tuple) and len(pair) == 2 and _is_leaf(pair[1])
                    and pair[1] in self.params + self.inputs):
                raise SymgradError(f"model {self.name}: jacobian {key!r} must be a pair "
                                   "(output expression, parameter or input), e.g. (A2, W2)")
        for key in self.outputs:
            if not (isinstance(key, str) and key.isidentifier()):
                raise SymgradError(f"model {self.name}: output name {key!r} is not a Python "
                                   "identifier: name it with letters, digits and underscores, "
                                   "e.g. outputs={'probs': A2}")
        for key, value in self.names.items():
            if not (isinstance(key, str) and isinstance(value, str)):
                raise SymgradError(f"model {self.name}: names={{{key!r}: {value!r}}}: names "
                                   "maps a name to its display text, both strings: write e.g. "
                                   "names={'W1': 'W'}, or sg.tex(r'\\mathbf{W}') for LaTeX")
        shape = getattr(self.loss, "shape", (1, 1))
        if shape != (1, 1):
            raise SymgradError(f"model {self.name}: the loss has shape {shape}, not a scalar: "
                               "reduce it with sg.sum or sg.mean")

    @property
    def dims(self):
        """The dimension symbols of the parameters and inputs, sorted by name."""
        syms = set().union(*(dim_symbols(x) for x in self.params + self.inputs))
        return sorted(syms, key=lambda s: s.name)

    def derivation(self):
        """The right-to-left derivation of this model's gradients (a `Derivation`), its
        intermediates named after the caller's variables, as `symgrad derive` names them
        after the model file's."""
        from .derive import derive
        from .naming import frame_variables
        return derive(self, frame_variables(sys._getframe(1)))

    def __repr__(self):
        return f"Model({self.name!r}, params={[p.name for p in self.params]})"


class tex(str):
    r"""Raw LaTeX for Model(names={...}): sg.tex(r"\mathbf{W}") is set as written; a plain
    string is set as text, with LaTeX's special characters escaped."""
