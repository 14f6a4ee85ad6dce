"""Single-head self-attention (Vaswani et al., 2017), one token per column: the queries,
keys and values keep their names in the generated code although SymPy multiplies K.T @ Q
out into X.T @ Wk.T @ Wq @ X."""
import sympy as sp

import symgrad as sg

d, d_k, m = sp.symbols("d d_k m", integer=True, positive=True)   # width, key width, tokens
X, Y = sg.Input("X", d, m), sg.Input("Y", d, m)
Wq, Wk, Wv = sg.Param("Wq", d_k, d), sg.Param("Wk", d_k, d), sg.Param("Wv", d, d)

Q = Wq @ X                          # queries
K = Wk @ X                          # keys
V = Wv @ X                          # values
S = K.T @ Q / sp.sqrt(d_k)          # S[i, j]: how well key i matches query j
P = sg.softmax(S)                   # attention weights: each column sums to 1
A = V @ P                           # each token's output: a weighted sum of the values
cost = sg.mse(A, Y)

model = sg.Model("attention", loss=cost, params=[Wq, Wk, Wv], inputs=[X, Y],
                 outputs={"P": P})
