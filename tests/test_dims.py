"""The one dimension check of a generated module (_dims, a tuple comparison, with the message
built by _shape_error on failure): every inconsistent argument is refused with a message
naming the dimension, the argument and the one it disagrees with, and every consistent call
passes. Expected outcomes come from the model's shapes, not from the module."""
import re

import numpy as np
import pytest
import sympy as sp

from conftest import EXAMPLES, derived

MODULES = [(path.stem, model, module) for path in EXAMPLES
           for model, _, _, module in derived(path)]
MESSAGE = re.compile(r"^(\w+): (\w+) has (\d+) (rows|columns) but "
                     r"(?:(\w+) has (\d+) (rows|columns)|it must be (\d+))$")


def _instance(model, sizes):
    """Arrays of the model's parameters and inputs at these dimension sizes."""
    shapes = {}
    for x in model.params + model.inputs:
        shapes[x.name] = tuple(int(sp.sympify(d).subs(sizes)) for d in getattr(x, "shape", ()))
    return shapes


@pytest.mark.parametrize("stem,model,module", MODULES, ids=[m[0] for m in MODULES])
def test_every_argument_off_by_one_in_one_axis_is_refused_by_name(stem, model, module):
    dims = sorted({s for x in model.params + model.inputs for d in getattr(x, "shape", ())
                   for s in sp.sympify(d).free_symbols}, key=str)
    sizes = {s: 2 + k for k, s in enumerate(dims)}     # distinct sizes: a mix-up shows
    shapes = _instance(model, sizes)
    names = module.PARAMS + module.INPUTS
    labels = set(getattr(module, "LABELS", {}))
    assert all(len(shapes[n]) in (0, 2) for n in names)

    rng = np.random.default_rng(0)

    def call(shapes):      # random entries: a square matrix some model inverts is regular
        args = [rng.standard_normal(shapes[n]) if shapes[n] else 0.5 for n in names]
        for n in labels:     # class indices in range
            args[names.index(n)] = np.zeros(shapes[n], dtype=int)
        module.value_and_grad(*args)

    call(shapes)                                 # consistent: no error
    for name in names:
        if name in labels:
            continue
        symbols = [sp.sympify(d) for d in model_shape(model, name)]
        for axis, dim in enumerate(symbols):
            if not (dim.is_Symbol or dim.is_Integer):
                continue        # a compound dimension (2*n) is not checked
            bad = dict(shapes)
            bad[name] = tuple(n + (k == axis) for k, n in enumerate(shapes[name]))
            elsewhere = dim.is_Integer or any(
                dim in [sp.sympify(d) for d in model_shape(model, other)]
                for other in names if other != name) or symbols.count(dim) > 1
            if not elsewhere:
                call(bad)                        # the one argument with it: nothing to check
                continue
            with pytest.raises(ValueError) as caught:
                call(bad)
            found = MESSAGE.match(str(caught.value))
            assert found, str(caught.value)
            assert name in (found.group(2), found.group(5)), str(caught.value)


def model_shape(model, name):
    return next(getattr(x, "shape", ()) for x in model.params + model.inputs if x.name == name)
