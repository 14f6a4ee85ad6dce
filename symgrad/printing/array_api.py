"""Printing scheduled nodes as code of the Python array API standard (2024.12), for
`symgrad derive --target array-api`: the plain style's statements (one per equation, no
out=, no in-place update: pure, so jax.jit and torch.compile trace them) with every call
`xp.<function>` of the namespace the arrays come from, never a NumPy-only one."""
import ast
import inspect
import re

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

from ..errors import SymgradError
from ..functions import step_comparison
from ..graph import placeholder
from . import runtime, runtime_array_api
from .nodes import _Named
from .numpy import PlainNumPyNodePrinter, ScalarPlainPrinter, extremum_pair

# the helpers a module may call: name -> source (emitted only when used); the shape error is
# pure Python, the NumPy target's own
HELPERS = {f.__name__: inspect.getsource(f).rstrip() for f in (
    runtime_array_api._namespace, runtime_array_api._own_namespace, runtime_array_api._device,
    runtime_array_api._library, runtime_array_api._one_library, runtime_array_api._not_an_array,
    runtime_array_api._arrays, runtime_array_api._labels, runtime_array_api._check_labels,
    runtime._shape_error, runtime_array_api._sigmoid, runtime_array_api._softplus,
    runtime_array_api._number, runtime_array_api._inv,
    runtime._logsumexp, runtime._minus_logsumexp, runtime_array_api._logsumexp_parts,
    runtime_array_api._logcosh, runtime_array_api._xlogx)}
# the module's import of array-api-compat, optional: the runtime module's own lines
_SOURCE = inspect.getsource(runtime_array_api)
PRELUDE = _SOURCE[_SOURCE.index("\ntry:") + 1:_SOURCE.index("\n\n\ndef ")]

# the functions of the standard (2024.12) a module may call, xp.<name> or xp.linalg.<name>
STANDARD = frozenset("""
    abs acos acosh asin asinh atan atan2 atanh ceil cos cosh exp expm1 floor log log1p log2
    log10 logaddexp sign sin sinh sqrt square tan tanh trunc maximum minimum copysign where
    sum max min prod mean matmul vecdot tensordot matrix_transpose astype asarray zeros
    zeros_like full full_like ones ones_like eye arange reshape broadcast_to concat
    expand_dims isdtype result_type any all pi e inf nan float32 float64 int64
    linalg.inv linalg.det linalg.slogdet linalg.trace linalg.diagonal
""".split())


def unsupported(what, fix="derive it with --target numpy"):
    """The error for a part of a model the array-API target does not emit."""
    return SymgradError(f"--target array-api cannot emit {what}: {fix}")


def prelude(helpers, lines):
    """The module's imports: math where a line calls it, sys for _check_labels (which asks
    torch, if the caller imported it, whether torch.compile is tracing), array-api-compat's
    (optional) where a helper takes the namespace."""
    uses_math = any(re.search(r"\bmath\.", x) for x in lines if not x.lstrip().startswith("#"))
    standard = ["import math"] * uses_math + ["import sys"] * ("_check_labels" in helpers)
    return "\n\n".join(["\n".join(standard)] * bool(standard)
                       + [PRELUDE] * ("_namespace" in helpers))


def namespace_line(args, bound=True):
    """The statement binding xp, the namespace of a function's arguments (the text of its
    signature: keywords' defaults and a Jacobian's mode dropped); bound=False: the call
    alone, which refuses arguments of several libraries where the code needs no xp."""
    names = [a.split("=")[0] for a in args.split(", ") if a and not a.startswith("mode=")]
    return "xp = " * bound + "_namespace(%s)" % ", ".join(names)


class ScalarArrayAPIPrinter(ScalarPlainPrinter):
    """Scalar SymPy expressions as array-API code that broadcasts over arrays: xp.exp(x),
    a ReLU mask as xp.where(Z > 0, g, 0.0), or xp.astype(Z > 0, dtype) times a number (the
    standard has no bool * float)."""

    device: str | None = None           # the arrays' device, as code

    def _module_format(self, fqn, register=True):
        """numpy.f as xp.f; SymPy's fallback to Python's math (math.gamma) is a refusal."""
        if fqn.startswith("math."):
            raise unsupported(f"{fqn[len('math.'):]}, which the array API standard lacks")
        return "xp." + fqn[len("numpy."):] if fqn.startswith("numpy.") else fqn

    def _print(self, expr, **kwargs):
        """A function of the dimensions alone (log(n), sqrt(m)), Python ints, as a Python float
        by the math module (which keeps a float32 array float32)."""
        if isinstance(expr, (sp.Function, sp.Pow)) and not expr.is_Rational \
                and expr.free_symbols and not expr.free_symbols & set(self.operands) \
                and not (expr.is_Pow and expr.exp.is_Integer):
            return PythonCodePrinter(self.settings).doprint(expr)
        return super()._print(expr, **kwargs)

    def _print_erf(self, expr):
        raise unsupported("erf (the exact GELU)", "use the tanh GELU, or --target numpy")

    _print_erfc = _print_erf

    def _print_Heaviside(self, expr):          # H(0) = 0: ReLU'(0) = 0, as PyTorch
        return "xp.astype(%s %s 0, %s)" % (self._print(expr.args[0]), step_comparison(expr),
                                           self.dtype)

    def _print_Mul(self, expr):
        """g * H(x) as xp.where(x > 0, g, 0.0): g's dtype, and H(0) = 0 (x >= 0 for an
        explicit Heaviside(x, 1))."""
        steps = [f for f in expr.args if isinstance(f, sp.Heaviside)]
        rest = sp.Mul(*[f for f in expr.args if not isinstance(f, sp.Heaviside)])
        if not steps:
            return super()._print_Mul(expr)
        masks = ["%s %s 0" % (self._print(h.args[0]), step_comparison(h)) for h in steps]
        masks = masks[0] if len(masks) == 1 else " & ".join("(%s)" % m for m in masks)
        if rest.free_symbols & set(self.operands):
            return "xp.where(%s, %s, %s)" % (masks, self._print(rest), self._array(0.0))
        mask = "xp.astype(%s, %s)" % (masks, self.dtype)      # a number times the mask
        return mask if rest == 1 else "%s*%s" % (self.parenthesize(rest, PRECEDENCE["Mul"]), mask)

    def _print_Abs(self, expr):
        return "xp.abs(%s)" % self._print(expr.args[0])

    def _array(self, number):
        """A number beside arrays, as a 0-d array of theirs (_number): torch.compile traces
        array-api-compat's PyTorch functions then; a Python number where no argument is an
        array."""
        like = self.dtype[:-len(".dtype")] if self.dtype.endswith(".dtype") else None
        return "_number(%s, %s)" % (self._print(number), like) if like else self._print(number)

    def _fold(self, func, args):
        texts = [self._array(a) if self._scalar(a) else self._print(a) for a in args]
        text = texts[0]
        for other in texts[1:]:
            text = "%s(%s, %s)" % (func, text, other)
        return text

    def _print_Max(self, expr):
        return self._fold("xp.maximum", expr.args)

    def _print_Min(self, expr):
        return self._fold("xp.minimum", expr.args)

    def _print_Piecewise(self, expr):
        """xp.maximum/xp.minimum for sg.maximum/sg.minimum, else nested xp.where; branches
        that are scalars (a derivative's 1/m and 0) are 0-d arrays of the arguments' (_array):
        two Python numbers have no dtype to take."""
        if expr.args[-1].cond != sp.true:
            raise unsupported("a piecewise expression without an otherwise branch")
        pair = extremum_pair(expr)
        if pair:
            return self._fold("xp." + pair[0], pair[1:])
        branch = [self._array(p.expr) if self._scalar(p.expr) else self._print(p.expr)
                  for p in expr.args]
        text = branch[-1]
        for value, (_, cond) in reversed(list(zip(branch, expr.args))[:-1]):
            text = "xp.where(%s, %s, %s)" % (self._print(cond), value, text)
        return text

    def _print_Pow(self, expr, rational=False):
        if expr.exp == sp.S.Half:
            return "xp.sqrt(%s)" % self._print(expr.base)
        return super()._print_Pow(expr, rational)

    def _print_softplus(self, expr):
        return "_softplus(%s)" % self._print(expr.args[0])


class ArrayAPINodePrinter(PlainNumPyNodePrinter):
    """Graph nodes as array-API code: the plain style's statements, each call xp.<name> (a
    name of STANDARD, checked on every statement), integer labels as comparisons with
    xp.arange (the standard's indexing takes no integer arrays), created arrays with an
    argument's dtype and device."""

    scalar_printer = ScalarArrayAPIPrinter
    arange = "xp.arange(%s)"
    runtime = HELPERS
    modules = frozenset({"math"})       # for functions of the dimensions alone
    # codegen's own calls (copies, constant gradients, scalar results)
    calls = {"copy": "xp.asarray({value}, copy=True)",
             "copy_name": "xp.asarray({value}, copy=True)",
             "full_like": "xp.zeros_like({like}) + {value}",     # a number, or an array
             "scalar": "xp.asarray({value}, dtype={array}.dtype, device=_device({array}))",
             "zeros_like": "xp.zeros_like({like})",
             "zeros": "xp.zeros({shape}, dtype={array}.dtype, device=_device({array}))",
             "reshape": "xp.reshape({value}, {shape})", "concat": "xp.concat({parts}, axis=1)",
             "result_type": "xp.result_type({arrays})", "diagonal": ", k={k}",
             "eye": "xp.eye({rows}, {cols}{diagonal}, dtype={dtype}, device=_device({array}))",
             "number": "_number({value}, {first})"}

    def __init__(self, plan, names, batched=frozenset(), batch=None, dtype="np.float64"):
        super().__init__(plan, names, batched, batch, dtype)
        self.device = "_device(%s)" % dtype[:-len(".dtype")] if dtype.endswith(".dtype") \
            else None

    def _printer(self, operands, stand_ins):
        printer = super()._printer(operands, stand_ins)
        printer.device = self.device
        return printer

    def lines(self, node, name, fresh):
        """The statements; a call outside the standard is a refusal naming it."""
        out = super().lines(node, name, fresh)
        for line in out:
            for sub in ast.walk(ast.parse(line)):
                if isinstance(sub, ast.Name) and sub.id == "np":
                    raise unsupported(f"{line!r}, which calls NumPy")
                if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) \
                        and sub.value.id == "xp" and sub.attr != "linalg" \
                        and sub.attr not in STANDARD or isinstance(sub, ast.Attribute) \
                        and ast.unparse(sub.value) == "xp.linalg" \
                        and "linalg." + sub.attr not in STANDARD:
                    raise unsupported(f"{ast.unparse(sub)}, not a function of the array API "
                                      "standard")
        return out

    def _created(self):
        """dtype= and device= of a new array: an argument's."""
        if self.device is None:
            raise unsupported("a new array in a model without array arguments")
        return "dtype=%s, device=%s" % (self.dtype, self.device)

    def _print_sum(self, node):
        return super()._print_sum(node).replace("np.sum(", "xp.sum(", 1)

    def _print_max(self, node):
        return super()._print_max(node).replace("np.", "xp.", 1)

    _print_min = _print_max

    def _broadcast(self, node, text):
        """xp.broadcast_to where a map is wider than the operands it reads; xp.full where
        it reads none (a number: broadcast_to takes arrays only)."""
        wide = super()._broadcast(node, text)
        if wide == text:
            return text
        expr, args = self._expr(node)
        if not expr.free_symbols & {placeholder(i) for i in range(len(args))}:
            shape = ((self.batch,) if self._is_batched(node) else ()) + tuple(node.shape)
            return "xp.full((%s), %s, %s)" % (", ".join(map(str, shape)), text,
                                               self._created())
        return wide.replace("np.broadcast_to(", "xp.broadcast_to(", 1)

    def _print_trace(self, node):
        x = self.operands(node)[0][0][0]
        if self._is_batched(node):
            return "xp.linalg.trace(%s)[:, None, None]" % x
        return "xp.linalg.trace(%s)" % x

    def _print_inverse(self, node):
        return "_inv(%s)" % self.operands(node)[0][0][0]

    def _print_det(self, node):
        return "xp.linalg.det(%s)" % self.operands(node)[0][0][0]

    def _print_logdet(self, node):
        return "xp.linalg.slogdet(%s).logabsdet" % self.operands(node)[0][0][0]

    def _print_eye(self, node):
        return "xp.eye(%s, %s)" % (node.shape[0], self._created())

    def _print_diag(self, node):
        return "xp.linalg.diagonal(%s)[..., None]" % self.operands(node)[0][0][0]

    def _print_concat(self, node):
        args, _ = self.operands(node)
        texts = []
        for part, (text, _) in zip(node.args, args):
            if part.is_constant:       # xp.concat takes arrays, not numbers
                shape = ((self.batch,) if self._is_batched(node) else ()) + tuple(part.shape)
                text = "xp.full((%s), %s, %s)" % (", ".join(map(str, shape)), text,
                                                   self._created())
            texts.append(text)
        axis = node.axis - 2 if self._is_batched(node) else node.axis
        return "xp.concat((%s), axis=%d)" % (", ".join(texts), axis)

    def _onehot(self, node):
        """The labels of a pick or scatter as a boolean mask of node's shape: the labels
        (a row for axis 0, a column for axis 1) compared with the class indices."""
        labels = node.args[1]
        classes = node.shape[node.axis] if node.op == "scatter" else node.args[0].shape[node.axis]
        text = self.operand(labels)[0]
        arange = "xp.arange(%s, device=_device(%s))" % (classes, self.labels_text(node))
        if labels.shape[node.axis] != 1:
            raise unsupported("labels not along one axis")
        return "(%s == %s)" % (text, arange + "[:, None]" if node.axis == 0 else arange)

    def _print_pick(self, node):
        """Each example's entry at its label: a sum of the entries the mask keeps."""
        x = self.operands(node)[0][0][0]
        return "xp.sum(xp.where(%s, %s, _number(0.0, %s)), axis=%d, keepdims=True)" % (
            self._onehot(node), x, x, node.axis - 2 if self._is_batched(node) else node.axis)

    def _lines_scatter(self, node, name, fresh):
        """name = the base plus the values where the mask holds, in one new array (no
        in-place update: the NumPy target's dZ[y, np.arange(m)] -= 1/m)."""
        expr, args = self.plan.exprs[node.id]
        expr = expr.xreplace({placeholder(i): a.expr for i, a in enumerate(args)
                              if a.is_constant})
        mask, values, k = _Named("xp.astype(%s, %s)" % (self._onehot(node), self.dtype)), \
            node.args[2], len(args)
        if values.is_constant:
            total = self._scalar(expr + placeholder(k) * values.expr, [*args, mask])
        else:
            total = self._scalar(expr + placeholder(k) * placeholder(k + 1),
                                 [*args, mask, values])
        return ["%s = %s" % (name, total)]

    def _lines_pad(self, node, name, fresh):
        raise unsupported("the adjoint of a slice (it writes regions in place)")

    def _print_undiag(self, node):
        raise unsupported("the adjoint of a diagonal")

    def _print_argmax_put(self, node):
        raise unsupported(f"{node.op} (the adjoint or tangent of a max or min)")

    _print_argmin_put = _print_argmax_take = _print_argmin_take = _print_argmax_put
