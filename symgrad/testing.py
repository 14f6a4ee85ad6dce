"""Independent checks of generated modules: central differences, and SymPy on a tiny instance.

Neither check uses symgrad's derivation: finite differences only call the module's `loss`,
and the SymPy oracle expands the model's matrices into scalar entries (dimensions set to
small integers) and differentiates the scalar loss with `sympy.diff`.
"""
import types
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp

from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

from .functions import to_elementary
from .model import dim_symbols


def load_module(source, name="generated_model"):
    """A module object executed from generated source text."""
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def default_dims(model, seed=0, low=2, high=5):
    """Small random integer values for the model's dimension symbols."""
    rng = np.random.default_rng(seed)
    return {d.name: int(rng.integers(low, high + 1)) for d in model.dims}


def _shape(symbol, dims):
    """The concrete shape of a parameter or input at these dimension values."""
    subs = {d: dims[d.name] for d in dim_symbols(symbol)}
    return tuple(int(sp.sympify(s).subs(subs)) for s in getattr(symbol, "shape", ()))


def random_instance(model, dims, seed=0, dtype=np.float64):
    """Random values for the params (normal, scale 0.5) and inputs (uniform in (0.05, 0.95)),
    as a dict name -> array (or float for a scalar symbol)."""
    rng = np.random.default_rng(seed)
    values = {}
    for group, draw in ((model.params, lambda s: 0.5 * rng.standard_normal(s)),
                        (model.inputs, lambda s: rng.uniform(0.05, 0.95, s))):
        for sym in group:
            shape = _shape(sym, dims)
            values[sym.name] = float(draw(())) if shape == () else draw(shape).astype(dtype)
    return values


def central_differences(f, args, k, h=1e-5):
    """d f(*args) / d args[k] by central differences, of shape f's shape + args[k]'s shape."""
    x = np.array(args[k], dtype=np.float64)
    columns = []
    for idx in np.ndindex(x.shape):
        step = h * max(1.0, abs(float(x[idx])))
        plus, minus = x.copy(), x.copy()
        plus[idx] += step
        minus[idx] -= step
        f_plus = np.asarray(f(*_replace(args, k, plus)), dtype=np.float64)
        f_minus = np.asarray(f(*_replace(args, k, minus)), dtype=np.float64)
        columns.append((f_plus - f_minus) / (2 * step))
    return np.stack(columns, axis=-1).reshape(columns[0].shape + x.shape)


def finite_difference_grads(loss, args, n_params, h=1e-5):
    """Central differences of loss(*args) with respect to the first n_params arguments."""
    return [central_differences(loss, args, k, h) for k in range(n_params)]


def _replace(args, k, value):
    args = list(args)
    args[k] = value if np.ndim(value) else float(value)
    return args


def sympy_reference(model, dims, values):
    """(loss, grads) of the model at these values, by SymPy on the expanded scalar loss."""
    dim_subs = {d: dims[d.name] for d in model.dims}
    entries, numbers = {}, {}
    for sym in model.params + model.inputs:
        value = values[sym.name]
        if isinstance(sym, sp.MatrixSymbol):
            entries[sym] = sp.Matrix(*np.shape(value), lambda i, j: sp.Symbol(
                f"{sym.name}_{i}_{j}", real=True))
            numbers.update({e: float(v) for e, v in zip(entries[sym], np.ravel(value))})
        else:
            numbers[sym] = float(value)
    loss = _Explicit(entries, dim_subs)(model.loss)
    loss = to_elementary(loss[0, 0] if isinstance(loss, sp.MatrixBase) else loss)
    wrt = []
    for sym in model.params:
        if isinstance(sym, sp.MatrixSymbol):
            shape = np.shape(values[sym.name])
            wrt.append((shape, [sp.Symbol(f"{sym.name}_{i}_{j}", real=True)
                                for i, j in np.ndindex(shape)]))
        else:
            wrt.append(((), [sym]))
    exprs = [loss] + [sp.diff(loss, s) for _, syms in wrt for s in syms]
    variables = list(numbers)
    with mpmath.workdps(30):
        f = sp.lambdify(variables, exprs, modules="mpmath", cse=True)
        results = [float(v) for v in f(*[mpmath.mpf(numbers[v]) for v in variables])]
    loss_value, flat, grads = results[0], iter(results[1:]), []
    for shape, syms in wrt:
        g = np.array([next(flat) for _ in syms]).reshape(shape)
        grads.append(float(g) if shape == () else g)
    return loss_value, grads


class _Explicit:
    """A matrix expression as an explicit sp.Matrix of scalar expressions in the entries,
    each shared subexpression expanded once (SymPy's as_explicit re-expands shared ones)."""

    def __init__(self, entries, dim_subs):
        self.cache, self.dim_subs = dict(entries), dim_subs

    def __call__(self, expr):
        if expr not in self.cache:
            self.cache[expr] = self._expand(expr)
        return self.cache[expr]

    def _expand(self, e):
        if isinstance(e, (sp.OneMatrix, sp.ZeroMatrix, sp.Identity)):
            rows, cols = (int(sp.sympify(d).subs(self.dim_subs)) for d in e.shape)
            if isinstance(e, sp.Identity):
                return sp.eye(rows)
            return sp.ones(rows, cols) if isinstance(e, sp.OneMatrix) else sp.zeros(rows, cols)
        if isinstance(e, (sp.MatAdd, sp.MatMul, sp.HadamardProduct)):
            parts = [self(a) for a in e.args]
            return _combine(type(e), parts)
        if isinstance(e, sp.Transpose):
            return self(e.arg).T
        if isinstance(e, sp.HadamardPower):
            power = self(e.exp)
            return self(e.base).applyfunc(lambda x: x ** power)
        if isinstance(e, ElementwiseApplyFunction):
            return self(e.expr).applyfunc(e.function)
        if isinstance(e, sp.Inverse):
            return self(e.arg).inv()
        if isinstance(e, sp.Determinant):
            return self(e.arg).det()
        if isinstance(e, sp.Trace):
            return self(e.arg).trace()
        if isinstance(e, MatrixElement):
            return self(e.parent)[int(e.i), int(e.j)]
        if isinstance(e, sp.MatrixExpr):
            raise NotImplementedError(f"the SymPy oracle cannot expand {type(e).__name__}")
        if not e.args:
            return e.subs(self.dim_subs)
        args = [self(a) for a in e.args]
        return e.func(*[a[0, 0] if isinstance(a, sp.MatrixBase) else a for a in args])


def _combine(kind, parts):
    out = parts[0]
    for p in parts[1:]:
        if kind is sp.MatAdd:
            out = out + p
        elif kind is sp.HadamardProduct:
            out = out.multiply_elementwise(p)
        elif not isinstance(out, sp.MatrixBase):      # a scalar coefficient
            out = p.applyfunc(lambda x, c=out: c * x)
        else:
            out = out * p
    return out


def relative_error(a, b):
    """max |a - b| / max(max |b|, tiny): one number per array, scale-aware."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b), initial=0.0) / max(np.max(np.abs(b), initial=0.0), 1e-300))


@dataclass
class Report:
    """Per-parameter relative errors of generated gradients against central differences."""
    model: str
    dims: dict
    errors: dict = field(default_factory=dict)
    rtol: float = 1e-6

    @property
    def passed(self):
        return all(e <= self.rtol for e in self.errors.values())

    def text(self):
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items()) or "scalar"
        lines = [f"{self.model} ({dims}):"]
        for name, err in self.errors.items():
            mark = "ok" if err <= self.rtol else "FAIL"
            lines.append(f"  {name:<12} relative error {err:.2e}  {mark}")
        return "\n".join(lines)


def check_model(model, dims=None, seed=0, names=None, rtol=1e-6):
    """Derive model, import its module, compare gradients with central differences."""
    from .codegen import module_source
    from .derive import derive
    dims = {**default_dims(model, seed), **(dims or {})}
    module = load_module(module_source(derive(model, names)), model.name)
    values = random_instance(model, dims, seed)
    args = [values[n] for n in module.PARAMS + module.INPUTS]
    _, grads = module.value_and_grad(*args)
    fd = finite_difference_grads(module.loss, args, len(module.PARAMS))
    report = Report(model.name, dims, rtol=rtol)
    for name, g, ref in zip(module.PARAMS, grads, fd):
        report.errors[name] = relative_error(g, ref)
    return report
