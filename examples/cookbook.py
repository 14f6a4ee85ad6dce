"""Matrix Cookbook ops: the negative log-likelihood of a Gaussian with mean mu and precision
P = L L^T (log det by slogdet, the trace of a product), its covariance P^-1, and the full
Jacobian of the covariance with respect to L (through the inverse)."""
import sympy as sp

import symgrad as sg

n, m = sp.symbols("n m", integer=True, positive=True)
X = sg.Input("X", n, m)                              # one sample per column
mu, L = sg.Param("mu", n, 1), sg.Param("L", n, n)

P = L @ L.T                                          # positive definite for invertible L
D = X - mu                                           # mu broadcasts over the m samples
nll = (sp.Trace(P @ D @ D.T) / m - sp.log(sp.det(P))) / 2

model = sg.Model("cookbook", loss=nll, params=[mu, L], inputs=[X],
                 outputs={"covariance": P.I}, jacobians={"dcov_dL": (P.I, L)})
