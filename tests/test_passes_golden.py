"""Golden strings for the passes: liveness (out= reuse into dying arrays, chains of in-place
writes, del at death) over hand-written statements, and the schedule (fusion, inlining,
hoisting shared calls, tanh as sigmoid, stable exp sums, the fusion budget) over small
graphs. Each expected value is derived by hand in the comment beside it, and the rewritten
statements are run against the originals in NumPy."""
import re
import numpy as np
import pytest
import sympy as sp
from helpers import assert_plan_computes_the_graph, assert_same_results, fresh_names, logistic
from op_cases import leaf

import symgrad as sg
from symgrad.derive import derive
from symgrad.functions import sigmoid, softplus
from symgrad.graph import Graph, Node, listing, placeholder
from symgrad import ir
from symgrad.liveness import one_out_each, reuse_and_free
from symgrad.simplify import canonical
from symgrad.schedule import (FUSED, _fuse_within_budget, _hoist_shared_calls,
                              _positive_bce, _stable_exp_sums, _tanh_as_sigmoid, plan)
from symgrad.testing import random_instance

X0, X1, X2 = placeholder(0), placeholder(1), placeholder(2)
n, m, k = sp.symbols("n m k", integer=True, positive=True)

# ---- liveness.reuse_and_free ---------------------------------------------------------------
# arguments A, B (3 x 3) and u (3 x 1); the statements' own T, U, V, G, S, R are 3 x 3 unless
# a case says otherwise. An array is reused only if a statement allocated it, nothing views
# or aliases it, it is not kept, it dies in the statement, and it has the result's shape
MATRIX = (3, 3)
SHAPES = dict(A=MATRIX, B=MATRIX, u=(3, 1), T=MATRIX, U=MATRIX, V=MATRIX, G=MATRIX,
              S=MATRIX, R=MATRIX, c=(1, 1))
RNG = np.random.default_rng(16)
ARGS = dict(A=RNG.standard_normal(MATRIX), B=RNG.standard_normal(MATRIX),
            u=RNG.standard_normal((3, 1)))

LIVENESS = {
    # T dies in tanh(T), of T's shape: tanh writes into it, and S, kept, now holds T's array
    "into a dying operand": (["T = A*2", "S = np.tanh(T)"], "A S", {},
                             ["T = A*2", "S = np.tanh(T, out=T)"]),
    "not into a kept one": (["T = A*2", "S = np.tanh(T)"], "A S T", {},
                            ["T = A*2", "S = np.tanh(T)"]),
    # A is the caller's: no statement here allocated it, so it is never written nor freed
    "not into an argument": (["S = np.tanh(A)"], "S", {}, ["S = np.tanh(A)"]),
    # a column cannot hold a 3 x 3 result: T is freed after its last read instead
    "not into a broadcast column": (["T = u*2", "S = T + B"], "u B S", {"T": (3, 1)},
                                    ["T = u*2", "S = T + B", "del T"]),
    # of two dying operands, the one of the result's shape takes it; the other is freed
    "into the operand of the result's shape": (
        ["T = u*2", "V = B*2", "S = T*V"], "u B S", {"T": (3, 1)},
        ["T = u*2", "V = B*2", "S = np.multiply(T, V, out=V)", "del T"]),
    "into the first of two": (["T = A*2", "V = B*2", "S = T*V"], "A B S", {},
                              ["T = A*2", "V = B*2", "S = np.multiply(T, V, out=T)", "del V"]),
    # a mask holds booleans: a float result never goes into it (NumPy refuses the cast)
    "not into a boolean array": (["T = np.greater(A, 0)", "S = np.exp(T*1.5)"], "A S", {},
                        ["T = np.greater(A, 0)", "S = np.exp(T*1.5)"]),
    # a vector too: for a small array the allocation is most of what a call costs (M4)
    "into a vector": (["T = u*2", "S = np.exp(T)"], "u S", {"T": (3, 1), "S": (3, 1)},
                      ["T = u*2", "S = np.exp(T, out=T)"]),
    # tanh, *, + in Python's order, each into T's array: a chain on S, one write a statement;
    # S dies at R, and its del names T too, bound to the same array
    "a chain of in-place writes": (
        ["T = A*2", "S = np.tanh(T)*B + 1", "R = S @ B"], "A B R", {},
        ["T = A*2", "S = np.tanh(T, out=T)", "S *= B", "S += 1", "R = S @ B", "del S, T"]),
    # 1 - x and B/x keep their operand order: no augmented assignment for them
    "a chain through - and /": (
        ["T = A*2", "S = B/(1 - np.exp(T))"], "A B S", {},
        ["T = A*2", "S = np.exp(T, out=T)", "np.subtract(1, S, out=S)",
         "np.divide(B, S, out=S)"]),
    # each array is freed right after the statement that reads it last (names sorted), the
    # products write no out=, and a comment passes through, reading nothing
    "del at death, comments through": (
        ["T = A*2", "U = A*3", "S = T @ B", "# back through S = T @ B", "R = S @ U"],
        "A B R", {},
        ["T = A*2", "U = A*3", "S = T @ B", "del T", "# back through S = T @ B",
         "R = S @ U", "del S, U"]),
    # V = T binds a second name to T's array, V = T.T a view of it: T is never reused
    "not into an aliased array": (["T = A*2", "V = T", "S = np.exp(V)"], "A B S", {},
                                  ["T = A*2", "V = T", "S = np.exp(V)"]),
    "not into a viewed array": (["T = A*2", "V = T.T", "S = np.exp(V)"], "A B S", {},
                                ["T = A*2", "V = T.T", "S = np.exp(V)"]),
    # a copy of an array that dies is that array; freed under both its names
    "no copy of a dying array": (
        ["T = A*2", "S = np.array(T)", "R = S @ B"], "A B R", {},
        ["T = A*2", "S = T", "R = S @ B", "del S, T"]),
    # S += T writes into S: S stays S's, and T dies there
    "an in-place update": (
        ["S = A*2", "T = A*3", "S += T", "R = S @ B"], "A B R", {},
        ["S = A*2", "T = A*3", "S += T", "del T", "R = S @ B", "del S"]),
    # the mask T > 0 is boolean: the product goes into G, never into a mask; T is freed
    "not into a mask": (
        ["T = A*2", "G = B*2", "S = np.multiply(G, T > 0)"], "A B S", {},
        ["T = A*2", "G = B*2", "S = np.multiply(G, T > 0, out=G)", "del T"]),
    # Z is read beside a write into V (Z/np.sqrt(V, out=V)) before the last read writes
    # into Z: that quotient is computed before Z is overwritten (it was read afterwards)
    "a read beside a write, before the write into it": (
        ["Z = A*2", "V = np.sum(A, axis=0, keepdims=True)",
         "S = np.sign(Z) + Z/np.sqrt(V) + Z/2"], "A S", {"Z": MATRIX, "V": (1, 3)},
        ["Z = A*2", "V = np.sum(A, axis=0, keepdims=True)", "t1 = np.sign(Z)",
         "t2 = np.sqrt(V, out=V)", "t3 = Z/t2", "S = np.divide(Z, 2, out=Z)",
         "S += t1 + t3", "del V, t1, t2, t3"]),
    # a 1 x 1 array is a scalar: neither reused nor freed
    "not a 1 x 1": (["c = np.sum(A, keepdims=True)", "S = c*B"], "A B S", {},
                    ["c = np.sum(A, keepdims=True)", "S = c*B"]),
}


@pytest.mark.parametrize("lines,keep,shapes,expected", LIVENESS.values(), ids=LIVENESS)
def test_reuse_and_free(lines, keep, shapes, expected):
    new = reuse_and_free(lines, keep.split(), SHAPES | shapes, fresh_names())
    assert new == expected
    assert_same_results(lines, new, ARGS, [k for k in keep.split() if k not in ARGS])


# ---- liveness.one_out_each ----------------------------------------------------------------
ONE_OUT_EACH = {
    "one out= stays": ("S = np.tanh(T, out=T)", ["S = np.tanh(T, out=T)"], []),
    "no call stays": ("S = A + B", ["S = A + B"], []),
    # the writes all go into T and the value ends there: a chain on the target's name, in
    # the order Python evaluates them (innermost first); B*x is x *= B, x*B commuting
    "a chain on the target": (
        "S = np.multiply(B, np.subtract(1, np.square(T, out=T), out=T), out=T)",
        ["S = np.square(T, out=T)", "np.subtract(1, S, out=S)", "S *= B"], []),
    "divide keeps its order": ("S = np.divide(B, np.exp(T, out=T), out=T)",
                               ["S = np.exp(T, out=T)", "np.divide(B, S, out=S)"], []),
    # T*2 reads T before exp overwrites it: it is computed first, into a temporary
    "a part read before a write": (
        "S = np.subtract(T*2, np.exp(T, out=T), out=T)",
        ["t1 = T*2", "S = np.exp(T, out=T)", "np.subtract(t1, S, out=S)"], ["t1"]),
    # the write into U is a chain of its own, on a fresh name, added in place into S
    "a second array's chain": (
        "S = np.add(np.exp(T, out=T), np.tanh(U, out=U), out=T)",
        ["S = np.exp(T, out=T)", "t1 = np.tanh(U, out=U)", "S += t1"], ["t1"]),
}


@pytest.mark.parametrize("line,expected,temps", ONE_OUT_EACH.values(), ids=ONE_OUT_EACH)
def testone_out_each(line, expected, temps):
    new, made = one_out_each(ir.Stmt.parse(line), fresh_names())
    assert (ir.lines(new), made) == (expected, temps)
    scratch = {"T": RNG.standard_normal(MATRIX), "U": RNG.standard_normal(MATRIX)}
    assert_same_results([line], expected, ARGS | scratch, ["S"], scratch=scratch)


@pytest.mark.parametrize("line", ["S = np.where(A > 0, 0, 1 - T**2)",
                                  "S = np.exp(T) @ np.tanh(U)"])
def test_writes_inside_a_call_that_writes_nothing_are_statements_of_their_own(line):
    lines = ["T = A*2", "U = A*3", line]
    new = reuse_and_free(lines, ["A", "B", "S"], SHAPES, fresh_names())
    assert_same_results(lines, new, ARGS, ["S"])
    assert all(x.count("out=") <= 1 for x in new), new
    assert not any(re.fullmatch(r"S = t\d+", x) for x in new), new   # S a temporary's alias


# ---- schedule.plan: fusion and inlining ------------------------------------------------------
DIMS = {"n": 3, "m": 5, "k": 4}


def _checked_plan(d):
    """The plan of a derivation's loss, outputs and gradients, its listing, and a check that
    its statements compute the graph's values."""
    roots = [d.loss, *d.outputs.values(), *d.grads]
    p = plan(roots)
    assert_plan_computes_the_graph(p, roots, random_instance(d.model, DIMS), DIMS)
    return listing(p.order, p.exprs, p.inline)


def test_sigmoid_and_cross_entropy_fuse_into_a_minus_y_over_m():
    # the graph's dz is two maps, -Y(1 - A)/m and (1 - Y)A/m, and their sum (test_graph_golden);
    # fused, they simplify to (A - Y)/m, one statement. The loss's maps fuse into
    # y softplus(-z) + (1 - y) softplus(z), which the graph holds as softplus(z) - Y z and the
    # plan writes back, two terms never negative; the sum is
    # written inside the division by m; w X, single-use and unnamed, is written inside
    # z = b + w X, and X^T inside dw's product
    assert _checked_plan(logistic()) == """\
n0 = map[_x0 + _x1](b, matmul(w, X))  (1, m)
n1 = map[_x0*softplus(-_x1) + (1 - _x0)*softplus(_x1)](Y, n0)  (1, m)
n2 = map[_x0/m](sum(n1))  scalar
A = map[sigmoid(_x0)](n0)  (1, m)
n3 = map[(-_x0 + _x1)/m](Y, A)  (1, m)
dw = matmul(n3, transpose(X))  (1, n)
db = sum[axis=1](n3)  (1, 1)"""


def test_softmax_cross_entropy_fuses_its_gradient_into_a_scatter():
    # mean_j (lse(z_j) - z_(y_j, j)) with z = W X: the softmax exp(z - lse)/m, computed into
    # the scatter's array, gets -1/m added at each column's label, dZ = (softmax - onehot)/m
    # with no one-hot matrix; the pick is written inside the loss's map
    W, X, y = sg.Param("W", k, n), sg.Input("X", n, m), sg.Labels("y", m)
    d = derive(sg.Model("ce", sg.cross_entropy(W @ X, y), [W], [X, y]))
    assert _checked_plan(d) == """\
n0 = matmul(W, X)  (k, m)
n1 = logsumexp[axis=0](n0)  (1, m)
n2 = map[_x0 - _x1](n1, pick[axis=0](n0, y))  (1, m)
n3 = map[_x0/m](sum(n2))  scalar
n4 = scatter[axis=0](map[exp(_x0 - _x1)/m](n0, n1), y, map[-1/m]())  (k, m)
dW = matmul(n4, transpose(X))  (k, n)"""


def test_a_product_used_twice_is_a_statement():
    # W X feeds tanh, the square and dW's term 2 W X: a statement; tanh(W X) too (the sum
    # and 1 - A^2 read it). The sums, unnamed and used once, are written inside the loss's
    # +, the square inside its sum (printed as np.vdot); dZ = 2 W X + 1 - A^2 is one map
    W, X = sg.Param("W", n, n), sg.Input("X", n, m)
    d = derive(sg.Model("twice", sg.sum(sg.tanh(W @ X)) + sg.sum((W @ X) ** 2), [W], [X]))
    assert _checked_plan(d) == """\
n0 = matmul(W, X)  (n, m)
n1 = map[tanh(_x0)](n0)  (n, m)
n2 = map[_x0 + _x1](sum(n1), sum(map[_x0**2](n0)))  scalar
n3 = map[2*_x0 - _x1**2 + 1](n0, n1)  (n, m)
dW = matmul(n3, transpose(X))  (n, n)"""


# ---- schedule: calls shared by statements, tanh as sigmoid ---------------------------------
def _activation(name, f):
    """The derivation of sum(f(Z) * G): f's value and its derivative times G, elementwise."""
    Z, G = sg.Param("Z", n, m), sg.Input("G", n, m)
    return derive(sg.Model(name, sg.sum(sp.HadamardProduct(f(Z), G)), [Z], [G]))


def test_gelu_and_its_derivative_share_one_sigmoid():
    # gelu(z) = z (1 + tanh u)/2 with u = sqrt(2/pi) (z + 0.044715 z^3), and its derivative
    # (1 + tanh u)/2 + z (1 - tanh(u)^2) u'/2, u' = sqrt(2/pi) (1 + 0.134145 z^2): every use of
    # tanh u is 1 + tanh u or 1 - tanh(u)^2, so with s = sigmoid(2u) they are 2s and 4s(1 - s),
    # gelu(z) = z s, gelu'(z) = s + 2 z s (1 - s) u', and s, in both, is one statement first
    d = _activation("gelu", lambda z: sg.gelu(z, approximate="tanh"))
    assert _checked_plan(d) == """\
n0 = map[sigmoid(2*sqrt(2)*(0.044715*_x0**3 + _x0)/sqrt(pi))](Z)  (n, m)
n1 = map[_x0*_x1*_x2](G, Z, n0)  (n, m)
n2 = sum(n1)  scalar
dZ = map[_x1*(2*sqrt(2)*_x0*_x2*(1 - _x2)*(0.134145*_x0**2 + 1)/sqrt(pi) + _x2)](Z, G, n0)  \
(n, m)"""


def test_swish_and_its_derivative_share_one_sigmoid():
    # swish(z) = z s, s = sigmoid(z); swish'(z) = s + z s (1 - s) = s (1 + z - z s)
    assert _checked_plan(_activation("swish", sg.swish)) == """\
n0 = map[sigmoid(_x0)](Z)  (n, m)
n1 = map[_x0*_x1*_x2](G, Z, n0)  (n, m)
n2 = sum(n1)  scalar
dZ = map[_x1*_x2*(-_x0*_x2 + _x0 + 1)](Z, G, n0)  (n, m)"""


def test_a_tanh_used_bare_stays_tanh_and_its_derivative_reads_it():
    assert _checked_plan(_activation("tanh", sg.tanh)) == """\
n0 = map[tanh(_x0)](Z)  (n, m)
n1 = map[_x0*_x1](G, n0)  (n, m)
n2 = sum(n1)  scalar
dZ = map[_x0*(1 - _x1**2)](G, n0)  (n, m)"""


def _maps(*operands):
    """({name: leaf}, map nodes) for leaves z, w, g (2 x 3) and one map node per string of
    leaf names, its operands; the test sets their exprs (the passes read the scalar
    expressions from exprs, not from the nodes)."""
    graph = Graph()
    leaves = {k: leaf(graph, k, (2, 3)) for k in "zwg"}
    return leaves, [Node("map", [leaves[k] for k in names], (2, 3), expr=sp.S.Zero, id=100 + i)
                    for i, names in enumerate(operands)]


def _text(order, exprs):
    return [(sp.sstr(exprs[x.id][0]), [a.name or f"#{a.id}" for a in exprs[x.id][1]])
            for x in order]


def test_hoisted_call_is_one_statement_before_its_first_user():
    # sigmoid of z in both statements, as sigmoid(_x0) in one and sigmoid(_x1) in the other:
    # one statement sigmoid(_x0) of z (id -3: the plan's two exprs, then one), read by both
    leaves, (a, b) = _maps("z", "gz")
    z, g = leaves["z"], leaves["g"]
    exprs = {a.id: (X0 * sigmoid(X0), [z]),
             b.id: (X0 * sigmoid(X1) * (1 + X1 - X1 * sigmoid(X1)), [g, z])}
    order = _hoist_shared_calls([a, b], exprs)
    assert [x.id for x in order] == [-3, a.id, b.id]
    assert _text(order, exprs) == [("sigmoid(_x0)", ["z"]), ("_x0*_x1", ["z", "#-3"]),
                                   ("_x0*_x2*(-_x1*_x2 + _x1 + 1)", ["g", "z", "#-3"])]


def test_the_outer_call_is_hoisted_first_and_its_inner_call_with_it():
    # tanh(exp(z)) in both: hoisted whole, after which no statement holds exp(z) to share
    leaves, (a, b) = _maps("z", "zg")
    z, g = leaves["z"], leaves["g"]
    exprs = {a.id: (sp.tanh(sp.exp(X0)) + 1, [z]), b.id: (X1 * sp.tanh(sp.exp(X0)), [z, g])}
    order = _hoist_shared_calls([a, b], exprs)
    assert _text(order, exprs) == [("tanh(exp(_x0))", ["z"]), ("_x1 + 1", ["z", "#-3"]),
                                   ("_x1*_x2", ["z", "g", "#-3"])]


@pytest.mark.parametrize("call", [sp.Heaviside(X0), sp.Abs(X0), sp.log(2) * X0],
                         ids=["Heaviside", "Abs", "log 2"])
def test_cheap_calls_and_numbers_are_not_hoisted(call):
    leaves, (a, b) = _maps("z", "z")
    exprs = {a.id: (call + X0, [leaves["z"]]), b.id: (call * X0, [leaves["z"]])}
    before = dict(exprs)
    assert _hoist_shared_calls([a, b], exprs) == [a, b] and exprs == before


def test_a_call_of_other_operands_is_not_shared():
    leaves, (a, b) = _maps("z", "w")
    exprs = {a.id: (sp.exp(X0) + 1, [leaves["z"]]), b.id: (sp.exp(X0) * 2, [leaves["w"]])}
    assert _hoist_shared_calls([a, b], exprs) == [a, b]


def test_tanh_is_written_with_sigmoid_where_every_use_allows():
    # (1 + t)/2 = s and 1 - t^2 = 4 s (1 - s) for t = tanh(u), s = sigmoid(2u)
    leaves, (a, b) = _maps("z", "zg")
    z, g = leaves["z"], leaves["g"]
    t, s = sp.tanh(X0), sigmoid(2 * X0)
    exprs = {a.id: (X0 * (1 + t) / 2, [z]), b.id: (X1 * (1 - t**2), [z, g])}
    _tanh_as_sigmoid([a, b], exprs)
    assert exprs == {a.id: (X0 * s, [z]), b.id: (4 * X1 * s * (1 - s), [z, g])}
    # against u (1 + tanh u)/2 = u/(1 + e^-2u) and 1 - tanh(u)^2 = 1/cosh(u)^2, written
    # without cancellation (for u > 2, 1 - s cancels in 4 s (1 - s) as 1 - tanh(u)^2 does)
    u = np.linspace(-6, 6, 25)
    np.testing.assert_allclose(_f(X0 * s)(u), u / (1 + np.exp(-2 * u)), rtol=1e-14)
    u = np.linspace(-6, 2, 17)
    np.testing.assert_allclose(_f(4 * s * (1 - s))(u), 1 / np.cosh(u) ** 2, rtol=1e-14)
    assert 1 + np.tanh(-20.0) == 0 and _f(2 * s)(-20.0) > 0     # no cancellation to 0


@pytest.mark.parametrize("bare,operands", [(sp.tanh(X0), "z"), (sp.tanh(X0) * X0, "z")],
                         ids=["bare", "times z"])
def test_tanh_stays_where_one_use_is_not_one_plus_it(bare, operands):
    leaves, (a, b) = _maps("z", operands)
    exprs = {a.id: (1 + sp.tanh(X0), [leaves["z"]]), b.id: (bare, [leaves["z"]])}
    before = dict(exprs)
    _tanh_as_sigmoid([a, b], exprs)
    assert exprs == before


def test_tanh_of_another_operand_is_rewritten_alone():
    leaves, (a, b) = _maps("z", "w")
    exprs = {a.id: (1 + sp.tanh(X0), [leaves["z"]]), b.id: (sp.tanh(X0), [leaves["w"]])}
    _tanh_as_sigmoid([a, b], exprs)
    assert exprs[a.id][0] == 2 * sigmoid(2 * X0) and exprs[b.id][0] == sp.tanh(X0)


# ---- simplify.canonical: the sigmoid however spelt ------------------------------------------
SIGMOID_SPELLINGS = {
    # 1/(1 + e^-u) = sigmoid(u), and e^u/(1 + e^u) = 1/(e^-u + 1) = sigmoid(u) too
    "1/(1 + exp(-u))": (1 / (1 + sp.exp(-X0)), sigmoid(X0)),
    "exp(u)/(1 + exp(u))": (sp.exp(X0) / (1 + sp.exp(X0)), sigmoid(X0)),
    "exp(u)/(exp(u) + 1), u affine": (sp.exp(2 * X0 - X1) / (sp.exp(2 * X0 - X1) + 1),
                                      sigmoid(2 * X0 - X1)),
    "times an operand": (X1 * sp.exp(X0) / (1 + sp.exp(X0)), X1 * sigmoid(X0)),
    "exp of another exponent": (sp.exp(X1) / (1 + sp.exp(X0)), sp.exp(X1) * sigmoid(-X0)),
    # (1 + tanh(u/2))/2 = sigmoid(u) (tanh(x) = 2 sigmoid(2x) - 1), so 1 - it is sigmoid(-u)
    "0.5*(1 + tanh(u/2))": (0.5 * (1 + sp.tanh(X0 / 2)), sigmoid(X0)),
    "(1 - tanh(u))/2": ((1 - sp.tanh(X0)) / 2, sigmoid(-2 * X0)),
    # not a sigmoid as a whole: kept for schedule._tanh_as_sigmoid, which rewrites the tanh
    # where every use of it allows (the tanh-GELU and its derivative)
    "1 + tanh(u)": (1 + sp.tanh(X0), 1 + sp.tanh(X0)),
    "(1 + tanh(u))/3": ((1 + sp.tanh(X0)) / 3, (1 + sp.tanh(X0)) / 3),
    "u*(1 + tanh(v))/2": (X0 * (1 + sp.tanh(X1)) / 2, X0 * (1 + sp.tanh(X1)) / 2),
}


@pytest.mark.parametrize("expr,expected", SIGMOID_SPELLINGS.values(), ids=SIGMOID_SPELLINGS)
def test_the_sigmoid_is_recognised_however_spelt(expr, expected):
    assert canonical(expr) == expected
    u, v = np.linspace(-30, 30, 14), np.linspace(-2, 2, 14)
    np.testing.assert_allclose(_f(expected, 2)(u, v), _f(expr, 2)(u, v), rtol=1e-13,
                               atol=1e-15)     # (1 - tanh(u))/2 cancels for u >> 0


# ---- schedule._stable_exp_sums ---------------------------------------------------------------
STABLE = {
    # log(c + e^u) = log c + log(1 + e^(u - log c)) and e^u/(c + e^u) = 1/(1 + e^-(u - log c))
    "log of 2 + exp": (sp.log(2 + sp.exp(X0)), sp.log(2) + softplus(X0 - sp.log(2))),
    "exp over 3 + exp": (sp.exp(X0) / (3 + sp.exp(X0)), sigmoid(X0 - sp.log(3))),
    "times an operand": (X1 * sp.exp(X0) / (1 + sp.exp(X0)), X1 * sigmoid(X0)),
    # no positive number beside the exp: left alone
    "c negative": (sp.log(sp.exp(X0) - 1), sp.log(sp.exp(X0) - 1)),
    "c an operand": (sp.log(X1 + sp.exp(X0)), sp.log(X1 + sp.exp(X0))),
    "no exp": (sp.log(2 + X0**2), sp.log(2 + X0**2)),
}


@pytest.mark.parametrize("expr,expected", STABLE.values(), ids=STABLE)
def test_stable_exp_sums(expr, expected):
    assert _stable_exp_sums(expr) == expected
    u, v = np.linspace(-30, 30, 14), np.linspace(0.5, 2, 14)    # u != 0: log(e^0 - 1)
    np.testing.assert_allclose(_f(expected, 2)(u, v), _f(expr, 2)(u, v), rtol=1e-13)


def test_stable_exp_sums_do_not_overflow():
    # at u = 800, e^u overflows: log(2 + e^u) = u + log(1 + 2 e^-u) = 800 to double precision
    assert _f(sp.log(2 + sp.exp(X0)))(800.0) == np.inf
    assert _f(_stable_exp_sums(sp.log(2 + sp.exp(X0))))(800.0) == 800.0
    assert _f(_stable_exp_sums(sp.exp(X0) / (3 + sp.exp(X0))))(800.0) == 1.0


# ---- schedule._positive_bce ------------------------------------------------------------------
POSITIVE = {
    # softplus(u) - y*u = y*softplus(-u) + (1 - y)*softplus(u): two terms never negative
    "y an operand": (softplus(X0) - X1 * X0, X1 * softplus(-X0) + (1 - X1) * softplus(X0)),
    "y a fraction": (softplus(X0) - X0 / 4, softplus(-X0) / 4 + 3 * softplus(X0) / 4),
    "y one": (softplus(X0) - X0, softplus(-X0)),
    # the log-likelihood y*log(a) + (1 - y)*log(1 - a), a = sigmoid(u), which a cost negates
    "negated": (X1 * X0 - softplus(X0), -X1 * softplus(-X0) - (1 - X1) * softplus(X0)),
    "negated, y one": (X0 / 2 - softplus(X0) / 2, -softplus(-X0) / 2),
    # a number y outside [0, 1] makes terms of both signs: a softplus more for nothing
    "y three": (softplus(X0) - 3 * X0, softplus(X0) - 3 * X0),
    "y negative": (softplus(X0) + 2 * X0, softplus(X0) + 2 * X0),
    "no softplus": (sp.exp(X0) - X1 * X0, sp.exp(X0) - X1 * X0),
}


@pytest.mark.parametrize("expr,expected", POSITIVE.values(), ids=POSITIVE)
def test_positive_bce(expr, expected):
    assert sp.expand(_positive_bce(expr) - expected) == 0
    assert _positive_bce(expr).count(softplus) == expected.count(softplus)
    u, y = np.linspace(-30, 30, 14), np.linspace(0, 1, 14)
    np.testing.assert_allclose(_f(expected, 2)(u, y), _f(expr, 2)(u, y), rtol=1e-12, atol=1e-12)


def _f(expr, arity=1):
    """expr in the placeholders as a NumPy function, with the stable sigmoid and softplus."""
    stable = {"sigmoid": lambda x: np.exp(-np.logaddexp(0, -x)),
              "softplus": lambda x: np.logaddexp(0, x)}
    with np.errstate(over="ignore"):
        f = sp.lambdify([placeholder(i) for i in range(arity)], expr, [stable, "numpy"])
    return lambda *xs: _quiet(f, *xs)


def _quiet(f, *xs):
    with np.errstate(over="ignore", invalid="ignore"):
        return f(*xs)


# ---- schedule._fuse_within_budget ------------------------------------------------------------
def test_fusion_stops_where_an_expression_outgrows_the_budget():
    # a chain z -> x1 -> ... -> x7 of x (1 - x): 7 tree nodes, 2 of them the operand. Fused,
    # x_k has 5 + 2 size(x_(k-1)) nodes: 7, 19, 43, 91, then 187 > FUSED = 100 for x5, which
    # becomes a statement (size 1): x6 has 7 again. x7 is the root, not fused
    assert FUSED == 100
    graph = Graph()
    chain = [leaf(graph, "z", (2, 3))]
    for i in range(1, 8):
        chain.append(Node("map", [chain[-1]], (2, 3), expr=X0 * (1 - X0), id=i))
    fused = set(range(1, 7))
    _fuse_within_budget(chain, fused)
    assert fused == {1, 2, 3, 4, 6}


def test_a_chain_past_the_budget_is_cut_into_statements():
    # the same chain of seven links through the builder and the plan: x5 (chain[5]) becomes
    # a statement holding x1 ... x5 composed, and the root x7 holds x6 and x7 composed,
    # y (1 - y) for y = x5 (1 - x5)
    graph = Graph()
    chain = [leaf(graph, "z", (2, 3))]
    for _ in range(7):
        chain.append(graph.map(X0 * (1 - X0), [chain[-1]]))
    p = plan([chain[-1]])
    assert p.order == [chain[5], chain[7]]
    f, composed = X0 * (1 - X0), X0
    for _ in range(5):
        composed = f.xreplace({X0: composed})
    assert p.exprs[chain[5].id] == (composed, [chain[0]])
    assert p.exprs[chain[7].id] == (f.xreplace({X0: f}), [chain[5]])
    assert_plan_computes_the_graph(p, [chain[-1]], {"z": RNG.uniform(0, 1, (2, 3))})
