"""A student's backward pass for the planar two-layer network, checked step by step.

`backward_propagation(parameters, cache, X, Y)` is the course's: dZ2 = A2 - Y (per example),
dW2 = dZ2 A1^T / m, db2 = sum(dZ2) / m, dA1 = W2^T dZ2, dZ1 = dA1 * (1 - A1^2) (tanh'),
dW1 = dZ1 X^T / m, db1 = sum(dZ1) / m. Three classic bugs, each a variant of it:
- `missing_one_over_m`: dW1 = dZ1 X^T, without the 1/m;
- `no_activation_derivative`: dZ1 = dA1, without g'(Z1) = 1 - A1^2;
- `db_wrong_axis`: db1 summed over the hidden units (axis 0), not the examples (axis 1).
`symgrad.testing.compare_backprop` names the first wrong step of each, with the formula it
should follow, and passes the correct one:

    python examples/scripts/student_backprop.py
"""
from pathlib import Path

import numpy as np

from symgrad.testing import compare_backprop

MODEL = Path(__file__).resolve().parent.parent / "two_layer.py"


def backward_propagation(parameters, cache, X, Y, bug=None):
    m = X.shape[1]
    W2 = parameters["W2"]
    A1, A2 = cache["A1"], cache["A2"]
    dZ2 = A2 - Y
    dW2 = np.dot(dZ2, A1.T) / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = dA1 if bug == "no_activation_derivative" else dA1 * (1 - np.power(A1, 2))
    dW1 = np.dot(dZ1, X.T) if bug == "missing_one_over_m" else np.dot(dZ1, X.T) / m
    db1 = np.sum(dZ1, axis=0 if bug == "db_wrong_axis" else 1, keepdims=True) / m
    return {"dZ2": dZ2, "dW2": dW2, "db2": db2, "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


BUGS = ["missing_one_over_m", "no_activation_derivative", "db_wrong_axis"]


def main():
    for bug in [None] + BUGS:
        report = compare_backprop(MODEL, lambda p, c, X, Y, bug=bug:
                                  backward_propagation(p, c, X, Y, bug))
        print(f"--- {bug or 'correct'}")
        print(report.text())


if __name__ == "__main__":
    main()
