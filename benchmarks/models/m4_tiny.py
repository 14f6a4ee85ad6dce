"""M4: 4-8-1 network, tanh hidden layer, sigmoid output, mean BCE (overhead-bound)."""
import sympy as sp

import symgrad as sg

n_x, n_h, m = sp.symbols("n_x n_h m", integer=True, positive=True)
X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)
W1, b1 = sg.Param("W1", n_h, n_x), sg.Param("b1", n_h, 1)
W2, b2 = sg.Param("W2", 1, n_h), sg.Param("b2", 1, 1)

A1 = sg.tanh(W1 @ X + b1)
A2 = sg.sigmoid(W2 @ A1 + b2)
cost = sg.binary_cross_entropy(A2, Y)

model = sg.Model("m4_tiny", loss=cost, params=[W1, b1, W2, b2], inputs=[X, Y], outputs={"A2": A2})
