"""value_and_grad(..., workspace=ws) (`symgrad derive --workspace`, symgrad/workspace.py): the
same loss and gradients as the model's own SymPy expression, in buffers kept between calls;
no page faults in steady state; one workspace per thread."""
import itertools
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgrad as sg
from symgrad.certify import certify
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.errors import SymgradError
from symgrad.load import load
from symgrad.testing import (assert_matches_model, default_dims, load_module, random_instance,
                             relative_error)

from conftest import EXAMPLES, ROOT
from helpers import run_cli, sigmoid

BENCHMARKS = sorted((ROOT / "benchmarks" / "models").glob("*.py"))
MODELS = [(path, model, names) for path in EXAMPLES + BENCHMARKS for model, names in load(path)]
IDS = [f"{path.stem}:{model.name}" for path, model, _ in MODELS]


def with_workspace(model, names=None):
    source = module_source(derive(model, names), workspace=True)
    certify(model, source)
    return load_module(source, model.name + "_ws"), source


class Using:
    """A module whose value_and_grad always passes one workspace."""

    def __init__(self, module, ws):
        self.PARAMS, self.INPUTS, self.ws, self.module = module.PARAMS, module.INPUTS, ws, module

    def value_and_grad(self, *args):
        return self.module.value_and_grad(*args, workspace=self.ws)

    def __getattr__(self, name):        # the module's Jacobians and Hessian, checked as well
        return getattr(self.module, name)


@pytest.mark.parametrize("path,model,names", MODELS, ids=IDS)
def test_every_model_matches_sympy_in_a_used_workspace(path, model, names):
    """A second call in a workspace (its buffers hold the first call's values, of other
    arguments of the same shapes) gives the model's loss and gradients, against the SymPy
    evaluation; the arguments are not written."""
    module, _ = with_workspace(model, names)
    ws = module.workspace()
    dims = default_dims(model, 3, low=2, high=3)
    other = random_instance(model, dims, seed=11)
    module.value_and_grad(*[other[k] for k in module.PARAMS + module.INPUTS], workspace=ws)
    values = random_instance(model, dims, seed=3)
    args = [values[k] for k in module.PARAMS + module.INPUTS]
    kept = [np.copy(a) for a in args]
    assert_matches_model(model, Using(module, ws), seed=3, rtol=1e-10)
    for a, b in zip(args, kept):
        np.testing.assert_array_equal(a, b)


def test_a_gradient_that_views_a_buffer_keeps_it():
    # dW = np.broadcast_to(np.add.reduce(t, ..., out=_w2), (k, m)) is a view of its buffer:
    # the next gradient's sum once took _w2 too, and every row of dW came out dr
    n, m, k = sp.symbols("n m k", integer=True, positive=True)
    X, W, r = sg.Input("X", n, m), sg.Param("W", k, m), sg.Param("r", 1, m)
    model = sg.Model("views", loss=sg.sum(W @ (X * r).T), params=[W, r], inputs=[X])
    module, source = with_workspace(model)
    assert "np.broadcast_to(" in source
    rng = np.random.default_rng(0)
    W0, r0, X0 = (rng.standard_normal(s) for s in ((4, 3), (1, 3), (2, 3)))
    _, (dW, dr) = module.value_and_grad(W0, r0, X0, workspace=module.workspace())
    # by hand: cost = sum_ijl W[i, l] X[j, l] r[l], so dW[i, l] = r[l] sum_j X[j, l]
    column_sums = X0.sum(axis=0, keepdims=True)
    np.testing.assert_allclose(dW, np.broadcast_to(r0 * column_sums, (4, 3)), rtol=1e-13)
    np.testing.assert_allclose(dr, W0.sum(axis=0, keepdims=True) * column_sums, rtol=1e-13)
    assert_matches_model(model, Using(module, module.workspace()), seed=3, rtol=1e-10)


def two_layer():
    return next(m for p, m, _ in MODELS if m.name == "two_layer")


def by_hand(W1, b1, W2, b2, X, Y):
    """The course's backprop of the two-layer network (tanh, sigmoid, cross-entropy)."""
    m = X.shape[1]
    A1 = np.tanh(W1 @ X + b1)
    A2 = sigmoid(W2 @ A1 + b2)
    cost = -np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))
    dZ2 = A2 - Y
    dZ1 = W2.T @ dZ2 * (1 - A1 ** 2)
    return cost, (dZ1 @ X.T / m, dZ1.sum(axis=1, keepdims=True) / m, dZ2 @ A1.T / m,
                  dZ2.sum(axis=1, keepdims=True) / m)


def data(seed, n_x=3, n_h=5, m=40, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in ((n_h, n_x), (n_h, 1), (1, n_h), (1, 1),
                                                             (n_x, m))] \
        + [(rng.random((1, m)) < 0.5).astype(dtype)]


def assert_hand(got, args, rtol=1e-12):
    cost, grads = by_hand(*[np.asarray(a, np.float64) for a in args])
    assert relative_error(got[0], cost) <= rtol
    for g, want in zip(got[1], grads):
        assert g.shape == want.shape and relative_error(g, want) <= rtol


@pytest.fixture(scope="module")
def module():
    return with_workspace(two_layer())[0]


def test_new_shapes_and_dtypes_make_new_buffers(module):
    ws = module.workspace()
    for m, dtype, rtol in ((40, np.float64, 1e-12), (7, np.float64, 1e-12),
                           (7, np.float32, 1e-5), (40, np.float64, 1e-12)):
        args = data(m, m=m, dtype=dtype)
        got = module.value_and_grad(*args, workspace=ws)
        assert all(g.dtype == dtype for g in got[1])
        assert_hand(got, args, rtol)


def test_the_gradients_are_the_workspaces_and_the_default_call_returns_fresh_arrays(module):
    ws = module.workspace()
    first = module.value_and_grad(*data(1), workspace=ws)[1]
    second = module.value_and_grad(*data(2), workspace=ws)[1]
    assert all(a is b for a, b in zip(first, second))      # documented: the same buffers
    fresh = module.value_and_grad(*data(1))[1]
    module.value_and_grad(*data(2))
    assert_hand((by_hand(*data(1))[0], fresh), data(1))    # not overwritten by a later call


@pytest.mark.parametrize("path,model,names", MODELS, ids=IDS)
def test_a_gradient_passed_back_as_its_parameter_is_read_before_any_buffer_is_written(
        path, model, names):
    """grads[i] of a call, which is a buffer of the workspace, given back as parameter i (a
    step of W = W - lr*dW with lr = -1, in place of the user's copy): the call must not
    overwrite it before reading it (it gets new buffers)."""
    module = with_workspace(model, names)[0]
    values = random_instance(model, default_dims(model, 0), 0)
    args = [values[k] for k in module.PARAMS + module.INPUTS]
    views = [lambda g: g,                 # and views the ids do not show (base: not g)
             lambda g: np.lib.stride_tricks.as_strided(g, g.shape, g.strides),
             lambda g: np.frombuffer(g.data, g.dtype).reshape(g.shape)]
    for (i, name), view in itertools.product(enumerate(module.PARAMS), views):
        ws = module.workspace()
        gradient = module.value_and_grad(*args, workspace=ws)[1][i]
        if not isinstance(gradient, np.ndarray):
            continue                                    # a scalar's gradient is a float
        if not gradient.flags.c_contiguous and view is not views[0]:
            continue                                    # (frombuffer needs contiguous)
        again = [view(gradient) if k == i else a for k, a in enumerate(args)]
        want = module.value_and_grad(*[np.copy(a) for a in again])
        got = module.value_and_grad(*again, workspace=ws)
        assert relative_error(got[0], want[0]) <= 1e-12, name
        for g, w in zip(got[1], want[1]):
            assert relative_error(g, w) <= 1e-12, name


def test_two_threads_with_two_workspaces(module):
    results, errors = {}, []

    def train(seed):
        try:
            ws = module.workspace()
            for k in range(60):
                args = data(seed + k % 3)
                got = module.value_and_grad(*args, workspace=ws)
                assert_hand(got, args)
            results[seed] = True
        except Exception as e:       # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=train, args=(s,)) for s in (10, 20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == {10: True, 20: True}


def test_a_workspace_in_use_is_refused(module):
    ws = module.workspace()
    with ws:                         # as a call in another thread holds it
        with pytest.raises(RuntimeError, match="in use by another call: give each thread"):
            module.value_and_grad(*data(1), workspace=ws)
    assert_hand(module.value_and_grad(*data(1), workspace=ws), data(1))


def test_a_workspace_not_made_by_workspace_is_refused(module):
    with pytest.raises(TypeError, match="workspace must be one that this module's workspace"):
        module.value_and_grad(*data(1), workspace={})


FAULTS = """
import importlib, json, resource, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
module = importlib.import_module(sys.argv[2])
rng = np.random.default_rng(0)
shapes = json.loads(sys.argv[3])           # arrays of 6-8 MB: glibc maps them afresh
args = [rng.standard_normal(s) for s in shapes[:-1]]
args.append(np.eye(*shapes[-1])[:, :shapes[-1][1]] if shapes[-1][0] > 1
            else (rng.random(shapes[-1]) < 0.5) * 1.0)
out = {}
for name, kw in (("without", {}), ("with", {"workspace": module.workspace()})):
    for _ in range(3):
        module.value_and_grad(*args, **kw)
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        module.value_and_grad(*args, **kw)
    out[name] = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 20
print(json.dumps(out))
"""
FAULTING = {   # the shapes of value_and_grad's arguments, Y last (one-hot if it has rows)
    "two_layer": [(200, 50), (200, 1), (1, 200), (1, 1), (50, 4000), (1, 4000)],
    # the softmax of 1000 classes over 1000 examples: its exponential in the workspace too
    "softmax_classifier": [(20, 50), (20, 1), (1000, 20), (1000, 1), (50, 1000), (1000, 1000)],
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="minor faults: glibc's Linux")
@pytest.mark.parametrize("name", FAULTING)
def test_no_page_faults_in_steady_state(name, tmp_path):
    """Each call maps its large arrays afresh without a workspace (hundreds to thousands of
    faults); with one, none."""
    model = next(m for p, m, _ in MODELS if m.name == name)
    (tmp_path / f"{name}_ws.py").write_text(module_source(derive(model), workspace=True))
    (tmp_path / "faults.py").write_text(FAULTS)
    run = subprocess.run([sys.executable, str(tmp_path / "faults.py"), str(tmp_path),
                          f"{name}_ws", json.dumps(FAULTING[name])],
                         capture_output=True, text=True, check=True,
                         env={"OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    faults = json.loads(run.stdout)
    assert faults["without"] > 200, faults         # the sizes fault: the test can fail
    assert faults["with"] < 1, faults


def test_the_command_line_flag_and_its_refusals(tmp_path):
    example = Path(EXAMPLES[0]).parent / "two_layer.py"
    run = run_cli("derive", str(example), "-o", str(tmp_path), "--workspace", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    text = (tmp_path / "two_layer.py").read_text()
    assert "def workspace():" in text and "derive it again with `--workspace`" in text
    for extra in (("--style", "plain"), ("--target", "array-api")):
        run = run_cli("derive", str(example), "-o", str(tmp_path / "x"), "--workspace", *extra,
                      cwd=tmp_path)
        assert run.returncode != 0 and "Traceback" not in run.stderr
        assert "--workspace needs --target numpy --style fast" in run.stderr, run.stderr
    with pytest.raises(SymgradError, match="--workspace needs"):
        module_source(derive(two_layer()), style="plain", workspace=True)


def test_the_default_module_has_no_workspace():
    source = module_source(derive(two_layer()))
    assert "workspace" not in source


def test_arrays_of_two_dtypes_are_refused_in_a_workspace(module):
    args = data(1)
    args[4] = args[4].astype(np.float32)
    with pytest.raises(TypeError, match="one dtype, not float32 and float64: convert them"):
        module.value_and_grad(*args, workspace=module.workspace())
    assert_hand(module.value_and_grad(*args), data(1), rtol=1e-6)   # without one: NumPy's


def test_matmul_writes_into_a_buffer():
    """A workspace's products go into row-major buffers (measured: M3 1.24x faster in
    float64 than in _matmul's column-major layout, 0.97x against 0.71x in float32)."""
    from symgrad.printing.numpy import HELPERS
    namespace = {"np": np}
    exec(HELPERS["_matmul"], namespace)
    rng = np.random.default_rng(0)
    for inner in (30, 1):                     # a product, an outer product
        a, b = rng.standard_normal((64, inner)), rng.standard_normal((512, inner)).T
        out = np.empty((64, 512))
        assert namespace["_matmul"](a, b, out) is out
        np.testing.assert_allclose(out, np.einsum("ik,kj->ij", a, b), rtol=1e-12, atol=1e-12)


def test_certification_checks_the_workspace_path_too():
    """value_and_grad(..., workspace=ws) runs statements of its own (_value_and_grad_in):
    certification called only the default path, so a wrong dW2 there (1.01 times) was
    certified. Now it compares the workspace's results, twice (the buffers reused), with
    the default call's."""
    (model, names), = load(ROOT / "examples" / "two_layer.py")
    good = module_source(derive(model, names), workspace=True)
    inner = good.index("def _value_and_grad_in")
    line = "    dW2 = np.dot(dZ2, A1.T, out=_w5)\n"
    assert good.index(line, inner) > inner
    bad = good[:inner] + good[inner:].replace(line, line + "    dW2 *= 1.01\n", 1)
    certify(model, good)
    with pytest.raises(SymgradError, match="dW2 with a workspace disagrees"):
        certify(model, bad)
