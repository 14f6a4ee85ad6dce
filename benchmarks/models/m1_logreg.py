"""M1: logistic regression, A = sigmoid(w.T X + b), loss = mean binary cross-entropy."""
import sympy as sp

import symgrad as sg

n_x, m = sp.symbols("n_x m", integer=True, positive=True)
X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)  # columns are examples
w, b = sg.Param("w", n_x, 1), sg.Param("b")  # b is a scalar parameter

A = sg.sigmoid(w.T @ X + b * sp.OneMatrix(1, m))
cost = sg.binary_cross_entropy(A, Y)

model = sg.Model("m1_logreg", loss=cost, params=[w, b], inputs=[X, Y], outputs={"A": A})
