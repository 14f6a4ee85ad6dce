"""Scheduling one generated function: what it computes, fuses and inlines, and in what order.

Only nodes that the returned values need are computed. An elementwise node used once, by
another elementwise node, is fused into it (its scalar expression is substituted), and the
fused expression is simplified at the scalar level: this is where dZ = dA * A*(1 - A) with
dA = -(Y/A - (1 - Y)/(1 - A))/m becomes (A - Y)/m. An unnamed product, sum or transpose
used once is written inside its user. Everything else gets a named statement.
"""
from collections import defaultdict
from dataclasses import dataclass

from .derive import topo
from .graph import inline_maps
from .simplify import simplify_derivative


@dataclass
class Plan:
    """The statements of one function: `order` of materialised nodes with their expressions."""
    order: list          # nodes computed by a statement, operands first
    exprs: dict          # node id -> (scalar expr, args) for materialised maps, after fusion
    inline: set          # ids of nodes written inside their single user


def plan(roots):
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
        elif node.op == "map" and user.op == "map" and (node.derived or node.name is None):
            fused.add(node.id)
        elif node.op != "map" and node.name is None:
            inline.add(node.id)

    exprs = {}
    for node in order:
        if node.op == "map" and node.id not in fused and not node.is_constant:
            expr, args = inline_maps(node.expr, node.args, lambda a: a.id in fused)
            if len(args) != len(node.args) or any(a is not b for a, b in zip(args, node.args)):
                expr = simplify_derivative(expr)
            exprs[node.id] = (expr, args)
    computed = [n for n in order if n.id not in fused and n.id not in inline
                or n.id in root_ids and n.op != "leaf"]
    return Plan(computed, exprs, inline)
