"""M2: 784-128-10 network, tanh hidden layer, softmax cross-entropy over rows (per column)."""
import sympy as sp

import symgrad as sg

n_x, n_h, n_y, m = sp.symbols("n_x n_h n_y m", integer=True, positive=True)
X, Y = sg.Input("X", n_x, m), sg.Input("Y", n_y, m)  # Y one-hot per column
W1, b1 = sg.Param("W1", n_h, n_x), sg.Param("b1", n_h, 1)
W2, b2 = sg.Param("W2", n_y, n_h), sg.Param("b2", n_y, 1)

A1 = sg.tanh(W1 @ X + b1)  # (n_h, 1) bias broadcasts over the m columns
Z2 = W2 @ A1 + b2
cost = -sg.sum(sp.HadamardProduct(Y, sg.log_softmax(Z2))) / m

model = sg.Model(
    "m2_softmax",
    loss=cost,
    params=[W1, b1, W2, b2],
    inputs=[X, Y],
    outputs={"A2": sg.softmax(Z2)},
)
