"""An L-layer network built in a loop: ReLU hidden layers, a sigmoid output, mean BCE."""
import sympy as sp

import symgrad as sg

L = 4                                                    # layers with parameters
n = sp.symbols(f"n0:{L}", integer=True, positive=True)   # n0 = input size, n1.. = widths
m = sp.Symbol("m", integer=True, positive=True)
X, Y = sg.Input("X", n[0], m), sg.Input("Y", 1, m)
sizes = list(n) + [1]

params, A = [], X
for layer in range(1, L + 1):
    W = sg.Param(f"W{layer}", sizes[layer], sizes[layer - 1])
    b = sg.Param(f"b{layer}", sizes[layer], 1)
    params += [W, b]
    Z = W @ A + b
    A = sg.relu(Z) if layer < L else sg.sigmoid(Z)

cost = sg.binary_cross_entropy(A, Y)
model = sg.Model("deep_relu", loss=cost, params=params, inputs=[X, Y], outputs={"AL": A})
