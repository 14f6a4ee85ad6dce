"""Liveness over a generated function's statements: reuse and free arrays nobody reads again.

A matrix the function computed itself and a statement reads for the last time takes the
results of the statement's elementwise operations from the one that reads it last on
(`np.tanh(Z1, out=Z1)`, `1 - A1**2` as `np.subtract(1, np.square(A1, out=A1), out=A1)`,
`dA1*t1*(Z1 - Z1*t1 + 1)` with no new array); once read for the last time it is deleted
(`del dZ2`). Peak memory then stays at or below what backprop by hand holds, and the allocator
hands back warm pages: on a machine where the heap is given back between calls, each new
page costs a page fault, which costs more than the arithmetic on it.
"""
import ast

import numpy as np

from .errors import SymgradError
from .graph import broadcast_shape

_BINARY = {ast.Add: "np.add", ast.Sub: "np.subtract", ast.Mult: "np.multiply",
           ast.Div: "np.divide"}


def reuse_and_free(lines, keep, shapes, fresh, given=()):
    """The statements `name = rhs` in `lines` with out= reuse and `del`s added.

    keep: names that must survive (arguments, returned values); shapes: name -> shape of
    the statements' arrays (names missing from it are never reused nor deleted); fresh()
    gives an unused name for a temporary; given: arrays bound before the lines that nothing
    else holds (a private function's results), reused and freed like the lines' own.
    """
    stmts, reads = _parsed(lines)
    last = {name: i for i, names in enumerate(reads) for name in names}
    owned = _fresh(stmts, reads, shapes, given) - set(keep)
    comments = {i for i, s in enumerate(stmts) if s is None}
    out, aliases = [], {}            # name -> the other names bound to its array
    for i, (line, stmt) in enumerate(zip(lines, stmts)):
        if i in comments:
            out.append(line)
            continue
        dying = sorted(n for n in reads[i] if last[n] == i and n in owned)
        new, temps = _one_out_each(_into_dying(line, stmt, dying, shapes), fresh)
        out += new
        held = next((_holder(x) for x in new if x.startswith(_target(stmt) + " = ")), None)
        if held in dying:                 # the target now holds that array: freed with it
            dying.remove(held)
            aliases[_target(stmt)] = aliases.pop(held, []) + [held]
        dying += temps
        if dying:
            out.append("del " + ", ".join(n for d in dying for n in [d] + aliases.pop(d, [])))
    return out


def fresh_arrays(lines, shapes):
    """The matrices the statements allocate that no other name views or aliases."""
    return _fresh(*_parsed(lines), shapes)


def _parsed(lines):
    """(statements, names each reads): a comment is None, reading nothing; x += y reads x."""
    stmts = [None if line.startswith("#") else ast.parse(line).body[0] for line in lines]
    reads = [set() if s is None else _reads(s)
             | ({_target(s)} if isinstance(s, ast.AugAssign) else set()) for s in stmts]
    return stmts, reads


def _fresh(stmts, reads, shapes, given=()):
    arrays = {t for t, shape in shapes.items() if len(shape) == 2 and shape != (1, 1)}
    owned = ({_target(s) for s in stmts if s is not None and _allocates(s)} | set(given)) \
        & arrays
    for s, names in zip(stmts, reads):
        if s is not None and not _allocates(s) and not isinstance(s, ast.AugAssign):
            owned -= names          # a view (x.T) or an alias shares memory: never reuse
    return owned


def _holder(line):
    """The name whose array a statement's target is bound to (y for x = y and for
    x = np.f(..., out=y)), else None."""
    stmt = ast.parse(line).body[0]
    if not isinstance(stmt, ast.Assign):
        return None
    return stmt.value.id if isinstance(stmt.value, ast.Name) else _out(stmt.value)


_INPLACE = {"np.add": ast.Add, "np.multiply": ast.Mult, "np.subtract": ast.Sub,
            "np.divide": ast.Div}


def _one_out_each(line, fresh):
    """(statements, temporaries): the statement as statements with one out= at most each, in
    Python's order of evaluation, and the temporaries it introduced (dead after it). Each
    operation writing into an array is a statement; the writes into one array are a chain
    on one name, the target's where the value ends in that array (x = np.square(A, out=A),
    np.subtract(1, x, out=x), x *= G for x = G*(1 - A**2)), a fresh one's else; a part of
    the statement without writes that reads an array written later is computed first."""
    stmt = ast.parse(line).body[0]
    if not isinstance(stmt, ast.Assign) or not isinstance(stmt.value, ast.Call) or sum(
            _out(c) is not None for c in ast.walk(stmt.value)) < 2:
        return [line], []
    target = _target(stmt)
    written = {_out(c) for c in ast.walk(stmt.value)} - {None}
    chains = {_out(stmt.value): target} if _out(stmt.value) else {}
    out, temps = [], []

    def visit(node, carrier):
        into = _out(node)
        if into is None:
            if carrier or isinstance(node, ast.Name) or not any(
                    isinstance(n, ast.Name) and n.id in written for n in ast.walk(node)) \
                    or not isinstance(node, ast.expr):
                return node
            temp = fresh()
            temps.append(temp)
            out.append(ast.unparse(ast.Assign([ast.Name(temp)], node, lineno=0)))
            return ast.Name(temp)
        args = [visit(a, isinstance(a, ast.Name) and a.id == into or _out(a) == into)
                for a in node.args]
        node.args = args
        name = chains.get(into)
        if name is None or not any(isinstance(a, ast.Name) and a.id == name for a in args):
            if name is None:
                name = chains[into] = fresh()
                temps.append(name)
            out.append(_statement(name, node, first=True))
        else:
            node.keywords = [k for k in node.keywords if k.arg != "out"] + [
                ast.keyword("out", ast.Name(name))]
            out.append(_statement(name, node, first=False))
        return ast.Name(name)

    value = visit(stmt.value, False)
    if not (isinstance(value, ast.Name) and value.id == target):
        out.append(ast.unparse(ast.Assign([ast.Name(target)], value, lineno=0)))
    return out, temps


def _out(call):
    """The name a call writes into (out=name), else None."""
    if not isinstance(call, ast.Call):
        return None
    out = next((k.value for k in call.keywords if k.arg == "out"), None)
    return out.id if isinstance(out, ast.Name) else None


def _statement(target, call, first):
    """target = call for the first of a chain; then the call in place: target += y for
    np.add(target, y, out=target), np.exp(target, out=target) for a unary ufunc."""
    if first or _out(call) != target:
        return ast.unparse(ast.Assign([ast.Name(target)], call, lineno=0))
    func = ast.unparse(call.func)
    args = call.args
    others = [a for a in args if not (isinstance(a, ast.Name) and a.id == target)]
    if func in _INPLACE and len(args) == 2 and len(others) == 1 and (
            isinstance(args[0], ast.Name) and args[0].id == target
            or func in ("np.add", "np.multiply")):
        return ast.unparse(ast.AugAssign(ast.Name(target), _INPLACE[func](), others[0]))
    return ast.unparse(ast.Expr(call))


def _target(stmt):
    """The name a statement writes (x in x += y and in x[i, j] -= y)."""
    target = stmt.target if isinstance(stmt, ast.AugAssign) else stmt.targets[0]
    return target.value.id if isinstance(target, ast.Subscript) else target.id


def _reads(stmt):
    """The names a statement reads (for x[k:, :] += y, the names in the subscript too)."""
    target = stmt.target if isinstance(stmt, ast.AugAssign) else None
    parts = [stmt.value] + ([target.slice] if isinstance(target, ast.Subscript) else [])
    return {n.id for part in parts for n in ast.walk(part) if isinstance(n, ast.Name)}


def _allocates(stmt):
    """Whether the statement's value is a new array (not a view such as x.T or a name);
    `x += y` is not: it writes into x."""
    if isinstance(stmt, ast.AugAssign):
        return False
    value = stmt.value
    if isinstance(value, ast.Call):
        return ast.unparse(value.func) != "np.broadcast_to"
    return isinstance(value, (ast.BinOp, ast.UnaryOp))


_UNARY = {ast.USub: "np.negative"}


def _as_ufunc(node):
    """(NumPy ufunc, operand nodes) of an elementwise operation written as an operator
    (x**2 is np.square) or as a ufunc call without keywords; None for anything else."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) \
            and ast.unparse(node.right) == "2":
        return "np.square", [node.left]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)], [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)], [node.operand]
    if isinstance(node, ast.Call) and not node.keywords and _is_ufunc(node.func):
        return ast.unparse(node.func), node.args
    return None


def _into_dying(line, stmt, dying, shapes):
    """The line with each elementwise operation written into an array that dies in the
    statement: an array an operand reads or holds, once no part of the statement evaluated
    later reads it, when the operation's result has its shape, a matrix's.

    Python evaluates operands left to right and an operation after its operands, so the
    operations run in the post-order of the tree. A name is read when the operation taking
    it as an operand runs; one inside anything else (x.T, np.dot(x, y)) counts as read by
    the last operation, which NumPy lets write into its own inputs and their views.
    """
    if isinstance(stmt, ast.AugAssign):
        return line
    value = stmt.value
    if isinstance(value, ast.Call) and ast.unparse(value.func) == "np.array" \
            and len(value.args) == 1 and not value.keywords \
            and isinstance(value.args[0], ast.Name) and value.args[0].id in dying:
        return f"{_target(stmt)} = {value.args[0].id}"    # no copy of an array that dies
    order = []                                    # the nodes, in the order they run

    def walk(node):
        for child in ast.iter_child_nodes(node):
            walk(child)
        order.append(node)

    walk(stmt.value)
    when = {node: i for i, node in enumerate(order)}
    ufuncs = {node: _as_ufunc(node) for node in order}
    last = {}                                     # dying name -> when its last read runs
    for node in order:
        operands = (ufuncs[node] or (None, []))[1]
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Name) and child.id in dying:
                at = when[node] if child in operands else len(order) - 1
                last[child.id] = max(last.get(child.id, -1), at)
    shape = {stmt.value: shapes.get(_target(stmt))}

    def shape_of(node):
        if node not in shape:
            if isinstance(node, ast.Name):
                shape[node] = shapes.get(node.id)
            elif all(isinstance(n, _SCALAR) for n in ast.walk(node)):
                shape[node] = ()
            elif ufuncs[node] or isinstance(node, ast.Compare):
                kids = ufuncs[node][1] if ufuncs[node] else [node.left, *node.comparators]
                shape[node] = _broadcast([shape_of(k) for k in kids])
            else:
                shape[node] = None
        return shape[node]

    parts = {}                                    # node -> (new source, array holding it)
    conditions = {sub for call in order if isinstance(call, ast.Call)   # np.select's masks
                  and ast.unparse(call.func) == "np.select" and call.args
                  for sub in ast.walk(call.args[0])}

    def visit(node):
        text = ast.get_source_segment(line, node)
        start = node.col_offset
        for child in reversed([c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)]):
            new, held = parts[child] = visit(child)
            a, b = child.col_offset - start, child.end_col_offset - start
            if new != ast.get_source_segment(line, child):
                if held and not isinstance(node, ast.Call) and text[a - 1:a] == "(" \
                        and text[b:b + 1] == ")":
                    a, b = a - 1, b + 1             # np.f(...) needs no parentheses
                text = text[:a] + new + text[b:]
        if ufuncs[node] is None or isinstance(node, ast.Name) or node in conditions:
            return text, None
        func, operands = ufuncs[node]
        into = [parts[o][1] for o in operands if parts[o][1]] + [
            o.id for o in operands if isinstance(o, ast.Name) and last.get(o.id) == when[node]]
        into = [name for name in into if shapes.get(name) == shape_of(node) is not None
                and 1 not in shape_of(node)]         # a vector: allocating it is cheap
        if not into:
            return text, None
        args = ", ".join(_unwrapped(parts[o][0]) for o in operands)
        return f"{func}({args}, out={into[0]})", into[0]

    new, _ = visit(stmt.value)
    return line if new == ast.get_source_segment(line, stmt.value) \
        else f"{_target(stmt)} = {new}"


_SCALAR = (ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop)


def _broadcast(shapes):
    """The shape these broadcast to; None if one is unknown or they do not broadcast."""
    if any(s is None for s in shapes):
        return None
    try:
        return broadcast_shape(shapes)
    except SymgradError:
        return None


def _is_ufunc(func):
    """Whether func is a NumPy ufunc with a float result: never a comparison or a logical
    one (np.greater, np.isfinite), whose boolean result must not go into a float array."""
    text = ast.unparse(func)
    ufunc = getattr(np, text[3:], None) if text.startswith("np.") else None
    return isinstance(ufunc, np.ufunc) and "d" * ufunc.nin + "->d" in ufunc.types


def _unwrapped(text):
    """An operand's source without the parentheses it needed inside an expression."""
    if text.startswith("(") and text.endswith(")"):
        try:
            ast.parse(text[1:-1], mode="eval")
            return text[1:-1]
        except SyntaxError:
            pass
    return text
