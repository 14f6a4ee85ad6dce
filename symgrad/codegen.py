"""Derivation -> template context -> jinja2 -> compile() -> the generated module's source."""
import ast
import functools
import os
import re
import textwrap
from pathlib import Path

import jinja2
import numpy as np
import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from . import __version__
from .dims import default_dims, examples_sentence
from .errors import SymgradError
from .graph import placeholder, topo
from . import ir
from .liveness import passes
from .naming import statement_names
from .printing import array_api
from .fusion import sigmoid_from_softplus, softmax_from_logsumexp, stable_logsumexp_differences
from .products import forms as product_forms, last_forms
from .printing.numpy import (FastNumPyNodePrinter, MathNodePrinter, PlainNumPyNodePrinter,
                             ScalarNumPyPrinter, region_index)
from .schedule import gradient_roots, planned
from . import workspace

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
if not TEMPLATES.is_dir():                     # installed without the source tree
    TEMPLATES = Path(__file__).resolve().parent / "templates"


# the styles of generated code: the printer of its statements, and whether the passes run
# over them (the products' forms, then out= reuse and del). fast, the default, runs them;
# plain is the code of a course's solution, each equation one statement, a @ b for every
# product, no in-place arithmetic
STYLES = {"fast": (FastNumPyNodePrinter, True), "plain": (PlainNumPyNodePrinter, False)}
# the targets: the array libraries a module runs on, and the styles each has (its first, the
# default). array-api: any library of the Python array API standard, from the arguments;
# pure code only (no out=, no in place), hence one style, plain's, with xp.<function> calls
TARGETS = {"numpy": tuple(STYLES), "array-api": ("plain",)}
_PRINTERS = {**STYLES, "array-api": (array_api.ArrayAPINodePrinter, False)}


def check_style(style):
    """Raise SymgradError unless style is one of STYLES."""
    if not isinstance(style, str) or style not in STYLES:
        raise SymgradError(f"unknown style {style!r}: choose one of {', '.join(STYLES)} "
                           "(fast is the default)")


def check_target(target, style=None):
    """Raise SymgradError unless target is one of TARGETS and has style (None: its default);
    the style, resolved."""
    if not isinstance(target, str) or target not in TARGETS:
        raise SymgradError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)} "
                           "(numpy is the default)")
    if style is None:
        return TARGETS[target][0]
    check_style(style)
    if style not in TARGETS[target]:
        raise SymgradError(f"--style {style} is not available with --target {target} (its code "
                           f"is pure: no out=, no in-place updates): drop --style, or use "
                           f"--style {' or '.join(TARGETS[target])}")
    return style


def check_workspace(workspace, target, style):
    """Raise SymgradError if a workspace is asked for where its code cannot be written: it
    writes into arrays, so the NumPy target's fast style only."""
    if workspace and (target, style) != ("numpy", "fast"):
        raise SymgradError(f"--workspace needs --target numpy --style fast (it writes into its "
                           f"buffers), not --target {target} --style {style}: drop one of them")


def _environment():
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
    # a paragraph of a docstring, its lines filled again to 92 characters
    env.filters["paragraph"] = lambda text: textwrap.fill(" ".join(text.split()), 92)
    # a comment of any length (a long model file name), in lines of at most 100 characters
    env.filters["comment"] = lambda text: "\n".join(textwrap.wrap(
        text, 100, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False))
    return env


def module_source(derivation, style="fast", target="numpy", workspace=False):
    """The generated module's text for one derivation (deterministic: same model, same bytes),
    in one of STYLES, for one of TARGETS (see check_target); workspace: with workspace() and
    value_and_grad(..., workspace=) (symgrad/workspace.py; see check_workspace)."""
    style = check_target(target, style)
    check_workspace(workspace, target, style)
    if target != "numpy":          # the drafts' key into _PRINTERS
        style = target
    d = derivation
    model = d.model
    functions = []
    outputs = d.outputs or {"loss": d.loss}
    fwd_inputs = _needed_inputs(d, list(outputs.values()))
    arrays = [x.name for x in d.params + d.inputs      # those giving the dtype: not labels
              if x.shape != () and x.symbol not in model.labels]
    calls = _PRINTERS[style][0].calls
    scalar = functools.partial(_scalar, arrays=arrays, calls=calls, first=d.params[0].name)
    specs = [
        ("forward", d.params + fwd_inputs, list(outputs.values()),
         "The model's outputs " + ", ".join(outputs) + ", in a dict.",
         lambda names, array: "{%s}" % ", ".join("%r: %s" % (k, array(n))
                                                 for k, n in outputs.items())),
        ("loss", d.params + d.inputs, [d.loss], "The loss, a scalar.",
         lambda names, array: scalar(d.loss, names)),
        ("value_and_grad", d.params + d.inputs, gradient_roots(d),
         "(loss, grads): grads in PARAMS order, each shaped like its parameter.",
         lambda names, array: "%s, %s" % (scalar(d.loss, names), _tuple(
             [_grad(p, g, names, arrays, array, calls) for p, g in zip(d.params, d.grads)],
             quote=False))),
    ]
    tangents = d.hessian.tangents if d.hessian else []
    dims = _Dims(d.params + d.inputs + tangents, d.params + fwd_inputs,
                 _shapes_source(tangents))
    drafts = [_Draft(d, args, roots, (), style) for _, args, roots, _, _ in specs]
    shared: _Shared | None = _Shared(drafts)
    if not shared.worth_it():
        shared = None
    for (name, _, _, summary, returns), draft in zip(specs, drafts):
        functions.append(_function(d, name, draft, summary, returns, dims, shared=shared))
        if name == "value_and_grad" and workspace:
            functions += _workspace(d, functions[-1], draft, returns, dims)
    for jac in d.jacobians:
        functions += _jacobian(d, jac, dims, style)
    if d.hessian:
        functions += _hessian(d, arrays, dims, style)
    if d.params and target == "numpy":        # NumPy's random numbers: the NumPy target's
        functions.append(_init(d))
    functions[:0] = ([dims.function()] if dims.lines else []) \
        + ([shared.function()] if shared else [])
    if target == "array-api":          # xp: the namespace of each function's arguments,
        matrices = {x.name for x in d.params + d.inputs if x.shape != ()}    # once checked
        for f in functions:
            checked = next((k for k, x in enumerate(f["body"])
                            if not re.search(r" = _(arrays|labels)\(", x)), len(f["body"]))
            if "xp." in "\n".join(f["body"] + [f["returns"] or ""]):
                f["body"].insert(checked, array_api.namespace_line(f["args"]))
            elif not f["name"].startswith("_") and matrices & set(re.findall(r"\w+", f["args"])):
                f["body"].insert(checked, array_api.namespace_line(f["args"], bound=False))
    runtime = _PRINTERS[style][0].runtime
    called = _called([x for f in functions for x in f["body"] + [f["returns"] or ""]], runtime)
    prelude = array_api.prelude(called, [x for f in functions for x in f["body"]]) \
        if target == "array-api" else ""
    for f in functions:
        f["summary"] = "\n    ".join(textwrap.wrap(f["summary"], 92))
        f["doc"] = [x for line in f["doc"] for x in _doc_lines(line)]
        f["body"] = [x for line in f["body"] for x in _wrapped(line, 96)]
        f["signature"] = "\n".join(_wrapped(f"def {f['name']}({f['args']}):", 100, 8))
        if f["returns"]:
            f["returns"] = "\n    ".join(_wrapped("return " + f["returns"], 96))[len("return "):]
    context = dict(
        version=__version__, source=model.source[0] if model.source else "<memory>",
        digest=model.source[1] if model.source else "-", title=_title(model),
        style=style, target=target, prelude=prelude, workspace=workspace,
        examples=examples_sentence(d.params, d.inputs),
        params="\n".join(_wrapped("PARAMS = " + _tuple([p.name for p in d.params]), 100)),
        inputs="\n".join(_wrapped("INPUTS = " + _tuple([x.name for x in d.inputs]), 100)),
        shapes="\n".join(_wrapped("SHAPES = {%s}" % ", ".join(
            "%r: %s" % (x.name, _tuple([str(s) for s in x.shape])) for x in d.params + d.inputs),
            100, depth=1)),
        labels="{%s}" % ", ".join("%r: %r" % (y.name, str(k)) for y, k in model.labels.items())
        if model.labels else None,
        helpers=[source for h, source in sorted(runtime.items()) if h in called],
        functions=functions)
    text = _environment().get_template("module.py.j2").render(**context)
    compile(text, f"{model.name}.py", "exec")
    return text


def tests_source(model, model_file, module_file, tests_dir, n_dims=3):
    """The text of test_<model>.py: pytest checks of the module at module_file against central
    differences and against SymPy on the model in model_file. Paths in it are relative to
    tests_dir and the dimension cases come from fixed seeds, so the bytes depend only on the
    model and the layout."""
    cases = list(dict.fromkeys(
        tuple(default_dims(model, seed).items()) for seed in range(n_dims)))

    def relative(path):
        return Path(os.path.relpath(Path(path).resolve(), Path(tests_dir).resolve())).as_posix()

    context = dict(
        version=__version__, source=model.source[0] if model.source else "<memory>",
        digest=model.source[1] if model.source else "-", name=model.name,
        name_literal=repr(model.name), model_path=relative(model_file),
        module_path=relative(module_file), rtol="1e-6", sympy_rtol="1e-10",
        model_file="\n".join(_wrapped(f"MODEL_FILE = HERE / {relative(model_file)!r}", 100)),
        module_file="\n".join(_wrapped(f"MODULE_FILE = HERE / {relative(module_file)!r}", 100)),
        dims_cases=["\n".join(_wrapped(f"    {dict(c)!r},", 100)) for c in cases])
    text = _environment().get_template("test_module.py.j2").render(**context)
    compile(text, f"test_{model.name}.py", "exec")
    return text


def _title(model):
    extra = [f"jacobian_{k}" for k in model.jacobians]
    extra += ["hessian_vector_product", "hessian"] if model.hessian else []
    return f"Model {model.name}: forward, loss and value_and_grad" + \
        "".join(f", {e}" for e in extra) + "."


def _size(shape):
    """The number of entries of a shape, as Python source (1 for a scalar)."""
    return str(sp.Mul(*shape))


def _fewer_products(out, wrt):
    """The order with fewer products, as Python source: a constant where the sizes compare
    the same at every dimension (n**2 against n**2), else a comparison at run time."""
    n_out, n_wrt = sp.Mul(*out), sp.Mul(*wrt)
    excess = sp.expand(n_out - n_wrt)             # the dimensions are positive integers
    if excess.is_nonpositive:
        return '"reverse"'
    if excess.is_positive:
        return '"forward"'
    return f'"reverse" if {n_out} <= {n_wrt} else "forward"'


def _jacobian(d, jac, dims, style):
    """jacobian_<name> picks an order by the sizes; the two orders are private functions."""
    args, out, wrt = d.params + d.inputs, jac.output, jac.wrt
    label = out.name or "the output"
    call = "(%s)" % ", ".join(a.name for a in args)
    n_out, n_wrt = _size(out.shape), _size(wrt.shape)
    shape = _tuple([str(s) for s in out.shape + wrt.shape], quote=False)
    to = shape if shape != "()" else "(())"      # .reshape(()) of a scalar by a scalar
    private = f"_jacobian_{jac.name}_"
    calls = _PRINTERS[style][0].calls
    rest = _labels_in_range(args, d) + [
        'if mode == "auto":',
        f'    mode = {_fewer_products(out.shape, wrt.shape)}',
        'if mode not in ("reverse", "forward"):',
        '    raise ValueError(f"mode must be \'reverse\', \'forward\' or \'auto\', '
        'not {mode!r}")'] + _wrapped(f'order = {private}reverse if mode == "reverse" else '
                                     f'{private}forward')
    dispatch = dict(
        name=f"jacobian_{jac.name}", args=", ".join(a.name for a in args) + ', mode="auto"',
        summary=f"J[i, j, k, l] = d {label}[i, j] / d {wrt.name}[k, l], an array of shape "
                f"{shape}.",
        doc=[f"mode 'reverse': one vector-Jacobian product per entry of {label} ({n_out})",
             f"mode 'forward': one Jacobian-vector product per entry of {wrt.name} ({n_wrt})",
             "mode 'auto': the order with fewer products"],
        body=_validate(args, d) + dims.call(args, rest, f"order{call}") + rest,
        returns=f"order{call}")
    reverse = _function(
        d, private + "reverse", _Draft(d, args, [jac.reverse], [jac.seed], style),
        f"d {label} / d {wrt.name} right to left, all seeds {jac.seed.name}[k] = e_k at once "
        "(a batch axis).",
        lambda names, array: calls["reshape"].format(value=array(jac.reverse), shape=to),
        dims, public=False)
    forward = _function(
        d, private + "forward", _Draft(d, args, [jac.forward], [jac.tangent], style),
        f"d {label} / d {wrt.name} left to right, all seeds {jac.tangent.name}[k] = e_k at "
        "once (a batch axis).",
        lambda names, array: calls["reshape"].format(value=calls["reshape"].format(
            value=array(jac.forward), shape=f"({n_wrt}, {n_out})") + ".T", shape=to),
        dims, public=False)
    return [dispatch, reverse, forward]


def _hessian(d, arrays, dims, style):
    """hessian_vector_product (forward over reverse) and the full Hessian (every tangent);
    arrays: the names of the array arguments, as for value_and_grad."""
    h, args = d.hessian, d.params + d.inputs
    roots = [t for t in h.products if t is not None]
    calls = _PRINTERS[style][0].calls

    def products(names, array):
        return _tuple([_grad(p, t, names, arrays, array, calls) if t is not None
                       else _zero(p, calls)
                       for p, t in zip(d.params, h.products)], quote=False)
    hvp = _function(
        d, "hessian_vector_product", _Draft(d, args + h.tangents, roots, (), style),
        "H v forward over reverse: the tangents of the gradients along the tangents "
        + ", ".join(t.name for t in h.tangents) + ", in PARAMS order.", products, dims)
    sizes = [sp.Mul(*p.shape) for p in d.params]
    total = str(sp.Add(*sizes))

    def blocks(names, array):        # a new array: np.concatenate copies
        def zeros(shape):
            return calls["zeros"].format(shape=shape, array=arrays[0]) if arrays \
                else f"np.zeros({shape})"
        if len(sizes) == 1:             # one parameter: its block, an array of its own
            t = h.products[0]
            return calls["reshape"].format(value=array(t), shape=f"(-1, {sizes[0]})") \
                if t is not None else zeros(f"({total}, {total})")
        return calls["concat"].format(parts=_tuple([
            calls["reshape"].format(value=names[t.id], shape=f"(-1, {size})") if t is not None
            else zeros(f"({total}, {size})") for t, size in zip(h.products, sizes)],
            quote=False))
    full = _function(
        d, "hessian", _Draft(d, args, roots, h.tangents, style),
        f"The Hessian of the loss, ({total}, {total}): rows and columns follow the entries "
        "of PARAMS, each flattened in C order (forward over reverse, one tangent per entry).",
        blocks, dims)
    return [hvp, full]


def _init(d):
    """init_params: initial parameters by their role in the model, found in the graph: a
    weight is an operand of a matrix product (its fan-in the axis the product sums over), a
    scale a factor of an elementwise product (1), anything else a bias (0)."""
    fan_in: dict[str, int] = {}
    ones: set[str] = set()
    params = {p.id: p for p in d.params}
    for node in topo([d.loss]):
        for k, a in enumerate(node.args):
            flipped = a.op == "transpose"
            p = params.get(a.args[0].id if flipped else a.id)
            if p is None:
                continue
            if node.op == "matmul":       # W @ X sums over W's columns, X @ W over W's rows
                fan_in.setdefault(p.name, (1 if k == 0 else 0) ^ flipped)
            elif node.op == "map":
                slope = sp.diff(node.expr, placeholder(k))
                if not slope.is_number and placeholder(k) not in slope.free_symbols:
                    ones.add(p.name)
    weights = [p for p in d.params if p.name in fan_in]
    scales = [p.name for p in d.params if p.name in ones and p.name not in fan_in]
    biases = [p.name for p in d.params if p.name not in fan_in and p.name not in ones]
    doc = [f"{', '.join(p.name for p in weights)}: weights, of fan-in (the inputs a unit "
           "sums) " + ", ".join(str(p.shape[fan_in[p.name]]) for p in weights),
           "  scheme 'he' N(0, 2/fan-in), for ReLU; 'xavier' N(0, 1/fan-in), for tanh;",
           "  'small' 0.01 N(0, 1); 'zeros' 0"] if weights else []
    doc += [f"{', '.join(scales)}: 1 (scales)"] * bool(scales)
    doc += [f"{', '.join(biases)}: 0"] * bool(biases)
    fans = "{%s}" % ", ".join(f"{p.name!r}: {fan_in[p.name]}" for p in weights)
    return dict(name="init_params", args='dims, scheme="he", seed=None', doc=doc, body=[],
                summary="Initial parameters in PARAMS order, sized by dims ({dimension: "
                "size}); seed: for NumPy's default_rng.",
                returns=f"_init_params(SHAPES, PARAMS, dims, scheme, seed, {fans}"
                + (f", {_tuple(scales)}" if scales else "") + ")")


def _zero(param, calls):
    return "0.0" if param.shape == () else calls["zeros_like"].format(like=param.name)


def _tuple(items, quote=True):
    texts = [repr(i) if quote else i for i in items]
    return "(%s,)" % texts[0] if len(texts) == 1 else "(%s)" % ", ".join(texts)


def _scalar(node, names, arrays, calls, first=None):
    """A scalar result: a NumPy scalar of the arrays' dtype (np.float32 for float32 input;
    np.float64 is a Python float; a 0-d array of their library for the array API), or a
    Python float when no argument is an array (the array API: what the scalar arguments'
    arithmetic gives, a 0-d array of theirs; a constant, of first's type, dtype and device);
    calls: the printer's (see NumPyNodePrinter)."""
    text = names[node.id] if node.shape == () else f"{names[node.id]}[0, 0]"
    if not arrays:          # a constant: of the arguments' type (np.float32 stays so)
        return calls["number"].format(first=first, value=text) if node.is_constant else text
    return calls["scalar"].format(array=arrays[0], value=text) if node.is_constant else text


def _grad(param, grad, names, arrays, array, calls):
    if param.shape == ():
        return _scalar(grad, names, arrays, calls, param.name)
    if grad.is_constant:
        return calls["full_like"].format(like=param.name, value=names[grad.id])
    return array(grad)


def _needed_inputs(d, roots):
    """The inputs the roots read, and those that bind a dimension the roots use but no
    parameter nor read input has (an output sum(W)*log(m), m the examples' count)."""
    nodes = topo(roots)
    reached = {n.id for n in nodes}
    used = {s for n in nodes for x in (*n.shape, n.expr) if isinstance(x, sp.Basic)
            for s in x.free_symbols}
    bound = {s for x in d.params + d.inputs if x.id in reached or x in d.params
             for dim in x.shape for s in sp.sympify(dim).free_symbols}
    needed = []
    for x in d.inputs:
        dims = {s for dim in x.shape for s in sp.sympify(dim).free_symbols}
        if x.id in reached or dims & used - bound:
            needed.append(x)
            bound |= dims
    return needed


class _Draft:
    """One function's statements before the passes: for each statement node, its lines and
    its docstring equation (see _draft); what the passes and the returns need besides."""

    def __init__(self, d, args, roots, seeds, style):
        self.args, self.roots, self.seeds = args, roots, seeds
        printer, self.reuses = _PRINTERS[style]
        self.p = p = planned(d, roots)
        used = d.names.copy()           # every name of the module, then this function's
        self.names = names = statement_names(p.order, used)
        self.dims = {str(x) for a in args for dim in a.shape for x in sp.sympify(dim).free_symbols}
        batch = used.unique("n_seeds") if seeds else None
        self.fresh = used.fresh
        self.batched = batched = _depending(roots, seeds)
        self.floats = [a for a in args if a.symbol not in d.model.labels]  # they give the dtype
        arrays = [a.name for a in self.floats if a.shape != ()]
        dtype = f"{arrays[0]}.dtype" if arrays else "np.float64"
        self.code = code = printer(p, names, batched=batched, batch=batch, dtype=dtype)
        math = MathNodePrinter(names, p.exprs)
        self.batch, self.groups = batch, []     # [(name, lines, equation, comment)]
        known = {a.name for a in args} | self.dims | {s.name for s in seeds} | {batch}
        through, line_of, block = _differentiates(d, p), {}, None    # Tangent's comments
        for node in p.order:
            if node.op == "leaf":
                continue
            forward, comment = line_of.get(through.get(node.id), block), None
            if forward != block:
                block = forward
                comment = f"# back through {forward}" if len(forward) < 80 \
                    else f"# back through {forward.split(' = ')[0]}"
            try:
                lines = code.lines(node, names[node.id], self.fresh)
            except PrintMethodNotImplementedError as e:
                raise _unprintable(str(e).strip().splitlines()[0].rsplit(": ", 1)[-1],
                                   _needed_for(d, node, roots)) from e
            expr = p.exprs.get(node.id, [node.expr])[0]
            unknown = _unresolved(lines, known | set(code.runtime) | code.modules)
            if unknown:
                raise _unprintable(unknown, _needed_for(d, node, roots), expr)
            known.add(names[node.id])
            equation = f"{names[node.id]} = {math.rhs(node)}"
            self.groups.append((names[node.id], lines, equation, comment))
            if not node.derived:
                line_of[node.id] = equation
        for node in roots:
            if node.id not in names:
                names[node.id] = code.operand(node)[0]
        # a batched array (leading seed axis) never shares memory with an unbatched one
        # (a batched scalar is a stack of 1 x 1 matrices)
        axis = sp.Dummy("batch")
        self.shapes = {names[n.id]: (axis, *(n.shape or (1, 1))) if n.id in batched
                       else tuple(n.shape) for n in p.order}
        self.shapes |= {x: () for x in self.dims} | {a.name: tuple(a.shape) for a in args} \
            | {s.name: (axis, *(s.shape or (1, 1))) for s in seeds}

    def rewritten(self, stmts, keep, given=()):
        """The statements after the style's passes: in every style a logsumexp's differences
        without cancellation (fusion.stable_logsumexp_differences); in the fast style also
        sigmoids from softplus and softmaxes from logsumexp (fusion.py), the products' forms,
        then out= reuse and frees (keep: the names that must survive; given: arrays bound
        before the statements that nothing else holds)."""
        if not self.reuses:
            return stable_logsumexp_differences(stmts, self.shapes, self.fresh, keep)
        stmts = sigmoid_from_softplus(stmts, self.shapes, self.fresh)
        stmts = softmax_from_logsumexp(stmts, self.shapes, self.fresh, keep)
        stmts = stable_logsumexp_differences(stmts, self.shapes, self.fresh, keep)
        stmts = product_forms(stmts, self.shapes, keep)
        return passes(stmts, keep, self.shapes, self.fresh, given)

    def returned(self):
        """The names the returned values read."""
        return _names_in([self.names[r.id] for r in self.roots])


def _called(lines, runtime):
    """The runtime helpers (name -> source) the lines call, and those these call in turn (a
    name with a leading underscore is symgrad's: a model's never has one)."""
    found: set[str] = set()
    todo = [name for line in lines for name in re.findall(r"\b(_[A-Za-z_]+)[(.]", line)]
    while todo:
        name = todo.pop()
        if name in runtime and name not in found:
            found.add(name)
            todo += re.findall(r"\b(_[A-Za-z_]+)[(.]", runtime[name])
    return found


def _names_in(texts):
    """The names the Python source texts (statements or expressions) read or write."""
    return set().union(*(ir.names(ast.parse(t)) for t in texts))


def _function(d, name, draft, summary, returns, binder, public=True, shared=None,
              buffers=False):
    """One generated function from its draft; returns(names, array) gives the returned
    expression (array(node): node returned as an array of its own); a public function checks
    and converts its arguments first. shared: the _Shared forward pass it starts with, if
    any. A draft's seeds are leaves set to identity rows, one per entry (in order), so that
    the nodes depending on them carry a leading batch axis. buffers: every array computed
    in a buffer of the argument workspace (symgrad/workspace.py), the function's first."""
    args, seeds, names = draft.args, draft.seeds, draft.names
    groups = draft.groups[len(shared.groups):] if shared else draft.groups
    reached = {n.id for n in topo(draft.roots)}
    read = [s for s in seeds if s.id in reached]     # not those of a Hessian's 0 blocks
    body = _identity_seeds(seeds, read, draft.floats, draft.batch, draft.code.calls)
    doc = [shared.equation(draft)] if shared else []
    for _, lines, equation, comment in groups:
        body += [comment] * bool(comment) + lines
        doc.append(equation)
    keep = {a.name for a in args} | draft.returned()
    given = shared.fresh if shared else set()
    stmts = draft.rewritten(ir.parse(body), keep, given)
    start = shared.call(draft) if shared else []
    arrays = [a.name for a in draft.floats if a.shape != ()]      # they give the dtype
    if buffers and arrays:
        stmts, slots = workspace.buffered(stmts, draft.shapes, binder.dims, draft.fresh)
        start = [workspace.take_line(slots, arrays)] if slots else []
    returned = returns(names, _owned(shared.stmts if shared else [], stmts, names, args,
                                            draft.code.calls))
    if stmts and stmts[-1].kind == "free" and returned and _only_names(returned):
        stmts = stmts[:-1]          # the return frees those arrays as soon, computing nothing
    body = ir.lines(last_forms(stmts))
    entry = _validate(args, d, draft.reuses, binder.unranked) if public else []
    rest = (_labels_in_range(args, d) if public else []) + _slice_checks(draft.roots) \
        + start + body
    body = entry + binder.call(args, rest, returned) + rest
    doc[:0] = [f"{s.name}[k] = e_k, the k-th of {draft.batch} unit seeds" for s in read]
    return dict(name=name, args=", ".join(["workspace"] * buffers + [a.name for a in args]),
                summary=summary, doc=[] if buffers else doc, body=body, returns=returned)


def _only_names(expression):
    """Whether a Python expression is names and numbers in tuples and dicts (or an entry,
    cost[0, 0]), computing no array."""
    tree = ast.parse(expression, mode="eval")
    return all(isinstance(n, (ast.Expression, ast.Tuple, ast.Dict, ast.Name, ast.Constant,
                              ast.Load, ast.Subscript)) for n in ast.walk(tree)) \
        and not any(isinstance(n, ast.Subscript) and ir.names(n.slice) for n in ast.walk(tree))


def _workspace(d, function, draft, returns, binder):
    """value_and_grad's function with a workspace= keyword, the function computing in it
    (_value_and_grad_in) and the module's workspace()."""
    inner = _function(d, "_value_and_grad_in", draft, "value_and_grad's statements, every "
                      "array computed in a buffer of workspace (made by workspace()).",
                      returns, binder, buffers=True)
    function["args"] += ", workspace=None"
    function["summary"] += (" With workspace=, one that workspace() made, the intermediates "
                            "and gradients are its buffers, kept between calls.")
    function["body"][:0] = ["if workspace is not None:", *_wrapped(
        f"    return _in_workspace(workspace, {inner['name']}, "
        + ", ".join(a.name for a in draft.args) + ")")]
    made = dict(name="workspace", args="", doc=[], body=[], returns="_Workspace()",
                summary="Buffers for value_and_grad(..., workspace=), one per thread: the "
                "arrays it computes and returns are theirs, kept between calls of one shape "
                "and dtype (the next call overwrites them); no page is mapped anew.")
    return [inner, made]


class _Shared:
    """The forward statements that several functions start with, as one private function,
    _forward_pass, returning the values any of them reads later."""

    NAME = "_forward_pass"

    def __init__(self, drafts):
        self.drafts, first = drafts, drafts[0]
        n = 0
        while all(len(x.groups) > n and x.groups[n][1:3] == first.groups[n][1:3]
                  and x.groups[n][0] == first.groups[n][0] for x in drafts):
            n += 1
        self.groups = first.groups[:n]
        lines = [x for g in self.groups for x in g[1]]
        defined = [g[0] for g in self.groups]
        read = set().union(*(self._later(x) for x in drafts))
        self.returns = [v for v in defined if v in read]
        used = _names_in(lines)
        self.args = [a for a in first.args if a.name in used]
        self.dims = sorted(first.dims & used)
        stmts = ir.parse(lines)
        self.fresh = {v for v in self.returns if v in ir.owned(stmts, first.shapes)}
        self.stmts = first.rewritten(stmts, set(self.returns) | {a.name for a in self.args})

    def worth_it(self):
        """Whether the module gets shorter: each of the n functions trades the statements and
        equations for a call and its equation, for a function of its own."""
        size = len(self.groups) + sum(s.kind != "free" for s in self.stmts)
        n = len(self.drafts)
        return bool(self.returns) and (n - 1) * size - 2 * n - 7 > 0

    def _signature(self):
        return ", ".join([a.name for a in self.args] + self.dims)

    def _later(self, draft):
        """The names a draft reads after the shared statements, its returned values too."""
        return draft.returned() | _names_in(
            [y for g in draft.groups[len(self.groups):] for y in g[1]])

    def equation(self, draft):
        """draft's call of the shared pass, what it does not read bound to _."""
        later = self._later(draft)
        targets = ", ".join(v if v in later else "_" for v in self.returns)
        return f"{targets} = {self.NAME}({self._signature()})"

    def call(self, draft):
        return _wrapped(self.equation(draft))

    def function(self):
        return dict(name=self.NAME, args=self._signature(),
                    body=ir.lines(last_forms(self.stmts)),
                    doc=[g[2] for g in self.groups],
                    returns=", ".join(self.returns),
                    summary="The forward pass that forward, loss and value_and_grad share; "
                    "it returns " + ", ".join(self.returns) + ".")


def _differentiates(d, p):
    """{id of a statement's node: id of the forward statement's node it differentiates}, for
    the adjoints of the derivation's sweep: the statement computing the consumer through
    which the chain rule reached the adjoint's node (its own, or the one it is written in).
    Filled with the forward statements' doc indices as they are printed (see _function)."""
    named = {n.id for n in p.order}
    home = {}
    for s in p.order:
        if not s.derived:
            stack = list(s.args)
            while stack:
                a = stack.pop()
                if a.id not in named and a.id not in home:
                    home[a.id] = s.id
                    stack.extend(a.args)
    consumer = {}
    for step in d.steps:
        if step.adjoint is not None and step.terms and step.adjoint.id in named:
            c = step.terms[0].consumer          # the first step reaching it defines it
            consumer.setdefault(step.adjoint.id, c.id if c.id in named else home.get(c.id))
    return consumer


def _owned(before, stmts, names, args, calls):
    """array(node): the text returning node as an array of its own: a copy where its value
    is an argument, a view of one, a read-only broadcast or shares memory with an array
    returned before it (the caller may write into what it gets back); before: the statements
    of the forward pass the function starts with, if any; calls: the printer's."""
    shares = ir.sharing(before + stmts, [a.name for a in args])
    handed = {a.name for a in args} | {"<read-only>"}

    def array(node):
        text = names[node.id]
        if node.shape == ():
            return text
        value = ast.parse(text, mode="eval").body
        memory = shares[text] if text in shares else ir.shared_by(value, shares, None)
        copy = bool(memory & handed)
        handed.update(memory)
        if not copy:
            return text
        return (calls["copy_name"] if isinstance(value, (ast.Name, ast.Attribute))
                else calls["copy"]).format(value=text)
    return array


def _validate(args, d, fast=False, unranked=()):
    """The statements checking and converting the arguments at entry (_arrays; _labels for
    integer labels); a Hessian's tangents, not in SHAPES, have the shapes of their
    parameters. fast (the fast style): where every argument is a matrix, _arrays is called
    only if one is not a float ndarray, or one in unranked (_Dims.unranked: _dims checks the
    others' rank) not of rank 2, as checked inline (the call costs M4 4%)."""
    labels = [a for a in args if a.symbol in d.model.labels]
    lines = [f"{a.name} = _labels({a.name}, {a.name!r}, SHAPES[{a.name!r}])" for a in labels]
    args = [a for a in args if a not in labels]
    if not args:
        return lines
    shapes = _shapes_source([a for a in args if a not in d.params + d.inputs])
    names = [a.name for a in args]
    everything = [a.name for a in d.params + d.inputs if a.symbol not in d.model.labels]
    listed = "PARAMS + INPUTS" if names == everything[:len(names)] and not d.model.labels \
        else _tuple(names)                  # _arrays zips: a prefix of them is enough
    targets = ", ".join(names) + ("," if len(args) == 1 else "")
    if len(targets) > 84:
        targets = f"({targets})"
    call = f"{targets} = _arrays({_tuple(names, quote=False)}, {listed}, {shapes})"
    if not fast or any(len(a.shape) != 2 for a in args):
        return [call] + lines
    ranked = [n for n in names if n in unranked]
    chains = [" is ".join([*(f"type({n})" for n in names), "np.ndarray"]),
              " == ".join([*(f"{n}.ndim" for n in ranked), "2"]) if ranked else "",
              " == ".join([*(f"{n}.dtype.kind" for n in names), '"f"'])]
    chains = [c for c in chains if c]
    test = [x for k, chain in enumerate(chains) for x in textwrap.wrap(
        ("if not (" if k == 0 else "        and ") + chain + "):" * (k == len(chains) - 1),
        92, subsequent_indent="        ", break_on_hyphens=False)]
    return test + ["    " + call] + lines


def _shapes_source(tangents):
    """SHAPES, with the shapes of a Hessian's tangents (those of their parameters) if any."""
    return "{**SHAPES, %s}" % ", ".join("%r: %s" % (a.name, _tuple(
        [str(s) for s in a.shape]) if a.shape else "()") for a in tangents) \
        if tangents else "SHAPES"


def _labels_in_range(args, d):
    """The statements checking that each integer labels argument holds class indices (once
    the dimensions, the number of classes among them, are bound)."""
    lines = []
    for a in args:
        if a.symbol in d.model.labels:
            lines.append(f"_check_labels({a.name}, {a.name!r}, {d.model.labels[a.symbol]})")
    return lines


def _depending(roots, seeds):
    """Ids of the nodes (up to roots) that depend on the seed leaves."""
    out = {s.id for s in seeds}
    for node in topo(roots):
        if any(a.id in out for a in node.args):
            out.add(node.id)
    return out


def _identity_seeds(seeds, read, args, batch, calls):
    """Statements setting each seed that is read (of seeds, in order) to its block of columns
    of an identity with a leading batch axis, with the arguments' dtype; calls: the
    printer's."""
    if not read:
        return []
    sizes = [sp.Mul(*s.shape) for s in seeds]
    dtype = calls["result_type"].format(arrays=", ".join(a.name for a in args))
    lines = [f"{batch} = {sp.Add(*sizes)}"]
    arrays = [a.name for a in args if a.shape != ()] or [args[0].name]   # the device's
    for k, (seed, size) in enumerate(zip(seeds, sizes)):
        if seed not in read:
            continue
        offset = sp.Add(*sizes[:k])
        diagonal = calls["diagonal"].format(k=-offset) if offset != 0 else ""
        shape = ", ".join(str(x) for x in (seed.shape or (1, 1)))
        eye = calls["eye"].format(rows=batch, cols=size, diagonal=diagonal, dtype=dtype,
                                  array=arrays[0])
        lines.append(f"{seed.name} = " + calls["reshape"].format(value=eye,
                                                                shape=f"({batch}, {shape})"))
    return lines


def _needed_for(d, node, roots):
    """What a node is computed for, for messages: its name, else the first returned value
    that needs it."""
    if node.name:
        return node.name
    root = next((r for r in roots if node.id in {n.id for n in topo([r])}), None)
    return "the loss" if root is d.loss else root.name if root is not None and root.name \
        else "an intermediate"


def _unresolved(lines, known):
    """The first thing statements read that a generated module does not have, else None:
    every name must be known (an argument, a dimension, a variable, a helper), a builtin or
    np with an attribute NumPy has (so math.erf gives erf, gamma(x) gives gamma)."""
    for line in lines:
        tree = ast.parse(line)
        for sub in ast.walk(tree):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) \
                    and sub.value.id == "np" and not hasattr(np, sub.attr):
                return sub.attr
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) \
                    and sub.id not in known and sub.id not in _BUILTINS:
                called = [c for c in ast.walk(tree) if isinstance(c, ast.Attribute)
                          and c.value is sub]
                return called[0].attr if called else sub.id
        known = known | {n.id for n in ast.walk(tree)
                         if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return None


_BUILTINS = {"np", "xp", "float", "True", "False", "None"}


def _unprintable(what, needed_for, expr=None):
    """The error for a function NumPy lacks: SymPy's name for it, where one of the functions
    in expr prints as what (loggamma as math.lgamma)."""
    what = what.split("(")[0]
    calls = expr.atoms(sp.Function) if isinstance(expr, sp.Basic) else ()
    for call in sorted(calls, key=sp.default_sort_key):
        try:
            text = ScalarNumPyPrinter({}).doprint(call)
        except PrintMethodNotImplementedError:
            continue
        if re.search(rf"\b{re.escape(what)}\b", text):
            what = type(call).__name__
            break
    return SymgradError(
        f"unsupported function {what} (needed for {needed_for}): NumPy has "
        f"no equivalent; rewrite the model without it, or add _print_{what} to "
        "symgrad/printing/numpy.py")


def _slice_checks(roots):
    """A check per slice bound the dimensions do not guarantee (A[:, :k] needs k <= m):
    NumPy would silently take fewer entries."""
    lines, seen = [], set()
    for node in topo(roots):
        if node.op != "slice":
            continue
        parent = node.args[0]
        label = "[%s] of %s" % (region_index(node.expr, parent.shape),
                                parent.name or "a matrix")
        for (start, stop, _), size in zip(node.expr, parent.shape):
            for low, high, strict in ((sp.S.Zero, start, False), (start, stop, True),
                                      (stop, size, False)):
                gap = high - low
                if (gap.is_positive if strict else gap.is_nonnegative) or (low, high) in seen:
                    continue
                seen.add((low, high))
                test = f"{low} {'<' if strict else '<='} {high}"
                values = ", ".join(f"{x} = {{{x}}}" for x in sorted(
                    map(str, gap.free_symbols)))
                lines += [f"if not {test}:",
                          f'    raise ValueError(f"the slice {label} needs {test}, but '
                          f'{values}")']
    return lines


class _Dims:
    """The module's one dimension-binding function, _dims: each dimension read from the first
    argument that has it, then every argument compared with them in one tuple comparison (the
    message, naming the first of the wrong rank or the first that disagrees, is built on
    failure). Arguments outside `required` (an input forward does not read, a Hessian's
    tangents) may be None. shapes: the Python source of the shapes dict (SHAPES, or SHAPES
    with the tangents'). unranked: the arguments whose rank must be checked before: those a
    dimension is read from (n = X.shape[1]) and those not compared."""

    def __init__(self, args, required, shapes="SHAPES"):
        required_ids = {a.id for a in required}
        self.optional = {a.name for a in args if a.id not in required_ids}
        self.args = sorted([a for a in args if a.shape != ()], key=lambda a: a.name in
                           self.optional)   # stable: the optional ones last, keywords
        self.lines, self.dims, bound, always = [], [], set(), set()
        got, want, maybe, compared = [], [], [], []
        self.unranked = set()
        for a in self.args:
            dims = [sp.sympify(x) for x in a.shape]
            new = [k for k, x in enumerate(dims) if x.is_Symbol and x.name not in bound]
            if len(new) == 2 and dims[0] == dims[1]:
                new = [0]
            bound |= {dims[k].name for k in new}
            if a.name not in self.optional:
                always |= {dims[k].name for k in new}
            self.dims += [dims[k].name for k in new]
            if new or not all(x.is_Symbol or x.is_Integer for x in dims):
                self.unranked.add(a.name)
            if a.name in self.optional:
                for k in new:   # bound by the first optional argument given that has it
                    first = not any(dims[k].name in map(str, b.shape) for b in self.args
                                    if b.name in self.optional and b is not a and
                                    self.args.index(b) < self.args.index(a))
                    self.lines += [f"{dims[k].name} = None if {a.name} is None else "
                                   f"{a.name}.shape[{k}]"] if first else [
                        f"if {dims[k].name} is None and {a.name} is not None:",
                        f"    {dims[k].name} = {a.name}.shape[{k}]"]
            elif len(new) == 2:
                self.lines.append(f"{dims[0].name}, {dims[1].name} = {a.name}.shape")
                continue
            else:
                self.lines += [f"{dims[k].name} = {a.name}.shape[{k}]" for k in new]
            if len(new) < len(dims):
                compared.append((a, dims))
        for a, dims in compared:        # n + 1 too, once every dimension is bound
            if any(x.atoms(sp.Function) or not all(y.is_Symbol or y.is_Integer
                                                   for y in x.atoms()) for x in dims):
                continue                # (not Python as SymPy prints it: floor(n/2))
            loose = {x for d in dims for x in d.free_symbols if x.name not in bound}
            if loose:
                shown = next(x for x in dims if x.free_symbols & loose)
                raise SymgradError(
                    f"the dimension {sorted(map(str, loose))[0]} appears only in {shown} (a "
                    f"dimension of {a.name}), which a call cannot read it from: give some "
                    "argument the plain dimension, or make the expression a symbol of its own")
            if any(x.name not in always for d in dims if not (d.is_Symbol or d.is_Integer)
                   for x in d.free_symbols):
                continue                # (n + 1 with n from an argument that may be None)
            expected = "(%s)" % ", ".join(map(str, dims))
            if a.name in self.optional:
                maybe.append(f"{a.name} is not None and {a.name}.shape != {expected}")
            else:
                got.append(f"{a.name}.shape")
                want.append(expected)
        parts = ([got[0], f"!= {want[0]}"] if len(got) == 1 else [
            "(%s)" % ", ".join(got), "!= (%s)" % ", ".join(want)] if got else []) + maybe
        if parts:
            names = [a.name for a in self.args]
            listed = "PARAMS + INPUTS" if shapes == "SHAPES" and names == [
                a.name for a in args] else _tuple(names)       # _shape_error zips them
            parts[len(parts) - len(maybe) + (not got):] = [
                "or " + x for x in parts[len(parts) - len(maybe) + (not got):]]
            self.lines += _condition(parts) + _wrapped(
                f"    _shape_error({shapes}, {listed}, {_tuple(names, quote=False)})", 96)
        if self.dims:
            self.lines.append(f"return {', '.join(self.dims)}")

    def function(self):
        names = [a.name for a in self.args]
        signature = ", ".join(f"{n}=None" if n in self.optional else n for n in names)
        listed = ", ".join(self.dims) if self.dims else "no dimension"
        return dict(name="_dims", args=signature, doc=[], body=self.lines[:-1] if self.dims
                    else self.lines, returns=self.lines[-1][len("return "):] if self.dims
                    else None, summary=f"The dimensions {listed}, checked across the arguments.")

    def call(self, args, rest, returned=None):
        """The statement of a function with these arguments binding the dimensions: a bare
        call, for its check only, where no statement of the rest of the body (Python source
        lines) nor the returned expression reads one (ruff's F841 flags `n = _dims(W)`)."""
        if not self.lines:
            return []
        given = {a.name for a in args}
        names = [a.name for a in self.args]
        positional = []
        for n in names:
            if n not in given:
                break
            positional.append(n)
        keywords = [f"{n}={n}" for n in names[len(positional):] if n in given]
        text = f"_dims({', '.join(positional + keywords)})"
        source = "\n".join(rest + [f"return {returned}"] * (returned is not None))
        if not set(self.dims) & ir.names(ast.parse(source)):
            return [text]
        return _wrapped(f"{', '.join(self.dims)} = {text}")


def _condition(parts):
    """`if a != b or c:` on one line if it fits, else in parentheses, a part per line (each
    broken inside its brackets where it is still too long)."""
    line = "if %s:" % " ".join(parts)
    if len(line) <= 92:
        return [line]
    lines = ["if (" + parts[0]] + ["        " + x for x in parts[1:]]
    lines[-1] += "):"
    return [y for k, x in enumerate(lines)
            for y in _wrapped(x, 96, 8, depth=x.count("(") and 1, level=k > 0)]


def _doc_lines(line, width=96):
    """A docstring's line as _wrapped breaks a statement, or, where names are too long for
    that, as prose (text, not code: it may break between any words)."""
    lines = _wrapped(line, width)
    if max(map(len, lines)) <= width:
        return lines
    return textwrap.wrap(line, width, subsequent_indent="    ", break_long_words=False,
                         break_on_hyphens=False)


def _wrapped(line, width=96, indent=4, depth=0, enclosed=False, level=0):
    """A statement broken inside its brackets, after ", " or before " + " and " - ", to lines
    of at most width characters, continuations indented `indent` more than the first (a
    line in a block keeps the block's indentation); only at bracket depth `depth` if given
    (one entry of a dict per break); `level`: the depth the line starts at (a part of a
    condition in parentheses). An assignment's, a return's or a del's value with no such
    place is put in parentheses; where a line is still too long (long names), it is also
    broken after an opening bracket and before any operator; a comment is continued as a
    comment."""
    if len(line) <= width:
        return [line]
    lead = line[:len(line) - len(line.lstrip())]
    if lead:
        return [lead + x for x in _wrapped(line[len(lead):], width - len(lead), indent, depth,
                                           enclosed, level)]
    if line.startswith("#"):         # a comment goes on as a comment
        return textwrap.wrap(line, width, subsequent_indent="#   ", break_on_hyphens=False)
    assign = re.match(r"[^=]*? (?:[-+*/@]|//)?= (?!=)", line)    # x = ..., x += ...
    head, sep, value = line.partition(
        next((w for w in ("return ", "del ") if line.startswith(w)),
             assign[0][assign[0].rindex(" ", 0, -1):] if assign else " = "))
    for anywhere in (False, True):
        lines = _fill(line, _break_points(line, depth, anywhere, level), width, indent)
        if value and not enclosed and (len(lines) == 1 or max(map(len, lines)) > width):
            if anywhere and ", " in head:           # k, n, m = ...: (k, n, m) = (...)
                head = f"({head})"
            inner = _wrapped(f"{head}{sep}({value})", width, indent, depth, True, level)
            lines = inner if max(map(len, inner)) < max(map(len, lines)) else lines
        if max(map(len, lines)) <= width:
            break
    return lines


_OPERATORS = ("+ ", "- ", "@ ", "* ", "/ ", "and ", "or ", "== ", "!= ", "if ", "else ")


def _break_points(line, depth, anywhere, level=0):
    """Where line (starting at bracket depth `level`) may break, inside brackets (at depth
    `depth` only, if given): after ", " and before " + " or " - "; anywhere=True also after
    an opening bracket and before the other operators, at any depth."""
    points = []
    for k, c in enumerate(line):
        level += (c in "([{") - (c in ")]}")
        if not (level == depth if depth and not anywhere else level > 0):
            continue
        if c == " " and (line[k - 1] == "," or line[k + 1:k + 3] in ("+ ", "- ")
                         or anywhere and line[k + 1:].startswith(_OPERATORS)):
            points.append(k)
        elif anywhere and c in "([{" and line[k + 1:k + 2] not in ")]}":
            points.append(k + 1)
    return points


def _fill(line, points, width, indent):
    """line cut at as few of points as lets each line fit width (greedily; a piece longer
    than a line stands alone), continuations indented."""
    lines, start, cut = [], 0, None
    for point in [*points, len(line)]:
        head = " " * indent if lines else ""
        if len(head) + len(line[start:point].strip()) > width and cut is not None:
            lines.append(head + line[start:cut].strip())
            start, cut = cut, None
        cut = point
    head = " " * indent if lines else ""
    return lines + [head + line[start:].strip()]
