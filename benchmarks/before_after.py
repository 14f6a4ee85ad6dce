"""Time value_and_grad of two generations of the benchmark models in one run: before and after
a change to the code generator (ratios after/before, thread CPU time, one thread).

    symgrad derive benchmarks/models/m1_logreg.py -o /tmp/before   # at the old commit, each
    symgrad derive benchmarks/models/m1_logreg.py -o /tmp/after    # at the new one
    python benchmarks/before_after.py /tmp/before /tmp/after

The two are interleaved sample by sample, so the machine's noise hits both alike; both must
agree on the loss and the gradients first.
"""
from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import importlib.util  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import references  # noqa: E402


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(f"{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _arguments(spec, dtype, rng):
    params = [rng.standard_normal(s).astype(dtype) * 0.3 for s in spec.param_shapes.values()]
    X = rng.standard_normal((spec.n_x, spec.m)).astype(dtype)
    if spec.target == "real":
        Y = rng.standard_normal((spec.n_y, spec.m)).astype(dtype)
    else:
        Y = np.zeros((spec.n_y, spec.m), dtype)
        Y[rng.integers(0, spec.n_y, spec.m) if spec.n_y > 1 else 0, np.arange(spec.m)] = 1
        if spec.target == "binary":
            Y = (rng.random((spec.n_y, spec.m)) < 0.5).astype(dtype)
    return params + [X, Y]


def _sample(fn, number):
    start = time.thread_time()
    for _ in range(number):
        fn()
    return (time.thread_time() - start) / number


def main(before: Path, after: Path, repeats: int = 15) -> None:
    rng = np.random.default_rng(0)
    print(f"{'model':<16} {'dtype':<8} {'before':>10} {'after':>10} {'after/before':>13}")
    for spec in references.MODELS.values():
        old, new = _module(before / f"{spec.name}.py"), _module(after / f"{spec.name}.py")
        for dtype in (np.float64, np.float32):
            args = _arguments(spec, dtype, rng)
            (l0, g0), (l1, g1) = old.value_and_grad(*args), new.value_and_grad(*args)
            assert np.isclose(l0, l1, rtol=1e-5), spec.name
            assert all(np.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(g0, g1))
            calls = [lambda m=old, a=args: m.value_and_grad(*a),
                     lambda m=new, a=args: m.value_and_grad(*a)]
            once = _sample(calls[0], 3)
            number = max(1, int(0.02 / max(once, 1e-7)))
            times = [[], []]
            for _ in range(repeats):
                for k in (0, 1):
                    times[k].append(_sample(calls[k], number))
            t0, t1 = statistics.median(times[0]), statistics.median(times[1])
            print(f"{spec.name:<16} {np.dtype(dtype).name:<8} {t0 * 1e6:>8.1f}us "
                  f"{t1 * 1e6:>8.1f}us {t1 / t0:>12.3f}x")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
