"""What a user writes: Input, Param and Model."""
import numbers
import sys
from collections.abc import Mapping

import sympy as sp

from . import array
from .derive import derive
from .errors import SymgradError
from .labels import Pick, _Labels
from .naming import check_name, frame_variables, libraries, name_problem, tex  # noqa: F401 - tex: sg.tex


class _Scalar(sp.Symbol):
    """A real scalar Symbol that broadcasts over a symgrad array in NumPy's operators."""

    _op_priority = 12.0

    def __add__(self, other):
        return _scalar_op(array.add, self, other, sp.Expr.__add__)

    def __radd__(self, other):
        return _scalar_op(array.add, other, self, sp.Expr.__radd__)

    def __sub__(self, other):
        return _scalar_op(array.subtract, self, other, sp.Expr.__sub__)

    def __rsub__(self, other):
        return _scalar_op(array.subtract, other, self, sp.Expr.__rsub__)

    def __mul__(self, other):
        return _scalar_op(array.multiply, self, other, sp.Expr.__mul__)

    def __rmul__(self, other):
        return _scalar_op(array.multiply, other, self, sp.Expr.__rmul__)

    def __truediv__(self, other):
        return _scalar_op(array.divide, self, other, sp.Expr.__truediv__)

    def __rtruediv__(self, other):
        return _scalar_op(array.divide, other, self, sp.Expr.__rtruediv__)

    def __pow__(self, other):
        return _scalar_op(array.power, self, other, sp.Expr.__pow__)

    def __rpow__(self, other):
        return _scalar_op(array.power, other, self, sp.Expr.__rpow__)


def _scalar_op(op, a, b, scalar):
    """op(a, b) where either is a matrix, else SymPy's scalar operator."""
    if isinstance(a, sp.MatrixExpr) or isinstance(b, sp.MatrixExpr):
        return op(a, b)
    return scalar(*((a, b) if isinstance(a, _Scalar) else (b, a)))


def _symbol(name, rows, cols):
    check_name(name)
    if rows is None and cols is None:
        return _Scalar(name, real=True)
    if rows is None or cols is None:
        raise SymgradError(f"{name}: give both dimensions (rows, cols), or neither for a scalar")
    return array.wrap(sp.MatrixSymbol(name, _dim(rows), _dim(cols)))   # NumPy's operators


def _dim(d):
    """A dimension: a string is a symbol's name, never parsed (N, E and beta are names, not
    SymPy's N, e and beta function), else a SymPy expression or an integer."""
    return sp.Symbol(d, integer=True, positive=True) if isinstance(d, str) else sp.sympify(d)


def Input(name, rows=None, cols=None, dtype=float):
    """A data matrix (columns are examples), or a scalar input when no dimensions are given;
    dtype=int gives integer class labels (see Labels), a row (1, m) or a column (m, 1)."""
    if dtype is float:
        return _symbol(name, rows, cols)
    if not (isinstance(dtype, type) and issubclass(dtype, numbers.Integral)) \
            or dtype is bool:
        raise SymgradError(f"{name}: dtype={dtype!r}: give float (the default) or int (class "
                           "labels)")
    if rows is None or cols is None or 1 not in (_dim(rows), _dim(cols)):
        raise SymgradError(f"{name}: integer labels hold one class index per example: give "
                           "the shape (1, m) or (m, 1), e.g. sg.Labels('y', m)")
    check_name(name)
    return array.wrap(_Labels(name, _dim(rows), _dim(cols)))


def Labels(name, m):
    """Integer class labels, one per example (cs231n's y), a row (1, m): the target of
    sg.cross_entropy, sg.nll and sg.multiclass_hinge (or sg.pick). The generated module takes
    an integer array of shape (m,) or (1, m) and checks that each is a class index."""
    return Input(name, 1, m, dtype=int)


def Param(name, rows=None, cols=None):
    """A trainable matrix parameter, or a real scalar parameter when no dimensions are given."""
    return _symbol(name, rows, cols)


def dim_symbols(symbol):
    """The symbols in a matrix symbol's shape (none for a scalar)."""
    return set().union(*(sp.sympify(d).free_symbols for d in getattr(symbol, "shape", ())))


def _mapping(model, what, value, example):
    """A Model argument that maps names to things: value, {} for None; else (a list of
    pairs, say) a one-line refusal naming the form, from example."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SymgradError(f"model {model}: {what} must be a dict {example}, not a "
                           f"{type(value).__name__}")
    return value


def _is_leaf(x):
    return isinstance(x, (sp.MatrixSymbol, sp.Symbol))


def _expression(model, what, value, fix):
    """value as plain SymPy (strict: no strings parsed; plain: SymPy's meaning from here on),
    refused in one line unless it is a SymPy expression, a matrix one for an output, with no
    infinity or NaN in it."""
    try:
        expr = array.plain(sp.sympify(value, strict=True))
    except sp.SympifyError:
        expr = None
    if not isinstance(expr, sp.Basic) or (what != "the loss" and not isinstance(
            expr, sp.MatrixExpr) and not expr.free_symbols):
        raise SymgradError(f"model {model}: {what} is {type(value).__name__}, not "
                           f"a SymPy expression of the model: {fix}")
    found = set(array._bottom_up(expr)) & {sp.zoo, sp.oo, -sp.oo, sp.nan}  # each node once
    if found:
        raise SymgradError(f"model {model}: {what} holds {sorted(map(str, found))[0]} (SymPy's "
                           "value of a division by 0 or an overflow, such as 1/0 or log(0)): "
                           "remove it from the model")
    return expr


class Model:
    """A loss with its parameters and inputs: the unit `symgrad derive` turns into a module.

    `outputs` maps names to expressions that `forward` returns; `names` maps node names to
    display names for the LaTeX view; `jacobians` maps names to (output, wrt) pairs, each
    emitted as `jacobian_<name>`; `hessian=True` emits `hessian_vector_product` and `hessian`.
    """

    def __init__(self, name, loss, params, inputs=(), outputs=None, names=None, jacobians=None,
                 hessian=False):
        check_name(name, "model", reserved=libraries())
        self.name = name
        self.loss = _expression(name, "the loss", loss, "pass loss=<the expression>, e.g. "
                                "sg.mse(A, Y)")
        self.params = [array.plain(p) for p in params]
        self.inputs = [array.plain(x) for x in inputs]
        outputs = _mapping(name, "outputs", outputs, "{name: expression}, e.g. "
                           "outputs={'probs': A2}")
        names = _mapping(name, "names", names, "{name: display text}, e.g. names={'W1': 'W'}")
        jacobians = _mapping(name, "jacobians", jacobians, "{name: (output, wrt)}, e.g. "
                             "jacobians={'dA2_dW2': (A2, W2)}")
        self.outputs = {k: _expression(name, f"output {k!r}", v, "map each name to a matrix "
                                       "expression of the model, e.g. outputs={'probs': A2}")
                        for k, v in outputs.items()}
        self.names = dict(names)
        self.jacobians = {k: tuple(array.plain(x) for x in pair) if isinstance(pair, tuple)
                          else pair for k, pair in jacobians.items()}
        if not isinstance(hessian, bool):      # "yes" or "no" read as True
            raise SymgradError(f"model {name}: hessian must be True or False, not {hessian!r}")
        self.hessian = hessian
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
            if isinstance(x, _Labels) and what == "parameter":
                raise SymgradError(f"model {self.name}: {x.name} holds integer labels, which "
                                   "have no gradient: list it in inputs=[...]")
            check_name(x.name, what)
            if x.name in seen:
                raise SymgradError(f"model {self.name}: {x.name} is listed twice in params/inputs")
            seen[x.name] = what
        dims = {}
        for d in self.dims:
            check_name(d.name, "dimension")
            if d.name in dims:                  # two SymPy symbols of one name
                one, other = sorted(map(_symbol_text, (dims[d.name], d)), key=len)
                raise SymgradError(
                    f"model {self.name}: {d.name} names two different dimensions, the symbols "
                    f"{one} and {other} (SymPy tells symbols apart by their assumptions): make "
                    f"{d.name} once and use that symbol")
            if d.name in seen:
                raise SymgradError(f"model {self.name}: {d.name} names both a dimension and "
                                   f"a {seen[d.name]}, which would be one variable in the "
                                   "generated code: rename one of them")
            dims[d.name] = d
        for key, pair in self.jacobians.items():
            why = name_problem(key, reserved={})
            if why:
                raise SymgradError(f"model {self.name}: jacobian name {key!r} {why}: name it "
                                   "with letters, digits and underscores, e.g. "
                                   "jacobians={'dA2_dW2': (A2, W2)}")
            check_name(f"jacobian_{key}", "jacobian")
            if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], sp.Basic)
                    and _is_leaf(pair[1]) and pair[1] in self.params + self.inputs):
                raise SymgradError(f"model {self.name}: jacobian {key!r} must be a pair "
                                   "(output expression, parameter or input), e.g. (A2, W2)")
            if isinstance(pair[1], _Labels):
                raise SymgradError(f"model {self.name}: jacobian {key!r} is taken with "
                                   f"respect to the integer labels {pair[1].name}, which have "
                                   "no derivative: take it with respect to a float array")
        for key in self.outputs:
            why = name_problem(key, reserved={})
            if why:
                raise SymgradError(f"model {self.name}: output name {key!r} {why}: name it "
                                   "with letters, digits and underscores, e.g. "
                                   "outputs={'probs': A2}")
        for key, value in self.names.items():
            if not (isinstance(key, str) and isinstance(value, str)):
                raise SymgradError(f"model {self.name}: names={{{key!r}: {value!r}}}: names "
                                   "maps a name to its display text, both strings: write e.g. "
                                   "names={'W1': 'W'}, or sg.tex(r'\\mathbf{W}') for LaTeX")
        jacobian_outputs = [p[0] for p in self.jacobians.values() if isinstance(p, tuple)]
        for expr in [self.loss, *self.outputs.values(), *jacobian_outputs]:
            for call in sp.sympify(expr).atoms(sp.Function):
                if not (type(call).__name__.isidentifier() and type(call).__name__.isascii()):
                    raise SymgradError(f"model {self.name}: a function is named "
                                       f"{type(call).__name__!r}: name a Function class with "
                                       "ASCII letters, digits and underscores, e.g. 'act'")
        shape = getattr(self.loss, "shape", (1, 1))
        if shape != (1, 1):
            raise SymgradError(f"model {self.name}: the loss has shape {shape}, not a scalar: "
                               "reduce it with sg.sum or sg.mean")
        self.labels = self._labels()

    def _labels(self):
        """{labels input: its number of classes}, from the Picks that read each (every
        labels input is read, and with one number of classes)."""
        declared = [x for x in self.inputs if isinstance(x, _Labels)]
        if not declared:
            return {}
        classes, seen = {}, set()
        stack = [self.loss, *self.outputs.values(), *(o for o, _ in self.jacobians.values())]
        while stack:                    # each shared subexpression once
            e = stack.pop()
            if isinstance(e, sp.Basic) and e not in seen:
                seen.add(e)
                if isinstance(e, Pick):
                    classes.setdefault(e.args[1], set()).add(e.args[0].shape[int(e.args[2])])
                stack.extend(e.args)
        out = {}
        for y in declared:
            found = classes.get(y, set())
            if len(found) != 1:
                raise SymgradError(
                    f"model {self.name}: the labels {y.name} " + (
                        "are the target of no loss: use them in sg.cross_entropy, sg.nll, "
                        "sg.multiclass_hinge or sg.pick, or drop them" if not found else
                        f"index {len(found)} different numbers of classes "
                        f"({', '.join(sorted(map(str, found)))}): use one, or one labels "
                        "input per classifier"))
            out[y] = found.pop()
        return out

    @property
    def dims(self):
        """The dimension symbols of the parameters and inputs, sorted by name."""
        syms = set().union(*(dim_symbols(x) for x in self.params + self.inputs))
        return sorted(syms, key=lambda s: s.name)

    def derivation(self):
        """The right-to-left derivation of this model's gradients (a `Derivation`), its
        intermediates named after the caller's variables, as `symgrad derive` names them
        after the model file's."""
        return derive(self, frame_variables(sys._getframe(1)))

    def __repr__(self):
        return f"Model({self.name!r}, params={[p.name for p in self.params]})"


def _symbol_text(symbol):
    """How the symbol was made: sp.Symbol('n', integer=True, positive=True)."""
    given = {k: v for k, v in symbol.assumptions0.items()
             if k in ("integer", "positive") and v}
    return "sp.Symbol(%r%s)" % (symbol.name, "".join(f", {k}={v}" for k, v in sorted(
        given.items())))
