"""Helpers shared by the test modules (fixtures are in conftest.py)."""
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy as sp
from op_cases import evaluate, node_value

import symgrad as sg
from symgrad.certify import certify
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.graph import Node
from symgrad.testing import default_dims, load_module, random_instance, relative_error


# ---- models to modules -----------------------------------------------------------------------
def module_and_source(model):
    """(the generated module of a model, loaded under the model's name, its source)."""
    source = module_source(derive(model))
    return load_module(source, model.name), source


def compiled(model):
    """The generated module of a model."""
    return module_and_source(model)[0]


def certified(model):
    """The generated module, certified against the model's own SymPy expression first
    (certify raises if they disagree)."""
    module, source = module_and_source(model)
    certify(model, source)
    return module


# ---- model files and the command line --------------------------------------------------------
HEADER = ("import sympy as sp\nimport symgrad as sg\n"
          "n, m = sp.symbols('n m', integer=True, positive=True)\n")


def model_file(tmp_path, body, name="model.py", header=HEADER):
    """A model file in tmp_path: header (imports and the dimensions n, m), then body."""
    path = tmp_path / name
    path.write_text(header + textwrap.dedent(body))
    return path


def compiled_latex(path, tmp_path, *options, tools=("pdflatex",)):
    """`symgrad latex path *options` compiled with pdflatex in tmp_path, without errors: the
    log's text (d.pdf beside it). Skips where a tool is missing, fails under .ci/run
    (SYMGRAD_REQUIRE_LATEX), which installs them."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        if os.environ.get("SYMGRAD_REQUIRE_LATEX"):
            pytest.fail(f"{', '.join(missing)} not found: apt-get install texlive-latex-base "
                        "texlive-latex-recommended poppler-utils")
        pytest.skip(f"{', '.join(missing)} not installed")
    result = run_cli("latex", path, "-o", "d.tex", *options, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    tex = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "d.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = (tmp_path / "d.log").read_text(errors="replace")
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert tex.returncode == 0 and not errors, "\n".join(errors) or tex.stdout[-2000:]
    assert (tmp_path / "d.pdf").stat().st_size > 0
    return log


def run_cli(*args, cwd):
    """`python -m symgrad.cli args` in cwd, its output captured."""
    return subprocess.run([sys.executable, "-m", "symgrad.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


# ---- values ----------------------------------------------------------------------------------
def module_args(model, module, dims=None, seed=0, dtype=np.float64):
    """Random arguments (testing.random_instance) for a model's generated module, in its
    PARAMS + INPUTS order, at dims (by default the model's default dimensions)."""
    values = random_instance(model, dims or default_dims(model), seed, dtype=dtype)
    return [values[k] for k in module.PARAMS + module.INPUTS]


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def close(got, want, rtol=1e-8):
    """got (NumPy) has want's shape and agrees with it (NumPy, or a PyTorch tensor)."""
    want = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    assert np.shape(got) == np.shape(want), (np.shape(got), np.shape(want))
    assert relative_error(got, want) <= rtol, relative_error(got, want)


def tensor(a, grad=False):
    """a as a float64 PyTorch tensor (for the tests that skip without PyTorch)."""
    import torch        # optional: imported by the tests that need it, after importorskip
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


# ---- statements, as the passes take and give them -------------------------------------------
def fresh_names():
    """A fresh() for liveness.reuse_and_free: t1, t2, ..."""
    counter = iter(range(1, 99))
    return lambda: f"t{next(counter)}"


def assert_same_results(lines, new, args, results, scratch=(), rtol=0.0):
    """Run the statements lines and their rewrite new, each on its own copy of args
    ({name: value}; a value other than an array, a helper, is passed as it is): the names
    results hold the same values after both, and neither wrote into an argument, but for the
    scratch ones (arrays that die in the statements)."""
    runs = []
    for code in (lines, new):
        env = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in args.items()}
        env["np"] = np
        exec("\n".join(code), env)
        runs.append(env)
        for k, v in args.items():
            if k not in scratch and isinstance(v, np.ndarray):
                np.testing.assert_array_equal(env[k], v, err_msg=f"argument {k} was written")
    for name in results:
        np.testing.assert_allclose(runs[1][name], runs[0][name], rtol=rtol, atol=0,
                                   err_msg=name)


# ---- a schedule's statements, evaluated ------------------------------------------------------
def plan_values(p, values, dims=None, wanted=()):
    """{node id: value} for the statements of a schedule.Plan (and the nodes wanted), each
    map computed from the plan's expression for it (fused, rewritten, hoisted calls as
    operands), as is a scatter's base fused into it, and any other node, and an operand
    written inside its user, by its op (op_cases's evaluator)."""
    memo = {}

    def value(node):
        if node.id in memo:
            return memo[node.id]
        xs = [value(a) for a in node.args]
        if node.op in ("map", "scatter") and node.id in p.exprs:
            expr, operands = p.exprs[node.id]
            fused = node_value(Node("map", operands, node.shape, expr), [value(a) for a in
                                                                      operands], values, dims)
            if node.op == "map":
                memo[node.id] = fused
                return fused
            xs[0] = fused                          # the scatter's base, in its own array
        memo[node.id] = node_value(node, xs, values, dims)
        return memo[node.id]

    for node in [*p.order, *wanted]:
        value(node)
    return memo


def assert_plan_computes_the_graph(p, roots, values, dims=None, rtol=1e-12):
    """Each root's value from the plan's statements equals its value from the graph."""
    computed = plan_values(p, values, dims, roots)
    for root in roots:
        np.testing.assert_allclose(computed[root.id], evaluate(root, values, dims),
                                   rtol=rtol, atol=1e-300, err_msg=root.name or root.op)


# ---- small models ----------------------------------------------------------------------------
def logistic():
    """The derivation of one sigmoid unit under binary cross-entropy, A an output."""
    n, m = sp.symbols("n m", integer=True, positive=True)
    X, Y = sg.Input("X", n, m), sg.Input("Y", 1, m)
    w, b = sg.Param("w", 1, n), sg.Param("b", 1, 1)
    A = sg.sigmoid(w @ X + b)
    return derive(sg.Model("logistic", sg.mean(sg.binary_cross_entropy(A, Y)), [w, b],
                           [X, Y], outputs={"A": A}))
