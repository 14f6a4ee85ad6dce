"""Every bundled example: gradients equal central differences and an independent SymPy
evaluation on a tiny instance, and the committed module in generated/ is current."""
import numpy as np
import pytest

from symgrad.testing import (default_dims, finite_difference_grads, random_instance,
                             relative_error, sympy_reference)

from conftest import EXAMPLES, ROOT, derived

CASES = [(path, item) for path in EXAMPLES for item in derived(path)]
IDS = [f"{path.stem}:{item[0].name}" for path, item in CASES]


@pytest.mark.parametrize("path,item", CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_gradients_match_central_differences(path, item, seed):
    model, _, _, module = item
    dims = default_dims(model, seed)
    values = random_instance(model, dims, seed)
    args = [values[n] for n in module.PARAMS + module.INPUTS]
    loss, grads = module.value_and_grad(*args)
    assert np.isclose(loss, module.loss(*args), rtol=1e-14)
    reference = finite_difference_grads(module.loss, args, len(module.PARAMS))
    for name, g, ref in zip(module.PARAMS, grads, reference):
        assert np.shape(g) == np.shape(values[name]), name
        assert relative_error(g, ref) < 1e-7, f"{name}: {relative_error(g, ref):.2e}"


@pytest.mark.parametrize("path,item", CASES, ids=IDS)
def test_matches_sympy_on_a_tiny_instance(path, item):
    model, _, _, module = item
    dims = {d.name: 2 + i % 2 for i, d in enumerate(model.dims)}
    values = random_instance(model, dims, seed=3)
    args = [values[n] for n in module.PARAMS + module.INPUTS]
    loss, grads = module.value_and_grad(*args)
    ref_loss, ref_grads = sympy_reference(model, dims, values)
    assert relative_error(loss, ref_loss) < 1e-12
    for name, g, ref in zip(module.PARAMS, grads, ref_grads):
        assert relative_error(g, ref) < 1e-10, f"{name}: {relative_error(g, ref):.2e}"


@pytest.mark.parametrize("path,item", CASES, ids=IDS)
def test_committed_module_is_current(path, item):
    model, _, source, _ = item
    committed = ROOT / "generated" / f"{model.name}.py"
    assert committed.exists(), f"run: symgrad derive {path.relative_to(ROOT)}"
    assert committed.read_text() == source, f"stale: run symgrad derive {path.relative_to(ROOT)}"
