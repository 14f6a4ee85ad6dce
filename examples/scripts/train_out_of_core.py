"""Logistic regression on more examples than fit in a memory budget: the data set is written
to disk as .npy shards (columns of X and Y), read back as one Dask array chunked along the
examples, and trained by gradient descent with the `--target array-api` module of
examples/logistic_regression.py; each step's loss and gradients are Dask reductions over the
shards, computed by Dask's threads or, with --workers N, by a dask.distributed LocalCluster
of N worker processes on this machine (localhost only).

    python examples/scripts/train_out_of_core.py                  # 10**7 examples, 880 MB
    python examples/scripts/train_out_of_core.py --workers 2 --examples 1000000
"""
import argparse
import contextlib
import importlib
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from symgrad.codegen import module_source  # noqa: E402
from symgrad.derive import derive  # noqa: E402
from symgrad.load import load  # noqa: E402
from symgrad.testing import load_module  # noqa: E402
from training import _progress, run  # noqa: E402


def modules():
    """(array-API module, NumPy module) of examples/logistic_regression.py, built in memory."""
    (model, names), = load(ROOT / "examples" / "logistic_regression.py")
    d = derive(model, names)
    return (load_module(module_source(d, None, "array-api"), "logistic_regression"),
            load_module(module_source(d), "logistic_regression"))


def write_shards(folder, examples, features, shard, seed=0):
    """Write X_k.npy (features, n_k) and Y_k.npy (1, n_k) for the shards of a synthetic data
    set (labels drawn from a logistic model with true weights), one shard in memory at a time;
    the paths, in order."""
    rng = np.random.default_rng(seed)
    true_w = rng.standard_normal((features, 1))
    paths = []
    for k, start in enumerate(range(0, examples, shard)):
        n = min(shard, examples - start)
        X = rng.standard_normal((features, n))
        Y = (rng.uniform(size=(1, n)) < 1 / (1 + np.exp(-(true_w.T @ X)))).astype(np.float64)
        x_path, y_path = Path(folder) / f"X_{k:05d}.npy", Path(folder) / f"Y_{k:05d}.npy"
        np.save(x_path, X)
        np.save(y_path, Y)
        paths.append((x_path, y_path))
    return paths


def lazy_data(paths):
    """X and Y as Dask arrays, one chunk per shard, each read (memory-mapped) when needed."""
    import dask
    import dask.array as da

    def column_blocks(which):
        blocks = []
        for pair in paths:
            header = np.load(pair[which], mmap_mode="r")
            blocks.append(da.from_delayed(dask.delayed(np.load)(pair[which]),
                                          header.shape, header.dtype))
        return da.concatenate(blocks, axis=1)
    return column_blocks(0), column_blocks(1)


@contextlib.contextmanager
def scheduler(workers):
    """A dask.distributed Client of a LocalCluster of `workers` processes on 127.0.0.1, closed
    on exit; with workers=0 none (Dask's threads compute)."""
    if not workers:
        yield None
        return
    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=workers, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None, processes=True) as cluster, \
            Client(cluster) as client:
        yield client


def value_and_grad(module, w, b, X, Y):
    """The loss and gradients over every example, computed by the current Dask scheduler."""
    import dask
    import dask.array as da
    loss, grads = module.value_and_grad(da.from_array(w), b, X, Y)
    return dask.compute(loss, grads)


def train(module, X, Y, iterations, learning_rate, quiet=False):
    """Gradient descent from zeros; the parameters and the cost of each step."""
    w, b, costs = np.zeros((X.shape[0], 1)), 0.0, []
    for i in range(iterations + 1):
        cost, (dw, db) = value_and_grad(module, w, b, X, Y)
        costs.append(float(cost))
        if not quiet:
            _progress(i, iterations, float(cost))
        if i < iterations:
            w, b = w - learning_rate * dw, b - learning_rate * float(db)
    return (w, b), costs


NEEDS = {"dask.array": "dask[array]", "array_api_compat": "array-api-compat",
         "distributed": "distributed"}      # module: the package pip installs it from


def missing(workers):
    """Refuse (exit 1, one line) before any shard is written when what the run imports is
    not installed: Dask's arrays, array-api-compat (Dask needs it for the module) and, with
    --workers, dask.distributed."""
    needed = [name for name in NEEDS if name != "distributed" or workers]
    absent = []
    for name in needed:
        try:
            importlib.import_module(name)
        except ImportError:
            absent.append(NEEDS[name])
    if absent:
        sys.exit(f"train_out_of_core.py needs {', '.join(absent)}: pip install "
                 + " ".join(shlex.quote(a) for a in absent))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--examples", type=int, default=10**7)
    p.add_argument("--features", type=int, default=10)
    p.add_argument("--shard", type=int, default=10**6, help="examples per .npy shard")
    p.add_argument("--budget-mb", type=float, default=200.0,
                   help="the memory budget the data set must exceed (MB)")
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--learning-rate", type=float, default=1.0)
    p.add_argument("--workers", type=int, default=0,
                   help="dask.distributed worker processes on localhost (0: Dask's threads)")
    p.add_argument("--folder", help="where the shards go (default: a temporary folder)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    missing(args.workers)
    size = args.examples * (args.features + 1) * 8 / 1e6
    if not args.quiet:
        print(f"{args.examples} examples, {size:.0f} MB on disk, budget {args.budget_mb:.0f} MB"
              + (" (the data set exceeds it)" if size > args.budget_mb else ""))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.folder or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        paths = write_shards(folder, args.examples, args.features, args.shard)
        X, Y = lazy_data(paths)
        module, _ = modules()
        with scheduler(args.workers):
            params, costs = train(module, X, Y, args.iterations, args.learning_rate,
                                  args.quiet)
    return {"params": params, "costs": costs, "megabytes": size}


if __name__ == "__main__":
    run(main)
