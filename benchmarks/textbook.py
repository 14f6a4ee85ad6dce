"""Textbook NumPy references: value_and_grad of M1-M5 as the course writes NumPy.

Andrew Ng's deep-learning course (and cs231n's notes) write forward and backward passes
with plain operators and `np.dot`, one new array per expression, never `out=`:
`A = sigmoid(np.dot(w.T, X) + b)`, `cost = -1/m * np.sum(Y*np.log(A) + (1-Y)*np.log(1-A))`,
`dW = 1/m * np.dot(dZ, A_prev.T)`, `db = 1/m * np.sum(dZ, axis=1, keepdims=True)`.
The one liberty taken: the course's `np.power(A1, 2)` is written `A1 * A1` (np.power with
an integer exponent runs scalar `pow`, 10-40 ns an element: it would flatter whoever is
compared with this code). Constants are Python floats, so float32 in gives float32 out.
Every function takes the parameters, then X, then Y, and returns (loss, grads) with grads
in parameter order.
"""
from __future__ import annotations

import math

import numpy as np

GELU_C = math.sqrt(2 / math.pi)  # tanh-GELU constants
GELU_K = 0.044715
LAM = 1e-3  # L2 weight of M5


def sigmoid(z):
    """The course's sigmoid."""
    return 1 / (1 + np.exp(-z))


def logreg(w, b, X, Y):
    """M1, the course's `propagate`: A = sigmoid(w.T X + b), cost = mean BCE."""
    m = X.shape[1]
    A = sigmoid(np.dot(w.T, X) + b)
    cost = -1 / m * np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    dw = 1 / m * np.dot(X, (A - Y).T)
    db = 1 / m * np.sum(A - Y)
    return cost, (dw, db)


def softmax(W1, b1, W2, b2, X, Y):
    """M2: tanh hidden layer, softmax cross-entropy per column (cs231n's shifted softmax)."""
    m = X.shape[1]
    Z1 = np.dot(W1, X) + b1
    A1 = np.tanh(Z1)
    Z2 = np.dot(W2, A1) + b2
    exp_scores = np.exp(Z2 - np.max(Z2, axis=0, keepdims=True))
    A2 = exp_scores / np.sum(exp_scores, axis=0, keepdims=True)
    cost = -1 / m * np.sum(Y * np.log(A2))
    dZ2 = A2 - Y
    dW2 = 1 / m * np.dot(dZ2, A1.T)
    db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = np.dot(W2.T, dZ2) * (1 - A1 * A1)
    dW1 = 1 / m * np.dot(dZ1, X.T)
    db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)
    return cost, (dW1, db1, dW2, db2)


def deep_relu(*args):
    """M3, the course's L-layer model: [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID."""
    *params, X, Y = args
    L = len(params) // 2
    m = X.shape[1]
    caches = []
    A = X
    for k in range(L - 1):
        W, b = params[2 * k], params[2 * k + 1]
        Z = np.dot(W, A) + b
        caches.append((A, W, Z))
        A = np.maximum(0, Z)
    W, b = params[-2], params[-1]
    AL = sigmoid(np.dot(W, A) + b)
    cost = -1 / m * np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL))
    dZ = AL - Y
    grads = [1 / m * np.dot(dZ, A.T), 1 / m * np.sum(dZ, axis=1, keepdims=True)]
    dA = np.dot(W.T, dZ)
    for A_prev, W, Z in reversed(caches):
        dZ = dA * (Z > 0)  # relu_backward
        grads[:0] = [1 / m * np.dot(dZ, A_prev.T), 1 / m * np.sum(dZ, axis=1, keepdims=True)]
        dA = np.dot(W.T, dZ)
    return cost, tuple(grads)


def tiny(W1, b1, W2, b2, X, Y):
    """M4, the course's planar-data network: tanh hidden layer, sigmoid output, BCE."""
    m = X.shape[1]
    Z1 = np.dot(W1, X) + b1
    A1 = np.tanh(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = sigmoid(Z2)
    logprobs = np.multiply(np.log(A2), Y) + np.multiply(np.log(1 - A2), 1 - Y)
    cost = -np.sum(logprobs) / m
    dZ2 = A2 - Y
    dW2 = 1 / m * np.dot(dZ2, A1.T)
    db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = np.dot(W2.T, dZ2) * (1 - A1 * A1)
    dW1 = 1 / m * np.dot(dZ1, X.T)
    db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)
    return cost, (dW1, db1, dW2, db2)


def swish_gelu(W1, b1, W2, b2, X, Y):
    """M5: A1 = swish(Z1), A2 = gelu_tanh(Z2), cost = sum((A2-Y)^2)/(2m) + L2 penalty."""
    m = X.shape[1]
    Z1 = np.dot(W1, X) + b1
    S1 = sigmoid(Z1)
    A1 = Z1 * S1
    Z2 = np.dot(W2, A1) + b2
    T2 = np.tanh(GELU_C * (Z2 + GELU_K * Z2 * Z2 * Z2))
    A2 = 0.5 * Z2 * (1 + T2)
    cost = (1 / (2 * m) * np.sum((A2 - Y) * (A2 - Y))
            + LAM / 2 * (np.sum(W1 * W1) + np.sum(W2 * W2)))
    dA2 = (A2 - Y) / m
    dZ2 = dA2 * (0.5 * (1 + T2)
                 + 0.5 * Z2 * (1 - T2 * T2) * GELU_C * (1 + 3 * GELU_K * Z2 * Z2))
    dW2 = np.dot(dZ2, A1.T) + LAM * W2
    db2 = np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = dA1 * (S1 + Z1 * S1 * (1 - S1))
    dW1 = np.dot(dZ1, X.T) + LAM * W1
    db1 = np.sum(dZ1, axis=1, keepdims=True)
    return cost, (dW1, db1, dW2, db2)


VALUE_AND_GRAD = {"m1_logreg": logreg, "m2_softmax": softmax, "m3_deep_relu": deep_relu,
                  "m4_tiny": tiny, "m5_swish_gelu": swish_gelu}
