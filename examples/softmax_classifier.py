"""A softmax classifier with a tanh hidden layer and cross-entropy (classes along rows)."""
import sympy as sp

import symgrad as sg

n_x, n_h, k, m = sp.symbols("n_x n_h k m", integer=True, positive=True)
X, Y = sg.Input("X", n_x, m), sg.Input("Y", k, m)       # Y one-hot, one column per example
W1, b1 = sg.Param("W1", n_h, n_x), sg.Param("b1", n_h, 1)
W2, b2 = sg.Param("W2", k, n_h), sg.Param("b2", k, 1)

A1 = sg.tanh(W1 @ X + b1)
Z2 = W2 @ A1 + b2
A2 = sg.softmax(Z2)
cost = sg.cross_entropy(Z2, Y)                           # on the scores, as PyTorch's

model = sg.Model("softmax_classifier", loss=cost, params=[W1, b1, W2, b2], inputs=[X, Y],
                 outputs={"A2": A2})
