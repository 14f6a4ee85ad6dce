"""SymPy expressions (scalar or matrix) to graph nodes, one converter method per SymPy class."""
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from .errors import SymgradError
from .graph import placeholder, placeholder_index, same_dim, shape_str
from .array import check_matrix_power
from .naming import Groups


class Converter:
    """Turns the SymPy trees of one model into nodes of one Graph, sharing what repeats;
    the user's named sums and products are found again where SymPy has flattened them."""

    def __init__(self, graph, leaves, dims=()):
        self.graph = graph
        self.dims = set(dims)
        self.leaves = {s: graph.leaf(s) for s in leaves}
        self.scalar_leaves = {s for s in leaves if not isinstance(s, sp.MatrixSymbol)}
        self._cache = {}
        self.groups = Groups(graph)     # named sums and products, see naming.name_nodes

    def __call__(self, expr):
        if expr not in self._cache:
            # the matrices first, deepest first: a deep network needs no deep recursion
            for sub in _matrices_bottom_up(expr, self._cache):
                if sub not in self._cache:
                    self._cache[sub] = self._convert(sub)
            if expr not in self._cache:
                self._cache[expr] = self._convert(expr)
        return self._cache[expr]

    def _convert(self, expr):
        if expr in self.leaves:
            return self.leaves[expr]
        if not isinstance(expr, sp.MatrixExpr) and self._is_constant(expr):
            return self.graph.constant(_fold(expr))
        for cls in type(expr).__mro__:
            method = getattr(self, f"_convert_{cls.__name__}", None)
            if method is not None:
                return method(expr)
        raise _unsupported(expr)

    def _is_constant(self, expr):
        syms = getattr(expr, "free_symbols", set())
        for s in syms:
            if s not in self.leaves and s not in self.dims and isinstance(s, sp.Symbol):
                self._convert_Symbol(s)
        return not any(s in self.leaves for s in syms) and not expr.atoms(sp.MatrixSymbol)

    # -- leaves -----------------------------------------------------------------------------
    def _convert_MatrixSymbol(self, expr):
        raise SymgradError(f"matrix {expr.name} {shape_str(expr.shape)} is neither a parameter "
                           f"nor an input: add it to params=[...] or inputs=[...]")

    def _convert_Symbol(self, expr):
        raise SymgradError(f"symbol {expr.name} is neither a parameter, an input nor a "
                           f"dimension of one: add it to params=[...] or inputs=[...]")

    def _convert_OneMatrix(self, expr):
        return self.graph.constant(1, expr.shape)

    def _convert_ZeroMatrix(self, expr):
        return self.graph.constant(0, expr.shape)

    def _convert_Identity(self, expr):
        return self.graph.eye(expr.shape[0])

    # -- elementwise: matrix level ----------------------------------------------------------
    def _elementwise(self, expr, operands, shape=None):
        nodes = [self(a) for a in operands]
        return self.graph.map(expr, nodes, shape)

    def _broadcasting(self, op, expr):
        """op of expr's args, each broadcast to the shape SymPy states for expr; SymPy
        gives MatAdd(b, W) and HadamardProduct(b, W) the first argument's shape."""
        nodes = self.groups.split_terms(expr, [self(a) for a in expr.args])
        node = self.graph.map(op(*[placeholder(i) for i in range(len(nodes))]), nodes)
        if not all(same_dim(a, b) for a, b in zip(node.shape, expr.shape)):
            raise SymgradError(
                f"{type(expr).__name__} `{str(expr)[:60]}` is {shape_str(node.shape)} but SymPy "
                f"gives it the shape of its first argument, {shape_str(expr.shape)}: put the "
                f"larger matrix first, or broadcast the smaller one with OneMatrix")
        return node

    def _convert_MatAdd(self, expr):
        return self._broadcasting(sp.Add, expr)

    def _convert_HadamardProduct(self, expr):
        return self._broadcasting(sp.Mul, expr)

    def _convert_HadamardPower(self, expr):
        base, power = expr.args
        return self._elementwise(placeholder(0) ** placeholder(1), [base, power])

    def _convert_ElementwiseApplyFunction(self, expr):
        """f applied to each entry; the scalar parameters and inputs in f's body (a
        learnable swish's beta, a PReLU's alpha) are operands too, broadcast over them."""
        f, x = expr.function, placeholder(0)
        body = f.expr.xreplace({f.variables[0]: x}) if isinstance(f, sp.Lambda) else f(x)
        if body.has(sp.MatrixExpr):
            raise SymgradError(f"a matrix inside the function applied elementwise in "
                               f"`{str(expr)[:60]}`: only scalars can appear in its body")
        leaves = sorted(body.free_symbols & self.scalar_leaves, key=str)
        body = body.xreplace({s: placeholder(i + 1) for i, s in enumerate(leaves)})
        for s in body.free_symbols - self.dims:
            if placeholder_index(s) is None:
                self._convert_Symbol(s)
        return self._elementwise(body, [expr.expr, *leaves], expr.shape)

    # -- matrix products ----------------------------------------------------------------
    def _convert_MatMul(self, expr):
        coeff, factors = expr.as_coeff_matrices()
        coeff, nodes = self.groups.split_factors(coeff, [self(f) for f in factors])
        node = self._chain(nodes)
        if coeff != 1:
            node = self.graph.map(placeholder(0) * placeholder(1), [self(coeff), node])
        return node

    def _chain(self, nodes):
        """Multiply a chain of matrices, ones-vectors first, then in the cheapest order."""
        nodes = list(nodes)
        if nodes[0].is_constant and len(nodes) > 1:
            return self.graph.matmul(nodes[0], self._chain(nodes[1:]))
        if nodes[-1].is_constant and len(nodes) > 1:
            return self.graph.matmul(self._chain(nodes[:-1]), nodes[-1])
        if len(nodes) <= 2:
            return nodes[0] if len(nodes) == 1 else self.graph.matmul(*nodes)
        return self._chain_order(nodes)

    def _chain_order(self, nodes):
        """Classic matrix-chain DP, costing with every dimension symbol set to 100."""
        dims = [nodes[0].shape[0]] + [n.shape[1] for n in nodes]
        size = [_estimate(d) for d in dims]
        n = len(nodes)
        best = {(i, i): (0, nodes[i]) for i in range(n)}
        for span in range(1, n):
            for i in range(n - span):
                j = i + span
                options = []
                for k in range(i, j):
                    cost = best[i, k][0] + best[k + 1, j][0] + size[i] * size[k + 1] * size[j + 1]
                    options.append((cost, k))
                cost, k = min(options, key=lambda ck: ck[0])
                best[i, j] = (cost, (i, k, j))
        return self._build(best, 0, n - 1, nodes)

    def _build(self, best, i, j, nodes):
        if i == j:
            return nodes[i]
        _, (i, k, j) = best[i, j]
        return self.graph.matmul(self._build(best, i, k, nodes), self._build(best, k + 1, j, nodes))

    def _convert_MatPow(self, expr):
        """X**k for an integer k: products by repeated squaring; X**-k is (X^-1)**k."""
        base, k = expr.args
        check_matrix_power(base, k)
        node = self(base)
        if k < 0:
            node, k = self.graph.inverse(node), -k
        return self._power(node, int(k)) if k else self.graph.eye(base.shape[0])

    def _power(self, node, k):
        if k == 1:
            return node
        half = self._power(node, k // 2)
        square = self.graph.matmul(half, half)
        return self.graph.matmul(square, node) if k % 2 else square

    def _convert_Transpose(self, expr):
        return self.graph.transpose(self(expr.arg))

    def _convert_Trace(self, expr):
        return self.graph.trace(self(expr.arg))

    def _convert_Inverse(self, expr):
        return self.graph.inverse(self(expr.arg))

    def _convert_Determinant(self, expr):
        return self.graph.det(self(expr.arg))

    def _convert_Sum(self, expr):
        """SymPy writes the entry of a product, (w.T @ x)[0, 0], as a Sum over a dummy
        index of products of entries: SymPy's own from_index_summation gives the product
        (which reads x[i, 0]*x[i, 0] but not x[i, 0]**2, how SymPy writes (x.T @ x)[0, 0])."""
        with sp.evaluate(False):
            products = expr.replace(lambda e: e.is_Pow and e.exp == 2 and isinstance(
                e.base, MatrixElement), lambda e: sp.Mul(e.base, e.base))
        try:
            product = sp.MatrixExpr.from_index_summation(products)
        except (ValueError, TypeError, KeyError, IndexError, NotImplementedError):
            product = None
        if product is None or product.has(sp.Sum) or product.free_symbols - expr.free_symbols:
            raise SymgradError(f"unsupported Sum `{str(expr)[:60]}`: only a sum of products "
                               "of matrix entries over whole dimensions (an entry of a matrix "
                               "product) is supported; write it as a matrix product")
        return self(product)

    def _convert_Pick(self, expr):
        """The scores at integer labels, the labels turned to the result's shape (a view)."""
        scores, labels, axis = expr.args
        if labels not in self.leaves:
            raise SymgradError(f"labels {labels} are not an input: add them to inputs=[...]")
        y = self.leaves[labels]
        if y.shape[int(axis)] != 1:
            y = self.graph.transpose(y)
        return self.graph.pick(self(scores), y, int(axis))

    def _convert_MatrixElement(self, expr):
        """A[i, j], a scalar: the 1 x 1 slice A[i:i+1, j:j+1]."""
        parent = expr.parent
        if parent.shape == (1, 1):
            return self(parent)
        region = [(k, k + 1, 1) for k in (expr.i, expr.j)]
        return self._slice(expr, parent, region)

    # -- slices, concatenation, reductions, elementwise maps (symgrad/ops.py) ---------------
    def _convert_MatrixSlice(self, expr):
        """A[r0:r1:rs, c0:c1:cs]: integer bounds, or bounds in the dimensions (A[:, :k])."""
        return self._slice(expr, expr.parent, [expr.rowslice, expr.colslice])

    def _slice(self, expr, parent, region):
        text = str(expr)[:60]
        region = [tuple(sp.sympify(b) for b in r) for r in region]
        for (start, stop, step), size, what in zip(region, parent.shape, ("rows", "columns")):
            unknown = {s for b in (start, stop, step) for s in b.free_symbols} - self.dims
            if unknown:
                raise SymgradError(
                    f"the slice `{text}` has a bound in {', '.join(sorted(map(str, unknown)))}, "
                    "which is not a dimension of a parameter or input: give integers or "
                    "expressions in the dimensions (A[:, :k] with k a dimension)")
            if not (step.is_Integer and step > 0) or step != 1 and not (stop - start).is_Integer:
                raise SymgradError(f"the slice `{text}` has step {step}: a step must be a "
                                   "positive integer, and the bounds of a strided slice integers")
            if (stop - start).is_nonpositive or start.is_negative or (size - stop).is_negative:
                raise SymgradError(f"the slice `{text}` is out of range: {parent} has {size} "
                                   f"{what} but the slice takes {start} to {stop}; give bounds "
                                   f"0 <= start < stop <= {size}")
        node = self.graph.slice(self(parent), region)
        if isinstance(expr, sp.MatrixSlice) and not all(
                same_dim(a, b) for a, b in zip(node.shape, expr.shape)):
            raise SymgradError(f"the slice `{text}` takes {shape_str(node.shape)} entries but "
                               f"SymPy gives it the shape {shape_str(expr.shape)} (it rounds "
                               "a strided slice's length down): use a step that divides the "
                               "length of the range")
        return node

    def _convert_BlockMatrix(self, expr):
        """Blocks side by side in each block row, the rows stacked (np.concatenate)."""
        blocks = expr.blocks
        rows = [self.graph.concat([self(blocks[i, j]) for j in range(blocks.cols)], 1)
                for i in range(blocks.rows)]
        return self.graph.concat(rows, 0)

    def _convert_ScalarExtremum(self, expr):
        return self.graph.extremum(expr.kind, self(expr.arg), None)

    def _convert_AxisExtremum(self, expr):
        return self.graph.extremum(expr.kind, self(expr.arg), expr.axis)

    def _convert_ElementwiseMap(self, expr):
        """f(x_1, ..., x_k) over its operands, broadcast; scalar parameters and inputs in f's
        body are operands too (as for applyfunc)."""
        f = expr.function
        if expr.is_condition:
            raise SymgradError(f"the comparison `{str(expr)[:60]}` is a condition, not a value: "
                               "use it as the first argument of sg.where, e.g. "
                               "sg.where(sg.greater(Z, 0), Z, 0)")
        body = f.expr.xreplace({v: placeholder(i) for i, v in enumerate(f.variables)})
        if body.has(sp.MatrixExpr):
            raise SymgradError(f"a matrix inside the function applied elementwise in "
                               f"`{str(expr)[:60]}`: only scalars can appear in its body")
        n = len(f.variables)
        leaves = sorted(body.free_symbols & self.scalar_leaves, key=str)
        body = body.xreplace({s: placeholder(n + i) for i, s in enumerate(leaves)})
        for s in body.free_symbols - self.dims:
            if placeholder_index(s) is None:
                self._convert_Symbol(s)
        return self._elementwise(body, [*expr.operands, *leaves], expr.shape)

    # -- scalar level: one node per operation, so a scalar graph shows each step ------------
    def _scalar(self, expr):
        xs, nodes = [], []
        for a in expr.args:
            if self._is_constant(a):
                xs.append(_fold(a))
            else:
                xs.append(placeholder(len(nodes)))
                nodes.append(self(a))
        return self.graph.map(expr.func(*xs), nodes)

    _convert_Add = _convert_Mul = _convert_Pow = _convert_Max = _convert_Min = _scalar

    def _convert_Piecewise(self, expr):
        """A scalar Piecewise (sg.where, sg.maximum of scalars): one map over its branch
        values and the two sides of each comparison."""
        nodes, slots = [], {}

        def slot(e):
            if self._is_constant(e):
                return _fold(e)
            if e not in slots:
                slots[e] = placeholder(len(nodes))
                nodes.append(self(e))
            return slots[e]

        def test(c):
            if isinstance(c, sp.core.relational.Relational):
                return c.func(slot(c.lhs), slot(c.rhs))
            if isinstance(c, (sp.And, sp.Or, sp.Not)):
                return c.func(*[test(a) for a in c.args])
            if c in (sp.true, sp.false):
                return c
            raise _unsupported(expr, f"condition {type(c).__name__}")
        return self.graph.map(sp.Piecewise(*[(slot(e), test(c)) for e, c in expr.args]), nodes)

    def _convert_Function(self, expr):
        if isinstance(expr, sp.Function) and len(expr.args) >= 1:
            return self._scalar(expr)
        raise _unsupported(expr)

    def _convert_log(self, expr):
        """log det X becomes a logdet node, computed stably with slogdet; SymPy writes
        det(A B) as det(A) det(B), so a product of determinants becomes a sum of logdets."""
        def det_power(f):          # (X, k) for det(X)**k with a number k, else None
            base, power = f.as_base_exp()
            return (base.arg, power) if isinstance(base, sp.Determinant) and power.is_number \
                else None
        factors = sp.Mul.make_args(expr.args[0])
        if not any(det_power(f) for f in factors):
            return self._scalar(expr)
        terms = []
        for f in factors:
            if det_power(f):
                matrix, power = det_power(f)
                terms.append(self.graph.map(power * placeholder(0),
                                            [self.graph.logdet(self(matrix))]))
            else:
                terms.append(self(sp.log(f)))
        return self.graph.map(sp.Add(*[placeholder(i) for i in range(len(terms))]), terms)


def _matrices_bottom_up(expr, done=()):
    """The matrix subexpressions of expr, each once, children before parents, left to
    right (the order a recursive conversion completes them in), none inside one in done."""
    seen, order, stack = set(), [], [(expr, False)]
    while stack:
        e, children_done = stack.pop()
        if children_done:
            if isinstance(e, sp.MatrixExpr):
                order.append(e)
        elif e not in seen and e not in done:
            seen.add(e)
            stack.append((e, True))
            stack.extend((a, False) for a in reversed(_children(e)))
    return order


def _children(expr):
    """The subexpressions the converter converts first: a BlockMatrix's blocks (its argument
    is an explicit matrix of them), else the arguments."""
    if isinstance(expr, sp.BlockMatrix):
        return list(expr.blocks)
    return expr.args


def _fold(expr):
    """A constant with constant matrices or sums in it, Trace(Identity(n)) or the sum of a
    OneMatrix, as a number in terms of the dimensions."""
    if not expr.has(sp.MatrixExpr, sp.Sum):
        return expr
    folded = expr.doit()
    if folded.has(sp.MatrixExpr, sp.Sum):
        raise SymgradError(f"the constant `{str(expr)[:60]}` does not fold to a number: "
                           "write it in terms of the dimensions")
    return folded


def _estimate(dim):
    return float(sp.sympify(dim).subs({s: 100 for s in sp.sympify(dim).free_symbols}))


def _unsupported(expr, what=None):
    name = what or type(expr).__name__
    return SymgradError(
        f"unsupported operation {name} in `{str(expr)[:60]}`: rewrite it with supported "
        "operations, or add a VJP rule for it in symgrad/rules.py")
