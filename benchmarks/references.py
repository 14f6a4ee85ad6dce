"""The five benchmark models outside symgrad: sizes, data, and the implementations to time.

- `ModelSpec`: parameter and input names in call order (as `benchmarks/models/<name>.py`),
  sizes and the kind of target; `specs(tiny=True)` gives the same models at small sizes
  (the agreement test's);
- `make_data`: the one deterministic data generator, for any model and dtype;
- `Impl`: how the harness drives one implementation (convert the arguments once, untimed;
  the timed call; the result back to NumPy for the agreement check);
- the NumPy references, `textbook.py` and `tuned.py`, and `slow_powers`, which refuses a
  reference that raises to a small integer power with `**` or `np.power` (scalar `pow`,
  ~40 ns an element on negative data: the flattering reference of issue 18).
The autodiff peers (PyTorch, torch.compile, JAX, autograd, PyTensor) are in `peers.py`.
"""
from __future__ import annotations

import ast
import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import textbook
import tuned

GENERATED = "symgrad"
TEXTBOOK = "textbook NumPy"
TUNED = "tuned NumPy"


def _dense_shapes(*widths):
    """{"W1": (n1, n0), "b1": (n1, 1), ...} for a stack of dense layers."""
    shapes = {}
    for k in range(1, len(widths)):
        shapes[f"W{k}"] = (widths[k], widths[k - 1])
        shapes[f"b{k}"] = (widths[k], 1)
    return shapes


@dataclass(frozen=True)
class ModelSpec:
    """One benchmark model: names in call order and sizes."""

    name: str
    param_shapes: dict[str, tuple[int, ...]]
    n_x: int
    n_y: int
    m: int
    target: str  # "binary" (0/1), "onehot" (one 1 per column) or "real"

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.param_shapes)

    inputs = ("X", "Y")


def specs(tiny: bool = False) -> dict[str, ModelSpec]:
    """The five models at the benchmark's sizes, or at small ones (tiny=True)."""
    def size(full, small):
        return small if tiny else full

    n1, h2, h3, h5, m = size(12288, 7), size(128, 6), size(256, 5), size(512, 6), size(256, 9)
    return {spec.name: spec for spec in [
        ModelSpec("m1_logreg", {"w": (n1, 1), "b": ()}, n1, 1, size(209, 8), "binary"),
        ModelSpec("m2_softmax", _dense_shapes(size(784, 8), h2, size(10, 4)),
                  size(784, 8), size(10, 4), m, "onehot"),
        ModelSpec("m3_deep_relu", _dense_shapes(size(784, 8), *[h3] * 5, 1), size(784, 8), 1,
                  size(512, 7), "binary"),
        ModelSpec("m4_tiny", _dense_shapes(4, 8, 1), 4, 1, size(32, 6), "binary"),
        ModelSpec("m5_swish_gelu", _dense_shapes(h5, h5, h5), h5, h5, m, "real"),
    ]}


MODELS = specs()


def _targets(rng, kind, n_y, m):
    if kind == "binary":
        return rng.integers(0, 2, size=(n_y, m)).astype(float)
    if kind == "onehot":
        return np.eye(n_y)[:, rng.integers(0, n_y, size=m)]
    return rng.standard_normal((n_y, m))


def make_data(spec: ModelSpec, dtype, seed: int = 0) -> list:
    """Arguments of value_and_grad in call order: parameters, then X, then Y.

    Entries are N(0, 1/k) with k the longest side of the array (a Xavier-like scale
    that keeps every layer's activations away from saturation); a scalar parameter
    is a NumPy scalar of the dtype.
    """
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(shape) / math.sqrt(max(shape, default=1))
              for shape in spec.param_shapes.values()]
    X = rng.standard_normal((spec.n_x, spec.m))
    Y = _targets(rng, spec.target, spec.n_y, spec.m)
    dtype = np.dtype(dtype)
    return [np.asarray(a, dtype=dtype) if np.ndim(a) else dtype.type(a)
            for a in [*params, X, Y]]


@dataclass(frozen=True)
class Impl:
    """A value_and_grad implementation as the harness drives it."""

    prepare: Callable[[list], tuple]  # NumPy arguments -> native arguments (untimed)
    call: Callable[..., Any]  # the timed call: native arguments -> (loss, grads)
    to_numpy: Callable[[Any], tuple]  # its result -> (loss, tuple of NumPy grads)
    runtime: str = "NumPy"  # the library doing the arithmetic: timed in turns with its peers
    clock: str = "thread"  # one-thread CPU time of the calling thread, or "process" (all
    # threads: for a library that computes on threads of its own)


def numpy_impl(value_and_grad, **keywords) -> Impl:
    """Wrap a NumPy value_and_grad (hand-written or symgrad-generated)."""
    call = (lambda *args: value_and_grad(*args, **keywords)) if keywords else value_and_grad
    return Impl(prepare=tuple, call=call, to_numpy=lambda out: (out[0], tuple(out[1])))


def numpy_references(spec: ModelSpec) -> dict[str, Impl]:
    """The textbook and the tuned NumPy value_and_grad of a model."""
    return {TEXTBOOK: numpy_impl(textbook.VALUE_AND_GRAD[spec.name]),
            TUNED: numpy_impl(tuned.VALUE_AND_GRAD[spec.name])}


def slow_powers(source: str, filename: str = "<source>") -> list[str]:
    """Where `source` raises to a small integer power the slow way: `x ** k` or
    `np.power(x, k)` / `np.float_power(x, k)` with k an integer literal (k = 0.5 too is
    fine; k = 2, 3 are products). Returns "file:line: text" for each."""
    found = []
    for node in ast.walk(ast.parse(source)):
        exponent = None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Pow):
            exponent = node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("power", "float_power") and len(node.args) == 2):
            exponent = node.args[1]
        if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, ast.USub):
            exponent = exponent.operand
        if (isinstance(exponent, ast.Constant) and isinstance(exponent.value, (int, float))
                and float(exponent.value).is_integer() and abs(exponent.value) <= 8):
            found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def check_no_slow_powers(*modules) -> None:
    """Stop (AssertionError naming the lines) if a reference module uses slow_powers."""
    found = [line for module in modules
             for line in slow_powers(inspect.getsource(module), module.__name__)]
    if found:
        raise AssertionError("a reference raises to an integer power with ** or np.power "
                             "(scalar pow: write x*x*x):\n  " + "\n  ".join(found))
