"""The right-to-left sweep: adjoints from the loss back to the parameters, and its trace."""
import keyword
import re
import warnings
from dataclasses import dataclass, field

import sympy as sp

from .convert import Converter
from .errors import SymgradError, SymgradWarning
from .model import RESERVED
from .graph import Graph, placeholder
from .rules import LOCAL, VJP




@dataclass
class Term:
    """One chain-rule term: consumer's adjoint times the local Jacobian of its index-th operand."""
    consumer: object
    index: int
    contribution: object

    @property
    def rule(self):
        return LOCAL[self.consumer.op]


@dataclass
class Step:
    """dL/d(node) = the sum of its terms, giving the node `adjoint`."""
    node: object
    terms: list
    adjoint: object


@dataclass
class Derivation:
    """Everything the code generator and the LaTeX view need, from one sweep."""
    model: object
    graph: Graph
    loss: object
    params: list
    inputs: list
    outputs: dict
    grads: list
    steps: list = field(default_factory=list)
    unreached: list = field(default_factory=list)

    def latex(self, fmt="tex", at=None):
        """This derivation as a standalone LaTeX document (fmt="tex") or Markdown ("md");
        `at` maps the names of a scalar model's leaves to numbers to show values."""
        from .explain import render
        return render([self], fmt, at)

    def _repr_latex_(self):
        from .explain import repr_latex
        return repr_latex(self)


def topo(roots):
    """Nodes reachable from roots, operands before users, in a deterministic order."""
    order, seen = [], set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if ready:
                order.append(node)
                continue
            if node.id in seen:
                continue
            seen.add(node.id)
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args) if a.id not in seen)
    return order


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
    _name_from(convert, model.outputs.items(), strict=True)
    _name_from(convert, (names or {}).items(), strict=False)
    loss = convert(model.loss)
    outputs = {k: convert(v) for k, v in model.outputs.items()}
    params = [convert.leaves[p] for p in model.params]
    inputs = [convert.leaves[x] for x in model.inputs]
    _name_layers(topo([loss] + list(outputs.values())))
    derivation = Derivation(model, graph, loss, params, inputs, outputs, grads=[])
    _sweep(derivation)
    _unique_names(graph, topo([loss] + list(outputs.values()) + derivation.grads))
    return derivation


def _sweep(d):
    graph, order = d.graph, topo([d.loss])
    wanted = {p.id for p in d.params}
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
            if node is d.loss:
                g = graph.constant(1, node.shape)
            else:
                xs = [placeholder(i) for i in range(len(terms))]
                g = graph.map(sp.Add(*xs), [t.contribution for t in terms], node.shape)
            adjoint[node.id] = g
            if g.name is None and node.name and g.derived:
                g.name = "d" + node.name
            d.steps.append(Step(node, terms, g))
            for i, arg in enumerate(node.args):
                if depends[arg.id]:
                    c = unbroadcast(graph, VJP[node.op](graph, node, g, i), arg.shape)
                    contributions[arg.id].append(Term(node, i, c))
    finally:
        graph.deriving = False
    for p in d.params:
        if p.id not in adjoint:
            d.unreached.append(p.name)
            warnings.warn(f"parameter {p.name} does not reach the loss of {d.model.name}: "
                          "its gradient is zero", SymgradWarning, stacklevel=2)
        d.grads.append(adjoint.get(p.id) or graph.constant(0, p.shape))


def _name_from(convert, items, strict):
    """Name the nodes of user-named expressions (model outputs, the model file's globals)."""
    for name, expr in items:
        try:
            node = convert(expr)
        except SymgradError:
            if strict:
                raise
            continue
        if node.name is None and not node.is_constant:
            node.name = name


def _name_layers(order):
    """Name unnamed layers as the notes do: Z<k> = W<k> A + b<k>, A<k> = g(Z<k>) feeding W<k+1>."""
    fed = {n.args[1].id for n in order if n.op == "matmul"}
    for node in order:
        if node.name is not None or node.op != "map":
            continue
        for a in node.args:
            k = re.search(r"(\d+)$", a.args[0].name or "") if a.op == "matmul" else None
            if k and a.args[0].op == "leaf":
                node.name = f"Z{k.group(1)}"
                break
            k = re.fullmatch(r"Z(\d+)", a.name or "")
            if k and len(node.args) == 1 and node.id in fed:
                node.name = f"A{k.group(1)}"
                break


def _unique_names(graph, order):
    """Make names valid, distinct identifiers that shadow nothing the module uses."""
    used = set(RESERVED)
    for node in order:
        if node.op == "leaf":
            used.add(node.name)
            for d in node.shape:
                used |= {s.name for s in sp.sympify(d).free_symbols}
    for node in order:
        if node.op == "leaf" or node.name is None:
            continue
        base = node.name if node.name.isidentifier() and not keyword.iskeyword(node.name) \
            and not node.name.startswith("_") else "t"
        name, k = base, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        node.name = name
        used.add(name)
