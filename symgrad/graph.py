"""The computational graph: a DAG of array nodes with symbolic shapes, built from SymPy.

Ops (`Node.op`, the names in `OPS`):
  leaf       a parameter or input (`Node.symbol`)
  eye        the identity matrix (never materialised unless it must be)
  map        elementwise: `Node.expr` is a scalar SymPy expression in the placeholders
             x0, x1, ... standing for the entries of `Node.args`, broadcast to `Node.shape`
             (an arg may have 1 row, 1 column, or shape () for a scalar)
  matmul     args[0] @ args[1]
  transpose  args[0].T
  sum        sum over `Node.axis` (0, 1 or None = all), keeping dims; shape () sums to a scalar
  logsumexp  log(sum(exp(x), axis)) along `Node.axis` (0: per column, 1: per row, None: of
             every entry), keeping dims, computed stably
  trace      trace of a square matrix, a scalar (shape ())
  inverse    the inverse of a square matrix
  det        the determinant of a square matrix, a scalar (shape ())
  logdet     log|det| of a square matrix (log det for a positive determinant), a scalar
  pick       args[0][y_j, j] per column j (`Node.axis` 0, a row) or args[0][j, y_j] per row
             (axis 1, a column), y = args[1] the integer labels, shaped like the result
  scatter    args[0] with args[2] added at the labels args[1]'s entries along `Node.axis`
             (pick's adjoint): written in place into a new array, no one-hot matrix formed
  max, min   the max or min along `Node.axis` (0, 1, keeping dims; None: all, a scalar)
  argmax_put, argmin_put    args (g, x): g at the first arg-max (arg-min) of each slice of x
             along `Node.axis`, zeros elsewhere, x's shape (the VJP of max, min)
  argmax_take, argmin_take  args (t, x): t's entries at those positions (their JVP)
  slice      args[0][rows, cols]; `Node.expr` is the region ((r0, r1, rs), (c0, c1, cs))
  pad        zeros of `Node.shape` with each args[i] added into region `Node.expr[i]`
             (the adjoint of slices; a region covering all of it is a dense term)
  concat     args side by side along `Node.axis` (np.concatenate)
  diag       the diagonal of a square matrix, a column (n, 1)
  undiag     the square matrix with the column args[0] on its diagonal, zeros elsewhere

Identical nodes are one node (hash-consing), and the builder applies the algebra that keeps
code lean: ones-vectors in products become sums and broadcasts, products over a dimension
of 1 become broadcast products, `exp` summed along an axis becomes `exp(logsumexp)`, and a
`log` of a sigmoid or softmax is composed with it so the stable forms can be used.
"""
import itertools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import sympy as sp

from . import simplify
from .errors import SymgradError
from .functions import check_steps

# the one table of ops, each described above: a node of any other op is a bug. Each has its
# rules in rules.py and its printers in printing/ (tests/test_op_table.py checks that)
OPS = frozenset({
    "leaf", "eye", "map", "matmul", "transpose", "sum", "logsumexp", "trace", "inverse",
    "det", "logdet", "pick", "scatter", "max", "min", "argmax_put", "argmin_put",
    "argmax_take", "argmin_take", "slice", "pad", "concat", "diag", "undiag"})


Shape = tuple[sp.Expr, ...]      # symbolic dimensions: () a scalar, (rows, cols) a matrix


@lru_cache(maxsize=None)
def placeholder(i: int) -> sp.Symbol:
    """The scalar stand-in for the entries of a map node's i-th operand."""
    return sp.Symbol(f"_x{i}", real=True)


def placeholder_index(sym: object) -> int | None:
    """i for placeholder(i), else None."""
    name = getattr(sym, "name", "")
    return int(name[2:]) if name.startswith("_x") and name[2:].isdigit() else None


class Node:
    """One array value in the graph. Compare by identity: the builder shares equal nodes."""

    __slots__ = ("op", "args", "shape", "expr", "axis", "symbol", "name", "id", "derived")
    op: str
    args: tuple["Node", ...]
    shape: Shape
    expr: Any             # a map's scalar expression (SymPy), a slice's or pad's regions
    axis: int | None
    symbol: sp.Basic | None
    name: str | None
    id: int
    derived: bool

    def __init__(self, op: str, args: Iterable["Node"], shape: Iterable, expr: object = None,
                 axis: int | None = None, symbol: sp.Basic | None = None, id: int = 0):
        if op not in OPS:
            raise ValueError(f"unknown op {op!r}: not in graph.OPS")
        self.op, self.args, self.shape = op, tuple(args), tuple(shape)
        self.expr, self.axis, self.symbol, self.id = expr, axis, symbol, id
        self.name = symbol.name if symbol is not None else None
        self.derived = False     # True for nodes made by the backward sweep

    @property
    def is_constant(self) -> bool:
        return self.op == "map" and not self.args

    def __repr__(self):
        inner = self.name or (str(self.expr) if self.op == "map" else "")
        return f"<{self.op} {inner} {self.shape}>"


def same_dim(a, b):
    """Whether two symbolic dimensions are equal."""
    return a == b or sp.expand(a - b) == 0


def shape_str(shape):
    return "scalar" if shape == () else f"({shape[0]}, {shape[1]})"


def broadcast_shape(shapes: Iterable[Shape], what: str = "operands") -> Shape:
    """The shape that entries of these shapes broadcast to (each axis, aligned from the
    last: 1 or one size)."""
    shapes = [s for s in shapes if s != ()]
    if not shapes:
        return ()
    out = []
    for axis in range(-max(map(len, shapes)), 0):
        sizes = [s[axis] for s in shapes if len(s) >= -axis and s[axis] != 1]
        size = sizes[0] if sizes else sp.S.One
        if any(not same_dim(size, other) for other in sizes):
            raise SymgradError(f"shape mismatch in {what}: shapes "
                               f"{', '.join(shape_str(s) for s in shapes)} do not broadcast")
        out.append(size)
    return tuple(out)


def _label(node):
    return node.name or {"map": "an elementwise expression", "matmul": "a matrix product",
                         "transpose": "a transpose"}.get(node.op, f"a {node.op}")


class Graph:
    """Builds nodes, sharing identical ones; its methods are the graph's algebra."""

    def __init__(self):
        self._table = {}
        self._ids = itertools.count()
        self.deriving = False   # set by the backward sweep: nodes made now are derived
        self._exp = {}          # node id -> whether its inlined expression has an exp
        self._sumexp = {}       # node id -> whether it is or reads a sum of exponentials

    def _make(self, op, args, shape, expr=None, axis=None, symbol=None):
        key = (op, tuple(a.id for a in args), tuple(shape), expr, axis, symbol)
        node = self._table.get(key)
        if node is None:
            node = Node(op, args, shape, expr, axis, symbol, next(self._ids))
            node.derived = self.deriving
            self._table[key] = node
        return node

    def named(self) -> set[str]:
        """The names of the named forward nodes (the leaves among them)."""
        return {n.name for n in self._table.values() if n.name and not n.derived}

    def find(self, op, args, shape, expr=None, axis=None):
        """The existing forward node with these fields, or None."""
        node = self._table.get((op, tuple(a.id for a in args), tuple(shape), expr, axis, None))
        return node if node is not None and not node.derived else None

    # -- leaves and constants -------------------------------------------------------------
    def leaf(self, symbol: sp.Basic) -> Node:
        shape = tuple(sp.sympify(d) for d in symbol.shape) \
            if isinstance(symbol, sp.MatrixSymbol) else ()
        return self._make("leaf", (), shape, symbol=symbol)

    def constant(self, value: object, shape: Shape = ()) -> Node:
        return self._make("map", (), shape, expr=sp.sympify(value))

    def eye(self, n):
        return self._make("eye", (), (n, n))

    # -- elementwise ----------------------------------------------------------------------
    def map(self, expr: sp.Expr, args: Sequence[Node], shape: Shape | None = None) -> Node:
        """Elementwise expr over args (placeholder i = args[i]), broadcast to shape."""
        expr, args = sp.sympify(expr), list(args)
        check_steps(expr)
        if shape is None:
            shape = broadcast_shape([a.shape for a in args], "an elementwise operation")
        else:
            broadcast_shape([shape] + [a.shape for a in args], "a broadcast")
        expr, args = self._normalise(expr, args)
        expr, args = self._compose(expr, args)
        if self.deriving:
            expr, args = self._reuse_forward(expr, args)
        else:
            expr, args = self._one_sum(expr, args)
        expr, args = self._normalise(expr, args)
        if len(args) == 1 and expr == placeholder(0) and args[0].shape == tuple(shape):
            return args[0]
        return self._make("map", args, shape, expr=expr)

    def _normalise(self, expr, args):
        """Fold constant args, merge repeated args, order args by id, renumber placeholders."""
        subs, kept = {}, {}
        for i, a in enumerate(args):
            x = placeholder(i)
            if x not in expr.free_symbols:
                continue
            if a.is_constant:
                subs[x] = a.expr
            else:
                kept.setdefault(a.id, (a, []))[1].append(x)
        order = sorted(kept.values(), key=lambda entry: entry[0].id)
        for j, (_, xs) in enumerate(order):
            subs.update({x: placeholder(j) for x in xs})
        return _rename(expr, subs), [a for a, _ in order]

    def _compose(self, expr, args):
        """Substitute affine one-operand maps (1 - Y, -x, a bias broadcast) into this one, and
        compose a log or a division with the sigmoid/exp it undoes, to use stable forms."""
        expr, args = inline_maps(expr, args, lambda a: _is_affine(a) and a.name is None,
                                 recursive=False)     # a name the user gave is kept
        if self.deriving:
            return expr, args
        if any(map(_is_tanh, args)):           # (1 + tanh(Z/2))/2 is sigmoid(Z)
            tanh = inline_maps(expr, args, _is_tanh, recursive=False)
            expr, args = tanh if simplify.sigmoid_of_tanh(tanh[0]) else (expr, args)
        unstable = simplify.unstable_operands(expr)
        sums = [a for a in args if self._sums_exp(a)]
        if sums and (unstable or len([a for a in args if a in sums or self._has_exp(a)]) > 1):
            args = [self._as_exp(a) for a in args]     # exp(L1)/exp(L2) is exp(L1 - L2)
        with_exp = [a for a in args if self._has_exp(a)]
        if with_exp and (len(with_exp) > 1 or unstable):
            expr, args = inline_maps(expr, args, self._has_exp)
        return simplify.canonical(expr), args

    def _as_exp(self, a):
        """a with each sum of exponentials (along an axis or of every entry) it reads
        (however the exponent was fused in: exp(tanh(Z)) is one map of Z; a sum of such
        sums; through the maps and transposes between, as 2*sum(exp(Z)) + 1 or
        sum(exp(Z), axis=1).T) as exp(logsumexp(exponent)), for a log or a division of it
        to compose with the exp into a stable form (log-sum-exp, softmax). A sum of
        exponentials that is only added or multiplied stays a sum."""
        if not self._sums_exp(a):
            return a
        if a.op == "map":
            return self.map(a.expr, [self._as_exp(x) for x in a.args], a.shape)
        inner = self._as_exp(a.args[0])
        if inner.op != "map" or inner.expr.func != sp.exp:
            return a
        if a.op == "transpose":          # a row of sums along axis 1 without keepdims
            return self.transpose(inner, push=True)
        exponent = self.map(inner.expr.args[0], inner.args, inner.shape)
        total = self.logsumexp(exponent, a.axis)      # a scalar sum's is of shape (1, 1)
        return self.map(sp.exp(placeholder(0)),
                        [self.sum(total, scalar=True) if a.shape == () else total])

    def _sums_exp(self, node):
        """Whether node is a sum of exponentials (or of such sums), or a map or a transpose
        that reads one (remembered per node, without recursion, as _has_exp)."""
        stack = [node]
        while stack:
            top = stack[-1]
            if top.id in self._sumexp:
                stack.pop()
                continue
            if top.op == "sum":
                inner = top.args[0]
                if inner.op == "map" and inner.expr.func == sp.exp:
                    self._sumexp[top.id] = True
                    continue
                todo = [inner] if inner.op == "sum" and inner.id not in self._sumexp else []
            elif top.op in ("map", "transpose"):
                todo = [x for x in top.args if x.id not in self._sumexp]
            else:
                self._sumexp[top.id] = False
                continue
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            self._sumexp[top.id] = self._sumexp.get(top.args[0].id, False) if top.op == "sum" \
                else any(self._sumexp[x.id] for x in top.args)
        return self._sumexp[node.id]

    def _one_sum(self, expr, args):
        """Sums of all the entries of arrays of one shape, added (times numbers), as one sum:
        c*sum(P) + d*sum(Q) is c*sum(P + (d/c)*Q), where P and Q are elementwise work that
        gets an array of its own for the sum anyway (not an argument, a named array, or a
        square, whose sum is one np.vdot): one array then. The course notes' cost
        -(Y @ log(A).T + (1 - Y) @ log(1 - A).T)/m is then one sum of one elementwise
        expression, which simplifies to binary cross-entropy's one logaddexp."""
        groups = defaultdict(list)
        for i, a in enumerate(args):
            x = a.args[0] if a.op == "sum" else None
            if a.axis is None and a.name is None and x is not None and x.op == "map" \
                    and x.name is None and x.expr != placeholder(0)**2:
                groups[(a.shape, x.shape)].append(i)
        for members in groups.values():
            xs = [placeholder(i) for i in members]
            coefficients = [sp.diff(expr, x) for x in xs]
            if len(members) < 2 or any(c.free_symbols & set(xs) for c in coefficients):
                continue
            scale = coefficients[0]
            ratios = [sp.simplify(c / scale) for c in coefficients]
            if not all(r.is_number for r in ratios):
                continue
            inner = self.map(sp.Add(*[r * placeholder(k) for k, r in enumerate(ratios)]),
                             [args[i].args[0] for i in members])
            total = self.sum(inner, None, scalar=args[members[0]].shape == ())
            rest = expr.xreplace({x: 0 for x in xs})
            return rest + scale * placeholder(len(args)), args + [total]
        return expr, args

    def _has_exp(self, node):
        """Whether a map node's expression, its map operands inlined, has an exp or sigmoid
        (remembered per node: asked of every operand of every new map, down a deep chain)."""
        stack = [node]                   # operands first, without recursion
        while stack:
            top = stack[-1]
            if top.op != "map" or not top.args:
                self._exp[top.id] = False
            if top.id in self._exp:
                stack.pop()
                continue
            todo = [a for a in top.args if a.id not in self._exp]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            self._exp[top.id] = simplify.has_exp(top.expr) or any(self._exp[a.id]
                                                                  for a in top.args)
        return self._exp[node.id]

    def _reuse_forward(self, expr, args):
        """Write subexpressions that the forward pass already computes as its values."""
        subs = {}
        for sub in sp.preorder_traversal(expr):
            if not isinstance(sub, sp.Function) or sub in subs:
                continue
            idx = sorted({placeholder_index(s) for s in sub.free_symbols} - {None})
            if not idx:
                continue
            sub_args = [args[i] for i in idx]
            local = sub.xreplace({placeholder(i): placeholder(j) for j, i in enumerate(idx)})
            try:
                shape = broadcast_shape([a.shape for a in sub_args])
            except SymgradError:
                continue
            node = self.find("map", sub_args, shape, expr=local)
            if node is None and local == sp.Heaviside(placeholder(0)):
                # relu'(z) = H(z) = H(relu(z)) with H(0) = 0: then z need not be kept
                node = self.find("map", sub_args, shape, expr=sp.Max(0, placeholder(0)))
                sub_expr = sp.Heaviside(placeholder(len(args)))
            else:
                sub_expr = placeholder(len(args))
            if node is not None:
                subs[sub] = sub_expr
                args = args + [node]
        if subs:
            expr = expr.xreplace(subs)
        return expr, args

    # -- matrix algebra -------------------------------------------------------------------
    def matmul(self, a: Node, b: Node) -> Node:
        if a.shape == () or b.shape == ():
            return self.map(placeholder(0) * placeholder(1), [a, b])
        if not same_dim(a.shape[1], b.shape[0]):
            raise SymgradError(
                f"shape mismatch in a matrix product: {_label(a)} is {shape_str(a.shape)} but "
                f"{_label(b)} is {shape_str(b.shape)}; the inner dimensions must agree")
        shape = (a.shape[0], b.shape[1])
        if a.op == "eye":
            return b
        if b.op == "eye":
            return a
        if a.is_constant:          # c * ones(k, n) @ b: column sums of b, broadcast to k rows
            return self.map(a.expr * placeholder(0), [self.sum(b, 0)], shape)
        if b.is_constant:          # a @ ones(n, k) * c: row sums of a, broadcast to k columns
            return self.map(b.expr * placeholder(0), [self.sum(a, 1)], shape)
        if _broadcast_along(a, 1):  # a's rows are constant: a @ b = a[:, :1] * colsum(b)
            col = self.map(a.expr, a.args, (a.shape[0], sp.S.One))
            return self.map(placeholder(0) * placeholder(1), [col, self.sum(b, 0)], shape)
        if _broadcast_along(b, 0):  # b's columns are constant: a @ b = rowsum(a) * b[:1]
            row = self.map(b.expr, b.args, (sp.S.One, b.shape[1]))
            return self.map(placeholder(0) * placeholder(1), [self.sum(a, 1), row], shape)
        if a.shape[1] == 1:        # an outer product is a broadcast product
            return self.map(placeholder(0) * placeholder(1), [a, b], shape)
        if a.shape == (1, 1) or b.shape == (1, 1):
            return self.map(placeholder(0) * placeholder(1), [a, b], shape)
        if shape == (1, 1) and b.op == "transpose" and not self.deriving and any(
                x.op == "map" and x.name is None for x in (a, b.args[0])):
            # a row times a row transposed, one of them elementwise: the sum of their
            # elementwise product, into which the elementwise work fuses
            return self.sum(self.map(placeholder(0) * placeholder(1), [a, b.args[0]]))
        return self._make("matmul", (a, b), shape)

    def transpose(self, a: Node, push: bool = False) -> Node:
        """a.T; with push (or for a cheap map), a transposed map becomes a map of transposed
        args, so that fusion and simplification see through it."""
        if a.shape == () or a.shape == (1, 1) or a.op == "eye":
            return a
        if a.op == "transpose":
            return a.args[0]
        shape = (a.shape[1], a.shape[0])
        if a.op == "map" and (push or not a.args or _is_affine(a)):
            return self.map(a.expr, [self.transpose(x, push) for x in a.args], shape)
        if a.op == "matmul" and push:         # (P Q)^T = Q^T P^T: transposes are free views
            return self.matmul(self.transpose(a.args[1]), self.transpose(a.args[0]))
        return self._make("transpose", (a,), shape)

    def sum(self, a: Node, axis: int | None = None, scalar: bool = False) -> Node:
        """Sum over axis 0, 1 or all (None), keeping dims; scalar=True sums to shape ()."""
        if a.shape == ():
            return a
        rows, cols = a.shape
        if axis is None:
            shape = () if scalar else (sp.S.One, sp.S.One)
            counts: tuple = (rows, cols)
        else:
            shape = (sp.S.One, cols) if axis == 0 else (rows, sp.S.One)
            counts = (rows,) if axis == 0 else (cols,)
        axes = (0, 1) if axis is None else (axis,)
        if a.op == "sum" and (a.axis is None or axis in (None, 1 - a.axis)):
            return self.sum(a.args[0], None, scalar)
        if a.op == "map" and len(a.args) == 1 and a.args[0].shape == a.shape \
                and not (a.expr / placeholder(0)).has(placeholder(0)):
            # sum(c * x) = c * sum(x): the constant is applied to the small result
            return self.map(a.expr, [self.sum(a.args[0], axis, scalar)])
        if a.op == "map" and (not scalar or not a.args) and all(
                x.shape == () or all(x.shape[k] == 1 for k in axes) for x in a.args):
            # the entries do not vary along the summed axes (a constant, summed to a scalar
            # too: `(1).sum()` cannot run): multiply by their count
            count = sp.Mul(*[c for c, k in zip(counts, axes) if a.shape[k] != 1])
            return self.map(a.expr * count, a.args, shape)
        if axis is not None and a.shape[axis] == 1:
            return a
        if a.op == "scatter" and axis == a.axis:    # one label per example along the axis
            base, _, values = a.args
            return self.map(placeholder(0) + placeholder(1), [self.sum(base, axis), values])
        return self._make("sum", (a,), shape, axis=axis)

    def logsumexp(self, a, axis=0):
        shape = (sp.S.One, sp.S.One) if axis is None else \
            (sp.S.One, a.shape[1]) if axis == 0 else (a.shape[0], sp.S.One)
        return self._make("logsumexp", (a,), shape, axis=axis)

    def trace(self, a):
        self._square("trace", a)
        if a.shape == (1, 1) or a.is_constant:     # a constant c: n c
            return self.sum(a, scalar=True) if a.shape == (1, 1) \
                else self.constant(a.expr * a.shape[0])
        if a.op == "eye":
            return self.constant(a.shape[0])
        if a.op == "matmul":       # tr(P Q) = sum(P * Q^T): no product is formed
            p, q = a.args
            prod = self.map(placeholder(0) * placeholder(1), [p, self.transpose(q)])
            return self.sum(prod, scalar=True)
        if a.op == "map":          # tr(f(X)) = sum(f(diag X)): f of the n diagonal entries only
            column = (a.shape[0], sp.S.One)
            return self.sum(self.map(a.expr, [self.diagonal(x) for x in a.args], column),
                            scalar=True)
        return self._make("trace", (a,), ())

    def diagonal(self, a):
        """The diagonal of a square matrix as a column (n, 1); of an operand broadcast to a
        square map, the entries it puts on the diagonal (a column is its own, a row's are
        its transpose, a scalar's itself)."""
        if a.shape in ((), (1, 1)) or a.shape[1] == 1:
            return a
        if a.shape[0] == 1:
            return self.transpose(a)
        n = a.shape[0]
        if a.op == "eye" or a.is_constant:
            return self.constant(1 if a.op == "eye" else a.expr, (n, sp.S.One))
        if a.op == "transpose":
            return self.diagonal(a.args[0])
        if a.op == "matmul":       # diag(P Q) = rowsum(P * Q^T): no product is formed
            p, q = a.args
            return self.sum(self.map(placeholder(0) * placeholder(1), [p, self.transpose(q)]), 1)
        if a.op == "map":
            return self.map(a.expr, [self.diagonal(x) for x in a.args], (n, sp.S.One))
        return self._make("diag", (a,), (n, sp.S.One))

    def diagonal_matrix(self, d):
        """The square matrix with the column d on its diagonal (the adjoint of diagonal)."""
        n = d.shape[0]
        if d.is_constant:
            return self.map(d.expr * placeholder(0), [self.eye(n)], (n, n))
        return self._make("undiag", (d,), (n, n))

    def _square(self, what, a):
        if a.shape == () or not same_dim(a.shape[0], a.shape[1]):
            raise SymgradError(f"{what} of {_label(a)} needs a square matrix, "
                               f"not {shape_str(a.shape)}")

    def inverse(self, a):
        self._square("the inverse", a)
        return a if a.op == "eye" else self._make("inverse", (a,), a.shape)

    def det(self, a):
        self._square("the determinant", a)
        return self._make("det", (a.args[0] if a.op == "transpose" else a,), ())

    def logdet(self, a):
        self._square("log det", a)
        return self._make("logdet", (a.args[0] if a.op == "transpose" else a,), ())

    # -- integer labels -------------------------------------------------------------------
    def pick(self, scores, labels, axis):
        """The entry of scores at each example's label along axis; labels are shaped like the
        result, (1, m) for axis 0 and (m, 1) for axis 1."""
        shape = (sp.S.One, scores.shape[1]) if axis == 0 else (scores.shape[0], sp.S.One)
        if scores.op == "map" and scores.args and all(
                a.shape == () or a.shape[axis] == 1 or a.shape == scores.shape
                for a in scores.args):  # an elementwise f of the picked entries: nll(log_softmax)
            return self.map(scores.expr, [self.pick(a, labels, axis) if a.shape == scores.shape
                                          else a for a in scores.args], shape)
        return self._make("pick", (scores, labels), shape, axis=axis)

    def scatter(self, base, labels, values, axis):
        """base with values (shaped like the labels) added at the labels' entries."""
        return self._make("scatter", (base, labels, values), base.shape, axis=axis)

    # -- reductions, slices and concatenation (symgrad/ops.py) ------------------------------
    def extremum(self, kind, a, axis=None):
        """The max or min (kind) of a's entries along axis 0 or 1, keeping dims, or of all of
        them (axis None: a scalar)."""
        if a.shape == () or axis is not None and a.shape[axis] == 1:
            return a
        rows, cols = a.shape
        shape = () if axis is None else (sp.S.One, cols) if axis == 0 else (rows, sp.S.One)
        if a.is_constant:
            return self.constant(a.expr, shape)
        if a.shape == (1, 1):
            return self.sum(a, scalar=True)
        return self._make(kind, (a,), shape, axis=axis)

    def at_extremum(self, kind, g, x, axis):
        """g (of the reduced shape) at the first arg-max or arg-min of each slice of x along
        axis, zeros elsewhere: the adjoint of a max or min."""
        return self._make(f"arg{kind}_put", (g, x), x.shape, axis=axis)

    def of_extremum(self, kind, t, x, axis):
        """The entries of t (x's shape) at the first arg-max or arg-min of each slice of x."""
        rows, cols = x.shape
        shape = () if axis is None else (sp.S.One, cols) if axis == 0 else (rows, sp.S.One)
        return self._make(f"arg{kind}_take", (t, x), shape, axis=axis)

    def slice(self, a, region):
        """a[rows, cols] for a region ((start, stop, step), (start, stop, step)) of integers
        or expressions in the dimensions."""
        region = sp.Tuple(*[sp.Tuple(*r) for r in region])
        if region == full_region(a.shape):
            return a
        shape = tuple(region_length(r) for r in region)
        if a.is_constant:
            return self.constant(a.expr, shape)
        if a.op == "slice" and all(r[2] == 1 for r in a.expr + region):
            inner = [(r[0] + s[0], r[0] + s[1], 1) for r, s in zip(a.expr, region)]
            return self.slice(a.args[0], inner)
        if a.op == "concat":          # within one block: a slice of that block
            for part, block in zip(a.args, block_regions(a.args, a.axis)):
                start, stop, step = region[a.axis]
                lo, hi, _ = block[a.axis]
                if (start - lo).is_nonnegative and (hi - stop).is_nonnegative:
                    inner = list(region)
                    inner[a.axis] = (start - lo, stop - lo, step)
                    return self.slice(part, inner)
        if a.op == "pad":             # a slice of a slice's adjoint: that adjoint
            overlap = [k for k, r in enumerate(a.expr) if not _disjoint(r, region)]
            if not overlap:
                return self.constant(0, shape)
            if len(overlap) == 1 and a.expr[overlap[0]] == region:
                return a.args[overlap[0]]
        return self._make("slice", (a,), shape, expr=region)

    def pad(self, parts, regions, shape):
        """Zeros of shape with parts[i] added into regions[i] (the adjoint of slices)."""
        regions = [sp.Tuple(*[sp.Tuple(*r) for r in region]) for region in regions]
        if len(parts) == 1 and regions[0] == full_region(shape):
            return parts[0]
        return self._make("pad", parts, shape, expr=sp.Tuple(*regions))

    def add(self, terms: list[Node], shape: Shape) -> Node:
        """The sum of terms (a node's adjoint contributions) of shape, or broadcast to it,
        with no zeros formed: a scatter into zeros among them adds its values into the sum of
        the others, and the pads become one pad, whose regions are added into one array in
        place."""
        into = [t for t in terms if t.op == "scatter" and t.args[0].is_constant
                and t.args[0].expr == 0]
        rest = [t for t in terms if t not in into]
        total = self._add_pads(rest, shape) if rest else into.pop(0)
        for t in into:
            total = self.scatter(total, t.args[1], t.args[2], t.axis)
        return total

    def _add_pads(self, terms, shape):
        if not any(t.op == "pad" for t in terms):
            xs = [placeholder(i) for i in range(len(terms))]
            return self.map(sp.Add(*xs), terms, shape)
        full = full_region(shape)
        dense, parts = [], []
        for t in terms:
            if t.op != "pad":
                dense.append(t)
                continue
            for arg, region in zip(t.args, t.expr):
                if region == full:
                    dense.append(arg)
                else:
                    parts.append((arg, region))
        if dense:
            base = self._add_pads(dense, shape)
            parts.insert(0, (base, full))
        return self.pad([p for p, _ in parts], [r for _, r in parts], shape)

    def concat(self, parts, axis):
        """parts side by side along axis 1 (the rows agree) or stacked along axis 0."""
        flat = []
        for p in parts:
            flat += list(p.args) if p.op == "concat" and p.axis == axis else [p]
        if len(flat) == 1:
            return flat[0]
        other = 1 - axis
        for p in flat[1:]:
            if p.shape == () or not same_dim(p.shape[other], flat[0].shape[other]):
                raise SymgradError(
                    f"shape mismatch in a concatenation along axis {axis}: {_label(flat[0])} is "
                    f"{shape_str(flat[0].shape)} but {_label(p)} is {shape_str(p.shape)}")
        size = sp.Add(*[p.shape[axis] for p in flat])
        shape = (size, flat[0].shape[1]) if axis == 0 else (flat[0].shape[0], size)
        return self._make("concat", flat, shape, axis=axis)


def full_region(shape):
    """The region of a slice that takes all of an array of this shape."""
    return sp.Tuple(*[sp.Tuple(sp.S.Zero, sp.sympify(n), sp.S.One) for n in shape])


def _disjoint(r, s):
    """Whether two regions provably share no entry (apart along some axis; steps of 1)."""
    for (a0, a1, a_step), (b0, b1, b_step) in zip(r, s):
        if a_step == b_step == 1 and ((b0 - a1).is_nonnegative or (a0 - b1).is_nonnegative):
            return True
    return False


def region_length(r):
    """The number of entries (start, stop, step) takes along its axis."""
    start, stop, step = r
    return stop - start if step == 1 else sp.ceiling((stop - start) / step)


def block_regions(parts, axis):
    """The region of each of parts within their concatenation along axis."""
    regions, offset = [], sp.S.Zero
    for p in parts:
        span = [(sp.S.Zero, n, sp.S.One) for n in p.shape]
        span[axis] = (offset, offset + p.shape[axis], sp.S.One)
        regions.append(span)
        offset += p.shape[axis]
    return regions


def _broadcast_along(node, axis):
    """Whether node is a map broadcast along axis (its operands have size 1 there)."""
    return node.op == "map" and bool(node.args) and node.shape[axis] != 1 and all(
        x.shape == () or x.shape[axis] == 1 for x in node.args)


def _is_affine(node):
    if node.op != "map" or len(node.args) != 1:
        return False
    x = placeholder(0)
    return node.expr.is_polynomial(x) and sp.degree(node.expr, x) <= 1


def _is_tanh(node):
    """Whether node is tanh of its operand, unnamed (a name the user gave is kept)."""
    return node.op == "map" and node.name is None and isinstance(node.expr, sp.tanh)


def inline_maps(expr, args, want, recursive=True):
    """Substitute the expressions of map args for which want(arg) holds (recursively);
    the resulting args are distinct, each with one placeholder."""
    new_args, index, subs = [], {}, {}

    def slot(node):
        if node.id not in index:
            index[node.id] = len(new_args)
            new_args.append(node)
        return placeholder(index[node.id])

    for i, a in enumerate(args):
        if a.op == "map" and a.args and want(a):
            inner, inner_args = inline_maps(a.expr, a.args, want) if recursive \
                else (a.expr, a.args)
            subs[placeholder(i)] = _rename(inner, {placeholder(j): slot(b)
                                                   for j, b in enumerate(inner_args)})
        else:
            subs[placeholder(i)] = slot(a)
    return _rename(expr, subs), new_args


def _rename(expr, subs):
    """Simultaneous substitution (placeholders may be renumbered onto each other)."""
    tmp = {x: sp.Dummy(real=True) for x in subs}      # real, as the placeholders are
    return _replace(_replace(expr, tmp, {}), {tmp[x]: v for x, v in subs.items()}, {})


def _replace(expr, subs, memo):
    """expr.xreplace(subs), each shared subtree rebuilt once, and Max and Min of an
    expression rebuilt as they are: evaluating them compares their arguments by factoring
    their difference, which on a deep composition cost seconds per statement."""
    if expr in subs:
        return subs[expr]
    if not expr.args or expr in memo:
        return memo.get(expr, expr)
    args = [_replace(a, subs, memo) for a in expr.args]
    if all(a is b for a, b in zip(args, expr.args)):
        out = expr
    elif isinstance(expr, (sp.Max, sp.Min)) and not all(a.is_number for a in args):
        out = expr.func(*args, evaluate=False)
    else:
        out = expr.func(*args)
    memo[expr] = out
    return out


def topo(roots: Iterable[Node]) -> list[Node]:
    """Nodes reachable from roots, operands before users, in a deterministic order."""
    order, seen = [], set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if ready:
                order.append(node)
                continue
            if node.id in seen:
                continue
            seen.add(node.id)
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args) if a.id not in seen)
    return order


def describe(roots: Iterable[Node]) -> str:
    """The graph below roots as text, for golden tests: one line per node in topological
    order, `label = op[parameters](operands)  shape`, such as
    `n2 = map[tanh(_x0)](n1)  (n_h, m)`. A node is labelled by its name, an unnamed one by
    n0, n1, ... in that order; a map's parameter is its scalar expression in the
    placeholders _x0, _x1, ... of its operands, a reduction's its axis."""
    return listing(topo(list(roots)))


def listing(order: Iterable[Node], exprs: Mapping[int, tuple] | None = None,
            inline: Collection[int] = frozenset()) -> str:
    """One line per node of order, as describe writes them; exprs (node id -> (expr, args))
    replaces a map's own expression and operands (a schedule's fused ones), an operand whose
    id is in inline and that has no line is written out inside its user's line (as is a
    scatter's base fused into it, from exprs), and any other operand without one is #id."""
    order, exprs = list(order), exprs or {}
    labels, unnamed = {}, itertools.count()
    for node in order:
        labels[node.id] = node.name or f"n{next(unnamed)}"

    def written(node):
        if node.id in labels or node.op == "leaf" or node.id not in inline:
            return labels.get(node.id) or node.name or f"#{node.id}"   # #id: not listed
        return _term(node, exprs, written)

    return "\n".join(f"{labels[node.id]} = {_term(node, exprs, written)}  "
                     f"{shape_str(node.shape)}" for node in order)


def _term(node, exprs, written):
    """op[parameters](operands) for one node, each operand as written(operand) gives it."""
    if node.op == "leaf":
        return "leaf"
    args = [written(a) for a in node.args]
    if node.op == "map":
        expr, operands = exprs.get(node.id, (node.expr, node.args))
        return f"map[{sp.sstr(expr)}]({', '.join(written(a) for a in operands)})"
    if node.op == "scatter" and node.id in exprs:      # its base, fused into its array
        expr, operands = exprs[node.id]
        args[0] = written(operands[0]) if expr == placeholder(0) else \
            f"map[{sp.sstr(expr)}]({', '.join(written(a) for a in operands)})"
    if node.op == "slice":
        params = _region(node.expr)
    elif node.op == "pad":
        params = "; ".join(_region(r) for r in node.expr)
    else:
        params = "" if node.axis is None else f"axis={node.axis}"
    return f"{node.op}{f'[{params}]' if params else ''}({', '.join(args)})"


def _region(region):
    """rows, cols of a slice's region as start:stop or start:stop:step."""
    return ", ".join(f"{sp.sstr(a)}:{sp.sstr(b)}" + (f":{sp.sstr(c)}" if c != 1 else "")
                     for a, b, c in region)


def text(node: Node, written: Callable[[Node], str]) -> str:
    """node's operation as plain text in NumPy's spelling, its operands as written(operand)
    gives them: `b*c`, `W1 @ X`, `W2.T`, `sum(dZ1, axis=1, keepdims=True)`; a map is its
    scalar expression with the operands in place of the placeholders, and a product of a
    column by a row (an outer product, which the builder makes a broadcast) reads
    `W2.T @ dZ2`."""
    if node.op == "leaf":
        return node.name or "leaf"
    args = [written(a) for a in node.args]
    if node.op == "map":
        if len(args) == 2 and node.expr == placeholder(0) * placeholder(1):
            col, row = sorted(node.args, key=lambda a: a.shape[1:] != (1,) if a.shape else 2)
            if col.shape[1:] == (1,) and row.shape[:1] == (1,) and col.shape[0] != 1 \
                    and row.shape[1] != 1:
                return f"{written(col)} @ {written(row)}"
        return sp.sstr(node.expr.xreplace({placeholder(i): sp.Symbol(a)
                                           for i, a in enumerate(args)}))
    if node.op == "matmul":
        return f"{args[0]} @ {args[1]}"
    if node.op == "transpose":
        return f"{args[0]}.T"
    if node.op == "sum":
        return f"sum({args[0]}" + ("" if node.axis is None else
                                   f", axis={node.axis}, keepdims=True") + ")"
    if node.op in ("slice", "pad"):
        return _term(node, {}, written)
    return f"{node.op}({', '.join(args)}" + \
        ("" if node.axis is None else f", axis={node.axis}") + ")"
