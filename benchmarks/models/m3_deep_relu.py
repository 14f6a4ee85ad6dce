"""M3: 784-256-256-256-256-256-1 network, ReLU hidden layers, sigmoid output, mean BCE."""
import sympy as sp

import symgrad as sg

n_x, m = sp.symbols("n_x m", integer=True, positive=True)
hidden = sp.symbols("n_1:6", integer=True, positive=True)  # five hidden widths
widths = [n_x, *hidden, 1]

X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)
params = []
A = X
for k in range(1, len(widths)):
    W, b = sg.Param(f"W{k}", widths[k], widths[k - 1]), sg.Param(f"b{k}", widths[k], 1)
    params += [W, b]
    Z = W @ A + b
    A = sg.relu(Z) if k < len(widths) - 1 else sg.sigmoid(Z)

cost = sg.binary_cross_entropy(A, Y)

model = sg.Model("m3_deep_relu", loss=cost, params=params, inputs=[X, Y], outputs={"A": A})
