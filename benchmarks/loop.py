"""Training-loop mode of benchmarks/run.py: one implementation alone in a fresh process.

    python benchmarks/loop.py --model m5_swish_gelu --dtype float64 --impl symgrad \\
        --generated benchmarks/generated [--workspace] [--calls 100] [--threads 1]

As a training script runs it (examples/scripts/): one model, one implementation, the same
arguments every call, nothing else in the heap. After `--warmup` untimed calls, `--calls`
back-to-back calls are timed (wall clock and thread CPU time) and their minor page faults
counted (getrusage): a page the C allocator handed back to the OS and that a later call
touches again costs a fault. `--workspace` (symgrad only, when the module has `workspace`)
passes `workspace=module.workspace()` to every call. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dtype", required=True, choices=("float64", "float32"))
    parser.add_argument("--impl", required=True)
    parser.add_argument("--generated", default="")
    parser.add_argument("--workspace", action="store_true")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args(argv)


if __name__ == "__main__":
    ARGS = parse_args()
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[_var] = str(ARGS.threads)

import gc  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import measure  # noqa: E402
import references  # noqa: E402
import session  # noqa: E402


def build(args):
    """The thunk of one call of the implementation named by args."""
    spec = references.MODELS[args.model]
    if args.impl == references.GENERATED:
        module = session.load_generated(args.generated, spec)
        if module is None:
            raise SystemExit(f"no generated module for {spec.name} in {args.generated!r}")
        keywords = {"workspace": module.workspace()} if args.workspace else {}
        impl = references.numpy_impl(module.value_and_grad, **keywords)
    elif args.impl in (references.TEXTBOOK, references.TUNED):
        impl = references.numpy_references(spec)[args.impl]
    else:
        import peers

        builders, _, skipped = peers.load_peers(args.threads, [args.impl])
        if skipped:
            raise SystemExit(f"{args.impl}: {skipped[args.impl]}")
        impl = builders[args.impl](spec, args.dtype)
    native = impl.prepare(references.make_data(spec, args.dtype))
    return lambda: impl.call(*native)


def main(args) -> int:
    call = build(args)
    for _ in range(args.warmup):
        call()
    gc.disable()
    faults, wall, cpu = measure.minor_faults(), time.perf_counter_ns(), time.thread_time_ns()
    for _ in range(args.calls):
        call()
    cpu, wall = time.thread_time_ns() - cpu, time.perf_counter_ns() - wall
    faults = measure.minor_faults() - faults
    print(json.dumps({"wall_s": wall * 1e-9 / args.calls, "cpu_s": cpu * 1e-9 / args.calls,
                      "faults": faults / args.calls}))
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
