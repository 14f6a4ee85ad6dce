"""A model using every op in the rule registry, so the LaTeX test explains and compiles each:
products, transposes, elementwise maps, sums, log-sum-exp, trace, inverse, det, log det,
max and min reductions, slices and concatenation, the trace of an elementwise function (its
diagonal), and the score at integer labels (pick)."""
import sympy as sp

import symgrad as sg

n, m = sp.symbols("n m", integer=True, positive=True)
S, W = sg.Param("S", n, n), sg.Param("W", n, n)
X, y = sg.Input("X", n, m), sg.Labels("y", m)

Z = W.T @ X
loss = (sp.Trace(S) + sp.det(S) + sg.sum(S.I @ X) + sp.log(sp.det(W @ W.T))
        + sg.mean(sg.logsumexp(sg.tanh(Z))) + sg.cross_entropy(Z, y) + sg.min(S)
        + sp.Trace(sg.sin(S)) + sg.sum(sg.concat([Z[:1, :], sg.max(Z, axis=0)], axis=0)))

model = sg.Model("zoo", loss=loss, params=[S, W], inputs=[X, y])
