"""Every bundled example: gradients equal central differences and an independent SymPy
evaluation on a tiny instance, and the committed module in generated/ is current."""
import pytest

from symgrad.testing import assert_matches_model, check_grads

from conftest import EXAMPLES, ROOT, derived

CASES = [(path, item) for path in EXAMPLES for item in derived(path)]
IDS = [f"{path.stem}:{item[0].name}" for path, item in CASES]


@pytest.mark.parametrize("path,item", CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_gradients_match_central_differences(path, item, seed):
    model, _, _, module = item
    check_grads(module, seed=seed, rtol=1e-7)


@pytest.mark.parametrize("path,item", CASES, ids=IDS)
def test_matches_sympy_on_a_tiny_instance(path, item):
    model, _, _, module = item
    assert_matches_model(model, module, seed=3, rtol=1e-10)


@pytest.mark.parametrize("path,item", CASES, ids=IDS)
def test_committed_module_is_current(path, item):
    model, _, source, _ = item
    committed = ROOT / "generated" / f"{model.name}.py"
    assert committed.exists(), f"run: symgrad derive {path.relative_to(ROOT)}"
    assert committed.read_text() == source, f"stale: run symgrad derive {path.relative_to(ROOT)}"
