"""Independent checks of generated modules: central differences, and SymPy on a tiny instance.

Neither check uses symgrad's derivation: finite differences only call the module's `loss`,
and the SymPy oracle expands the model's matrices into scalar entries (dimensions set to
small integers) and differentiates the scalar loss with `sympy.diff`.
"""
import types
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .functions import to_elementary


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
    subs = {sp.Symbol(k, integer=True, positive=True): v for k, v in dims.items()}
    subs.update({d: dims[d.name] for d in _dim_symbols(symbol) if d.name in dims})
    return tuple(int(sp.sympify(s).subs(subs)) for s in symbol.shape) \
        if isinstance(symbol, sp.MatrixSymbol) else ()


def _dim_symbols(symbol):
    out = set()
    for s in getattr(symbol, "shape", ()):
        out |= sp.sympify(s).free_symbols
    return out


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


def finite_difference_grads(loss, args, n_params, h=1e-5):
    """Central differences of loss(*args) with respect to the first n_params arguments."""
    grads = []
    for k in range(n_params):
        x = np.array(args[k], dtype=np.float64)
        g = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            step = h * max(1.0, abs(float(x[idx])))
            plus, minus = x.copy(), x.copy()
            plus[idx] += step
            minus[idx] -= step
            f_plus = loss(*_replace(args, k, plus))
            f_minus = loss(*_replace(args, k, minus))
            g[idx] = (f_plus - f_minus) / (2 * step)
        grads.append(g)
    return grads


def _replace(args, k, value):
    args = list(args)
    args[k] = value if np.ndim(value) else float(value)
    return args


def sympy_reference(model, dims, values):
    """(loss, grads) of the model at these values, by SymPy on the expanded scalar loss."""
    dim_subs = {d: dims[d.name] for d in model.dims}
    loss = model.loss.subs(dim_subs)
    if isinstance(loss, sp.MatrixExpr):
        loss = loss.as_explicit()[0, 0]
    entries, numbers = {}, {}
    for sym in model.params + model.inputs:
        value = values[sym.name]
        if isinstance(sym, sp.MatrixSymbol):
            concrete = sym.subs(dim_subs)
            for idx in np.ndindex(np.shape(value)):
                scalar = sp.Symbol(f"{sym.name}_{idx[0]}_{idx[1]}", real=True)
                entries[concrete[idx]] = scalar
                numbers[scalar] = float(value[idx])
        else:
            numbers[sym] = float(value)
    loss = to_elementary(loss.xreplace(entries))
    grads = []
    for sym in model.params:
        value = values[sym.name]
        if isinstance(sym, sp.MatrixSymbol):
            g = np.zeros(np.shape(value))
            for idx in np.ndindex(g.shape):
                scalar = sp.Symbol(f"{sym.name}_{idx[0]}_{idx[1]}", real=True)
                g[idx] = _evaluate(sp.diff(loss, scalar), numbers)
            grads.append(g)
        else:
            grads.append(_evaluate(sp.diff(loss, sym), numbers))
    return _evaluate(loss, numbers), grads


def _evaluate(expr, numbers):
    return float(sp.N(expr.xreplace({k: sp.Float(v, 30) for k, v in numbers.items()}), 20))


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
