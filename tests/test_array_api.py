"""`--target array-api` on real array libraries: array-api-strict (every example and benchmark
model, and random graphs, against the NumPy target), PyTorch CPU tensors and JAX arrays
(against their own autodiff of the module's loss, and under jax.jit), Dask arrays chunked
along the examples; each returns arrays of its own library. A library absent here is
skipped; .ci/run installs them all (pinned)."""
import importlib.util
import inspect
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings, strategies as st

import symgrad as sg
from symgrad.cli import main
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.dims import default_dims
from symgrad.errors import SymgradError
from symgrad.load import load
from symgrad.printing import runtime_array_api
from symgrad.testing import load_module, random_instance, relative_error

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "examples").glob("*.py")) + sorted((ROOT / "benchmarks/models").glob("*.py"))
FILES = [p for p in FILES if "sg.Model(" in p.read_text()]


REQUIRED = ("array_api_compat", "array_api_strict", "jax", "dask")    # .ci/run installs them


def needs(name):
    """Skip where the library is absent, unless SYMGRAD_REQUIRE_ARRAY_LIBS (CI) requires it."""
    required = os.environ.get("SYMGRAD_REQUIRE_ARRAY_LIBS") and name in REQUIRED
    return pytest.mark.skipif(not required and importlib.util.find_spec(name) is None,
                              reason=f"{name} is not installed")


def _modules(path):
    """[(model, array-API module, NumPy module)] for the models in a file."""
    out = []
    for model, names in load(path):
        d = derive(model, names)
        out.append((model, load_module(module_source(d, None, "array-api"), model.name),
                    load_module(module_source(d), model.name)))
    return out


def _instance(model, module, seed=0):
    dims = default_dims(model, seed=seed)
    values = random_instance(model, dims, seed)
    return dims, [values[n] for n in list(module.PARAMS) + list(module.INPUTS)]


def _agree(got, want, tol=1e-12):
    loss, grads = got
    ref_loss, ref_grads = want
    assert relative_error(loss, ref_loss, 1e-300) < tol
    assert len(grads) == len(ref_grads)
    for g, r in zip(grads, ref_grads):
        assert np.shape(g) == np.shape(r)
        assert relative_error(g, r, 1e-300) < tol


@pytest.fixture(scope="module")
def strict():
    import array_api_strict as xp
    xp.set_array_api_strict_flags(api_version="2024.12")     # the standard the target writes
    yield xp
    xp.reset_array_api_strict_flags()


@needs("array_api_strict")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_model_on_array_api_strict_matches_the_numpy_target(path, strict):
    for model, module, reference in _modules(path):
        _, args = _instance(model, module)
        theirs = [strict.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        loss, grads = module.value_and_grad(*theirs)
        array = type(strict.asarray(0.0))
        assert isinstance(loss, array) or not any(module.SHAPES.values())
        for p, g in zip(module.PARAMS, grads):
            assert isinstance(g, array) or module.SHAPES[p] == ()
        _agree((np.asarray(loss), [np.asarray(g) for g in grads]), reference.value_and_grad(*args))
        assert relative_error(np.asarray(module.loss(*theirs)), reference.loss(*args)) < 1e-12
        inputs = module.forward.__code__.co_varnames[:module.forward.__code__.co_argcount]
        out = module.forward(*[theirs[list(module.PARAMS + module.INPUTS).index(n)]
                               for n in inputs])
        ref = reference.forward(*[args[list(module.PARAMS + module.INPUTS).index(n)]
                                  for n in inputs])
        for k in ref:
            assert relative_error(np.asarray(out[k]), ref[k]) < 1e-12, k
        _second_order_agrees(module, reference, theirs, args, strict.asarray)


def _second_order_agrees(module, reference, theirs, args, asarray):
    """Each Jacobian (both orders) and the Hessian (and its vector products) agree."""
    for name in dir(reference):
        if name.startswith("jacobian_"):
            for mode in ("reverse", "forward"):
                got = getattr(module, name)(*theirs, mode=mode)
                assert type(got) is type(theirs[0])
                assert relative_error(np.asarray(got), getattr(reference, name)(
                    *args, mode=mode)) < 1e-12, (name, mode)
    if hasattr(reference, "hessian"):
        assert relative_error(np.asarray(module.hessian(*theirs)), reference.hessian(*args)) \
            < 1e-12
        v = [np.full(np.shape(a), 0.5) for a in args[:len(module.PARAMS)]]
        hv = module.hessian_vector_product(*theirs, *[asarray(x) for x in v])
        for got, ref in zip(hv, reference.hessian_vector_product(*args, *v)):
            assert relative_error(np.asarray(got), ref) < 1e-12


def test_the_module_imports_no_array_library():
    for path in FILES:
        for model, names in load(path):
            text = module_source(derive(model, names), None, "array-api")
            imports = [x for x in text.splitlines() if x.lstrip().startswith(("import ", "from "))]
            assert set(imports) <= {"import math", "import sys", "    from array_api_compat "
                                    "import array_namespace, device as compat_device, "
                                    "is_dask_array",
                                    "        import numpy"}, path      # numbers alone: NumPy's
            assert "np." not in text and "out=" not in text and "+=" not in text


def _two_layer():
    (model, module, reference), = _modules(ROOT / "examples" / "two_layer.py")
    return model, module, reference


@needs("torch")
@needs("array_api_compat")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_model_on_torch_matches_torch_autograd_and_numpy(path):
    import torch
    for model, module, reference in _modules(path):
        _, args = _instance(model, module)
        n = len(module.PARAMS)
        tensors = [torch.tensor(a, requires_grad=k < n, dtype=None if np.ndim(a) else
                                torch.float64) for k, a in enumerate(args)]
        loss, grads = module.value_and_grad(*tensors)
        assert type(loss) is torch.Tensor
        assert all(type(g) is torch.Tensor or module.SHAPES[p] == () and type(g) is float
                   for p, g in zip(module.PARAMS, grads))  # a constant scalar gradient
        module.loss(*tensors).backward()                  # torch's own gradient of the loss
        mine = (loss.item(), [torch.as_tensor(g).detach().numpy() for g in grads])
        _agree(mine, (loss.item(), [t.grad.numpy() for t in tensors[:n]]), 1e-10)
        _agree(mine, reference.value_and_grad(*args))
        _second_order_agrees(module, reference, [t.detach() for t in tensors], args,
                             torch.as_tensor)


@needs("torch")
@needs("array_api_compat")
def test_two_layer_keeps_float32_and_compiles_whole_under_torch_compile():
    import torch
    model, module, reference = _two_layer()
    _, args = _instance(model, module)
    small = [torch.tensor(a, dtype=torch.float32) for a in args]
    assert all(g.dtype == torch.float32 for g in module.value_and_grad(*small)[1])
    tensors = [torch.tensor(a) for a in args]
    compiled = torch.compile(module.value_and_grad, backend="aot_eager", fullgraph=True)
    loss, grads = compiled(*tensors)                   # fullgraph: no break, pure code
    _agree((loss.item(), [g.numpy() for g in grads]), reference.value_and_grad(*args))


@needs("jax")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_model_under_jax_jit_matches_jax_grad_and_numpy(path):
    import jax
    jax.config.update("jax_enable_x64", True)
    for model, module, reference in _modules(path):
        _, args = _instance(model, module)
        n = len(module.PARAMS)
        arrays = [jax.numpy.asarray(a) for a in args]
        loss, grads = jax.jit(module.value_and_grad)(*arrays)
        assert all(isinstance(x, jax.Array) for x in [loss, *grads])
        theirs = jax.jit(jax.grad(module.loss, argnums=tuple(range(n))))(*arrays)
        mine = (float(loss), [np.asarray(g) for g in grads])
        _agree(mine, (float(loss), [np.asarray(g) for g in theirs]), 1e-10)
        _agree(mine, reference.value_and_grad(*args))
        _second_order_agrees(module, reference, arrays, args, jax.numpy.asarray)


@needs("dask")
@needs("array_api_compat")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_model_on_dask_matches_numpy(path):
    import dask.array as da
    if path.stem == "cookbook":
        pytest.skip("array-api-compat's Dask namespace has no linalg.slogdet (log|det|)")
    for model, module, reference in _modules(path):
        _, args = _instance(model, module)
        lazy = [da.from_array(a, chunks=tuple((k + 1) // 2 for k in a.shape))   # every axis
                if isinstance(a, np.ndarray) and name in module.INPUTS else
                da.from_array(a) if isinstance(a, np.ndarray) else a
                for name, a in zip(module.PARAMS + module.INPUTS, args)]
        loss, grads = module.value_and_grad(*lazy)
        assert isinstance(loss, da.Array) or not any(module.SHAPES.values())
        assert all(isinstance(g, da.Array) or module.SHAPES[p] == ()
                   for p, g in zip(module.PARAMS, grads))
        _agree((np.asarray(loss), [np.asarray(g) for g in grads]),
               reference.value_and_grad(*args))


@needs("dask")
def test_two_layer_on_dask_chunked_along_the_examples_matches_numpy():
    import dask.array as da
    model, module, reference = _two_layer()
    dims = {"n_x": 3, "n_h": 4, "m": 40}
    values = random_instance(model, dims, 0)
    args = [values[n] for n in list(module.PARAMS) + list(module.INPUTS)]
    lazy = [da.from_array(a, chunks=(a.shape[0], 10)) if n in module.INPUTS else da.from_array(a)
            for n, a in zip(module.PARAMS + module.INPUTS, args)]
    loss, grads = module.value_and_grad(*lazy)
    assert all(isinstance(x, da.Array) for x in [loss, *grads])
    _agree((float(loss.compute()), [g.compute() for g in grads]), reference.value_and_grad(*args))
    unknown = lazy[4][:, lazy[4][0] > 0.5]               # chunks of unknown size
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        module.forward(*lazy[:4], unknown)


@needs("array_api_strict")
def test_labels_are_compared_not_indexed(strict):
    (model, module, reference), = _modules(ROOT / "examples" / "cs231n_softmax.py")
    _, args = _instance(model, module)
    y = list(module.INPUTS).index("y") + len(module.PARAMS)
    theirs = [strict.asarray(a) for a in args]
    _agree(tuple(module.value_and_grad(*theirs)), reference.value_and_grad(*args))
    theirs[y] = strict.asarray(np.full_like(args[y], 99))
    with pytest.raises(ValueError, match="not a class index"):
        module.loss(*theirs)


@pytest.mark.parametrize("torch", [None, types.SimpleNamespace()], ids=["none", "no compiler"])
def test_labels_are_checked_whatever_torch_is_imported(monkeypatch, torch):
    # the check asks torch.compiler.is_compiling() of an imported torch: an older torch has
    # no is_compiling, and an AttributeError would end every call
    monkeypatch.setitem(sys.modules, "torch", torch)
    with pytest.raises(ValueError, match="not a class index"):
        runtime_array_api._check_labels(np.array([[0, 5]]), "y", 3)


def test_without_array_api_compat_a_tensor_is_refused_naming_the_fix(monkeypatch):
    monkeypatch.setattr(runtime_array_api, "array_namespace", None)

    class Tensor:                                     # no __array_namespace__, as torch's
        shape = (1, 1)
    with pytest.raises(TypeError, match="pip install array-api-compat"):
        runtime_array_api._namespace(Tensor())
    assert runtime_array_api._namespace(np.ones(2), 1.0, None) is np


def test_unsupported_combinations_are_one_line_errors(tmp_path, capsys):
    two_layer, gelu = str(ROOT / "examples/two_layer.py"), tmp_path / "gelu.py"
    gelu.write_text("import sympy as sp\nimport symgrad as sg\nn, m = sp.symbols('n m', "
                    "integer=True, positive=True)\nX, w = sg.Input('X', n, m), sg.Param('w', 1, n)"
                    "\nmodel = sg.Model('g', sg.mean(sg.gelu(w @ X)), [w], [X])\n")
    out = tmp_path / "out"
    for argv, message in [
            (["--target", "array-api", "--style", "fast", two_layer],
             "--style fast is not available"),
            (["--target", "cuda", two_layer], "unknown target 'cuda'"),
            (["--target", "array-api", str(gelu)], "cannot emit erf (the exact GELU)")]:
        assert main(["derive", *argv, "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert not out.exists()
    assert main(["derive", "--target", "array-api", two_layer, "-o", str(out)]) == 0
    assert "xp = _namespace(" in (out / "two_layer.py").read_text()
    assert main(["derive", "--target", "array-api", two_layer, "-o", str(out), "--check"]) == 0


def test_sg_compile_takes_the_target():
    n, m = sp.symbols("n m", integer=True, positive=True)
    X, w = sg.Input("X", n, m), sg.Param("w", 1, n)
    model = sg.Model("tiny", loss=sg.mean(sg.relu(w @ X)), params=[w], inputs=[X])
    module = sg.compile(model, target="array-api")
    assert "xp.astype(t1 > 0, " in inspect.getsource(module)   # the ReLU mask times 1/m
    if importlib.util.find_spec("array_api_strict"):     # which refuses a float * a bool
        import array_api_strict as xp
        rng = np.random.default_rng(1)
        w0, X0 = rng.standard_normal((1, 3)), rng.standard_normal((3, 5))
        _, (dw,) = module.value_and_grad(xp.asarray(w0), xp.asarray(X0))
        assert relative_error(np.asarray(dw), (X0 @ (w0 @ X0 > 0).T).T / 5) < 1e-14
    with pytest.raises(SymgradError, match="unknown target"):
        sg.compile(model, target="torch")


# ---- random graphs (tests/test_properties.py's generator) against the NumPy target ------
@needs("array_api_strict")
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.data())
def test_random_graphs_on_array_api_strict_match_the_numpy_target(strict, data):
    from test_properties import DIMS, Builder
    xp = strict
    builder = Builder(data)
    shape = (data.draw(st.sampled_from(DIMS)), data.draw(st.sampled_from(DIMS)))
    loss = builder.loss(builder.draw(shape, depth=data.draw(st.integers(1, 3))), shape)
    if not builder.params:
        builder.leaf(shape, "param")
    d = derive(sg.Model("random_graph", loss, builder.params, builder.inputs))
    module = load_module(module_source(d, None, "array-api"))
    reference = load_module(module_source(d))
    dims = {k: data.draw(st.integers(1, 3)) for k in DIMS}
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    args = [rng.uniform(-1, 1, tuple(int(sp.sympify(s).subs(dims)) for s in sym.shape))
            for sym in builder.params + builder.inputs]
    got = module.value_and_grad(*[xp.asarray(a) for a in args])
    assert all(isinstance(g, type(xp.asarray(0.0))) for g in got[1])
    _agree((np.asarray(got[0]), [np.asarray(g) for g in got[1]]), reference.value_and_grad(*args),
           1e-10)


def test_the_gpu_script_says_so_where_no_gpu_exists_and_checks_where_one_does(monkeypatch, capsys):
    import importlib
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    gpu = importlib.import_module("gpu_array_api")
    found, missing = gpu.devices()
    if not found:
        assert gpu.main() == 0 and "no GPU here" in capsys.readouterr().out
    # the checks themselves, with NumPy standing in for a device
    monkeypatch.setattr(gpu, "devices", lambda: ([("numpy", np.asarray, np.asarray,
                                                   np.ndarray)], []))
    assert gpu.main() == 0
    assert capsys.readouterr().out.count(" ok\n") == len(gpu.MODELS)


def test_a_function_outside_the_standard_is_refused_not_written():
    n = sp.Symbol("n", integer=True, positive=True)
    W = sg.Param("W", 1, n)
    d = derive(sg.Model("bad", sg.sum(W.applyfunc(sp.gamma)), [W]))
    with pytest.raises(SymgradError, match="cannot emit gamma, which the array API standard "
                       "lacks"):
        module_source(d, None, "array-api")


@needs("torch")
@needs("array_api_compat")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_model_compiles_whole_under_torch_compile(path):
    """torch.compile(fullgraph=True) traces every model's value_and_grad without a graph
    break: no Python number beside a tensor in maximum, where or logaddexp (array-api-compat
    then calls torch.result_type, which Dynamo refuses; the ReLU models failed so). Integer
    labels are checked against the number of classes at run time, a data-dependent branch
    that no whole-graph compiler traces: those models are left out."""
    import torch
    torch._dynamo.config.recompile_limit = 64
    for model, module, reference in _modules(path):
        if getattr(module, "LABELS", None):
            continue
        _, args = _instance(model, module)
        compiled = torch.compile(module.value_and_grad, backend="eager", fullgraph=True)
        loss, grads = compiled(*[torch.tensor(a, dtype=torch.float64) for a in args])
        _agree((float(loss), [torch.as_tensor(g).numpy() for g in grads]),
               reference.value_and_grad(*args))


@needs("array_api_strict")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_sigmoid_never_overflows_and_keeps_its_relative_accuracy(dtype):
    # 1/(1 + exp(-x)) warned of an overflow in exp below -709 (NumPy); expected: mpmath
    import warnings

    import array_api_strict as xp
    import mpmath
    mpmath.mp.dps = 40
    values = [-1000.0, -700.0, -80.0, -30.0, -1.0, 0.0, 1e-3, 2.0, 40.0, 1000.0]
    exact = np.array([float(1 / (1 + mpmath.exp(-mpmath.mpf(v)))) for v in values])
    tiny = np.finfo(dtype).tiny
    for x in (np.array(values, dtype), xp.asarray(values, dtype=getattr(xp, dtype))):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = np.asarray(runtime_array_api._sigmoid(x), dtype=np.float64)
        want = exact.astype(dtype).astype(np.float64)         # the exact value, rounded
        keep = want > 1000 * tiny                             # not subnormal
        assert np.all(np.abs(got - want)[keep] <= 2 * np.finfo(dtype).eps * want[keep])
        assert np.all(got[~keep] <= 1000 * tiny)


def _scalar_exp():
    m = sp.Symbol("m", integer=True, positive=True)
    X, s = sg.Input("X", 1, m), sg.Param("s")
    return derive(sg.Model("scalar_exp", sg.sum(X) * sg.exp(s), [s], [X]))


@needs("torch")
@needs("array_api_compat")
@needs("jax")
def test_a_python_number_takes_the_arrays_library_and_dtype():
    # d/ds sum(X) exp(s) = sum(X) exp(s) (hand-derived): 6 e^0.5. xp.exp(0.5) raised a
    # TypeError on PyTorch; np.exp(0.5) made float32 arguments' results float64
    import jax
    import torch
    module = load_module(module_source(_scalar_exp(), None, "array-api"), "scalar_exp")
    numpy_module = load_module(module_source(_scalar_exp()), "scalar_exp")
    want = 6 * np.exp(0.5)
    x, vag = [[1.0, 2.0, 3.0]], module.value_and_grad
    for f, X, dtype, kind in [
            (vag, torch.tensor(x, dtype=torch.float64), torch.float64, torch.Tensor),
            (vag, torch.tensor(x, dtype=torch.float32), torch.float32, torch.Tensor),
            (jax.jit(module.value_and_grad), jax.numpy.asarray(x, dtype="float32"), np.float32,
             jax.Array),
            (vag, np.array(x, np.float32), np.float32, np.generic),
            (numpy_module.value_and_grad, np.array(x, np.float32), np.float32, np.generic),
            (numpy_module.value_and_grad, np.array(x), np.float64, np.generic)]:
        loss, (ds,) = f(0.5, X)
        for value in (loss, ds):
            assert isinstance(value, kind) and value.dtype == dtype, (type(value), value.dtype)
            assert abs(float(value) / want - 1) < (4e-7 if "32" in str(dtype) else 1e-15)


@needs("torch")
@needs("array_api_compat")
@needs("array_api_strict")
def test_constant_branches_of_a_where_take_the_arrays_dtype(strict):
    # d mean(maximum(W X, X))/dW = (mask/(m n)) X^T and d sum(where(Z > 0, Z, Z/100))/m / dW
    # = (where(Z > 0, 1, 1/100)/m) X^T (hand-derived): where(c, 1/m, 0/100/m) of two
    # Python numbers was a float64 array (NumPy), a TypeError (array-api-strict), float32
    # (PyTorch's where, then a matmul of mixed dtypes)
    import torch
    n, m = sp.symbols("n m", integer=True, positive=True)
    X, W = sg.Input("X", n, m), sg.Param("W", n, n)
    Z = W @ X
    where = sg.where(sg.greater(Z, 0), Z, Z / 100)
    many = where + sg.abs(Z) + sg.sqrt(1 + Z**2) + sg.maximum(Z, X) + sg.sin(Z) * sg.cos(Z)
    losses = {"maximum": sg.mean(sg.maximum(Z, X)), "where": sg.sum(where) / m,
              "1/m a statement": sg.sum(many) / m + sg.norm(W)}      # where(c, t6, t6/100)
    rng = np.random.default_rng(3)
    w, x = rng.standard_normal((3, 3)), rng.uniform(0.05, 0.95, (3, 5))
    z = w @ x
    step = np.where(z > 0, 1, 1 / 100)
    dmany = step + np.sign(z) + z / np.sqrt(1 + z**2) + (z >= x) + np.cos(z)**2 - np.sin(z)**2
    want = {"maximum": ((z >= x) / 15) @ x.T, "where": (step / 5) @ x.T,
            "1/m a statement": w / np.linalg.norm(w) + (dmany / 5) @ x.T}
    for name, loss in losses.items():
        d = derive(sg.Model("branches", loss, [W], [X]))
        for style, target, asarray, dtype in [
                ("fast", "numpy", np.asarray, np.float32), ("plain", "numpy", np.asarray, None),
                (None, "array-api", np.asarray, np.float32),
                (None, "array-api", strict.asarray, None), (None, "array-api", torch.tensor, None)]:
            module = load_module(module_source(d, style, target), "branches")
            args = [asarray(a.astype(dtype or np.float64)) for a in (w, x)]
            _, (dw,) = module.value_and_grad(*args)
            assert dw.dtype == args[0].dtype, (name, target, asarray, dw.dtype)
            got = np.asarray(dw.numpy() if hasattr(dw, "numpy") else np.from_dlpack(dw))
            np.testing.assert_allclose(got, want[name], rtol=1e-6 if dtype else 1e-13, err_msg=name)


@needs("torch")
@needs("array_api_compat")
@pytest.mark.parametrize("path", [ROOT / "examples" / "cs231n_softmax.py", "log_cosh"],
                         ids=["labels", "log_cosh"])
def test_labels_and_helpers_compile_whole_under_torch_compile(path):
    # the labels' range check asked bool() of a traced tensor, and _logcosh, _xlogx and the
    # labels' pick passed a Python number beside a tensor: each a break of the graph
    import torch
    if path == "log_cosh":
        n, m = sp.symbols("n m", integer=True, positive=True)
        X, Y, W = sg.Input("X", n, m), sg.Input("Y", n, m), sg.Param("W", n, n)
        models = [(sg.Model("logcosh", sg.log_cosh(W @ X, Y), [W], [X, Y]), None)]
    else:
        models = load(path)
    for model, names in models:
        d = derive(model, names)
        module = load_module(module_source(d, None, "array-api"), model.name)
        reference = load_module(module_source(d), model.name)
        _, args = _instance(model, module)
        tensors = [torch.tensor(a) for a in args]
        compiled = torch.compile(module.value_and_grad, backend="eager", fullgraph=True)
        loss, grads = compiled(*tensors)
        _agree((loss.item(), [g.numpy() for g in grads]), reference.value_and_grad(*args))


@needs("torch")
@needs("array_api_compat")
def test_a_broadcast_gradient_is_returned_as_an_array_of_its_own():
    # d sum(W X)/dW has every row sum(X, axis=1)^T (hand-derived): it came back as
    # xp.broadcast_to(...), read-only in NumPy and one memory location for many in PyTorch,
    # so in-place updates (clipping, an optimizer's) failed
    import torch
    n, m = sp.symbols("n m", integer=True, positive=True)
    X, W, u = sg.Input("X", n, m), sg.Param("W", n, n), sg.Param("u", n, 1)
    model = sg.Model("linear", sg.sum(W @ X) + sg.sum(u), [W, u], [X])
    module = load_module(module_source(derive(model), None, "array-api"), "linear")
    rng = np.random.default_rng(0)
    w, v, x = rng.standard_normal((3, 3)), rng.standard_normal((3, 1)), rng.standard_normal((3, 4))
    want = np.broadcast_to(x.sum(axis=1), (3, 3))
    _, (dw, du) = module.value_and_grad(w, v, x)
    assert dw.flags.writeable and du.flags.writeable
    np.testing.assert_allclose(dw, want, rtol=1e-15)
    _, (dw, du) = module.value_and_grad(*(torch.tensor(a) for a in (w, v, x)))
    dw.mul_(0.5)
    du.mul_(0.5)
    np.testing.assert_allclose(dw.numpy(), want / 2, rtol=1e-15)


@needs("torch")
@needs("array_api_compat")
@needs("array_api_strict")
def test_arguments_of_two_libraries_are_refused_where_the_code_needs_no_namespace(strict):
    # forward(W, u, X, v) = (u v) sigmoid(W X) calls no xp. function: torch parameters with
    # NumPy inputs came back a torch tensor, array-api-strict ones a NumPy array
    import torch
    n, m = sp.symbols("n m", integer=True, positive=True)
    X, v = sg.Input("X", n, m), sg.Input("v", 1, m)
    W, u = sg.Param("W", n, n), sg.Param("u", n, 1)
    Z = (u @ v) * sg.sigmoid(W @ X)
    model = sg.Model("mixed", sg.sum(Z), [W, u], [X, v], outputs={"Z": Z})
    module = load_module(module_source(derive(model), None, "array-api"), "mixed")
    rng = np.random.default_rng(0)
    w, b, x, r = (rng.standard_normal(s) for s in [(3, 3), (3, 1), (3, 4), (1, 4)])
    assert isinstance(module.forward(*(torch.tensor(a) for a in (w, b, x, r)))["Z"], torch.Tensor)
    for asarray in (torch.tensor, strict.asarray):
        with pytest.raises(TypeError):
            module.forward(asarray(w), asarray(b), x, r)


def test_a_numpy_scalar_inside_the_code_takes_numpy():
    # np.sum of a NumPy array is an np.float64, a Python float: sigmoid and softplus of it
    # found no array to take the namespace from (TypeError); the NumPy target is the reference
    n, m = sp.symbols("n m", integer=True, positive=True)
    X, W = sg.Input("X", n, m), sg.Param("W", 1, n)
    s = sg.sum(W @ X)
    d = derive(sg.Model("sig_of_sum", sg.softplus(s) + sg.sigmoid(s), [W], [X]))
    module = load_module(module_source(d, None, "array-api"), "sig_of_sum")
    reference = load_module(module_source(d), "sig_of_sum")
    rng = np.random.default_rng(0)
    w, x = rng.standard_normal((1, 3)), rng.standard_normal((3, 4))
    _agree(module.value_and_grad(w, x), reference.value_and_grad(w, x))
    for f in (runtime_array_api._sigmoid, runtime_array_api._softplus):
        assert abs(f(np.float64(0.5)) - f(np.asarray(0.5))) == 0


@needs("torch")
@needs("array_api_compat")
@needs("array_api_strict")
def test_a_model_of_scalars_runs_on_python_floats_and_0d_arrays(strict):
    # every parameter a scalar: Python floats found no array for the namespace (TypeError),
    # and 0-d arrays' Hessian asked the device of None; the NumPy target is the reference
    import torch
    a, b, c = sg.Param("a"), sg.Param("b"), sg.Param("c")
    loss = sg.exp(a) * b + sp.log(1 + c**2) + sg.sigmoid(a * c) + sg.tanh(b) + 3
    d = derive(sg.Model("scalars", loss, [a, b, c], hessian=True))
    module = load_module(module_source(d, None, "array-api"), "scalars")
    reference = load_module(module_source(d), "scalars")
    values = (0.5, 0.2, 0.1)
    want = reference.value_and_grad(*values)
    for asarray, kind in [(float, float), (lambda v: torch.tensor(v, dtype=torch.float64),
                                           torch.Tensor),
                          (strict.asarray, type(strict.asarray(0.0)))]:
        args = [asarray(v) for v in values]
        loss, grads = module.value_and_grad(*args)
        assert isinstance(loss, kind) and all(isinstance(g, kind) for g in grads), asarray
        _agree((float(loss), [float(g) for g in grads]), want)
        assert relative_error(float(module.loss(*args)), want[0], 1e-300) < 1e-12
        hessian = np.asarray(module.hessian(*args))
        np.testing.assert_allclose(hessian, reference.hessian(*values), rtol=1e-12, atol=1e-15)


@needs("torch")
@needs("array_api_compat")
def test_a_constant_gradient_of_a_scalar_takes_its_parameters_library_and_dtype():
    # graph.py's J = 3 (a + b c) has dJ/da = 3, a constant: it came back float(3), a float64
    # Python float beside float32 tensors; the NumPy target gives type(a)(3)
    import torch
    (model, module, reference), = _modules(ROOT / "examples" / "graph.py")
    values = (0.5, 0.2, 0.1)
    for asarray, kind, dtype in [(float, float, None), (torch.tensor, torch.Tensor, torch.float32),
                                 (np.float32, np.ndarray, np.float32)]:
        args = [asarray(v) for v in values]
        _, grads = module.value_and_grad(*args)
        _, want = reference.value_and_grad(*(np.float32(v) if dtype else v for v in values))
        _agree((0.0, [float(g) for g in grads]), (0.0, want), 1e-7 if dtype else 1e-15)
        assert isinstance(grads[0], kind) and getattr(grads[0], "dtype", None) == dtype
        assert all(getattr(g, "dtype", None) == dtype for g in grads), asarray
        assert [getattr(w, "dtype", None) for w in want] == [np.float32 if dtype else None] * 3


@needs("torch")
@needs("array_api_compat")
def test_a_boolean_mask_takes_the_float_arrays_dtype_in_both_targets():
    # float32 tensors with a boolean dropout mask: the mask became float64 and torch's @
    # refused float32 @ float64 (NumPy promoted the results to float64 instead); the
    # reference is the NumPy target in float64, its mask given as floats
    import torch
    (model, module, reference), = _modules(ROOT / "examples" / "dropout.py")
    _, args = _instance(model, module)
    mask = list(module.INPUTS).index("D1") + len(module.PARAMS)
    args[mask] = args[mask] > 0.5
    want = reference.value_and_grad(*[a.astype(np.float64) for a in args])
    f32 = [a if a.dtype == bool else a.astype(np.float32) for a in args]
    for f, theirs, kind in [(module.value_and_grad, [torch.tensor(a) for a in f32], torch.float32),
                            (module.value_and_grad, f32, np.float32),
                            (reference.value_and_grad, f32, np.float32)]:
        loss, grads = f(*theirs)
        assert [loss.dtype] + [g.dtype for g in grads] == [kind] * (1 + len(grads)), f
        got = [np.asarray(x) for x in (loss, *grads)]
        _agree((got[0], got[1:]), want, 1e-5)
    ints = [np.ones((2, 2), dtype=int), np.full((2, 1), True)]         # no float arrays
    for m in (module, reference):
        assert [a.dtype for a in m._arrays(ints, ["X", "b1"], m.SHAPES)] == [np.float64] * 2


@needs("dask")
@needs("array_api_compat")
def test_dask_labels_stay_lazy():
    # the labels' range check called bool() of a Dask array, a compute inside
    # value_and_grad; the reference is the NumPy target on the computed arrays
    import dask
    import dask.array as da
    (model, module, reference), = _modules(ROOT / "examples" / "cs231n_softmax.py")
    _, args = _instance(model, module)
    theirs = [da.from_array(a, chunks=max(1, a.shape[0] // 2)) for a in args]

    class Computes(dask.callbacks.Callback):
        def _start(self, dsk):
            raise AssertionError("a Dask graph was computed inside the module")
    with Computes():
        loss, grads = module.value_and_grad(*theirs)
    assert all(isinstance(x, da.Array) for x in (loss, *grads))
    _agree((loss.compute(), [g.compute() for g in grads]), reference.value_and_grad(*args))


@needs("dask")
@needs("array_api_compat")
def test_an_inverse_keeps_float32_on_dask():
    # Dask's linalg.inv of float32 is float64: cookbook's covariance, inv(L L^T), came back
    # float64 (its loss needs slogdet, which Dask lacks); the NumPy target in float32 is the
    # reference
    import dask.array as da
    (model, module, reference), = _modules(ROOT / "examples" / "cookbook.py")
    _, args = _instance(model, module)
    f32 = [a.astype(np.float32) for a in args[:len(inspect.signature(module.forward).parameters)]]
    got, want = module.forward(*map(da.from_array, f32)), reference.forward(*f32)
    for g, w in zip(got.values(), want.values(), strict=True):
        assert g.dtype == np.float32, g.dtype
        np.testing.assert_allclose(g.compute(), w, rtol=1e-4, atol=1e-5)


@needs("torch")
@needs("array_api_compat")
def test_arguments_that_are_not_arrays_of_one_library_are_refused_by_name():
    # X=None gave AttributeError: 'NoneType' object has no attribute 'shape', a list
    # "list is not a supported array type", torch beside NumPy array-api-compat's many lines
    # of "Multiple namespaces"
    import torch
    model, module, _ = _two_layer()
    _, args = _instance(model, module)
    x = list(module.PARAMS + module.INPUTS).index("X")
    fix = "pass an array of the other arguments' library (xp.asarray(X))"
    for value, message in [(None, f"X must be an array, not None: {fix}"),
                           (args[x].tolist(), f"X must be an array, not a list: {fix}"),
                           (torch.tensor(args[x]), "X is a torch array, W1 a numpy one: pass "
                            "arrays of one library")]:
        for f in (module.loss, module.value_and_grad, module.forward):
            n = len(inspect.signature(f).parameters)
            with pytest.raises(TypeError) as caught:
                f(*[*args[:x], value, *args[x + 1:]][:n])
            assert str(caught.value) == message
    (model, module, _), = _modules(ROOT / "examples" / "cs231n_softmax.py")
    _, args = _instance(model, module)
    with pytest.raises(TypeError, match=r"^the arguments come from several array libraries "
                       r"\(numpy, torch\): pass arrays of one library$"):
        module.loss(*[torch.tensor(a) for a in args[:-1]], args[-1])     # NumPy labels
    with pytest.raises(TypeError, match=r"^y must be an array, not None"):
        module.loss(*args[:-1], None)
