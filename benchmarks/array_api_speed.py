"""The --target array-api modules' speed (issue 17, item 4), one thread, beside the NumPy target
and the libraries' own autograd of the same model.

    python benchmarks/array_api_speed.py                 # M1-M5, float64 and float32
    python benchmarks/array_api_speed.py --models m2,m4 --quick

For each model and dtype, after a check that every implementation agrees with the NumPy
target's loss and gradients:
- NumPy: the NumPy target (the default, fast style), the array-API module on NumPy arrays
  (the namespace's overhead), and the two NumPy references (benchmarks/textbook.py, tuned.py);
- PyTorch eager: the array-API module on tensors, against torch.autograd of the same model
  (benchmarks/peers.py, the harness's model code);
- torch.compile: the array-API module's value_and_grad compiled whole (fullgraph), against
  torch.compile of the loss then torch.autograd;
- jax.jit: jax.jit of the array-API module's value_and_grad, against
  jax.jit(jax.value_and_grad(loss)).
Times are medians of paired ratios over rounds (benchmarks/measure.py): thread CPU time for
NumPy and PyTorch at one thread, process CPU time for XLA (its own threads, pinned to one).
Writes benchmarks/RESULTS-array-api.md with the machine and issue 17's criteria: under
jax.jit and torch.compile within 1.05x of the library's own autograd on every model; the
fastest target at or below 0.85x of hand NumPy (the tuned reference) on M3 and M5.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import session

HERE = Path(__file__).resolve().parent


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated, e.g. m1,m4 (default: all)")
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke test")
    parser.add_argument("--out", default=str(HERE / "RESULTS-array-api.md"))
    return parser.parse_args(argv)


if __name__ == "__main__":
    ARGS = parse_args()
    session.pin_threads(1)                   # before NumPy, PyTorch or JAX is imported
    warnings.filterwarnings("ignore", module=r"torch\..*")  # Dynamo's notes on array-api-compat

import numpy as np  # noqa: E402

import derive  # noqa: E402
import machine  # noqa: E402
import measure  # noqa: E402
import peers  # noqa: E402
import references  # noqa: E402

OUT_DIR = HERE / "generated-array-api"
NUMPY_TARGET, ON_NUMPY = "NumPy target", "array-API on NumPy"
EAGER, EAGER_OWN = "array-API on PyTorch", "torch.autograd"
COMPILED, COMPILED_OWN = "array-API, torch.compile", "torch.compile + autograd"
JITTED, JITTED_OWN = "array-API, jax.jit", "jax.jit(value_and_grad)"


def _modules(spec):
    """(NumPy target module, array-API module) of spec's model file, derived afresh."""
    model = HERE / "models" / f"{spec.name}.py"
    out = {}
    for target in ("numpy", "array-api"):
        folder = OUT_DIR / target
        folder.mkdir(parents=True, exist_ok=True)
        done = derive._run([*derive._command(), "derive", str(model), "-o", str(folder),
                            "--force", "--target", target], 600)
        if not done.ok:
            sys.exit(f"symgrad derive --target {target} {model} failed: {done.message}")
        out[target] = derive.load_module(folder / f"{spec.name}.py")
    return out["numpy"], out["array-api"]


def _torch_impls(spec, module):
    import torch

    torch.set_num_threads(1)
    torch._dynamo.config.recompile_limit = 64      # one compiled function per model and dtype
    compiled = torch.compile(module.value_and_grad, fullgraph=True)

    def prepare(args):
        return tuple(torch.from_numpy(np.array(a)) for a in args)

    def back(out):
        return float(out[0]), tuple(np.asarray(g) for g in out[1])

    eager = references.Impl(prepare, module.value_and_grad, back, runtime="PyTorch")
    whole = references.Impl(prepare, compiled, back, runtime="torch.compile")
    own = peers._torch(spec)
    own_compiled = dataclasses.replace(peers._torch(spec, compiled=True), runtime="torch.compile")
    return {EAGER: eager, EAGER_OWN: own, COMPILED: whole, COMPILED_OWN: own_compiled}


def _jax_impls(spec, module):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)              # float64 stays float64
    f = jax.jit(module.value_and_grad)
    mine = references.Impl(prepare=lambda args: tuple(jnp.asarray(a) for a in args),
                           call=lambda *args: jax.block_until_ready(f(*args)),
                           to_numpy=lambda out: (float(out[0]),
                                                 tuple(np.asarray(g) for g in out[1])),
                           runtime="JAX", clock="process")
    return {JITTED: mine, JITTED_OWN: peers._jax(spec)}


def measure_model(spec, dtype, repeats):
    numpy_module, api_module = _modules(spec)
    impls = {NUMPY_TARGET: references.numpy_impl(numpy_module.value_and_grad),
             ON_NUMPY: references.numpy_impl(api_module.value_and_grad)}
    impls.update(references.numpy_references(spec))
    impls.update(_torch_impls(spec, api_module))
    impls.update(_jax_impls(spec, api_module))
    data = references.make_data(spec, dtype)
    calls, results = {}, {}
    for name, impl in impls.items():
        args = impl.prepare(data)
        calls[name] = (lambda impl=impl, args=args: impl.call(*args))
        results[name] = impl.to_numpy(calls[name]())
    measure.check_agreement(results, [NUMPY_TARGET], spec.params,
                            measure.TOLERANCE[np.dtype(dtype)])
    groups = {}
    for name, impl in impls.items():
        groups.setdefault(impl.runtime, []).append(name)
    timing = measure.time_samples(calls, list(groups.values()),
                                  {n: i.clock for n, i in impls.items()}, repeats=repeats,
                                  min_sample_s=0.02 if repeats > 6 else 0.01)
    return timing


PAIRS = [(ON_NUMPY, NUMPY_TARGET), (EAGER, EAGER_OWN), (COMPILED, COMPILED_OWN),
         (JITTED, JITTED_OWN), (NUMPY_TARGET, references.TUNED)]


def main(args) -> int:
    chosen = session.select(args.models, references.MODELS)
    repeats = 6 if args.quick else 15
    load = os.getloadavg()[0]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows, criteria = [], {"jit": [], "compile": [], "fastest": []}
    for name in chosen:
        spec = references.MODELS[name]
        for dtype in (np.float64, np.float32):
            timing = measure_model(spec, dtype, repeats)
            seconds = timing.seconds
            ratio = {a: statistics.median(timing.ratios(a, b)) for a, b in PAIRS}
            rows.append((name, np.dtype(dtype).name, seconds, ratio))
            criteria["jit"].append((name, dtype, ratio[JITTED]))
            criteria["compile"].append((name, dtype, ratio[COMPILED]))
            if name.startswith(("m3", "m5")):
                best = min(seconds[k] for k in (NUMPY_TARGET, ON_NUMPY, EAGER, COMPILED,
                                                 JITTED))
                criteria["fastest"].append((name, dtype, best / seconds[references.TUNED]))
            print(f"{name} {np.dtype(dtype).name}: " + ", ".join(
                f"{a} {ratio[a]:.3f}x {b}" for a, b in PAIRS), flush=True)
    _write(args.out, rows, criteria, started, load, os.getloadavg()[0])
    print(f"wrote {args.out}")
    return 0


def _write(path, rows, criteria, started, load_before, load_after):
    names = [NUMPY_TARGET, ON_NUMPY, references.TEXTBOOK, references.TUNED, EAGER, EAGER_OWN,
             COMPILED, COMPILED_OWN, JITTED, JITTED_OWN]
    lines = [f"# The array-API target's speed\n\nWritten by `python benchmarks/array_api_speed.py` "
             f"on {started}. One thread (OMP/MKL/OPENBLAS_NUM_THREADS=1, XLA pinned to one).",
             "", "## Machine", "", "|  |  |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in machine.facts({}).items()]
    lines += [f"| load average (1 min) | {load_before:.2f} before, {load_after:.2f} after |", "",
              "## Median ms per call", "", "| model | dtype | " + " | ".join(names) + " |",
              "|---|---|" + "---|" * len(names)]
    for name, dtype, seconds, _ in rows:
        lines.append(f"| {name} | {dtype} | " + " | ".join(
            f"{seconds[n] * 1e3:.3g}" for n in names) + " |")
    lines += ["", "## Ratios (median of paired samples)", "",
              "| model | dtype | " + " | ".join(f"{a} / {b}" for a, b in PAIRS) + " |",
              "|---|---|" + "---|" * len(PAIRS)]
    for name, dtype, _, ratio in rows:
        lines.append(f"| {name} | {dtype} | " + " | ".join(f"{ratio[a]:.3f}" for a, _ in PAIRS)
                     + " |")
    worst_jit = max(criteria["jit"], key=lambda c: c[2])
    worst_compile = max(criteria["compile"], key=lambda c: c[2])
    lines += ["", "## Issue 17's criteria (this run)", "", "| criterion | measured | result |",
              "|---|---|---|",
              f"| jax.jit within 1.05x of jax.jit(value_and_grad), every model | worst "
              f"{worst_jit[2]:.3f} ({worst_jit[0]} {np.dtype(worst_jit[1]).name}) | "
              f"{'pass' if worst_jit[2] <= 1.05 else '**FAIL**'} |",
              f"| torch.compile within 1.05x of torch.compile + autograd, every model | worst "
              f"{worst_compile[2]:.3f} ({worst_compile[0]} "
              f"{np.dtype(worst_compile[1]).name}) | "
              f"{'pass' if worst_compile[2] <= 1.05 else '**FAIL**'} |"]
    for name, dtype, r in criteria["fastest"]:
        lines.append(f"| fastest target <= 0.85x tuned NumPy, {name} {np.dtype(dtype).name} | "
                     f"{r:.3f} | {'pass' if r <= 0.85 else '**FAIL**'} |")
    Path(path).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main(ARGS))
