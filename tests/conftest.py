"""Shared fixtures: the bundled examples, loaded and derived once per session."""
from pathlib import Path

import pytest

from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.load import load
from symgrad.testing import load_module

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if "sg.Model(" in p.read_text())


def derived(path):
    """[(model, names, source, module)] for every model in an example file."""
    out = []
    for model, names in load(path):
        source = module_source(derive(model, names))
        out.append((model, names, source, load_module(source, model.name)))
    return out


@pytest.fixture(scope="session")
def example():
    cache = {}

    def get(stem):
        if stem not in cache:
            cache[stem] = derived(ROOT / "examples" / f"{stem}.py")[0]
        return cache[stem]
    return get


def pytest_terminal_summary(terminalreporter):
    """Say how many random graphs the property test derived and checked."""
    import sys
    module = sys.modules.get("test_properties")
    if module is not None and module.explored["graphs"]:
        terminalreporter.write_line(
            f"property test: {module.explored['graphs']} random graphs derived, emitted and "
            "checked against central differences")
    if module is not None and module.explored.get("torch"):
        terminalreporter.write_line(
            f"property test: {module.explored['torch']} random graphs checked against "
            "PyTorch autograd")
