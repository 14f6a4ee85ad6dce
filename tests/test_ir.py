"""The statement IR (symgrad/ir.py) on its own: what each statement reads and writes, which
arrays a function owns, and which memory each value may share (the copies on return)."""
import ast

import pytest

from symgrad import ir


@pytest.mark.parametrize("text,kind,target,reads", [
    ("Z1 = _matmul(W1, X)", "assign", "Z1", {"_matmul", "W1", "X"}),
    ("Z1 += b1", "update", "Z1", {"Z1", "b1"}),
    ("dZ[y, np.arange(m)] -= 1/m", "update", "dZ", {"dZ", "y", "np", "m"}),
    ("np.subtract(1, t, out=t)", "update", "t", {"np", "t"}),
    ("del A1, Z1", "free", None, set()),
    ("# back through Z2 = W2 @ A1 + b2", "comment", None, set()),
])
def test_a_statement_knows_its_kind_target_and_reads(text, kind, target, reads):
    s = ir.Stmt.parse(text)
    assert (s.kind, s.target, set(s.reads), s.text) == (kind, target, reads, text)


@pytest.mark.parametrize("text,allocates,holder", [
    ("Z1 = _matmul(W1, X)", True, None),
    ("t = A - Y", True, None),
    ("t = -A", True, None),
    ("A1 = np.maximum(0, Z1, out=Z1)", True, "Z1"),
    ("B = A", False, "A"),
    ("B = A.T", False, None),
    ("B = np.broadcast_to(b, (n, m))", False, None),
    ("Z1 += b1", False, None),
])
def test_allocation_and_the_array_a_target_is_bound_to(text, allocates, holder):
    s = ir.Stmt.parse(text)
    assert s.allocates() == allocates and s.holder() == holder


def test_owned_arrays_are_the_allocated_matrices_no_view_or_alias_reads():
    stmts = ir.parse(["Z = _matmul(W, X)", "V = Z.T", "A = np.tanh(Z)", "s = A.sum()",
                      "C = A - 1", "D = C"])
    shapes = {"Z": (3, 4), "V": (4, 3), "A": (3, 4), "s": (), "C": (3, 4), "D": (3, 4)}
    assert ir.owned(stmts, shapes) == {"A"}                # Z is viewed, C aliased by D
    assert ir.owned(stmts, shapes, given={"G"}) == {"A"}   # G: no shape known, not an array
    assert ir.owned(stmts, shapes | {"G": (3, 4)}, given={"G"}) == {"A", "G"}


def test_sharing_follows_views_aliases_out_and_broadcasts_back_to_the_arguments():
    stmts = ir.parse(["Z = _matmul(W, X)", "V = X.T", "R = X.reshape(1, -1)",
                      "A = np.tanh(Z, out=Z)", "B = np.broadcast_to(b, (n, m))", "C = V[0:2]"])
    shares = ir.sharing(stmts, ["W", "X", "b"])
    assert shares["Z"] == {"Z"} and shares["A"] == {"Z"}
    assert shares["V"] == {"X"} and shares["R"] == {"X"} and shares["C"] == {"X"}
    assert shares["B"] == {"b", "<read-only>"}


def test_lines_give_back_the_text_as_printed():
    text = ["Z1 = _matmul(W1, X)", "Z1 += b1", "# a comment", "del Z1"]
    assert ir.lines(ir.parse(text)) == text


@pytest.mark.parametrize("text", [
    "t = (1/2)*D/m",                      # a fraction in a product keeps its parentheses
    "x = -((a @ b) @ c)",                 # so does a product of products: the order chosen
    "A1 *= 1.25*D1",
    "dZ = np.tanh(Z, out=Z)*(1 - A**2)",
    "x = a - (b - c)",
    "y = (Z1 > 0)*G",
    "dscores[np.arange(N), y] -= 1/N",
])
def test_source_writes_a_tree_in_the_printers_notation(text):
    """What a pass rewrites reads as the printers write (ast.unparse gives T * 2, 1 / N)."""
    assert ir.source(ast.parse(text)) == text


SHAPES = {"W": (4, 3), "X": (3, 5), "b": (4, 1), "S": (2, 3, 5), "m": ()}


@pytest.mark.parametrize("text,shape", [
    ("W @ X + b", (4, 5)), ("(W @ X).T", (5, 4)), ("W.T", (3, 4)), ("-b/m", (4, 1)),
    ("np.tanh(W @ X)*(b > 0)", (4, 5)), ("W @ S", (2, 4, 5)), ("S.mT", (2, 5, 3)),
    ("2", ()), ("W @ b", None), ("W + X", None), ("_sigmoid(X)", (3, 5)), ("X[:, :2]", None),
    ("_matmul(W, X)", (4, 5)), ("np.dot(W.T, b)", (3, 1)), ("np.dot(W, b)", None),
    ("X.sum(axis=1, keepdims=True)", (3, 1)), ("X.sum(axis=-2, keepdims=True)", (1, 5)),
    ("X.sum(axis=0)", None), ("_logsumexp(X, -2)", None),
])
def test_the_shape_of_a_value_from_the_shapes_of_its_names(text, shape):
    assert ir.shape_of(ast.parse(text, mode="eval").body, SHAPES) == shape


@pytest.mark.parametrize("text,dtype", [
    ("W > 0", "bool"), ("np.greater(W, 0)", "bool"), ("np.isfinite(W)", "bool"),
    ("np.tanh(W)", "float"), ("W*(W > 0)", "float"), ("y", "int"), ("W", "float"),
])
def test_the_dtype_of_a_value(text, dtype):
    assert ir.dtype_of(ast.parse(text, mode="eval").body, {"y": "int"}) == dtype
