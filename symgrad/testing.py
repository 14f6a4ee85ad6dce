"""Independent checks of generated modules: central differences, and SymPy on a tiny instance.

Neither check uses symgrad's derivation: finite differences only call the module's `loss`,
and the SymPy oracle expands the model's matrices into scalar entries (dimensions set to
small integers), evaluates the scalar loss with mpmath at 40 digits and differentiates it by
central differences at that precision.

`compare_backprop` checks a hand-written backward pass (a student's) adjoint by adjoint
against the trace, evaluated by NumPy node by node (symgrad/evaluate.py).
"""
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement
from sympy.printing.pycode import MpmathPrinter

from . import evaluate
from .errors import SymgradError
from .functions import to_elementary
from .graph import inline_maps, placeholder, text, topo
from .load import load
from .naming import adjoint_name, frame_variables
from .labels import Pick
from .codegen import module_source
from .derive import derive
from .dims import _shapes, default_dims, dimension, indices_fit  # noqa: F401 - re-exported
from .ops import AxisExtremum, ElementwiseMap, ScalarExtremum


def load_module(source, name="generated_model"):
    """A module object executed from generated source text."""
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def labels(spec):
    """{name: number of classes (a dimension)} of the integer labels inputs of a Model or a
    generated module."""
    if hasattr(spec, "SHAPES"):
        return {name: dimension(k) for name, k in getattr(spec, "LABELS", {}).items()}
    return {y.name: sp.sympify(k) for y, k in spec.labels.items()}


def _size(d, dims):
    return int(sp.sympify(d).subs({s: dims[s.name] for s in sp.sympify(d).free_symbols}))


def random_instance(spec, dims, seed=0, dtype=np.float64):
    """Random values for the params (normal, scale 0.5) and inputs (uniform in (0.05, 0.95);
    integer labels uniform over the classes) of a Model or a generated module, as a dict
    name -> array (or float for a scalar)."""
    rng = np.random.default_rng(seed)
    shapes, n_params = _shapes(spec)
    classes = labels(spec)
    values = {}
    for k, (name, shape) in enumerate(shapes.items()):
        shape = tuple(_size(d, dims) for d in shape)
        if name in classes:
            values[name] = rng.integers(0, _size(classes[name], dims), shape)
            continue
        value = 0.5 * rng.standard_normal(shape) if k < n_params else rng.uniform(0.05, 0.95, shape)
        values[name] = float(value) if shape == () else value.astype(dtype)
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


class NotFinite(ArithmeticError):
    """The model is not real and finite at the point it was asked to evaluate."""


DIGITS = 40            # mpmath's working precision for the reference


class Reference:
    """The model at one point, from its SymPy expression alone: expanded into scalar entries
    at these dimensions (a straight-line program, one statement per compound entry),
    evaluated with mpmath at 40 digits, and differentiated by central differences at that
    precision (step 1e-15: an error far below float64's for any loss smooth at the point).
    Raises NotFinite where the loss is complex, infinite or NaN."""

    def __init__(self, model, dims, values):
        self.model, entries, numbers = model, {}, {}
        for sym in model.params + model.inputs:   # user names never start with "_"
            shape = np.shape(values[sym.name])
            if sym in model.labels:                # integers: constants, never varied
                entries[sym] = sp.Matrix(np.asarray(values[sym.name]).astype(int).tolist())
                continue
            start, cols = len(numbers), (shape or (1, 1))[1]
            stand_ins = sp.Matrix(*(shape or (1, 1)), lambda i, j, start=start, cols=cols:
                                  sp.Symbol(f"_e{start + i * cols + j}", real=True))
            entries[sym] = stand_ins if shape else stand_ins[0, 0]
            numbers.update(zip(stand_ins, np.ravel(values[sym.name]).astype(float)))
        self.entries, self.variables = entries, list(numbers)
        self.position = {v: k for k, v in enumerate(self.variables)}
        self.explicit = _Explicit(entries, {d: dims[d.name] for d in model.dims})
        self.point = [mpmath.mpf(numbers[v]) for v in self.variables]
        with mpmath.workdps(DIGITS):
            self._loss = self.compiled([model.loss])
            self.loss = float(self._value(self.point))

    def compiled(self, exprs):
        """A function of the entries (in self.variables order) returning the explicit
        values of exprs, as Python source of mpmath calls run by exec."""
        values = [self.explicit(e) for e in exprs]
        needed, stack = {}, [v for v in values]
        while stack:
            for symbol in stack.pop().free_symbols:
                if symbol in self.explicit.program and symbol not in needed:
                    needed[symbol] = self.explicit.program[symbol]
                    stack.append(needed[symbol])
        printer = MpmathPrinter({"fully_qualified_modules": True})
        body = [f"    {s} = {printer.doprint(to_elementary(needed[s]))}"
                for s in self.explicit.program if s in needed]
        results = ", ".join(printer.doprint(sp.Matrix(v).tolist() if isinstance(
            v, sp.MatrixBase) else v) for v in values)
        text = "\n".join([f"def reference({', '.join(map(str, self.variables))}):", *body,
                          f"    return [{results}]"])
        namespace = {"mpmath": mpmath}
        exec(compile(text, "<reference>", "exec"), namespace)
        return namespace["reference"]

    def _value(self, point):
        return _finite(self._loss(*point)[0])

    def gradient(self, param):
        """d loss / d param, entry by entry (shaped like param; a float for a scalar)."""
        stand_ins = self.entries[param]
        if not isinstance(stand_ins, sp.MatrixBase):
            return self.directional({param: 1.0})
        return np.array([self._along({self.position[x]: 1}) for x in stand_ins]
                        ).reshape(stand_ins.shape)

    def directional(self, directions):
        """sum over params of <d loss / d param, direction>, for {param: direction}: one
        central difference along all of them at once."""
        return self._along(self._indices(directions))

    def _indices(self, directions):
        """{entry index: component} for {param or input: direction shaped like it}."""
        along = {}
        for leaf, direction in directions.items():
            stand_ins = self.entries[leaf]
            syms = stand_ins if isinstance(stand_ins, sp.MatrixBase) else [stand_ins]
            along.update({self.position[x]: float(v)
                          for x, v in zip(syms, np.ravel(direction))})
        return along

    def _shifted(self, *steps):
        """The point moved by h * component along each {index: component} of steps."""
        point = list(self.point)
        for h, along in steps:
            for k, v in along.items():
                point[k] += h * v
        return point

    def _step(self, along, size="1e-15"):
        return mpmath.mpf(size) * max([1] + [abs(self.point[k]) for k in along])

    def _along(self, along):
        """The loss's derivative along {entry index: component}, by central differences."""
        with mpmath.workdps(DIGITS):
            h = self._step(along)
            up, down = self._shifted((h, along)), self._shifted((-h, along))
            return float((self._value(up) - self._value(down)) / (2 * h))

    def jacobian_along(self, expr, wrt, direction):
        """d expr / d wrt along direction (wrt a parameter or an input), as a float array
        shaped like expr: central differences of its explicit entries."""
        f, along = self.compiled([expr]), self._indices({wrt: direction})
        with mpmath.workdps(DIGITS):
            h = self._step(along)
            up, down = (np.array(f(*self._shifted((s, along)))[0], dtype=object)
                        for s in (h, -h))
            return np.vectorize(lambda x: float(_finite(x)), otypes=[float])(
                (up - down) / (2 * h))

    def second_along(self, u, v):
        """u^T H v for {param: direction} u and v, H the loss's Hessian: a four-point
        central difference (step 1e-12, at twice the digits: truncation near 1e-24, and
        rounding, divided by the step squared, far below it; at 40 digits it left 4e-19
        where a Hessian is exactly 0)."""
        a, b = self._indices(u), self._indices(v)
        with mpmath.workdps(2 * DIGITS):
            h = self._step({**a, **b}, "1e-12")
            f = [self._value(self._shifted((s * h, a), (t * h, b)))
                 for s, t in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
            return float((f[0] - f[1] - f[2] + f[3]) / (4 * h * h))

    def outputs(self):
        """{name: value} of the model's outputs, as float arrays."""
        names = list(self.model.outputs)
        with mpmath.workdps(DIGITS):
            values = self.compiled([self.model.outputs[k] for k in names])(*self.point)
            return {k: np.vectorize(lambda x: float(_finite(x)), otypes=[float])(
                np.array(v, dtype=object)) for k, v in zip(names, values)}


def sympy_reference(model, dims, values):
    """(loss, grads) of the model at these values, from its SymPy expression (Reference)."""
    reference = Reference(model, dims, values)
    return reference.loss, [reference.gradient(p) for p in model.params]


def _finite(x):
    """x (the entry of a 1 x 1 matrix) as an mpf; NotFinite unless real and finite."""
    while isinstance(x, list):       # a 1 x 1 matrix
        x = x[0][0]
    if isinstance(x, mpmath.mpc) or not mpmath.isfinite(x):
        raise NotFinite(f"the model evaluates to {x}")
    return x


class _Explicit:
    """A matrix expression as an explicit sp.Matrix of scalar expressions in the entries,
    each shared subexpression expanded once (SymPy's as_explicit re-expands shared ones)."""

    def __init__(self, entries, dim_subs):
        self.cache, self.dim_subs = dict(entries), dim_subs
        self.program = {}       # symbol -> the scalar expression it stands for, in order

    def __call__(self, expr):
        if expr not in self.cache:
            self.cache[expr] = self._stage(self._expand(expr))
        return self.cache[expr]

    def _stage(self, value):
        """Each compound entry of value as a new symbol standing for it (in self.program):
        a deep network's entries then stay short, where written out they would grow
        exponentially with its depth."""
        if isinstance(value, sp.MatrixBase):
            return value.applyfunc(self._stage)
        if value.is_Atom:
            return value
        symbol = sp.Symbol(f"_s{len(self.program)}", real=True)
        self.program[symbol] = value
        return symbol

    def _entry(self, x):
        value = self(x)
        return value[0, 0] if isinstance(value, sp.MatrixBase) else value

    def _test(self, c):
        if isinstance(c, sp.core.relational.Relational):
            return c.func(self._entry(c.lhs), self._entry(c.rhs))
        if isinstance(c, (sp.And, sp.Or, sp.Not)):
            return c.func(*[self._test(a) for a in c.args])
        return c

    def _bound(self, f):
        """f with its body's parameters and dimensions (the symbols it reads besides its
        variables: where's scalar condition, a leaky slope) replaced by their values."""
        if not isinstance(f, sp.Lambda):
            return f
        return sp.Lambda(f.variables, f.expr.xreplace(
            {s: self(s) for s in f.expr.free_symbols - set(f.variables)}))

    def _int(self, d):
        return int(sp.sympify(d).subs(self.dim_subs))

    def _shape(self, e):
        return tuple(int(sp.sympify(d).subs(self.dim_subs)) for d in e.shape)

    def _expand(self, e):
        if isinstance(e, (sp.OneMatrix, sp.ZeroMatrix, sp.Identity)):
            rows, cols = self._shape(e)
            if isinstance(e, sp.Identity):
                return sp.eye(rows)
            return sp.ones(rows, cols) if isinstance(e, sp.OneMatrix) else sp.zeros(rows, cols)
        if isinstance(e, (sp.MatAdd, sp.MatMul, sp.HadamardProduct)):
            parts = [self(a) for a in e.args]
            shapes = {p.shape for p in parts if isinstance(p, sp.MatrixBase)}
            # SymPy finds a shape by walking down to the leaves: only when parts broadcast
            broadcast = len(shapes) > 1 and not isinstance(e, sp.MatMul)
            kind = next(k for k in (sp.MatAdd, sp.MatMul, sp.HadamardProduct) if isinstance(e, k))
            return _combine(kind, parts, self._shape(e) if broadcast else None)
        if isinstance(e, sp.MatPow):
            if not e.exp.is_Integer:
                raise NotImplementedError(f"the SymPy oracle cannot expand MatPow {e.exp}")
            return self(e.base).pow(int(e.exp), method="multiply")
        if isinstance(e, sp.Transpose):
            return self(e.arg).T
        if isinstance(e, sp.HadamardPower):     # a matrix or scalar base and exponent
            base, power = self(e.base), self(e.exp)
            rows, cols = self._shape(e)

            def entry(x, i, j):
                return x[i, j] if isinstance(x, sp.MatrixBase) else x
            return sp.Matrix(rows, cols, lambda i, j: entry(base, i, j) ** entry(power, i, j))
        if isinstance(e, ElementwiseApplyFunction):
            return self(e.expr).applyfunc(self._bound(e.function))
        if isinstance(e, sp.Inverse):
            return self(e.arg).inv()
        if isinstance(e, sp.Determinant):
            return self(e.arg).det()
        if isinstance(e, sp.Trace):
            return self(e.arg).trace()
        if isinstance(e, MatrixElement):
            return self(e.parent)[self._int(e.i), self._int(e.j)]
        if isinstance(e, Pick):          # the score at each example's label
            scores, labels, axis = self(e.args[0]), list(self(e.args[1])), int(e.args[2])
            if axis == 0:
                return sp.Matrix([[scores[y, j] for j, y in enumerate(labels)]])
            return sp.Matrix([[scores[j, y]] for j, y in enumerate(labels)])
        if isinstance(e, sp.MatrixSlice):
            rows, cols = (slice(*map(self._int, r)) for r in (e.rowslice, e.colslice))
            return self(e.parent)[rows, cols]
        if isinstance(e, sp.BlockMatrix):
            b = e.blocks
            return sp.Matrix.vstack(*[sp.Matrix.hstack(*[self(b[i, j]) for j in range(b.cols)])
                                      for i in range(b.rows)])
        if isinstance(e, ElementwiseMap):     # f of operands broadcast to its shape
            rows, cols = self._shape(e)
            parts = [self(o) for o in e.operands]
            parts = [_spread(p, (rows, cols)) if isinstance(p, sp.MatrixBase) else p
                     for p in parts]
            f = self._bound(e.function)
            return sp.Matrix(rows, cols, lambda i, j: f(*[
                p[i, j] if isinstance(p, sp.MatrixBase) else p for p in parts]))
        if isinstance(e, sp.Piecewise):       # conditions stay conditions, never staged
            return sp.Piecewise(*[(self._entry(v), self._test(c)) for v, c in e.args])
        if isinstance(e, (ScalarExtremum, AxisExtremum)):
            a, kind = self(e.arg), sp.Max if e.kind == "max" else sp.Min

            def f(*entries):
                return entries[0] if len(entries) == 1 else kind(*entries, evaluate=False)
            if isinstance(e, ScalarExtremum):
                return f(*a)
            lines = [a[:, j] for j in range(a.cols)] if e.axis == 0 else \
                [a[i, :] for i in range(a.rows)]
            extrema = [f(*line) for line in lines]
            return sp.Matrix([extrema]) if e.axis == 0 else sp.Matrix(extrema)
        if isinstance(e, sp.Sum):        # the last limit is the outermost
            *inner, (i, low, high) = e.limits
            body = sp.Sum(e.function, *inner) if inner else e.function
            low, high = (int(sp.sympify(d).subs(self.dim_subs)) for d in (low, high))
            return sp.Add(*[self(body.xreplace({i: sp.Integer(v)}))
                            for v in range(low, high + 1)])
        if isinstance(e, sp.MatrixExpr):
            raise NotImplementedError(f"the SymPy oracle cannot expand {type(e).__name__}")
        if not e.args:
            return e.subs(self.dim_subs)
        args = [self(a) for a in e.args]
        return e.func(*[a[0, 0] if isinstance(a, sp.MatrixBase) else a for a in args])


def _combine(kind, parts, shape):
    """The sum, product or Hadamard product of explicit parts (a MatMul may start with a
    scalar); a column, row or 1x1 term or factor is broadcast to shape, SymPy's."""
    out = parts[0]
    for p in parts[1:]:
        if kind is sp.MatAdd:
            out = _spread(out, shape) + _spread(p, shape)
        elif kind is sp.HadamardProduct:
            out = _spread(out, shape).multiply_elementwise(_spread(p, shape))
        elif not isinstance(out, sp.MatrixBase):      # a scalar coefficient
            out = p.applyfunc(lambda x, c=out: c * x)
        else:
            out = out * p
    return out


def _spread(part, shape):
    """An explicit column, row or 1x1 matrix repeated to shape (None: no broadcasting);
    any other part as it is."""
    if shape is None:
        return part
    rows, cols = shape
    if part.shape == (rows, 1) or part.shape == (1, 1):
        part = sp.Matrix.hstack(*[part] * cols)
    if part.shape == (1, cols):
        part = sp.Matrix.vstack(*[part] * rows)
    return part


def relative_error(a, b, floor=1e-300):
    """max |a - b| / max(max |b|, floor): one number per array, scale-aware (floor: the
    scale below which b counts as 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b), initial=0.0) / max(np.max(np.abs(b), initial=0.0), floor))


RTOL = 1e-8        # float64 code against a 40-digit reference: agreement is near 1e-15
ROUNDING = 64 * float(np.finfo(np.float64).eps)   # per unit of the magnitudes fed in


def rounding_floor(values, loss):
    """The absolute error float64 rounding may leave in a result that is 0 or near it (a
    gradient whose terms cancel, log_softmax at k = 1), where a relative comparison sees
    only the rounding: ROUNDING on the scale of the largest magnitude fed in (an entry of
    a parameter or an input, the loss), at least 1. A result off by a factor, a sign or a
    term is off by far more, unless it is itself that small."""
    fed = [float(np.max(np.abs(v), initial=0.0)) for v in values.values()]
    return ROUNDING * max([1.0, abs(loss), *fed])


def disagreement(result, ref, floor):
    """(relative error, problem) of a module's result against the reference: relative to the
    reference's largest entry, or to floor where that is smaller; where the shapes differ,
    infinite and the problem said ('' when there is none)."""
    if np.shape(result) != np.shape(ref):
        return _misshaped(np.shape(result), np.shape(ref))
    return relative_error(result, ref, max(floor, 1e-300)), ""


def _misshaped(shape, want):
    return float("inf"), f"has shape {shape}, not {want}"


def _called(function, *args, **kwargs):
    return function(*args, **kwargs)


def second_order(model, module, values, reference, rng, rounding, call=_called):
    """[(what, relative error, problem)] of each of the module's Jacobians (both orders)
    along a random direction of its wrt, and of its Hessian (vector products and the full
    matrix) between two random directions, against the Reference's central differences of
    the model (jacobian_along, second_along); rounding: as rounding_floor, per unit of
    direction; call(function, *args, **kwargs) runs the module's functions."""
    args = [values[name] for name in list(module.PARAMS) + list(module.INPUTS)]
    rows = []
    for key, (output, wrt) in model.jacobians.items():
        v = rng.standard_normal(np.shape(values[wrt.name]))
        ref = reference.jacobian_along(output, wrt, v)
        for mode in ("reverse", "forward"):
            J = call(getattr(module, f"jacobian_{key}"), *args, mode=mode)
            what, want = f"jacobian_{key} ({mode})", np.shape(ref) + np.shape(v)
            if np.shape(J) != want:
                rows.append((what, *_misshaped(np.shape(J), want)))
                continue
            rows.append((what, *disagreement(np.tensordot(J, v, axes=np.ndim(v)), ref,
                                             rounding * float(np.sum(np.abs(v))) / RTOL)))
    if model.hessian:
        u, v = ({p: rng.standard_normal(np.shape(values[p.name])) for p in model.params}
                for _ in range(2))
        ref = reference.second_along(u, v)
        hv = call(module.hessian_vector_product, *args, *v.values())
        flat = [np.concatenate([np.ravel(x[p]) for p in model.params]) for x in (u, v)]
        H = call(module.hessian, *args)
        size = len(flat[0])
        # u^T H v's rounding grows with |u| |v| (as the gradient's with |g| |v|): where the
        # Hessian is 0 (|w x| at n = m = 1), the module's 1e-15 is no disagreement
        floor = max(1e-12 * max(1.0, abs(ref)),
                    1e-6 * float(np.linalg.norm(flat[0]) * np.linalg.norm(flat[1])))
        rows.append(("hessian_vector_product", *disagreement(sum(
            float(np.sum(np.multiply(u[p], x))) for p, x in zip(model.params, hv)), ref, floor)))
        if np.shape(H) != (size, size):
            rows.append(("hessian", *_misshaped(np.shape(H), (size, size))))
        else:
            rows.append(("hessian", *disagreement(float(flat[0] @ H @ flat[1]), ref, floor)))
    return rows


DIRECTION = "(direction)"     # Report key of the dot-product test along a random direction


@dataclass
class Report:
    """Relative errors of a module's results against a reference (`against`), by name: one
    per parameter, and for central differences one for the dot-product test along a random
    direction (DIRECTION)."""
    model: str
    dims: dict
    seed: int = 0
    errors: dict = field(default_factory=dict)
    rtol: float = 1e-6
    against: str = "central differences"

    @property
    def passed(self):
        return all(e <= self.rtol for e in self.errors.values())

    def where(self):
        return (", ".join(f"{k}={v}" for k, v in self.dims.items()) or "scalar") + \
            f", seed {self.seed}"

    def text(self):
        lines = [f"{self.model} ({self.where()}), against {self.against}:"]
        width = max([12, *map(len, self.errors)])
        for name, err in self.errors.items():
            mark = "ok" if err <= self.rtol else "FAIL"
            lines.append(f"  {name:<{width}} relative error {err:.2e}  {mark}")
        return "\n".join(lines)


def _instance(module, dims, seed):
    """(dims, values, call arguments) for a module: dims over small random ones."""
    dims = {**default_dims(module, seed), **(dims or {})}
    values = random_instance(module, dims, seed)
    return dims, values, [values[name] for name in module.PARAMS + module.INPUTS]


def gradient_report(module, dims=None, seed=0, rtol=1e-6):
    """Compare module.value_and_grad with central differences of module.loss at random values
    (dimensions: `dims`, the rest small random): per parameter, and along a random direction
    (the dot-product test: sum_p <grad_p, v_p> against (L(x + h v) - L(x - h v)) / 2h)."""
    dims, _, args = _instance(module, dims, seed)
    n = len(module.PARAMS)
    _, grads = module.value_and_grad(*args)
    report = Report(getattr(module, "__name__", "module"), dims, seed, rtol=rtol)
    for name, g, ref in zip(module.PARAMS, grads, finite_difference_grads(module.loss, args, n)):
        report.errors[name] = relative_error(g, ref)
    rng = np.random.default_rng([seed, 1])
    v = [rng.standard_normal(np.shape(a)) for a in args[:n]]
    h = 1e-6 * max(1.0, max(float(np.max(np.abs(a), initial=0)) for a in args[:n]))
    along = [module.loss(*[a + s * h * d for a, d in zip(args[:n], v)], *args[n:]) for s in (1, -1)]
    directional = (along[0] - along[1]) / (2 * h)
    dot = sum(float(np.sum(np.multiply(g, d))) for g, d in zip(grads, v))
    scale = sum(float(np.linalg.norm(g) * np.linalg.norm(d)) for g, d in zip(grads, v))
    report.errors[DIRECTION] = abs(dot - directional) / max(scale, 1e-300)
    return report


def check_model(model, dims=None, seed=0, names=None, rtol=RTOL, module=None):
    """Compare a module's loss and gradients, and each Jacobian and Hessian it has (along
    random directions), with the model's own SymPy expression (Reference) at dims (the rest
    small random): a Report with a row for the loss, one per parameter, two per Jacobian
    (jacobian_<name> (reverse) and (forward)) and, with the Hessian, hessian_vector_product
    and hessian. module: a generated module of the model (load_module), by default derived
    in memory. The SymPy evaluation expands every entry: keep dimensions small (up to about
    10)."""
    if module is None:
        module = load_module(module_source(derive(model, names)), model.name)
    dims = {**default_dims(model, seed), **(dims or {})}
    if not indices_fit(model, dims):
        raise SymgradError(f"model {model.name}: its slices or indices reach past its matrices "
                           f"at {', '.join(f'{k}={v}' for k, v in dims.items())}: give larger "
                           "dimensions (--dims)")
    values = random_instance(model, dims, seed)
    try:
        reference = Reference(model, dims, values)
        rows = second_order(model, module, values, reference, np.random.default_rng([seed, 2]),
                            rounding_floor(values, reference.loss))
    except NotFinite as e:
        raise SymgradError(f"model {model.name}: {e} at seed {seed}: try another --seed") from e
    value, grads = module.value_and_grad(*[values[x.name] for x in model.params + model.inputs])
    report = Report(model.name, dims, seed, rtol=rtol, against="the model's SymPy expression")
    # a result that is 0 (a softmax over k = 1 class: every gradient) against the reference's
    # 1e-40: rounding, as certify allows it
    floor = rounding_floor(values, reference.loss) / rtol
    report.errors["(loss)"] = disagreement(value, reference.loss, floor)[0]
    for p, g in zip(model.params, grads):
        report.errors[p.name] = disagreement(g, reference.gradient(p), floor)[0]
    report.errors.update((what, err) for what, err, _ in rows)
    return report


def _assert_shaped(where, module, grads, values):
    """One gradient per parameter, each of its parameter's shape and dtype."""
    assert len(grads) == len(module.PARAMS), f"{where}: {len(grads)} gradients for the " \
        f"{len(module.PARAMS)} parameters {', '.join(module.PARAMS)}"
    for name, g in zip(module.PARAMS, grads):
        want = (np.shape(values[name]), np.result_type(values[name]))
        assert (np.shape(g), np.result_type(g)) == want, \
            f"{where}: gradient of {name} has shape/dtype {np.shape(g)}/{np.result_type(g)}, " \
            f"not {want[0]}/{want[1]}"


def check_grads(module, dims=None, seed=0, rtol=1e-6):
    """Assert that a generated module's gradients match central differences (per parameter,
    and the dot-product test), that value_and_grad's loss equals loss(), and that each
    gradient has its parameter's shape and dtype. The AssertionError names the parameter."""
    report = gradient_report(module, dims, seed, rtol)
    _, values, args = _instance(module, report.dims, seed)
    value, grads = module.value_and_grad(*args)
    where = f"{report.model} at {report.where()}"
    assert np.isclose(value, module.loss(*args), rtol=1e-12, atol=0), \
        f"{where}: value_and_grad gives loss {value!r} but loss() gives {module.loss(*args)!r}"
    _assert_shaped(where, module, grads, values)
    for name, err in report.errors.items():
        what = "gradient along a random direction" if name == DIRECTION else f"gradient of {name}"
        assert err <= rtol, f"{where}: {what} is wrong: relative error {err:.2e} > rtol {rtol:g} " \
            "against central differences"


def assert_matches_model(model, module, dims=None, seed=0, rtol=1e-10):
    """Assert that a generated module computes the model's loss, gradients, Jacobians and
    Hessian (check_model's rows), against the independent SymPy evaluation (Reference) at
    tiny dimensions (default: 2 or 3), each gradient of its parameter's shape and dtype."""
    dims = {**default_dims(model, seed, low=2, high=3), **(dims or {})}
    report = check_model(model, dims, seed, rtol=rtol, module=module)
    where = f"{model.name} at {report.where()}"
    values = random_instance(model, report.dims, seed)
    _assert_shaped(where, module, module.value_and_grad(
        *[values[name] for name in module.PARAMS + module.INPUTS])[1], values)
    wrong = [f"{where}: {_row_text(model, name)} is wrong: relative error {err:.2e} > rtol "
             f"{rtol:g} against SymPy" for name, err in report.errors.items() if not err <= rtol]
    assert not wrong, "\n".join(wrong)


def _row_text(model, name):
    """A Report row's name as a sentence's subject: the loss, gradient of W, hessian."""
    if name == "(loss)":
        return "the loss"
    return f"gradient of {name}" if name in {p.name for p in model.params} else name


# ---- a student's backprop, step by step ------------------------------------------------------
@dataclass
class AdjointCheck:
    """One adjoint of the trace against the student's: `error` is the relative error (None
    when the student gave none), `problem` what is wrong (empty when it matches)."""
    name: str
    formula: str
    given: bool = False
    error: float | None = None
    problem: str = ""

    @property
    def ok(self):
        return self.given and not self.problem


@dataclass
class BackpropReport:
    """The student's adjoints against symgrad's trace, right to left (`checks`), at one
    random point; `convention` says how the intermediate adjoints were read."""
    model: str
    dims: dict
    seed: int
    convention: str
    checks: list[AdjointCheck]
    rtol: float

    @property
    def first_wrong(self) -> AdjointCheck | None:
        return next((c for c in self.checks if c.given and c.problem), None)

    @property
    def passed(self):
        """Every adjoint given is right, and at least one was given."""
        return self.first_wrong is None and any(c.given for c in self.checks)

    def text(self):
        where = ", ".join(f"{k}={v}" for k, v in self.dims.items()) or "scalar"
        lines = [f"{self.model} ({where}, seed {self.seed}), your backprop against symgrad's "
                 f"trace, right to left ({self.convention}):"]
        for c in self.checks:
            mark = "not given" if not c.given else "ok" if c.ok else "WRONG"
            error = c.problem or ("" if c.error is None else f"relative error {c.error:.1e}")
            lines.append(f"  {c.name:<8} {mark:<9} {error}")
        wrong = self.first_wrong
        if wrong is not None:
            lines.append(f"first wrong step: {wrong.name} ({wrong.problem}); it should be "
                         f"{wrong.formula}")
        elif not any(c.given for c in self.checks):
            lines.append("none of the adjoints given: return a dict of them by name, e.g. "
                         "{'dW1': dW1}")
        return "\n".join(lines)


def compare_backprop(model, backward, dims=None, seed=0, rtol=1e-6, names=None, batch="m"):
    """Check a student's backward pass step by step against symgrad's trace.

    model: a Model (its intermediates named after the caller's variables, or `names`), or
    the path of a model file holding one. backward is called as the course's
    `backward_propagation(parameters, cache, X, Y)`: backward(parameters, cache, *inputs),
    with parameters and cache dicts by name (cache: every named forward value, `Z1`, `A1`,
    ..., evaluated by symgrad) and the inputs in the model's order; it returns a dict of
    adjoints by name (`dZ2`, `dW2`, `db2`, `dA1`, ...; any subset). Each is compared, right to
    left, with the trace's adjoint evaluated at a random point (random_instance at `dims`,
    by default distinct dimensions from 3 up): the parameters' gradients are the cost's; the
    intermediate ones may be the cost's too (dZ2 = (A2 - Y)/m) or, as the course writes them,
    `batch` (m) times those (dZ2 = A2 - Y), whichever the first one that matches follows.
    Returns a BackpropReport; an unknown name is a SymgradError listing the valid ones."""
    if not hasattr(model, "params"):
        (model, names), *more = load(model)
        if more:
            raise SymgradError("compare_backprop: the model file holds several models: pass "
                               "the Model itself")
    d = derive(model, names if names is not None else frame_variables(sys._getframe(1)))
    names_of = sorted(x.name for x in model.dims)
    dims = {**{name: 3 + k for k, name in enumerate(names_of)}, **(dims or {})}
    leaves = random_instance(model, dims, seed)
    order = _right_to_left(d)
    forward = [n for n in topo([d.loss] + list(d.outputs.values()) + d.grads)
               if n.name and n.op != "leaf" and not n.derived]
    with np.errstate(all="ignore"):
        value = evaluate.values(forward + [g for _, g, _ in order], leaves, dims)
    parameters = {p.name: np.copy(leaves[p.name]) for p in model.params}
    cache = {n.name: np.copy(value[n.id]) for n in forward}
    given = backward(parameters, cache, *[np.copy(leaves[x.name]) for x in model.inputs])
    if not isinstance(given, Mapping):
        raise SymgradError(f"compare_backprop: backward returned {type(given).__name__}, not a "
                           "dict of adjoints by name, e.g. {'dZ2': dZ2, 'dW2': dW2}")
    valid = [name for name, _, _ in order]
    unknown = [k for k in given if k not in valid]
    if unknown:
        raise SymgradError(f"compare_backprop: no adjoint named {', '.join(map(str, unknown))} "
                           f"in {model.name}'s trace: its adjoints are {', '.join(valid)}")
    m = dims.get(batch, 1) if batch else 1
    per_example = next((x for x in model.dims if x.name == batch), None)
    intermediate = {g.id: inter for _, g, inter in reversed(order)}     # the first one's
    scale = _convention(order, given, value, m, rtol)
    checks = []
    for name, g, inter in order:
        s = scale if inter else 1
        formula = _formula(g, inter, intermediate, scale, per_example)
        check = AdjointCheck(name, f"{name} = {formula}")
        if name in given:
            check.given = True
            want, got = s * value[g.id], given[name]
            try:
                got = np.asarray(got, dtype=np.float64)
            except (TypeError, ValueError):
                check.problem = f"a {type(got).__name__}, not an array of numbers"
            else:
                if got.shape != np.shape(want) and not got.size == 1 == np.size(want):
                    check.problem = f"shape {got.shape}, should be {np.shape(want)}"
                else:
                    check.error = relative_error(got.reshape(np.shape(want)), want)
                    if not check.error <= rtol:
                        check.problem = f"relative error {check.error:.1e}"
        checks.append(check)
    convention = "the cost's adjoints" if scale == 1 else \
        f"intermediate adjoints per example, {batch} times the cost's, as the course writes them"
    return BackpropReport(model.name, dims, seed, convention, checks, rtol)


def assert_backprop_matches(model, backward, **options):
    """Assert that compare_backprop finds every adjoint the student gives right; the
    AssertionError's message is the report, naming the first wrong step and its formula."""
    if "names" not in options and hasattr(model, "params"):
        options["names"] = frame_variables(sys._getframe(1))
    report = compare_backprop(model, backward, **options)
    assert report.passed, report.text()
    return report


def _right_to_left(d):
    """[(name, adjoint node, whether it is an intermediate's)] of the trace's steps on named
    nodes (the seed's excepted), in the order the sweep completes them: after the last
    consumer whose rule contributes to it, a parameter's gradient before an intermediate's at
    a tie. A step's name is its adjoint's (dZ2), or d<node> for a node whose adjoint another
    node's is (the lecture's du, which is dv)."""
    position = {step.node.id: k for k, step in enumerate(d.steps)}
    found, owned = {}, set()
    for k, step in enumerate(d.steps):
        g, node = step.adjoint, step.node
        if not step.terms or g is None:
            continue
        if g.name and g.derived and g.id not in owned:
            name = g.name
        elif node.name:
            name = adjoint_name(node.name)
        else:
            continue
        owned.add(g.id)
        if name in found:
            continue
        done = max(position[t.consumer.id] for t in step.terms)
        found[name] = ((done, node.op != "leaf", k), g, node.op != "leaf")
    return [(name, g, inter) for name, (_, g, inter) in
            sorted(found.items(), key=lambda f: f[1][0])]


def _convention(order, given, value, m, rtol):
    """1, or m when the first of the student's intermediate adjoints that matches either
    way is m times the cost's (the course's per-example dZ)."""
    for name, g, inter in order:
        if not inter or name not in given:
            continue
        try:
            got = np.asarray(given[name], dtype=np.float64)
        except (TypeError, ValueError):
            continue
        for s in (1, m):
            if got.shape == np.shape(value[g.id]) and relative_error(got, s * value[g.id]) <= rtol:
                return s
    return 1


def _formula(g, inter, intermediate, scale, batch):
    """g's formula in plain text from the trace, in the named values (leaves, the forward
    pass's, the other adjoints), unnamed operands written out; with the course's convention
    (scale m, batch the dimension m), in its per-example intermediate adjoints (inter: g is
    an intermediate's adjoint; intermediate: {adjoint node id: whether it is})."""
    def written(a):
        if a.name and a is not g:
            return a.name
        inner = text(a, written)
        return inner if a.op in ("leaf", "transpose") or inner.isidentifier() else f"({inner})"

    reads = any(intermediate.get(a.id) for a in topo([g]) if a is not g)
    factor = sp.Integer(scale if inter else 1) / (scale if reads else 1)
    if g.op != "map" or not g.args:
        body = text(g, written)
        if factor == 1:
            return body
        return f"{body} / {batch}" if factor < 1 else f"{batch} * ({body})"
    expr, args = inline_maps(g.expr, g.args, lambda a: a.name is None)
    if expr == g.expr and factor == 1:
        return text(g, written)
    expr = expr.xreplace({placeholder(i): sp.Symbol(written(a)) for i, a in enumerate(args)})
    if factor != 1:
        expr = expr * (batch if factor > 1 else 1 / batch)
    if sp.count_ops(expr) < 40:
        expr = sp.simplify(expr)
    return sp.sstr(expr)
