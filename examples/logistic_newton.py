"""Logistic regression for Newton's method: A = sigmoid(w^T X), mean binary cross-entropy, with
its Hessian X diag(A(1 - A)) X^T / m (put a row of ones in X for a bias).
examples/scripts/newton_logistic.py runs Newton's method with it."""
import sympy as sp

import symgrad as sg

n_x, m = sp.symbols("n_x m", integer=True, positive=True)
X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)     # one example per column
w = sg.Param("w", n_x, 1)

A = sg.sigmoid(w.T @ X)
cost = sg.binary_cross_entropy(A, Y)

model = sg.Model("logistic_newton", loss=cost, params=[w], inputs=[X, Y], outputs={"A": A},
                 hessian=True)
