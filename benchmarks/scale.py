"""Derivation scale: `symgrad derive` on deep MLPs against SymPy's expansion into scalars.

symgrad differentiates matrix expressions with symbolic widths, so its cost should grow
with the number of layers only. The alternative, expanding every matrix into scalars and
differentiating each entry with SymPy, grows with the widths and is shown beside it.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import sympy as sp

import derive

MLP_SOURCE = '''"""Tanh MLP of depth {depth}, symbolic widths (written by benchmarks/scale.py)."""
import sympy as sp

import symgrad as sg

m = sp.Symbol("m", integer=True, positive=True)
widths = [*sp.symbols("n_0:{depth}", integer=True, positive=True), 1]
X, Y = sg.Input("X", widths[0], m), sg.Input("Y", 1, m)
params = []
A = X
for k in range(1, len(widths)):
    W, b = sg.Param(f"W{{k}}", widths[k], widths[k - 1]), sg.Param(f"b{{k}}", widths[k], 1)
    params += [W, b]
    Z = W @ A + b
    A = sg.tanh(Z) if k < len(widths) - 1 else sg.sigmoid(Z)

cost = sg.binary_cross_entropy(A, Y)
model = sg.Model("mlp{depth}", loss=cost, params=params, inputs=[X, Y])
'''


def mlp_model_source(depth: int) -> str:
    """Model file text: `depth` dense layers, tanh hidden, sigmoid output, mean BCE."""
    return MLP_SOURCE.format(depth=depth)


RUNS = 5  # derive runs per depth; the fastest counts


def time_derivations(depths, repeats: int = RUNS) -> dict[int, derive.Outcome]:
    """Time `symgrad derive` on the depth-d MLP for each d, in a scratch directory: the
    fastest of `repeats` runs, since load from elsewhere only ever adds time (as timeit)."""
    outcomes = {}
    with tempfile.TemporaryDirectory(prefix="symgrad-scale-") as scratch:
        for depth in depths:
            model_file = Path(scratch) / f"mlp{depth}.py"
            model_file.write_text(mlp_model_source(depth))
            runs = [derive.derive(model_file, Path(scratch) / f"generated{k}")
                    for k in range(repeats)]
            outcomes[depth] = min(runs, key=lambda outcome: (not outcome.ok, outcome.seconds))
    return outcomes


def time_startup() -> derive.Outcome:
    """A fresh interpreter importing symgrad: the fixed part of every derive time."""
    return derive.run_python("import symgrad")


def time_scalar_expansion(width: int, depth: int, m: int) -> tuple[float, int]:
    """Seconds to expand the same MLP at fixed sizes into scalars and differentiate it.

    Builds the network as SymPy matrix expressions with concrete sizes, expands them
    with `as_explicit()`, then takes `diff` of the loss for every parameter entry.
    Returns (seconds, number of gradient entries).
    """
    start = time.perf_counter()
    X, Y = sp.MatrixSymbol("X", width, m), sp.MatrixSymbol("Y", 1, m)
    A, params = X, []
    for k in range(1, depth + 1):
        rows = 1 if k == depth else width
        W, b = sp.MatrixSymbol(f"W{k}", rows, width), sp.MatrixSymbol(f"b{k}", rows, 1)
        params += [W, b]
        activation = sp.tanh if k < depth else (lambda z: 1 / (1 + sp.exp(-z)))
        A = (W * A + b * sp.OneMatrix(1, m)).applyfunc(activation)
    A, Y = A.as_explicit(), Y.as_explicit()
    loss = -sum(Y[j] * sp.log(A[j]) + (1 - Y[j]) * sp.log(1 - A[j]) for j in range(m)) / m
    entries = [P[i, j] for P in params for i in range(P.shape[0]) for j in range(P.shape[1])]
    for entry in entries:
        sp.diff(loss, entry)
    return time.perf_counter() - start, len(entries)
