"""Printing graph nodes as LaTeX, for the derivation view (symgrad/explain.py).

Names read as in the notes: W1 -> W^{[1]}, dZ2 -> dZ^{[2]}. Elementwise products of
matrices print as Hadamard products (\\odot); a bias broadcast is implicit, as on paper.
"""
import re
import unicodedata

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from ..functions import step_at_zero
from ..graph import full_region, placeholder
from ..naming import tex
from ..rules import _region_tex
from .nodes import NodePrinter
from .numpy import _Operands, extremum_pair
from ..schedule import is_square

_LAYER = re.compile(r"(d?)([A-Za-z])(\d+|L)")      # W1 -> W^{[1]}; AL -> A^{[L]}
_TEXT = re.compile(r"[A-Za-z0-9 .,;:!?'()\[\]+\-*/=@\u00a0-\U0010ffff]+")
_SPECIAL = {"\\": r"\backslash ", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
            "^": r"\hat{}", "_": r"\_", "%": r"\%", "~": r"\sim ", "<": "{<}", ">": "{>}",
            "|": "|", '"': "{''}", "`": "{`}"}


def name_tex(name, overrides=None):
    """The LaTeX of a symbol name: a mapping's entry (sg.tex as written, any other text
    escaped), W1 -> W^{[1]}, else SymPy's (n_x, alpha)."""
    if overrides and name in overrides:
        value = overrides[name]
        return value if isinstance(value, tex) else text_tex(value)
    accent = re.fullmatch(r"(\w+)_(dot|bar)", name)
    if accent:                                         # a tangent Z1_dot, a seed A2_bar
        return r"\%s{%s}" % (accent[2], name_tex(accent[1], overrides))
    layer = _LAYER.fullmatch(name)
    if layer:
        return "%s%s^{[%s]}" % layer.groups()
    # alpha, Phi: \alpha, \Phi (Eta: \mathrm{H}); descr: SymPy's \mathscr, which needs a
    # package the preamble does not load: \mathcal, the nearest of amsmath's
    sympys = sp.latex(sp.Symbol(name)).replace(r"\mathscr{", r"\mathcal{")
    if re.fullmatch(r"[A-Z][a-z]{1,2}", name) and sympys == name:    # Wq: W_{q}, not W q
        return "%s_{%s}" % (name[0], name[1:])
    if name.isascii() and name.isalpha() and len(name) > 1 and not name.startswith("d") \
            and not re.fullmatch(r"\\[A-Za-z]+", sympys):
        return (r"\mathit{%s}" if name.islower() else r"\mathrm{%s}") % name
    return sympys


def text_tex(text):
    """text as it reads, in math mode: a single letter as is, else runs of letters, digits and
    punctuation in \\text{...} and every other character as the symbol it shows, so that
    no text can be a LaTeX command (\\input{/etc/passwd} prints as those characters)."""
    if re.fullmatch(r"[A-Za-z]", text):
        return text
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return "".join(r"\text{%s}" % _unligated(run[0]) if _TEXT.fullmatch(run[0])
                   else _SPECIAL[run[0]] for run in re.finditer(_TEXT.pattern + "|.", text))


def _unligated(text):
    """text with -- and '' kept as typed (TeX makes them a dash and a closing quote)."""
    return re.sub(r"(?<=-)(?=-)|(?<=')(?=')", "{}", text)


def unicode_tex(text):
    """text with every non-ASCII character replaced by LaTeX that pdflatex sets without
    a Unicode set-up: Greek letters by their commands, accented letters by the plain letter,
    anything else by ?."""
    return re.sub(r"[^\x00-\x7f]", lambda m: _unicode_char(m[0]), text)


def _unicode_char(ch):
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    name = unicodedata.name(base, "") if len(base) == 1 else ""
    greek = re.fullmatch(r"GREEK (SMALL|CAPITAL) LETTER (\w+)", name)
    if greek:
        word = greek[2].lower() if greek[1] == "SMALL" else greek[2].title()
        return r"\ensuremath{%s}" % sp.latex(sp.Symbol(word))
    return base if base.isascii() and base.isalnum() else "?"


def shape_tex(shape):
    """(n_h, m) -> n_h \\times m; () -> a scalar."""
    if shape == ():
        return r"\text{scalar}"
    return r"%s \times %s" % tuple(sp.latex(d) for d in shape)


def transposes(tex):
    """The rules' {X}^{\\top} as the course writes it: W^{[2]T}, X^{T}, t_{1}^{T}; a
    transpose of a transpose is dropped."""
    def one(m):
        base, sup = m[1], m[2]
        if sup is not None:
            return "%s^{%s}" % (base, sup[:-1] if sup.endswith("T") else sup + "T")
        return base + "^{T}"
    old = None
    while old != tex:
        old = tex
        tex = re.sub(r"\{(\\?[A-Za-z]+(?:_\{[^{}]*\}|\{[A-Za-z]+\})?)(?:\^\{([^{}]*)\})?\}"
                     r"\^\{\\top\}", one, tex)
    return tex.replace("^{}", "")


def over_columns(text, m, compound=False):
    """The sum of the columns (the examples) of text: \\sum_{i=1}^{m} dZ^{[1](i)}."""
    column = re.fullmatch(r"(d?[A-Za-z]+)\^\{([^{}]*)\}", text)
    text = "%s^{%s(i)}" % column.groups() if column and not compound else \
        r"%s^{(i)}" % (text if _bare(text) and not compound else r"\left(%s\right)" % text)
    return r"\textstyle\sum_{i=1}^{%s} %s" % (sp.latex(m), text)


def width(tex):
    """About how many glyphs a LaTeX string sets (a command counts as one)."""
    tex = re.sub(r"\\(left|right|operatorname|mathrm|text|frac)\b|\\[,!;]", "", tex)
    tex = re.sub(r"\\[A-Za-z]+", "x", tex)
    return len(re.sub(r"[{}^_\s]", "", tex))


def _brace(tex, k):
    """+1 where tex[k] opens a group, -1 where it closes one, else 0 (\\{ and \\} in a
    name are characters)."""
    return {"{": 1, "}": -1}.get(tex[k], 0) if k == 0 or tex[k - 1] != "\\" else 0


def breaks(tex, limit):
    """tex split into lines of about `limit` glyphs at top-level +, - and \\odot (outside
    braces); \\left( \\right) become \\bigl( \\bigr) so a line may end inside them."""
    tex = _unbrace(tex)
    cuts, depth = [0], 0
    for k in range(len(tex)):
        depth += _brace(tex, k)
        if depth == 0 and k > 0 and tex.startswith((" + ", " - ", r" \odot "), k):
            cuts.append(k + 1)
    pieces = [tex[a:b] for a, b in zip(cuts, cuts[1:] + [len(tex)])]
    lines = [""]
    for piece in pieces:
        if lines[-1] and width(lines[-1] + piece) > limit:
            lines.append("")
        lines[-1] += piece
    if len(lines) == 1:
        return lines
    return [re.sub(r"\\(left|right)([()\[\]|.])", lambda m: r"\big%s%s" % (
        "l" if m[1] == "left" else "r", m[2]), line).replace(r"\bigr.", "").replace(
        r"\bigl.", "").strip() for line in lines]


_TAKES_GROUPS = re.compile(r"(\^|_|\\(?:frac|dfrac|tfrac|sqrt|binom))$")   # x^{...}, \frac{...}
_TAKES_TWO = re.compile(r"\\(?:frac|dfrac|tfrac|binom)$")          # \frac{...}{...}


def _is_argument(tex, start):
    """Whether the group opening at tex[start] is a command's argument (a fraction's, a
    root's, an exponent's), which must keep its braces."""
    if _TAKES_GROUPS.search(tex, 0, start):
        return True
    if not tex.endswith("}", 0, start):
        return False
    depth = 0                       # the group before: a fraction's numerator?
    for j in range(start - 1, -1, -1):
        depth -= _brace(tex, j)
        if depth == 0:
            return _TAKES_TWO.search(tex, 0, j) is not None
    return False


def _unbrace(tex):
    """Drop the braces SymPy puts around a function's argument, {\\left(x \\right)}, so a line
    may break inside it (not a fraction's, a root's or an exponent's: see _is_argument)."""
    out, k = [], 0
    while True:
        start = tex.find(r"{\left(", k)
        if start < 0:
            return "".join(out) + tex[k:]
        if _is_argument(tex, start):
            out.append(tex[k:start + 1])
            k = start + 1
            continue
        depth, pairs, end = 0, 0, None
        for j in range(start, len(tex)):
            depth += _brace(tex, j)
            if tex.startswith((r"\left", r"\right"), j):
                pairs += 1 if tex.startswith(r"\left", j) else -1
                if pairs == 0 and not tex.startswith(r"\right)}", j):
                    break
            if depth == 0:
                end = j
                break
        if end is not None and tex[end - 7:end] == r"\right)":
            out.append(tex[k:start] + tex[start + 1:end])
            k = end + 1
        else:
            out.append(tex[k:start + 1])
            k = start + 1


def _bare(text):
    """Whether text is one symbol, safe to juxtapose or raise to a power without parentheses."""
    return re.fullmatch(r"[A-Za-z]\w*|\\?[A-Za-z]+(_\{[^{}]*\})?|\d+", text) is not None


class ScalarLatexPrinter(_Operands, LatexPrinter):
    """Scalar SymPy expressions over operands as LaTeX; products of matrices as \\odot."""

    settings: dict = {"long_frac_ratio": 8}

    def parenthesize(self, item, level, is_neg=False, strict=False):
        if item in self.operands and self.operands[item][1] and level >= PRECEDENCE["Mul"]:
            return r"\left(%s\right)" % self.operands[item][0]
        return LatexPrinter.parenthesize(self, item, level, is_neg, strict)

    def _is_matrix(self, factor):
        base = factor.base if factor.is_Pow and not factor.exp.is_negative else factor
        return not (factor.is_Pow and factor.exp.is_negative) and any(
            self.shapes.get(s, ()) != () for s in base.free_symbols)

    def _shape(self, factor):
        rows, cols = 1, 1
        for s in factor.free_symbols:
            shape = self.shapes.get(s, ())
            if len(shape) == 2:
                rows = shape[0] if shape[0] != 1 else rows
                cols = shape[1] if shape[1] != 1 else cols
        return rows, cols

    def _print_Mul(self, expr):
        factors = sp.Mul.make_args(expr)
        mats = [f for f in factors if self._is_matrix(f)]
        if len(mats) < 2:
            return super()._print_Mul(expr)
        # a column times a row is their matrix product (inner dimension 1): W^{[2]T} dZ^{[2]}
        shapes = [self._shape(f) for f in mats]
        col = [f for f, (r, c) in zip(mats, shapes) if c == 1 and r != 1]
        row = [f for f, (r, c) in zip(mats, shapes) if r == 1 and c != 1]
        texts = []
        if len(col) == 1 and len(row) == 1:
            mats = [f for f in mats if f not in (col[0], row[0])]
            texts.append(r"%s\, %s" % (self.parenthesize(col[0], PRECEDENCE["Mul"]),
                                        self.parenthesize(row[0], PRECEDENCE["Mul"])))
            if not mats:
                texts[0] = r"\left(%s\right)" % texts[0] if any(
                    not self._is_matrix(f) for f in factors) else texts[0]
        text = r" \odot ".join(texts + [self.parenthesize(f, PRECEDENCE["Mul"]) for f in mats])
        stand_in = sp.Dummy(real=True)
        self.operands[stand_in] = (text, True)
        return self._print(sp.Mul(*[f for f in factors if not self._is_matrix(f)]) * stand_in)

    def _print_Pow(self, expr):
        base, e = expr.args
        if e.is_positive and e != sp.S.Half and (base in self.operands or (
                not base.is_Function and self._shape(base) != (1, 1))):
            # an operand, or an expression of matrices: (Z - Y)^{\circ 2}
            text, compound = self.operands.get(base) or (self._print(base), True)
            power = self._print(e)
            if base not in self.operands or self.shapes.get(base, ()) not in ((), (1, 1)):
                power = r"\circ %s" % power        # elementwise: A^{\circ 2}, not A A
                layer = re.fullmatch(r"([A-Za-z]+)\^\{(\[\d+\])\}", text)
                if layer:
                    return "%s^{%s%s}" % (layer[1], layer[2], power)
            if compound or not _bare(text):
                text = r"\left(%s\right)" % text
            return "%s^{%s}" % (text, power)
        return super()._print_Pow(expr)

    def _print_Piecewise(self, expr):
        pair = extremum_pair(expr)                   # sg.maximum, sg.minimum
        if pair:
            return r"\%s\left(%s, %s\right)" % (pair[0][:3], self._print(pair[1]),
                                                 self._print(pair[2]))
        return super()._print_Piecewise(expr)

    def _print_Heaviside(self, expr, exp=None):      # H(0) = 0: ReLU'(0) = 0
        # the indicator in bold: amssymb's \mathbb has no 1 (it prints another glyph)
        return r"\mathbf{1}\left[%s %s 0\right]" % (self._print(expr.args[0]),
                                                   r"\geq" if step_at_zero(expr) else ">")


class LatexNodePrinter(NodePrinter):
    """Graph nodes as LaTeX: nodes in `names` (id -> LaTeX) print as their names, all others
    inline; `exprs` (id -> (expr, args)) overrides a map's own expression (a fused one)."""

    scalar_printer = ScalarLatexPrinter

    def paren(self, text):
        return r"\left(%s\right)" % text

    def _compound(self, node, text):
        return node.op != "leaf" and not _bare(text)       # W^{[1]} is one symbol

    def _transposed(self, node):
        text, compound = self.operand(node.args[0])
        return transposes(r"{%s}^{\top}" % (self.paren(text) if compound else text)), False

    def _print_leaf(self, node):
        return name_tex(node.name)

    def _scalar(self, expr, args):
        texts = [self.operand(a) for a in args]
        # stand-ins named like the operands as a reader sees them (\mathrm{AL} as AL), so
        # that terms sort by those names: A^{[L]} - Y
        syms = [sp.Symbol(re.sub(r"\\math[a-z]+\{|[{}]", "", text) + "\0" + text, real=True)
                for text, _ in texts]
        expr = expr.xreplace({placeholder(i): s for i, s in enumerate(syms)})
        return self._printer(dict(zip(syms, texts)), zip(syms, args)).doprint(expr)

    def _print_matmul(self, node):
        _, wrap = self.operands(node)
        return r"%s\, %s" % (wrap[0], wrap[1])

    def _print_transpose(self, node):
        return self.operand(node)[0]

    def _print_sum(self, node):
        (arg,) = node.args
        if node.axis is None and is_square(arg) and arg.id not in self.names:
            text, compound = self.operand(arg.args[0])       # a sum of squares: a norm
            return r"\left\|%s\right\|^{2}" % text
        (text, compound), = self.operands(node)[0]
        if node.axis == 1 and len(arg.shape) == 2:          # over the columns: the examples
            return over_columns(text, arg.shape[1], compound)
        return r"\textstyle\sum%s %s" % (AXIS_TEX[node.axis], self.paren(text) if compound
                                            else text)

    def _print_logsumexp(self, node):
        # over the rows (axis 0) as the sums, maxima and minima read: logsumexp_rows, a row
        return r"\operatorname{logsumexp}%s\left(%s\right)" % (AXIS_TEX[node.axis],
                                                                self._only(node))

    def _print_trace(self, node):
        return r"\operatorname{tr}\left(%s\right)" % self._only(node)

    def _print_eye(self, node):
        return "I_{%s}" % sp.latex(node.shape[0])

    def _print_inverse(self, node):
        return r"{%s}^{-1}" % self.operands(node)[1][0]

    def _print_det(self, node):
        return r"\det\left(%s\right)" % self._only(node)

    def _print_logdet(self, node):
        return r"\log\left|\det\left(%s\right)\right|" % self._only(node)

    def _print_pick(self, node):
        _, wrap = self.operands(node)
        return r"%s\left[%s\right]" % (wrap[0], self.labels_text(node))

    def _print_scatter(self, node):
        return self._scalar(*self.scatter_expr(node))

    def scatter_expr(self, node):
        """(expr, args): the scatter node as a map of its (fused) base's operands."""
        return self._scatter_expr(node, *self.exprs.get(node.id, (placeholder(0),
                                                                  node.args[:1])),
                                  r"\operatorname{onehot}\left(%s\right)")

    def _print_max(self, node):
        return r"\%s%s\left(%s\right)" % (node.op, AXIS_TEX[node.axis], self._only(node))

    _print_min = _print_max

    def _print_argmax_put(self, node):
        _, wrap = self.operands(node)
        kind, action = node.op[3:6], node.op[7:]
        where = r"\arg\%s%s %s" % (kind, AXIS_TEX[node.axis], wrap[1])
        return r"%s \text{ at } %s" % (wrap[0], where) if action == "put" \
            else r"{%s}_{%s}" % (wrap[0], where)

    _print_argmin_put = _print_argmax_take = _print_argmin_take = _print_argmax_put

    def _print_slice(self, node):
        _, wrap = self.operands(node)
        return r"{%s}_{%s}" % (wrap[0], _region_tex(node.expr, node.args[0].shape))

    def _print_pad(self, node):
        args, _ = self.operands(node)
        return " + ".join(text if region == full_region(node.shape) else
                          r"\operatorname{pad}_{%s}\left(%s\right)" % (
                              _region_tex(region, node.shape), text)
                          for (text, _), region in zip(args, node.expr))

    def _print_diag(self, node):
        return r"\operatorname{diag}\left(%s\right)" % self._only(node)

    def _print_undiag(self, node):
        return r"\operatorname{Diag}\left(%s\right)" % self._only(node)

    def _print_concat(self, node):
        args, _ = self.operands(node)
        sep = r" \\ " if node.axis == 0 else " & "
        return r"\begin{bmatrix} %s \end{bmatrix}" % sep.join(t for t, _ in args)

    def _only(self, node):
        """The text of node's one operand, without parentheses."""
        return self.operands(node)[0][0][0]


# a reduction's axis, under its symbol: all entries, per column (rows summed), per row
AXIS_TEX = {None: "", 0: r"_{\text{rows}}", 1: r"_{\text{cols}}"}    # the axis reduced
