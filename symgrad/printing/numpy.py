"""Printing scheduled nodes as NumPy source, and as plain math for docstrings.

Scalar expressions print through SymPy printers that dispatch on the class
(`_print_sigmoid`, ...); array operations (products, sums) print through a method per op
(`_print_matmul`, ...) of the node printers, siblings on printing.nodes.NodePrinter.
"""
import ast
import inspect

import sympy as sp
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from ..functions import step_at_zero, step_comparison
from ..graph import broadcast_shape, full_region, placeholder
from ..schedule import is_square
from . import runtime, runtime_plain
from .nodes import NodePrinter, _Named, region_index

# helper functions a generated module may need: name -> source (emitted only when used)
HELPERS = {f.__name__: inspect.getsource(f).rstrip() for f in (
    runtime._arrays, runtime._labels, runtime._check_labels, runtime._shape_error,
    runtime._sigmoid, runtime._matmul, runtime._logsumexp, runtime._minus_logsumexp,
    runtime._logsumexp_parts, runtime._erf, runtime._logcosh,
    runtime._xlogx, runtime._put_at_arg, runtime._take_at_arg, runtime._diagonal_matrix,
    runtime._init_params, runtime._Workspace, runtime._in_workspace,
    runtime._Layout)}
# the plain style's: the same, with the in-place ones written as their formulas
PLAIN_HELPERS = {**HELPERS, "_sigmoid": inspect.getsource(runtime_plain._sigmoid).rstrip()}


class _Operands:
    """Mixin: placeholders print as operand strings; compound ones get parentheses."""

    settings = {"fully_qualified_modules": True, "strict": True}   # the SymPy printer's

    def __init__(self, operands, shapes=None):
        super().__init__(self.settings)
        self.operands = operands          # placeholder -> (text, is_compound)
        self.shapes = shapes or {}        # placeholder -> shape of its operand, where known

    def _scalar(self, expr):
        """Whether expr reads no array: a number, a dimension (1/m), a scalar operand (as far
        as shapes knows)."""
        return all(self.shapes.get(s, ()) == () for s in expr.free_symbols & set(self.operands))

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
        return "_erf(%s)" % self._print(expr.args[0])

    def _print_erfc(self, expr):
        return "_erf(%s, complement=True)" % self._print(expr.args[0])

    def _print_sigmoid(self, expr):
        return "_sigmoid(%s)" % self._print(expr.args[0])

    def _print_logcosh(self, expr):
        return "_logcosh(%s)" % self._print(expr.args[0])

    def _print_xlogx(self, expr):
        return "_xlogx(%s)" % self._print(expr.args[0])

    def _print_softplus(self, expr):
        return "np.logaddexp(0, %s)" % self._print(expr.args[0])

    def _print_Heaviside(self, expr):          # H(0) = 0: ReLU'(0) = 0, as PyTorch
        return "np.heaviside(%s, %d)" % (self._print(expr.args[0]), step_at_zero(expr))

    def _print_Mul(self, expr):
        """g * H(x) as g*(x > 0): a boolean mask, many times cheaper than np.heaviside (and
        H(0) = 0 too; x >= 0 for an explicit Heaviside(x, 1)). Only when g holds an operand,
        so the product stays in its dtype.
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
            self.operands = {**self.operands, outer: self._outer_product(column, row)}
            return self._print(expr / (column * row) * outer)
        steps = [f for f in expr.args if isinstance(f, sp.Heaviside)]
        rest = sp.Mul(*[f for f in expr.args if not isinstance(f, sp.Heaviside)])
        if not steps or not rest.free_symbols:
            return super()._print_Mul(expr)
        if all(self.shapes.get(s, 0) == () for s in rest.free_symbols & set(self.operands)):
            # (Z > 0)/m, a bool mask times a float scalar, is float64: np.where(...) cast
            return self._print(sp.piecewise_fold(expr.replace(
                lambda e: isinstance(e, sp.Heaviside),
                lambda e: sp.Piecewise((1, sp.Rel(e.args[0], 0, step_comparison(e))),
                                       (0, True)))))
        masks = ["(%s %s 0)" % (self._print(h.args[0]), step_comparison(h)) for h in steps]
        return "*".join([self.parenthesize(rest, PRECEDENCE["Mul"], strict=True)] + masks)

    def _outer_product(self, column, row):
        """(text, is_compound) of a column times a row: c @ r (products.call_forms makes it
        _matmul(c, r) in the fast style)."""
        return "%s @ %s" % (self.parenthesize(column, PRECEDENCE["Mul"]),
                            self.parenthesize(row, PRECEDENCE["Mul"])), True

    def _print_Abs(self, expr):
        return "np.abs(%s)" % self._print(expr.args[0])

    def _print_Piecewise(self, expr):
        """np.maximum/np.minimum for sg.maximum/sg.minimum, else nested np.where; branches
        that are all scalars (a derivative's 1/m and 0) are cast to the arrays' dtype."""
        if expr.args[-1].cond != sp.true:
            return super()._print_Piecewise(expr)
        pair = extremum_pair(expr)
        if pair:
            return "np.%s(%s, %s)" % (pair[0], self._print(pair[1]), self._print(pair[2]))
        text = self._print(expr.args[-1].expr)
        for value, cond in reversed(expr.args[:-1]):
            text = "np.where(%s, %s, %s)" % (self._print(cond), self._print(value), text)
        if all(self._scalar(p.expr) for p in expr.args) and getattr(self, "dtype", None) \
                and not self._scalar(expr):                     # a condition reads an array
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


class ScalarPlainPrinter(ScalarNumPyPrinter):
    """The same, as a course writes it: x**3 is x**3 (where the fast style multiplies powers
    out)."""

    def _print_Pow(self, expr, rational=False):
        base, e = expr.args
        if e.is_Integer and abs(e) > 2:
            if e < 0:
                return "1 / %s**%s" % (self.parenthesize(base, PRECEDENCE["Pow"]), -e)
            return NumPyPrinter._print_Pow(self, expr, rational)
        return super()._print_Pow(expr, rational)


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
        return "(%s %s 0)" % (self._print(expr.args[0]), step_comparison(expr))

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


class NumPyNodePrinter(NodePrinter):
    """Graph nodes as NumPy code: statements (`lines`, `_lines_<op>` where an op takes more
    than `name = rhs`) and expressions. Its two styles are its subclasses,
    FastNumPyNodePrinter (the default) and PlainNumPyNodePrinter (a course's code).

    Nodes in `batched` carry a leading batch axis of size `batch` (one Jacobian seed per
    entry): they transpose the last two axes and sum over negative axes.
    """

    scalar_printer = ScalarNumPyPrinter
    arange = "np.arange(%s)"
    runtime = HELPERS          # the source of each helper the code may call
    modules: frozenset = frozenset()    # modules the code may call besides np
    # codegen's own calls (copies, constant gradients, scalar results), in this notation
    calls = {"copy": "np.array({value})", "copy_name": "{value}.copy()",
             "full_like": "np.full_like({like}, {value})", "scalar": "{array}.dtype.type({value})",
             "zeros_like": "np.zeros_like({like})",
             "zeros": "np.zeros({shape}, dtype={array}.dtype)",
             "reshape": "{value}.reshape{shape}", "concat": "np.concatenate({parts}, axis=1)",
             "result_type": "np.result_type({arrays})", "diagonal": ", {k}",
             "eye": "np.eye({rows}, {cols}{diagonal}, dtype={dtype})",
             "number": "type({first})({value})"}

    def __init__(self, plan, names, batched=frozenset(), batch=None, dtype="np.float64"):
        super().__init__(names, plan.exprs)
        self.plan, self.dtype = plan, dtype
        self.batched, self.batch = batched, batch

    def _is_batched(self, node):
        return node.id in self.batched

    def _t(self, node):
        return ".mT" if self._is_batched(node) else ".T"

    # -- statements -----------------------------------------------------------------------
    def lines(self, node, name, fresh):
        """The statements computing node into name (`_lines_<op>`, else name = rhs);
        fresh() gives unused temporary names."""
        method = getattr(self, "_lines_" + node.op, None)
        if method is None:
            return ["%s = %s" % (name, self.rhs(node))]
        return method(node, name, fresh)

    def _lines_map(self, node, name, fresh):
        """Repeated subexpressions of an elementwise expression are computed once."""
        expr, args = self._expr(node)
        # sqrt(2/pi) once, as a float literal
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

    def _lines_scatter(self, node, name, fresh):
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

    def _lines_pad(self, node, name, fresh):
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
            if part.op == "map" and part.id not in self.names:   # += broadcasts it
                text = self._scalar(*self._expr(part))
            else:
                text = self.operand(part)[0]
            lines.append("%s[%s] += %s" % (name, region_index(region, node.shape, batched),
                                           text))
        return lines

    def _broadcast(self, node, text):
        """np.broadcast_to when a materialised map is wider than the operands its expression
        uses (after fusion and simplification: X + b - X is b, broadcast)."""
        expr, args = self._expr(node)
        used = [a.shape for i, a in enumerate(args) if placeholder(i) in expr.free_symbols]
        if node.shape == () or broadcast_shape(used) == node.shape:
            return text
        if self._is_batched(node):
            return "np.broadcast_to(%s, (%s, %s, %s))" % (text, self.batch, *node.shape)
        return "np.broadcast_to(%s, (%s, %s))" % (text, *node.shape)

    # -- expressions, one method per op ---------------------------------------------------
    def _reduced_axis(self, node, batched):
        """The axis of a reduction: node.axis, or counted from the end for a stack."""
        if not batched:
            return node.axis
        return "(-2, -1)" if node.axis is None else node.axis - 2

    def _print_map(self, node):
        return self._broadcast(node, super()._print_map(node))

    def _print_trace(self, node):
        args, _ = self.operands(node)
        if self._is_batched(node):
            return "np.trace(%s, axis1=-2, axis2=-1)[:, None, None]" % args[0][0]
        return "np.trace(%s)" % args[0][0]

    def _print_logsumexp(self, node):
        args, _ = self.operands(node)
        return "_logsumexp(%s, %s)" % (args[0][0], self._reduced_axis(node, True))  # from the end

    def _print_inverse(self, node):
        return "np.linalg.inv(%s)" % self.operands(node)[0][0][0]

    def _print_det(self, node):
        return "np.linalg.det(%s)" % self.operands(node)[0][0][0]

    def _print_logdet(self, node):      # stable where det under- or overflows
        return "np.linalg.slogdet(%s).logabsdet" % self.operands(node)[0][0][0]

    def _print_eye(self, node):
        return "np.eye(%s, dtype=%s)" % (node.shape[0], self.dtype)

    def _print_argmax_put(self, node):
        """The adjoint of a max/min (put) or the tangent (take), by a helper."""
        args, _ = self.operands(node)
        kind, action = node.op[3:6], node.op[7:]
        helper = "_put_at_arg" if action == "put" else "_take_at_arg"
        axis = "None" if node.axis is None else node.axis - 2
        return "%s(%s, %s, %s, np.arg%s)" % (helper, args[0][0], args[1][0], axis, kind)

    _print_argmin_put = _print_argmax_take = _print_argmin_take = _print_argmax_put

    def _print_diag(self, node):
        """A view of the diagonal as a column."""
        args, _ = self.operands(node)
        if self._is_batched(node):
            return "np.diagonal(%s, axis1=-2, axis2=-1)[..., None]" % args[0][0]
        return "np.diagonal(%s)[:, None]" % args[0][0]

    def _print_undiag(self, node):
        return "_diagonal_matrix(%s)" % self.operands(node)[0][0][0]

    def _print_concat(self, node):
        args, _ = self.operands(node)
        texts = []
        for part, (text, _) in zip(node.args, args):
            if part.is_constant:       # np.concatenate takes arrays, not numbers
                shape = ((self.batch,) if self._is_batched(node) else ()) + tuple(part.shape)
                text = "np.full((%s), %s, dtype=%s)" % (", ".join(map(str, shape)), text,
                                                        self.dtype)
            texts.append(text)
        axis = node.axis - 2 if self._is_batched(node) else node.axis
        return "np.concatenate((%s), axis=%d)" % (", ".join(texts), axis)


class FastNumPyNodePrinter(NumPyNodePrinter):
    """NumPy code in the fast style, the default: x.sum(axis=1, keepdims=True), sum(x**2) as
    np.vdot(x, x). codegen then chooses the products' forms (products.forms: _matmul,
    np.dot, Z = W @ A then Z += b) and reuses and frees arrays (liveness.passes)."""

    def _print_sum(self, node):
        args, wrap = self.operands(node)
        if self._is_batched(node):
            return "%s.sum(axis=%s, keepdims=True)" % (wrap[0], self._reduced_axis(node, True))
        square = node.args[0]
        if node.shape == () and square.id in self.plan.inline \
                and is_square(square):        # one dot product, no temporary
            x = self.operand(square.args[0])[0]
            return "np.vdot(%s, %s)" % (x, x)
        if node.shape == ():
            return "%s.sum()" % wrap[0]
        axis = "" if node.axis is None else "axis=%d, " % node.axis
        return "%s.sum(%skeepdims=True)" % (wrap[0], axis)

    def _print_max(self, node):
        args, wrap = self.operands(node)
        kind, batched = node.op, self._is_batched(node.args[0])
        if node.axis is None and not batched:
            return "%s.%s()" % (wrap[0], kind)
        return "%s.%s(axis=%s, keepdims=True)" % (wrap[0], kind,
                                                   self._reduced_axis(node, batched))

    _print_min = _print_max


class PlainNumPyNodePrinter(NumPyNodePrinter):
    """NumPy code in the plain style, the code of a course's solution: a @ b for every
    product, np.sum(x, axis=1, keepdims=True), one statement per equation (Z1 = W1 @ X + b1);
    codegen does no buffer reuse for it (no out=, no del)."""

    scalar_printer = ScalarPlainPrinter
    runtime = PLAIN_HELPERS

    def _print_sum(self, node):
        x = self.operands(node)[0][0][0]
        if self._is_batched(node):
            return "np.sum(%s, axis=%s, keepdims=True)" % (x, self._reduced_axis(node, True))
        if node.shape == ():
            return "np.sum(%s)" % x
        axis = "" if node.axis is None else "axis=%d, " % node.axis
        return "np.sum(%s, %skeepdims=True)" % (x, axis)

    def _print_max(self, node):
        x, batched = self.operands(node)[0][0][0], self._is_batched(node.args[0])
        if node.axis is None and not batched:
            return "np.%s(%s)" % (node.op, x)
        return "np.%s(%s, axis=%s, keepdims=True)" % (node.op, x,
                                                       self._reduced_axis(node, batched))

    _print_min = _print_max


class MathNodePrinter(NodePrinter):
    """Graph nodes as the docstrings' equations, in the README's notation: W2.T @ dZ2,
    sum(dZ1, axis=1), (Z1 > 0) for a ReLU mask, onehot(y)."""

    scalar_printer = ScalarMathPrinter

    def _print_sum(self, node):
        args, _ = self.operands(node)
        if node.shape == () or node.axis is None:
            return "sum(%s)" % args[0][0]
        return "sum(%s, axis=%d)" % (args[0][0], node.axis)

    def _print_trace(self, node):
        return "tr(%s)" % self.operands(node)[0][0][0]

    def _print_logsumexp(self, node):
        text = self.operands(node)[0][0][0]
        return "logsumexp(%s)" % text if node.axis is None \
            else "logsumexp(%s, axis=%d)" % (text, node.axis)

    def _print_inverse(self, node):
        return "inv(%s)" % self.operands(node)[0][0][0]

    def _print_det(self, node):
        return "det(%s)" % self.operands(node)[0][0][0]

    def _print_logdet(self, node):
        return "log|det(%s)|" % self.operands(node)[0][0][0]

    def _print_eye(self, node):
        return "I(%s)" % node.shape[0]

    def _print_scatter(self, node):
        return self._scatter_math(node, *self.exprs[node.id], "onehot(%s)")

    def _print_max(self, node):
        axis = "" if node.axis is None else ", axis=%d" % node.axis
        return "%s(%s%s)" % (node.op, self.operands(node)[0][0][0], axis)

    _print_min = _print_max

    def _print_argmax_put(self, node):
        args, wrap = self.operands(node)
        kind, action = node.op[3:6], node.op[7:]
        axis = "" if node.axis is None else ", axis=%d" % node.axis
        return ("%s at arg%s(%s%s)" if action == "put" else "%s[arg%s(%s%s)]") % (
            wrap[0], kind, args[1][0], axis)

    _print_argmin_put = _print_argmax_take = _print_argmin_take = _print_argmax_put

    def _print_pad(self, node):
        """Zeros with each part added into its region."""
        args, _ = self.operands(node)
        full = full_region(node.shape)
        return " + ".join(text if region == full else "pad(%s at [%s])" % (
            text, region_index(region, node.shape)) for (text, _), region in zip(args, node.expr))

    def _print_diag(self, node):
        return "diag(%s)" % self.operands(node)[0][0][0]

    def _print_undiag(self, node):
        return "Diag(%s)" % self.operands(node)[0][0][0]

    def _print_concat(self, node):
        args, _ = self.operands(node)
        return "concat(%s, axis=%d)" % (", ".join(a for a, _ in args), node.axis)


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


def _placeholders_upto(n):
    return [placeholder(k) for k in range(n)]


def _placeholders_from(start):
    k = start
    while True:
        yield placeholder(k)
        k += 1
