"""What the training demos share: import a generated module, gradient descent with a progress
bar, accuracy, a picture of a 2-D decision boundary (matplotlib, optional) saved atomically,
and an end on Ctrl-C in one line."""
import importlib.util
import os
import signal
import sys
from pathlib import Path

import numpy as np

GENERATED = Path(__file__).resolve().parents[2] / "generated"


def load_generated(name, directory=GENERATED):
    """The generated module directory/<name>.py, imported from its path (no SymPy needed)."""
    path = Path(directory) / f"{name}.py"
    if not path.is_file():
        sys.exit(f"{path} not found: run `symgrad derive examples/{name}.py` first")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gradient_descent(module, params, inputs, iterations, learning_rate, every=100, quiet=False):
    """Plain gradient descent on module.value_and_grad; the cost on a progress bar.
    Returns the trained parameters and the costs at every `every` iterations. A module
    derived with `--workspace` computes every step in one workspace (no page is mapped
    afresh at each step); the parameters are updated in place, as are its gradients."""
    params, costs = [np.array(p, dtype=np.float64) for p in params], []
    keywords = {"workspace": module.workspace()} if hasattr(module, "workspace") else {}
    for i in range(iterations + 1):
        cost, grads = module.value_and_grad(*params, *inputs, **keywords)
        if i % every == 0 or i == iterations:
            costs.append(cost)
            if not quiet:
                _progress(i, iterations, cost)
        if i < iterations:
            for p, g in zip(params, grads):
                p -= learning_rate * g
    return params, costs


def run(main):
    """Run a demo's main(): Ctrl-C ends it with the one line `interrupted` and exit code 130,
    not a traceback (on a line of its own, after a progress bar drawn halfway)."""
    try:
        main()
    except KeyboardInterrupt:
        if _bar["drawn"]:
            print(flush=True)
        print("interrupted", file=sys.stderr)
        sys.exit(128 + signal.SIGINT)


_bar = {"drawn": False}     # a progress bar is on the terminal's line, not ended


def _progress(i, total, cost, width=30):
    """A bar redrawn in place on a terminal; ten lines in a log or a pipe."""
    tty = sys.stdout.isatty()
    if not tty and i % max(total // 10, 1) and i != total:
        return
    done = width * i // max(total, 1)
    end = "\n" if i == total or not tty else "\r"
    print(f"  [{'#' * done}{'.' * (width - done)}] {i:>6}/{total}  cost {cost:.6f}", end=end,
          flush=True)
    _bar["drawn"] = end == "\r"


def accuracy(probabilities, Y):
    """The fraction of columns where probability > 0.5 agrees with the 0/1 label."""
    return float(np.mean((probabilities > 0.5) == (Y > 0.5)))


def pyplot():
    """matplotlib.pyplot drawing into files (Agg), or None, said, when it is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install 'symgrad[demo]'): no picture")
        return None
    return plt


def save_figure(fig, path):
    """Save fig to path (the format from its suffix, PNG without one) through a temporary
    file beside it, renamed into place: Ctrl-C or an error leaves the old file or the new
    one, never half of one, and no temporary. Closes fig."""
    import matplotlib.pyplot as plt
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            fig.savefig(f, format=path.suffix[1:].lower() or "png", dpi=100)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        plt.close(fig)


def plot_boundary(predict, X, Y, path, title):
    """Save a PNG of predict's decision regions over the plane, with the data on top.
    Returns the path, or None when matplotlib is not installed."""
    plt = pyplot()
    if plt is None:
        return None
    lo, hi = X.min(axis=1) - 1, X.max(axis=1) + 1
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.vstack([xx.ravel(), yy.ravel()])
    regions = (predict(grid) > 0.5).reshape(xx.shape)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.contourf(xx, yy, regions, levels=[-0.5, 0.5, 1.5], colors=["#f4b6b6", "#b6c8f4"])
    ax.scatter(X[0], X[1], c=Y.ravel(), cmap="bwr_r", s=12, edgecolors="k", linewidths=0.3)
    ax.set_title(title)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    fig.tight_layout()
    save_figure(fig, path)
    return path
