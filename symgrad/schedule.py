"""Scheduling one generated function: what it computes, fuses and inlines, and in what order.

Only nodes that the returned values need are computed. An elementwise node used once, by
another elementwise node, is fused into it (its scalar expression is substituted), and the
fused expression is simplified at the scalar level: this is where dZ = dA * A*(1 - A) with
dA = -(Y/A - (1 - Y)/(1 - A))/m becomes (A - Y)/m. An unnamed product, sum or transpose
used once is written inside its user. Everything else gets a named statement.
"""
from collections import defaultdict
from dataclasses import dataclass

import sympy as sp

from .graph import topo, Node, broadcast_shape, inline_maps, placeholder, placeholder_index
from .functions import sigmoid, softplus
from .simplify import simplify_derivative


@dataclass
class Plan:
    """The statements of one function: `order` of materialised nodes with their expressions."""
    order: list[Node]    # nodes computed by a statement, operands first
    exprs: dict[int, tuple[sp.Expr, list[Node]]]   # node id -> (scalar expr, args) for
    #                      materialised maps (a scatter's base), after fusion
    inline: set[int]     # ids of nodes written inside their single user


def plan(roots: list[Node]) -> Plan:
    order = topo(roots)
    root_ids = {r.id for r in roots}
    users = defaultdict(list)
    for node in order:
        for a in node.args:
            users[a.id].append(node)

    def single_user(node):
        us = users[node.id]
        if len(us) == 1 and us[0].op == "transpose" and single_user(us[0]) is None:
            return None         # a transpose is a free view: its users are node's users
        return us[0] if len(us) == 1 and node.id not in root_ids else None

    fused, inline = set(), set()
    for node in order:
        user = single_user(node)
        if node.op in ("leaf", "transpose") or node.is_constant:
            inline.add(node.id)
        elif user is None:
            continue
        elif node.op == "map" and (node.derived or node.name is None) and (
                user.op == "map" or user.op == "scatter" and user.args[0] is node):
            fused.add(node.id)      # a scatter's base is computed into the scatter's array
        elif node.op == "map" and user.op == "pad" and (node.derived or node.name is None):
            inline.add(node.id)         # written into the pad's `+=`: no array of its own
        elif node.op not in ("map", "scatter", "pad") and node.name is None:
            inline.add(node.id)         # (a pad is statements: zeros, then += per region)
        elif is_square(node) and user.op == "sum" and user.shape == () and (
                node.derived or node.name is None) and (node.args[0].op == "leaf" or (
                node.args[0].id not in inline and node.args[0].id not in fused)):
            inline.add(node.id)         # sum(x**2) is printed as np.vdot(x, x): no temporary
    _fuse_within_budget(order, fused)

    exprs = {}
    for node in order:
        if node.op == "map" and node.id not in fused and not node.is_constant \
                or node.op == "scatter":
            own, own_args = (node.expr, node.args) if node.op == "map" \
                else (placeholder(0), node.args[:1])          # a scatter's: its base's
            expr, args = inline_maps(own, own_args, lambda a: a.id in fused)
            if len(args) != len(own_args) or any(a is not b for a, b in zip(args, own_args)):
                expr = simplify_derivative(expr)
            exprs[node.id] = (_complemented_sigmoids(_positive_bce(_stable_exp_sums(expr))), args)
    computed = [n for n in order if n.id not in fused and n.id not in inline
                or n.id in root_ids and n.op != "leaf"]
    _tanh_as_sigmoid(computed, exprs)
    return Plan(_hoist_shared_calls(computed, exprs), exprs, inline)


def planned(d, roots: list[Node]) -> Plan:
    """plan(roots) for a function of derivation d, made once and kept on d (`d.plans`): the
    code generator and the explanation read the same Plan object, value_and_grad's being
    planned(d, gradient_roots(d))."""
    key = tuple(r.id for r in roots)
    if key not in d.plans:
        d.plans[key] = plan(list(roots))
    return d.plans[key]


def gradient_roots(d) -> list[Node]:
    """The roots of value_and_grad's plan, which the derivation's explanation shows too: the
    loss, then the gradients in the order backprop finds them."""
    return [d.loss] + _backprop_order(d)


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


FUSED = 100     # tree nodes of one fused expression; the examples' largest has 56


def _fuse_within_budget(order, fused):
    """Stop fusing where a fused expression would outgrow FUSED tree nodes, counted with
    repeats: derivatives that repeat their operand (sigmoid' = s*(1 - s)), fused into each
    other, grow exponentially with the nesting, and so would the time to simplify them."""
    size = {}
    for node in order:
        total = 1
        if node.op == "map" and node.args:
            total = 0
            for sub in sp.preorder_traversal(node.expr):
                i = placeholder_index(sub) if sub.is_Symbol else None
                arg = node.args[i] if i is not None else None
                total += size[arg.id] if arg is not None and arg.id in fused else 1
        if node.id in fused and total > FUSED:
            fused.discard(node.id)
        size[node.id] = total if node.id in fused else 1


def _positive_bce(expr):
    """c*(softplus(u) - y*u), binary cross-entropy on the logit u as simplify writes it (one
    softplus), as c*((1 - y)*softplus(u) + y*softplus(-u)): the same function, of two terms
    of one sign for 0 <= y <= 1 (a number y outside [0, 1] is left alone), c any factor free
    of u (-1 for the log-likelihood y*log(a) + (1 - y)*log(1 - a) that a cost negates).
    softplus(u) - y*u loses every digit to cancellation for a confident right logit
    (softplus(15) rounds to 15 in float32, 37 in float64: the loss comes out 0); this form
    keeps them, as NUMERICS.md's max(u, 0) - u*y + log1p(exp(-|u|)) does, with one softplus
    more, and the sigmoid of the gradient still takes the first (fusion.py)."""
    def rule(e):
        for term in e.args:
            f = term.atoms(softplus).pop() if term.count(softplus) == 1 else None
            if f is None or not f.args[0].is_Symbol:
                continue
            u = f.args[0]
            c = sp.cancel(term / f)
            rest = e - term
            y = -rest.coeff(u) / c
            in_range = not y.is_number or 0 <= y <= 1    # else terms of both signs
            if y != 0 and in_range and not c.has(u) and not y.has(u) \
                    and not (rest + c*y*u).has(u):
                return rest + c*y*u + c*((1 - y)*f + y*softplus(-u))
        return e
    return expr.replace(lambda e: e.is_Add, rule)


def _complemented_sigmoids(expr):
    """b - b*sigmoid(u) as b*sigmoid(-u): the same number, but 1 - sigmoid(u) rounds to 0 from
    u = 37 in float64 (17 in float32), where sigmoid(-u) keeps every digit. It is how the
    derivative of log(sigmoid(u)) comes out of simplify, which writes sigmoid(-u) as
    1 - sigmoid(u) so that binary cross-entropy's gradient cancels to sigmoid(u) - y."""
    def rule(e):
        terms = e.as_coefficients_dict()
        b = terms.get(sp.S.One)
        for s in sorted(e.atoms(sigmoid), key=sp.default_sort_key) if b is not None else ():
            if terms.get(s) == -b:
                return e - b + b * s + b * sigmoid(-s.args[0])
        return e
    return expr.replace(lambda e: e.is_Add and e.has(sigmoid), rule)


def _stable_exp_sums(expr):
    """log(c + exp(u)) as log(c) + softplus(u - log(c)) and exp(u)/(c + exp(u)) as
    sigmoid(u - log(c)), c > 0 a number: no overflow of exp(u) past 709. SymPy makes them of
    softplus(softplus(u)) = log(2 + exp(u)) and its derivative."""
    def shifted(e):
        """(c, u) for e = c + exp(u), else None."""
        if e.is_Add and len(e.args) == 2:
            c, x = sorted(e.args, key=lambda a: not a.is_number)
            if c.is_number and c.is_positive and isinstance(x, sp.exp):
                return c, x.args[0]
        return None

    def rule(e):
        if isinstance(e, sp.log) and shifted(e.args[0]):
            c, u = shifted(e.args[0])
            return sp.log(c) + softplus(u - sp.log(c))
        for f in e.args if e.is_Mul else ():
            if f.is_Pow and f.exp == -1 and shifted(f.base) \
                    and sp.exp(shifted(f.base)[1]) in e.args:
                c, u = shifted(f.base)
                return e / (f * sp.exp(u)) * sigmoid(u - sp.log(c))
        return e
    return expr.replace(lambda e: isinstance(e, sp.log) or e.is_Mul, rule)


def is_square(node):
    """Whether node is x**2 elementwise, of an operand of its own shape."""
    return (node.op == "map" and len(node.args) == 1 and node.expr == placeholder(0)**2
            and node.args[0].shape == node.shape)


def _calls(order, exprs, kinds=sp.Function):
    """{call in terms of node ids: [(node, call as written in node's expression)]}, for the
    calls of the given kinds in the scalar expressions of order's nodes; the key compares
    equal across statements whose operands differ in placeholder numbering."""
    found = defaultdict(list)
    for node in order:
        if node.id in exprs:
            expr, args = exprs[node.id]
            for call in sorted(expr.atoms(kinds), key=sp.default_sort_key):
                found[_by_id(call, args)].append((node, call))
    return found


def _by_id(call, args):
    """call with each placeholder replaced by a symbol naming its operand's node."""
    return call.xreplace({placeholder(i): sp.Symbol(f"_n{a.id}", real=True)
                          for i, a in enumerate(args)})


def _tanh_as_sigmoid(order, exprs):
    """tanh(u) as 2*sigmoid(2u) - 1 where every use of it is 1 + tanh(u) or 1 - tanh(u)**2
    (times a constant), as in the tanh-GELU z*(1 + tanh(u))/2 = z*sigmoid(2u) and its
    derivative: sigmoid is exp-based, two to three times cheaper than tanh, and 1 + tanh(u)
    no longer cancels to 0 for very negative u."""
    for uses in _calls(order, exprs, sp.tanh).values():
        new = [_without_tanh(exprs[node.id][0], call, sigmoid(2 * call.args[0]))
               for node, call in uses]
        if None not in new:
            for (node, _), expr in zip(uses, new):
                exprs[node.id] = (expr, exprs[node.id][1])


def _without_tanh(expr, t, s):
    """expr with b + b*t as 2b*s, b - b*t as 2b*(1 - s) and b - b*t**2 as 4b*s*(1 - s), and
    then log(c*s) as log(c) - softplus(-2u) (log(1 + tanh(u)) is finite for u far below 0);
    None if t is used otherwise."""
    def rule(e):
        terms = e.as_coefficients_dict()
        b = terms.get(sp.S.One)
        if b is None:
            return e
        if terms.get(t) == b:
            return e - b - b * t + 2 * b * s
        if terms.get(t) == -b:
            return e - b + b * t + 2 * b * (1 - s)
        if terms.get(t**2) == -b:
            return e - b + b * t**2 + 4 * b * s * (1 - s)
        return e
    new = expr.replace(lambda e: e.is_Add and e.has(t), rule)
    new = new.replace(lambda e: isinstance(e, sp.log) and e.args[0].is_Mul
                      and e.args[0].as_coeff_Mul()[1] == s and e.args[0].as_coeff_Mul()[0] > 0,
                      lambda e: sp.log(e.args[0].as_coeff_Mul()[0]) - softplus(-s.args[0]))
    return None if new.has(t) else new


_CHEAP = (sp.Heaviside, sp.Abs, sp.sign)   # printed as masks or one cheap ufunc


def _hoist_shared_calls(order, exprs):
    """A call (tanh, exp, sigmoid, ...) that several statements evaluate on the same operands
    becomes a statement of its own before the first of them: tanh(...) in GELU and in its
    derivative, sigmoid(Z) in swish and in its derivative, are computed once."""
    users = _calls(order, exprs)
    # outer calls first: hoisting tanh(exp(x)) leaves no exp(x) to share
    for shared in sorted(users, key=lambda k: (-sp.count_ops(k), sp.default_sort_key(k))):
        if isinstance(shared, _CHEAP) or not shared.free_symbols:   # log(2) is a number
            continue
        found = []
        for node, _ in users[shared]:
            expr, args = exprs[node.id]
            calls = [c for c in expr.atoms(sp.Function) if _by_id(c, args) == shared]
            if calls:
                found.append((node, calls[0]))
        if len(found) < 2:
            continue
        node, call = found[0]
        args = exprs[node.id][1]
        used = sorted(placeholder_index(x) for x in call.free_symbols
                      if placeholder_index(x) is not None)
        call_args = [args[i] for i in used]
        local = call.xreplace({placeholder(i): placeholder(j) for j, i in enumerate(used)})
        hoisted = Node("map", call_args, broadcast_shape([a.shape for a in call_args]),
                       expr=local, id=-len(exprs) - 1)
        exprs[hoisted.id] = (local, call_args)
        order.insert(order.index(node), hoisted)
        for user, call in found:
            expr, args = exprs[user.id]
            exprs[user.id] = (expr.xreplace({call: placeholder(len(args))}), args + [hoisted])
    return order
