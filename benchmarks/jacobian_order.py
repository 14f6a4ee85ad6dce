"""The cost of the two accumulation orders of a full Jacobian, as n grows.

Right to left (reverse) does one vector-Jacobian product per output entry; left to right
(forward) one Jacobian-vector product per input entry. Both run all products at once on a
leading batch axis, so each timing is one call of the generated code.

  n inputs, one output:   y = sum(tanh(M x)),  x of shape (n, 1): reverse 1 product, forward n
  one input, n outputs:   y = tanh(M (s v)),   s a scalar:        reverse n products, forward 1

Run: python benchmarks/jacobian_order.py
"""
import timeit

import numpy as np
import sympy as sp

import symgrad as sg
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.testing import load_module

n = sp.Symbol("n", integer=True, positive=True)
M, v = sg.Input("M", n, n), sg.Input("v", n, 1)
x, s = sg.Param("x", n, 1), sg.Param("s")
CASES = {
    "n inputs, 1 output": sg.Model(
        "many_to_one", sg.sum(sg.tanh(M @ x)), [x], [M],
        jacobians={"dy_dx": (sg.sum(sg.tanh(M @ x)), x)}),
    "1 input, n outputs": sg.Model(
        "one_to_many", sg.sum(sg.tanh(M @ (s * v))), [s], [M, v],
        jacobians={"dy_ds": (sg.tanh(M @ (s * v)), s)}),
}


def seconds(f, *args):
    """The best of 5 repeats of the mean time of one call."""
    number = max(1, int(0.05 / max(timeit.timeit(lambda: f(*args), number=1), 1e-7)))
    return min(timeit.repeat(lambda: f(*args), number=number, repeat=5)) / number


def main():
    rng = np.random.default_rng(0)
    for title, model in CASES.items():
        module = load_module(module_source(derive(model)))
        (name,) = model.jacobians
        reverse = getattr(module, f"_jacobian_{name}_reverse")
        forward = getattr(module, f"_jacobian_{name}_forward")
        print(f"{title} ({name}):")
        print(f"  {'n':>5} {'reverse s':>11} {'forward s':>11} {'forward/reverse':>16} "
              f"{'reverse/forward':>16}")
        for size in (4, 16, 64, 256, 512):
            values = {"x": rng.standard_normal((size, 1)), "s": 0.3,
                      "M": rng.standard_normal((size, size)) / np.sqrt(size),
                      "v": rng.standard_normal((size, 1))}
            args = [values[a] for a in module.PARAMS + module.INPUTS]
            assert np.allclose(reverse(*args), forward(*args))
            r, f = seconds(reverse, *args), seconds(forward, *args)
            print(f"  {size:>5} {r:>11.2e} {f:>11.2e} {f / r:>16.3g} {r / f:>16.3g}")


if __name__ == "__main__":
    main()
