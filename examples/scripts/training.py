"""What the training demos share: import a generated module, gradient descent with a progress
bar, accuracy, and a picture of a 2-D decision boundary (matplotlib, optional)."""
import importlib.util
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


def _progress(i, total, cost, width=30):
    """A bar redrawn in place on a terminal; ten lines in a log or a pipe."""
    tty = sys.stdout.isatty()
    if not tty and i % max(total // 10, 1) and i != total:
        return
    done = width * i // max(total, 1)
    end = "\n" if i == total or not tty else "\r"
    print(f"  [{'#' * done}{'.' * (width - done)}] {i:>6}/{total}  cost {cost:.6f}", end=end,
          flush=True)


def accuracy(probabilities, Y):
    """The fraction of columns where probability > 0.5 agrees with the 0/1 label."""
    return float(np.mean((probabilities > 0.5) == (Y > 0.5)))


def plot_boundary(predict, X, Y, path, title):
    """Save a PNG of predict's decision regions over the plane, with the data on top.
    Returns the path, or None when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install 'symgrad[demo]'): no picture")
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
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
