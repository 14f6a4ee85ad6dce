"""Import the generated two-layer module and evaluate it on random data (no SymPy needed).

Run `symgrad derive examples/two_layer.py` first; it writes generated/two_layer.py.
"""
import numpy as np

from training import load_generated

two_layer = load_generated("two_layer")

rng = np.random.default_rng(0)
n_x, n_h, m = 2, 4, 400
params = [0.01 * rng.standard_normal((n_h, n_x)), np.zeros((n_h, 1)),
          0.01 * rng.standard_normal((1, n_h)), np.zeros((1, 1))]
X = rng.standard_normal((n_x, m))
Y = (X[0:1] * X[1:2] > 0).astype(float)

loss, grads = two_layer.value_and_grad(*params, X, Y)
print(f"two_layer: loss = {loss:.6f}")
for name, g in zip(two_layer.PARAMS, grads):
    print(f"  |d{name}| = {np.linalg.norm(g):.3e}  shape {g.shape}")
