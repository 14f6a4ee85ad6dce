"""The workspace pass: value_and_grad's statements with every array they compute written into
a buffer of a workspace, kept from one call to the next (symgrad/ir.py's statements, after
liveness.py's passes).

A training loop calls value_and_grad with arrays of one shape again and again. Without a
workspace each call allocates its intermediates and gradients afresh, and where the C
allocator has handed the pages of the last call back to the operating system (glibc does for
arrays of a megabyte), each page costs a fault on first touch: 2,500 faults, about a fifth of
the time of a call, for benchmarks/models/m5_swish_gelu.py in float64. With one, the
arrays are the workspace's, made at the first call of a shape and dtype: in steady state no
call allocates an array, and none faults.

Each operation that makes a new array (an elementwise operator, a ufunc, a comparison, a
product, a sum, maximum or minimum along an axis, the runtime's sigmoid) takes `out=` a
buffer: one of the statement's own temporaries of that shape, dying in the operation
(`(A - Y)/m` in one buffer), else a buffer no live name holds any more (liveness.py's
`del`s free them), else a new one. The buffers' shapes, in the dimensions' names, and
kinds (float or a mask) are returned with the statements: the function takes them from the
workspace first.
"""
import ast
import copy
from collections.abc import Callable, Iterable, Mapping

import sympy as sp

from . import ir
from .liveness import one_out_each

_UFUNCS = {ast.Add: "np.add", ast.Sub: "np.subtract", ast.Mult: "np.multiply",
           ast.Div: "np.divide", ast.Pow: "np.power", ast.USub: "np.negative",
           ast.Gt: "np.greater", ast.GtE: "np.greater_equal", ast.Lt: "np.less",
           ast.LtE: "np.less_equal", ast.Eq: "np.equal", ast.NotEq: "np.not_equal"}

Slot = tuple[tuple, str]          # (shape, "float" or "bool")


def buffered(stmts: list[ir.Stmt], shapes: Mapping[str, tuple], dims: Iterable[str],
             fresh: Callable[[], str]) -> tuple[list[ir.Stmt], list[Slot]]:
    """(statements, buffers): the statements with each new array written into a buffer,
    named BUFFER.format(i) for the i-th of buffers; the frees are gone (the workspace holds
    the arrays). shapes: name -> shape of the statements' values; dims: the names of the
    dimensions bound before the statements (a shape in others is left to allocate); fresh():
    an unused name, for a statement split in one out= each (liveness.one_out_each)."""
    state = _Buffers(shapes, set(dims))
    out = []
    for stmt in stmts:
        if stmt.kind == "free":
            for target in stmt.tree.targets:             # type: ignore[union-attr]
                state.release_name(target.id)
        elif stmt.kind == "comment":
            out.append(stmt)
        else:
            out += one_out_each(state.rewrite(stmt), fresh)[0]
    return out, state.slots


BUFFER = "_w{}"


class _Buffers:
    """The buffers made so far, which are free, and which name holds which."""

    def __init__(self, shapes, dims):
        self.shapes, self.dims = dict(shapes), dims
        self.dtypes: dict[str, str] = {}
        self.slots: list[Slot] = []
        self.free: list[int] = []
        self.holds: dict[str, int] = {}           # name -> the buffer its array is
        self.pinned: set[int] = set()             # read by a view: never free again

    def rewrite(self, stmt):
        tree = copy.deepcopy(stmt.tree)
        temps: dict[int, int] = {}                # id of a rewritten node -> its buffer
        value = _Placer(self, temps).visit(tree.value)
        tree.value = value
        result = temps.pop(id(value), None) if stmt.kind == "assign" else None
        view = result is None and stmt.kind == "assign" and not stmt.allocates()
        for buffer in temps.values():             # an update's operand, or read by a call
            if view:                              # that makes no array: dead after it,
                self.pinned.add(buffer)           # unless the target is a view of it
            else:                                 # (np.broadcast_to(x.sum(...), shape))
                self.release(buffer)
        if stmt.kind == "assign":
            target = stmt.target
            self.dtypes[target] = ir.dtype_of(stmt.value, self.dtypes)
            self.shapes.setdefault(target, ir.shape_of(stmt.value, self.shapes))
            holder = result
            if holder is None:
                name = stmt.holder()
                holder = self.holds.get(name) if name else None
            if holder is not None:
                self.holds[target] = holder
            elif not stmt.allocates():            # a view or an alias of a buffer
                self.pinned |= {self.holds[n] for n in stmt.reads if n in self.holds}
        return ir.Stmt.of(tree)

    def take(self, shape, kind, reuse=()):
        """A buffer for a new value: one of reuse (temporaries dying in it), else the free
        one freed last (as malloc hands back the block freed last: its lines are likely
        still in the cache), else a new one."""
        for b in list(reuse) + self.free[::-1]:
            if self.slots[b] == (shape, kind):
                if b in self.free:
                    self.free.remove(b)
                return b
        self.slots.append((shape, kind))
        return len(self.slots) - 1

    def release(self, buffer):
        if buffer not in self.pinned and buffer not in self.holds.values() \
                and buffer not in self.free:
            self.free.append(buffer)

    def release_name(self, name):
        buffer = self.holds.pop(name, None)
        if buffer is not None:
            self.release(buffer)

    def shape(self, node):
        """The node's shape if it is an array's with every dimension bound, else None."""
        shape = ir.shape_of(node, self.shapes)
        if not shape or not all(isinstance(n, (int, sp.Integer)) or n.free_symbols
                                and {str(s) for s in n.free_symbols} <= self.dims
                                for n in map(sp.sympify, shape)):
            return None
        return tuple(shape)


class _Placer(ast.NodeTransformer):
    """Rewrites one statement's expression, innermost operations first (Python's order of
    evaluation), each operation making an array into a call writing out= a buffer."""

    def __init__(self, buffers, temps):
        self.b, self.temps = buffers, temps

    def generic_visit(self, node):
        node = super().generic_visit(node)
        call = self._call(node)
        if call is None:
            return node
        shape = self.b.shape(node)
        if shape is None:
            return node
        kind = ir.dtype_of(node, self.b.dtypes)
        kids = [self.temps.pop(id(k)) for k in ast.iter_child_nodes(call)
                if id(k) in self.temps]
        elementwise = not _is_product(call)        # an operand may be its own output
        buffer = self.b.take(shape, kind, kids if elementwise else ())
        for k in kids:
            if k != buffer:
                self.b.release(k)
        call.keywords.append(ast.keyword("out", ast.Name(BUFFER.format(buffer), ast.Load())))
        self.temps[id(call)] = buffer
        return call

    def _call(self, node):
        """The node as a call of a function taking out=, or None if it makes no new array."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            return ir.call("np.matmul", [node.left, node.right])
        if isinstance(node, ast.BinOp) and type(node.op) in _UFUNCS:
            return ir.call(_UFUNCS[type(node.op)], [node.left, node.right])
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UFUNCS:
            return ir.call(_UFUNCS[type(node.op)], [node.operand])
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _UFUNCS:
            return ir.call(_UFUNCS[type(node.ops[0])], [node.left, node.comparators[0]])
        if not isinstance(node, ast.Call) or ir.out_of(node) is not None:
            return None
        func = ast.unparse(node.func)
        if func in ir._PRODUCTS:
            return node                            # np.dot and _matmul take out= too
        if ir._keepdims_reduction(node):
            reduce = ir.method_reduction(node)[0]                 # type: ignore[index]
            return ir.call(reduce, [node.func.value], node.keywords)   # type: ignore[attr-defined]
        if (ir.ufunc(node.func) is not None or func in ir.ELEMENTWISE) and not node.keywords:
            return node
        return None


def _is_product(call):
    return ast.unparse(call.func) in ir._PRODUCTS


def take_line(slots: list[Slot], arrays: list[str]) -> str:
    """The statement taking the buffers from the workspace, in the order _Workspace.take
    gives them (floats, masks), of the dtype of the arrays."""
    kinds = ("float", "bool")
    order = sorted(range(len(slots)), key=lambda i: kinds.index(slots[i][1]))
    names = ", ".join(BUFFER.format(i) for i in order) + "," * (len(slots) == 1)
    value = "workspace.take(%s)" % ", ".join(
        [_tuple([_shape(slots[i][0]) for i in order if slots[i][1] == kind]) for kind in kinds]
        + [_tuple(arrays)])
    line = f"{names} = {value}"
    return line if len(line) <= 96 else f"({names}) = {value}"    # to break in the names


def _tuple(texts):
    return "(%s)" % (texts[0] + "," if len(texts) == 1 else ", ".join(texts))


def _shape(shape):
    return "(%s)" % ", ".join(str(n) for n in shape)
