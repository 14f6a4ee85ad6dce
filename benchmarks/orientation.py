"""Which way round to store a matrix product: row-major a @ b against the generated `_matmul`.

`_matmul` stores a result of 2**14 entries or more with fewer rows than columns column-major:
it computes b.T @ a.T into the result's transpose. The dot products are the same; BLAS
sees the product the other way round, and OpenBLAS splits it across threads differently.
This times both, interleaved sample by sample, on the products of the benchmark models
(columns are examples, so activations are wider than tall) and a few more shapes.

Run: python benchmarks/orientation.py [--threads 2] [--fresh-pages]
"""
import argparse
import os
import resource
import statistics
import time

SHAPES = [  # (rows, inner, cols) of the result rows x cols
    (128, 784, 256),   # M2: W1 @ X
    (128, 256, 784),   # M2: dZ1 @ X.T
    (256, 784, 512),   # M3: W1 @ X
    (256, 256, 512),   # M3: W2 @ A1, W2.T @ dZ2
    (256, 512, 784),   # M3: dZ1 @ X.T
    (256, 1, 512),     # M3: W6.T times dZ, an outer product
    (512, 256, 256),   # taller than wide: the same call both ways
    (64, 64, 512),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    parser.add_argument("--samples", type=int, default=21)
    parser.add_argument("--fresh-pages", action="store_true",
                        help="glibc: map every array of 64 KiB or more afresh, so that each "
                             "result's pages fault, as in a process whose heap was trimmed")
    args = parser.parse_args()
    threads = str(args.threads)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = threads               # before NumPy loads its BLAS
    if args.fresh_pages:
        import ctypes
        ctypes.CDLL("libc.so.6").mallopt(-3, 65536)      # M_MMAP_THRESHOLD, fixed
    import numpy as np

    from symgrad.printing.numpy import HELPERS
    namespace = {"np": np}
    exec(HELPERS["_matmul"], namespace)
    matmul = namespace["_matmul"]
    rng = np.random.default_rng(0)
    print(f"{threads} BLAS threads; median ms per product over {args.samples} samples, "
          "each a run of back-to-back calls; ratio: median of paired samples; faults: minor "
          "page faults per call (a fresh page of the result costs one)")
    print(f"{'dtype':8} {'rows x inner x cols':>20} {'a @ b':>9} {'_matmul':>9} {'ratio':>6} "
          f"{'faults':>7} {'faults':>8}")
    for dtype in (np.float64, np.float32):
        for rows, inner, cols in SHAPES:
            a = rng.standard_normal((rows, inner)).astype(dtype)
            b = rng.standard_normal((inner, cols)).astype(dtype)
            calls = {"a @ b": (lambda a=a, b=b: np.dot(a, b)) if inner == 1
                     else (lambda a=a, b=b: a @ b),
                     "_matmul": lambda a=a, b=b: matmul(a, b)}
            assert np.allclose(calls["a @ b"](), calls["_matmul"](), rtol=1e-3, atol=1e-3)
            number = max(1, int(0.005 / _time(calls["a @ b"], 1)[0]))
            times, faults = {k: [] for k in calls}, {k: [] for k in calls}
            for _ in range(args.samples):
                for k, f in calls.items():
                    f()
                    seconds, faulted = _time(f, number)
                    times[k].append(seconds)
                    faults[k].append(faulted)
            ratio = statistics.median(t / r for t, r in zip(times["_matmul"], times["a @ b"]))
            print(f"{np.dtype(dtype).name:8} {f'{rows} x {inner} x {cols}':>20} "
                  f"{statistics.median(times['a @ b']) * 1e3:9.3f} "
                  f"{statistics.median(times['_matmul']) * 1e3:9.3f} {ratio:6.2f} "
                  f"{statistics.median(faults['a @ b']):7.0f} "
                  f"{statistics.median(faults['_matmul']):8.0f}")


def _time(f, number):
    """Seconds and minor page faults per call, over number calls."""
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    for _ in range(number):
        f()
    seconds = time.perf_counter() - start
    return seconds / number, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / number


if __name__ == "__main__":
    main()
