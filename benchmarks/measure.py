"""Measuring implementations: agreement of results, output dtypes, time, page faults and peak
memory."""
from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from dataclasses import dataclass
from typing import Callable

import numpy as np

try:
    import resource
except ImportError:  # not on Windows
    resource = None

TOLERANCE = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-3}


class AgreementError(AssertionError):
    """Two implementations disagree on a loss or a gradient."""


def rel_error(a, b) -> float:
    """max |a - b| relative to max |b| (0 when both are zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.max(np.abs(b), initial=0.0)
    diff = np.max(np.abs(a - b), initial=0.0)
    return diff / scale if scale else diff


def agreement(results: dict, reference: str, names: tuple[str, ...], rtol: float) -> dict:
    """Largest relative error of each implementation against `reference`.

    `results` maps an implementation to (loss, grads) in NumPy, grads in `names` order.
    Raises AgreementError listing every loss or gradient off by more than `rtol`,
    or of a different shape.
    """
    ref_loss, ref_grads = results[reference]
    worst, failures = {}, []
    for impl, (loss, grads) in results.items():
        errors = {"loss": rel_error(loss, ref_loss)}
        for name, grad, ref in zip(names, grads, ref_grads):
            if np.shape(grad) != np.shape(ref):
                failures.append(f"{impl}: d{name} has shape {np.shape(grad)}, "
                                f"expected {np.shape(ref)}")
                continue
            errors[f"d{name}"] = rel_error(grad, ref)
        if len(grads) != len(ref_grads):
            failures.append(f"{impl}: {len(grads)} gradients, expected {len(ref_grads)}")
        failures += [f"{impl}: {what} relative error {err:.2e} > {rtol:.0e} (vs {reference})"
                     for what, err in errors.items() if not err <= rtol]
        worst[impl] = max(errors.values())
    if failures:
        raise AgreementError("implementations disagree:\n  " + "\n  ".join(failures))
    return worst


def check_agreement(results: dict, anchors: list[str], names: tuple[str, ...],
                    rtol: float) -> dict[str, float]:
    """Every implementation against every anchor (the references, PyTorch eager): the
    largest relative error of each over the anchors; AgreementError on any above rtol."""
    worst: dict[str, float] = {}
    for anchor in anchors:
        for impl, error in agreement(results, anchor, names, rtol).items():
            if impl != anchor:
                worst[impl] = max(worst.get(impl, 0.0), error)
    return worst


def dtype_problems(result, names: tuple[str, ...], dtype) -> list[str]:
    """What in (loss, grads) is not of `dtype` (a loss given as a Python float is accepted)."""
    loss, grads = result
    problems = []
    if hasattr(loss, "dtype") and loss.dtype != dtype:
        problems.append(f"loss is {loss.dtype}")
    for name, grad in zip(names, grads):
        if np.asarray(grad).dtype != dtype:
            problems.append(f"d{name} is {np.asarray(grad).dtype}")
    return problems


def minor_faults() -> int:
    """Minor page faults of this process so far (0 where the OS does not say)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else 0


CLOCKS = {  # name -> nanosecond clock
    "thread": time.thread_time_ns,  # CPU time of the calling thread: blind to other load
    "process": time.process_time_ns,  # CPU time of every thread of this process
    "wall": time.perf_counter_ns,
}


def _sample(fn: Callable[[], object], number: int, clock) -> tuple[float, float]:
    """(seconds, minor page faults) per call over `number` back-to-back calls."""
    faults, start = minor_faults(), clock()
    for _ in range(number):
        fn()
    return (clock() - start) * 1e-9 / number, (minor_faults() - faults) / number


def quartiles(values) -> tuple[float, float, float]:
    """(first quartile, median, third quartile)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


@dataclass
class Timing:
    """What time_samples measured, per implementation."""

    samples: dict[str, list[float]]  # seconds per call, sample by sample, in the same order
    faults: dict[str, float]  # mean minor page faults per call (a new page of memory each)
    clocks: dict[str, str]  # the clock each was timed by

    @property
    def seconds(self) -> dict[str, float]:
        """Median seconds per call."""
        return {name: statistics.median(values) for name, values in self.samples.items()}

    def ratios(self, name: str, to: str) -> list[float]:
        """Ratios of name's samples to those of `to` taken in the same round at the same
        place: the machine's drift between rounds cancels from each."""
        return [a / b for a, b in zip(self.samples[name], self.samples[to], strict=True)]


def _calibrate(fn: Callable[[], object], min_sample_s: float, clock) -> int:
    """Warm `fn` up, then find how many calls make one sample last `min_sample_s`."""
    fn()  # first call: JIT compilation, caches
    fn()
    number = 1
    while _sample(fn, number, clock)[0] * number < min_sample_s:
        number *= 2
    return number


def time_samples(calls: dict[str, Callable[[], object]], groups: list[list[str]],
                 clocks: dict[str, str], repeats: int, min_sample_s: float, rounds: int = 5,
                 pause_s: float = 0.2) -> Timing:
    """Seconds and page faults per call of each thunk, over about `repeats` samples, each
    timed by its clock (a name in CLOCKS).

    `groups` partitions the names of `calls` by runtime: implementations of one group share
    a library and its threads (the NumPy ones: symgrad's, the references, autograd). Groups
    take turns in `rounds` blocks; a block starts after a pause, so the worker threads the
    previous library left spinning go idle and no two libraries compete for the cores.
    Inside a block the members alternate sample by sample, the next one first each time,
    so that a burst of load from elsewhere falls on them alike; before each sample a
    member makes one untimed call, which puts its own arrays back in the caches, as they
    are for a library timed alone or in a training loop. Spreading blocks over rounds
    spreads the machine's drift over the groups. The garbage collector is off while
    sampling, as in timeit.

    Every implementation takes as many samples, in the same rounds, so that `Timing.ratios`
    can pair them.
    """
    clock = {name: CLOCKS[clocks[name]] for name in calls}
    numbers = {name: _calibrate(fn, min_sample_s, clock[name]) for name, fn in calls.items()}
    rounds = max(1, min(rounds, repeats))
    per_block = -(-repeats // rounds)
    samples: dict[str, list[float]] = {name: [] for name in calls}
    faults: dict[str, list[float]] = {name: [] for name in calls}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for group in groups:
                time.sleep(pause_s)
                calls[group[0]]()
                for i in range(per_block):
                    for name in group[i % len(group):] + group[:i % len(group)]:
                        if len(group) > 1:
                            calls[name]()
                        seconds, new_pages = _sample(calls[name], numbers[name], clock[name])
                        samples[name].append(seconds)
                        faults[name].append(new_pages)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(samples, {name: statistics.mean(v) for name, v in faults.items()},
                  dict(clocks))


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes allocated (tracemalloc) during one call, its results included."""
    fn()  # warm up: one-time allocations are not the call's
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        result = fn()  # noqa: F841 -- kept alive until the peak is read
        return tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
