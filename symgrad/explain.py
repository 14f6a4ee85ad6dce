"""The derivation trace as LaTeX, exactly as the generated code computes it.

One source of truth: every line is printed from the `Derivation` the code generator uses.
The forward pass lists the statements `value_and_grad` computes; the backward pass shows one
step per trace step, right to left: the local Jacobian of each consumer (its structure:
diagonal, Kronecker, ...), the chain-rule product it gives (`rules.LOCAL`), the terms the
rules built, and the simplified expression the code uses (`schedule.plan`).
"""
import sympy as sp

from .errors import SymgradError
from .graph import placeholder
from .naming import numbered, statement_names
from .printing.latex import LatexNodePrinter, breaks, name_tex, shape_tex, unicode_tex, width
from .rules import LOCAL, map_partial
from .schedule import gradient_roots, plan

LINE = 64          # glyphs on one line of a right-hand side before it breaks

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\begin{document}
"""


class _Operand(str):
    """An operand's LaTeX, carrying its shape for the rules' templates."""

    def __new__(cls, text, shape):
        self = super().__new__(cls, text)
        self.shape = shape
        return self


class _Ops(list):
    """What a rule's LaTeX templates see: node's operands, and for a map its partial."""

    def __init__(self, printer, node, i):
        super().__init__(_Operand(printer.operand(a)[0], a.shape) for a in node.args)
        self.node = node
        if node.op == "pick":
            self.labels = printer.labels_text(node)
        if node.op == "map":
            expr = map_partial(node, i)
            self.partial = printer._scalar(expr, node.args)
            self.wrapped_partial = r"\left(%s\right)" % self.partial \
                if expr.is_Add or expr.could_extract_minus_sign() else self.partial

    shape_text = staticmethod(shape_tex)


class Explanation:
    """The sections of one model's derivation: (title, [text or align-block lines])."""

    def __init__(self, derivation, at=None):
        d = self.d = derivation
        self.overrides = d.model.names
        self.code = plan(gradient_roots(d))      # value_and_grad's plan, its names
        self.tex = {n.id: name_tex(n.name, self.overrides) for n in d.params + d.inputs}
        names = statement_names(self.code.order, d.names.copy())
        for node in self.code.order:     # the code's forward statements: t1 = ... reads t_{1}
            if not node.is_constant and not node.derived and node.id not in self.tex:
                self.tex[node.id] = name_tex(names[node.id], self.overrides) if node.name \
                    else sp.latex(sp.Symbol(names[node.id]))
        self.printer = LatexNodePrinter(self.tex, self.code.exprs)
        self.defs = {}                   # short names for long unnamed intermediates
        short = numbered("u_{%d}", set(self.tex.values()))     # u_{1}, ... beside a user's u_1
        for step in d.steps:
            node = step.node
            if node.id not in self.tex and width(self.printer.operand(node)[0]) > 12:
                self.defs[node.id] = self.printer.rhs(node)
                self.tex[node.id] = next(short)
        for step in d.steps:             # adjoints read d<node>: dZ^{[2]}
            g = step.adjoint
            if g.id not in self.tex and g.derived and not g.is_constant:
                self.tex[g.id] = self.d_of(step.node)
        for node in self.code.order:     # derived statements that are no node's adjoint
            if not node.is_constant and node.id not in self.tex:
                self.tex[node.id] = sp.latex(sp.Symbol(names[node.id]))
        self.adjoint = {step.node.id: step.adjoint for step in d.steps}
        self.values = _Values(d, at) if at is not None else None

    def label(self, node):
        """How node reads: its name, or its expression in parentheses."""
        text, compound = self.printer.operand(node)
        compound = compound and not (node.is_constant and node.expr.is_Integer)
        return r"\left(%s\right)" % text if compound else text

    def d_of(self, node):
        label = self.label(node)
        return "d" + label if label[:1].isalpha() and "\\" not in label[:1] else r"d%s" % label

    def _value(self, node, shown):
        """ = the value of node at --at, unless shown already says it."""
        value = sp.latex(self.values(node)) if self.values else None
        return "" if value is None or value == shown.strip() else r" = %s" % value

    def forward(self):
        lines = []
        for node in self.code.order:
            if node.op == "leaf" or node.derived:
                continue
            rhs = self.printer.rhs(node)
            lines += _rows(self.tex[node.id], rhs + self._value(node, rhs), shape_tex(node.shape))
        return lines

    def backward(self):
        """One block per trace step: (caption, align lines)."""
        blocks = []
        for k, step in enumerate(self.d.steps, 1):
            node, lhs = step.node, self.d_of(step.node)
            if not step.terms:
                blocks.append((f"Step {k}: the seed.", [r"%s &= 1" % lhs]))
                continue
            lines, chain, terms = [], [], []
            own = self.tex.get(step.adjoint.id) == lhs      # else: named after another node
            raw = LatexNodePrinter({i: t for i, t in self.tex.items()
                                    if i != step.adjoint.id or not own})
            for t in step.terms:
                c, local = t.consumer, LOCAL[t.consumer.op]
                ops = _Ops(self.printer, c, t.index)
                lines += _rows(r"\frac{\partial %s}{\partial %s}" % (
                    self.label(c), self.label(node)), local.jacobian(ops, t.index))
                product = local.chain(ops, t.index, self.d_of(c))
                chain.append(_unbroadcast(product, node.shape, c.shape) if c.op == "map"
                             else product)
                terms.append(raw.operand(t.contribution)[0])
            result = self._result(step.adjoint) if own or step.adjoint.id not in self.tex \
                else self.tex[step.adjoint.id]
            rows = [_join(chain), _join(terms),
                    result + self._value(step.adjoint, result)]
            rows = [r for i, r in enumerate(rows) if r not in rows[:i]]
            for i, rhs in enumerate(rows):
                lines += _rows(lhs if i == 0 else "", rhs)
            consumers = ", ".join(f"${self.label(t.consumer)}$ ({t.consumer.op})"
                                  for t in step.terms)
            what = f"${self.label(node)}$" + (
                f", where ${self.tex[node.id]} = {self.defs[node.id]}$," if node.id in self.defs
                else "")
            blocks.append((f"Step {k}: {what} feeds {consumers}.", lines))
        return blocks

    def _result(self, g):
        """The adjoint as the generated code computes it (fused and simplified, when the
        code computes it by itself; otherwise as the rules built it)."""
        printer = LatexNodePrinter({k: v for k, v in self.tex.items() if k != g.id},
                                   self.code.exprs)
        return printer.rhs(g) if g.op == "map" else printer.operand(g)[0]

    def gradients(self):
        lines = []
        for p, g in zip(self.d.params, self.d.grads):
            text = self.label(g) if g.id in self.tex else self._result(g)
            lines += _rows(r"\frac{\partial %s}{\partial %s}" % (
                self.label(self.d.loss), self.tex[p.id]), text + self._value(g, text),
                shape_tex(p.shape))
        return lines

    def sections(self):
        intro = (r"$dN$ stands for $\partial %s / \partial N$, the adjoint of $N$, shaped "
                 r"like $N$; $\odot$ is the elementwise product; arrays hold one example per "
                 r"column. Each step multiplies the adjoint of a consumer by its local "
                 r"Jacobian (right to left), then shows the expression the generated code "
                 r"computes." % self.label(self.d.loss))
        backward = []
        for caption, lines in self.backward():
            backward += [caption, lines]
        return [(None, [intro]), ("Forward pass", [self.forward()]),
                ("Backward pass, right to left", backward),
                ("Gradients returned by value\\_and\\_grad", [self.gradients()])]


class _Values:
    """Exact values of the nodes of a scalar model at given parameter and input values."""

    def __init__(self, d, at):
        leaves = d.params + d.inputs
        matrices = [x.name for x in leaves if x.shape != ()]
        if matrices:
            raise SymgradError(f"--at works only for scalar models: {', '.join(matrices)} "
                               "is a matrix; drop --at")
        missing = [x.name for x in leaves if x.name not in at]
        unknown = sorted(set(at) - {x.name for x in leaves})
        if missing or unknown:
            raise SymgradError(
                f"--at: {'no value for ' + ', '.join(missing) if missing else ''}"
                f"{'; ' if missing and unknown else ''}"
                f"{'unknown names ' + ', '.join(unknown) if unknown else ''}: give each of "
                f"{', '.join(x.name for x in leaves)}, e.g. --at "
                + ",".join(f"{x.name}=1" for x in leaves))
        self.at = {x.id: sp.nsimplify(at[x.name]) for x in leaves}
        self.cache = {}

    def __call__(self, node):
        if node.id not in self.cache:
            args = [self(a) for a in node.args]
            if node.op == "leaf":
                value = self.at[node.id]
            elif node.op == "map":
                value = node.expr.xreplace({placeholder(i): v for i, v in enumerate(args)})
                value = sp.nsimplify(sp.simplify(value)) if not value.is_Rational else value
            elif node.op == "matmul":
                value = args[0] * args[1]
            elif node.op in ("transpose", "sum", "trace"):
                value = args[0]
            else:
                value = sp.log(sp.exp(args[0]))
            self.cache[node.id] = value
        return self.cache[node.id]


def _unbroadcast(text, shape, consumer_shape):
    """The sum a broadcast operand's adjoint needs (a bias: the sum over examples)."""
    if tuple(shape) == tuple(consumer_shape):
        return text
    if shape == ():
        return r"\textstyle\sum\left(%s\right)" % text
    axes = [k for k in (0, 1) if shape[k] == 1 and consumer_shape and consumer_shape[k] != 1]
    under = {(0,): r"_{\text{rows}}", (1,): r"_{\text{cols}}"}.get(tuple(axes), "")
    return r"\textstyle\sum%s\left(%s\right)" % (under, text) if consumer_shape else text


def _join(terms):
    """t1 + t2 - t3: a term's own leading minus replaces the plus."""
    text = terms[0]
    for term in terms[1:]:
        text += " - " + term[1:].lstrip() if term.startswith("-") else " + " + term
    return text


def _rows(lhs, rhs, note=None):
    """align rows: lhs &= rhs, broken into indented continuation lines when long."""
    rhs = breaks(rhs, LINE)
    rows = [r"%s &= %s" % (lhs, rhs[0])] + [r"&\qquad %s" % r for r in rhs[1:]]
    if note:
        rows[-1] += r" && %s" % note
    return rows


def _escape(text):
    return text.replace("_", r"\_")


def parse_at(text):
    """'a=5,b=3,c=2' -> {'a': 5, 'b': 3, 'c': 2} (numbers as SymPy numbers, kept exact)."""
    values = {}
    for item in filter(None, (text or "").split(",")):
        name, _, value = item.partition("=")
        try:
            values[name.strip()] = sp.nsimplify(sp.sympify(value.strip(), rational=True))
            if not values[name.strip()].is_number:
                raise ValueError
        except (sp.SympifyError, ValueError, TypeError):
            raise SymgradError(f"--at: {item!r} is not NAME=NUMBER, e.g. --at a=5,b=3,c=2") \
                from None
    return values


def render(derivations, fmt="tex", at=None):
    """The derivations of one model file as a standalone LaTeX document or as Markdown."""
    if fmt not in ("tex", "md"):
        raise SymgradError(f"unknown format {fmt!r}: use tex or md")
    out = [PREAMBLE] if fmt == "tex" else []
    for d in derivations:
        title = f"Derivation of {d.model.name}"
        out.append(r"\section*{%s}" % _escape(title) if fmt == "tex" else f"# {title}\n")
        for heading, items in Explanation(d, at).sections():
            if heading:
                out.append(r"\subsection*{%s}" % heading if fmt == "tex"
                           else "## %s\n" % heading.replace("\\_", "_"))
            for item in items:
                out.append(_block(item, fmt) if isinstance(item, list) else
                           item + "\n")
    if fmt == "tex":
        out.append(r"\end{document}")
        return unicode_tex("\n".join(out)) + "\n"       # pdflatex sets ASCII only
    return "\n".join(out) + "\n"


def _block(lines, fmt):
    body = " \\\\\n".join(lines)
    if fmt == "tex":
        return "\\begin{align*}\n%s\n\\end{align*}" % body
    return "$$\n\\begin{aligned}\n%s\n\\end{aligned}\n$$\n" % body.replace("&&", "&\\quad ")


def repr_latex(derivation):
    """For notebooks: the forward and backward passes as one display block."""
    e = Explanation(derivation)
    lines = [r"&\text{Forward pass}"] + e.forward() + [r"&\text{Backward pass}"]
    for _, block in e.backward():
        lines += block
    return "$$\\begin{aligned}\n%s\n\\end{aligned}$$" % " \\\\\n".join(
        line.replace("&&", "&\\quad ") for line in lines)
