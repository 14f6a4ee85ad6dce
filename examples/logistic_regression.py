"""Logistic regression: A = sigmoid(w^T X + b), mean binary cross-entropy (scalar bias b)."""
import sympy as sp

import symgrad as sg

n_x, m = sp.symbols("n_x m", integer=True, positive=True)
X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)     # one example per column
w, b = sg.Param("w", n_x, 1), sg.Param("b")           # b is a scalar

Z = w.T @ X + b                                       # the scalar b broadcasts over m
A = sg.sigmoid(Z)
cost = sg.binary_cross_entropy(A, Y)

model = sg.Model("logistic_regression", loss=cost, params=[w, b], inputs=[X, Y],
                 outputs={"A": A})
