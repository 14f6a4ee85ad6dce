"""Liveness over a generated function's statements (symgrad/ir.py): reuse and free arrays
nobody reads again.

A matrix the function computed itself and a statement reads for the last time takes the
results of the statement's elementwise operations from the one that reads it last on
(`np.tanh(Z1, out=Z1)`, `1 - A1**2` as `np.subtract(1, np.square(A1, out=A1), out=A1)`,
`dA1*t1*(Z1 - Z1*t1 + 1)` with no new array); once read for the last time it is deleted
(`del dZ2`). Peak memory then stays at or below what backprop by hand holds, and the allocator
hands back warm pages: on a machine where the heap is given back between calls, each new
page costs a page fault, which costs more than the arithmetic on it.
"""
import ast
import copy
from collections.abc import Callable, Iterable, Mapping

from . import ir


_BINARY = {ast.Add: "np.add", ast.Sub: "np.subtract", ast.Mult: "np.multiply",
           ast.Div: "np.divide"}


def reuse_and_free(lines: list[str], keep: Iterable[str], shapes: Mapping[str, tuple],
                   fresh: Callable[[], str], given: Iterable[str] = ()) -> list[str]:
    """The statements `name = rhs` in `lines` with out= reuse and `del`s added (the text of
    `passes`)."""
    return ir.lines(passes(ir.parse(lines), keep, shapes, fresh, given))


def passes(stmts: list[ir.Stmt], keep: Iterable[str], shapes: Mapping[str, tuple],
           fresh: Callable[[], str], given: Iterable[str] = ()) -> list[ir.Stmt]:
    """The statements with each elementwise operation written into an array that dies in it
    (_into_dying), at most one out= per statement (one_out_each), and a `del` where an array
    dies, naming every name bound to it.

    keep: names that must survive (arguments, returned values); shapes: name -> shape of
    the statements' arrays (names missing from it are never reused nor deleted); fresh()
    gives an unused name for a temporary; given: arrays bound before the statements that
    nothing else holds (a private function's results), reused and freed like their own.
    """
    last = {name: i for i, s in enumerate(stmts) for name in s.reads}
    owned = ir.owned(stmts, shapes, given) - set(keep)
    out: list[ir.Stmt] = []
    aliases: dict[str, list[str]] = {}    # name -> the other names bound to its array
    for i, stmt in enumerate(stmts):
        if stmt.kind == "comment":
            out.append(stmt)
            continue
        dying = sorted(n for n in stmt.reads if last[n] == i and n in owned)
        new, temps = one_out_each(_into_dying(stmt, dying, shapes), fresh)
        out += new
        held = next((x.holder() for x in new if x.kind == "assign"
                     and x.target == stmt.target), None)
        if held is not None and stmt.target is not None and held in dying:
            dying.remove(held)            # the target now holds that array: freed with it
            aliases[stmt.target] = aliases.pop(held, []) + [held]
        dying += temps
        if dying:
            out.append(ir.Stmt.parse(
                "del " + ", ".join(n for d in dying for n in [d] + aliases.pop(d, []))))
    return out


_INPLACE = {"np.add": ast.Add, "np.multiply": ast.Mult, "np.subtract": ast.Sub,
            "np.divide": ast.Div}


def one_out_each(stmt, fresh):
    """(statements, temporaries): the statement as statements with one out= at most each, in
    Python's order of evaluation, and the temporaries it introduced (dead after it). Each
    operation writing into an array is a statement; the writes into one array are a chain
    on one name, the target's where the value ends in that array (x = np.square(A, out=A),
    np.subtract(1, x, out=x), x *= G for x = G*(1 - A**2)), a fresh one's else; a part of
    the statement without writes that reads an array written later is computed first."""
    if stmt.kind != "assign" or sum(ir.out_of(c) is not None for c in ast.walk(stmt.value)) < 2:
        return [stmt], []
    stmt, target = copy.deepcopy(stmt.tree), stmt.target      # a copy to rewrite
    written = {ir.out_of(c) for c in ast.walk(stmt.value)} - {None}
    chains = {ir.out_of(stmt.value): target} if ir.out_of(stmt.value) else {}
    out, temps = [], []

    def visit(node, carrier):
        into = ir.out_of(node)
        if into is None:
            if carrier or isinstance(node, ast.Name) or not isinstance(node, ast.expr):
                return node
            if any(ir.out_of(c) for c in ast.walk(node)):    # writes inside np.where(...),
                for name, value in ast.iter_fields(node):    # a @ b: each a statement
                    if isinstance(value, list):
                        setattr(node, name, [visit(v, False) for v in value])
                    elif isinstance(value, ast.expr):
                        setattr(node, name, visit(value, False))
            # what is left reads an array written later (Z in Z/np.sqrt(t, out=t) + ...):
            # computed here, in Python's order
            if not any(isinstance(n, ast.Name) and n.id in written for n in ast.walk(node)):
                return node
            temp = fresh()
            temps.append(temp)
            out.append(ast.Assign([ast.Name(temp)], node, lineno=0))
            return ast.Name(temp)
        args = [visit(a, isinstance(a, ast.Name) and a.id == into or ir.out_of(a) == into)
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
        out.append(ast.Assign([ast.Name(target)], value, lineno=0))
    return [ir.Stmt.of(x) for x in out], temps


def _statement(target, call, first):
    """target = call for the first of a chain; then the call in place: target += y for
    np.add(target, y, out=target), np.exp(target, out=target) for a unary ufunc."""
    if first or ir.out_of(call) != target:
        return ast.Assign([ast.Name(target)], call, lineno=0)
    func = ast.unparse(call.func)
    args = call.args
    others = [a for a in args if not (isinstance(a, ast.Name) and a.id == target)]
    if func in _INPLACE and len(args) == 2 and len(others) == 1 and (
            isinstance(args[0], ast.Name) and args[0].id == target
            or func in ("np.add", "np.multiply")):
        return ast.AugAssign(ast.Name(target), _INPLACE[func](), others[0])
    return ast.Expr(call)


_UNARY = {ast.USub: "np.negative"}


def _as_ufunc(node):
    """(NumPy ufunc, operand nodes) of an elementwise operation written as an operator
    (x**2 is np.square) or as a call without keywords of a ufunc or of a runtime helper
    taking out= (ir.ELEMENTWISE); None for anything else."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) \
            and ast.unparse(node.right) == "2":
        return "np.square", [node.left]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)], [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)], [node.operand]
    if isinstance(node, ast.Call) and not node.keywords and (
            ir.ufunc(node.func) is not None and ir.dtype_of(node, {}) == "float"  # not a mask
            or ast.unparse(node.func) in ir.ELEMENTWISE):      # _sigmoid(x, out=x)
        return ast.unparse(node.func), node.args
    return None


def _into_dying(s, dying, shapes):
    """The statement with each elementwise operation written into an array that dies in it:
    an array an operand reads or holds, once no part of the statement evaluated later reads
    it, when the operation's result has its shape, a matrix's.

    Python evaluates operands left to right and an operation after its operands, so the
    operations run in the post-order of the tree. A name is read when the operation taking
    it as an operand runs; one inside anything else (x.T, np.dot(x, y)) counts as read by
    the last operation, which NumPy lets write into its own inputs and their views.
    """
    if s.kind != "assign":
        return s
    value = s.value
    if isinstance(value, ast.Call) and ast.unparse(value.func) == "np.array" \
            and len(value.args) == 1 and not value.keywords \
            and isinstance(value.args[0], ast.Name) and value.args[0].id in dying:
        return ir.Stmt.parse(f"{s.target} = {value.args[0].id}")   # no copy: it dies
    tree = copy.deepcopy(s.tree)                  # a copy to rewrite
    order = []                                    # the nodes, in the order they run

    def walk(node):
        for child in ast.iter_child_nodes(node):
            walk(child)
        order.append(node)

    walk(tree.value)
    when = {node: i for i, node in enumerate(order)}
    ufuncs = {node: _as_ufunc(node) for node in order}
    last = {}                                     # dying name -> when its last read runs
    for node in order:
        operands = (ufuncs[node] or (None, []))[1]
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Name) and child.id in dying:
                at = when[node] if child in operands else len(order) - 1
                last[child.id] = max(last.get(child.id, -1), at)
    conditions = {sub for call in order if isinstance(call, ast.Call)   # np.select's masks
                  and ast.unparse(call.func) == "np.select" and call.args
                  for sub in ast.walk(call.args[0])}
    held, new = {}, {}      # node -> the dying array now holding it; -> its rewritten node

    def shape_of(node):
        return shapes.get(s.target) if node is tree.value else ir.shape_of(node, shapes)

    def visit(node):
        """node, its operations rewritten into dying arrays (operands first)."""
        for name, field in ast.iter_fields(node):
            if isinstance(field, list):
                setattr(node, name, [visit(x) if isinstance(x, ast.expr) else x
                                     for x in field])
            elif isinstance(field, ast.expr):
                setattr(node, name, visit(field))
        new[node] = node
        if ufuncs[node] is None or isinstance(node, ast.Name) or node in conditions:
            return node
        func, operands = ufuncs[node]
        shape = shape_of(node)
        into = [held[o] for o in operands if o in held] + [
            o.id for o in operands if isinstance(o, ast.Name) and last.get(o.id) == when[node]]
        into = [name for name in into if shapes.get(name) == shape is not None]
        if not into:
            return node
        held[node] = into[0]
        new[node] = ir.call(func, [new[o] for o in operands],
                            [ast.keyword("out", ast.Name(into[0]))])
        return new[node]

    tree.value = visit(tree.value)
    return s if ast.dump(tree) == ast.dump(s.tree) else ir.Stmt.of(tree)
