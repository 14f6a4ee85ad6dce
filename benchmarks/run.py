"""Benchmark symgrad's generated value_and_grad against two NumPy references and the peers.

    python benchmarks/run.py --loop        # full run (10-15 min), writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick       # smoke test (~2 min), benchmarks/RESULTS-quick.md
    python benchmarks/run.py --models m2,m4 --coretype Haswell

The references (benchmarks/textbook.py, as the course writes NumPy; benchmarks/tuned.py,
the fastest NumPy we can write, in place) and the peers (benchmarks/peers.py: PyTorch
eager, torch.compile, jax.jit, HIPS autograd, PyTensor, each skipped with its reason when
not installed). The run derives benchmarks/models/*.py with `symgrad derive` into a
temporary directory, then starts one process per thread setting (benchmarks/session.py):
one thread, timed by the calling thread's CPU time (blind to other work on a shared
machine), and two threads, wall clock. Each session first checks that every
implementation agrees with the references and PyTorch eager on the loss and every gradient,
and the run stops at a disagreement; then it times them in paired rounds. A full run also
times M2 under OPENBLAS_CORETYPE=Haswell (one of issue 18's criteria). `--loop` adds the
training-loop mode (benchmarks/loop.py): each implementation alone in a fresh process, 100
calls, time and page faults per call; symgrad's with and without `workspace=` when the
generated module has `workspace()`. RESULTS.md holds the machine, every number measured and
issue 18's criteria as a pass/fail table.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import derive
import machine
import report
from references import GENERATED, MODELS, TEXTBOOK, TUNED

HERE = Path(__file__).resolve().parent
PEERS = ("PyTorch eager", "torch.compile", "JAX jit", "autograd", "PyTensor")
TOLERANCES = {"float64": 1e-6, "float32": 1e-3}  # measure.TOLERANCE, without NumPy here


@dataclass(frozen=True)
class Settings:
    repeats: int  # timing samples per implementation
    min_sample_s: float  # shortest duration of one timing sample
    pause_s: float  # idle time before each library's block of samples
    loop_calls: int  # timed calls in the training-loop mode
    loop_warmup: int  # untimed calls before them
    output: str  # file written in benchmarks/


FULL = Settings(25, 0.02, 0.2, 100, 10, "RESULTS.md")
QUICK = Settings(3, 0.002, 0.01, 10, 2, "RESULTS-quick.md")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, no torch.compile")
    parser.add_argument("--models", default="", help="comma-separated, e.g. m1,m4 (default: all)")
    parser.add_argument("--loop", action="store_true", help="add the training-loop mode")
    parser.add_argument("--coretype", default="",
                        help="OPENBLAS_CORETYPE for every timing process (e.g. Haswell)")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help=f"comma-separated subset of {', '.join(PEERS)}, or none")
    parser.add_argument("--scale", action="store_true",
                        help="add the derivation-scale section (about 2 min)")
    return parser.parse_args(argv)


def warn(message: str, notes: list[str]) -> None:
    """Say it now and keep it for the Notes of RESULTS.md."""
    print(f"!! {message}")
    notes.append(message)


def select_models(selection: str) -> list[str]:
    wanted = [item.strip() for item in selection.split(",") if item.strip()]
    names = [name for name in MODELS
             if not wanted or any(name == w or name.startswith(f"{w}_") for w in wanted)]
    if not names:
        sys.exit(f"no model matches --models {selection!r}; known: {', '.join(MODELS)}")
    return names


def derive_models(names: list[str], out_dir: Path, notes: list[str]) -> None:
    """`symgrad derive` each model into out_dir; a failure is noted, not fatal."""
    missing = derive.symgrad_missing()
    if missing:
        warn(f"symgrad unavailable ({missing}): timing the other implementations only", notes)
        return
    for name in names:
        outcome = derive.derive(HERE / "models" / f"{name}.py", out_dir, workspace=True)
        if outcome.ok:
            print(f"derived {name} in {outcome.seconds:.2f} s")
        else:
            print(outcome.message)
            warn(f"symgrad derive failed for {name}: not timed", notes)


def _env(threads: int, coretype: str) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    else:
        env.pop("OPENBLAS_CORETYPE", None)
    path = os.pathsep.join(filter(None, [str(derive.REPO), os.environ.get("PYTHONPATH")]))
    env["PYTHONPATH"] = path
    return env


def run_session(title: str, threads: int, clock: str, models: list[str], peers: list[str],
                generated: Path, settings: Settings, coretype: str) -> report.Session:
    """One session.py process; SystemExit with its message when implementations disagree."""
    print(f"== {title}", flush=True)
    out = generated / f"session-{threads}-{clock}-{coretype or 'native'}.json"
    command = [sys.executable, str(HERE / "session.py"), "--threads", str(threads),
               "--clock", clock, "--out", str(out), "--models", ",".join(models),
               "--generated", str(generated), "--repeats", str(settings.repeats),
               "--min-sample", str(settings.min_sample_s), "--pause", str(settings.pause_s)]
    if peers:
        command += ["--peers", ",".join(peers)]
    done = subprocess.run(command, env=_env(threads, coretype), cwd=HERE)
    if done.returncode:
        raise SystemExit(f"FAILED: the {title} session stopped (exit status "
                         f"{done.returncode}); see its message above. Nothing was written.")
    return report.Session(title, json.loads(out.read_text()))


def has_workspace(generated: Path, model: str) -> bool:
    path = generated / f"{model}.py"
    return path.exists() and hasattr(derive.load_module(path), "workspace")


def run_loop(models: list[str], generated: Path, settings: Settings, coretype: str,
             with_torch: bool, notes: list[str]) -> list[dict]:
    """The training-loop mode: every (model, dtype, implementation) in a fresh process."""
    print("== training loop", flush=True)
    rows = []
    for model in models:
        impls: list[tuple[str, list[str]]] = []
        if (generated / f"{model}.py").exists():
            impls.append((GENERATED, []))
            if has_workspace(generated, model):
                impls.append((f"{GENERATED} + workspace", ["--workspace"]))
        impls += [(TEXTBOOK, []), (TUNED, [])]
        if with_torch:
            impls.append(("PyTorch eager", []))
        for dtype in ("float64", "float32"):
            for label, extra in impls:
                impl = GENERATED if label.startswith(GENERATED) else label
                command = [sys.executable, str(HERE / "loop.py"), "--model", model,
                           "--dtype", dtype, "--impl", impl, "--generated", str(generated),
                           "--calls", str(settings.loop_calls),
                           "--warmup", str(settings.loop_warmup), *extra]
                done = subprocess.run(command, env=_env(1, coretype), cwd=HERE,
                                      capture_output=True, text=True)
                if done.returncode:
                    warn(f"training loop {model} {dtype} {label} failed: "
                         f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}", notes)
                    continue
                row = {"model": model, "dtype": dtype, "impl": label,
                       **json.loads(done.stdout.strip().splitlines()[-1])}
                print(f"  {model:14} {dtype:8} {label:22} {row['wall_s'] * 1e3:8.3f} ms "
                      f"{row['faults']:7.1f} faults/call", flush=True)
                rows.append(row)
    if not any(r["impl"].endswith("workspace") for r in rows):
        notes.append("training loop: the generated modules have no workspace(): "
                     "symgrad timed without one only.")
    return rows


def measure_scale(notes: list[str]) -> report.Scale:
    """Derive times of deep MLPs, beside SymPy's scalar expansion of a small one."""
    import scale

    result = report.Scale(startup=scale.time_startup().seconds, derive={}, expansion=None,
                          runs=scale.RUNS)
    for depth, outcome in scale.time_derivations((5, 10, 20, 50, 100)).items():
        if outcome.ok:
            result.derive[depth] = outcome.seconds
        else:
            warn(f"derive of the depth-{depth} MLP failed", notes)
    seconds, entries = scale.time_scalar_expansion(8, 2, 8)
    result.expansion = (8, 2, 8, seconds, entries)
    return result


def main(args) -> int:
    notes: list[str] = []
    settings = QUICK if args.quick else FULL
    models = select_models(args.models)
    peers = [p.strip() for p in args.peers.split(",") if p.strip() and p.strip() != "none"]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        sys.exit(f"unknown peer {', '.join(unknown)}; known: {', '.join(PEERS)}")
    if args.quick and "torch.compile" in peers:
        peers.remove("torch.compile")
        notes.append("torch.compile skipped in --quick (it compiles each model for ~15 s).")
    load_before = machine.load_average()
    if load_before > 0.5:
        warn(f"load average {load_before:.2f} at the start: other work shares the cores, "
             "wall-clock timings will be noisy", notes)
    generated = Path(tempfile.mkdtemp(prefix="symgrad-bench-"))
    try:
        derive_models(models, generated, notes)
        sessions = [
            run_session("One thread, thread CPU time", 1, "cpu", models, peers, generated,
                        settings, args.coretype),
            run_session("Two threads, wall clock", 2, "wall", models, peers, generated,
                        settings, args.coretype),
        ]
        haswell = None
        if not args.coretype and "m2_softmax" in models and not args.quick:
            haswell = run_session("One thread, thread CPU time, OPENBLAS_CORETYPE=Haswell", 1,
                                  "cpu", ["m2_softmax"], [], generated, settings, "Haswell")
        loop = (run_loop(models, generated, settings, args.coretype,
                         "PyTorch eager" in peers, notes) if args.loop else [])
        scale_result = measure_scale(notes) if args.scale else None
    finally:
        shutil.rmtree(generated, ignore_errors=True)
    for session in sessions:
        for name, why in session.data["skipped"].items():
            message = f"{name} skipped ({session.title}): {why}"
            if message not in notes:
                warn(message, notes)
    command = " ".join(["python benchmarks/run.py", *sys.argv[1:]])
    output = HERE / settings.output
    output.write_text(report.render(sessions, haswell, loop, scale_result, notes, TOLERANCES,
                                    command, args.quick,
                                    (load_before, machine.load_average()),
                                    (settings.loop_calls, settings.loop_warmup)))
    for text, measured, ok in report.criteria(sessions[0], haswell, loop):
        print(f"{ {True: 'pass', False: 'FAIL', None: 'n/a '}[ok]}  {text}: {measured}")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
