"""The course's inverted dropout on a ReLU hidden layer, written as its NumPy reads: the mask
D1 is an input (drawn per call as (np.random.rand(n_h, m) < keep_prob) * 1.0), and the cost is
computed as the course computes it."""
import sympy as sp

import symgrad as sg

n_x, n_h, m = sp.symbols("n_x n_h m", integer=True, positive=True)
X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)
D1 = sg.Input("D1", n_h, m)                              # the dropout mask
W1, b1 = sg.Param("W1", n_h, n_x), sg.Param("b1", n_h, 1)
W2, b2 = sg.Param("W2", 1, n_h), sg.Param("b2", 1, 1)
keep_prob = 0.8

Z1 = W1 @ X + b1
A1 = sg.relu(Z1)
A1 = A1 * D1 / keep_prob                                 # shut down, then scale the rest
Z2 = W2 @ A1 + b2
A2 = sg.sigmoid(Z2)
logprobs = Y * sg.log(A2) + (1 - Y) * sg.log(1 - A2)
cost = -sg.sum(logprobs) / m

model = sg.Model("dropout", loss=cost, params=[W1, b1, W2, b2], inputs=[X, Y, D1],
                 outputs={"A2": A2})
