"""The plain style, `symgrad derive --style plain` (issue 16 item 6): the code of a course's
solution, one statement per equation of the derivation, no in-place tricks; the same results
as the fast style to 1e-12, certified as it is."""
import inspect
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import symgrad as sg
from conftest import EXAMPLES, ROOT
from symgrad import cli
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.load import load
from symgrad.printing import runtime, runtime_plain
from symgrad.printing.numpy import PlainNumPyNodePrinter
from symgrad.testing import (assert_matches_model, check_grads, default_dims, load_module,
                             random_instance, relative_error)

MODELS = EXAMPLES + sorted((ROOT / "benchmarks" / "models").glob("*.py"))
TWO_LAYER = ROOT / "examples" / "two_layer.py"
_cache: dict = {}


def styles(path):
    """[(model, fast module, plain module, plain source)] for each model in a file, both
    styles emitted from one derivation."""
    if path not in _cache:
        out = []
        for model, names in load(path):
            d = derive(model, names)
            fast, plain = module_source(d), module_source(d, "plain")
            out.append((model, load_module(fast, model.name), load_module(plain, model.name),
                        plain))
        _cache[path] = out
    return _cache[path]


def _ids(paths):
    return [f"{p.parent.name}/{p.stem}" for p in paths]


def _results(module, values):
    """Every result a module computes at values (name -> value): loss, gradients, outputs,
    Jacobians (both orders) and the Hessian, by name."""
    args = [values[name] for name in module.PARAMS + module.INPUTS]
    value, grads = module.value_and_grad(*args)
    out = {"loss": value, "loss()": module.loss(*args)}
    out |= {f"d{name}": g for name, g in zip(module.PARAMS, grads)}
    needed = inspect.signature(module.forward).parameters
    out |= {f"forward[{k}]": v for k, v in module.forward(*[values[n] for n in needed]).items()}
    for name in dir(module):
        if name.startswith("jacobian_"):
            for mode in ("reverse", "forward"):
                out[f"{name}({mode})"] = getattr(module, name)(*args, mode=mode)
    if hasattr(module, "hessian"):
        out["hessian"] = module.hessian(*args)
    return out


@pytest.mark.parametrize("path", MODELS, ids=_ids(MODELS))
def test_plain_computes_what_fast_computes(path):
    for model, fast, plain, _ in styles(path):
        for seed in (0, 1):
            values = random_instance(model, default_dims(model, seed), seed)
            want, got = _results(fast, values), _results(plain, values)
            assert got.keys() == want.keys()
            for name in want:
                assert np.shape(got[name]) == np.shape(want[name]), name
                assert relative_error(got[name], want[name]) <= 1e-12, \
                    f"{model.name}, seed {seed}: {name} differs from the fast style's"


@pytest.mark.parametrize("path", MODELS, ids=_ids(MODELS))
def test_plain_gradients_match_the_model_and_central_differences(path):
    for model, _, plain, _ in styles(path):
        assert_matches_model(model, plain, seed=3, rtol=1e-10)   # SymPy's, mpmath's differences
        check_grads(plain, seed=0, rtol=1e-7)      # central differences, shapes and dtypes


@pytest.mark.parametrize("path", MODELS, ids=_ids(MODELS))
def test_plain_has_no_in_place_tricks(path):
    for model, _, _, source in styles(path):
        assert "out=" not in source, model.name
        assert not re.search(r"(?m)^ +del ", source), model.name
        assert "_matmul" not in source and "np.dot(" not in source, model.name
        # an updated name (x += y) is in place; an entry of a new array (dZ[y, j] -= 1/m, as
        # cs231n writes it) is how NumPy scatters
        assert not re.search(r"(?m)^ +\w+ [-+*/]= ", source), model.name


def test_plain_two_layer_is_the_course_solution():
    """examples/two_layer.py by hand: cost = mean(BCE(sigmoid(Z2), Y)), so dZ2 = (A2 - Y)/m
    carries the 1/m and dW1, db1 do not divide again; tanh' = 1 - A1**2."""
    (_, _, _, source), = styles(TWO_LAYER)
    body = source.split("def value_and_grad(", 1)[1].split('"""', 2)[2].split("\ndef ")[0]
    statements = [line.strip() for line in body.splitlines()
                  if line.strip() and not line.strip().startswith("#")][2:]  # after _dims
    assert statements == [
        "Z1 = W1 @ X + b1",
        "A1 = np.tanh(Z1)",
        "Z2 = W2 @ A1 + b2",
        # BCE on the logits, softplus(Z2) - Y*Z2, as two terms never negative
        "t1 = Y*np.logaddexp(0, -Z2) + (1 - Y)*np.logaddexp(0, Z2)",
        "cost = np.sum(t1)/m",
        "A2 = _sigmoid(Z2)",
        "dZ2 = (A2 - Y)/m",
        "db2 = np.sum(dZ2, axis=1, keepdims=True)",
        "dW2 = dZ2 @ A1.T",
        "dZ1 = (W2.T @ dZ2)*(1 - A1**2)",
        "db1 = np.sum(dZ1, axis=1, keepdims=True)",
        "dW1 = dZ1 @ X.T",
        "return cost, (dW1, db1, dW2, db2)",
    ]
    assert "def _sigmoid(x):" in source and "return 1 / (1 + np.exp(-x))" in source
    assert "derive it again with `--style plain`" in source


def test_plain_output_is_deterministic():
    (model, names), = load(TWO_LAYER)
    first = module_source(derive(model, names), "plain")
    (model, names), = load(TWO_LAYER)
    assert module_source(derive(model, names), "plain") == first


def test_plain_modules_are_ruff_clean(tmp_path):
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (.ci/run installs it)")
    for path in MODELS:
        for model, _, _, source in styles(path):
            (tmp_path / f"{model.name}.py").write_text(source)
    result = subprocess.run([ruff, "check", "--no-cache", "--config",
                             str(ROOT / "pyproject.toml"), str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_plain_sigmoid_gives_the_fast_ones_bits():
    x = np.array([[-800.0, -100.0, -1e-3, 0.0, 1e-3, 3.0, 100.0, 800.0]])
    for dtype in (np.float64, np.float32):
        a = x.astype(dtype)
        plain, fast = runtime_plain._sigmoid(a), runtime._sigmoid(a.copy())
        assert plain.dtype == fast.dtype == dtype
        assert np.array_equal(plain, fast)
    assert runtime_plain._sigmoid(0.5) == runtime._sigmoid(0.5)


def test_derive_style_plain_writes_a_certified_plain_module(tmp_path, monkeypatch, capsys):
    certified = []
    monkeypatch.setattr(cli, "certify", lambda model, source: certified.append(source))
    assert cli.main(["derive", str(TWO_LAYER), "-o", str(tmp_path), "--style", "plain"]) == 0
    written = (tmp_path / "two_layer.py").read_text()
    assert certified == [written] and "    Z1 = W1 @ X + b1\n" in written
    assert cli.main(["derive", str(TWO_LAYER), "-o", str(tmp_path), "--style", "plain",
                     "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_a_wrong_plain_module_is_refused(tmp_path, monkeypatch, capsys):
    """Certification runs on the plain style: a printer summing twice is caught, no file."""
    wrong = PlainNumPyNodePrinter._print_sum
    monkeypatch.setattr(PlainNumPyNodePrinter, "_print_sum",
                        lambda self, node: "2*" + wrong(self, node))
    assert cli.main(["derive", str(TWO_LAYER), "-o", str(tmp_path), "--style", "plain"]) == 1
    assert "certification failed" in capsys.readouterr().err
    assert not (tmp_path / "two_layer.py").exists()


def test_an_unknown_style_is_one_line_naming_the_choices(tmp_path, capsys):
    assert cli.main(["derive", str(TWO_LAYER), "-o", str(tmp_path), "--style", "fancy"]) == 1
    err = capsys.readouterr().err
    assert err == ("symgrad: error: unknown style 'fancy': choose one of fast, plain (fast is "
                   "the default)\n")
    assert not any(Path(tmp_path).iterdir())


def test_compile_takes_the_style():
    (model, _), = load(TWO_LAYER)
    assert "dZ1 = (W2.T @ dZ2)*(1 - A1**2)" in inspect.getsource(sg.compile(model, style="plain"))
    assert "_matmul" in inspect.getsource(sg.compile(model))
    with pytest.raises(sg.SymgradError, match="unknown style 'slow': choose one of fast, plain"):
        sg.compile(model, style="slow")


def test_the_readme_shows_the_plain_code_symgrad_writes():
    (_, _, _, source), = styles(TWO_LAYER)
    readme = (ROOT / "README.md").read_text()
    snippet = readme.split("### The plain style", 1)[1].split("```python\n", 1)[1]
    snippet = snippet.split("```", 1)[0]
    assert snippet.startswith("    Z1 = W1 @ X + b1\n") and snippet in source
