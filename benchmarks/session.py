"""One timing session of benchmarks/run.py, in a process of its own: check, then time.

    python benchmarks/session.py --threads 1 --clock cpu --out /tmp/s.json [--models m1,m4]

The thread counts (OMP/MKL/OPENBLAS_NUM_THREADS) are set from --threads before NumPy or
any peer is imported, which is why run.py starts one process per setting. For each model
and dtype: every implementation's loss and gradients are checked against the textbook and
the tuned references and PyTorch eager (exit status 3 and the disagreement on stderr if
any is off), then all are timed (measure.time_samples), and the samples go to --out as JSON.
"""
from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--clock", choices=("cpu", "wall"), required=True)
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--models", default="", help="comma-separated prefixes (default: all)")
    parser.add_argument("--peers", default="", help="comma-separated peer names to time")
    parser.add_argument("--generated", default="", help="directory of symgrad's modules")
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--min-sample", type=float, default=0.02)
    parser.add_argument("--pause", type=float, default=0.2)
    return parser.parse_args(argv)


def pin_threads(n: int) -> None:
    """BLAS/OpenMP/XLA thread counts: only effective before the libraries are imported."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    if n == 1:
        os.environ["XLA_FLAGS"] = ("--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


if __name__ == "__main__":
    ARGS = parse_args()
    pin_threads(ARGS.threads)

import functools  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import machine  # noqa: E402
import measure  # noqa: E402
import peers  # noqa: E402
import references  # noqa: E402
import textbook  # noqa: E402
import tuned  # noqa: E402
from references import GENERATED, TEXTBOOK, TUNED  # noqa: E402

DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
ANCHOR_PEER = "PyTorch eager"


def select(selection: str, known) -> list:
    """Items of `known` named by a comma-separated list of names or prefixes (m1 for m1_x)."""
    wanted = [item.strip() for item in selection.split(",") if item.strip()]
    return [name for name in known
            if not wanted or any(name == w or name.startswith(f"{w}_") for w in wanted)]


def load_generated(directory: str, spec) -> object | None:
    """symgrad's module for spec from `directory`, or None when there is none."""
    import derive

    path = Path(directory) / f"{spec.name}.py" if directory else None
    if path is None or not path.exists():
        return None
    module = derive.load_module(path)
    found = (tuple(module.PARAMS), tuple(module.INPUTS))
    if found != (spec.params, spec.inputs):
        raise measure.AgreementError(f"{spec.name}: generated PARAMS, INPUTS = {found}, "
                                     f"expected {(spec.params, spec.inputs)}")
    return module


def implementations(spec, dtype, module, peer_builders,
                    failed: dict | None = None) -> dict[str, references.Impl]:
    """symgrad's (when derived), the two NumPy references, then the peers; a peer that
    cannot be built is left out, with its error in `failed` (when given)."""
    impls = {}
    if module is not None:
        impls[GENERATED] = references.numpy_impl(module.value_and_grad)
    impls.update(references.numpy_references(spec))
    for name, build in peer_builders.items():
        try:
            impls[name] = build(spec, dtype)
        except Exception as error:
            if failed is None:
                raise
            failed[f"{name} on {spec.name} {dtype.name}"] = f"{type(error).__name__}: {error}"
    return impls


def check(spec, dtype, impls, failed: dict | None = None) -> tuple[dict, dict, dict]:
    """Thunks of the timed calls, each implementation's worst relative error against the
    anchors, and the dtype problems of each; AgreementError if any disagree. A peer that
    raises is dropped, with its error in `failed` (when given; else the error propagates)."""
    args = references.make_data(spec, dtype)
    calls, results = {}, {}
    for name, impl in impls.items():
        try:
            calls[name] = functools.partial(impl.call, *impl.prepare(args))
            results[name] = impl.to_numpy(calls[name]())
        except Exception as error:
            if failed is None or name in (GENERATED, TEXTBOOK, TUNED):
                raise
            failed[f"{name} on {spec.name} {dtype.name}"] = f"{type(error).__name__}: {error}"
            calls.pop(name, None)
    anchors = [name for name in (TEXTBOOK, TUNED, ANCHOR_PEER) if name in results]
    try:
        errors = measure.check_agreement(results, anchors, spec.params,
                                         measure.TOLERANCE[dtype])
    except measure.AgreementError as error:
        raise measure.AgreementError(f"{spec.name} {dtype.name}: {error}") from None
    problems = {name: measure.dtype_problems(result, spec.params, dtype)
                for name, result in results.items()}
    return calls, errors, problems


def main(args) -> int:
    references.check_no_slow_powers(textbook, tuned, peers)
    peer_builders, versions, skipped = peers.load_peers(
        args.threads, select(args.peers, peers.PEERS) if args.peers else [])
    clock_of = {"wall": lambda impl: "wall", "cpu": lambda impl: impl.clock}[args.clock]
    cases = []
    try:
        for name in select(args.models, references.MODELS):
            spec = references.MODELS[name]
            module = load_generated(args.generated, spec)
            for dtype in DTYPES:
                impls = implementations(spec, dtype, module, peer_builders, skipped)
                calls, errors, problems = check(spec, dtype, impls, skipped)
                groups: dict[str, list[str]] = {}
                for impl_name, impl in impls.items():
                    if impl_name not in calls:
                        continue
                    groups.setdefault(impl.runtime, []).append(impl_name)
                timing = measure.time_samples(
                    calls, list(groups.values()),
                    {n: clock_of(impls[n]) for n in calls},
                    args.repeats, args.min_sample, pause_s=args.pause)
                memory = {n: measure.peak_memory(calls[n]) for n in (GENERATED, TEXTBOOK, TUNED)
                          if n in calls} if args.threads == 1 else {}
                print(f"  {spec.name:14} {dtype.name:8} " + ", ".join(
                    f"{n} {s * 1e3:.3g} ms" for n, s in timing.seconds.items()), flush=True)
                cases.append({"model": spec.name, "dtype": dtype.name,
                              "samples": timing.samples, "faults": timing.faults,
                              "clocks": timing.clocks, "errors": errors,
                              "dtype_problems": problems, "memory": memory})
    except measure.AgreementError as error:
        print(f"disagreement, nothing timed from here: {error}", file=sys.stderr)
        return 3
    facts = machine.facts(versions)
    Path(args.out).write_text(json.dumps({"threads": args.threads, "clock": args.clock,
                                          "facts": facts, "skipped": skipped,
                                          "cases": cases}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
