"""Autodiff peers: PyTorch eager, torch.compile, jax.jit, HIPS autograd, PyTensor.

Each model's loss is written once against a small `ops` namespace that every library
fills with its own functions, so the peers share the model code and differ only in the
library. Integer powers are written as products (`Z * Z * Z`): autograd's `**` is NumPy's
scalar `pow`. A peer that is not installed is skipped, with the reason.
"""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Callable

import numpy as np

from references import Impl, ModelSpec, numpy_impl

GELU_C = math.sqrt(2 / math.pi)
GELU_K = 0.044715
LAM = 1e-3


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
    D = A2 - Y
    penalty = LAM / 2 * (ops.sum(W1 * W1) + ops.sum(W2 * W2))
    return ops.sum(D * D) / (2 * X.shape[1]) + penalty


LOSSES = {"m1_logreg": loss_logreg, "m2_softmax": loss_softmax,
          "m3_deep_relu": loss_deep_relu, "m4_tiny": loss_tiny,
          "m5_swish_gelu": loss_swish_gelu}


def _gelu_tanh(tanh):
    return lambda Z: 0.5 * Z * (1 + tanh(GELU_C * (Z + GELU_K * (Z * Z * Z))))


# ------------------------------------------------------------------------ PyTorch


def _torch_ops():
    import torch
    import torch.nn.functional as F

    return SimpleNamespace(
        tanh=torch.tanh, relu=torch.relu, swish=F.silu,
        gelu_tanh=lambda Z: F.gelu(Z, approximate="tanh"),
        bce_from_logits=F.binary_cross_entropy_with_logits,
        log_softmax=lambda Z: torch.log_softmax(Z, dim=0), sum=torch.sum)


def _torch(spec: ModelSpec, compiled: bool = False) -> Impl:
    """PyTorch on CPU: the loss (eager, or through torch.compile), then torch.autograd.grad."""
    import torch

    ops, n, loss = _torch_ops(), len(spec.params), LOSSES[spec.name]

    def forward(*args):
        return loss(ops, *args)

    if compiled:
        # every model's forward shares this code object: without a higher limit Dynamo
        # falls back to eager after 8 (model, dtype) compilations
        torch._dynamo.config.recompile_limit = 64
        forward = torch.compile(forward)

    def prepare(args):
        tensors = [torch.from_numpy(np.array(a)) for a in args]
        return tuple(t.requires_grad_(k < n) for k, t in enumerate(tensors))

    def value_and_grad(*args):
        value = forward(*args)
        return value, torch.autograd.grad(value, args[:n])

    return Impl(prepare, value_and_grad,
                lambda out: (out[0].detach().numpy(), tuple(g.numpy() for g in out[1])),
                runtime="PyTorch")


def _setup_torch(threads: int) -> str:
    import torch

    torch.set_num_threads(threads)
    return torch.__version__


# ---------------------------------------------------------------------------- JAX


def _jax(spec: ModelSpec) -> Impl:
    """jax.jit(jax.value_and_grad(loss)) on CPU, waited for with block_until_ready.

    XLA computes on threads of its own: at one thread it is timed by process CPU time."""
    import jax
    import jax.numpy as jnp

    ops = SimpleNamespace(
        tanh=jnp.tanh, relu=jax.nn.relu, swish=jax.nn.silu,
        gelu_tanh=lambda Z: jax.nn.gelu(Z, approximate=True),
        bce_from_logits=lambda Z, Y: jnp.mean(jax.nn.softplus(Z) - Y * Z),
        log_softmax=lambda Z: jax.nn.log_softmax(Z, axis=0), sum=jnp.sum)
    loss = LOSSES[spec.name]
    f = jax.jit(jax.value_and_grad(lambda *args: loss(ops, *args),
                                   argnums=tuple(range(len(spec.params)))))
    return Impl(prepare=lambda args: tuple(jnp.asarray(a) for a in args),
                call=lambda *args: jax.block_until_ready(f(*args)),
                to_numpy=lambda out: (np.asarray(out[0]), tuple(np.asarray(g) for g in out[1])),
                runtime="JAX", clock="process")


def _setup_jax(threads: int) -> str:
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 runs stay float64
    return f"{jax.__version__}, backend {jax.default_backend()}"


# ----------------------------------------------------------------------- autograd


def _autograd(spec: ModelSpec) -> Impl:
    """HIPS autograd's value_and_grad over autograd.numpy.

    Z * (Z > 0) and sum / size stand for maximum and mean: the VJPs of maximum and mean
    return float64 for float32 input, and every float32 product behind them would then
    run in float64."""
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    ops = SimpleNamespace(
        tanh=anp.tanh, relu=lambda Z: Z * (Z > 0), swish=lambda Z: Z / (1 + anp.exp(-Z)),
        gelu_tanh=_gelu_tanh(anp.tanh),
        bce_from_logits=lambda Z, Y: anp.sum(anp.logaddexp(0, Z) - Y * Z) / Z.size,
        log_softmax=lambda Z: Z - logsumexp(Z, axis=0, keepdims=True), sum=anp.sum)
    loss = LOSSES[spec.name]
    return numpy_impl(autograd.value_and_grad(lambda *args: loss(ops, *args),
                                              argnum=tuple(range(len(spec.params)))))


def _setup_autograd(threads: int) -> str:
    import importlib.metadata

    import autograd  # noqa: F401

    return importlib.metadata.version("autograd")


# ----------------------------------------------------------------------- PyTensor


def _pytensor(spec: ModelSpec, dtype) -> Impl:
    """pytensor.function of the loss and pytensor.grad: a compiled C graph."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.tensor.special import log_softmax

    ops = SimpleNamespace(
        tanh=pt.tanh, relu=lambda Z: pt.maximum(Z, 0), swish=lambda Z: Z * pt.sigmoid(Z),
        gelu_tanh=_gelu_tanh(pt.tanh),
        bce_from_logits=lambda Z, Y: pt.mean(pt.softplus(Z) - Y * Z),
        log_softmax=lambda Z: log_softmax(Z, axis=0), sum=pt.sum)
    name = np.dtype(dtype).name
    shapes = {**spec.param_shapes, "X": (spec.n_x, spec.m), "Y": (spec.n_y, spec.m)}
    variables = [pt.tensor(key, dtype=name, shape=tuple(1 if n == 1 else None for n in shape))
                 for key, shape in shapes.items()]  # a side of 1 broadcasts
    value = LOSSES[spec.name](ops, *variables)
    value = pt.cast(value, name)  # a division by the symbolic X.shape[1] gives float64
    grads = pytensor.grad(value, variables[:len(spec.params)])
    f = pytensor.function(variables, [value, *grads])
    return Impl(prepare=tuple, call=lambda *args: (lambda out: (out[0], out[1:]))(f(*args)),
                to_numpy=lambda out: (out[0], tuple(out[1])))


def _setup_pytensor(threads: int) -> str:
    import pytensor

    return pytensor.__version__


PEERS: dict[str, tuple[Callable[[int], str], Callable]] = {
    # name -> (setup(threads) -> version, builder(spec, dtype) -> Impl)
    "PyTorch eager": (_setup_torch, lambda spec, dtype: _torch(spec)),
    "torch.compile": (_setup_torch, lambda spec, dtype: _torch(spec, compiled=True)),
    "JAX jit": (_setup_jax, lambda spec, dtype: _jax(spec)),
    "autograd": (_setup_autograd, lambda spec, dtype: _autograd(spec)),
    "PyTensor": (_setup_pytensor, _pytensor),
}


def load_peers(threads: int, wanted: list[str]):
    """Import and configure the peers named in `wanted` that are installed.

    Returns ({name: builder(spec, dtype) -> Impl}, {name: version}, {name: why skipped})."""
    builders, versions, skipped = {}, {}, {}
    for name in wanted:
        setup, builder = PEERS[name]
        try:
            versions[name] = setup(threads)
        except ImportError as error:
            skipped[name] = f"not installed ({error})"
            continue
        builders[name] = builder
    return builders, versions, skipped
