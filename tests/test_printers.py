"""The node printers, golden strings: the exact NumPy code (fast and plain styles),
docstring math and LaTeX of small hand-built nodes, each written here from the NumPy an
expert (or a course) writes; every op of graph.OPS has a method in each printer, and a
printer without one says so."""
import pytest
import sympy as sp

from symgrad import ir, products
from symgrad.functions import sigmoid
from symgrad.graph import OPS, Graph, placeholder, topo
from symgrad.printing.latex import LatexNodePrinter, name_tex
from symgrad.printing.nodes import NodePrinter
from symgrad.printing.numpy import (FastNumPyNodePrinter, MathNodePrinter,
                                    PlainNumPyNodePrinter)
from symgrad.schedule import plan

n_x, n_h, m = sp.symbols("n_x n_h m", integer=True, positive=True)
X0, X1 = placeholder(0), placeholder(1)


class Net:
    """Leaves of a two-layer network (columns are examples) in a graph of their own."""

    def __init__(self):
        self.g = g = Graph()
        self.X = g.leaf(sp.MatrixSymbol("X", n_x, m))
        self.W1 = g.leaf(sp.MatrixSymbol("W1", n_h, n_x))
        self.b1 = g.leaf(sp.MatrixSymbol("b1", n_h, 1))
        self.W2 = g.leaf(sp.MatrixSymbol("W2", 1, n_h))
        self.Z1 = g.leaf(sp.MatrixSymbol("Z1", n_h, m))
        self.Z2 = g.leaf(sp.MatrixSymbol("Z2", 1, m))
        self.dZ1 = g.leaf(sp.MatrixSymbol("dZ1", n_h, m))
        self.dA1 = g.leaf(sp.MatrixSymbol("dA1", n_h, m))


def printed(node, name="out"):
    """(fast NumPy statements, plain ones, docstring math, LaTeX) of node computed into
    `name`; the fast ones after the products' forms (products.forms), as codegen runs it."""
    p = plan([node])
    names = {n.id: name if n is node else f"t{k}" for k, n in enumerate(p.order)}
    code = [printer(p, names).lines(node, name, iter(f"tmp{k}" for k in range(9)).__next__)
            for printer in (FastNumPyNodePrinter, PlainNumPyNodePrinter)]
    shapes = {n.name if n.op == "leaf" else names[n.id]: tuple(n.shape) for n in topo([node])
              if n.op == "leaf" or n.id in names}
    code[0] = ir.lines(products.forms(ir.parse(code[0]), shapes))
    math = MathNodePrinter({k: v for k, v in names.items() if k != node.id}, p.exprs).rhs(node)
    tex = LatexNodePrinter({}, p.exprs).rhs(node)
    return (*code, math, tex)


def test_a_matrix_product():
    net = Net()
    code, plain, math, tex = printed(net.g.matmul(net.W1, net.X), "Z1")
    assert code == ["Z1 = _matmul(W1, X)"]        # the helper picks the faster layout
    assert plain == ["Z1 = W1 @ X"]
    assert math == "W1 @ X"
    assert tex == r"W^{[1]}\, X"


def test_a_product_with_one_row_is_np_dot():
    net = Net()
    code, plain, math, tex = printed(net.g.matmul(net.W2, net.Z1), "Z2")
    assert code == ["Z2 = np.dot(W2, Z1)"]
    assert plain == ["Z2 = W2 @ Z1"]
    assert math == "W2 @ Z1"
    assert tex == r"W^{[2]}\, Z^{[1]}"


def test_a_bias_broadcast_over_the_columns_is_added_in_place():
    net = Net()
    z = net.g.map(X0 + X1, [net.g.matmul(net.W1, net.X), net.b1])
    code, plain, math, tex = printed(z, "Z1")
    assert code == ["Z1 = _matmul(W1, X)", "Z1 += b1"]
    assert plain == ["Z1 = W1 @ X + b1"]              # the equation, one statement
    assert math == "W1 @ X + b1"
    assert tex == r"W^{[1]}\, X + b^{[1]}"


def test_a_sum_over_the_columns_keeps_its_axis():
    net = Net()
    code, plain, math, tex = printed(net.g.sum(net.dZ1, 1), "db1")
    assert code == ["db1 = dZ1.sum(axis=1, keepdims=True)"]
    assert plain == ["db1 = np.sum(dZ1, axis=1, keepdims=True)"]
    assert math == "sum(dZ1, axis=1)"
    assert tex == r"\textstyle\sum_{i=1}^{m} dZ^{[1](i)}"        # over the m examples


def test_a_sum_of_everything_is_a_scalar():
    net = Net()
    code, plain, math, tex = printed(net.g.sum(net.Z1, scalar=True), "total")
    assert code == ["total = Z1.sum()"]
    assert plain == ["total = np.sum(Z1)"]
    assert math == "sum(Z1)"
    assert tex == r"\textstyle\sum Z^{[1]}"


def test_a_transpose_is_a_view_in_a_product():
    net = Net()
    code, plain, math, tex = printed(net.g.matmul(net.dZ1, net.g.transpose(net.X)), "dW1")
    assert code == ["dW1 = _matmul(dZ1, X.T)"]
    assert plain == ["dW1 = dZ1 @ X.T"]
    assert math == "dZ1 @ X.T"
    assert tex == r"dZ^{[1]}\, X^{T}"


def test_a_relu_mask_is_a_comparison():
    net = Net()
    dz = net.g.map(X0 * sp.Heaviside(X1), [net.dA1, net.Z1])
    code, plain, math, tex = printed(dz, "dZ1")
    assert code == plain == ["dZ1 = dA1*(Z1 > 0)"]     # a boolean mask, no np.heaviside
    assert math == "dA1*(Z1 > 0)"
    assert tex == r"dA^{[1]} \odot \mathbf{1}\left[Z^{[1]} > 0\right]"   # \mathbb{1}: a wrong glyph


def test_a_sigmoid_calls_the_stable_helper():
    net = Net()
    p = plan([net.g.map(sigmoid(X0), [net.Z2])])
    node = p.order[-1]
    for style in (FastNumPyNodePrinter, PlainNumPyNodePrinter):
        printer = style(p, {node.id: "A2"})
        assert printer.lines(node, "A2", None) == ["A2 = _sigmoid(Z2)"]
    assert "np.exp(s, s)" in FastNumPyNodePrinter.runtime["_sigmoid"]        # in place
    assert "return 1 / (1 + np.exp(-x))" in PlainNumPyNodePrinter.runtime["_sigmoid"]
    assert MathNodePrinter({}, p.exprs).rhs(node) == "sigmoid(Z2)"
    assert LatexNodePrinter({}, p.exprs).rhs(node) == r"\sigma\left(Z^{[2]}\right)"


def test_a_named_operand_prints_as_its_name():
    net = Net()
    dw = net.g.matmul(net.dZ1, net.g.transpose(net.X))
    printer = LatexNodePrinter({net.dZ1.id: r"\delta"})
    assert printer.rhs(dw) == r"\delta\, X^{T}"
    assert name_tex("dZ1") == "dZ^{[1]}"


def test_a_column_times_a_row_is_an_outer_product():
    net = Net()
    col = net.g.leaf(sp.MatrixSymbol("c", n_h, 1))
    row = net.g.leaf(sp.MatrixSymbol("r", 1, m))
    code, plain, math, _ = printed(net.g.map(2 * X0 * X1, [col, row]), "P")
    assert code == ["P = _matmul(c, r)", "P *= 2.0"]       # scaled in the product's array
    assert plain == ["P = 2*(c @ r)"]
    assert math == "2*(c @ r)"


def test_a_cube_is_multiplied_out_in_the_fast_style_only():
    net = Net()
    code, plain, math, tex = printed(net.g.map(X0 ** 3, [net.Z1]), "C")
    assert code == ["C = (Z1*Z1*Z1)"]              # NumPy fast-paths x**2 only
    assert plain == ["C = Z1**3"]
    assert math == "Z1**3"
    assert tex == r"Z^{[1]\circ 3}"                  # elementwise, not a matrix power


CODE_PRINTERS = [FastNumPyNodePrinter, PlainNumPyNodePrinter]


@pytest.mark.parametrize("printer", CODE_PRINTERS + [MathNodePrinter, LatexNodePrinter])
@pytest.mark.parametrize("op", sorted(OPS))
def test_every_op_has_a_method_in_every_printer(printer, op):
    methods = ["_print_" + op] + (["_lines_" + op] if printer in CODE_PRINTERS else [])
    assert any(callable(getattr(printer, m, None)) for m in methods), \
        f"{printer.__name__} has no {' or '.join(methods)}"


def test_a_printer_without_the_op_names_it():
    net = Net()

    class Partial(NodePrinter):
        pass
    with pytest.raises(NotImplementedError, match="Partial cannot print op 'sum'.*_print_sum"):
        Partial({}).rhs(net.g.sum(net.Z1, 1))


def test_statements_of_the_code_printer_are_not_expressions():
    net = Net()
    pad = net.g.pad([net.Z1], [((0, n_h, 1), (0, m, 1))], (n_h, m + 1))
    p = plan([pad])
    with pytest.raises(NotImplementedError, match="_print_pad"):
        FastNumPyNodePrinter(p, {n.id: "t" for n in p.order}).rhs(pad)
