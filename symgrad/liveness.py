"""Liveness over a generated function's statements: reuse and free arrays nobody reads again.

An array the function computed itself, read for the last time by an elementwise
statement of the same shape, becomes that statement's output (`np.tanh(Z1, out=Z1)`,
`np.multiply(dA1, A1 > 0, out=dA1)`), and so does one read for the last time by a part of
a statement computed from it and constants alone (`1 - A1**2` as
`np.subtract(1, np.square(A1, out=A1), out=A1)`); one read for the last time otherwise is
deleted (`del dZ2`). Peak memory then stays at what backprop by hand holds, and the allocator
hands back warm pages.
"""
import ast

import numpy as np

_BINARY = {ast.Add: "np.add", ast.Sub: "np.subtract", ast.Mult: "np.multiply",
           ast.Div: "np.divide"}


def reuse_and_free(lines, keep, shapes):
    """The statements `name = rhs` in `lines` with out= reuse and `del`s added.

    keep: names that must survive (arguments, returned values); shapes: name -> shape of
    the statements' arrays (names missing from it are never reused nor deleted).
    """
    stmts = [ast.parse(line).body[0] for line in lines]
    reads = [_reads(s) | ({s.target.id} if isinstance(s, ast.AugAssign) else set())
             for s in stmts]
    last = {name: i for i, names in enumerate(reads) for name in names}
    arrays = {t for t, shape in shapes.items() if len(shape) == 2 and shape != (1, 1)}
    owned = {_target(s) for s in stmts if _allocates(s)} & arrays
    for s, names in zip(stmts, reads):
        if not _allocates(s) and not isinstance(s, ast.AugAssign):
            owned -= names          # a view (x.T) or an alias shares memory: never reuse
    owned -= set(keep)
    out = []
    for i, (line, stmt) in enumerate(zip(lines, stmts)):
        dying = sorted(n for n in reads[i] if last[n] == i and n in owned)
        target = _target(stmt)
        line = _into_dying(line, stmt, dying)
        stmt = ast.parse(line).body[0]
        reused = [n for n in dying if shapes.get(n) == shapes.get(target)]
        # the reused name is deleted too: the statement's target now owns the array
        out.append(reused and _with_out(line, stmt, reused) or line)
        if dying:
            out.append("del " + ", ".join(dying))
    return out


def _target(stmt):
    return stmt.target.id if isinstance(stmt, ast.AugAssign) else stmt.targets[0].id


def _reads(stmt):
    return {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)}


def _allocates(stmt):
    """Whether the statement's value is a new array (not a view such as x.T or a name);
    `x += y` is not: it writes into x."""
    if isinstance(stmt, ast.AugAssign):
        return False
    value = stmt.value
    if isinstance(value, ast.Call):
        return ast.unparse(value.func) != "np.broadcast_to"
    return isinstance(value, (ast.BinOp, ast.UnaryOp))


def _with_out(line, stmt, candidates):
    """The statement writing into one of the candidates, or None if it cannot."""
    if isinstance(stmt, ast.AugAssign):
        return None
    ufunc = _as_ufunc(stmt.value)
    if ufunc is None:
        return None
    (func, operands), target = ufunc, stmt.targets[0].id
    names = [_holder(o) for o in operands]
    for name in candidates:
        if name in names:
            args = ", ".join(_unwrapped(ast.get_source_segment(line, o)) for o in operands)
            return f"{target} = {func}({args}, out={name})"
    return None


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


def _into_dying(line, stmt, dying):
    """The line with each part of the statement's value computed from one dying array, read
    once, and constants alone written into that array."""
    if isinstance(stmt, ast.AugAssign):
        return line
    names = [n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)]
    once = {n for n in dying if names.count(n) == 1}
    used = set()

    def scalar(node):
        return all(isinstance(n, (ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator,
                                  ast.unaryop)) for n in ast.walk(node))

    def visit(node):
        """(source of node with its parts rewritten, the array now holding its value)"""
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
        held = [parts[c][1] for c in ast.iter_child_nodes(node) if c in parts]
        if isinstance(node, ast.Name):
            return text, node.id if node.id in once else None
        into = [h for h in held if h]
        ufunc = _as_ufunc(node)
        if len(into) != 1 or ufunc is None \
                or not all(parts[c][1] or scalar(c) for c in ufunc[1]):
            return text, None
        func, operands = ufunc
        args = ", ".join(_unwrapped(parts[c][0]) for c in operands)
        used.add(into[0])
        return f"{func}({args}, out={into[0]})", into[0]

    parts = {}
    new, _ = visit(stmt.value)
    return f"{_target(stmt)} = {new}" if used else line


def _holder(node):
    """The array that holds node's value: a name, or the out= of a call writing into one."""
    if isinstance(node, ast.Call):
        node = next((k.value for k in node.keywords if k.arg == "out"), None)
    return node.id if isinstance(node, ast.Name) else None


def _is_ufunc(func):
    text = ast.unparse(func)
    return text.startswith("np.") and isinstance(getattr(np, text[3:], None), np.ufunc)


def _unwrapped(text):
    """An operand's source without the parentheses it needed inside an expression."""
    if text.startswith("(") and text.endswith(")"):
        try:
            ast.parse(text[1:-1], mode="eval")
            return text[1:-1]
        except SyntaxError:
            pass
    return text
