"""Newton's method on logistic regression with the generated Hessian (no SymPy needed).

Run `symgrad derive examples/logistic_newton.py` first; it writes generated/logistic_newton.py.
Each step solves H dw = g, with H = X diag(A(1 - A)) X^T / m from `hessian`.
"""
import importlib.util
from pathlib import Path

import numpy as np

path = Path(__file__).resolve().parents[2] / "generated" / "logistic_newton.py"
spec = importlib.util.spec_from_file_location("logistic_newton", path)
newton = importlib.util.module_from_spec(spec)
spec.loader.exec_module(newton)

rng = np.random.default_rng(0)
n_x, m = 3, 500
X = np.vstack([rng.standard_normal((n_x - 1, m)), np.ones((1, m))])   # last row: the bias
w_true = np.array([[2.0], [-1.0], [0.5]])
Y = (rng.uniform(size=(1, m)) < 1 / (1 + np.exp(-(w_true.T @ X)))).astype(float)

w = np.zeros((n_x, 1))
for step in range(8):
    loss, (g,) = newton.value_and_grad(w, X, Y)
    H = newton.hessian(w, X, Y)
    print(f"step {step}: loss = {loss:.12f}  |grad| = {np.linalg.norm(g):.3e}")
    w = w - np.linalg.solve(H, g.ravel()).reshape(w.shape)
print("w =", w.ravel().round(4), " (true", w_true.ravel(), ")")
