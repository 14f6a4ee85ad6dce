"""The five benchmark models outside symgrad: their data and reference value_and_grad.

For each model (same names, argument order and math as `benchmarks/models/<name>.py`):
- `ModelSpec`: parameter and input names in call order, sizes, the kind of target;
- `make_data`: the one deterministic data generator, for any model and dtype;
- a hand-written vectorised NumPy `value_and_grad`, the textbook formulas an expert
  writes (dZ2 = (A2 - Y) / m, ...), stable where it matters and dtype-preserving
  (only Python scalars as constants, so float32 in gives float32 out);
- one loss written against a small `ops` namespace, which PyTorch, JAX and HIPS
  autograd each fill with their own functions, so the three autodiff references share
  the model code and differ only in the library's functions.

Every implementation is wrapped in an `Impl`: convert NumPy arguments once (untimed),
the timed call, and conversion of its result back to NumPy for the agreement check.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

GELU_C = math.sqrt(2 / math.pi)  # tanh-GELU constants, Python floats (never upcast)
GELU_K = 0.044715
LAM = 1e-3  # L2 weight of M5

HAND = "hand NumPy"


# ---------------------------------------------------------------- hand-written NumPy


def _sigmoid(Z):
    """Logistic function in the overflow-free tanh form."""
    return 0.5 * (1 + np.tanh(0.5 * Z))


def _bce_from_logits(Z, Y):
    """mean(BCE(sigmoid(Z), Y)) computed stably from the logits: softplus(Z) - Y*Z."""
    return np.mean(np.logaddexp(0, Z) - Y * Z)


def _dense_grads(dZ, A_prev):
    """dW and db of Z = W @ A_prev + b (b broadcast over the columns)."""
    return dZ @ A_prev.T, dZ.sum(axis=1, keepdims=True)


def hand_logreg(w, b, X, Y):
    """M1: A = sigmoid(w.T X + b), L = mean BCE(A, Y)."""
    m = X.shape[1]
    Z = w.T @ X + b
    dZ = (_sigmoid(Z) - Y) / m
    return _bce_from_logits(Z, Y), (X @ dZ.T, dZ.sum())


def hand_softmax(W1, b1, W2, b2, X, Y):
    """M2: A1 = tanh(W1 X + b1), L = -(1/m) sum(Y * log_softmax(W2 A1 + b2)), Y one-hot."""
    m = X.shape[1]
    A1 = np.tanh(W1 @ X + b1)
    Z2 = W2 @ A1 + b2
    Z2 = Z2 - Z2.max(axis=0, keepdims=True)
    E = np.exp(Z2)
    S = E.sum(axis=0, keepdims=True)
    loss = -np.sum(Y * (Z2 - np.log(S))) / m
    dZ2 = (E / S - Y) / m  # softmax - Y: the columns of Y sum to 1
    dW2, db2 = _dense_grads(dZ2, A1)
    dZ1 = (W2.T @ dZ2) * (1 - A1**2)
    dW1, db1 = _dense_grads(dZ1, X)
    return loss, (dW1, db1, dW2, db2)


def hand_deep_relu(*args):
    """M3: ReLU hidden layers, sigmoid output, L = mean BCE; args W1, b1, ..., WL, bL, X, Y."""
    *params, X, Y = args
    Ws, bs = params[0::2], params[1::2]
    m = X.shape[1]
    As = [X]  # layer inputs
    for W, b in zip(Ws[:-1], bs[:-1]):
        As.append(np.maximum(W @ As[-1] + b, 0))
    Z = Ws[-1] @ As[-1] + bs[-1]
    loss = _bce_from_logits(Z, Y)
    dZ = (_sigmoid(Z) - Y) / m
    grads = []
    for k in reversed(range(len(Ws))):
        dW, db = _dense_grads(dZ, As[k])
        grads[:0] = [dW, db]
        if k:
            dZ = (Ws[k].T @ dZ) * (As[k] > 0)  # relu'(0) = 0
    return loss, tuple(grads)


def hand_tiny(W1, b1, W2, b2, X, Y):
    """M4: A1 = tanh(W1 X + b1), A2 = sigmoid(W2 A1 + b2), L = mean BCE(A2, Y)."""
    m = X.shape[1]
    A1 = np.tanh(W1 @ X + b1)
    Z2 = W2 @ A1 + b2
    loss = _bce_from_logits(Z2, Y)
    dZ2 = (_sigmoid(Z2) - Y) / m
    dW2, db2 = _dense_grads(dZ2, A1)
    dZ1 = (W2.T @ dZ2) * (1 - A1**2)
    dW1, db1 = _dense_grads(dZ1, X)
    return loss, (dW1, db1, dW2, db2)


def hand_swish_gelu(W1, b1, W2, b2, X, Y):
    """M5: A1 = swish(Z1), A2 = gelu_tanh(Z2), L = sum((A2-Y)^2)/(2m) + lam/2 (|W1|^2 + |W2|^2)."""
    m = X.shape[1]
    Z1 = W1 @ X + b1
    S1 = _sigmoid(Z1)
    A1 = Z1 * S1
    Z2 = W2 @ A1 + b2
    T = np.tanh(GELU_C * (Z2 + GELU_K * Z2**3))
    A2 = 0.5 * Z2 * (1 + T)
    D = A2 - Y
    loss = np.sum(D**2) / (2 * m) + LAM / 2 * (np.sum(W1**2) + np.sum(W2**2))
    dgelu = 0.5 * (1 + T) + 0.5 * Z2 * (1 - T**2) * GELU_C * (1 + 3 * GELU_K * Z2**2)
    dZ2 = D / m * dgelu
    dW2, db2 = _dense_grads(dZ2, A1)
    dZ1 = (W2.T @ dZ2) * (S1 * (1 + Z1 * (1 - S1)))  # swish' = s + z s (1 - s)
    dW1, db1 = _dense_grads(dZ1, X)
    return loss, (dW1 + LAM * W1, db1, dW2 + LAM * W2, db2)


# ------------------------------------------------- one loss per model, for autodiff


def loss_logreg(ops, w, b, X, Y):
    return ops.bce_from_logits(w.T @ X + b, Y)


def loss_softmax(ops, W1, b1, W2, b2, X, Y):
    A1 = ops.tanh(W1 @ X + b1)
    return -ops.sum(Y * ops.log_softmax(W2 @ A1 + b2)) / X.shape[1]


def loss_deep_relu(ops, *args):
    *params, X, Y = args
    A = X
    for W, b in zip(params[0:-2:2], params[1:-2:2]):
        A = ops.relu(W @ A + b)
    return ops.bce_from_logits(params[-2] @ A + params[-1], Y)


def loss_tiny(ops, W1, b1, W2, b2, X, Y):
    return ops.bce_from_logits(W2 @ ops.tanh(W1 @ X + b1) + b2, Y)


def loss_swish_gelu(ops, W1, b1, W2, b2, X, Y):
    A1 = ops.swish(W1 @ X + b1)
    A2 = ops.gelu_tanh(W2 @ A1 + b2)
    penalty = LAM / 2 * (ops.sum(W1**2) + ops.sum(W2**2))
    return ops.sum((A2 - Y) ** 2) / (2 * X.shape[1]) + penalty


# ------------------------------------------------------------------------- models


def _dense_shapes(*widths):
    """{"W1": (n1, n0), "b1": (n1, 1), ...} for a stack of dense layers."""
    shapes = {}
    for k in range(1, len(widths)):
        shapes[f"W{k}"] = (widths[k], widths[k - 1])
        shapes[f"b{k}"] = (widths[k], 1)
    return shapes


@dataclass(frozen=True)
class ModelSpec:
    """One benchmark model: names in call order, sizes and its reference math."""

    name: str
    param_shapes: dict[str, tuple[int, ...]]
    n_x: int
    n_y: int
    m: int
    target: str  # "binary" (0/1), "onehot" (one 1 per column) or "real"
    hand: Callable
    loss: Callable  # loss(ops, *params, X, Y)

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.param_shapes)

    inputs = ("X", "Y")


MODELS = {
    spec.name: spec
    for spec in [
        ModelSpec("m1_logreg", {"w": (12288, 1), "b": ()}, 12288, 1, 209,
                  "binary", hand_logreg, loss_logreg),
        ModelSpec("m2_softmax", _dense_shapes(784, 128, 10), 784, 10, 256,
                  "onehot", hand_softmax, loss_softmax),
        ModelSpec("m3_deep_relu", _dense_shapes(784, 256, 256, 256, 256, 256, 1), 784, 1, 512,
                  "binary", hand_deep_relu, loss_deep_relu),
        ModelSpec("m4_tiny", _dense_shapes(4, 8, 1), 4, 1, 32,
                  "binary", hand_tiny, loss_tiny),
        ModelSpec("m5_swish_gelu", _dense_shapes(512, 512, 512), 512, 512, 256,
                  "real", hand_swish_gelu, loss_swish_gelu),
    ]
}


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


# --------------------------------------------------------------- implementations


@dataclass(frozen=True)
class Impl:
    """A value_and_grad implementation as the harness drives it."""

    prepare: Callable[[list], tuple]  # NumPy arguments -> native arguments (untimed)
    call: Callable[..., Any]  # the timed call: native arguments -> (loss, grads)
    to_numpy: Callable[[Any], tuple]  # its result -> (loss, tuple of NumPy grads)
    runtime: str = "NumPy"  # the library doing the arithmetic: timed in turns with its peers


def numpy_impl(value_and_grad) -> Impl:
    """Wrap a NumPy value_and_grad (hand-written or symgrad-generated)."""
    return Impl(prepare=tuple, call=value_and_grad,
                to_numpy=lambda out: (out[0], tuple(out[1])))


def _hand(spec):
    """The hand-written NumPy value_and_grad above."""
    return numpy_impl(spec.hand)


def _autograd_ops():
    """ops from autograd.numpy, written from the definitions.

    Z * (Z > 0) and sum / size stand for maximum and mean, and log-sum-exp is autograd's
    own: the VJPs of maximum, max and mean return float64 for float32 input, and every
    float32 matrix product behind them would then run in float64.
    """
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    return SimpleNamespace(
        tanh=anp.tanh,
        relu=lambda Z: Z * (Z > 0),
        swish=lambda Z: Z / (1 + anp.exp(-Z)),
        gelu_tanh=lambda Z: 0.5 * Z * (1 + anp.tanh(GELU_C * (Z + GELU_K * Z**3))),
        bce_from_logits=lambda Z, Y: anp.sum(anp.logaddexp(0, Z) - Y * Z) / Z.size,
        log_softmax=lambda Z: Z - logsumexp(Z, axis=0, keepdims=True),
        sum=anp.sum,
    )


def _torch(spec):
    """PyTorch eager on CPU: forward on tensors, then torch.autograd.grad."""
    import torch
    import torch.nn.functional as F

    ops = SimpleNamespace(
        tanh=torch.tanh,
        relu=torch.relu,
        swish=F.silu,
        gelu_tanh=lambda Z: F.gelu(Z, approximate="tanh"),
        bce_from_logits=F.binary_cross_entropy_with_logits,
        log_softmax=lambda Z: torch.log_softmax(Z, dim=0),
        sum=torch.sum,
    )
    n = len(spec.params)

    def prepare(args):
        tensors = [torch.from_numpy(np.asarray(a)) for a in args]
        return tuple(t.requires_grad_(k < n) for k, t in enumerate(tensors))

    def value_and_grad(*args):
        loss = spec.loss(ops, *args)
        return loss, torch.autograd.grad(loss, args[:n])

    return Impl(prepare, value_and_grad,
                lambda out: (out[0].detach().numpy(), tuple(g.numpy() for g in out[1])),
                runtime="PyTorch")


def _jax(spec):
    """jax.jit(jax.value_and_grad(loss)) on CPU, waited for with block_until_ready."""
    import jax
    import jax.numpy as jnp

    ops = SimpleNamespace(
        tanh=jnp.tanh,
        relu=jax.nn.relu,
        swish=jax.nn.silu,
        gelu_tanh=lambda Z: jax.nn.gelu(Z, approximate=True),
        bce_from_logits=lambda Z, Y: jnp.mean(jax.nn.softplus(Z) - Y * Z),
        log_softmax=lambda Z: jax.nn.log_softmax(Z, axis=0),
        sum=jnp.sum,
    )
    f = jax.jit(jax.value_and_grad(lambda *args: spec.loss(ops, *args),
                                   argnums=tuple(range(len(spec.params)))))
    return Impl(prepare=lambda args: tuple(jnp.asarray(a) for a in args),
                call=lambda *args: jax.block_until_ready(f(*args)),
                to_numpy=lambda out: (np.asarray(out[0]), tuple(np.asarray(g) for g in out[1])),
                runtime="JAX")


def _autograd(spec):
    """HIPS autograd's value_and_grad over autograd.numpy."""
    import autograd

    ops = _autograd_ops()
    f = autograd.value_and_grad(lambda *args: spec.loss(ops, *args),
                                argnum=tuple(range(len(spec.params))))
    return numpy_impl(f)


def _setup_torch(threads):
    import torch

    torch.set_num_threads(threads)


def _setup_jax(threads):
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 runs stay float64


def _setup_autograd(threads):
    import autograd  # noqa: F401


REFERENCES = {  # name -> (setup(threads), builder(spec) -> Impl)
    HAND: (lambda threads: None, _hand),
    "PyTorch": (_setup_torch, _torch),
    "JAX jit": (_setup_jax, _jax),
    "autograd": (_setup_autograd, _autograd),
}


def load_references(threads: int):
    """Import and configure the reference libraries present.

    Returns ({name: builder(spec) -> Impl}, {name: why it is skipped}).
    """
    builders, skipped = {}, {}
    for name, (setup, builder) in REFERENCES.items():
        try:
            setup(threads)
        except ImportError as error:
            skipped[name] = f"not installed ({error})"
            continue
        builders[name] = builder
    return builders, skipped
