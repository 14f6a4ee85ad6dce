"""The derivation trace as LaTeX, exactly as the generated code computes it.

One source of truth: every line is printed from the `Derivation` and from value_and_grad's
own plan (`schedule.planned`, the Plan object the code generator reads). Two levels:

- the summary (the default): the forward statements, then one line per adjoint the code
  computes, in the course's notation (for a loss that is the mean over the m examples,
  dZ is the adjoint of one example's loss and the 1/m shows in dW and db, as in the notes);
- the steps (`steps=True`, `symgrad latex --steps`): the full right-to-left trace, each step
  with its local Jacobians, the chain-rule product (`rules.LOCAL`), the terms the rules
  built and the expression the code computes.

The Jacobian and Hessian functions get sections of their own. Every symbol a line uses is
defined on an earlier line.
"""
import re
from collections import defaultdict

import sympy as sp

from .dims import examples_sentence
from .errors import SymgradError
from .graph import Node, placeholder
from .naming import numbered, statement_names
from .printing.latex import (AXIS_TEX, LatexNodePrinter, breaks, name_tex, over_columns, shape_tex,
                             text_tex, transposes, unicode_tex, width)
from .printing.nodes import _Named
from .printing.numpy import MathNodePrinter
from .rules import LOCAL, map_partial
from .functions import softplus
from .schedule import gradient_roots, is_square, planned

LINE = 64          # glyphs on one line of a right-hand side before it breaks

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{4pt}
\begin{document}
"""

# what each op does to an operand, in words, for the captions
_WHAT = {"matmul": "a matrix product", "transpose": "a transpose", "sum": "a sum",
         "logsumexp": "a log-sum-exp", "trace": "a trace", "inverse": "a matrix inverse",
         "det": "a determinant", "logdet": "a log-determinant",
         "pick": "picking each example's labelled entry", "slice": "a slice",
         "concat": "stacking blocks", "diag": "taking the diagonal",
         "max": "a maximum", "min": "a minimum"}


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


def _distinct(tex, names):
    """tex ({node id: LaTeX}) with each of names ({node id: the model's name}) whose LaTeX is
    another node's too set as its characters: Wq and W_q both read W_{q}, a parameter dW
    reads as W's adjoint."""
    seen = defaultdict(list)
    for k, text in tex.items():
        seen[text].append(k)
    for k, name in names.items():
        if k in tex and len(seen[tex[k]]) > 1:
            tex[k] = text_tex(name)


class Explanation:
    """The sections of one model's derivation: (title, [text or align-block lines])."""

    def __init__(self, derivation, at=None):
        d = self.d = derivation
        self.overrides = d.model.names         # each names a node (derive checked)
        self.code = planned(d, gradient_roots(d))     # value_and_grad's plan: a Plan
        self.names = statement_names(self.code.order, d.names.copy())
        self.tex = {n.id: name_tex(n.name, self.overrides) for n in d.params + d.inputs}
        for node in self.code.order:     # the code's forward statements: t1 = ... reads t_{1}
            if not node.is_constant and not node.derived and node.id not in self.tex:
                self.tex[node.id] = self._name(node)
        self.adjoint = {step.node.id: step.adjoint for step in d.steps}
        self.printer = LatexNodePrinter(self.tex, self.code.exprs)
        for step in d.steps:             # adjoints read d<node>: dZ^{[2]}
            g = step.adjoint
            if g.id not in self.tex and g.derived and not g.is_constant:
                self.tex[g.id] = self.d_of(step.node)
        self.temps = set()               # derived statements that are no node's adjoint
        for node in self.code.order:
            if not node.is_constant and node.id not in self.tex:
                self.tex[node.id] = self._name(node)
                self.temps.add(node.id)
        _distinct(self.tex, {n.id: n.name for n in d.params + d.inputs + self.code.order
                             if n.name and n.name not in (self.overrides or {})})
        statements = {n.id for n in self.code.order} | {n.id for n in d.params + d.inputs}
        self.code_tex = {k: v for k, v in self.tex.items() if k in statements}   # the code's
        self.batch = _batch(d)
        self.chain = _chain_nodes(d)
        grads = {g.id for g in d.grads}
        self.scaled = {n.id for n in self.code.order if n.id in self.chain
                       and n.id not in grads and self.batch in n.shape}
        self.values = _Values(d, at) if at is not None else None
        self.course = _course_chain(self)
        self.softmax = _softmax_chain(self)
        self.course_m = self.batch          # the summary's convention: None, the code's

    def _name(self, node):
        name = self.names[node.id]
        return name_tex(name, self.overrides) if node.name else sp.latex(sp.Symbol(name))

    # -- names and labels -----------------------------------------------------------------
    def label(self, node):
        """How node reads: its name, or its expression in parentheses."""
        text, compound = self.printer.operand(node)
        compound = compound and not (node.is_constant and node.expr.is_Integer)
        return r"\left(%s\right)" % text if compound else text

    def _input_tex(self, name):
        """An input's name in math mode, for examples_sentence."""
        return "$%s$" % self.label(next(x for x in self.d.inputs if x.name == name))

    def d_of(self, node):
        return "d" + self.label(node)

    def _value(self, node, shown):
        """ = the value of node at --at, unless shown already says it."""
        value = sp.latex(self.values(node)) if self.values else None
        return "" if value is None or _same(value, shown.rsplit("=", 1)[-1]) \
            else r" = %s" % value

    # -- the forward pass -----------------------------------------------------------------
    def forward(self):
        """value_and_grad's forward statements, in its order."""
        printer = LatexNodePrinter(self.code_tex, self.code.exprs)
        lines = []
        for node in self.code.order:
            if node.op == "leaf" or node.derived:
                continue
            rhs = printer.rhs(node)
            lines += _rows(self.tex[node.id], rhs + self._value(node, rhs), shape_tex(node.shape))
        return lines

    def _cross_entropy(self):
        """The sentence relating the stable form t = Y softplus(-Z) + (1 - Y) softplus(Z) to
        the cross-entropy on A = sigmoid(Z) the course writes, when the forward pass computes
        it (schedule._positive_bce)."""
        z, a = self.course.z, self.course.a
        if type(a.expr).__name__ != "sigmoid":
            return ""
        for node in self.code.order:
            expr, args = self.code.exprs.get(node.id, (None, ()))
            if node.derived or z not in args:
                continue
            i = args.index(z)
            for j, y in enumerate(args):
                u, y_ = placeholder(i), placeholder(j)
                if j != i and sp.expand(expr - y_ * softplus(-u)
                                        - (1 - y_) * softplus(u)) == 0:
                    A, Z, Y = self.label(a), self.label(z), self.label(y)
                    return (f"Each example's loss is the cross-entropy $-\\left({Y} \\log {A} + "
                            f"(1 - {Y}) \\log(1 - {A})\\right)$ of ${A} = \\sigma({Z})$; since "
                            f"$\\log {A} = -\\operatorname{{softplus}}(-{Z})$ and "
                            f"$\\log(1 - {A}) = -\\operatorname{{softplus}}({Z})$, it equals "
                            f"${self.tex[node.id]} = {Y} \\odot \\operatorname{{softplus}}(-{Z}) + "
                            f"(1 - {Y}) \\odot \\operatorname{{softplus}}({Z})$, the form the code "
                            f"computes: two terms never negative, where the equal "
                            f"$\\operatorname{{softplus}}({Z}) - {Y} \\odot {Z}$ loses its digits "
                            f"for a confident right ${Z}$.")
        return ""

    def stable_forms(self):
        """Sentences saying which stable forms the forward statements use, with the forms."""
        calls = set()
        for node in self.code.order:
            if node.op == "map" and not node.derived and node.id in self.code.exprs:
                calls |= {type(f).__name__ for f in self.code.exprs[node.id][0].atoms(
                    sp.Function)}
            calls |= {"logsumexp"} if node.op == "logsumexp" and not node.derived else set()
        out = [x for x in [self._cross_entropy() if self.course else ""] if x]
        if "softplus" in calls:
            out.append(r"The code evaluates the loss in the stable form: "
                       r"$\operatorname{softplus}(z) = \log(1 + e^{z})$ is computed as "
                       r"$\max(z, 0) + \log(1 + e^{-|z|})$, which never overflows, and "
                       r"$\log \sigma(z) = -\operatorname{softplus}(-z)$ never takes the "
                       r"logarithm of 0.")
        if "logsumexp" in calls:
            out.append(r"The code evaluates the log-sum-exp in the stable form "
                       r"$\log \sum_k e^{z_k} = \max_k z_k + \log \sum_k e^{z_k - \max_k z_k}$, "
                       r"which never overflows.")
        return out

    def softmax_chain(self, course):
        """[sentence, rows]: softmax with cross-entropy as the course derives it, dA from the
        loss on A = softmax(Z), then dZ through the softmax's Jacobian, A - Y for one-hot
        labels; course: in the course's convention (each example's own loss), else with the
        mean's 1/m. [] for any other model."""
        if self.softmax is None:
            return []
        a, z, y, axis = self.softmax
        A, Z, Y = self.label(a), self.label(z), self.label(y)
        dA, dZ = "d" + A, self.d_of(z)
        m = self.batch if not course or self.course_m is None else None
        m = sp.latex(m) if m is not None else None
        summed = r"\textstyle\sum%s" % AXIS_TEX[axis]
        lines = _rows(dA, r"-\frac{1}{%s}\, %s \oslash %s" % (m, Y, A) if m
                      else r"-%s \oslash %s" % (Y, A), shape_tex(a.shape))
        lines += _rows(dZ, r"%s \odot \left(%s - %s\left(%s \odot %s\right)\right)"
                       % (A, dA, summed, A, dA))
        general = r"%s \odot %s %s - %s" % (A, summed, Y, Y)
        lines += _rows("", r"\frac{1}{%s}\left(%s\right)" % (m, general) if m else general)
        lines += _rows("", r"\frac{1}{%s}\left(%s - %s\right)" % (m, A, Y) if m
                       else r"%s - %s" % (A, Y), r"\text{one-hot } %s" % Y)
        each = "each column" if axis == 0 else "each row"
        return [f"Softmax with cross-entropy, as the course derives it: the loss on ${A} = "
                f"\\operatorname{{softmax}}({Z})$ gives ${dA}$; the softmax's Jacobian, "
                f"$\\operatorname{{diag}}(a) - a a^{{T}}$ for {each} $a$ of ${A}$, gives "
                f"${dZ}$; with one-hot labels ({each} of ${Y}$ sums to 1) that is "
                f"${A} - {Y}$. The code computes the general form, right for any labels that "
                "are probabilities, straight from the loss's stable form (the log-sum-exp "
                "above), and never divides by the probabilities.", lines]

    # -- the summary: one line per adjoint the code computes -----------------------------
    def summary(self):
        """The lines of the backward pass, in the course's convention where the loss is a
        mean over the examples and every line can be written in it (else self.course_m is
        set to None, the code's)."""
        nodes = self._backward_statements()
        try:
            texts = [self._course_rhs(node) for node in nodes]
        except _Unscaled:
            self.course_m = None
            texts = [self._course_rhs(node) for node in nodes]
        lines = []
        for node, rhs in zip(nodes, texts):
            lines += _rows(self.tex[node.id], rhs + self._value(node, rhs),
                           shape_tex(node.shape))
        return lines

    def _backward_statements(self):
        """The derived statements of value_and_grad, in its order, except that each run of
        parameter gradients lists the parameters in the model's order (dW before db)."""
        rank = {g.id: k for k, g in enumerate(self.d.grads)}
        out, run = [], []
        for node in self.code.order:
            if not node.derived or node.is_constant:
                continue
            if node.id in rank:
                run.append(node)
                continue
            out += sorted(run, key=lambda n: rank[n.id]) + [node]
            run = []
        return out + sorted(run, key=lambda n: rank[n.id])

    def _course_rhs(self, node):
        """node's expression, for a mean loss in the course's convention: an adjoint in
        self.scaled (the m examples along its columns, no parameter's gradient) reads m times
        the code's (one example's), so dZ^{[2]} = A^{[2]} - Y and dW^{[2]} = (1/m) dZ^{[2]}
        A^{[1]T}; raises _Unscaled where that cannot be written (see _CoursePrinter)."""
        names = {k: v for k, v in self.code_tex.items() if k != node.id}
        s = self.course_m
        if s is None or node.id not in self.chain:
            return LatexNodePrinter(names, self.code.exprs).rhs(node)
        printer = _CoursePrinter(names, self.code.exprs, s, self.scaled)
        target = s if node.id in self.scaled else sp.S.One
        if node.op in ("map", "scatter"):
            form = printer.scatter_expr(node) if node.op == "scatter" else printer._expr(node)
            return printer._scalar(*form, factor=target)
        factor = target / printer.scale(node)
        text = printer.rhs(node)
        if factor == 1:
            return text
        return r"%s\, %s" % (sp.latex(factor), text)

    # -- the steps: the full trace, right to left -----------------------------------------
    def intermediates(self):
        """Definitions of the unnamed forward values the steps name (u_{1}, ...), operands
        first: (lines, {node id: name})."""
        short = numbered("u_{%d}", set(self.tex.values()))     # u_{1}, ... beside a user's u_1
        skipped = self.course.skipped if self.course else set()
        found = [s.node for s in self.d.steps if s.node.id not in self.tex
                 and s.node.id not in skipped and not s.node.derived
                 and width(self.printer.operand(s.node)[0]) > 12]
        lines = []
        for node in sorted(found, key=lambda n: n.id):          # ids grow operands first
            rhs = self.printer.rhs(node)
            self.tex[node.id] = next(short)
            lines += _rows(self.tex[node.id], rhs, shape_tex(node.shape))
        return lines

    def backward(self):
        """One block per trace step: (caption, align lines)."""
        blocks, defined = [], set()
        course = self.course
        k = 0
        for step in self.d.steps:
            node, lhs = step.node, self.d_of(step.node)
            if course and node.id in course.skipped:
                continue
            k += 1
            if course and node.id == course.z.id:
                blocks += course.blocks(k)
                k += 1
                continue
            if not step.terms:
                blocks.append((f"Step {k}: the seed, ${lhs} = 1$.", [r"%s &= 1" % lhs]))
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
                if c.op == "map" and ops.partial in ("1", "-1"):     # no "dZ \odot 1"
                    product = ("-" if ops.partial == "-1" else "") + self.d_of(c)
                else:
                    product = local.chain(ops, t.index, self.d_of(c))
                chain.append(_unbroadcast(product, node.shape, c.shape) if c.op == "map"
                             else product)
                terms.append(raw.operand(t.contribution)[0])
            result = self._result(step.adjoint) if own or step.adjoint.id not in self.tex \
                else self.tex[step.adjoint.id]
            rows = [_join(chain), _join(terms), result]
            rows += [result + self._value(step.adjoint, result)]
            shown = []
            for r in (transposes(r) for r in rows):
                if not any(_same(r, s) for s in shown):
                    shown.append(r)
            if len(shown) > 1 and _same(shown[-1].rsplit("=", 1)[0], shown[-2]):
                shown.pop(-2)                               # "3 b" then "3 b = 9"
            lines = self._define(" ".join(shown), defined) + lines
            for i, rhs in enumerate(shown):
                lines += _rows(lhs if i == 0 else "", rhs)
            blocks.append((self._caption(k, step), lines))
        return blocks

    def _define(self, text, defined):
        """Rows defining the code's temporaries (t_{4} = ...) that text uses and no earlier
        line defined, operands first."""
        rows = []
        for node in self.code.order:
            if node.id in self.temps and node.id not in defined \
                    and _uses(text + " " + " ".join(rows), self.tex[node.id]):
                rhs = LatexNodePrinter({k: v for k, v in self.tex.items() if k != node.id},
                                       self.code.exprs).rhs(node)
                rows = self._define(rhs, defined) + rows
                defined.add(node.id)
                rows += _rows(self.tex[node.id], transposes(rhs))
        return rows

    def _caption(self, k, step):
        node = step.node
        what = f"${self.label(node)}$"
        parts = [_says(self, t) for t in step.terms]
        if len(parts) > 1:
            return (f"Step {k}: {what} feeds {len(parts)} values, so its adjoint is the sum "
                    "of their terms: " + "; ".join(parts) + ".")
        return f"Step {k}: {what} " + parts[0] + "."

    def _result(self, g):
        """The adjoint as the generated code computes it (fused and simplified, when the
        code computes it by itself; otherwise as the rules built it)."""
        printer = LatexNodePrinter({k: v for k, v in self.tex.items() if k != g.id},
                                   self.code.exprs)
        return printer.rhs(g) if g.op == "map" else printer.operand(g)[0]

    # -- what value_and_grad returns ------------------------------------------------------
    def gradients(self):
        lines = []
        for p, g in zip(self.d.params, self.d.grads):
            text = self.tex.get(g.id) or self._result(g)
            if self.values:
                text += self._value(g, text)
            lines += _rows(r"\frac{\partial %s}{\partial %s}" % (
                self.label(self.d.loss), self.tex[p.id]), text, shape_tex(p.shape))
        return lines

    def _gradients_text(self):
        params = ", ".join(f"${self.tex[p.id]}$" for p in self.d.params)
        return (f"value\\_and\\_grad returns the loss ${self.label(self.d.loss)}$ and its "
                f"gradient with respect to each parameter, in the order {params}, each shaped "
                "like its parameter (entry by entry, the derivative of the loss by that "
                "entry):")

    # -- Jacobians and the Hessian --------------------------------------------------------
    def _statements(self, roots, seeds):
        """The statements of the function planned for roots that value_and_grad's forward
        pass does not already show (seeds: {id: LaTeX} of the leaves the function sets to
        unit vectors)."""
        p = planned(self.d, roots)
        names = statement_names(p.order, self.d.names.copy())
        tex = dict(self.code_tex)
        tex.update(seeds)
        known = {n.id for n in self.code.order if not n.derived}
        lines = []
        for node in p.order:
            if node.op == "leaf" or node.is_constant or node.id in known:
                continue
            rhs = LatexNodePrinter(tex, p.exprs).rhs(node)
            tex[node.id] = name_tex(names[node.id], self.overrides) if node.name \
                else sp.latex(sp.Symbol(names[node.id]))
            lines += _rows(tex[node.id], transposes(rhs), shape_tex(node.shape))
        return lines

    def jacobian_sections(self):
        out = []
        for jac in self.d.jacobians:
            out_tex = name_tex(jac.output.name, self.overrides) if jac.output.name \
                else self.label(jac.output)
            wrt = self.tex.get(jac.wrt.id) or name_tex(jac.wrt.name, self.overrides)
            seed, tangent = (name_tex(s.name, self.overrides) for s in (jac.seed, jac.tangent))
            title = (f"Jacobian {_text(jac.name)}: "
                     f"$\\partial {out_tex} / \\partial {wrt}$")
            out.append((title, [
                f"jacobian\\_{_text(jac.name)} returns every entry of "
                f"$\\partial {out_tex} / \\partial {wrt}$, an array of shape "
                f"${shape_tex(jac.output.shape)} \\times {shape_tex(jac.wrt.shape)}$, "
                "in the order with fewer products.",
                f"Right to left: the adjoint ${seed}$ of ${out_tex}$ is swept back to "
                f"${wrt}$; the code sets ${seed}$ to each unit matrix in turn (a batch "
                f"axis), and the adjoint of ${wrt}$ it gives is one row of the Jacobian.",
                self._statements([jac.reverse], {jac.seed.id: seed}),
                f"Left to right: the tangent ${tangent}$ of ${wrt}$ is carried forward to "
                f"${out_tex}$; with ${tangent}$ set to each unit matrix in turn, the "
                "tangent of the output is one column of the Jacobian.",
                self._statements([jac.forward], {jac.tangent.id: tangent})]))
        return out

    def hessian_section(self):
        h = self.d.hessian
        if h is None:
            return []
        roots = [t for t in h.products if t is not None]
        v = {t.id: "v_{%s}" % self.tex[p.id] for p, t in zip(self.d.params, h.tangents)}
        dirs = ", ".join(f"${v[t.id]}$" for t in h.tangents)
        zero = [self.tex[p.id] for p, t in zip(self.d.params, h.products) if t is None]
        return [("Hessian, forward over reverse", [
            f"The Hessian-vector product carries tangents {dirs} (one direction per "
            "parameter, shaped like it) forward through the gradients above: the tangent "
            "of each gradient is the Hessian times the direction. The Hessian itself sets "
            "the directions to each unit matrix in turn (a batch axis)."
            + (" The gradients of " + ", ".join(f"${z}$" for z in zero)
               + " do not change along them (zero blocks)." if zero else ""),
            self._statements(roots, v)])]

    # -- the document ---------------------------------------------------------------------
    def sections(self, steps=False):
        loss = self.label(self.d.loss)
        intro = (r"$dN$ stands for $\partial %s / \partial N$, the adjoint of $N$, shaped "
                 r"like $N$; juxtaposition is the matrix product, $\odot$ the elementwise "
                 r"product, $A^{T}$ the transpose, $A^{\circ 2}$ the elementwise square. "
                 % loss + examples_sentence(self.d.params, self.d.inputs, self._input_tex))
        forward = [self.forward()] + self.stable_forms()
        if not steps:
            summary = self.summary()        # first: it settles self.course_m
            if self.course_m is not None:
                m = sp.latex(self.course_m)
                intro += (r" The loss is the mean over the $%s$ examples, so, as in the "
                          r"course's notes, an adjoint with the examples along its columns "
                          r"($dZ$, $dA$) is the one of each example's own loss (column $i$ "
                          r"of $dZ$ is $\partial \ell^{(i)} / \partial Z^{(i)}$), and the "
                          r"$\frac{1}{%s}$ of the mean appears in the gradients of the "
                          r"parameters; $X^{(i)}$ is column $i$ of $X$." % (m, m))
            sections = [(None, [intro]), ("Forward pass", forward),
                        ("Backward pass, right to left", [
                            "One line per adjoint the code computes, in its order "
                            "(symgrad latex --steps shows every step of the chain rule "
                            "with its local Jacobian).", summary]
                         + self.softmax_chain(course=True)),
                        ("Gradients", [self._gradients_text(), self.gradients()])]
        else:
            intro += (r" Each step multiplies the adjoint of a consumer by its local "
                      r"Jacobian (right to left), then shows the expression the generated "
                      r"code computes; adjoints here are of the loss itself.")
            named = self.intermediates()
            backward = self.softmax_chain(course=False)
            for caption, lines in self.backward():
                backward += [caption, lines]
            sections = [(None, [intro]), ("Forward pass", forward)]
            if named:
                sections.append(("Intermediate values the steps name", [
                    "Values the code computes inside other statements, named for the steps "
                    "below.", named]))
            sections += [("Backward pass, right to left", backward),
                         ("Gradients", [self._gradients_text(), self.gradients()])]
        return sections + self.jacobian_sections() + self.hessian_section()


class _CourseChain:
    """The loss's first step as the course derives it: sigmoid output A = sigma(Z) with
    cross-entropy gives dA, then dZ = dA * sigma'(Z); the code computes dZ directly from the
    stable form of the loss. `skipped`: the trace steps between the loss and Z it replaces."""

    def __init__(self, e, z, a, dz, da_expr, da_args, deriv, skipped):
        self.e, self.z, self.a, self.dz = e, z, a, dz
        self.da_expr, self.da_args, self.deriv, self.skipped = da_expr, da_args, deriv, skipped

    def blocks(self, k):
        e = self.e
        z, a = e.label(self.z), e.label(self.a)
        da, dz = "d" + a, e.d_of(self.z)
        printer = LatexNodePrinter({i: t for i, t in e.tex.items() if i != self.dz.id},
                                   e.code.exprs)
        da_rhs = _course_da(printer, self.da_expr, self.da_args, e.batch)
        deriv = printer._scalar(self.deriv, [self.a])
        result = e._result(self.dz)
        f = e.printer._scalar(self.a.expr, [self.z])
        return [
            (f"Step {k}: the loss, written on the output ${a} = {f}$, differentiated with "
             f"respect to ${a}$ (entry by entry: each example's loss depends on its own "
             "column only).", _rows(da, da_rhs, shape_tex(self.a.shape))),
            (f"Step {k + 1}: ${z}$ feeds ${a} = {f}$ elementwise, so its adjoint is ${da}$ "
             f"times the derivative, entry by entry, written in ${a}$. The code computes "
             f"${dz}$ by this last expression, directly from the stable form of the loss.",
             _rows(dz, r"%s \odot %s" % (da, _wrap(deriv))) + _rows("", result)),
        ]


def _course_chain(e):
    """The course's chain for a sigmoid (or any elementwise activation whose derivative the
    code writes in its output) before the loss, when the code computes dZ in one statement
    from the forward values: None otherwise."""
    d = e.d
    for k, step in enumerate(d.steps):
        g = step.adjoint
        if not g.derived or g.op != "map" or g.id not in e.code.exprs:
            continue
        expr, args = e.code.exprs[g.id]
        if any(a.id in e.chain for a in args):
            return None                  # the first adjoint the code computes: is it dZ?
        z = step.node
        for a in e.code.order:
            if a.op == "map" and a.args == (z,) and not a.derived and a.id in e.tex \
                    and a.id in {x.id for x in args}:
                x = sp.Dummy("z", real=True)
                f = a.expr.xreplace({placeholder(0): x})
                deriv = sp.diff(f, x).xreplace({f: placeholder(0)})
                if deriv.has(x) or not deriv.free_symbols:
                    continue
                i = args.index(a)
                da = sp.apart(sp.factor(expr / deriv.xreplace({placeholder(0): placeholder(i)})),
                              placeholder(i))
                if da.has(x):
                    continue
                before = {s.node.id for s in d.steps[1:k] if _depends(s.node, z)}
                return _CourseChain(e, z, a, g, da, args, deriv, before)
        return None
    return None


def _softmax_chain(e):
    """(A, Z, Y, axis) when value_and_grad computes Z's adjoint as c*(A*sum(Y) - Y), the sum
    along the softmax's axis, with A = exp(Z - logsumexp(Z)) = softmax(Z): softmax with
    cross-entropy on labels Y; else None."""
    for node in e.code.order:
        if not node.derived or node.op != "map" or node.id not in e.code.exprs:
            continue
        expr, args = e.code.exprs[node.id]
        for i, a in enumerate(args):
            lse = a.args[1] if a.op == "map" and len(a.args) == 2 else None
            if lse is None or lse.op != "logsumexp" or lse.args[0] is not a.args[0] \
                    or a.expr != sp.exp(placeholder(0) - placeholder(1)) \
                    or e.adjoint.get(a.args[0].id) is not node:
                continue
            for j, total in enumerate(args):
                if total.op != "sum" or total.axis != lse.axis or total.args[0] not in args:
                    continue
                k = args.index(total.args[0])
                one_hot = expr.xreplace({placeholder(j): 1})
                c = sp.simplify(one_hot / (placeholder(i) - placeholder(k)))
                if not c.free_symbols & {placeholder(x) for x in range(len(args))} and \
                        sp.simplify(expr - c * (placeholder(i) * placeholder(j)
                                                - placeholder(k))) == 0:
                    return a, a.args[0], total.args[0], lse.axis
    return None


def _course_da(printer, expr, args, m):
    """dA as the course writes it, -(1/m)(Y/A - (1 - Y)/(1 - A)): the partial fractions in
    A, each with the sign of its denominator's leading term made positive."""
    scaled = sp.Add(*[sp.cancel(t * m) for t in sp.Add.make_args(expr)]) if m is not None \
        else expr
    if m is None or scaled.has(m):
        return printer._scalar(expr, args)
    terms = []
    for term in sp.Add.make_args(-scaled):
        num, den = sp.fraction(sp.factor(term))
        if _negative(den):                            # A - 1 reads 1 - A
            num, den = -num, -den
        sign = "- " if _negative(num) else ""
        num = -num if sign else num
        text = printer._scalar(num, args) if den == 1 else r"\frac{%s}{%s}" % (
            printer._scalar(num, args), printer._scalar(den, args))
        terms.append(sign + text)
    terms.sort(key=lambda t: t.startswith("-"))
    inner = _join(terms)
    return r"-\frac{1}{%s} \left(%s\right)" % (sp.latex(m), inner)


def _negative(e):
    """Whether e reads with a leading minus best negated: -Y, A - 1 (a negative constant)."""
    if e.is_Add:
        c = e.as_coeff_Add()[0]
        return c < 0 if c != 0 else e.could_extract_minus_sign()
    return e.as_coeff_Mul()[0] < 0


def _depends(node, z):
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if n is z:
            return True
        if n.id not in seen:
            seen.add(n.id)
            stack.extend(n.args)
    return False


def _says(e, t):
    """What one chain-rule term says, in words."""
    c = t.consumer
    arg = c.args[t.index]
    who, dc = f"${e.label(c)}$", f"${e.d_of(c)}$"
    if c.op == "map":
        shape, cshape = tuple(arg.shape), tuple(c.shape)
        if shape != cshape and shape == ():
            return (f"enters {who} as a number added or multiplied into every entry, so its "
                    f"adjoint sums the terms over all entries of {dc}")
        if shape != cshape:
            over = (f"the ${sp.latex(cshape[1])}$ examples" if len(shape) == 2 and
                    shape[1] == 1 else f"the ${sp.latex(cshape[0])}$ rows")
            return (f"was broadcast over {over} in {who}, so its adjoint sums the terms of "
                    f"{dc} over them")
        if map_partial(c, t.index) == 1:
            return f"is a term of the sum {who}, so its adjoint is {dc} itself"
        if cshape == ():
            return f"enters {who}, so its adjoint is {dc} times the derivative of {who} by it"
        return (f"enters {who} elementwise, so its adjoint is {dc} times the derivative, "
                "entry by entry")
    if c.op == "matmul":
        other = e.label(c.args[1 - t.index])
        flipped = transposes(r"{%s}^{\top}" % other)
        return (f"is multiplied by ${other}$ on the right in {who}, so its adjoint is {dc} "
                f"times ${flipped}$ on the right" if t.index == 0 else
                f"is multiplied by ${other}$ on the left in {who}, so its adjoint is "
                f"${flipped}$ times {dc} on the left")
    if c.op == "transpose":
        return f"is transposed in {who}, so its adjoint is {dc} transposed"
    if c.op == "sum":
        return (f"is summed in {who}, so every entry it sums gets the adjoint {dc}, "
                "broadcast back")
    return f"feeds {who} ({_WHAT.get(c.op, 'an operation')}), whose local Jacobian follows"


class _Unscaled(Exception):
    """A line the course's convention cannot write (see _CoursePrinter)."""


class _CoursePrinter(LatexNodePrinter):
    """Right-hand sides in the course's convention for a mean over m examples: a named node
    in `scaled` reads m times the code's value (dZ, one example's adjoint per column). An
    operand printed inline reads at the scale its text has: a map (or scatter) divides its
    operands' scales out of its expression, so its text is the code's value; an op linear in
    each operand (a product, a sum over an axis, a transpose) has their product, so Σ dZ reads
    m times the code's sum; ops that add their operands (pad, concat) need one scale, and any
    other op operands read at 1 (else _Unscaled)."""

    _PRODUCTS = frozenset({"matmul", "transpose", "sum", "trace", "pick", "slice", "diag",
                           "undiag", "max", "min", "argmax_put", "argmin_put", "argmax_take",
                           "argmin_take"})

    def __init__(self, names, exprs, m, scaled):
        super().__init__(names, exprs)
        self.m, self.scaled = m, scaled

    def scale(self, node):
        """How many times the code's value node's text, as this printer prints it, reads."""
        if isinstance(node, _Named) or node.is_constant:
            return sp.S.One
        if node.id in self.names:
            return self.m if node.id in self.scaled else sp.S.One
        if node.op in ("map", "scatter"):
            return sp.S.One
        if node.op == "sum" and node.axis is None and is_square(node.args[0]):
            return self.scale(node.args[0].args[0]) ** 2     # printed as a squared norm
        scales = [self.scale(a) for a in node.args]
        if node.op in self._PRODUCTS:
            return sp.Mul(*scales)
        if len(set(scales)) == 1 and (node.op in ("pad", "concat") or scales[0] == 1):
            return scales[0]
        raise _Unscaled(node.op)

    def _scalar(self, expr, args, factor=None):
        """A map's text, its operands' scales divided out; times factor (a line's own map:
        its scale), the terms then expanded and their common factors taken out."""
        scales = {placeholder(i): placeholder(i) / self.scale(a) for i, a in enumerate(args)}
        if factor is not None or any(v != k for k, v in scales.items()):
            expr = sp.factor_terms(sp.expand(
                (factor or 1) * expr.xreplace(scales), mul=False, multinomial=False,
                power_exp=False, power_base=False, log=False))
        return super()._scalar(expr, args)


def _chain_nodes(d):
    """Ids of the derived nodes that carry the loss's adjoint: the trace's adjoints and
    the nodes built from them."""
    adjoints = {s.adjoint.id for s in d.steps}
    out, seen = set(), {}

    def visit(node):
        stack = [node]
        while stack:
            top = stack[-1]
            if top.id in seen:
                stack.pop()
                continue
            todo = [a for a in top.args if a.id not in seen]
            if todo and top.derived:
                stack.extend(todo)
                continue
            stack.pop()
            seen[top.id] = top.id in adjoints or top.derived and any(
                seen.get(a.id) for a in top.args)
            if seen[top.id]:
                out.add(top.id)
    for g in d.grads:
        visit(g)
    return out


def _batch(d):
    """m, when the loss is the mean over the m examples of a per-example loss: the sum of an
    array with m columns divided by m; else None."""
    loss = d.loss
    if loss.op != "map" or len(loss.args) != 1 or loss.args[0].op != "sum" \
            or loss.args[0].axis is not None:
        return None
    summed = loss.args[0].args[0]
    if len(summed.shape) != 2 or not isinstance(summed.shape[1], sp.Symbol):
        return None
    m = summed.shape[1]
    return m if (loss.expr * m / placeholder(0)).is_number else None


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

    def __call__(self, node: Node):
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


def _same(a, b):
    """Whether two LaTeX texts read the same (spacing aside)."""
    def norm(t):
        return re.sub(r"\\[,;!]|\s|\\cdot|\\left|\\right", "", t)
    return norm(a) == norm(b)


def _uses(text, name):
    """Whether the LaTeX text uses the symbol name (t_{4}, not dt_{4} or t_{45})."""
    return re.search(r"(?<![A-Za-z\\])" + re.escape(name) + r"(?![A-Za-z0-9{])", text) \
        is not None


def _bare(text):
    return re.fullmatch(r"\\?[A-Za-z]+(\^\{[^{}]*\}|_\{[^{}]*\})*", text) is not None


def _wrap(text):
    return text if _bare(text) else r"\left(%s\right)" % text


def _text(text):
    """User text (a model's or a Jacobian's name) in a text-mode line."""
    return re.sub(r"([\\{}$&#^_%~])", lambda m: {"\\": r"\textbackslash{}", "^": r"\^{}",
                                                 "~": r"\~{}"}.get(m[1], "\\" + m[1]), text)


def _unbroadcast(text, shape, consumer_shape):
    """The sum a broadcast operand's adjoint needs (a bias: the sum over examples)."""
    if tuple(shape) == tuple(consumer_shape):
        return text
    if shape == ():
        return r"\textstyle\sum\left(%s\right)" % text
    axes = [k for k in (0, 1) if shape[k] == 1 and consumer_shape and consumer_shape[k] != 1]
    if axes == [1]:
        return over_columns(text, consumer_shape[1], not _bare(text))
    under = {(0,): r"_{\text{rows}}"}.get(tuple(axes), "")
    return r"\textstyle\sum%s\left(%s\right)" % (under, text) if consumer_shape else text


def _join(terms):
    """t1 + t2 - t3: a term's own leading minus replaces the plus."""
    text = terms[0]
    for term in terms[1:]:
        text += " - " + term[1:].lstrip() if term.startswith("-") else " + " + term
    return text


def _rows(lhs, rhs, note=None):
    """align rows: lhs &= rhs, broken into indented continuation lines when long."""
    rhs = breaks(transposes(rhs), LINE)
    rows = [r"%s &= %s" % (lhs, rhs[0])] + [r"&\qquad %s" % r for r in rhs[1:]]
    if note:
        rows[-1] += r" && %s" % note
    return rows


_NUMBER = re.compile(r"[+-]?(\d{1,30}(\.\d{0,30})?|\.\d{1,30})"     # 5, -2.5, .5
                     r"([eE][+-]?\d{1,3})?(/0*[1-9]\d{0,29})?")     # 1e-3, 3/4


def parse_at(text):
    """'a=5,b=3,c=2' -> {'a': 5, 'b': 3, 'c': 2} (numbers as SymPy numbers, kept exact).
    A value is a number as written (5, -2.5, 1e-3, 3/4), never an expression: the text is
    matched, not evaluated."""
    return {name: sp.Rational(value) for name, value in assignments(
        text, "--at", lambda value: value.isascii() and _NUMBER.fullmatch(value),
        "NAME=NUMBER, e.g. --at a=5,b=3,c=2")}


def assignments(text, option, valid, form):
    """The NAME=VALUE items of option's comma-separated text, in order, as (name, value)
    texts: each name an identifier given once, each value one that valid accepts (form
    says what is expected)."""
    pairs = {}
    for item in filter(None, (text or "").split(",")):
        name, _, value = (part.strip() for part in item.partition("="))
        if not (name.isidentifier() and valid(value)):
            raise SymgradError(f"{option}: {item[:40]!r} is not {form}")
        if name in pairs:
            raise SymgradError(f"{option}: {name} is given twice: give it once")
        pairs[name] = value
    return pairs.items()


def render(derivations, fmt="tex", at=None, steps=False):
    """The derivations of one model file as a standalone LaTeX document or as Markdown:
    the summary, or with steps=True the full trace."""
    if fmt not in ("tex", "md"):
        raise SymgradError(f"unknown format {fmt!r}: use tex or md")
    out = [PREAMBLE] if fmt == "tex" else []
    for d in derivations:
        title = f"Derivation of {_text(d.model.name)}"
        out.append(r"\section*{%s}" % title if fmt == "tex"
                   else f"# {_markdown(title)}\n")
        for heading, items in Explanation(d, at).sections(steps):
            if heading:
                out.append(r"\subsection*{%s}" % heading if fmt == "tex"
                           else "## %s\n" % _markdown(heading))
            for item in items:
                out.append(_block(item, fmt) if isinstance(item, list) else
                           (item.replace("--", "-{}-") if fmt == "tex"       # no en dash
                            else _markdown(item)) + "\n")
    if fmt == "tex":
        out.append(r"\end{document}")
        return unicode_tex("\n".join(out)) + "\n"       # pdflatex sets ASCII only
    return "\n".join(out) + "\n"


def _markdown(text):
    """A sentence of LaTeX's text mode for Markdown: \\_ is _ outside its $...$ math (in
    it, \\_ is the underscore of a name, y\\_true)."""
    return re.sub(r"(?<!\\)\$.*?(?<!\\)\$|\\_", lambda m: m[0] if m[0][0] == "$" else "_", text)


def _block(lines, fmt):
    if not lines:
        return ""
    body = " \\\\\n".join(lines)
    if fmt == "tex":
        return "\\begin{align*}\n%s\n\\end{align*}" % body
    return "$$\n\\begin{aligned}\n%s\n\\end{aligned}\n$$\n" % body.replace("&&", "&\\quad ")


def repr_latex(derivation):
    """For notebooks: the summary, its sections headed, its sentences as text beside
    display blocks (what Jupyter's MathJax renders)."""
    out = []
    for heading, items in Explanation(derivation).sections():
        if heading:
            out.append(heading if "$" in heading else r"$\textbf{%s}$" % heading)
        for item in items:
            out.append(_block(item, "md").strip() if isinstance(item, list) else
                       _markdown(item))
    return "\n\n".join(x for x in out if x)


def text(derivation):
    """repr(Derivation): the model, its loss and parameters, and the equations
    value_and_grad computes, in the docstrings' notation."""
    d = derivation
    p = planned(d, gradient_roots(d))
    names = statement_names(p.order, d.names.copy())
    math = MathNodePrinter(names, p.exprs)
    lines = [f"Derivation of {d.model.name}: {len(d.steps)} steps right to left, "
             f"loss {names.get(d.loss.id, 'loss')}, parameters "
             + ", ".join(x.name for x in d.params)]
    lines += [f"    {names[n.id]} = {math.rhs(n)}" for n in p.order if n.op != "leaf"]
    return "\n".join(lines)
