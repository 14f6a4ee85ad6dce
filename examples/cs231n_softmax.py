"""cs231n's softmax classifier: examples as rows (X is (N, D)), integer labels y, and the
L2 penalty reg * sum(W * W)."""
import sympy as sp

import symgrad as sg

N, D, C = sp.symbols("N D C", integer=True, positive=True)
X, y = sg.Input("X", N, D), sg.Labels("y", N)       # y[i] in 0..C-1: an integer array (N,)
W, b = sg.Param("W", D, C), sg.Param("b", 1, C)
reg = 1e-3

scores = X @ W + b                                   # the row bias b broadcast down the rows
loss = sg.cross_entropy(scores, y, axis=1) + sg.l2(W, lam=2 * reg)   # classes along axis 1

model = sg.Model("cs231n_softmax", loss=loss, params=[W, b], inputs=[X, y],
                 outputs={"scores": scores})
