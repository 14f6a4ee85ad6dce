"""Printing scheduled nodes as NumPy source (and as plain math for docstrings).

Scalar expressions print through SymPy printers that dispatch on the class
(`_print_sigmoid`, ...); array operations (products, sums) print in `NodePrinter`.
"""
import ast
import inspect

import sympy as sp
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from ..graph import broadcast_shape, full_region, placeholder, same_dim
from ..schedule import is_square
from . import runtime

# helper functions a generated module may need: name -> source (emitted only when used)
HELPERS = {f.__name__: inspect.getsource(f).rstrip() for f in (
    runtime._arrays, runtime._labels, runtime._check_labels, runtime._shape_error,
    runtime._sigmoid, runtime._matmul, runtime._logsumexp, runtime._erf, runtime._logcosh,
    runtime._xlogx, runtime._put_at_arg, runtime._take_at_arg, runtime._diagonal_matrix)}


# linear-algebra ops: op -> (NumPy code, docstring math); slogdet is stable where det
# under- or overflows
LINALG = {"inverse": ("np.linalg.inv(%s)", "inv(%s)"), "det": ("np.linalg.det(%s)", "det(%s)"),
          "logdet": ("np.linalg.slogdet(%s).logabsdet", "log|det(%s)|")}


class _Operands:
    """Mixin: placeholders print as operand strings; compound ones get parentheses."""

    settings = {"fully_qualified_modules": True, "strict": True}   # the SymPy printer's

    def __init__(self, operands, helpers=None, shapes=None):
        super().__init__(self.settings)
        self.operands = operands          # placeholder -> (text, is_compound)
        self.helpers = helpers if helpers is not None else set()
        self.shapes = shapes or {}        # placeholder -> shape of its operand, where known

    def _print_Symbol(self, expr):
        if expr in self.operands:
            return self.operands[expr][0]
        return super()._print_Symbol(expr)

    def parenthesize(self, item, level, strict=False):
        # a negative product prints its factors at Add level: -x*(A @ B) needs them too
        if item in self.operands and self.operands[item][1] and level >= PRECEDENCE["Add"]:
            return "(%s)" % self.operands[item][0]
        return super().parenthesize(item, level, strict)


class ScalarNumPyPrinter(_Operands, NumPyPrinter):
    """Scalar SymPy expressions as NumPy code that broadcasts over arrays."""

    def _module_format(self, fqn, register=True):
        return "np." + fqn[len("numpy."):] if fqn.startswith("numpy.") else fqn

    def _as_ordered_terms(self, expr, order=None):
        """A positive term first: a - b*c, not -b*c + a, which negates an array first."""
        terms = super()._as_ordered_terms(expr, order)
        first = next((i for i, t in enumerate(terms) if not t.could_extract_minus_sign()), 0)
        return [terms[first]] + terms[:first] + terms[first + 1:]

    def _print(self, expr, **kwargs):
        """A function of the dimensions alone (log(n), sqrt(m)) as a Python float, which
        keeps a float32 array float32 (NumPy's own float64 scalar would not)."""
        text = super()._print(expr, **kwargs)
        if isinstance(expr, (sp.Function, sp.Pow)) and not expr.is_Rational \
                and expr.free_symbols and not expr.free_symbols & set(self.operands) \
                and not (expr.is_Pow and expr.exp.is_Integer):
            return "float(%s)" % text
        return text

    def _print_erf(self, expr):
        self.helpers.add("_erf")
        return "_erf(%s)" % self._print(expr.args[0])

    def _print_erfc(self, expr):
        self.helpers.add("_erf")
        return "_erf(%s, complement=True)" % self._print(expr.args[0])

    def _print_sigmoid(self, expr):
        self.helpers.add("_sigmoid")
        return "_sigmoid(%s)" % self._print(expr.args[0])

    def _print_logcosh(self, expr):
        self.helpers.add("_logcosh")
        return "_logcosh(%s)" % self._print(expr.args[0])

    def _print_xlogx(self, expr):
        self.helpers.add("_xlogx")
        return "_xlogx(%s)" % self._print(expr.args[0])

    def _print_softplus(self, expr):
        return "np.logaddexp(0, %s)" % self._print(expr.args[0])

    def _print_Heaviside(self, expr):          # H(0) = 0: ReLU'(0) = 0, as PyTorch
        return "np.heaviside(%s, 0)" % self._print(expr.args[0])

    def _print_Mul(self, expr):
        """g * H(x) as g*(x > 0): a boolean mask, many times cheaper than np.heaviside (and
        H(0) = 0 too). Only when g holds an operand, so the product stays in its dtype.
        A column times a row is _matmul(c, r), an outer product: broadcasting them would
        allocate the ufunc's iteration buffers."""
        masks = [f for f in expr.args if isinstance(f, sp.Piecewise)
                 and all(p.expr.is_number for p in f.args)]
        if masks and (expr / masks[0]).free_symbols & set(self.operands):
            return self._print(sp.piecewise_fold(expr))    # np.where(c, g, 0): g's dtype
        column = next((f for f in expr.args if _is_vector(self.shapes.get(f), 1)), None)
        row = next((f for f in expr.args if _is_vector(self.shapes.get(f), 0)), None)
        if column is not None and row is not None:
            outer = sp.Symbol("_outer%d" % len(self.operands))
            self.helpers.add("_matmul")
            self.operands = {**self.operands, outer: ("_matmul(%s, %s)" % (
                self._print(column), self._print(row)), False)}
            return self._print(expr / (column * row) * outer)
        steps = [f for f in expr.args if isinstance(f, sp.Heaviside)]
        rest = sp.Mul(*[f for f in expr.args if not isinstance(f, sp.Heaviside)])
        if not steps or not rest.free_symbols:
            return super()._print_Mul(expr)
        masks = ["(%s > 0)" % self._print(h.args[0]) for h in steps]
        return "*".join([self.parenthesize(rest, PRECEDENCE["Mul"], strict=True)] + masks)

    def _print_Abs(self, expr):
        return "np.abs(%s)" % self._print(expr.args[0])

    def _print_Piecewise(self, expr):
        """np.maximum/np.minimum for sg.maximum/sg.minimum, else nested np.where; branches
        that are all numbers (a derivative's 1 and 0) are cast to the arrays' dtype."""
        if expr.args[-1].cond != sp.true:
            return super()._print_Piecewise(expr)
        pair = extremum_pair(expr)
        if pair:
            return "np.%s(%s, %s)" % (pair[0], self._print(pair[1]), self._print(pair[2]))
        text = self._print(expr.args[-1].expr)
        for value, cond in reversed(expr.args[:-1]):
            text = "np.where(%s, %s, %s)" % (self._print(cond), self._print(value), text)
        if all(p.expr.is_number for p in expr.args) and getattr(self, "dtype", None) \
                and any(self.shapes.get(s, ()) != () for s in expr.free_symbols):
            text = "%s.astype(%s)" % (text, self.dtype)
        return text

    def _print_Relational(self, expr):
        if expr.rel_op in ("<", "<=", ">", ">="):
            return "%s %s %s" % (self.parenthesize(expr.lhs, PRECEDENCE["Relational"]),
                                 expr.rel_op, self.parenthesize(expr.rhs,
                                                                PRECEDENCE["Relational"]))
        return super()._print_Relational(expr)

    def _print_Max(self, expr):
        return self._fold("np.maximum", expr.args)

    def _print_Min(self, expr):
        return self._fold("np.minimum", expr.args)

    def _fold(self, func, args):
        text = self._print(args[0])
        for a in args[1:]:
            text = "%s(%s, %s)" % (func, text, self._print(a))
        return text

    def _print_Pow(self, expr, rational=False):
        base, e = expr.args
        if e == -1:
            return "1 / %s" % self.parenthesize(base, PRECEDENCE["Pow"])
        if e == sp.S.Half:
            return "np.sqrt(%s)" % self._print(base)
        if e.is_Integer and 2 < abs(e) <= 4 and base.is_Symbol \
                and not self.operands.get(base, ("", False))[1]:  # NumPy fast-paths x**2 only
            product = "(%s)" % "*".join([self._print(base)] * abs(int(e)))
            return product if e > 0 else "1 / " + product
        if e.is_Integer and e < 0:
            return "1 / %s**%s" % (self.parenthesize(base, PRECEDENCE["Pow"]), -e)
        return super()._print_Pow(expr, rational)

    def _print_Rational(self, expr):
        return "%s/%s" % (expr.p, expr.q)

    def _print_Float(self, expr):
        return repr(float(expr))


def _is_vector(shape, axis):
    """Whether shape is a column (axis 1 of size 1) or a row (axis 0), not a 1 x 1."""
    return shape is not None and len(shape) == 2 and shape[axis] == 1 and shape[1 - axis] != 1


def extremum_pair(expr):
    """("maximum", a, b) for Piecewise((a, a >= b), (b, True)) (sg.maximum; > too, and the
    relation either way round), ("minimum", a, b) for <= and <, else None."""
    if len(expr.args) != 2 or expr.args[1].cond != sp.true:
        return None
    (a, cond), (b, _) = expr.args
    if not isinstance(cond, sp.core.relational.Relational) or cond.rel_op not in (
            "<", "<=", ">", ">=") or {cond.lhs, cond.rhs} != {a, b} or a == b:
        return None
    larger = cond.lhs if cond.rel_op in (">", ">=") else cond.rhs     # the side that is larger
    return ("maximum" if larger == a else "minimum"), a, b


class ScalarMathPrinter(_Operands, StrPrinter):
    """The same expressions as plain math for docstrings, in the README's notation:
    tanh(W1 @ X + b1), relu(Z1), a ReLU mask (Z1 > 0), and a column times a row (a product
    over an inner dimension of 1) W2.T @ dZ2."""

    settings: dict = {}

    def _print_Heaviside(self, expr):
        return "(%s > 0)" % self._print(expr.args[0])

    def _print_Max(self, expr):
        if len(expr.args) == 2 and sp.S.Zero in expr.args:
            return "relu(%s)" % self._print(next(a for a in expr.args if a != 0))
        return self._print_Function(expr)

    def _print_Mul(self, expr):
        column = next((f for f in expr.args if _is_vector(self.shapes.get(f), 1)), None)
        row = next((f for f in expr.args if _is_vector(self.shapes.get(f), 0)), None)
        if column is None or row is None:
            return super()._print_Mul(expr)
        product = "%s @ %s" % (self._print(column), self._print(row))
        rest = expr / (column * row)
        if rest == 1:
            return product
        return "%s*(%s)" % (self.parenthesize(rest, PRECEDENCE["Mul"]), product) \
            if rest.is_number else "(%s)*%s" % (product, self.parenthesize(rest, PRECEDENCE["Mul"]))

    def _print_Piecewise(self, expr):
        pair = extremum_pair(expr)
        if pair:
            return "%s(%s, %s)" % (pair[0], self._print(pair[1]), self._print(pair[2]))
        if expr.args[-1].cond != sp.true:
            return super()._print_Piecewise(expr)
        text = self._print(expr.args[-1].expr)
        for value, cond in reversed(expr.args[:-1]):
            text = "where(%s, %s, %s)" % (self._print(cond), self._print(value), text)
        return text


class NodePrinter:
    """Prints the statements of a Plan with one scalar printer class (code or math).

    Nodes in `batched` carry a leading batch axis of size `batch` (one Jacobian seed per
    entry): they transpose the last two axes and sum over negative axes.
    """

    def __init__(self, plan, names, scalar_printer=ScalarNumPyPrinter, math=False,
                 batched=frozenset(), batch=None, dtype="np.float64"):
        self.plan, self.names, self.math, self.dtype = plan, names, math, dtype
        self.batched, self.batch = batched, batch
        self.scalar_printer = scalar_printer
        self.helpers = set()
        self.named = {n.id for n in plan.order}

    def operand(self, node):
        """(text, is_compound) for a node used as an operand."""
        if isinstance(node, _Named):
            return node.name, False
        if node.op == "leaf":
            return node.name, False
        if node.id in self.named:
            return self.names[node.id], False
        if node.is_constant:
            return self._scalar(node.expr, []), True
        if node.op == "transpose":
            text, compound = self.operand(node.args[0])
            if node.args[0].is_constant:        # a number: its own transpose
                return text, compound
            t = self._t(node)
            return ("(%s)%s" % (text, t) if compound else text + t), False
        return self.rhs(node), node.op == "matmul" and self._matmul_function(node) is None

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
        printer = self.scalar_printer(operands, self.helpers, shapes)
        printer.dtype = getattr(self, "dtype", None)
        return printer

    def lines(self, node, name, fresh):
        """The statements computing node into name; fresh() gives unused temporary names.
        Repeated subexpressions of an elementwise expression are computed once."""
        if node.op == "scatter":
            return self._scatter(node, name, fresh)
        if node.op == "pad" and not self.math:
            return self._pad_lines(node, name)
        if node.op != "map":
            return ["%s = %s" % (name, self.rhs(node))]
        expr, args = self.plan.exprs.get(node.id, (node.expr, node.args))
        product = self._product_term(node, expr, args)
        if product is not None:    # Z = W @ A; Z += b: no second array for the sum
            rest = expr - placeholder(product)
            sign = "-" if rest.could_extract_minus_sign() else "+"
            return ["%s = %s" % (name, self.rhs(args[product])),
                    "%s %s= %s" % (name, sign, self._scalar(-rest if sign == "-" else rest,
                                                             args))]
        if not self.math:    # sqrt(2/pi) once, as a float literal
            expr = expr.replace(lambda e: e.is_number and not e.is_Rational and not e.is_Atom,
                                lambda e: e.evalf(17))
        temps, (expr,) = sp.cse([expr], symbols=_placeholders_from(len(args)))
        out, args = [], list(args)
        for _, sub in temps:
            temp = fresh()
            out.append("%s = %s" % (temp, self._scalar(sub, args)))
            args.append(_Named(temp))
        out.append("%s = %s" % (name, self._broadcast(node, self._scalar(expr, args))))
        return out

    def _scatter(self, node, name, fresh):
        """name = the base, a new array; then the values added in place at the labels'
        entries (dZ = A/m, then dZ[y, np.arange(m)] -= 1/m: no one-hot matrix is formed)."""
        expr, args = self.plan.exprs[node.id]
        value = expr.xreplace({placeholder(i): a.expr for i, a in enumerate(args)
                               if a.is_constant})
        if not value.free_symbols & set(_placeholders_upto(len(args))):
            shape = ", ".join(map(str, ((self.batch,) if self._is_batched(node) else ())
                                  + tuple(node.shape)))
            out = ["%s = %s" % (name, "np.zeros((%s), dtype=%s)" % (shape, self.dtype) if value == 0
                                else "np.full((%s), %s, dtype=%s)" % (
                                    shape, self._scalar(value, []), self.dtype))]
        else:
            out = self.lines(_AsMap(node), name, fresh)
            rhs = ast.parse(out[-1].split(" = ", 1)[1], mode="eval").body
            if isinstance(rhs, (ast.Name, ast.Attribute, ast.Subscript)) or isinstance(
                    rhs, ast.Call) and ast.unparse(rhs.func) == "np.broadcast_to":
                out[-1] = "%s = np.array(%s)" % (name, ast.unparse(rhs))   # a copy of its own
        _, labels, values = node.args
        index, flipped = self._at_labels(node, labels)
        sign, text = "+", self.operand(values)[0]
        if values.is_constant and values.expr.could_extract_minus_sign():
            sign, text = "-", self._scalar(-values.expr, [])
        elif flipped and not values.is_constant:
            text += self._t(node)
        out.append("%s[%s] %s= %s" % (name, index, sign, text))
        return out

    def _scatter_math(self, node, expr, args, onehot):
        """A scatter as math, base + onehot(y)*values (onehot: its text, given y's)."""
        expr = expr.xreplace({placeholder(i): a.expr for i, a in enumerate(args)
                              if a.is_constant})
        onehot, values, k = _Named(onehot % self.labels_text(node)), node.args[2], len(args)
        if values.is_constant:
            return self._scalar(expr + placeholder(k) * values.expr, [*args, onehot])
        return self._scalar(expr + placeholder(k) * placeholder(k + 1), [*args, onehot, values])

    def labels_text(self, node):
        """The labels of a pick or scatter as the model names them (y, not a view y.T)."""
        labels = node.args[1]
        return self.operand(labels.args[0] if labels.op == "transpose" else labels)[0]

    def _at_labels(self, node, labels):
        """(index, flipped): the index of the labels' entries along node's axis, y,
        np.arange(m) for axis 0; for axis 1 np.arange(m), y with cs231n's labels, a row, whose
        entries then come as a row (flipped: transpose them), else np.arange(m)[:, None], y."""
        m = str(node.shape[1 - node.axis])
        arange = "arange(%s)" % m if self.math else "np.arange(%s)" % m
        lead = "..., " if self._is_batched(node) else ""
        if node.axis == 0:
            return lead + "%s, %s" % (self.operand(labels)[0], arange), False
        if labels.op == "transpose":
            return lead + "%s, %s" % (arange, self.operand(labels.args[0])[0]), True
        return lead + "%s[:, None], %s" % (arange, self.operand(labels)[0]), False

    def _product_term(self, node, expr, args):
        """i if expr is operand i plus other terms and operand i is an unnamed matrix
        product of node's full shape (an array this function owns), else None."""
        if self.math or not isinstance(expr, sp.Add):
            return None
        for i, a in enumerate(args):
            if placeholder(i) in expr.args and a.op == "matmul" and a.id not in self.named \
                    and a.shape == node.shape and self._is_batched(a) == self._is_batched(node) \
                    and not (expr - placeholder(i)).has(placeholder(i)):
                return i
        return None

    def _broadcast(self, node, text):
        """np.broadcast_to when a materialised map is wider than the operands its expression
        uses (after fusion and simplification: X + b - X is b, broadcast)."""
        expr, args = self.plan.exprs.get(node.id, (node.expr, node.args))
        used = [a.shape for i, a in enumerate(args) if placeholder(i) in expr.free_symbols]
        if node.shape == () or broadcast_shape(used) == node.shape:
            return text
        if self._is_batched(node):
            return "np.broadcast_to(%s, (%s, %s, %s))" % (text, self.batch, *node.shape)
        return "np.broadcast_to(%s, (%s, %s))" % (text, *node.shape)

    def _is_batched(self, node):
        return node.id in self.batched and not self.math

    def _matmul_function(self, node):
        """The function a matrix product is printed with, or None for a @ b (the math, and
        stacks of matrices).

        A vector result is np.dot(a, b): the same BLAS call as @ with a third less overhead
        (no generalized-ufunc dispatch); np.dot zeroes its result first, which costs more
        than that on a matrix. A matrix result is _matmul(a, b), which picks the faster of
        the two ways to store it."""
        if self.math or self._is_batched(node):
            return None
        if sp.S.One in node.shape:
            return "np.dot"
        self.helpers.add("_matmul")
        return "_matmul"

    def _t(self, node):
        return ".mT" if self._is_batched(node) else ".T"

    def rhs(self, node):
        """The right-hand side computing node (no common-subexpression temporaries)."""
        if node.op == "map":
            expr, args = self.plan.exprs.get(node.id, (node.expr, node.args))
            text = self._scalar(expr, args)
            return text if self.math else self._broadcast(node, text)
        args = [self.operand(a) for a in node.args]
        wrap = ["(%s)" % t if c else t for t, c in args]
        if node.op == "matmul":
            function = self._matmul_function(node)
            if function is None:
                return "%s @ %s" % (wrap[0], wrap[1])
            return "%s(%s, %s)" % (function, args[0][0], args[1][0])
        if node.op == "transpose":
            return wrap[0] + self._t(node)
        if node.op in ("sum", "trace") and self._is_batched(node):
            if node.op == "trace":
                return "np.trace(%s, axis1=-2, axis2=-1)[:, None, None]" % args[0][0]
            axis = "(-2, -1)" if node.axis is None else node.axis - 2
            return "%s.sum(axis=%s, keepdims=True)" % (wrap[0], axis)
        if node.op == "sum":
            square = node.args[0]
            if node.shape == () and not self.math and square.id in self.plan.inline \
                    and not self._is_batched(node) \
                    and is_square(square):        # one dot product, no temporary
                x = self.operand(square.args[0])[0]
                return "np.vdot(%s, %s)" % (x, x)
            if node.shape == ():
                return "sum(%s)" % args[0][0] if self.math else "%s.sum()" % wrap[0]
            axis = "" if node.axis is None else "axis=%d, " % node.axis
            if self.math:
                return "sum(%s%s)" % (args[0][0], ", axis=%d" % node.axis if axis else "")
            return "%s.sum(%skeepdims=True)" % (wrap[0], axis)
        if node.op == "pick":
            index, flipped = self._at_labels(node, node.args[1])
            return "%s[%s]%s" % (wrap[0], index, self._t(node) if flipped else "")
        if node.op == "scatter":           # the math (the code is two statements: _scatter)
            return self._scatter_math(node, *self.plan.exprs[node.id], "onehot(%s)")
        if node.op == "logsumexp":
            if self.math:
                return "logsumexp(%s, axis=%d)" % (args[0][0], node.axis)
            self.helpers.add("_logsumexp")
            return "_logsumexp(%s, %d)" % (args[0][0], node.axis - 2)
        if node.op == "trace":
            return "%s(%s)" % ("tr" if self.math else "np.trace", args[0][0])
        if node.op in LINALG:
            return LINALG[node.op][self.math] % args[0][0]
        if node.op == "eye":
            n = node.shape[0]
            return "I(%s)" % n if self.math else "np.eye(%s, dtype=%s)" % (n, self.dtype)
        if node.op in OPS_RHS:
            return OPS_RHS[node.op](self, node, args, wrap)
        raise NotImplementedError(node.op)

    # -- reductions, slices and concatenation (symgrad/ops.py) ------------------------------
    def _pad_lines(self, node, name):
        """zeros (or the dense term, as an array of its own) and each part added into its
        region in place: one array for the adjoint of every slice of a matrix."""
        parts = list(zip(node.args, node.expr))
        batched = self._is_batched(node)
        shape = ((self.batch,) if batched else ()) + tuple(node.shape)
        first, region = parts[0]
        lines = []
        if region == full_region(node.shape) and self._is_batched(first) == batched \
                and not first.is_constant:
            text = self.operand(first)[0]
            lines.append("%s = %s" % (name, text if _allocates(text) else "np.array(%s)" % text))
            parts = parts[1:]
        else:
            lines.append("%s = np.zeros((%s), dtype=%s)" % (name, ", ".join(map(str, shape)),
                                                           self.dtype))
        for part, region in parts:
            if part.op == "map" and part.id not in self.named:   # += broadcasts it
                text = self._scalar(*self.plan.exprs.get(part.id, (part.expr, part.args)))
            else:
                text = self.operand(part)[0]
            lines.append("%s[%s] += %s" % (name, region_index(region, node.shape, batched),
                                           text))
        return lines

    def _extremum(self, node, args, wrap):
        kind, batched = node.op, self._is_batched(node.args[0])
        if self.math:
            axis = "" if node.axis is None else ", axis=%d" % node.axis
            return "%s(%s%s)" % (kind, args[0][0], axis)
        if node.axis is None and not batched:
            return "%s.%s()" % (wrap[0], kind)
        axis = "(-2, -1)" if node.axis is None else node.axis - 2 if batched else node.axis
        return "%s.%s(axis=%s, keepdims=True)" % (wrap[0], kind, axis)

    def _at_extremum(self, node, args, wrap):
        """The adjoint of a max/min (put) or the tangent (take), by a helper."""
        kind, action = node.op[3:6], node.op[7:]
        if self.math:
            axis = "" if node.axis is None else ", axis=%d" % node.axis
            return ("%s at arg%s(%s%s)" if action == "put" else "%s[arg%s(%s%s)]") % (
                wrap[0], kind, args[1][0], axis)
        helper = "_put_at_arg" if action == "put" else "_take_at_arg"
        self.helpers.add(helper)
        axis = "None" if node.axis is None else node.axis - 2
        return "%s(%s, %s, %s, np.arg%s)" % (helper, args[0][0], args[1][0], axis, kind)

    def _slice(self, node, args, wrap):
        return "%s[%s]" % (wrap[0], region_index(node.expr, node.args[0].shape,
                                               self._is_batched(node)))

    def _diagonal(self, node, args, wrap):
        """diag: a view of the diagonal as a column; undiag: a helper's new array."""
        if self.math:
            return "%s(%s)" % ("diag" if node.op == "diag" else "Diag", args[0][0])
        if node.op == "undiag":
            self.helpers.add("_diagonal_matrix")
            return "_diagonal_matrix(%s)" % args[0][0]
        if self._is_batched(node):
            return "np.diagonal(%s, axis1=-2, axis2=-1)[..., None]" % args[0][0]
        return "np.diagonal(%s)[:, None]" % args[0][0]

    def _concat(self, node, args, wrap):
        if self.math:
            return "concat(%s, axis=%d)" % (", ".join(a for a, _ in args), node.axis)
        texts = []
        for part, (text, _) in zip(node.args, args):
            if part.is_constant:       # np.concatenate takes arrays, not numbers
                shape = ((self.batch,) if self._is_batched(node) else ()) + tuple(part.shape)
                text = "np.full((%s), %s, dtype=%s)" % (", ".join(map(str, shape)), text,
                                                        self.dtype)
            texts.append(text)
        axis = node.axis - 2 if self._is_batched(node) else node.axis
        return "np.concatenate((%s), axis=%d)" % (", ".join(texts), axis)


def region_index(region, shape, batched=False):
    """The subscript of a region: [:, :k], [..., i:i + 1, :] for a stack of matrices."""
    axes = []
    for (start, stop, step), n in zip(region, shape):
        text = "%s:%s" % ("" if start == 0 else start, "" if same_dim(stop, n) else stop)
        axes.append(text + ("" if step == 1 else ":%s" % step))
    return ", ".join(["..."] * batched + axes)


def _pad_math(printer, node, args, wrap):
    """The docstring's view of a pad: zeros with each part added into its region."""
    full = full_region(node.shape)
    return " + ".join(text if region == full else "pad(%s at [%s])" % (
        text, region_index(region, node.shape)) for (text, _), region in zip(args, node.expr))


OPS_RHS = {"max": NodePrinter._extremum, "min": NodePrinter._extremum,
           "argmax_put": NodePrinter._at_extremum, "argmin_put": NodePrinter._at_extremum,
           "argmax_take": NodePrinter._at_extremum, "argmin_take": NodePrinter._at_extremum,
           "slice": NodePrinter._slice, "concat": NodePrinter._concat, "pad": _pad_math,
           "diag": NodePrinter._diagonal, "undiag": NodePrinter._diagonal}


def _allocates(text):
    """Whether code text makes a new array (not a name, a view or a read-only broadcast)."""
    value = ast.parse(text, mode="eval").body
    if isinstance(value, (ast.Name, ast.Attribute, ast.Subscript, ast.Constant)):
        return False
    return not (isinstance(value, ast.Call) and ast.unparse(value.func) == "np.broadcast_to")


class _AsMap:
    """A scatter node seen as the map computing its base (the plan's expression for it)."""
    op = "map"

    def __init__(self, node):
        self.id, self.shape, self.args, self.expr = node.id, node.shape, node.args[:1], None


class _Named:
    """A temporary introduced by common-subexpression elimination, used as an operand."""
    op, args, id = "temp", (), None

    def __init__(self, name):
        self.name = name


def _placeholders_upto(n):
    return [placeholder(k) for k in range(n)]


def _placeholders_from(start):
    k = start
    while True:
        yield placeholder(k)
        k += 1
