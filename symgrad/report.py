"""One self-contained HTML page per model file (`symgrad report`): the derivation as MathML,
the computational graph as inline SVG, the generated module, and the checks' results.

Nothing in it loads anything: the math is MathML (converted from the derivation's LaTeX by
latex2mathml, which browsers lay out natively), the graph is Graphviz's SVG written into the
page, the style is in the page. User text reaches it only escaped (html.escape), or through
the derivation's LaTeX, which escapes names itself and which latex2mathml escapes again.
"""
import html
import re
from xml.etree import ElementTree
from collections.abc import Mapping, Sequence

import latex2mathml.converter

from .certify import certify
from .codegen import module_source
from .errors import SymgradError
from .explain import Explanation
from .picture import Picture
from .testing import check_model

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #1b1b1b; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2rem; } h3 { font-size: 1.1rem; }
table.eq { border-collapse: collapse; margin: 0.6rem 0; }
table.eq td { padding: 0.15rem 0.4rem; vertical-align: baseline; }
table.eq td.lhs { text-align: right; } table.eq td.note { color: #555; padding-left: 2rem; }
math { font-size: 1.08em; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
.ok { color: #17692b; } .fail { color: #a11; font-weight: bold; }
.graph svg { max-width: 100%; height: auto; }
"""


def page(derivations: Sequence, title: str, at: Mapping | None = None,
         steps: bool = False, seed: int = 0) -> str:
    """The report's HTML for the derivations of one model file."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for d in derivations:
        name = html.escape(d.model.name)
        source = module_source(d)
        body.append(f'<h2 id="{_anchor(d.model.name)}">Model {name}</h2>')
        body.append("<h3>Checks</h3>" + _checks(d, source))
        body.append("<h3>The computational graph</h3>" + _graph(d, at, seed))
        for heading, items in Explanation(d, at).sections(steps):
            if heading:
                body.append(f"<h3>{_inline(heading)}</h3>")
            for item in items:
                body.append(_table(item) if isinstance(item, list) else
                            f"<p>{_inline(item)}</p>")
        body.append(f"<h3>The generated module, generated/{name}.py</h3>"
                    f"<pre><code>{html.escape(source)}</code></pre>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def _anchor(name):
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)


def _checks(d, source):
    """The certification (the module against the model's own SymPy expression) and the
    relative errors of `symgrad check`, each marked."""
    try:
        certify(d.model, source)
        certified = ('<p class="ok">Certified: the module agrees with an evaluation of the '
                     "model's SymPy expression at tiny dimensions.</p>")
    except SymgradError as e:
        certified = f'<p class="fail">Not certified: {html.escape(str(e))}</p>'
    report = check_model(d.model)
    mark = '<span class="ok">passed</span>' if report.passed else \
        '<span class="fail">FAILED</span>'
    return (certified + f"<p>Check against SymPy, {mark}:</p>"
            f"<pre>{html.escape(report.text())}</pre>")


def _graph(d, at, seed):
    try:
        svg = Picture([d], at, seed).svg()
    except SymgradError as e:          # no Graphviz: the rest of the report still helps
        return f"<p>(No picture: {html.escape(str(e))}.)</p>"
    svg = svg[svg.index("<svg"):]        # the XML declaration and DOCTYPE stay out
    return f'<div class="graph">{svg}</div>'


_MATHML = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup",
           "msubsup", "mfrac", "msqrt", "mroot", "mstyle", "mtable", "mtr", "mtd", "mover",
           "munder", "munderover", "mpadded", "mphantom", "menclose", "mfenced", "merror",
           "mmultiscripts", "mprescripts", "none", "semantics", "annotation"}


def _math(tex, display=False):
    """MathML of tex, checked: latex2mathml copies \\text{...} (and \\href, \\style) into its
    output as written, so raw LaTeX from sg.tex could put a <script> in the page. Output with
    an element that is not MathML, a link or a style, or that is not XML, shows as the
    escaped LaTeX instead."""
    out = latex2mathml.converter.convert(
        tex.replace(r"\qquad", r"\quad").strip(), display="block" if display else "inline")
    try:
        root = ElementTree.fromstring(out)
    except ElementTree.ParseError:
        root = None
    if root is None or any(e.tag.rpartition("}")[2] not in _MATHML or any(
            a.rpartition("}")[2] in ("href", "style", "src") or a.startswith("on")
            for a in e.attrib) for e in root.iter()):
        return f'<code class="tex">{html.escape(tex)}</code>'
    return out


def _inline(text):
    """A sentence with $...$ math: escaped text, MathML math."""
    parts = re.split(r"(?<!\\)\$(.+?)(?<!\\)\$", text)      # \$ is a dollar sign
    return "".join(_math(p) if k % 2 else html.escape(_plain(p)) for k, p in enumerate(parts))


def _plain(text):
    """LaTeX's text escapes as the characters they stand for."""
    return re.sub(r"\\([_%&#$])", r"\1", text).replace("-{}-", "--")


def _table(rows):
    """align rows (lhs &= rhs && note, or &\\qquad rhs continuing the last) as a table."""
    out = ['<table class="eq">']
    for row in rows:
        equation, _, note = row.partition("&&")
        lhs, eq, rhs = equation.partition("&=")
        if not eq:                       # a continuation: &\qquad rhs
            lhs, rhs = "", equation.lstrip("&")
        cells = [f'<td class="lhs">{_math(lhs) if lhs.strip() else ""}</td>',
                 f"<td>{_math(('= ' if eq else '') + rhs)}</td>",
                 f'<td class="note">{_math(note) if note.strip() else ""}</td>']
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(out + ["</table>"])
