"""Train the generated two-layer network (tanh hidden layer, sigmoid output) on the planar
"flower" data set with plain gradient descent, as in the classic deep-learning course.

    symgrad derive examples/two_layer.py            # writes generated/two_layer.py
    python examples/scripts/train_planar.py         # trains it; writes planar_boundary.png
    symgrad derive examples/two_layer.py --workspace -o ws  # trains in a workspace:
    python examples/scripts/train_planar.py --generated ws

It also trains from zero initialisation, to show that the hidden units then stay identical
(the symmetry is never broken), and prints what that costs in accuracy.
"""
import argparse

import numpy as np

from training import GENERATED, accuracy, gradient_descent, load_generated, plot_boundary, run


def flower(m=400, petals=4, seed=1):
    """X (2, m) and Y (1, m): two classes of points along the petals of a rose r = a sin(4t)."""
    rng = np.random.default_rng(seed)
    half = m // 2
    X, Y = np.zeros((2, 2 * half)), np.zeros((1, 2 * half))
    for label in (0, 1):
        t = np.linspace(label * 3.12, (label + 1) * 3.12, half) + 0.2 * rng.standard_normal(half)
        r = petals * np.sin(4 * t) + 0.2 * rng.standard_normal(half)
        cols = slice(label * half, (label + 1) * half)
        X[:, cols] = r * np.sin(t), r * np.cos(t)
        Y[:, cols] = label
    return X, Y


def initial_params(n_x, n_h, scale=0.01, seed=2):
    """Small random weights (scale * standard normal) and zero biases; scale=0 gives all zeros."""
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal((n_h, n_x)), np.zeros((n_h, 1)),
            scale * rng.standard_normal((1, n_h)), np.zeros((1, 1))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10000)
    parser.add_argument("--hidden", type=int, default=4, help="hidden units n_h")
    parser.add_argument("--learning-rate", type=float, default=1.2)
    parser.add_argument("--png", default="planar_boundary.png", help="picture ('' for none)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--generated", default=str(GENERATED), metavar="DIR",
                        help="where two_layer.py is (one derived with --workspace trains in a "
                        "workspace)")
    args = parser.parse_args(argv)

    two_layer = load_generated("two_layer", args.generated)
    X, Y = flower()
    print(f"flower data set: X {X.shape}, Y {Y.shape}, one example per column")
    results = {}
    for name, scale in (("random", 0.01), ("zero", 0.0)):
        print(f"{name} initialisation (scale {scale}), {args.iterations} iterations, "
              f"learning rate {args.learning_rate}:")
        params, costs = gradient_descent(
            two_layer, initial_params(X.shape[0], args.hidden, scale), (X, Y),
            args.iterations, args.learning_rate, every=max(args.iterations // 100, 1),
            quiet=args.quiet)
        W1 = params[0]
        spread = float(np.max(np.abs(W1 - W1[0])))
        acc = accuracy(two_layer.forward(*params, X)["A2"], Y)
        print(f"  training accuracy {100 * acc:.1f} %, final cost {costs[-1]:.4f}, "
              f"largest difference between hidden units' weights {spread:.2e}")
        results[name] = dict(params=params, costs=costs, accuracy=acc, spread=spread)
    if results["zero"]["spread"] == 0:
        print("zero initialisation: every hidden unit computes the same function and gets the "
              "same gradient, so the units stay identical and the network is no better than one "
              "unit (here W1 = 0 and W2 = 0 even give zero gradients for both, and the cost "
              "never moves); small random weights break that symmetry")
    if args.png:
        params = results["random"]["params"]
        path = plot_boundary(lambda grid: two_layer.forward(*params, grid)["A2"], X, Y,
                             args.png, f"two_layer, n_h = {args.hidden}: "
                             f"{100 * results['random']['accuracy']:.1f} % training accuracy")
        if path:
            print(f"wrote {path}")
    return results


if __name__ == "__main__":
    run(main)
