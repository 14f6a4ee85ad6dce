"""The base of the node printers (NumPy code, docstring math, LaTeX): operands, parentheses,
and one `_print_<op>` method per op of graph.OPS, found by name as SymPy's printers find
`_print_<ClassName>`."""
import sympy as sp

from ..graph import placeholder, same_dim


class NodePrinter:
    """Prints graph nodes: `rhs(node)` is `_print_<node.op>(node)`. An operand prints as its
    name where `names` (id -> text) has one, a number or a transpose in place, else as its
    own right-hand side, in parentheses where it is compound; `exprs` (id -> (expr, args))
    gives a map's expression after fusion. A subclass is one notation: the printer of a
    map's scalar expression (`scalar_printer`) and each op's method.

    The defaults are NumPy's array notation (x.T, x[i, j], a @ b), which the code and the
    docstrings share; a leading batch axis (a stack of matrices) only the code has.
    """

    scalar_printer: type        # an _Operands printer of scalar SymPy expressions
    dtype: str | None = None    # the arrays' dtype, as code (for printers of code)
    arange = "arange(%s)"       # the indices 0, ..., n - 1

    def __init__(self, names: dict, exprs: dict | None = None) -> None:
        self.names = names
        self.exprs = exprs if exprs is not None else {}

    # -- dispatch -------------------------------------------------------------------------
    def rhs(self, node):
        """The expression computing node: its op's `_print_<op>`."""
        method = getattr(self, "_print_" + node.op, None)
        if method is None:
            raise NotImplementedError(
                f"{type(self).__name__} cannot print op {node.op!r}: it has no "
                f"_print_{node.op} method")
        return method(node)

    # -- operands and parentheses ---------------------------------------------------------
    def operand(self, node):
        """(text, is_compound) for a node used as an operand."""
        if isinstance(node, _Named):
            return node.name, False
        if node.id in self.names:
            return self.names[node.id], False
        if node.is_constant:
            return self._scalar(node.expr, []), True
        if node.op == "transpose":
            return self._transposed(node)
        text = self.rhs(node)
        return text, self._compound(node, text)

    def operands(self, node):
        """node's operands: [(text, is_compound)], and their texts in parentheses where
        compound."""
        args = [self.operand(a) for a in node.args]
        return args, [self.paren(t) if c else t for t, c in args]

    def paren(self, text):
        return "(%s)" % text

    def _compound(self, node, text):
        """Whether node's text, inline, needs parentheses in a product: a @ b does."""
        return node.op == "matmul"

    def _transposed(self, node):
        """A transpose as an operand: a view, x.T or (a @ b).T; a number is its own."""
        text, compound = self.operand(node.args[0])
        if node.args[0].is_constant:
            return text, compound
        t = self._t(node)
        return (self.paren(text) + t if compound else text + t), False

    def _t(self, node):
        return ".T"

    def _is_batched(self, node):
        """Whether node carries a leading batch axis (code only)."""
        return False

    # -- scalar expressions ---------------------------------------------------------------
    def _expr(self, node):
        """(expr, args) of a map: the fused one where exprs has it."""
        return self.exprs.get(node.id, (node.expr, node.args))

    def _scalar(self, expr, args):
        texts = [self.operand(a) for a in args]
        # stand-ins named like the operands, so terms sort by the names a reader sees
        syms = [sp.Symbol(text, real=True) for text, _ in texts]
        expr = expr.xreplace({placeholder(i): s for i, s in enumerate(syms)})
        return self._printer(dict(zip(syms, texts)), zip(syms, args)).doprint(expr)

    def _printer(self, operands, stand_ins):
        """The scalar printer for operands (stand-in -> (text, compound)); stand_ins pairs
        each stand-in with its node; a stack of matrices has no 2-d shape."""
        shapes = {s: a.shape for s, a in stand_ins
                  if not isinstance(a, _Named) and not self._is_batched(a)}
        printer = self.scalar_printer(operands, shapes)
        printer.dtype = self.dtype
        return printer

    # -- the ops the notations share ------------------------------------------------------
    def _print_leaf(self, node):
        return node.name

    def _print_map(self, node):
        return self._scalar(*self._expr(node))

    def _print_matmul(self, node):
        _, wrap = self.operands(node)
        return "%s @ %s" % (wrap[0], wrap[1])

    def _print_transpose(self, node):
        _, wrap = self.operands(node)
        return wrap[0] + self._t(node)

    def _print_pick(self, node):
        _, wrap = self.operands(node)
        index, flipped = self._at_labels(node, node.args[1])
        return "%s[%s]%s" % (wrap[0], index, self._t(node) if flipped else "")

    def _print_slice(self, node):
        _, wrap = self.operands(node)
        return "%s[%s]" % (wrap[0], region_index(node.expr, node.args[0].shape,
                                                 self._is_batched(node)))

    # -- labels (pick, scatter) -----------------------------------------------------------
    def labels_text(self, node):
        """The labels of a pick or scatter as the model names them (y, not a view y.T)."""
        labels = node.args[1]
        return self.operand(labels.args[0] if labels.op == "transpose" else labels)[0]

    def _at_labels(self, node, labels):
        """(index, flipped): the index of the labels' entries along node's axis, y,
        np.arange(m) for axis 0; for axis 1 np.arange(m), y with cs231n's labels, a row, whose
        entries then come as a row (flipped: transpose them), else np.arange(m)[:, None], y."""
        arange = self.arange % node.shape[1 - node.axis]
        lead = "..., " if self._is_batched(node) else ""
        if node.axis == 0:
            return lead + "%s, %s" % (self.operand(labels)[0], arange), False
        if labels.op == "transpose":
            return lead + "%s, %s" % (arange, self.operand(labels.args[0])[0]), True
        return lead + "%s[:, None], %s" % (arange, self.operand(labels)[0]), False

    def _scatter_math(self, node, expr, args, onehot):
        """A scatter as math, base + onehot(y)*values (onehot: its text, given y's)."""
        return self._scalar(*self._scatter_expr(node, expr, args, onehot))

    def _scatter_expr(self, node, expr, args, onehot):
        """(expr, args) of a scatter as a map, base + onehot(y)*values (see _scatter_math)."""
        expr = expr.xreplace({placeholder(i): a.expr for i, a in enumerate(args)
                              if a.is_constant})
        onehot, values, k = _Named(onehot % self.labels_text(node)), node.args[2], len(args)
        if values.is_constant:
            return expr + placeholder(k) * values.expr, [*args, onehot]
        return expr + placeholder(k) * placeholder(k + 1), [*args, onehot, values]


def region_index(region, shape, batched=False):
    """The subscript of a region: [:, :k], [..., i:i + 1, :] for a stack of matrices."""
    axes = []
    for (start, stop, step), n in zip(region, shape):
        text = "%s:%s" % ("" if start == 0 else start, "" if same_dim(stop, n) else stop)
        axes.append(text + ("" if step == 1 else ":%s" % step))
    return ", ".join(["..."] * batched + axes)


class _Named:
    """A temporary (common-subexpression elimination) or a made-up operand (onehot(y)),
    printed as its name."""
    op, args, id = "temp", (), None

    def __init__(self, name):
        self.name = name
