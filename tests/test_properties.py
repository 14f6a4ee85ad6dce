"""Property test: random compositions of the supported ops, derived, emitted, imported, and
compared with central differences. SYMGRAD_GRAPHS=5000 explores more (default 500)."""
import importlib.util
import os

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings, strategies as st

import symgrad as sg
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.testing import finite_difference_grads, load_module, relative_error

GRAPHS = int(os.environ.get("SYMGRAD_GRAPHS", "500"))
DIMS = sp.symbols("p q r", integer=True, positive=True)
t = sp.Symbol("t", real=True)
SMOOTH = [sg.tanh, sg.sigmoid, sg.softplus,
          lambda x: x.applyfunc(sp.Lambda(t, t / (1 + sp.exp(-t)))),        # swish
          lambda x: x.applyfunc(sp.Lambda(t, sp.sin(t) + t**2 / 4))]
explored = {"graphs": 0}


class Builder:
    """Draws a random matrix expression of a requested shape."""

    def __init__(self, data):
        self.data, self.params, self.inputs = data, [], []

    def leaf(self, shape, kind):
        group = self.params if kind == "param" else self.inputs
        make = sg.Param if kind == "param" else sg.Input
        symbol = make(f"{kind[0].upper()}{len(group)}", *shape)
        group.append(symbol)
        return symbol

    def draw(self, shape, depth):
        choices = ["param", "input"] + (["matmul", "map", "hadamard", "add", "bias", "transpose",
                                          "power", "scale", "softmax"] if depth > 0 else [])
        op = self.data.draw(st.sampled_from(choices))
        sub = lambda s: self.draw(s, depth - 1)  # noqa: E731
        if op in ("param", "input"):
            return self.leaf(shape, op)
        if op == "matmul":
            k = self.data.draw(st.sampled_from(DIMS))
            return sub((shape[0], k)) @ sub((k, shape[1]))
        if op == "map":
            return self.data.draw(st.sampled_from(SMOOTH))(sub(shape))
        if op == "hadamard":
            return sp.HadamardProduct(sub(shape), sub(shape))
        if op == "add":
            return sub(shape) + sub(shape)
        if op == "bias":
            return sub(shape) + self.leaf((shape[0], 1), "param")
        if op == "transpose":
            return sub((shape[1], shape[0])).T
        if op == "power":
            return sp.HadamardPower(sub(shape), self.data.draw(st.sampled_from([2, 3])))
        if op == "scale":
            return sub(shape) * self.data.draw(st.sampled_from([sp.Rational(1, 3), -2, shape[0]]))
        return sg.softmax(sub(shape))

    def loss(self, expr, shape):
        kind = self.data.draw(st.sampled_from(["mean", "sum", "mse", "bce", "ce", "trace"]))
        if kind == "mean":
            return sg.mean(expr)
        if kind == "sum":
            return sg.sum(expr)
        if kind == "mse":
            return sg.mse(expr, self.leaf(shape, "input"))
        if kind == "bce":
            return sg.mean(sg.binary_cross_entropy(sg.sigmoid(expr), self.leaf(shape, "input")))
        if kind == "ce":
            return -sg.sum(sp.HadamardProduct(self.leaf(shape, "input"), sg.log_softmax(expr)))
        return sp.Trace(expr.T @ expr)


def random_case(data):
    """A random model, its derived module, dimension values and arguments drawn for it."""
    builder = Builder(data)
    shape = (data.draw(st.sampled_from(DIMS)), data.draw(st.sampled_from(DIMS)))
    loss = builder.loss(builder.draw(shape, depth=data.draw(st.integers(1, 3))), shape)
    if not builder.params:
        builder.leaf(shape, "param")           # a parameter the loss does not reach
    model = sg.Model("random_graph", loss, builder.params, builder.inputs)
    module = load_module(module_source(derive(model)))
    dims = {d: data.draw(st.integers(1, 3)) for d in DIMS}
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    args = [rng.uniform(-1, 1, tuple(int(sp.sympify(s).subs(dims)) for s in sym.shape))
            for sym in builder.params + builder.inputs]
    return builder, loss, module, dims, args


@settings(max_examples=GRAPHS, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.data())
def test_random_graphs_match_central_differences(data):
    builder, loss, module, dims, args = random_case(data)
    _, grads = module.value_and_grad(*args)
    reference = finite_difference_grads(module.loss, args, len(builder.params))
    for name, g, ref in zip(module.PARAMS, grads, reference):
        assert np.shape(g) == np.shape(ref), name
        close = relative_error(g, ref) < 1e-6 or np.max(np.abs(g - ref)) < 1e-9  # ref may be 0
        assert close, f"{name}: {relative_error(g, ref):.2e}\n{loss}"
    explored["graphs"] += 1


# ---- the same random graphs against PyTorch autograd (when torch is installed) ----------
TORCH_GRAPHS = max(GRAPHS // 2, 1)
explored["torch"] = 0


def torch_eval(expr, leaves, dims):
    """Evaluate a SymPy (matrix) expression with torch, straight from SymPy's tree: an
    evaluation independent of symgrad's graph, rules and printer."""
    import torch
    from symgrad.functions import sigmoid, softplus
    scalar_funcs = {"exp": torch.exp, "log": torch.log, "tanh": torch.tanh, "sin": torch.sin,
                    "sigmoid": torch.sigmoid, "softplus": torch.nn.functional.softplus,
                    "Max": torch.maximum}

    def scalar_fn(f):
        x = sp.Symbol("x", real=True)
        body = f(x) if not isinstance(f, sp.Lambda) else f.expr.xreplace({f.variables[0]: x})
        body = body.replace(sigmoid, sp.Function("sigmoid")).replace(
            softplus, sp.Function("softplus"))
        return sp.lambdify(x, body, modules=[scalar_funcs, "math"])

    def ev(e):
        if e in leaves:
            return leaves[e]
        if e.is_Number or e.is_Symbol:
            return torch.tensor(float(e.subs(dims)), dtype=torch.float64)
        if isinstance(e, sp.OneMatrix):
            return torch.ones(int(e.shape[0].subs(dims)), int(e.shape[1].subs(dims)),
                              dtype=torch.float64)
        if isinstance(e, sp.matrices.expressions.applyfunc.ElementwiseApplyFunction):
            return scalar_fn(e.function)(ev(e.expr))
        args = [ev(a) for a in e.args]
        if isinstance(e, sp.MatMul):
            out = args[0]
            for a in args[1:]:
                out = out @ a if out.dim() == 2 and a.dim() == 2 else out * a
            return out
        if isinstance(e, (sp.MatAdd, sp.Add)):
            return sum(args[1:], args[0])
        if isinstance(e, (sp.HadamardProduct, sp.Mul)):
            out = args[0]
            for a in args[1:]:
                out = out * a
            return out
        if isinstance(e, (sp.HadamardPower, sp.Pow)):
            return args[0] ** args[1]
        if isinstance(e, sp.Transpose):
            return args[0].T
        if isinstance(e, sp.Trace):
            return torch.trace(args[0])
        raise NotImplementedError(type(e).__name__)
    return ev(expr)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="PyTorch not installed (pip install torch==2.13.0)")
@settings(max_examples=TORCH_GRAPHS, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.data())
def test_random_graphs_match_pytorch_autograd(data):
    import torch
    builder, loss, module, dims, args = random_case(data)
    leaves = {sym: torch.tensor(value, requires_grad=sym in builder.params)
              for sym, value in zip(builder.params + builder.inputs, args)}
    value, grads = module.value_and_grad(*args)
    reference = torch_eval(loss, leaves, dims).reshape(())
    if reference.requires_grad:
        reference.backward()
    assert abs(value - reference.item()) <= 1e-9 * max(1, abs(reference.item())), str(loss)
    for sym, g in zip(builder.params, grads):
        ref = leaves[sym].grad.numpy() if leaves[sym].grad is not None else np.zeros_like(g)
        assert relative_error(g, ref) < 1e-9 or np.max(np.abs(g - ref)) < 1e-12, \
            f"{sym.name}: {relative_error(g, ref):.2e}\n{loss}"
    explored["torch"] += 1
