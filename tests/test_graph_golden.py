"""The graph as text (graph.describe): small models' graphs, written out by hand from the
builder's rules, and identical subexpressions as one node."""
import sympy as sp
from conftest import EXAMPLES
from helpers import logistic

import symgrad as sg
from symgrad.derive import derive
from symgrad.graph import describe
from symgrad.load import load

n, m, k = sp.symbols("n m k", integer=True, positive=True)


# the forward graph: a map's operands are ordered by node id (parameters, then inputs, in
# the model's order: w, b, X, Y); log(A) and log(1 - A) are composed with A = sigmoid(z)
# into -softplus(-z) and -softplus(z), so the loss never reads A; 1 - Y, an affine map of
# one operand, is written into its user; the mean over the (1, m) entries is a sum over m
LOGISTIC_FORWARD = """\
Y = leaf  (1, m)
b = leaf  (1, 1)
w = leaf  (1, n)
X = leaf  (n, m)
n0 = matmul(w, X)  (1, m)
n1 = map[_x0 + _x1](b, n0)  (1, m)
n2 = map[-softplus(_x0)](n1)  (1, m)
n3 = map[_x1*(1 - _x0)](Y, n2)  (1, m)
n4 = map[-softplus(-_x0)](n1)  (1, m)
n5 = map[_x0*_x1](Y, n4)  (1, m)
n6 = map[-_x0 - _x1](n3, n5)  (1, m)
n7 = sum(n6)  scalar
n8 = map[_x0/m](n7)  scalar
A = map[sigmoid(_x0)](n1)  (1, m)"""


def test_forward_graph_of_a_one_layer_sigmoid_model():
    d = logistic()
    assert describe([d.loss, d.outputs["A"]]) == LOGISTIC_FORWARD


def test_the_sweep_writes_sigmoid_derivatives_with_the_forward_sigmoid():
    # L = sum((1 - Y) softplus(z) + Y softplus(-z))/m, so dL/dz = (1 - Y) A/m - Y (1 - A)/m,
    # one term per softplus, each reading the forward node A = sigmoid(z), not a new one;
    # dw = dz X^T, and db sums dz over the m columns b was broadcast along
    d = logistic()
    assert describe([d.loss, d.outputs["A"]] + d.grads) == LOGISTIC_FORWARD + """
n9 = map[-_x0*(1 - _x1)/m](Y, A)  (1, m)
n10 = map[_x1*(1 - _x0)/m](Y, A)  (1, m)
n11 = map[_x0 + _x1](n9, n10)  (1, m)
n12 = transpose(X)  (m, n)
dw = matmul(n11, n12)  (1, n)
db = sum[axis=1](n11)  (1, 1)"""


def test_identical_subexpressions_are_one_node():
    # tanh(W X) written three times, W X three times: one matmul and one tanh node, and
    # T*T is a map of one operand
    W, X = sg.Param("W", k, n), sg.Input("X", n, m)
    loss = sg.sum(sg.tanh(W @ X)) + sg.sum(sg.tanh(W @ X) * sg.tanh(W @ X))
    d = derive(sg.Model("shared", loss, [W], [X]))
    assert describe([d.loss]) == """\
W = leaf  (k, n)
X = leaf  (n, m)
n0 = matmul(W, X)  (k, m)
n1 = map[tanh(_x0)](n0)  (k, m)
n2 = sum(n1)  scalar
n3 = map[_x0**2](n1)  (k, m)
n4 = sum(n3)  scalar
n5 = map[_x0 + _x1](n2, n4)  scalar"""


def test_no_two_nodes_of_an_example_derivation_are_alike():
    # hash-consing: two lines with the same op, parameters, operands and shape would be two
    # nodes computing one value (leaves differ by their names, not their lines)
    for path in EXAMPLES:
        for model, names in load(path):
            d = derive(model, names)
            text = describe([d.loss, *d.outputs.values(), *d.grads])
            lines = [line.split(" = ", 1)[1] for line in text.splitlines()
                     if not line.split(" = ", 1)[1].startswith("leaf")]
            repeated = {line for line in lines if lines.count(line) > 1}
            assert not repeated, (model.name, repeated)


def test_slices_and_concatenations_show_their_axis_and_regions():
    # d sum(C * G)/dC = G for C = [U; V] stacked along axis 0: the gradients are G's blocks
    U, V, G = sg.Param("U", n, m), sg.Param("V", k, m), sg.Input("G", n + k, m)
    d = derive(sg.Model("stacked", sg.sum(sp.HadamardProduct(sg.concat([U, V], axis=0), G)),
                        [U, V], [G]))
    assert describe([d.loss] + d.grads) == """\
G = leaf  (k + n, m)
U = leaf  (n, m)
V = leaf  (k, m)
n0 = concat[axis=0](U, V)  (k + n, m)
n1 = map[_x0*_x1](G, n0)  (k + n, m)
n2 = sum(n1)  scalar
dU = slice[0:n, 0:m](G)  (n, m)
dV = slice[n:k + n, 0:m](G)  (k, m)"""
