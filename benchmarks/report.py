"""RESULTS.md: machine facts, time and memory tables, derivation scale, issue-4 criteria."""
from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

GENERATED = "symgrad"
HAND = "hand NumPy"


@dataclass
class Case:
    """Everything measured for one (model, dtype)."""

    model: str
    dtype: str
    timing: Any  # measure.Timing: samples and page faults per implementation
    errors: dict[str, float]  # implementation -> worst relative error vs hand NumPy
    memory: dict[str, int] = field(default_factory=dict)  # implementation -> peak bytes
    dtype_problems: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self):
        self.seconds = self.timing.seconds  # implementation -> median seconds per call
        self.faults = self.timing.faults  # implementation -> minor page faults per call

    def ratio(self, impl: str, to: str = HAND) -> float:
        """Time of impl relative to `to`, from their samples paired by round and place."""
        return self.timing.ratio(impl, to)


@dataclass
class Scale:
    """Derivation-scale measurements (seconds; None where not measured)."""

    startup: float | None
    derive: dict[int, float]  # depth -> seconds of `symgrad derive`, the fastest of `runs`
    expansion: tuple[int, int, int, float, int] | None  # width, depth, m, seconds, entries
    notes: list[str] = field(default_factory=list)
    runs: int = 1


# ------------------------------------------------------------------- machine facts


def _first_match(path: str, pattern: str) -> str:
    try:
        with open(path) as lines:
            for line in lines:
                if found := re.match(pattern, line):
                    return found.group(1).strip()
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _numpy_blas() -> str:
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return f"{blas.get('name')} {blas.get('version')}"


def _torch_blas() -> str:
    import torch

    config = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version (\S+)", config)
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    name = blas.group(1) if blas else "unknown"
    return f"{name} {mkl.group(1)}" if name == "mkl" and mkl else name


def load_average() -> str:
    """The 1-minute load average: above ~0.5 before a run, other work shares the cores."""
    return f"{os.getloadavg()[0]:.2f}"


def machine_facts(threads: int, used: list[str], symgrad_version: str | None,
                  load_before: str) -> list[tuple[str, str]]:
    """(fact, value) rows describing the machine and the libraries timed."""
    mem_kb = _first_match("/proc/meminfo", r"MemTotal:\s*(\d+)")
    facts = [
        ("CPU", _first_match("/proc/cpuinfo", r"model name\s*:(.*)")),
        ("cores", f"{os.cpu_count()} (usable by this process: {len(os.sched_getaffinity(0))})"),
        ("memory", f"{int(mem_kb) / 2**20:.1f} GiB" if mem_kb.isdigit() else "unknown"),
        ("OS", platform.platform()),
        ("Python", sys.version.split()[0]),
        ("NumPy", f"{np.__version__} (BLAS: {_numpy_blas()})"),
        ("SymPy", _version("sympy") or "absent"),
        ("symgrad", symgrad_version or "absent"),
    ]
    if "PyTorch" in used:
        facts.append(("PyTorch", f"{_version('torch')} (BLAS: {_torch_blas()}), eager, CPU"))
    if "JAX jit" in used:
        import jax

        facts.append(("JAX", f"{_version('jax')}, jaxlib {_version('jaxlib')}, "
                             f"backend {jax.default_backend()}, x64 enabled"))
    if "autograd" in used:
        facts.append(("autograd", _version("autograd")))
    xla = ("XLA single-threaded" if threads == 1
           else f"XLA's pool is sized to the {os.cpu_count()} cores")
    facts.append(("threads", f"{threads}: OMP/MKL/OPENBLAS_NUM_THREADS={threads}, "
                             f"torch.set_num_threads({threads}); {xla}"))
    facts.append(("load average (1 min)", f"{load_before} before the run, {load_average()} after"))
    return facts


# ----------------------------------------------------------------------- formatting


def _ms(seconds: float) -> str:
    """Milliseconds with 3 significant digits (no exponent)."""
    ms = seconds * 1e3
    decimals = 0 if ms >= 100 else 1 if ms >= 10 else 2 if ms >= 1 else 3
    return f"{ms:.{decimals}f}"


def _bytes(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _impls(cases: list[Case]) -> list[str]:
    order = [GENERATED, HAND, "PyTorch", "JAX jit", "autograd"]
    present = {impl for case in cases for impl in case.seconds}
    return [impl for impl in order if impl in present]


def _ratios(cases: list[Case], impl: str) -> tuple[float, Case, int] | None:
    """(median ratio to hand NumPy, the case with the largest, number of cases) of `impl`."""
    with_impl = [case for case in cases if impl in case.seconds]
    if not with_impl:
        return None
    worst = max(with_impl, key=lambda case: case.ratio(impl))
    return statistics.median(case.ratio(impl) for case in with_impl), worst, len(with_impl)


# ------------------------------------------------------------------------- sections


def _time_section(cases: list[Case], repeats: int) -> list[str]:
    impls = _impls(cases)
    rows = [[case.model, case.dtype] + [
        f"{_ms(case.seconds[impl])} ({case.ratio(impl):.2f})" if impl in case.seconds else "-"
        for impl in impls] for case in cases]
    lines = ["## value_and_grad time",
             "",
             f"Median ms per call over {repeats} samples, each a run of back-to-back calls "
             "lasting at least a few ms. After a warm-up, the libraries take turns in blocks "
             "of samples (a short pause before each block lets the previous library's threads "
             "go idle), over several rounds; inside a block, the implementations running on "
             "NumPy (symgrad, hand NumPy, autograd) alternate sample by sample, each sample "
             "after one untimed call of the same implementation, so that its own arrays are "
             "in the caches, as they are for a library timed alone. "
             "In brackets: ratio to hand NumPy, lower is faster: "
             "the median of the ratios of samples taken in the same round at the same place, "
             "so that the machine's drift cancels (it can differ from the ratio of the "
             "medians). The criteria below compare symgrad with PyTorch and "
             "autograd the same way.",
             "", *_table(["model", "dtype", *impls], rows), ""]
    summary = _ratios(cases, GENERATED)
    if summary:
        median, worst, count = summary
        lines.append(f"**Summary: median generated / hand NumPy over {count} (model, dtype) "
                     f"pairs = {median:.2f}** (largest {worst.ratio(GENERATED):.2f}, "
                     f"{worst.model} {worst.dtype}).")
    else:
        lines.append("**Summary: no symgrad-generated module was timed** (see Notes).")
    others = [f"{impl} {_ratios(cases, impl)[0]:.2f}" for impl in impls
              if impl not in (GENERATED, HAND)]
    if others:
        lines.append(f"\nMedian ratio to hand NumPy of the references: {', '.join(others)}.")
    return lines + [""]


def _agreement_section(cases: list[Case], tolerances: dict[str, float]) -> list[str]:
    impls = [impl for impl in _impls(cases) if impl != HAND]
    if not impls:
        return []
    rows = [[case.model, case.dtype] + [f"{case.errors[impl]:.1e}" if impl in case.errors else "-"
                                        for impl in impls] for case in cases]
    tol = ", ".join(f"{rtol:.0e} for {dtype}" for dtype, rtol in tolerances.items())
    return ["## Agreement", "",
            "Checked before timing: largest relative error (max |a - b| / max |b|) of the loss "
            f"and every gradient against hand NumPy of the same dtype; the run stops above {tol}.",
            "", *_table(["model", "dtype", *impls], rows), ""]


def _memory_section(cases: list[Case]) -> list[str]:
    rows = [[case.model, case.dtype, _bytes(case.memory[GENERATED]), _bytes(case.memory[HAND]),
             f"{case.memory[GENERATED] / case.memory[HAND]:.2f}",
             f"{case.faults[GENERATED]:.0f}", f"{case.faults[HAND]:.0f}"]
            for case in cases if GENERATED in case.memory]
    if not rows:
        return []
    return ["## Peak memory of one call", "",
            "tracemalloc peak during one value_and_grad call (its results included), and the "
            "minor page faults per call while timing (pages the process had to be given "
            "again: the C allocator hands freed memory back to the OS when a call leaves "
            "enough of it at the top of the heap, and each new page then costs a fault).", "",
            *_table(["model", "dtype", GENERATED, HAND, "ratio", f"faults/call {GENERATED}",
                     HAND], rows), ""]


def _dtype_section(cases: list[Case]) -> list[str]:
    problems = [f"- {case.model} {case.dtype}, {impl}: {', '.join(found)}"
                for case in cases for impl, found in case.dtype_problems.items() if found]
    checked = sorted({impl for case in cases for impl in case.dtype_problems})
    verdict = problems or [f"- every output of {', '.join(checked)} has the dtype of its inputs."]
    return ["## Output dtypes", "", *verdict, ""]


def _linear_fit(scale: Scale) -> tuple[float, float, float]:
    """Least-squares derive seconds = intercept + slope * depth: (intercept, slope, R^2)."""
    depths = np.array(list(scale.derive), dtype=float)
    seconds = np.array(list(scale.derive.values()))
    slope, intercept = np.polyfit(depths, seconds, 1)
    residual = seconds - (intercept + slope * depths)
    spread = np.sum((seconds - seconds.mean()) ** 2)
    return intercept, slope, 1 - np.sum(residual**2) / spread if spread else 1.0


def _scale_section(scale: Scale) -> list[str]:
    lines = ["## Derivation scale", "",
             "Wall time of `symgrad derive` (a fresh interpreter: start-up and imports included) "
             "on MLPs with symbolic widths: tanh hidden layers, sigmoid output, mean BCE; the "
             f"fastest of {scale.runs} runs.", ""]
    if scale.derive:
        rows = [[str(depth), f"{seconds:.2f}"] for depth, seconds in scale.derive.items()]
        lines += _table(["depth", "derive (s)"], rows)
        if len(scale.derive) > 1:
            intercept, slope, r2 = _linear_fit(scale)
            lines.append(f"\nLeast-squares line: {intercept:.2f} s + {slope * 1e3:.0f} ms per "
                         f"layer (R^2 = {r2:.3f}).")
        if scale.startup is not None:
            lines.append(f"Start-up alone (`python -c 'import symgrad'`): {scale.startup:.2f} s.")
    if scale.expansion:
        width, depth, m, seconds, entries = scale.expansion
        lines.append(f"\nSymPy expanding the width-{width}, depth-{depth} MLP with m = {m} into "
                     f"scalars (`as_explicit()`) and differentiating the loss for each of its "
                     f"{entries} parameter entries: **{seconds:.1f} s**; this grows with the "
                     "widths, symgrad's cost does not.")
    lines += [f"\n- {note}" for note in scale.notes]
    return lines + [""]


def _criteria_section(cases: list[Case], scale: Scale | None) -> list[str]:
    summary = _ratios(cases, GENERATED)
    if not summary:
        return []
    median, worst, count = summary
    timed = [case for case in cases if GENERATED in case.seconds]

    def beats(impl):
        versus = [case for case in timed if impl in case.seconds]
        return bool(versus) and all(case.ratio(GENERATED, impl) < 1 for case in versus)

    largest = worst.ratio(GENERATED)
    checks = [
        (median <= 0.95, f"median generated / hand NumPy {median:.3f} <= 0.95"),
        (largest <= 1.05,
         f"no model above 1.05 (largest {largest:.3f}, {worst.model} {worst.dtype})"),
        (beats("PyTorch"), "generated faster than PyTorch eager on every model"),
        (beats("autograd"), "generated faster than autograd on every model"),
        (not any(case.dtype_problems.get(GENERATED) for case in timed),
         "float32 in gives float32 out (generated)"),
        (all(case.memory[GENERATED] <= case.memory[HAND] for case in timed),
         "peak memory <= hand NumPy on every model"),
    ]
    if scale and 50 in scale.derive and len(scale.derive) > 2:
        _, _, r2 = _linear_fit(scale)
        checks.append((scale.derive[50] < 10 and r2 >= 0.95,
                       f"deriving the 50-layer MLP under 10 s ({scale.derive[50]:.2f} s), "
                       f"roughly linear in depth (R^2 of a line through the times {r2:.3f})"))
    lines = ["## Issue 4 criteria (this run)", ""]
    lines += [f"- [{'x' if ok else ' '}] {text}" for ok, text in checks]
    if count < len(cases):
        lines.append("- (not every model was timed with symgrad: see Notes)")
    return lines + [""]


def render(cases, scale, facts, notes, repeats, tolerances, command, quick) -> str:
    """The whole RESULTS.md."""
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = ["# symgrad benchmark results", "", f"Written by `{command}` on {date}."]
    if quick:
        lines.append("**Quick smoke-test run: too few repeats to quote these figures.**")
    lines += ["", "## Machine", "", *_table(["", "this run"], [list(fact) for fact in facts]), ""]
    lines += _time_section(cases, repeats)
    lines += _memory_section(cases)
    lines += _dtype_section(cases)
    lines += _agreement_section(cases, tolerances)
    if scale:
        lines += _scale_section(scale)
    lines += _criteria_section(cases, scale)
    if notes:
        lines += ["## Notes", "", *[f"- {note}" for note in notes], ""]
    return "\n".join(lines)
