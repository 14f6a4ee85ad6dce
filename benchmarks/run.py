"""Benchmark symgrad's generated value_and_grad against hand NumPy, PyTorch, JAX and autograd.

    python benchmarks/run.py               # full run, writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick       # smoke test, writes benchmarks/RESULTS-quick.md
    python benchmarks/run.py --models m1,m4 --no-scale

Derives benchmarks/models/*.py into benchmarks/generated/ with `symgrad derive` (when
symgrad is missing or fails, the other implementations are still measured). For each
model and dtype it first checks that every implementation agrees on the loss and all
gradients (and stops if not), then times them, measures peak memory of the NumPy ones
and checks output dtypes. Reference libraries that are not installed are skipped.
"""
from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke test")
    parser.add_argument("--models", default="", help="comma-separated, e.g. m1,m4 (default: all)")
    parser.add_argument("--no-scale", action="store_true", help="skip the derivation-scale section")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads for every library (default 2, this machine's cores)")
    return parser.parse_args(argv)


def _pin_threads(n: int) -> None:
    """Set BLAS/OpenMP/XLA thread counts; only effective before the libraries are imported.

    PyTorch also gets torch.set_num_threads(n) when loaded. XLA cannot be given n > 1
    threads; it sizes its pool to the machine's cores (2 here, the default n).
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    if n == 1:
        os.environ["XLA_FLAGS"] = ("--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


ARGS = parse_args(None if __name__ == "__main__" else [])
_pin_threads(ARGS.threads)  # before NumPy, PyTorch or JAX is imported

import functools  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import derive  # noqa: E402
import measure  # noqa: E402
import references  # noqa: E402
import report  # noqa: E402
import scale  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS_DIR, GENERATED_DIR = HERE / "models", HERE / "generated"
DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


@dataclass(frozen=True)
class Settings:
    repeats: int  # timing samples per implementation
    min_sample_s: float  # shortest duration of one timing sample
    pause_s: float  # idle time before each implementation's block of samples
    depths: tuple[int, ...]  # MLP depths for the derivation-scale section
    expansion: tuple[int, int, int]  # width, depth, m of the SymPy scalar expansion
    output: str  # file written in benchmarks/


FULL = Settings(25, 0.02, 0.2, (5, 10, 20, 50, 100), (8, 2, 8), "RESULTS.md")
QUICK = Settings(3, 0.002, 0.05, (5, 10), (4, 2, 4), "RESULTS-quick.md")


def warn(message: str, notes: list[str]) -> None:
    """Say it now and keep it for the Notes of RESULTS.md."""
    print(f"!! {message}")
    notes.append(message)


def select_models(selection: str) -> list[references.ModelSpec]:
    """Specs named by the comma-separated list: full names or prefixes such as m1."""
    wanted = [item.strip() for item in selection.split(",") if item.strip()]
    specs = [spec for spec in references.MODELS.values()
             if not wanted or any(spec.name == w or spec.name.startswith(f"{w}_") for w in wanted)]
    if not specs:
        sys.exit(f"no model matches --models {selection!r}; known: {', '.join(references.MODELS)}")
    return specs


def derive_models(specs, notes: list[str]) -> dict:
    """{model name: generated module} for the models symgrad derives and that import.

    A module whose PARAMS or INPUTS differ from the references' order stops the run.
    """
    missing = derive.symgrad_missing()
    if missing:
        warn(f"symgrad unavailable ({missing}): benchmarking the other implementations only",
             notes)
        return {}
    modules = {}
    for spec in specs:
        target = GENERATED_DIR / f"{spec.name}.py"
        target.unlink(missing_ok=True)  # never time a stale module
        outcome = derive.derive(MODELS_DIR / f"{spec.name}.py", GENERATED_DIR)
        if not outcome.ok:
            print(outcome.message)
            warn(f"symgrad derive failed for {spec.name}: skipped", notes)
            continue
        try:
            module = derive.load_module(target)
        except Exception as error:
            warn(f"generated {spec.name} does not import ({type(error).__name__}: {error}): "
                 "skipped", notes)
            continue
        found = (tuple(module.PARAMS), tuple(module.INPUTS))
        if found != (spec.params, spec.inputs):
            raise measure.AgreementError(f"{spec.name}: generated PARAMS, INPUTS = {found}, "
                                         f"expected {(spec.params, spec.inputs)}")
        modules[spec.name] = module
        print(f"derived {spec.name} in {outcome.seconds:.2f} s")
    return modules


def run_case(spec, dtype, builders: dict, module, settings: Settings) -> report.Case:
    """Check agreement, then time one (model, dtype) for every implementation."""
    impls = {name: build(spec) for name, build in builders.items()}
    if module is not None:
        impls = {report.GENERATED: references.numpy_impl(module.value_and_grad), **impls}
    args = references.make_data(spec, dtype)
    calls = {name: functools.partial(impl.call, *impl.prepare(args))
             for name, impl in impls.items()}
    results = {name: impls[name].to_numpy(call()) for name, call in calls.items()}
    errors = measure.agreement(results, report.HAND, spec.params, measure.TOLERANCE[dtype])
    groups = {}
    for name, impl in impls.items():
        groups.setdefault(impl.runtime, []).append(name)
    timing = measure.time_samples(calls, list(groups.values()), settings.repeats,
                                  settings.min_sample_s, pause_s=settings.pause_s)
    print(f"{spec.name:14} {dtype.name:8} "
          + ", ".join(f"{name} {s * 1e3:.3g} ms" for name, s in timing.seconds.items()))
    return report.Case(
        spec.name, dtype.name, timing, errors,
        memory={name: measure.peak_memory(calls[name])
                for name in (report.GENERATED, report.HAND) if name in calls},
        dtype_problems={name: measure.dtype_problems(result, spec.params, dtype)
                        for name, result in results.items()},
    )


def measure_scale(settings: Settings, symgrad_ok: bool) -> report.Scale:
    """Derive times of deep MLPs, beside SymPy's scalar expansion of a small one."""
    result = report.Scale(startup=None, derive={}, expansion=None, runs=scale.RUNS)
    if symgrad_ok:
        result.startup = scale.time_startup().seconds
        for depth, outcome in scale.time_derivations(settings.depths).items():
            if outcome.ok:
                result.derive[depth] = outcome.seconds
                print(f"derive depth {depth}: {outcome.seconds:.2f} s")
            else:
                last_line = (outcome.message or "?").splitlines()[-1]
                warn(f"derive of the depth-{depth} MLP failed: {last_line}", result.notes)
    else:
        result.notes.append("symgrad unavailable: `symgrad derive` not timed.")
    width, depth, m = settings.expansion
    seconds, entries = scale.time_scalar_expansion(width, depth, m)
    result.expansion = (width, depth, m, seconds, entries)
    print(f"SymPy scalar expansion, width {width} depth {depth} m {m}: {seconds:.1f} s")
    return result


def main(args=ARGS) -> int:
    notes: list[str] = []
    load_before = report.load_average()
    if float(load_before) > 0.5:
        warn(f"load average {load_before} at the start: other work is using the cores, "
             "timings will be noisy", notes)
    settings = QUICK if args.quick else FULL
    specs = select_models(args.models)
    builders, skipped = references.load_references(args.threads)
    for name, why in skipped.items():
        warn(f"{name} skipped: {why}", notes)
    try:
        modules = derive_models(specs, notes)
        cases = [run_case(spec, dtype, builders, modules.get(spec.name), settings)
                 for spec in specs for dtype in DTYPES]
    except measure.AgreementError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    symgrad_ok = derive.symgrad_missing() is None
    scale_result = None if args.no_scale else measure_scale(settings, symgrad_ok)
    facts = report.machine_facts(args.threads, list(builders),
                                 derive.symgrad_version() if symgrad_ok else None, load_before)
    tolerances = {dtype.name: measure.TOLERANCE[dtype] for dtype in DTYPES}
    output = HERE / settings.output
    command = " ".join(["python benchmarks/run.py", *sys.argv[1:]])
    output.write_text(report.render(cases, scale_result, facts, notes, settings.repeats,
                                    tolerances, command, args.quick))
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
