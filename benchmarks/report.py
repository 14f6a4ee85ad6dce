"""RESULTS.md from what benchmarks/run.py measured: machine, ratios with spreads, the
training loop, agreement, and issue 18's criteria as a pass/fail table."""
from __future__ import annotations

import datetime
import statistics
from dataclasses import dataclass, field

import numpy as np

from measure import quartiles
from references import GENERATED, TEXTBOOK, TUNED

REFERENCES = (TEXTBOOK, TUNED)


@dataclass
class Session:
    """One timing session (a process with its thread setting), as session.py wrote it."""

    title: str
    data: dict  # threads, clock, facts, skipped, cases

    @property
    def cases(self) -> list[dict]:
        return self.data["cases"]

    def impls(self) -> list[str]:
        seen: list[str] = []
        for case in self.cases:
            seen += [name for name in case["samples"] if name not in seen]
        return seen


@dataclass
class Scale:
    """Derivation-scale measurements (seconds; None where not measured)."""

    startup: float | None
    derive: dict[int, float]  # depth -> seconds of `symgrad derive`, the fastest of `runs`
    expansion: tuple[int, int, int, float, int] | None  # width, depth, m, seconds, entries
    notes: list[str] = field(default_factory=list)
    runs: int = 1



# ----------------------------------------------------------------------- statistics


def case_ratio(case: dict, impl: str, to: str) -> tuple[float, float, float]:
    """(q1, median, q3) of impl's samples over to's, paired by round and place."""
    a, b = case["samples"][impl], case["samples"][to]
    return quartiles([x / y for x, y in zip(a, b, strict=True)])


def summary(cases: list[dict], impl: str, to: str):
    """(median over cases, worst ratio, the worst case's label) of impl against `to`,
    or None when impl was not timed."""
    ratios = [(case_ratio(case, impl, to)[1], f"{case['model']} {case['dtype']}")
              for case in cases if impl in case["samples"] and to in case["samples"]]
    if not ratios:
        return None
    worst = max(ratios)
    return statistics.median(r for r, _ in ratios), worst[0], worst[1]


# ----------------------------------------------------------------------- formatting


def _ms(seconds: float) -> str:
    """Milliseconds with 3 significant digits (no exponent)."""
    ms = seconds * 1e3
    decimals = 0 if ms >= 100 else 1 if ms >= 10 else 2 if ms >= 1 else 3 if ms >= 0.1 else 4
    return f"{ms:.{decimals}f}"


def _bytes(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _ratio_text(case: dict, impl: str, to: str) -> str:
    q1, median, q3 = case_ratio(case, impl, to)
    return f"{median:.2f} [{q1:.2f}-{q3:.2f}]"


# ------------------------------------------------------------------------- sections


def _session_section(session: Session) -> list[str]:
    impls = session.impls()
    cases = session.cases
    clocks = sorted({f"{name}: {clock}" for case in cases for name, clock in
                     case["clocks"].items() if clock != "thread" and clock != "wall"})
    lines = [f"## {session.title}", "",
             "Median ms per call; then each implementation's time over each NumPy "
             "reference: the median of the ratios of samples taken in the same round, "
             "[first-third quartile] of those ratios. Lower is faster."
             + (f" Timed by process CPU time (its own threads): {', '.join(clocks)}."
                if clocks else ""), ""]
    rows = [[case["model"], case["dtype"]] + [
        _ms(statistics.median(case["samples"][impl])) if impl in case["samples"] else "-"
        for impl in impls] for case in cases]
    lines += _table(["model", "dtype", *impls], rows) + [""]
    for to in REFERENCES:
        others = [impl for impl in impls if impl != to]
        rows = [[case["model"], case["dtype"]] + [
            _ratio_text(case, impl, to) if impl in case["samples"] else "-" for impl in others]
            for case in cases if to in case["samples"]]
        lines += [f"Ratio to {to}:", "", *_table(["model", "dtype", *others], rows), ""]
    rows = []
    for impl in impls:
        cells = []
        for to in REFERENCES:
            found = summary(cases, impl, to) if impl != to else None
            cells += ([f"{found[0]:.2f}", f"{found[1]:.2f} ({found[2]})"] if found
                      else ["-", "-"])
        rows.append([impl, *cells])
    lines += [f"Summary over the {len(cases)} (model, dtype) pairs:", "",
              *_table(["implementation", f"median vs {TEXTBOOK}", "worst", f"median vs {TUNED}",
                       "worst"], rows), ""]
    return lines


def _loop_section(loop: list[dict], calls: int, warmup: int) -> list[str]:
    if not loop:
        return []
    rows = [[row["model"], row["dtype"], row["impl"], _ms(row["wall_s"]), _ms(row["cpu_s"]),
             f"{row['faults']:.2f}"] for row in loop]
    return ["## Training loop", "",
            "Each implementation alone in a fresh process, one thread, the same arguments "
            f"every call: {warmup} warm-up calls, then {calls} timed back to back. "
            "Minor page faults per call from getrusage (a page the allocator gave back and "
            "a later call touches again).", "",
            *_table(["model", "dtype", "implementation", "wall ms/call", "CPU ms/call",
                     "faults/call"], rows), ""]


def _agreement_section(session: Session, tolerances: dict[str, float]) -> list[str]:
    impls = [impl for impl in session.impls() if impl != TEXTBOOK]
    rows = [[case["model"], case["dtype"]] + [
        f"{case['errors'][impl]:.1e}" if impl in case["errors"] else "-" for impl in impls]
        for case in session.cases]
    tol = ", ".join(f"{rtol:.0e} for {dtype}" for dtype, rtol in tolerances.items())
    return ["## Agreement", "",
            "Checked before timing, at the benchmark sizes, in every session: the largest "
            "relative error (max |a - b| / max |b|) of the loss and every gradient against "
            f"each of {TEXTBOOK}, {TUNED} and PyTorch eager (where installed), same dtype; "
            f"the run stops above {tol}. Worst over those anchors:", "",
            *_table(["model", "dtype", *impls], rows), ""]


def _memory_section(session: Session) -> list[str]:
    names = [name for name in (GENERATED, TEXTBOOK, TUNED)
             if any(name in case["memory"] for case in session.cases)]
    rows = [[case["model"], case["dtype"]] + [
        _bytes(case["memory"][n]) if n in case["memory"] else "-" for n in names]
        for case in session.cases]
    if not rows or not names:
        return []
    return ["## Peak memory of one call", "",
            "tracemalloc peak during one value_and_grad call, its results included.", "",
            *_table(["model", "dtype", *names], rows), ""]


def _dtype_section(session: Session) -> list[str]:
    problems = [f"- {case['model']} {case['dtype']}, {impl}: {', '.join(found)}"
                for case in session.cases for impl, found in case["dtype_problems"].items()
                if found]
    return ["## Output dtypes", "",
            *(problems or ["- every implementation returns the dtype of its inputs."]), ""]


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




def _case(session: Session | None, model: str, dtype: str) -> dict | None:
    for case in session.cases if session else []:
        if case["model"] == model and case["dtype"] == dtype:
            return case
    return None


def criteria(one_thread: Session, haswell: Session | None, loop: list[dict]):
    """Issue 18's Done-when, as (criterion, measured, pass: True/False/None = not measured)."""
    rows = []
    cases = one_thread.cases
    for to, median_max, worst_max in ((TEXTBOOK, 0.85, 0.95), (TUNED, 0.97, 1.03)):
        found = summary(cases, GENERATED, to)
        measured = f"median {found[0]:.3f}, worst {found[1]:.3f} ({found[2]})" if found else "-"
        ok = found[0] <= median_max and found[1] <= worst_max if found else None
        rows.append((f"vs {to}, one thread CPU time: median <= {median_max}, worst <= "
                     f"{worst_max} over M1-M5 x float64, float32", measured, ok))
    m4 = [case_ratio(case, GENERATED, TUNED)[1] for case in cases
          if case["model"] == "m4_tiny" and GENERATED in case["samples"]]
    rows.append(("M4 within 1.05x of the tuned reference (both dtypes)",
                 ", ".join(f"{r:.3f}" for r in m4) or "-",
                 max(m4) <= 1.05 if m4 else None))
    for title, session in (("this machine's kernel", one_thread),
                           ("OPENBLAS_CORETYPE=Haswell", haswell)):
        case = _case(session, "m2_softmax", "float64")
        ratio = case_ratio(case, GENERATED, TEXTBOOK)[1] if case and GENERATED in \
            case["samples"] else None
        rows.append((f"M2 float64 no slower than textbook ({title})",
                     f"{ratio:.3f}" if ratio is not None else "not measured",
                     ratio <= 1.0 if ratio is not None else None))
    with_ws = {(r["model"], r["dtype"]): r for r in loop if r["impl"] == f"{GENERATED} + workspace"}
    without = {(r["model"], r["dtype"]): r for r in loop if r["impl"] == GENERATED}
    if with_ws:
        worst = max(r["faults"] for r in with_ws.values())
        rows.append(("training loop: zero page faults per call with a workspace (fewer than "
                     "5 in 100 calls: the interpreter's own)",
                     f"at most {worst:.2f} per call", worst < 0.05))
        key = ("m5_swish_gelu", "float64")
        if key in with_ws and key in without:
            gain = 1 - with_ws[key]["cpu_s"] / without[key]["cpu_s"]
            rows.append(("training loop: M5 float64 at least 15% faster with a workspace "
                         "(thread CPU time, page faults included)",
                         f"{gain:.1%} faster", gain >= 0.15))
    else:
        why = "not measured: the generated modules have no workspace()" if loop else \
            "not measured: run with --loop"
        rows.append(("training loop: zero page faults per call with a workspace", why, None))
        rows.append(("training loop: M5 float64 at least 15% faster with a workspace", why, None))
    return rows


def _criteria_section(rows) -> list[str]:
    mark = {True: "pass", False: "**FAIL**", None: "n/a"}
    return ["## Issue 18 criteria (this run)", "",
            *_table(["criterion", "measured", "result"],
                    [[text, measured, mark[ok]] for text, measured, ok in rows]), ""]


def render(sessions: list[Session], haswell: Session | None, loop: list[dict],
           scale: Scale | None, notes: list[str], tolerances: dict[str, float], command: str,
           quick: bool, loads: tuple[float, float],
           loop_counts: tuple[int, int] = (100, 10)) -> str:
    """The whole RESULTS.md; sessions[0] is the one-thread CPU-time session."""
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    one_thread = sessions[0]
    lines = ["# symgrad benchmark results", "", f"Written by `{command}` on {date}."]
    if quick:
        lines.append("\n**Quick smoke-test run: too few repeats to quote these figures.**")
    facts = dict(one_thread.data["facts"])
    facts.pop("threads", None)  # per session below
    for session in [*sessions, haswell]:
        if session:
            facts[f"threads ({session.title})"] = session.data["facts"]["threads"]
    if haswell:
        facts["NumPy (Haswell session)"] = haswell.data["facts"]["NumPy"]
    facts["load average (1 min)"] = f"{loads[0]:.2f} before the run, {loads[1]:.2f} after"
    lines += ["", "## Machine", "", *_table(["", ""], [[k, v] for k, v in facts.items()]), ""]
    if loads[0] > 0.5 or loads[1] > 1.0:
        lines += [f"Other work shared the {facts.get('cores', '?').split()[0]} cores during "
                  "this run (load average above): wall-clock numbers are noisy; the "
                  "one-thread CPU-time ratios much less so.", ""]
    lines += _criteria_section(criteria(one_thread, haswell, loop))
    for session in [*sessions, haswell]:
        if session:
            lines += _session_section(session)
    lines += _loop_section(loop, *loop_counts)
    lines += _agreement_section(one_thread, tolerances)
    lines += _memory_section(one_thread)
    lines += _dtype_section(one_thread)
    if scale:
        lines += _scale_section(scale)
    if notes:
        lines += ["## Notes", "", *[f"- {note}" for note in notes], ""]
    return "\n".join(lines)
