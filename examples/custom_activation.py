"""Plain SymPy: a swish layer and a tanh-GELU layer written as Lambdas, squared error,
and an L2 penalty on the weights (lam/2)(|W1|^2 + |W2|^2)."""
import sympy as sp
from sympy import HadamardPower, Lambda, MatrixSymbol, OneMatrix, exp, pi, sqrt, tanh

import symgrad as sg

n_x, n_h, n_y, m = sp.symbols("n_x n_h n_y m", integer=True, positive=True)
X, Y = MatrixSymbol("X", n_x, m), MatrixSymbol("Y", n_y, m)
W1, b1 = MatrixSymbol("W1", n_h, n_x), MatrixSymbol("b1", n_h, 1)
W2, b2 = MatrixSymbol("W2", n_y, n_h), MatrixSymbol("b2", n_y, 1)
lam = sp.Rational(1, 100)

t = sp.Symbol("t", real=True)
swish = Lambda(t, t / (1 + exp(-t)))
gelu = Lambda(t, t / 2 * (1 + tanh(sqrt(2 / pi) * (t + sp.Float("0.044715") * t**3))))

A1 = (W1 * X + b1 * OneMatrix(1, m)).applyfunc(swish)
A2 = (W2 * A1 + b2 * OneMatrix(1, m)).applyfunc(gelu)


def sum_all(M):
    return OneMatrix(1, M.shape[0]) * M * OneMatrix(M.shape[1], 1)


cost = (sum_all(HadamardPower(A2 - Y, 2)) / (2 * m)
        + lam / 2 * (sum_all(HadamardPower(W1, 2)) + sum_all(HadamardPower(W2, 2))))

model = sg.Model("custom_activation", loss=cost, params=[W1, b1, W2, b2], inputs=[X, Y],
                 outputs={"A2": A2})
