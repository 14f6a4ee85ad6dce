"""Hand-tuned NumPy references: value_and_grad of M1-M5, the fastest NumPy we can write.

Rules of the game: the same math and the same accuracy as the textbook code (no formula
that loses digits: sigmoid is 1/(1 + exp(-z)), tanh is np.tanh), but every elementwise
step in place (`out=`, positional where NumPy allows it), arrays that die reused as
buffers for the next step, constants folded into one multiplication, `np.dot` for
products (measured against `@`: `np.dot` skips matmul's gufunc dispatch, 0.3-0.5 us a
call on small operands, and is never slower on large ones), reductions as `np.vdot` or
`.sum()` on contiguous arrays, integer powers as products. Buffers are allocated inside
the call (nothing is kept between calls), so results are fresh arrays, as the textbook's.
Overflow of exp(-z) for z below about -709 (-88 in float32) gives the exact limit and
NumPy's RuntimeWarning; no errstate context is paid for (1 us a call).
"""
from __future__ import annotations

import math

import numpy as np

GELU_C = math.sqrt(2 / math.pi)
GELU_K = 0.044715
LAM = 1e-3


def _sigmoid_into(Z, out):
    """out = 1/(1 + exp(-Z)), computed in out (which may be Z)."""
    np.negative(Z, out)
    np.exp(out, out)
    out += 1
    return np.reciprocal(out, out)


def logreg(w, b, X, Y):
    """M1: Z = w.T X + b; loss = mean(softplus(Z) - Y Z); dZ = (sigmoid(Z) - Y)/m."""
    m = X.shape[1]
    Z = np.dot(w.T, X)
    Z += b
    loss = (np.logaddexp(0.0, Z).sum() - np.vdot(Y, Z)) / m
    dZ = _sigmoid_into(Z, Z)
    dZ -= Y
    dZ *= 1.0 / m
    return loss, (np.dot(X, dZ.T), dZ.sum())


def softmax(W1, b1, W2, b2, X, Y):
    """M2: A1 = tanh(W1 X + b1); loss = -(1/m) sum(Y log softmax(W2 A1 + b2)); one-hot Y."""
    m = X.shape[1]
    inv_m = 1.0 / m
    A1 = np.dot(W1, X)
    A1 += b1
    np.tanh(A1, A1)
    Z2 = np.dot(W2, A1)
    Z2 += b2
    Z2 -= Z2.max(axis=0)
    E = np.exp(Z2)
    S = E.sum(axis=0)
    # sum(Y * (Z2 - log S)) with each column of Y summing to 1
    loss = (np.log(S).sum() - np.vdot(Y, Z2)) * inv_m
    E /= S
    E -= Y
    E *= inv_m
    dZ2 = E
    dW2 = np.dot(dZ2, A1.T)
    db2 = dZ2.sum(axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    np.multiply(A1, A1, A1)  # A1 is dead after dW2: 1 - A1^2 in its buffer
    np.subtract(1.0, A1, A1)
    dA1 *= A1
    dW1 = np.dot(dA1, X.T)
    return loss, (dW1, dA1.sum(axis=1, keepdims=True), dW2, db2)


def deep_relu(*args):
    """M3: [W A + b -> relu] x (L-1) -> W A + b -> sigmoid, loss = mean BCE from logits."""
    *params, X, Y = args
    Ws, bs = params[0::2], params[1::2]
    m = X.shape[1]
    As = [X]
    for W, b in zip(Ws[:-1], bs[:-1]):
        Z = np.dot(W, As[-1])
        Z += b
        As.append(np.maximum(Z, 0.0, out=Z))
    Z = np.dot(Ws[-1], As[-1])
    Z += bs[-1]
    loss = (np.logaddexp(0.0, Z).sum() - np.vdot(Y, Z)) / m
    dZ = _sigmoid_into(Z, Z)
    dZ -= Y
    dZ *= 1.0 / m
    grads = []
    for k in range(len(Ws) - 1, -1, -1):
        A = As[k]
        grads.append(dZ.sum(axis=1, keepdims=True))
        grads.append(np.dot(dZ, A.T))
        if k:
            dZ = np.dot(Ws[k].T, dZ)
            dZ *= A > 0  # relu'(0) = 0
    grads.reverse()
    return loss, tuple(grads)


def tiny(W1, b1, W2, b2, X, Y):
    """M4 (4-8-1, overhead-bound): as few NumPy calls as the math allows."""
    inv_m = 1.0 / X.shape[1]
    A1 = np.dot(W1, X)
    A1 += b1
    np.tanh(A1, A1)
    Z2 = np.dot(W2, A1)
    Z2 += b2
    loss = (np.logaddexp(0.0, Z2).sum() - np.vdot(Y, Z2)) * inv_m
    dZ2 = _sigmoid_into(Z2, Z2)
    dZ2 -= Y
    dZ2 *= inv_m
    dW2 = np.dot(dZ2, A1.T)
    db2 = dZ2.sum(axis=1, keepdims=True)
    dZ1 = np.multiply(A1, A1, A1)
    np.subtract(1.0, dZ1, dZ1)
    dZ1 *= np.dot(W2.T, dZ2)
    return loss, (np.dot(dZ1, X.T), dZ1.sum(axis=1, keepdims=True), dW2, db2)


def swish_gelu(W1, b1, W2, b2, X, Y):
    """M5: swish, then tanh-GELU written as z sigmoid(2u) (0.5 (1 + tanh u) = sigmoid(2u)),
    u = c (z + k z^3); loss = sum((A2 - Y)^2)/(2m) + lam/2 (|W1|^2 + |W2|^2)."""
    m = X.shape[1]
    inv_m = 1.0 / m
    Z1 = np.dot(W1, X)
    Z1 += b1
    S1 = _sigmoid_into(Z1, np.empty_like(Z1))
    A1 = Z1 * S1
    Z2 = np.dot(W2, A1)
    Z2 += b2
    Q = Z2 * Z2
    V = Q * (2 * GELU_C * GELU_K)  # 2u = z (2c + 2ck z^2)
    V += 2 * GELU_C
    V *= Z2
    G = _sigmoid_into(V, V)  # sigmoid(2u)
    D = np.multiply(Z2, G)  # A2
    D -= Y
    loss = 0.5 * inv_m * np.vdot(D, D) + 0.5 * LAM * (np.vdot(W1, W1) + np.vdot(W2, W2))
    # gelu'(z) = G + z G (1 - G) d(2u)/dz, d(2u)/dz = 2c (1 + 3k z^2)
    Q *= 6 * GELU_C * GELU_K
    Q += 2 * GELU_C
    Q *= Z2
    Q *= G
    np.subtract(1.0, G, Z2)  # Z2 is dead from here: it holds 1 - G
    Q *= Z2
    Q += G
    D *= inv_m
    D *= Q
    dZ2 = D
    dA1 = np.dot(W2.T, dZ2)
    dW2 = np.dot(dZ2, A1.T)
    dW2 += LAM * W2
    db2 = dZ2.sum(axis=1, keepdims=True)
    # swish'(z) = s + z s (1 - s) = s (1 + z - z s), in A1's buffer (A1 = z s)
    np.subtract(Z1, A1, A1)
    A1 += 1
    A1 *= S1
    dA1 *= A1
    dW1 = np.dot(dA1, X.T)
    dW1 += LAM * W1
    return loss, (dW1, dA1.sum(axis=1, keepdims=True), dW2, db2)


VALUE_AND_GRAD = {"m1_logreg": logreg, "m2_softmax": softmax, "m3_deep_relu": deep_relu,
                  "m4_tiny": tiny, "m5_swish_gelu": swish_gelu}
