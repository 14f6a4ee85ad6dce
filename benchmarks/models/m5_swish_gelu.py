"""M5: 512-512-512 network, swish then tanh-GELU, squared error plus an L2 penalty."""
import sympy as sp

import symgrad as sg

t = sp.Symbol("t", real=True)
swish = sp.Lambda(t, t / (1 + sp.exp(-t)))  # t * sigmoid(t)
gelu_tanh = sp.Lambda(
    t, t / 2 * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (t + sp.Rational("0.044715") * t**3)))
)
lam = sp.Rational("1e-3")  # L2 weight, a constant

n_x, n_h, n_y, m = sp.symbols("n_x n_h n_y m", integer=True, positive=True)
X, Y = sg.Input("X", n_x, m), sg.Input("Y", n_y, m)
W1, b1 = sg.Param("W1", n_h, n_x), sg.Param("b1", n_h, 1)
W2, b2 = sg.Param("W2", n_y, n_h), sg.Param("b2", n_y, 1)

A1 = (W1 @ X + b1).applyfunc(swish)
A2 = (W2 @ A1 + b2).applyfunc(gelu_tanh)
squared_error = sg.sum(sp.HadamardPower(A2 - Y, 2)) / (2 * m)
penalty = lam / 2 * (sg.sum(sp.HadamardPower(W1, 2)) + sg.sum(sp.HadamardPower(W2, 2)))
cost = squared_error + penalty

model = sg.Model(
    "m5_swish_gelu", loss=cost, params=[W1, b1, W2, b2], inputs=[X, Y], outputs={"A2": A2}
)
