"""The dimensions of a Model or a generated module: their values at small random sizes,
and the shapes of the arrays in terms of them (certification, the generated tests and
symgrad.testing all draw from here)."""
import re

import numpy as np
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement


def _shapes(spec):
    """{name: shape} of the parameters, then the inputs, of a Model or a module, each
    dimension a SymPy expression; and the number of parameters."""
    if hasattr(spec, "SHAPES"):
        names = list(spec.PARAMS) + list(spec.INPUTS)
        return {n: tuple(dimension(d) for d in spec.SHAPES[n]) for n in names}, len(spec.PARAMS)
    return ({s.name: tuple(sp.sympify(d) for d in getattr(s, "shape", ()))
             for s in spec.params + spec.inputs}, len(spec.params))


def dimension(text):
    """A dimension from its text in a module's SHAPES, its names always symbols: never
    sympify's namespace, where N, S, I, E, Q, beta, gamma and pi mean something else."""
    names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    return sp.parse_expr(text, local_dict={name: sp.Symbol(name) for name in names})


def default_dims(spec, seed=0, low=2, high=5):
    """Small random integer values for the dimension symbols of a Model or a module; for a
    Model whose slices or indices need larger ones (A[:, 3:k]), the first of further draws
    (up to 8) that they fit in, if any."""
    shapes, _ = _shapes(spec)
    names = sorted({s.name for shape in shapes.values() for d in shape for s in d.free_symbols})
    rng = np.random.default_rng(seed)
    dims = {name: int(rng.integers(low, high + 1)) for name in names}
    if not hasattr(spec, "SHAPES") and not indices_fit(spec, dims):     # a Model
        for _ in range(64):
            draw = {name: int(rng.integers(low, max(high, 8) + 1)) for name in names}
            if indices_fit(spec, draw):
                return draw
    return dims


def examples_sentence(params, inputs, name=str):
    """How the inputs hold the examples, for a module's docstring and the derivation's
    introduction: by the one dimension symbol (not a number) every input has and no parameter
    has, "Arrays hold one example per column." (or row), or each input's axis where they
    differ ("X holds one example per row, y one per column."); "" where no dimension is the
    examples'. params, inputs: nodes with .name and .shape; name: how to write a name."""
    inputs = [x for x in inputs if len(x.shape) == 2]
    shared = set.intersection(*[set(x.shape) for x in inputs]) if inputs else set()
    shared -= {d for p in params for d in p.shape} | {d for d in shared if d.is_number}
    if len(shared) != 1 or any(x.shape[0] == x.shape[1] for x in inputs):
        return ""
    m = shared.pop()
    axes = {name(x.name): ("row", "column")[x.shape[1] == m] for x in inputs}
    if len(set(axes.values())) == 1:
        return f"Arrays hold one example per {axes.popitem()[1]}."
    first, *rest = axes.items()
    return f"{first[0]} holds one example per {first[1]}, " \
        + ", ".join(f"{n} one per {axis}" for n, axis in rest) + "."


def indices_fit(model, dims):
    """Whether every slice and entry index in the model's expressions lies inside its matrix
    at these dimension values (A[:, 1:k] needs 2 <= k <= A's columns)."""
    subs = {d: dims[d.name] for d in model.dims if d.name in dims}
    exprs = [model.loss, *model.outputs.values(), *(o for o, _ in model.jacobians.values())]
    for e in _indexing(exprs):
        spans = [e.rowslice, e.colslice] if isinstance(e, sp.MatrixSlice) \
            else [(e.i, e.i + 1), (e.j, e.j + 1)]
        for (start, stop, *_), size in zip(spans, e.parent.shape):
            bounds = [sp.sympify(b).subs(subs) for b in (start, stop, size)]
            if not all(b.is_Integer for b in bounds):
                continue          # a Sum's dummy index
            start, stop, size = map(int, bounds)
            if not 0 <= start < stop <= size:
                return False
    return True


def _indexing(exprs):
    """The slices and entries in exprs, each shared subtree visited once (a deep network's
    tree, walked as a tree, is exponential in its depth)."""
    seen, stack = set(), [sp.sympify(e) for e in exprs]
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        if isinstance(e, (sp.MatrixSlice, MatrixElement)):
            yield e
        stack.extend(e.args)
