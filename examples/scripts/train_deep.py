"""Train the generated L-layer network (ReLU hidden layers, sigmoid output; L = 4 in
examples/deep_relu.py) on two interleaved moons that this script generates, with plain
gradient descent and He initialisation (the generated module's init_params).

    symgrad derive examples/deep_relu.py            # writes generated/deep_relu.py
    python examples/scripts/train_deep.py           # trains it; writes deep_boundary.png
    symgrad derive examples/deep_relu.py --workspace -o ws  # trains in a workspace:
    python examples/scripts/train_deep.py --generated ws
"""
import argparse

import numpy as np

from training import GENERATED, accuracy, gradient_descent, load_generated, plot_boundary, run


def moons(m=400, noise=0.3, seed=0):
    """X (2, m) and Y (1, m): two interleaved half circles, one per class, with noise."""
    rng = np.random.default_rng(seed)
    half = m // 2
    t = np.pi * rng.uniform(size=half)
    upper = np.stack([np.cos(t), np.sin(t)])
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)])
    X = np.hstack([upper, lower]) + noise * rng.standard_normal((2, 2 * half))
    Y = np.hstack([np.zeros((1, half)), np.ones((1, half))])
    return X, Y


def _sizes(text):
    """--sizes: five positive integers n0,...,n4, n0 = 2 and n4 = 1 (the data's)."""
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        sizes = []
    if len(sizes) != 5 or min(sizes) < 1 or sizes[0] != 2 or sizes[-1] != 1:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give five positive integers, 2 first (the moons' two features) and 1 "
            "last (one output), e.g. 2,20,7,5,1")
    return sizes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--sizes", default="2,20,7,5,1", type=_sizes,
                        help="layer sizes n0,...,n4: 2 inputs (the moons), three hidden "
                        "layers, 1 output")
    parser.add_argument("--png", default="deep_boundary.png", help="picture ('' for none)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--generated", default=str(GENERATED), metavar="DIR",
                        help="where deep_relu.py is (one derived with --workspace trains in a "
                        "workspace)")
    args = parser.parse_args(argv)

    deep = load_generated("deep_relu", args.generated)
    sizes = args.sizes
    X, Y = moons()
    print(f"moons data set: X {X.shape}; layer sizes {sizes}; parameters {deep.PARAMS}")
    start = deep.init_params(dict(zip(("n0", "n1", "n2", "n3"), sizes)), "he", seed=1)
    params, costs = gradient_descent(deep, start, (X, Y), args.iterations,
                                     args.learning_rate, every=max(args.iterations // 100, 1),
                                     quiet=args.quiet)
    acc = accuracy(deep.forward(*params, X)["AL"], Y)
    print(f"training accuracy {100 * acc:.1f} %, final cost {costs[-1]:.4f}")
    if args.png:
        path = plot_boundary(lambda grid: deep.forward(*params, grid)["AL"], X, Y, args.png,
                             f"deep_relu {sizes}: {100 * acc:.1f} % training accuracy")
        if path:
            print(f"wrote {path}")
    return dict(params=params, costs=costs, accuracy=acc)


if __name__ == "__main__":
    run(main)
