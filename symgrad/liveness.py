"""Liveness over a generated function's statements: reuse and free arrays nobody reads again.

An array the function computed itself, read for the last time by an elementwise
statement of the same shape, becomes that statement's output (`np.tanh(Z1, out=Z1)`,
`np.multiply(dA1, A1 > 0, out=dA1)`); one read for the last time otherwise is deleted
(`del dZ2`). Peak memory then stays at what backprop by hand holds, and the allocator
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
    value, target = stmt.value, stmt.targets[0].id
    if isinstance(value, ast.BinOp) and type(value.op) in _BINARY:
        func, operands = _BINARY[type(value.op)], [value.left, value.right]
    elif isinstance(value, ast.Call) and not value.keywords and _is_ufunc(value.func):
        func, operands = ast.unparse(value.func), value.args
    else:
        return None
    names = [o.id for o in operands if isinstance(o, ast.Name)]
    for name in candidates:
        if name in names:
            args = ", ".join(_unwrapped(ast.get_source_segment(line, o)) for o in operands)
            return f"{target} = {func}({args}, out={name})"
    return None


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
