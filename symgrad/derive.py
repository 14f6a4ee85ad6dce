"""The right-to-left sweep: adjoints from the loss back to the parameters, and its trace."""
import warnings
from dataclasses import dataclass, field

import sympy as sp

from .convert import Converter
from .errors import SymgradError, SymgradWarning
from .explain import render, repr_latex, text
from .naming import (Names, adjoint_name, direction_name, name_layers, name_nodes, seed_name,
                     tangent_name, unique_names)
from .graph import Graph, Node, placeholder, shape_str, topo
from .rules import JVP, LOCAL, VJP


@dataclass
class Term:
    """One chain-rule term: consumer's adjoint times the local Jacobian of its index-th operand."""
    consumer: Node
    index: int
    contribution: Node

    @property
    def rule(self):
        return LOCAL[self.consumer.op]


@dataclass
class Step:
    """dL/d(node) = the sum of its terms, giving the node `adjoint`."""
    node: Node
    terms: list[Term]
    adjoint: Node | None


@dataclass
class Derivation:
    """Everything the code generator and the LaTeX view need, from one sweep."""
    model: object
    graph: Graph
    loss: Node
    params: list[Node]
    inputs: list[Node]
    outputs: dict[str, Node]
    grads: list[Node]
    steps: list[Step] = field(default_factory=list)
    unreached: list = field(default_factory=list)
    jacobians: list["Jacobian"] = field(default_factory=list)
    hessian: "Hessian | None" = None
    names: Names = field(default_factory=Names)     # every name of the module (naming's rule)
    plans: dict = field(default_factory=dict, repr=False, compare=False)   # schedule.planned's

    def latex(self, fmt="tex", at=None, steps=False):
        """This derivation as a standalone LaTeX document (fmt="tex") or Markdown ("md"):
        the summary, or with steps=True the full trace; `at` maps the names of a scalar
        model's leaves to numbers to show values."""
        return render([self], fmt, at, steps)

    def _repr_latex_(self):
        return repr_latex(self)

    def __repr__(self):
        return text(self)


@dataclass
class Jacobian:
    """d output / d wrt in both orders, each linear in a seed leaf that the generated code
    sets to an identity (a leading batch axis: one seed per entry)."""
    name: str
    output: Node
    wrt: Node
    seed: Node          # right to left: the output's adjoint
    reverse: Node       # ... gives wrt's adjoint
    tangent: Node       # left to right: wrt's tangent
    forward: Node       # ... gives the output's tangent


@dataclass
class Hessian:
    """The loss's Hessian, forward over reverse: tangents of the gradients along tangents of
    the parameters (None where a gradient does not depend on them)."""
    tangents: list      # one leaf per parameter, shaped like it
    products: list      # the tangent of each gradient


def unbroadcast(graph, g, shape):
    """Sum g over the axes along which an operand of this shape was broadcast."""
    if g.shape == tuple(shape):
        return g
    if shape == ():
        return graph.sum(g, None, scalar=True)
    if g.shape == ():
        return graph.map(placeholder(0), [g], shape)
    summed = [k for k in (0, 1) if shape[k] == 1 and g.shape[k] != 1]
    return graph.sum(g, summed[0] if len(summed) == 1 else None)


def derive(model, names=None):
    """Build the graph of model and sweep it from the loss back to the parameters."""
    graph = Graph()
    convert = Converter(graph, model.params + model.inputs, model.dims)
    name_nodes(convert, [(k, v, True) for k, v in model.outputs.items()]
               + [(k, v, False) for k, v in (names or {}).items()])
    loss = convert(model.loss)
    if loss.shape not in ((), (1, 1)):     # e.g. sp.log of a matrix, taken as a scalar
        raise SymgradError(f"model {model.name}: the loss has shape {shape_str(loss.shape)}, "
                           "not a scalar: reduce it with sg.sum or sg.mean, and apply functions "
                           "elementwise with the helpers (sg.log, not sp.log, of a matrix)")
    outputs = {k: convert(v) for k, v in model.outputs.items()}
    params = [convert.leaves[p] for p in model.params]
    inputs = [convert.leaves[x] for x in model.inputs]
    jacobians = [(k, convert(out), convert.leaves[wrt])
                 for k, (out, wrt) in model.jacobians.items()]
    computed = [loss] + list(outputs.values()) + [j[1] for j in jacobians]
    name_layers(topo(computed))
    _labels_only_picked(model, convert, computed)
    # the user's names first: the leaves', the dimensions', then the forward nodes'
    names = Names([x.name for x in params + inputs] + [d.name for d in model.dims])
    unique_names(topo(computed), names)
    derivation = Derivation(model, graph, loss, params, inputs, outputs, grads=[], names=names)
    _sweep(derivation)
    roots = [loss] + list(outputs.values()) + derivation.grads
    for name, output, wrt in jacobians:
        jac = _jacobian(graph, name, output, wrt, names)
        derivation.jacobians.append(jac)
        roots += [jac.reverse, jac.forward]
    if model.hessian:
        tangents = [_seed(graph, direction_name(p.name), p.shape, names) for p in params]
        products = forward(graph, derivation.grads, dict(zip(params, tangents)))
        derivation.hessian = Hessian(tangents, products)
        roots += [t for t in products if t is not None]
    unique_names(topo(roots), names)          # then the names made from them: dZ1, Z1_dot
    _display_names_name_nodes(model, graph)
    return derivation


def _display_names_name_nodes(model, graph):
    """Refuse a key of the model's names= (display text) that names no node: a typo, a
    dimension or an adjoint would silently change nothing."""
    named = graph.named()
    for key in model.names:
        if key not in named:
            dim = " (a dimension reads as its symbol: name the symbol so)" if key in {
                str(x) for x in model.dims} else ""
            raise SymgradError(f"model {model.name}: names={{{key!r}: ...}}: no node of the "
                               f"model is named {key}{dim}; the names it can give display "
                               f"text to: {', '.join(sorted(named))}")


def backward(graph, root, wanted, seed=None, steps=None):
    """Right to left: {node id: adjoint} for the nodes between root and wanted, root's adjoint
    being seed (1 by default); each step is appended to steps."""
    order = topo([root])
    wanted = {w.id for w in wanted}
    depends = {}
    for node in order:
        depends[node.id] = node.id in wanted or any(depends[a.id] for a in node.args)
    contributions = {node.id: [] for node in order}
    adjoint = {}
    graph.deriving = True
    try:
        for node in reversed(order):
            if not depends[node.id]:
                continue
            terms = contributions[node.id]
            if node is root:
                g = seed or graph.constant(1, node.shape)
            else:
                g = graph.add([t.contribution for t in terms], node.shape)
            adjoint[node.id] = g
            if g.name is None and node.name and g.derived:
                g.name = adjoint_name(node.name)
            if steps is not None:
                steps.append(Step(node, terms, g))
            for i, arg in enumerate(node.args):
                if depends[arg.id]:
                    c = unbroadcast(graph, VJP[node.op](graph, node, g, i), arg.shape)
                    contributions[arg.id].append(Term(node, i, c))
    finally:
        graph.deriving = False
    return adjoint


def forward(graph, roots, tangents):
    """Left to right: the tangent of each root (None if it has none), given {node: tangent}
    for some of the nodes it depends on. A tangent is linear in the given ones, so one that
    does not depend on them is 0 and is dropped (None), never materialised: a gradient
    constant almost everywhere along them, such as a maximum's or a hinge's (pad(0),
    scatter(0) would be built without the seeds' batch axis)."""
    tangent = {node.id: t for node, t in tangents.items()}
    order = topo(roots)
    seeded = {n.id: False for n in order} | {t.id: True for t in tangents.values()}
    graph.deriving = True
    try:
        for node in order:
            ts = [tangent.get(a.id) for a in node.args]
            if node.id not in tangent and any(t is not None for t in ts):
                t = JVP[node.op](graph, node, ts)
                if t is not None and _depends(t, seeded):
                    tangent[node.id] = t
                    if t.name is None and node.name and t.derived:
                        t.name = tangent_name(node.name)
    finally:
        graph.deriving = False
    return [tangent.get(r.id) for r in roots]


def _depends(node, seeded):
    """Whether node depends on a seed; seeded: {node id: whether it does}, known for the
    seeds and the nodes they cannot reach, filled in for the nodes below node."""
    stack = [node]
    while stack:
        n = stack[-1]
        todo = [a for a in n.args if a.id not in seeded]
        if todo:
            stack += todo
            continue
        stack.pop()
        if n.id not in seeded:
            seeded[n.id] = any(seeded[a.id] for a in n.args)
    return seeded[node.id]


def _sweep(d):
    adjoint = backward(d.graph, d.loss, d.params, steps=d.steps)
    for p in d.params:
        if p.id not in adjoint:
            d.unreached.append(p.name)
            warnings.warn(f"parameter {p.name} does not reach the loss of {d.model.name}: "
                          "its gradient is zero", SymgradWarning, stacklevel=2)
        d.grads.append(adjoint.get(p.id) or d.graph.constant(0, p.shape))


def _seed(graph, name, shape, names):
    """A leaf named names.unique(name) of this shape, standing for a seed."""
    name = names.unique(name)
    symbol = sp.MatrixSymbol(name, *shape) if shape else sp.Symbol(name, real=True)
    return graph.leaf(symbol)


def _jacobian(graph, name, output, wrt, names):
    label = output.name or "Y"
    seed = _seed(graph, seed_name(label), output.shape, names)      # AD's notation: adjoint
    adjoint = backward(graph, output, [wrt], seed)
    if wrt.id not in adjoint:
        raise SymgradError(f"jacobian {name}: {label} does not depend on {wrt.name}, so there "
                           "is no path to differentiate; drop it or pick another pair")
    tangent = _seed(graph, tangent_name(wrt.name), wrt.shape, names)   # and tangent
    (forward_,) = forward(graph, [output], {wrt: tangent})
    if forward_ is None:
        raise SymgradError(f"jacobian {name}: {label} is constant almost everywhere along "
                           f"{wrt.name} (its Jacobian is 0, as a step function's): drop it")
    return Jacobian(name, output, wrt, seed, adjoint[wrt.id], tangent, forward_)


def _labels_only_picked(model, convert, roots):
    """Integer labels index the scores (pick); arithmetic on them has no meaning here."""
    labels = {convert.leaves[y].id for y in model.labels}
    for node in topo(roots):
        if node.op == "transpose" and node.args[0].id in labels:
            labels.add(node.id)
            continue
        for i, a in enumerate(node.args):
            if a.id in labels and not (node.op == "pick" and i == 1):
                name = a.name or a.args[0].name
                raise SymgradError(
                    f"model {model.name}: {name} holds integer class labels, which only index "
                    "the scores (the target of sg.cross_entropy, sg.nll, sg.multiclass_hinge "
                    "or sg.pick): for arithmetic, declare a float input (one-hot: "
                    f"sg.Input('Y', k, m))")
