"""Every name in a generated module, by one rule, and the user's names found again after
SymPy has flattened them away.

The rule (the README's Names):
- The user's names are kept: parameters, inputs and dimensions exactly as given, refused by
  check_name when one cannot be a variable; then the intermediates named after the model
  file's variables or its outputs, in the order the graph computes them.
- Reserved: Python's keywords and builtins, np, the module's PARAMS, INPUTS, SHAPES and
  LABELS, the Jacobians' mode=, and every name with a leading underscore (symgrad's helpers:
  _matmul, _dims, _jacobian_<name>_reverse).
- A name symgrad makes from a user's (the layers' Z1 and A1, adjoints dZ1, tangents Z1_dot,
  seeds Y_bar and vW1, the batch n_seeds), and a user's name already taken, is the first
  free of base, base_2, base_3, ...; one that is no plain identifier becomes t.
- An unnamed statement is the first free of t1, t2, ...: none is a name of the module, nor
  reads like one in the derivation (t1 and t_1 both read t_{1}).
Names holds the names taken in one module, copied for each function; derive fills it.

SymPy flattens what it builds: with `K = Wk @ X` and `Q = Wq @ X`, `K.T @ Q` is stored as
the one product `X.T @ Wk.T @ Wq @ X`, and with `Xhat = D * inv`, `gamma * Xhat` as the one
elementwise product `gamma * D * inv` (the members themselves rewritten, a sum's terms
reordered); `mu @ OneMatrix(1, m)` with `mu = X @ OneMatrix(m, 1) / m` even merges the two
ones-vectors into `OneMatrix(m, m)`. A name attached to an expression is lost when the
expression no longer appears in the tree.

`Groups` holds the named sums, elementwise products and matrix products, and finds them
again among the operands of a larger one by their graph nodes (which do not depend on how
SymPy wrote them), so that the converter builds the named node and uses it: `K.T @ Q` is
computed as the user wrote it, and `K` keeps its name in the code and in the derivation. A
group is only used inside a strictly larger expression (or, for a product, in a multiple of
it), and the groups are converted shallowest first, each with those found before it.
"""
import builtins
import inspect
import keyword
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator

import sympy as sp
from sympy.printing.conventions import split_super_sub

from .array import plain
from .errors import SymgradError


class Groups:
    """Named MatAdd, HadamardProduct and MatMul expressions, found among the operand nodes
    of the expressions the converter (convert) meets."""

    def __init__(self, graph):
        self.graph = graph
        self.terms = []             # (MatAdd or HadamardProduct, its args' nodes, its node)
        self.products = []          # (coefficient, factors' nodes, node, and transposed)

    def add(self, expr, node, convert):
        """Look for expr (converted to node) from now on, if it is a sum or a product."""
        if isinstance(expr, (sp.MatAdd, sp.HadamardProduct)):
            self.terms.append((_kind(expr), [convert(a) for a in expr.args], node))
            self.terms.sort(key=lambda g: -len(g[1]))
        elif isinstance(expr, sp.MatMul) and len(expr.as_coeff_matrices()[1]) > 1:
            coeff, factors = expr.as_coeff_matrices()
            members = [convert(f) for f in factors]
            flipped = [self.graph.transpose(f) for f in reversed(members)]
            self.products.append((coeff, members, node, flipped, self.graph.transpose(node)))
            self.products.sort(key=lambda g: -len(g[1]))

    def split_terms(self, expr, nodes):
        """The operand nodes of the MatAdd or HadamardProduct expr (given as nodes), the
        members of named ones among them replaced by the named node."""
        left, out = list(nodes), []
        for kind, members, node in self.terms:
            if kind is not _kind(expr) or len(members) >= len(nodes):
                continue
            while not Counter(n.id for n in members) - Counter(n.id for n in left):
                for member in members:
                    left.remove(member)
                out.append(node)
        return out + left

    def split_factors(self, coeff, nodes):
        """(coefficient, factor nodes) of the product coeff * nodes, named sub-products (or
        their transposes) standing for their factors, their coefficients divided out."""
        graph = self.graph
        items = [(n, False) for n in nodes]         # (node, whether it is a named group)
        for named_coeff, members, node, flipped, transposed in self.products:
            for named, operand in [(members, node), (flipped, transposed)]:
                k, i = len(named), 0
                while i + k <= len(items):
                    window = items[i:i + k]
                    edges = None if any(g for _, g in window) else \
                        _match(graph, named, [n for n, _ in window])
                    whole = len(items) == k and edges == (None, None)   # a multiple of it
                    if edges is None or whole and (named_coeff != 1 or coeff == 1):
                        i += 1
                        continue
                    before, after = edges
                    new = [(before, False)] * (before is not None) + [(operand, True)] + \
                        [(after, False)] * (after is not None)
                    items[i:i + k] = new
                    coeff = coeff / named_coeff
                    i += len(new)
        return coeff, [n for n, _ in items]


def name_nodes(convert, named):
    """Name the nodes of the user's named expressions, [(name, expr, strict)] (a model's
    outputs, strict: an error is raised; the model file's variables: skipped), converted
    the shallowest (then the fewest operands) first, each found again (as a group) in
    those converted after it; the first name given to a node stays."""
    height = _heights([expr for _, expr, _ in named])
    for name, expr, strict in sorted(named, key=lambda n: (height[n[1]], len(n[1].args))):
        try:
            node = convert(expr)
        except SymgradError:
            if strict:
                raise
            continue
        if node.name is None and not node.is_constant:
            node.name = name
        convert.groups.add(expr, node, convert)


def _match(graph, named, window):
    """None unless the nodes in window are named's, the first and last allowed to be wider
    ones matrices than named's ones-vectors there; else (before, after): the ones matrices
    left over on either side (None for none)."""
    if any(a is not b for a, b in zip(named[1:-1], window[1:-1])):
        return None
    before = after = None
    first, last = named[0], named[-1]
    if window[0] is not first:
        if not (_ones(first) and _ones(window[0]) and first.shape[0] == 1
                and first.shape[1] == window[0].shape[1]):
            return None
        before = graph.constant(1, (window[0].shape[0], sp.S.One))
    if window[-1] is not last:
        if not (_ones(last) and _ones(window[-1]) and last.shape[1] == 1
                and last.shape[0] == window[-1].shape[0]):
            return None
        after = graph.constant(1, (sp.S.One, window[-1].shape[1]))
    return before, after


def _ones(node):
    return node.is_constant and node.expr == 1 and node.shape != ()


def _kind(expr):
    return sp.MatAdd if isinstance(expr, sp.MatAdd) else sp.HadamardProduct


def _heights(exprs):
    """{expression: its height (a leaf's is 1)} for exprs and their subexpressions, each
    visited once (a named layer is inside the next)."""
    height, stack = {}, list(exprs)
    while stack:
        e = stack[-1]
        todo = [a for a in e.args if a not in height]
        if todo:
            stack.extend(todo)
            continue
        stack.pop()
        height[e] = 1 + max((height[a] for a in e.args), default=0)
    return height


# -- the variables that name expressions: a model file's, or a notebook's --------------------
def variables(bindings):
    """{name: expression} of the SymPy expressions bound to variables, from (variable, value,
    statement) triples in the order they were bound, statement standing for the line that
    bound it (None if unknown). A variable names the last expression it held; one that a
    statement bound to several in turn (a layer built in a loop, a function called per
    layer) names each it held, the k-th Z<k> (all Z_<k> after a digit, or where one Z<k> is
    another variable): `A = relu(Z); A = A * D` names only the second A. Leaves (symbols),
    private names and other values name nothing; derive makes the names distinct and safe."""
    bindings = list(bindings)
    taken = {name for name, _, _ in bindings}
    versions = {}                       # name -> [(value, statement)], a new value each
    for name, value, statement in bindings:
        if name.startswith("_") or not isinstance(value, (sp.Expr, sp.MatrixExpr)) \
                or isinstance(value, (sp.Symbol, sp.MatrixSymbol)):
            continue
        seen = versions.setdefault(name, [])
        last = seen[-1][0] if seen else None
        if not seen or value is not last and (hash(value) != hash(last) or value != last):
            seen.append((value, statement))
    named = {}
    for name, held in versions.items():
        statements = Counter(statement for _, statement in held if statement is not None)
        if not statements or max(statements.values()) == 1:
            named[name] = held[-1][0]
            continue
        keys = [f"{name}{k}" for k in range(1, len(held) + 1)]
        if name[-1].isdigit() or taken & set(keys):
            keys = [f"{name}_{k}" for k in range(1, len(held) + 1)]
        named.update(zip(keys, (value for value, _ in held)))
    memo = {}                   # the values with SymPy's meaning, as the Model holds them
    return {name: plain(value, memo) for name, value in named.items()}


class Recorder:
    """While a model file runs (`with Recorder(path) as r:`), r.bindings collects each value
    bound to a variable of the file's own frames, module level and the functions it defines
    (not their parameters), in order, with the statement that bound it: a loop that rebinds
    Z leaves every layer's Z, where the file's globals keep only the last. It is a trace
    function (sys.settrace) that looks at the frame's variables before each line of the
    file runs and when a frame returns; Python calls it for other files' frames too (it
    returns at once for them), which makes the run about twice as slow. The trace function
    in place before (a debugger's, coverage's) is restored after."""

    def __init__(self, path):
        self.filename = str(path)
        self.bindings = []          # (variable, value, (code, line) of the statement)
        self._last = {}             # (frame id, variable) -> the value seen last
        self._ran = {}              # frame id -> the line that ran since the last look

    def __enter__(self):
        self._previous = sys.gettrace()
        sys.settrace(self._call)
        return self

    def __exit__(self, *exc):
        sys.settrace(self._previous)

    def _call(self, frame, event, arg):
        return self._line if frame.f_code.co_filename == self.filename else None

    def _line(self, frame, event, arg):
        code = frame.f_code         # a function's parameters are its caller's values
        params = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount
                                  + bool(code.co_flags & inspect.CO_VARARGS)
                                  + bool(code.co_flags & inspect.CO_VARKEYWORDS)]
        statement = (code, self._ran.get(id(frame)))
        for name, value in frame.f_locals.items():
            if name in params:
                continue
            key = (id(frame), name)
            if self._last.get(key) is not value:
                self._last[key] = value
                self.bindings.append((name, value, statement))
        self._ran[id(frame)] = frame.f_lineno
        return self._line


def frame_variables(frame):
    """variables() of a frame's namespace, its locals over its globals: a notebook cell's,
    or the function's that built the model, named as `symgrad derive` names a file's."""
    namespace = {**frame.f_globals, **frame.f_locals}
    return variables((name, value, None) for name, value in namespace.items())


# -- the one rule: reserved names, and new names that avoid the names taken -----------------
MODULE = {"np": "NumPy", "PARAMS": "the module's parameter names",
          "INPUTS": "the module's input names", "SHAPES": "the module's shapes",
          "LABELS": "the module's numbers of classes",
          "mode": "the mode= argument of jacobian_<name>",
          "order": "the order jacobian_<name> picks by its mode",
          "math": "Python's math module, which the array-API target imports",
          "sys": "Python's sys module, which the array-API target imports",
          "workspace": "the workspace= argument of value_and_grad",
          "xp": "the array namespace of --target array-api"}
KEYWORDS = {k: "a Python keyword" for k in keyword.kwlist}
RESERVED = {**{k: f"a name the generated code uses ({v})"
               for k, v in ({b: "a Python builtin" for b in dir(builtins)} | MODULE).items()},
            **KEYWORDS}
# a model's name names a file, generated/<name>.py, which a script beside it imports in place
# of the module of that name: the array libraries and tools, and those already imported
LIBRARIES = ("array_api_compat", "array_api_strict", "conftest", "cupy", "dask", "jax",
             "jinja2", "numpy", "pytest", "scipy", "symgrad", "sympy", "torch")


def libraries() -> dict[str, str]:
    """The names a model's cannot be (see LIBRARIES, and the modules imported now: NumPy's,
    SymPy's and symgrad's own, such as json and random) -> why; and the keywords."""
    imported = {name.split(".")[0] for name in sys.modules}
    return KEYWORDS | {
        k: f"the name of the module {k} (generated/{k}.py would be imported in its place)"
        for k in sorted(imported.union(LIBRARIES)) if not k.startswith("_")}


LONGEST = 40                    # characters: a longer name no longer reads as a name


def name_problem(name, reserved=RESERVED):
    """Why name cannot be a variable of generated code (None if it can): only plain
    identifiers of at most LONGEST characters, spelt as Python reads them (NFKC: 'ｎｐ' is np),
    that shadow nothing the code uses (reserved: name -> what it is) pass."""
    return ("is not a string" if not isinstance(name, str) else
            "is not a Python identifier" if not name.isidentifier() else
            f"is read by Python as {unicodedata.normalize('NFKC', name)!r}"
            if unicodedata.normalize("NFKC", name) != name else
            "starts with an underscore (kept for symgrad's helpers)" if name.startswith("_") else
            f"is longer than {LONGEST} characters" if len(name) > LONGEST else
            f"is {reserved[name]}" if name in reserved else None)


def check_name(name, what="symbol", reserved=RESERVED):
    """Names become Python variables in generated code: name_problem's rule; a model's name
    names a module (reserved=LIBRARIES)."""
    why = name_problem(name, reserved)
    if why:
        raise SymgradError(f"{what} name {name!r} cannot be a variable in generated code: it "
                           f"{why}: rename it, using letters, digits and underscores, e.g. 'W1'")


class Names:
    """The names taken in one generated module or function (the reserved ones always), and
    new names that avoid them: unique(base) for a name made from a user's, fresh() for an
    unnamed statement. Deterministic: the same names taken in the same order give the same
    names."""

    def __init__(self, taken: Iterable[str] = ()):
        self.taken: set[str] = set(RESERVED)
        self.readings: set[tuple] = set()   # how the names read in LaTeX, see _reading
        self.counts: dict[str, int] = {}    # prefix -> the last number fresh() tried
        self.named: set[int] = set()        # ids of the nodes unique_names has named
        for name in taken:
            self.add(name)

    def add(self, name: str) -> None:
        """Take name (a user's, kept as it is)."""
        self.taken.add(name)
        self.readings.add(_reading(name))

    def copy(self) -> "Names":
        other = Names()
        other.taken, other.readings = set(self.taken), set(self.readings)
        other.counts, other.named = dict(self.counts), set(self.named)
        return other

    def unique(self, base: str) -> str:
        """The first free of base, base_2, base_3, ... (t, t_2, ... for a base that cannot be a
        variable by name_problem's rule; lambda_2 for lambda), now taken."""
        base = "t" if name_problem(base, reserved={}) else base
        name, k = base, 2
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.add(name)
        return name

    def fresh(self, prefix: str = "t") -> str:
        """The first free of prefix1, prefix2, ... that reads like no name taken (t1 and t_1
        both read t_{1} in the derivation), now taken; each call goes on from the last."""
        k = self.counts.get(prefix, 0)
        while True:
            k += 1
            name = f"{prefix}{k}"
            if name not in self.taken and _reading(name) not in self.readings:
                self.counts[prefix] = k
                self.add(name)
                return name


def _reading(name):
    """How SymPy's LaTeX reads a symbol name: its base, superscripts and subscripts (t1 and
    t_1 are t with the subscript 1)."""
    base, supers, subs = split_super_sub(name)
    return base, tuple(supers), tuple(subs)


def numbered(template: str, taken: set) -> Iterator[str]:
    """template % 1, template % 2, ...: those not in taken, each taken as it is given (the
    derivation's long intermediates u_{1}, u_{2}, ... beside a user's u_1)."""
    k = 0
    while True:
        k += 1
        if template % k not in taken:
            taken.add(template % k)
            yield template % k


def leaf_names(order) -> set[str]:
    """The names of the leaves among the nodes in order and their operands, and of the
    dimensions in their shapes: the names a user gave, taken first."""
    out: set[str] = set()
    for node in order:
        for n in (node, *node.args):
            if n.op == "leaf":
                out.add(n.name)
        for d in node.shape:
            out |= {s.name for s in sp.sympify(d).free_symbols}
    return out


def unique_names(order, names: Names) -> None:
    """Make the names of the nodes in order distinct variables that shadow nothing: the
    leaves' and dimensions' are taken as they are, then each named node not named before
    gets names.unique(its name), in order (the first to want a name has it)."""
    for name in leaf_names(order):
        names.add(name)
    for node in order:
        if node.op == "leaf" or node.name is None or node.id in names.named:
            continue
        node.name = names.unique(node.name)
        names.named.add(node.id)


def statement_names(order, names: Names) -> dict:
    """{node id: its statement's name}: the node's own, else names.fresh() (t1, t2, ...),
    avoiding the names of the nodes in order, of their leaves and dimensions, and names's."""
    for name in leaf_names(order) | {n.name for n in order if n.name}:
        names.add(name)
    return {node.id: node.name or names.fresh() for node in order}


# -- the names symgrad makes from a user's ----------------------------------------------------
def adjoint_name(name: str) -> str:
    """dL/d(name): dZ1."""
    return "d" + name


def tangent_name(name: str) -> str:
    """The tangent of name, left to right: Z1_dot."""
    return name + "_dot"


def seed_name(name: str) -> str:
    """The adjoint seed of an output, right to left: A2_bar."""
    return name + "_bar"


def direction_name(name: str) -> str:
    """The direction v of a Hessian-vector product for a parameter: vW1."""
    return "v" + name


def name_layers(order) -> None:
    """Name unnamed layers as the notes do: Z<k> = W<k> A + b<k>, A<k> = g(Z<k>) feeding
    W<k+1>."""
    fed = {n.args[1].id for n in order if n.op == "matmul"}
    for node in order:
        if node.name is not None or node.op != "map":
            continue
        for a in node.args:
            k = re.search(r"(\d+)$", a.args[0].name or "") if a.op == "matmul" else None
            if k and a.args[0].op == "leaf" and a.name is None:   # else a is the Z
                node.name = f"Z{k.group(1)}"
                break
            k = re.fullmatch(r"Z(\d+)", a.name or "")
            if k and len(node.args) == 1 and node.id in fed:
                node.name = f"A{k.group(1)}"
                break


class tex(str):
    r"""Raw LaTeX for Model(names={...}): sg.tex(r"\mathbf{W}") is set as written; a plain
    string is set as text, with LaTeX's special characters escaped."""
