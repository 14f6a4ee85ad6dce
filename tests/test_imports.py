"""The package's modules import one another top-down (issue 16): no cycle, and no import
inside a function (the way a cycle used to be dodged)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "symgrad"


def _module(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports():
    """{module: (the symgrad modules it imports, the imports inside its functions)}."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    found = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets, local = set(), []
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            full = f"{base}.{node.module}" if node.module else base
            names = [full] if full in modules else []
            names += [f"{full}.{a.name}" for a in node.names if f"{full}.{a.name}" in modules]
            targets |= set(names) - {name}
            if node not in tree.body:
                local.append(f"{path.name}:{node.lineno}")
        found[name] = (targets, local)
    return found


def test_no_module_imports_symgrad_inside_a_function():
    local = [where for _, (_, inside) in _imports().items() for where in inside]
    assert local == []


def test_the_import_graph_has_no_cycle():
    graph = {name: targets for name, (targets, _) in _imports().items()}
    state, cycle = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if nxt == "symgrad":                   # the package itself: __init__ re-exports
                continue
            if state.get(nxt) == "open":
                cycle.append(path + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state and name != "symgrad":
            visit(name, [name])
    assert cycle == []
