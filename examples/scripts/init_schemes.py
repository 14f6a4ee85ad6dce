"""Initialisation and vanishing gradients, from the course notes: the L-layer ReLU network of
examples/deep_relu.py trained from each of the generated module's init_params schemes.

    symgrad derive examples/deep_relu.py            # writes generated/deep_relu.py
    python examples/scripts/init_schemes.py         # prints a table; writes init_schemes.png

What the notes explain, and what the table and the picture show:
- zeros: every hidden unit of a layer computes the same function and gets the same
  gradient, so gradient descent never makes them differ: the symmetry is never broken. With
  ReLU the hidden activations are 0, every weight's gradient is 0, and only the output bias
  learns: the cost stalls at the entropy of the labels.
- small (0.01 N(0, 1)): each layer multiplies the signal, forward and backward, by about
  0.01 sqrt(fan-in) (0.05 here): the output hardly depends on the input, and every layer's
  gradient vanishes, five orders of magnitude below He's. Gradient descent barely moves
  in 2000 iterations: the cost stays at the entropy of the labels.
- he (N(0, 2/fan-in), for ReLU): the variance of the activations and of the gradients stays
  level from layer to layer, so every layer learns from the first iteration.
- xavier (N(0, 1/fan-in), for tanh): for ReLU it halves the variance at each layer; with a
  few layers it still trains.
"""
import argparse

import numpy as np

from train_deep import moons
from training import accuracy, gradient_descent, load_generated, pyplot, run, save_figure

SCHEMES = ("zeros", "small", "xavier", "he")


def layer_norms(module, params, X, Y):
    """||dW_l|| (Frobenius) of each layer's weights at these parameters."""
    _, grads = module.value_and_grad(*params, X, Y)
    return [float(np.linalg.norm(g)) for name, g in zip(module.PARAMS, grads)
            if name.startswith("W")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--sizes", default="2,25,25,25", help="layer sizes n0,...,n3")
    parser.add_argument("--png", default="init_schemes.png", help="picture ('' for none)")
    args = parser.parse_args(argv)

    deep = load_generated("deep_relu")
    dims = dict(zip(("n0", "n1", "n2", "n3"), map(int, args.sizes.split(","))))
    X, Y = moons()
    results = {}
    print(f"moons: X {X.shape}; layer sizes {args.sizes},1; {args.iterations} iterations")
    for scheme in SCHEMES:
        start = deep.init_params(dims, scheme, seed=1)
        norms = layer_norms(deep, start, X, Y)
        params, costs = gradient_descent(deep, start, (X, Y), args.iterations,
                                         args.learning_rate, every=max(args.iterations // 50, 1),
                                         quiet=True)
        acc = accuracy(deep.forward(*params, X)["AL"], Y)
        results[scheme] = dict(norms=norms, costs=costs, accuracy=acc, params=params)
        print(f"  {scheme:>6}: ||dW1..dW4|| at the start "
              + " ".join(f"{x:9.2e}" for x in norms)
              + f"   final cost {costs[-1]:.4f}, accuracy {100 * acc:5.1f} %")
    if args.png:
        _plot(results, args, args.png)
    return results


def _plot(results, args, path):
    plt = pyplot()
    if plt is None:
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for scheme, r in results.items():
        layers = range(1, len(r["norms"]) + 1)
        left.semilogy(layers, np.maximum(r["norms"], 1e-20), "o-", label=scheme)
        steps = np.linspace(0, args.iterations, len(r["costs"]))
        right.plot(steps, r["costs"], label=f"{scheme} ({100 * r['accuracy']:.0f} %)")
    left.set(title="gradient norm per layer at initialisation", xlabel="layer l",
             ylabel="||dW[l]|| (zeros: 0, drawn at 1e-20)", xticks=list(layers))
    right.set(title="cost while training", xlabel="iteration", ylabel="cost")
    left.legend()
    right.legend(title="scheme (training accuracy)")
    fig.tight_layout()
    save_figure(fig, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    run(main)
