"""Properties of generated code: deterministic, NumPy-only, vectorised, and the simplifications
the seeds teach (found by symgrad itself, checked here against hand-derived formulas)."""
import ast
import re

import numpy as np
import pytest
import sympy as sp
from conftest import EXAMPLES, ROOT, derived

import symgrad as sg
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.load import load
from symgrad.testing import load_module, random_instance

SOURCES = [(p.stem, item[2]) for p in EXAMPLES for item in derived(p)]


@pytest.mark.parametrize("stem,source", SOURCES, ids=[s for s, _ in SOURCES])
def test_deterministic_bytes(stem, source):
    again = derived(ROOT / "examples" / f"{stem}.py")[0][2]
    assert again == source


@pytest.mark.parametrize("stem,source", SOURCES, ids=[s for s, _ in SOURCES])
def test_numpy_only_no_loops_no_materialised_ones(stem, source):
    tree = ast.parse(source)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    # NumPy and the standard library only (_Layout times a product with time.perf_counter)
    assert {ast.unparse(n) for n in imports} - {"import time"} == {"import numpy as np"}
    computing = [f for f in tree.body if isinstance(f, ast.FunctionDef)
                 and f.name in ("forward", "loss", "value_and_grad")]
    assert len(computing) == 3
    for f in computing:
        assert not any(isinstance(n, (ast.For, ast.While, ast.comprehension)) for n in ast.walk(f))
        # Jacobians and Hessians seed with identities; the gradient code never needs one
        assert not re.search(r"np\.(ones|eye|diag|identity)\b", ast.unparse(f))


def _statement(source, name, doc=False):
    """The right-hand side of `name = ...` in value_and_grad's code (in its docstring, with
    doc)."""
    body = source[source.index("def value_and_grad"):]
    return re.findall(rf"^    {name} = (.*)$", body, re.M)[0 if doc else -1]


def test_sigmoid_with_cross_entropy_gives_a_minus_y_over_m(example):
    source = example("two_layer")[2]
    # the docstring states the formulas; the code computes them in the memory of A2 and of
    # A1, which die there
    assert _statement(source, "dZ2", doc=True) == "(A2 - Y)/m"
    assert "    dZ2 = np.subtract(A2, Y, A2)\n    dZ2 /= m\n" in source
    assert _statement(source, "dZ1", doc=True) == "(W2.T @ dZ2)*(1 - A1**2)"
    assert "dZ1 = np.square(A1, A1)\n    np.subtract(1.0, dZ1, dZ1)\n" \
        "    dZ1 *= _matmul(W2.T, dZ2)\n" in source


def test_softmax_with_cross_entropy_gives_softmax_minus_y(example):
    source = example("softmax_classifier")[2]
    # softmax * sum(Y) - Y: the general form, softmax - Y for one-hot targets; the code
    # computes it in the memory of A2, which dies (the column sums' shape is known: 1 x m)
    assert _statement(source, "dZ2", doc=True) == "(A2*sum(Y, axis=0) - Y)/m"
    assert "dZ2 = np.multiply(A2, np.add.reduce(Y, axis=0, keepdims=True), A2)\n    dZ2 -= Y\n" \
        "    dZ2 /= m\n" in source


def test_bias_gradients_are_sums_over_examples(example):
    source = example("deep_relu")[2]
    for k in (1, 2, 3):
        assert _statement(source, f"db{k}") == f"np.add.reduce(dZ{k}, axis=1, keepdims=True)"


@pytest.mark.parametrize("bad,message", [
    ({"X": (3, 7)}, "n_x: X has 3 rows but W1 has 2 columns"),
    ({"b1": (4, 2)}, "1: b1 has 2 columns but it must be 1"),
    ({"Y": (1, 6)}, "m: Y has 6 columns but X has 7 columns"),
    ({"W2": (1, 5)}, "n_h: W2 has 5 columns but W1 has 4 rows"),
])
def test_shape_mismatch_at_run_time_names_the_dimension(example, bad, message):
    import numpy as np
    module = example("two_layer")[3]
    shapes = {"W1": (4, 2), "b1": (4, 1), "W2": (1, 4), "b2": (1, 1), "X": (2, 7), "Y": (1, 7)}
    shapes.update(bad)
    args = [np.zeros(shapes[n]) for n in module.PARAMS + module.INPUTS]
    with pytest.raises(ValueError, match=re.escape(message)):
        module.value_and_grad(*args)


def test_a_100_layer_network_builds_derives_and_matches_numpy():
    """Conversion walks the graph without recursion (a recursive walk needed ~15 Python
    frames per layer and failed at 80 layers); the loss value and the last layer's
    gradient come from NumPy and central differences."""
    depth = 100
    n, m = sp.symbols("n m", integer=True, positive=True)
    X, Y = sg.Input("X", n, m), sg.Input("Y", 1, m)
    A, params = X, []
    for k in range(1, depth + 1):
        rows = 1 if k == depth else n
        W, b = sg.Param(f"W{k}", rows, n), sg.Param(f"b{k}", rows, 1)
        params += [W, b]
        A = (sg.sigmoid if k == depth else sg.tanh)(W @ A + b)
    model = sg.Model("deep", sg.mean(sg.binary_cross_entropy(A, Y)), params, [X, Y])
    module = load_module(module_source(derive(model)))
    values = random_instance(model, {"n": 3, "m": 4})
    args = [values[k] for k in module.PARAMS + module.INPUTS]
    cost, grads = module.value_and_grad(*args)
    a = values["X"]
    for k in range(1, depth + 1):
        z = values[f"W{k}"] @ a + values[f"b{k}"]
        a = 1 / (1 + np.exp(-z)) if k == depth else np.tanh(z)
    y = values["Y"]
    assert np.isclose(cost, -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a)), rtol=1e-12)
    last = module.PARAMS.index(f"W{depth}")
    for j in range(3):
        step = np.zeros((1, 3))
        step[0, j] = 1e-6
        up, down = list(args), list(args)
        up[last], down[last] = args[last] + step, args[last] - step
        central = (module.loss(*up) - module.loss(*down)) / 2e-6
        assert np.isclose(grads[last][0, j], central, rtol=1e-6, atol=1e-10)


def test_an_activation_plus_a_bias_column_broadcasts():
    n, k, m = sp.symbols("n k m", integer=True, positive=True)
    W, b, X = sg.Param("W", n, k), sg.Param("b", n, 1), sg.Input("X", k, m)
    model = sg.Model("post_bias", sg.sum(sg.tanh(W @ X) + b), [W, b], [X])
    module = load_module(module_source(derive(model)))
    values = random_instance(model, {"n": 3, "k": 2, "m": 5})
    cost, (dW, db) = module.value_and_grad(values["W"], values["b"], values["X"])
    assert np.isclose(cost, np.sum(np.tanh(values["W"] @ values["X"]) + values["b"]))
    assert np.allclose(db, np.full((3, 1), 5.0))     # b is added once per example


def test_docstrings_use_the_readmes_notation(example):
    """@ for a product over an inner dimension of 1 (not *), (A3 > 0) for a ReLU mask (not
    Heaviside), relu(Z1) (not Max(0, Z1)): the notation of the README and the course."""
    source = example("deep_relu")[2]
    doc = "".join(source[source.index(f"def {f}("):].split('"""')[1]
                  for f in ("_forward_pass", "value_and_grad"))
    assert "A1 = relu(Z1)" in doc and "dZ3 = (W4.T @ dZ4)*(A3 > 0)" in doc, doc
    assert "dZ2 = dA2*(A2 > 0)" in doc
    assert "Heaviside" not in doc and "Max(" not in doc


def _derived(stem):
    (model, names), = load(ROOT / "examples" / f"{stem}.py")
    return derive(model, names)


def _intro(source):
    """The module docstring's paragraph after its title, on one line."""
    return " ".join(ast.get_docstring(ast.parse(source)).split("\n\n")[1].split())


@pytest.mark.parametrize("target", ["numpy", "array-api"])
def test_the_docstring_says_where_the_examples_are(target):
    """0.1 said "Arrays hold one example per column" of every module, of cs231n's (X (N, D))
    and of a scalar model's too."""
    n, m, k = sp.symbols("n m k", integer=True, positive=True)
    W, b = sg.Param("W", n, k), sg.Param("b", 1, k)
    X, Y = sg.Input("X", m, n), sg.Input("Y", m, k)
    rows = derive(sg.Model("rows", sg.mean((X @ W + b - Y)**2), [W, b], [X, Y]))
    w, c, x, y = sg.Param("w"), sg.Param("c"), sg.Input("x", 1, m), sg.Input("y", 1, m)
    line = derive(sg.Model("line", sg.mean((w*x + c - y)**2), [w, c], [x, y]))  # 1 is no batch
    cases = [(rows, "Arrays hold one example per row."),
             (line, "Arrays hold one example per column."),
             (_derived("two_layer"), "Arrays hold one example per column.")]
    if target == "numpy":        # the array-API target has no labels nor scalar models
        cases += [(_derived("cs231n_softmax"), "X holds one example per row, y one per column."),
                  (_derived("graph"), "equations it computes. Only NumPy is needed.")]
    for d, said in cases:
        style = "fast" if target == "numpy" else "plain"
        assert said in _intro(module_source(d, style, target))
    # the derivation's introduction says the same
    assert "$X$ holds one example per row, $y$ one per column." in \
        _derived("cs231n_softmax").latex()


@pytest.mark.parametrize("style,target", [("fast", "numpy"), ("plain", "numpy"),
                                          ("plain", "array-api")])
def test_long_names_and_long_sums_stay_within_100_characters(tmp_path, style, target):
    """The Hessian's `dW_dot += a + b + ...` was never broken (only `x = ...` took
    parentheses), PARAMS and INPUTS never, and a Jacobian's mode lines in its docstring
    were broken as code: lines of 103 to 150 characters."""
    from helpers import model_file
    long = "w" * 38
    path = model_file(tmp_path, f"""
        X = sg.Input("X{'x' * 38}", n, m)
        W, V = sg.Param("W{long}", n, n), sg.Param("V{long}", n, n)
        A = sg.tanh(V @ sg.sigmoid(V @ sg.tanh(W @ X)))
        B = sg.sigmoid(W @ sg.relu(V @ A))
        cost = sg.mean(sg.tanh(V @ B) ** 2)
        model = sg.Model("longsums", loss=cost, params=[W, V], inputs=[X],
                         jacobians={{"j{'j' * 29}": (B, W)}}, hessian=True)
        """)
    (model, names), = load(path)
    source = module_source(derive(model, names), style, target)
    too_long = [line for line in source.splitlines() if len(line) > 100]
    assert not too_long, too_long
