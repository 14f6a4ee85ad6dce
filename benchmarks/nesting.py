"""Derivation time against nesting depth: nested activations and random compositions.

    python benchmarks/nesting.py [--depths 5,10,20,40] [--seed 0]

For each depth, derives (build, sweep, emit) two models in this process and prints the
seconds each took, and the growth from one depth to the next: `nested`, a chain of
sigmoids sigmoid(sigmoid(...(W X))); `random`, a seeded random composition of activations,
products with a square parameter, Hadamard products with the input and bias broadcasts.
Scalar simplification works under a budget (symgrad/simplify.py), so the time grows with
the number of nodes, not exponentially with the nesting. Certification is timed apart.
"""
import argparse
import random
import time
import warnings

import sympy as sp

import symgrad as sg
from symgrad.certify import certify
from symgrad.codegen import module_source
from symgrad.derive import derive

n, m = sp.symbols("n m", integer=True, positive=True)


def nested(depth):
    X, W = sg.Input("X", n, m), sg.Param("W", n, n)
    A = W @ X
    for _ in range(depth):
        A = sg.sigmoid(A)
    return sg.Model("nested", loss=sg.mean(A), params=[W], inputs=[X])


def composition(depth, seed):
    rng = random.Random(seed)
    X = sg.Input("X", n, m)
    params, A = [], X
    activations = [sg.sigmoid, sg.tanh, sg.relu, sg.softplus, sg.exp]
    for k in range(depth):
        kind = rng.choice(["activation", "activation", "product", "hadamard", "bias"])
        if kind == "activation":
            f = rng.choice(activations)
            A = f(A) if f is not sg.exp else sg.exp(sg.tanh(A))      # keep exp bounded
        elif kind == "product":
            params.append(sg.Param(f"W{k}", n, n))
            A = params[-1] @ A
        elif kind == "hadamard":
            A = sp.HadamardProduct(A, X)
        else:
            params.append(sg.Param(f"b{k}", n, 1))
            A = A + params[-1]
    if not params:
        params.append(sg.Param("W", n, n))
        A = params[-1] @ A
    return sg.Model("random_graph", loss=sg.mean(A), params=params, inputs=[X])


def timed(model):
    start = time.perf_counter()
    source = module_source(derive(model))
    derived = time.perf_counter() - start
    start = time.perf_counter()
    certify(model, source)
    return derived, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="5,10,20,40")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    depths = [int(d) for d in args.depths.split(",")]
    print(f"{'depth':>5}  {'nested s':>9} {'growth':>7} {'certify s':>9}  "
          f"{'random s':>9} {'growth':>7} {'certify s':>9}")
    previous = None
    for depth in depths:
        row = [timed(nested(depth)), timed(composition(depth, args.seed))]
        growth = ["" if previous is None else f"{now[0] / before[0]:.1f}x"
                  for now, before in zip(row, previous or row)]
        print(f"{depth:>5}  {row[0][0]:>9.2f} {growth[0]:>7} {row[0][1]:>9.2f}  "
              f"{row[1][0]:>9.2f} {growth[1]:>7} {row[1][1]:>9.2f}", flush=True)
        previous = row


if __name__ == "__main__":
    main()
