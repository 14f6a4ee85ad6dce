"""The computational graph as a picture: Graphviz DOT of a derivation's forward graph (one
node per node of symgrad's graph, edges labelled with shapes), with each node's value and
adjoint at a point, and its rendering to SVG or PNG by Graphviz's `dot`."""
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Mapping, Sequence

import numpy as np
import sympy as sp

from .errors import SymgradError
from .evaluate import values
from .explain import parse_at
from .graph import Node, text, topo
from .naming import numbered
from .testing import random_instance

FORMATS = ("svg", "png", "dot")
INSTALL = "install Graphviz: apt-get install graphviz / brew install graphviz"

_STYLE = {      # kind -> DOT attributes: parameters and inputs are leaves, drawn apart
    "param": 'shape=ellipse, style=filled, fillcolor="#cfe2ff"',
    "input": 'shape=ellipse, style="filled,dashed", fillcolor="#eeeeee"',
    "constant": "shape=plaintext",
    "op": 'shape=box, style="rounded"',
    "loss": 'shape=box, style="rounded,bold", peripheries=2',
}


def quote(label: str) -> str:
    """label as a DOT quoted string: control characters shown escaped (as repr shows them),
    then backslashes and quotes escaped, so no text can end the string or be one of dot's
    label escapes (\\N, \\G, \\l); a line break between lines is written by the caller."""
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in label)
    return '"%s"' % shown.replace("\\", "\\\\").replace('"', '\\"')


def _lines(*lines: str) -> str:
    """A DOT label of several centred lines, each escaped."""
    return '"%s"' % "\\n".join(quote(line)[1:-1] for line in lines)


def shape_text(shape) -> str:
    """`n_h × m`; empty for a scalar."""
    return " × ".join(sp.sstr(d) for d in shape)


def number(x: float, digits: int = 4) -> str:
    return f"{float(x):.{digits}g}"


def value_text(x) -> str:
    """A scalar (or 1 x 1) as its number, a small matrix as its entries, a larger one as its
    numeric shape and Frobenius norm."""
    x = np.asarray(x, dtype=float)
    if x.size == 1:
        return number(x.item())
    if x.size <= 3:
        return "[" + "; ".join(" ".join(number(v, 3) for v in row)
                               for row in np.atleast_2d(x)) + "]"
    return f"{' × '.join(map(str, x.shape))}, norm {number(float(np.linalg.norm(x)))}"


def dot_source(derivations: Sequence, at: Mapping | str | None = None, seed: int = 0) -> str:
    """The DOT source of the derivations' forward graphs (one cluster per model when there
    are several); with `at` (dimension and scalar values by name, or their text
    'a=5,b=3,c=2'), every node also shows its value and its adjoint there, matrices drawn at
    random (symgrad.testing.random_instance, seed)."""
    if isinstance(at, str):
        at = parse_at(at)
    elif at is not None:
        at = {name: sp.nsimplify(value) for name, value in at.items()}
    out = ["digraph symgrad {", '  rankdir=LR; fontname="Helvetica"; '
           'node [fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=10];']
    for k, d in enumerate(derivations):
        body = _model(d, at, seed, f"m{k}_")
        if len(derivations) == 1:
            out += [f"  label={quote(d.model.name)}; labelloc=t;"] + body
        else:
            out += [f"  subgraph cluster_{k} {{", f"    label={quote(d.model.name)};"] + \
                ["  " + line for line in body] + ["  }"]
    return "\n".join(out + ["}"]) + "\n"


def nodes(d) -> list[Node]:
    """The nodes a picture of d draws: the forward graph of its loss and outputs."""
    return topo([d.loss] + list(d.outputs.values()))


def _model(d, at, seed, prefix):
    order = nodes(d)
    taken = {n.name for n in order if n.name} | {x.name for x in d.model.dims}
    labels, unnamed = {}, numbered("t%d", taken)      # t1, t2, ...: no name of the model's
    for node in order:
        labels[node.id] = node.name or next(unnamed)
    numeric = _values(d, order, at, seed) if at is not None else None
    params = {p.id for p in d.params}
    loss = labels[d.loss.id]
    lines = []
    for node in order:
        kind = ("param" if node.id in params else "input") if node.op == "leaf" else \
            "constant" if node.is_constant else "loss" if node is d.loss else "op"
        title = labels[node.id] if node.op == "leaf" or node.is_constant else \
            f"{labels[node.id]} = {text(node, lambda a: labels[a.id])}"
        rows = [title]
        if numeric is not None:
            value, adjoint = numeric
            rows.append(f"= {value_text(value[node.id])}")
            if node.id in adjoint:
                rows.append(f"d{loss}/d{labels[node.id]} = {value_text(adjoint[node.id])}")
        lines.append(f'  {prefix}n{node.id} [label={_lines(*rows)}, class="{kind}", '
                     f"{_STYLE[kind]}];")
        for a in node.args:
            shape = shape_text(a.shape)
            lines.append(f"  {prefix}n{a.id} -> {prefix}n{node.id}" +
                         (f" [label={quote(shape)}];" if shape else ";"))
    return lines


def _values(d, order, at, seed):
    """({node id: value}, {node id: adjoint value}) at `at`: every dimension and scalar leaf
    given there, matrices random."""
    model, leaves = d.model, d.params + d.inputs
    wanted = [x.name for x in model.dims] + [x.name for x in leaves if x.shape == ()]
    missing = [name for name in wanted if name not in at]
    unknown = sorted(set(at) - set(wanted))
    if missing or unknown:
        example = ",".join(f"{name}={2 + k}" for k, name in enumerate(wanted))
        raise SymgradError(
            f"--at: {'no value for ' + ', '.join(missing) if missing else ''}"
            f"{'; ' if missing and unknown else ''}"
            f"{'unknown names ' + ', '.join(unknown) if unknown else ''} in model "
            f"{model.name}: give each of its dimensions and scalars, "
            + (f"e.g. --at {example}" if wanted else "none here: drop --at")
            + " (matrices are drawn at random, --seed)")
    dims = {}
    for x in model.dims:
        if not (at[x.name].is_Integer and at[x.name] > 0):
            raise SymgradError(f"--at: the dimension {x.name} = {at[x.name]} is not a "
                               "positive integer: give one, e.g. "
                               f"--at {x.name}=3")
        dims[x.name] = int(at[x.name])
    leaf_values = random_instance(model, dims, seed)
    leaf_values.update({x.name: float(at[x.name]) for x in leaves if x.shape == ()})
    adjoints = {step.node.id: step.adjoint for step in d.steps if step.adjoint is not None}
    with np.errstate(all="ignore"):
        value = values(order + list(adjoints.values()), leaf_values, dims)
    return value, {k: value[g.id] for k, g in adjoints.items() if k in value}


def render(dot: str, fmt: str) -> bytes:
    """The DOT source drawn by Graphviz's dot as fmt ("svg" or "png")."""
    exe = shutil.which("dot")
    if exe is None:
        raise SymgradError(f"Graphviz's dot, which draws the {fmt}, is not on PATH: {INSTALL} "
                           "(or write the DOT source, -o graph.dot)")
    done = subprocess.run([exe, f"-T{fmt}"], input=dot.encode(), capture_output=True,
                          check=False)
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
        raise SymgradError(f"Graphviz's dot failed ({why[0]}): please report it, with the "
                           "DOT source (-o graph.dot)")
    return done.stdout


def stamp(data: bytes, fmt: str, header: str) -> bytes:
    """data with header in it where a reader of its first bytes finds it: a comment on the
    first line of DOT and SVG (the SVG's XML declaration, optional, dropped), a tEXt chunk
    after a PNG's header chunk."""
    if fmt == "png":
        chunk = b"Software\0" + header.encode("latin-1", errors="replace")
        end = 8 + 8 + 13 + 4                       # signature, then IHDR
        return data[:end] + struct.pack(">I", len(chunk)) + b"tEXt" + chunk + \
            struct.pack(">I", zlib.crc32(b"tEXt" + chunk)) + data[end:]
    if fmt == "svg":
        body = data.decode()
        if body.startswith("<?xml"):
            body = body.split("\n", 1)[1]
        safe = re.sub("-(?=-)", "- ", header).replace("<", "&lt;").replace(">", "&gt;")
        return f"<!-- {safe} -->\n{body}".encode()
    return f"// {header}\n".encode() + data


class Picture:
    """A derivation's graph (dot_source); in a notebook it displays itself as SVG. `dot` is
    the source, `svg()` and `png()` the drawings."""

    def __init__(self, derivations: Sequence, at: Mapping | str | None = None, seed: int = 0):
        self.dot = dot_source(derivations, at, seed)

    def svg(self) -> str:
        return render(self.dot, "svg").decode()

    def png(self) -> bytes:
        return render(self.dot, "png")

    def _repr_svg_(self):
        return self.svg()

    def __repr__(self):
        return f"<symgrad.Picture: {self.dot.count(' -> ')} edges; .dot, .svg(), .png()>"
