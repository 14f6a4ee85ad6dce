"""The one registry of vector-Jacobian-product rules: op -> how an adjoint flows back.

`VJP[op](graph, node, g, i)` returns the contribution of node's output adjoint `g` to the
adjoint of `node.args[i]`, in node's broadcast shape (the sweep undoes broadcasting once).
`LOCAL[op]` names the local Jacobian for the derivation trace. Adding an op means adding
one rule here and one converter method in convert.py.
"""
import sympy as sp

from .graph import placeholder
from .simplify import simplify_derivative

VJP = {}
LOCAL = {}


def defvjp(op, local):
    """Register the function below as op's VJP rule; local describes its Jacobian."""
    def register(rule):
        VJP[op] = rule
        LOCAL[op] = local
        return rule
    return register


# ---- matrix products ----------------------------------------------------------------------
@defvjp("matmul", "A B: dA = G B^T, dB = A^T G")
def _matmul(graph, node, g, i):
    a, b = node.args
    if i == 0:
        return graph.matmul(g, graph.transpose(b))
    return graph.matmul(graph.transpose(a), g)


@defvjp("transpose", "A^T: dA = G^T")
def _transpose(graph, node, g, i):
    return graph.transpose(g, push=True)


# ---- elementwise (any SymPy scalar function, by sympy.diff on the placeholder) ----------
@defvjp("map", "f(A, B, ...) elementwise: dA = G * df/dA (a diagonal Jacobian)")
def _map(graph, node, g, i):
    local = simplify_derivative(sp.diff(node.expr, placeholder(i)))
    return graph.map(placeholder(len(node.args)) * local, list(node.args) + [g], node.shape)


# ---- reductions ---------------------------------------------------------------------------
@defvjp("sum", "sum(A): dA = G broadcast over the summed axes")
def _sum(graph, node, g, i):
    return graph.map(placeholder(0), [g], node.args[0].shape)


@defvjp("logsumexp", "logsumexp(A) per column: dA = G * softmax(A)")
def _logsumexp(graph, node, g, i):
    x, lse, gx = placeholder(0), placeholder(1), placeholder(2)
    return graph.map(gx * sp.exp(x - lse), [node.args[0], node, g], node.args[0].shape)


@defvjp("trace", "tr(A): dA = G I")
def _trace(graph, node, g, i):
    n = node.args[0].shape[0]
    return graph.map(placeholder(0) * placeholder(1), [g, graph.eye(n)], (n, n))
