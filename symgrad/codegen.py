"""Derivation -> template context -> jinja2 -> compile() -> the generated module's source."""
import ast
import functools
import re
from pathlib import Path

import jinja2
import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from . import __version__
from .derive import topo
from .errors import SymgradError
from .liveness import reuse_and_free
from .printing.numpy import HELPERS, NodePrinter, ScalarMathPrinter
from .schedule import plan

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
if not TEMPLATES.is_dir():                     # installed without the source tree
    TEMPLATES = Path(__file__).resolve().parent / "templates"


def _environment():
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)


def module_source(derivation):
    """The generated module's text for one derivation (deterministic: same model, same bytes)."""
    d = derivation
    model = d.model
    functions, helpers = [], set()
    outputs = d.outputs or {"loss": d.loss}
    fwd_inputs = _needed_inputs(d, list(outputs.values()))
    arrays = [x.name for x in d.params + d.inputs if x.shape != ()]
    scalar = functools.partial(_scalar, arrays=arrays)
    specs = [
        ("forward", d.params + fwd_inputs, list(outputs.values()),
         "The model's outputs " + ", ".join(outputs) + ", in a dict.",
         lambda names: "{%s}" % ", ".join("%r: %s" % (k, names[n.id])
                                          for k, n in outputs.items())),
        ("loss", d.params + d.inputs, [d.loss], "The loss, a scalar.",
         lambda names: scalar(d.loss, names)),
        ("value_and_grad", d.params + d.inputs, [d.loss] + _backprop_order(d),
         "(loss, grads): grads in PARAMS order, each shaped like its parameter.",
         lambda names: "%s, %s" % (scalar(d.loss, names), _tuple(
             [_grad(p, g, names, arrays) for p, g in zip(d.params, d.grads)], quote=False))),
    ]
    for name, args, roots, summary, returns in specs:
        functions.append(_function(d, name, args, roots, summary, returns, helpers))
    context = dict(
        version=__version__, source=model.source[0] if model.source else "<memory>",
        digest=model.source[1] if model.source else "-", title=_title(model),
        params=_tuple([p.name for p in d.params]), inputs=_tuple([x.name for x in d.inputs]),
        shapes="{%s}" % ", ".join("%r: %s" % (x.name, _tuple([str(s) for s in x.shape]))
                                  for x in d.params + d.inputs),
        helpers=[HELPERS[h] for h in sorted(helpers)], functions=functions)
    text = _environment().get_template("module.py.j2").render(**context)
    compile(text, f"{model.name}.py", "exec")
    return text


def _title(model):
    return f"Model {model.name}: forward, loss and value_and_grad."


def _tuple(items, quote=True):
    texts = [repr(i) if quote else i for i in items]
    return "(%s,)" % texts[0] if len(texts) == 1 else "(%s)" % ", ".join(texts)


def _scalar(node, names, arrays):
    """A scalar result: a NumPy scalar of the arrays' dtype (np.float32 for float32 input;
    np.float64 is a Python float), or a Python float when no argument is an array."""
    text = names[node.id] if node.shape == () else f"{names[node.id]}[0, 0]"
    if not arrays:
        return f"float({text})"
    return f"{arrays[0]}.dtype.type({text})" if node.is_constant else text


def _grad(param, grad, names, arrays):
    if param.shape == ():
        return _scalar(grad, names, arrays)
    if grad.is_constant:
        return f"np.full_like({param.name}, {names[grad.id]})"
    return names[grad.id]


def _backprop_order(d):
    """The gradients, the last-used parameter's first, as backprop finds them: each layer's
    dW and db are computed as soon as its dZ is, so dZ can be freed before the next layer."""
    order = topo([d.loss])
    first_use = {}
    for k, node in enumerate(order):
        for a in node.args:
            first_use.setdefault(a.id, k)
    ranked = sorted(zip(d.params, d.grads), key=lambda pg: -first_use.get(pg[0].id, -1))
    return [g for _, g in ranked]


def _needed_inputs(d, roots):
    reached = {n.id for n in topo(roots)}
    return [x for x in d.inputs if x.id in reached]


def _function(d, name, args, roots, summary, returns, helpers):
    p = plan(roots)
    names = _names(p)
    code = NodePrinter(p, names)
    math = NodePrinter(p, names, ScalarMathPrinter, math=True)
    body, doc = [], []
    fresh = _fresh(set(names.values()) | {a.name for a in args})
    for node in p.order:
        if node.op == "leaf":
            continue
        try:
            body.extend(code.lines(node, names[node.id], fresh))
        except PrintMethodNotImplementedError as e:
            raise _unprintable(e, node) from e
        doc.append(f"{names[node.id]} = {math.rhs(node)}")
    for node in roots:
        if node.id not in names:
            names[node.id] = code.operand(node)[0]
    helpers |= code.helpers
    returned = returns(names)
    keep = {a.name for a in args} | {n.id for n in ast.walk(ast.parse(returned))
                                     if isinstance(n, ast.Name)}
    shapes = {names[n.id]: n.shape for n in p.order}
    body = _bind_dims(args, helpers) + reuse_and_free(body, keep, shapes)
    return dict(name=name, args=", ".join(a.name for a in args), summary=summary,
                doc=doc, body=body, returns=returned)


def _unprintable(error, node):
    what = str(error).strip().splitlines()[0].rsplit(": ", 1)[-1].split("(")[0]
    return SymgradError(
        f"unsupported function {what} (needed for {node.name or 'an intermediate'}): NumPy has "
        f"no equivalent; rewrite the model without it, or add _print_{what} to "
        "symgrad/printing/numpy.py")


def _names(p):
    """Statement names: the node's own, else t1, t2, ... avoiding every name in use."""
    taken = {n.name for n in p.order if n.name}
    for node in p.order:
        taken |= {a.name for a in node.args if a.op == "leaf"}
        taken |= {str(s) for d in node.shape for s in sp.sympify(d).free_symbols}
    fresh = _fresh(taken)
    return {node.id: node.name or fresh() for node in p.order}


def _fresh(taken, prefix="t"):
    """A function returning prefix1, prefix2, ... skipping names in taken (and adding them)."""
    counter = iter(range(1, 1 << 30))

    def fresh():
        while True:
            name = f"{prefix}{next(counter)}"
            if name not in taken:
                taken.add(name)
                return name
    return fresh


def _bind_dims(args, helpers):
    """Bind each dimension symbol once, from the first argument that has it, and check every
    later argument against it (a cheap tuple comparison; the message is built on failure)."""
    lines, bound = [], {}
    for a in args:
        if a.shape == ():
            continue
        dims = [sp.sympify(d) for d in a.shape]
        new = [k for k, d in enumerate(dims) if d.is_Symbol and d.name not in bound]
        if len(new) == 2 and dims[0] == dims[1]:
            new = [0]
        if len(new) == 2:
            lines.append(f"{dims[0].name}, {dims[1].name} = {a.name}.shape")
        for k in new:
            if len(new) == 1:
                lines.append(f"{dims[k].name} = {a.name}.shape[{k}]")
            bound[dims[k].name] = (a.name, k)
        if len(new) == 2:
            continue
        expected = []
        for k, d in enumerate(dims):
            if d.is_Symbol:
                source, axis = bound[d.name]
                expected.append((d.name, d.name, repr(source), str(axis)))
            elif d.is_Integer:
                expected.append((str(d), str(d), "None", "0"))
        if len(expected) == 2:
            helpers.add("_shape_error")
            want = "(%s)" % ", ".join(e[1] for e in expected)
            spec = ", ".join("(%r, %s, %s, %s)" % (e[0], e[1], e[2], e[3]) for e in expected)
            lines.append(f"if {a.name}.shape != {want}:")
            lines.append(f"    _shape_error({a.name!r}, {a.name}.shape, ({spec}))")
    return lines
