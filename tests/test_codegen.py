"""Properties of generated code: deterministic, NumPy-only, vectorised, and the simplifications
the seeds teach (found by symgrad itself, checked here against hand-derived formulas)."""
import ast
import re

import pytest

from conftest import EXAMPLES, ROOT, derived

SOURCES = [(p.stem, item[2]) for p in EXAMPLES for item in derived(p)]


@pytest.mark.parametrize("stem,source", SOURCES, ids=[s for s, _ in SOURCES])
def test_deterministic_bytes(stem, source):
    again = derived(ROOT / "examples" / f"{stem}.py")[0][2]
    assert again == source


@pytest.mark.parametrize("stem,source", SOURCES, ids=[s for s, _ in SOURCES])
def test_numpy_only_no_loops_no_materialised_ones(stem, source):
    tree = ast.parse(source)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(n) for n in imports] == ["import numpy as np"]
    assert not any(isinstance(n, (ast.For, ast.While, ast.comprehension)) for n in ast.walk(tree))
    assert not re.search(r"np\.(ones|eye|diag|identity)\b", source)


def _statement(source, name):
    """The right-hand side of `name = ...` in value_and_grad's code (not its docstring)."""
    body = source[source.index("def value_and_grad"):]
    return re.findall(rf"^    {name} = (.*)$", body, re.M)[-1]


def test_sigmoid_with_cross_entropy_gives_a_minus_y_over_m(example):
    source = example("two_layer")[2]
    assert _statement(source, "dZ2") == "(A2 - Y)/m"
    assert _statement(source, "dZ1") in ("W2.T*dZ2*(1 - A1**2)", "dZ2*W2.T*(1 - A1**2)")


def test_softmax_with_cross_entropy_gives_softmax_minus_y(example):
    source = example("softmax_classifier")[2]
    # softmax * sum(Y) - Y: the general form, softmax - Y for one-hot targets
    assert _statement(source, "dZ2") == "(A2*Y.sum(axis=0, keepdims=True) - Y)/m"


def test_bias_gradients_are_sums_over_examples(example):
    source = example("deep_relu")[2]
    for k in (1, 2, 3):
        assert _statement(source, f"db{k}") == f"dZ{k}.sum(axis=1, keepdims=True)"
