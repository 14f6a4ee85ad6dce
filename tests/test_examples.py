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


def test_the_readmes_cs231n_excerpt_is_the_committed_code():
    # the fast code the README shows for examples/cs231n_softmax.py, in value_and_grad's
    # order (the frees between its lines left out, its own notes after two spaces and #)
    readme = (ROOT / "README.md").read_text()
    snippet = readme.split("softmax_loss_vectorized` does by hand", 1)[1]
    snippet = snippet.split("```python\n", 1)[1].split("```", 1)[0]
    source = (ROOT / "generated" / "cs231n_softmax.py").read_text()
    body = source.split("\ndef value_and_grad(", 1)[1].split("\ndef ", 1)[0].splitlines()
    at = 0
    for line in snippet.splitlines():
        code = line if line.lstrip().startswith("#") else line.split("  #")[0].rstrip()
        assert code in body[at:], code
        at = body.index(code, at) + 1
