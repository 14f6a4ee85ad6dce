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


def test_a_dimension_expression_is_checked_once_its_symbols_are_bound():
    """Z of n + 1 rows beside A of n: a Z of 9 rows was never compared (SHAPES had 'n + 1',
    _dims did not read it) and crashed inside the module on a reshape, or passed. By hand:
    sum(Z[1:, :] * A) + sum(Z) of ones is n m + (n + 1) m."""
    import numpy as np

    import symgrad as sg
    from symgrad.codegen import module_source
    from symgrad.derive import derive
    from symgrad.testing import load_module
    n, m = sp.symbols("n m", integer=True, positive=True)
    Z, A = sg.Input("Z", n + 1, m), sg.Param("A", n, m)
    model = sg.Model("expr", sg.sum(Z[1:, :] * A) + sg.sum(Z), [A], [Z])
    module = load_module(module_source(derive(model)), "expr")
    assert module.value_and_grad(np.ones((3, 4)), np.ones((4, 4)))[0] == 3 * 4 + 4 * 4
    with pytest.raises(ValueError, match="the shapes of A, Z disagree"):
        module.value_and_grad(np.ones((3, 4)), np.ones((9, 4)))
    X, V, Y = sg.Input("X", n, m), sg.Param("V", 1, n + 1), sg.Input("Y", 1, m)
    both = load_module(module_source(derive(sg.Model(       # forward reads no X, so no n
        "both", sg.mse(V @ Z, Y) + sg.sum(X) * sg.sum(V), [V], [Z, X, Y],
        outputs={"P": V @ Z}))), "both")
    v, z = np.full((1, 4), 0.5), np.ones((4, 5))
    np.testing.assert_allclose(both.forward(v, z)["P"], v @ z)
    W = sg.Param("W", 2, m)                       # n only in n + 1: no call can read it
    with pytest.raises(sg.SymgradError, match="the dimension n appears only in n \\+ 1"):
        module_source(derive(sg.Model("loose", sg.sum(sg.tanh(W @ Z.T)), [W], [Z])))
