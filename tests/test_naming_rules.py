"""The one naming rule (symgrad/naming.py): the user's names are kept, reserved names are
refused for leaves and renamed for intermediates, a taken name gets the first free base_2,
base_3, ..., and unnamed statements the first free t1, t2, ..., never reading like a name in
use; and models full of hostile names derive to modules that agree with central
differences."""
import ast
import itertools
import re
import shutil
import subprocess
import textwrap

import numpy as np
import pytest
import sympy as sp

import symgrad as sg
from conftest import ROOT
from symgrad.certify import certify
from symgrad.codegen import module_source
from symgrad.codegen import tests_source as source_of_tests   # not collected by pytest
from symgrad.derive import derive
from symgrad.graph import Graph, placeholder
from symgrad.load import load
from symgrad.naming import RESERVED, Names, numbered, statement_names, unique_names
from symgrad.testing import (assert_matches_model, central_differences, check_grads,
                             default_dims, load_module, random_instance)


# -- Names: the rule, unit by unit ------------------------------------------------------------
def test_fresh_names_skip_the_taken_ones_in_order():
    names = Names(["t1", "t3", "W"])
    assert [names.fresh() for _ in range(3)] == ["t2", "t4", "t5"]
    assert {"t2", "t4", "t5"} <= names.taken


def test_a_fresh_name_never_reads_like_a_taken_one_in_the_derivation():
    names = Names(["t_1", "t__2"])          # read t_{1} and t^{2}; t1 would read t_{1}
    assert [names.fresh(), names.fresh()] == ["t2", "t3"]


def test_a_taken_name_gets_the_first_free_numbered_suffix():
    names = Names(["Z", "Z_2"])
    assert [names.unique("Z"), names.unique("Z"), names.unique("A")] == ["Z_3", "Z_4", "A"]


def test_reserved_names_are_never_given():
    names = Names()
    wanted = ["np", "SHAPES", "PARAMS", "INPUTS", "LABELS", "mode", "float", "lambda"]
    assert [names.unique(n) for n in wanted] == [f"{n}_2" for n in wanted]
    assert names.unique("_matmul") == "t" and names.unique("a b") == "t_2"   # no identifier
    assert {"np", "SHAPES", "float", "lambda", "mode", "xp", "workspace"} <= RESERVED.keys()


def test_names_are_deterministic_and_a_copy_is_independent():
    first, second = Names(["x"]), Names(["x"])
    assert [first.unique("x"), first.fresh()] == [second.unique("x"), second.fresh()]
    copy = first.copy()
    assert copy.fresh() == first.fresh() == "t2"
    copy.unique("y")
    assert "y" not in first.taken


def test_numbered_skips_the_taken_ones():
    taken = {"u_{1}", "u_{3}"}
    assert list(itertools.islice(numbered("u_{%d}", taken), 3)) == ["u_{2}", "u_{4}", "u_{5}"]
    assert "u_{5}" in taken


def _nodes():
    """A leaf t1 with a dimension t2, an unnamed node, one named t3 and one named np."""
    graph = Graph()
    x = graph.leaf(sp.MatrixSymbol("t1", sp.Symbol("t2"), 3))
    plain = graph.map(sp.exp(placeholder(0)), [x])
    named = graph.map(2 * placeholder(0), [x])
    named.name = "t3"
    hostile = graph.map(3 * placeholder(0), [x])
    hostile.name = "np"
    other = graph.map(sp.sin(placeholder(0)), [x])
    return [x, plain, named, hostile, other]


def test_statement_names_keep_the_nodes_names_and_number_the_rest_past_every_name():
    x, plain, named, hostile, other = order = _nodes()
    unique_names(order, Names())
    names = statement_names(order, Names())
    assert (hostile.name, names[named.id]) == ("np_2", "t3")      # a node never shadows np
    assert [names[plain.id], names[other.id]] == ["t4", "t5"]     # past the leaf, the dim, t3


def test_unique_names_keep_the_leaves_and_name_each_node_once():
    x, plain, named, hostile, other = order = _nodes()
    other.name = "t1"                       # the leaf's name: the leaf keeps it
    names = Names()
    unique_names(order, names)
    unique_names(order, names)              # a second pass renames nothing named before
    assert (x.name, named.name, hostile.name, other.name) == ("t1", "t3", "np_2", "t1_2")


# -- leaves: refused in one line that names the fix ------------------------------------------
@pytest.mark.parametrize("name, why", [
    ("np", "(NumPy)"), ("SHAPES", "(the module's shapes)"), ("PARAMS", "parameter names"),
    ("INPUTS", "input names"), ("LABELS", "numbers of classes"), ("mode", "mode="),
    ("float", "(a Python builtin)"), ("lambda", "is a Python keyword"),
    # jacobian_<name>'s local `order` (a parameter named so crashed it), the array-API
    # target's `import math` and `import sys` (a dimension named math broke math.sqrt)
    ("order", "picks by its mode"), ("math", "math module"), ("sys", "sys module"),
    ("_matmul", "starts with an underscore"), ("a b", "is not a Python identifier")])
def test_a_reserved_leaf_name_is_refused_in_one_line_that_names_the_fix(name, why):
    with pytest.raises(sg.SymgradError) as error:
        sg.Param(name, 2, 2)
    message = str(error.value)
    assert "\n" not in message and why in message and "rename it" in message


def test_a_dimension_named_like_a_module_global_is_refused():
    X = sg.Input("X", "SHAPES", "m")
    W = sg.Param("W", 1, "SHAPES")
    with pytest.raises(sg.SymgradError, match="dimension name 'SHAPES' .*rename it"):
        sg.Model("dims", loss=sg.mean(W @ X), params=[W], inputs=[X])


# -- hostile names, derived, imported and checked against central differences ----------------
def _derived(tmp_path, text):
    path = tmp_path / "hostile.py"
    path.write_text(textwrap.dedent(text))
    (model, names), = load(path)
    source = module_source(derive(model, names))
    return model, source, load_module(source, model.name)


def _jacobians_agree_with_central_differences(model, module, output):
    dims = default_dims(model, 0)
    values = random_instance(module, dims, 0)
    args = [values[k] for k in module.PARAMS + module.INPUTS]
    for key, (_, wrt) in model.jacobians.items():
        k = (module.PARAMS + module.INPUTS).index(wrt.name)
        want = central_differences(lambda *a: module.forward(*a)[output], args, k)
        for mode in ("reverse", "forward"):
            got = getattr(module, f"jacobian_{key}")(*args, mode=mode)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_intermediates_named_like_the_modules_globals_are_renamed(tmp_path):
    model, source, module = _derived(tmp_path, """
        import sympy as sp
        import symgrad as sg
        n, m = sp.symbols("n m", integer=True, positive=True)
        X, W = sg.Input("X", n, m), sg.Param("W", n, n)
        SHAPES = W @ X                      # the module reads SHAPES, PARAMS and INPUTS
        PARAMS = sg.tanh(SHAPES)
        INPUTS = W @ PARAMS
        mode = sg.sigmoid(INPUTS)           # the Jacobians' argument
        out = W @ mode
        cost = sg.mean(out * out)
        model = sg.Model("globals", loss=cost, params=[W], inputs=[X],
                         outputs={"np": out}, jacobians={"np_W": (out, W)})
        """)
    body = "".join(source.split(f"def {f}(", 1)[1].split("\ndef ", 1)[0]
                   for f in ("_forward_pass", "value_and_grad"))   # the forward pass's too
    for name in ("SHAPES", "PARAMS", "INPUTS", "mode", "np"):
        assert f"    {name}_2 = " in body and f"    {name} = " not in body
    check_grads(module, seed=0, rtol=1e-6)
    assert_matches_model(model, module, seed=1, rtol=1e-10)
    _jacobians_agree_with_central_differences(model, module, "np")


def test_a_parameter_named_like_a_modules_global_is_refused():
    with pytest.raises(sg.SymgradError, match="'SHAPES' cannot be a variable.*rename it"):
        sg.Param("SHAPES", 2, 2)


def test_temporaries_skip_the_users_t_names_in_code_and_in_the_derivation(tmp_path):
    model, source, module = _derived(tmp_path, """
        import sympy as sp
        import symgrad as sg
        n, m = sp.symbols("n m", integer=True, positive=True)
        t2 = sp.Symbol("t2", integer=True, positive=True)
        X, Y = sg.Input("X", n, m), sg.Input("Y", t2, m)
        t1, t_3, u_1 = sg.Param("t1", t2, n), sg.Param("t_3", t2, 1), sg.Param("u_1", t2, t2)
        A = sg.sigmoid(u_1 @ sg.tanh(t1 @ X + t_3))
        cost = sg.mean(sg.binary_cross_entropy(A, Y))
        model = sg.Model("tees", loss=cost, params=[t1, t_3, u_1], inputs=[X, Y])
        """)
    for function in ast.parse(source).body:
        if isinstance(function, ast.FunctionDef) and function.name != "_dims":
            assigned = {n.targets[0].id for n in ast.walk(function) if isinstance(n, ast.Assign)
                        and isinstance(n.targets[0], ast.Name)}
            assert not assigned & {"t1", "t2", "t3"}, function.name
    check_grads(module, seed=0, rtol=1e-6)
    assert_matches_model(model, module, seed=1, rtol=1e-10)
    latex = derive(*load(tmp_path / "hostile.py")[0]).latex("md")
    # t_3 and u_1 are the user's t_{3} and u_{1}: no statement nor long intermediate reads so
    assert not re.search(r"^(t_\{3\}|u_\{1\}) &=", latex, re.M)
    assert r"where $u_{1} =" not in latex


def test_a_seed_yields_its_name_to_the_users_variable(tmp_path):
    model, source, module = _derived(tmp_path, """
        import sympy as sp
        import symgrad as sg
        n, m = sp.symbols("n m", integer=True, positive=True)
        X, W = sg.Input("X", n, m), sg.Param("W", n, n)
        n_seeds = W @ X                     # the batch axis's name
        A_bar = sg.tanh(n_seeds)            # the seed's name, A's adjoint
        W_dot = 2 * A_bar                   # the tangent seed's name, along W
        A = sg.sigmoid(W_dot)
        cost = sg.mean(A)
        model = sg.Model("seeds", loss=cost, params=[W], inputs=[X], outputs={"A": A},
                         jacobians={"A_W": (A, W)})
        """)
    forward = "".join(source.split(f"def {f}(", 1)[1].split("\ndef ", 1)[0]
                      for f in ("_forward_pass", "forward"))
    assert "    A_bar = tanh(n_seeds)" in forward
    assert "A_bar_2[k] = e_k, the k-th of n_seeds_2 unit seeds" in source
    assert "W_dot_2[k] = e_k" in source
    check_grads(module, seed=0, rtol=1e-6)
    _jacobians_agree_with_central_differences(model, module, "A")


def test_hessian_directions_skip_the_parameters_and_the_builtins(tmp_path):
    model, source, module = _derived(tmp_path, """
        import sympy as sp
        import symgrad as sg
        a, va, ars = sg.Param("a"), sg.Param("va"), sg.Param("ars")
        cost = a**2 * va * ars + sp.sin(va) * a
        model = sg.Model("directions", loss=cost, params=[a, va, ars], hessian=True)
        """)
    assert "def hessian_vector_product(a, va, ars, va_2, vva, vars_2):" in source
    point = [0.3, -0.7, 1.1]
    want = np.stack([central_differences(lambda *p: np.array(module.value_and_grad(*p)[1]),
                                         point, k) for k in range(3)], axis=1)
    np.testing.assert_allclose(module.hessian(*point), want, rtol=1e-6, atol=1e-9)
    check_grads(module, seed=0, rtol=1e-6)


def test_a_temporary_never_overwrites_a_parameter_named_like_one(tmp_path):
    # t1 is read inside two fused statements only (Z1 = c + t1 @ X2, Z1_2 = b + t1 @ X): a
    # temporary between them named t1 overwrote the parameter, and the loss was wrong
    model, source, module = _derived(tmp_path, """
        import sympy as sp
        import symgrad as sg
        n, m = sp.symbols("n m", integer=True, positive=True)
        X, X2, Y = sg.Input("X", n, m), sg.Input("X2", n, m), sg.Input("Y", n, m)
        t1, b, c = sg.Param("t1", n, n), sg.Param("b", n, 1), sg.Param("c", n, 1)
        first = sg.mean(sg.binary_cross_entropy(sg.sigmoid(t1 @ X + b), Y))
        second = sg.mean(sg.tanh(t1 @ X2 + c))
        cost = first + second
        model = sg.Model("tied", loss=cost, params=[t1, b, c], inputs=[X, X2, Y])
        """)
    assert not re.search(r"^    t1 = ", source, re.M)
    check_grads(module, seed=0, rtol=1e-6)
    assert_matches_model(model, module, seed=1, rtol=1e-10)


def _longest(stem):
    return (stem + "_" + "x" * 40)[:40]


def test_names_of_forty_characters_give_lint_clean_modules_in_every_style(tmp_path):
    """The longest names a model may have, everywhere (parameters, inputs, dimensions,
    intermediates and the model's), in softmax's fused comments and a workspace, from a
    model file with a long name: every module and its test file compile and pass ruff with
    the project's settings, every module agrees with central differences; a longer
    intermediate is an unnamed statement."""
    ruff = shutil.which("ruff")
    names = {k: _longest(k) for k in ("W", "b", "X", "Y", "n", "k", "m", "Z", "A", "cost")}
    path = tmp_path / f"{'a_model_file_with_a_long_name_' * 2}.py"
    path.write_text(textwrap.dedent(f"""
        import sympy as sp
        import symgrad as sg
        {names['n']}, {names['k']}, {names['m']} = sp.symbols(
            "{names['n']} {names['k']} {names['m']}", integer=True, positive=True)
        {names['X']} = sg.Input("{names['X']}", {names['n']}, {names['m']})
        {names['Y']} = sg.Input("{names['Y']}", {names['k']}, {names['m']})
        {names['W']} = sg.Param("{names['W']}", {names['k']}, {names['n']})
        {names['b']} = sg.Param("{names['b']}", {names['k']}, 1)
        {names['Z']} = {names['W']} @ {names['X']} + {names['b']}
        {names['A']} = sg.softmax({names['Z']})
        {'T' * 41} = sg.tanh({names['Z']})
        {names['cost']} = sg.cross_entropy({names['Z']}, {names['Y']}) + sg.mean({'T' * 41})
        model = sg.Model("{_longest('model')}", loss={names['cost']},
                         params=[{names['W']}, {names['b']}],
                         inputs=[{names['X']}, {names['Y']}],
                         outputs={{"{_longest('probs')}": {names['A']}}})
        """))
    (model, found), = load(path)
    for i, (style, target, workspace) in enumerate([("fast", "numpy", False),
                                                      ("fast", "numpy", True),
                                                      ("plain", "numpy", False),
                                                      ("plain", "array-api", False)]):
        source = module_source(derive(model, found), style, target, workspace)
        assert "T" * 41 not in source and f"    {names['Z']} = " in source
        (tmp_path / f"m{i}.py").write_text(source)
        module = load_module(source, model.name)
        check_grads(module, seed=i, rtol=1e-6)
        assert_matches_model(model, module, seed=i, rtol=1e-10)
    (tmp_path / "m_tests.py").write_text(source_of_tests(
        model, path, tmp_path / "generated" / f"{model.name}.py", tmp_path / "tests"))
    if ruff is None:
        pytest.skip("ruff is not installed (.ci/run installs it)")
    result = subprocess.run([ruff, "check", "--no-cache", "--config",
                             str(ROOT / "pyproject.toml"), *map(str, tmp_path.glob("m*.py"))],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_parameter_named_like_a_certification_argument_is_certified(tmp_path):
    for name in ("dims", "values", "function", "model"):
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(f"""
            import sympy as sp
            import symgrad as sg
            n, m = sp.symbols("n m", integer=True, positive=True)
            X, Y = sg.Input("X", n, m), sg.Input("Y", 1, m)
            {name}, b = sg.Param("{name}", 1, n), sg.Param("b", 1, 1)
            cost = sg.binary_cross_entropy(sg.sigmoid({name} @ X + b), Y)
            model = sg.Model("with_{name}", loss=cost, params=[{name}, b], inputs=[X, Y])
            """))
        (model, found), = load(path)
        certify(model, module_source(derive(model, found)))
