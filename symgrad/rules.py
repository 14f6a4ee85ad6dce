"""The one registry of vector-Jacobian-product rules: op -> how an adjoint flows back.

`VJP[op](graph, node, g, i)` returns the contribution of node's output adjoint `g` to the
adjoint of `node.args[i]`, in node's broadcast shape (the sweep undoes broadcasting once).
`LOCAL[op]` explains the rule for the derivation trace and its LaTeX view: a description,
the structure of the local Jacobian (diagonal, Kronecker, ...), and the chain-rule product
it becomes, both as LaTeX given the operands' texts. Adding an op means adding one rule
here, with its explanation, and one converter method in convert.py.
"""
from dataclasses import dataclass
from typing import Callable

import sympy as sp

from .graph import placeholder
from .simplify import simplify_derivative

VJP = {}
LOCAL = {}


@dataclass(frozen=True)
class Local:
    """How one op's VJP reads. `jacobian(ops, i)` is d(node)/d(operand i) in LaTeX and
    `chain(ops, i, G)` the product dL/d(operand i) it gives, where ops are the LaTeX texts
    of node's operands (with .shape) and G the text of node's adjoint."""
    text: str
    jacobian: Callable
    chain: Callable


def defvjp(op, text, jacobian, chain):
    """Register the function below as op's VJP rule, explained by (text, jacobian, chain)."""
    def register(rule):
        VJP[op] = rule
        LOCAL[op] = Local(text, jacobian, chain)
        return rule
    return register


def map_partial(node, i):
    """d(node)/d(operand i) of an elementwise node, as a scalar expression."""
    return simplify_derivative(sp.diff(node.expr, placeholder(i)))


def _t(text):
    return r"{%s}^{\top}" % text


def _eye(n):
    return r"I_{%s}" % sp.latex(n)


def _ones(n):
    return r"\mathbf{1}_{%s}" % sp.latex(n)


# ---- matrix products ----------------------------------------------------------------------
@defvjp("matmul", "A B: dA = G B^T, dB = A^T G",
        jacobian=lambda ops, i: (r"%s \otimes %s" % (_t(ops[1]), _eye(ops[0].shape[0])) if i == 0
                                 else r"%s \otimes %s" % (_eye(ops[1].shape[1]), ops[0])),
        chain=lambda ops, i, G: (r"%s\, %s" % (G, _t(ops[1])) if i == 0
                                 else r"%s\, %s" % (_t(ops[0]), G)))
def _matmul(graph, node, g, i):
    a, b = node.args
    if i == 0:
        return graph.matmul(g, graph.transpose(b))
    return graph.matmul(graph.transpose(a), g)


@defvjp("transpose", "A^T: dA = G^T",
        jacobian=lambda ops, i: r"K \text{ (the commutation matrix)}",
        chain=lambda ops, i, G: _t(G))
def _transpose(graph, node, g, i):
    return graph.transpose(g, push=True)


# ---- elementwise (any SymPy scalar function, by sympy.diff on the placeholder) ----------
@defvjp("map", "f(A, B, ...) elementwise: dA = G * df/dA (a diagonal Jacobian)",
        jacobian=lambda ops, i: ops.partial if ops.node.shape == () else "I" if ops.partial == "1"
        else r"\operatorname{diag}\left(%s\right)" % ops.partial,
        chain=lambda ops, i, G: r"%s \%s %s" % (G, "cdot" if ops.node.shape == () else "odot",
                                               ops.wrapped_partial))
def _map(graph, node, g, i):
    local = map_partial(node, i)
    return graph.map(placeholder(len(node.args)) * local, list(node.args) + [g], node.shape)


# ---- reductions ---------------------------------------------------------------------------
@defvjp("sum", "sum(A): dA = G broadcast over the summed axes",
        jacobian=lambda ops, i: {
            None: r"\operatorname{vec}(\mathbf{1})^{\top}",
            0: r"%s \otimes %s" % (_eye(ops[0].shape[1]), _t(_ones(ops[0].shape[0]))),
            1: r"%s \otimes %s" % (_t(_ones(ops[0].shape[1])), _eye(ops[0].shape[0]))}[ops.node.axis],
        chain=lambda ops, i, G: r"%s \text{ broadcast to } %s" % (G, ops.shape_text(ops[0].shape)))
def _sum(graph, node, g, i):
    return graph.map(placeholder(0), [g], node.args[0].shape)


@defvjp("logsumexp", "logsumexp(A) per column: dA = G * softmax(A)",
        jacobian=lambda ops, i: r"\operatorname{blockdiag}_j\left(\operatorname{softmax}(%s_{:j})^{\top}\right)" % ops[0],
        chain=lambda ops, i, G: r"%s \odot \operatorname{softmax}\left(%s\right)" % (G, ops[0]))
def _logsumexp(graph, node, g, i):
    x, lse, gx = placeholder(0), placeholder(1), placeholder(2)
    return graph.map(gx * sp.exp(x - lse), [node.args[0], node, g], node.args[0].shape)


@defvjp("trace", "tr(A): dA = G I",
        jacobian=lambda ops, i: r"\operatorname{vec}(I)^{\top}",
        chain=lambda ops, i, G: r"%s\, %s" % (G, _eye(ops[0].shape[0])))
def _trace(graph, node, g, i):
    n = node.args[0].shape[0]
    return graph.map(placeholder(0) * placeholder(1), [g, graph.eye(n)], (n, n))
