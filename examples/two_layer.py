"""The planar classifier: a tanh hidden layer, a sigmoid output, binary cross-entropy."""
import sympy as sp

import symgrad as sg

n_x, n_h, m = sp.symbols("n_x n_h m", integer=True, positive=True)
X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)       # columns are examples
W1, b1 = sg.Param("W1", n_h, n_x), sg.Param("b1", n_h, 1)
W2, b2 = sg.Param("W2", 1, n_h), sg.Param("b2", 1, 1)

Z1 = W1 @ X + b1                                         # bias broadcasts over m
A1 = sg.tanh(Z1)
Z2 = W2 @ A1 + b2
A2 = sg.sigmoid(Z2)
cost = sg.binary_cross_entropy(A2, Y)

model = sg.Model("two_layer", loss=cost, params=[W1, b1, W2, b2], inputs=[X, Y],
                 outputs={"A2": A2})
