"""Names the user gave: kept through SymPy's flattening, per layer for layers built in a
loop, and from the caller's variables in a notebook (sg.compile, model.derivation())."""
import inspect
import pickle
import re
import sys

import numpy as np
import pytest
import sympy as sp

import symgrad as sg
from conftest import ROOT
from helpers import model_file
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.load import load
from symgrad.naming import variables
from symgrad.testing import assert_matches_model, check_grads, load_module

BATCH_NORM = """
import sympy as sp
import symgrad as sg

n, k, m = sp.symbols("n k m", integer=True, positive=True)
X, Y = sg.Input("X", k, m), sg.Input("Y", n, m)
W, gamma, beta = sg.Param("W", n, k), sg.Param("gamma", n, 1), sg.Param("beta", n, 1)
column, row = sp.OneMatrix(m, 1), sp.OneMatrix(1, m)

Z = W @ X
mu = sp.MatMul(1 / m, Z, column)                                  # the mean of each row
D = sp.MatAdd(Z, sp.MatMul(-1, mu, row))
var = sp.MatMul(1 / m, sp.HadamardProduct(D, D), column)         # the variance of each row
std = sp.HadamardPower(sp.MatAdd(var, sp.MatMul(sp.Rational(1, 1000), sp.OneMatrix(n, 1))),
                       sp.Rational(1, 2))
Zhat = sp.HadamardProduct(D, sp.MatMul(sp.HadamardPower(std, -1), row))
out = sp.MatAdd(sp.HadamardProduct(sp.MatMul(gamma, row), Zhat), sp.MatMul(beta, row))
cost = sg.mse(out, Y)
model = sg.Model("batch_norm", loss=cost, params=[W, gamma, beta], inputs=[X, Y])
"""


def derived(path):
    """[(model, derivation, module source)] for every model in the file."""
    out = []
    for model, names in load(path):
        d = derive(model, names)
        out.append((model, d, module_source(d)))
    return out


def equations(source, function="value_and_grad"):
    """The equations in the docstring of one generated function, {name: right-hand side},
    with those of the forward pass it starts with (_forward_pass), if it calls one."""
    doc = source.split(f"def {function}(", 1)[1].split('"""')[1]
    found = dict(re.findall(r"^    (\w+) = (.*)$", doc, re.M))
    if re.search(r"^    .* = _forward_pass\(", doc, re.M) and function != "_forward_pass":
        found = equations(source, "_forward_pass") | found
    return found


# -- kept through SymPy's flattening -----------------------------------------------------------
def test_attention_computes_queries_keys_and_values_by_their_names():
    (model, d, source), = derived(ROOT / "examples" / "attention.py")
    eq = equations(source)
    # SymPy stores S as X.T @ Wk.T @ Wq @ X and the output as Wv @ X @ P
    assert (eq["Q"], eq["K"], eq["V"]) == ("Wq @ X", "Wk @ X", "Wv @ X")
    assert eq["S"] == "(K.T @ Q)/sqrt(d_k)" and eq["A"] == "V @ P"
    assert eq["dK"].startswith("Q @ ") and eq["dWk"] == "dK @ X.T"
    assert eq["dV"] == "dA @ P.T" and eq["dWv"] == "dV @ X.T"
    assert "K = _matmul(Wk, X)" in source and "V = _matmul(Wv, X)" in source
    latex = d.latex("md")
    for line in (r"K &= W_{k}\, X", r"V &= W_{v}\, X", r"A &= V\, P"):
        assert line in latex


def test_batch_norm_in_plain_sympy_keeps_mean_and_variance(tmp_path):
    (model, d, source), = derived(model_file(tmp_path, BATCH_NORM, header=""))
    eq = equations(source)
    # SymPy merges mu's ones-vector into OneMatrix(m, m) in D, and flattens Zhat into out
    assert eq["mu"] == "sum(Z, axis=1)/m" and eq["D"] == "Z - mu"
    assert eq["var"].endswith("/m") and eq["var"].startswith("sum(")
    assert eq["std"] == "sqrt(var + 1/1000)"
    inverse = re.fullmatch(r"D\*(\w+)", eq["Zhat"]).group(1)
    assert eq[inverse] == "1/std"
    assert eq["out"] == "Zhat*gamma + beta"
    assert "mu = np.add.reduce(Z, axis=1, keepdims=True)/m" in source
    latex = d.latex("md")
    assert r"\mu &= \frac{\textstyle\sum_{i=1}^{m} Z^{(i)}}{m}" in latex      # the mean example
    assert r"D &= Z - \mu" in latex and r"\mathit{var} &= " in latex
    module = load_module(source, model.name)
    assert_matches_model(model, module, seed=1, rtol=1e-10)
    check_grads(module, seed=2, rtol=1e-6)


def test_a_named_product_is_kept_in_a_multiple_and_a_transpose(tmp_path):
    path = model_file(tmp_path, """
        import sympy as sp
        import symgrad as sg
        n, m = sp.symbols("n m", integer=True, positive=True)
        X = sg.Input("X", n, m)
        W, U = sg.Param("W", n, n), sg.Param("U", n, n)
        H = W @ U                                # used as 3 H, and as H.T inside a product
        cost = sg.sum(sp.HadamardProduct(3 * H, H)) + sg.sum(X.T @ H.T @ X)
        model = sg.Model("multiple", loss=cost, params=[W, U], inputs=[X])
        """, header="")
    (model, d, source), = derived(path)
    eq = equations(source, "loss")
    assert eq["H"] == "W @ U" and "H.T" in eq["cost"] and "W" not in eq["cost"]
    assert_matches_model(model, load_module(source, model.name), seed=0)


# -- layers built in a loop ----------------------------------------------------------------------
def test_deep_relu_names_every_layer_after_its_loop_variables():
    (model, names), = load(ROOT / "examples" / "deep_relu.py")
    assert {f"Z{k}" for k in range(1, 5)} | {f"A{k}" for k in range(1, 5)} <= set(names)
    assert "Z" not in names and "A" not in names
    source = module_source(derive(model, names))
    eq = equations(source)
    assert eq["Z1"] == "W1 @ X + b1" and eq["A3"] == "relu(Z3)"
    assert eq["Z4"] == "W4 @ A3 + b4" and eq["AL"] == "sigmoid(Z4)"    # an output's name first
    assert eq["dZ4"] == "(AL - Y)/m" and "dW4" in eq


def test_a_loop_without_numbered_weights_and_a_helper_name_each_layer(tmp_path):
    path = model_file(tmp_path, """
        import sympy as sp
        import symgrad as sg
        n, m = sp.symbols("n m", integer=True, positive=True)
        X = sg.Input("X", n, m)
        weights = [sg.Param(f"W_{c}", n, n) for c in "abc"]

        def block(W, H):
            pre = W @ H                          # a helper's variables name each call's value
            return sg.tanh(pre)

        H = X
        for W in weights:
            H = block(W, H)
        cost = sg.mean(H)
        model = sg.Model("loop", loss=cost, params=weights, inputs=[X])
        """, header="")
    (model, d, source), = derived(path)
    eq = equations(source)
    assert [eq[f"pre{k}"] for k in (1, 2, 3)] == ["W_a @ X", "W_b @ H1", "W_c @ H2"]
    assert [eq[f"H{k}"] for k in (1, 2, 3)] == ["tanh(pre1)", "tanh(pre2)", "tanh(pre3)"]
    assert "pre" not in eq and "H" not in eq
    assert_matches_model(model, load_module(source, model.name), seed=0)


def test_a_variable_rebound_by_successive_statements_names_its_last_value(tmp_path):
    path = model_file(tmp_path, """
        import sympy as sp
        import symgrad as sg
        n, m = sp.symbols("n m", integer=True, positive=True)
        X, D1 = sg.Input("X", n, m), sg.Input("D1", n, m)
        W1 = sg.Param("W1", n, n)
        Z1 = W1 @ X
        A1 = sg.relu(Z1)
        A1 = sp.HadamardProduct(A1, D1)          # dropout, as the course writes it
        cost = sg.mean(A1)
        model = sg.Model("dropout", loss=cost, params=[W1], inputs=[X, D1])
        """, header="")
    (model, d, source), = derived(path)
    eq = equations(source, "loss")
    assert eq["A1"] == "D1*relu(Z1)" and not [k for k in eq if k.startswith("A1_")]


def test_layer_names_never_collide_with_parameters_or_other_variables(tmp_path):
    path = model_file(tmp_path, """
        import sympy as sp
        import symgrad as sg
        n, m = sp.symbols("n m", integer=True, positive=True)
        X = sg.Input("X", n, m)
        W = sg.Param("W", n, n)
        b1, b2 = sg.Param("b1", n, 1), sg.Param("b2", n, 1)
        b = X
        for bias in (b1, b2):
            b = sg.tanh(W @ b + bias)            # b1, b2 would be the parameters' names
        Z1 = W @ X                               # another variable named Z1 ...
        Z = Z1
        for _ in range(2):
            Z = W @ Z                            # ... so Z's are Z_1 (Z1's), Z_2, Z_3
        cost = sg.mean(b) + sg.mean(Z)
        model = sg.Model("clash", loss=cost, params=[W, b1, b2], inputs=[X])
        """, header="")
    (model, d, source), = derived(path)
    eq = equations(source)
    assert eq["b_1"].startswith("tanh(") and "b_2" in eq and "b1" not in eq
    assert eq["Z1"] == "W @ X" and eq["Z_2"] == "W @ Z1" and eq["Z_3"] == "W @ Z_2"
    assert "Z2" not in eq and "Z_1" not in eq           # Z_1 is Z1
    compile(source, "clash.py", "exec")
    assert_matches_model(model, load_module(source, model.name), seed=0)


def test_variables_number_what_one_statement_rebound_to_new_expressions():
    x, y = sp.symbols("x y")
    e1, e2, e3 = x + y, x * y, x - y
    loop, before, after = "line 7", "line 3", "line 4"
    bindings = [("h1", e1, loop), ("h1", e2, loop), ("s", e1, loop), ("s", x + y, loop),
                ("leaf", x, loop), ("_tmp", e2, loop), ("n", 3, loop),
                ("A", sp.MatrixSymbol("X", 2, 2), before), ("A", e1, loop), ("A", e2, loop),
                ("B", e1, before), ("B", e2, loop), ("B", e3, loop),
                ("C", e1, before), ("C", e2, after), ("C", e2, None)]
    assert variables(bindings) == {"h1_1": e1, "h1_2": e2, "s": e1, "A1": e1, "A2": e2,
                                   "B1": e1, "B2": e2, "B3": e3, "C": e2}


def test_loading_restores_the_trace_function_in_place(tmp_path):
    calls = []

    def tracer(frame, event, arg):
        calls.append(event)

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        load(ROOT / "examples" / "deep_relu.py")
        restored = sys.gettrace()
    finally:
        sys.settrace(previous)
    assert restored is tracer


# -- in a notebook -----------------------------------------------------------------------------
def _two_layer():
    n_x, n_h, m = sp.symbols("n_x n_h m", integer=True, positive=True)
    X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)
    W1, b1, W2 = sg.Param("W1", n_h, n_x), sg.Param("b1", n_h, 1), sg.Param("W2", 1, n_h)
    cost = sg.mse(W2 @ sg.tanh(W1 @ X + b1), Y)
    return sg.Model("notebook_two_layer", loss=cost, params=[W1, b1, W2], inputs=[X, Y])


def test_compile_builds_an_importable_module_named_after_the_callers_variables(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    n_x, n_h, m = sp.symbols("n_x n_h m", integer=True, positive=True)
    X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)
    W1, b1, W2 = sg.Param("W1", n_h, n_x), sg.Param("b1", n_h, 1), sg.Param("W2", 1, n_h)
    hidden = sg.tanh(W1 @ X + b1)
    scores = W2 @ hidden
    cost = sg.mse(scores, Y)
    model = sg.Model("notebook_two_layer", loss=cost, params=[W1, b1, W2], inputs=[X, Y])
    module = sg.compile(model)
    assert list(tmp_path.iterdir()) == []                       # no file written
    assert sys.modules[module.__name__] is module
    source = inspect.getsource(module)
    eq = equations(source)
    assert eq["hidden"] == "tanh(Z1)" and eq["scores"] == "W2 @ hidden"
    assert eq["dscores"] == "2*t1/m" and eq["t1"] == "-Y + scores"
    assert eq["dW2"] == "dscores @ hidden.T" and eq["dZ1"] == "(W2.T @ dscores)*(1 - hidden**2)"
    assert pickle.loads(pickle.dumps(module.value_and_grad)) is module.value_and_grad
    assert_matches_model(model, module, seed=4, rtol=1e-10)     # the model's own SymPy
    check_grads(module, seed=5, rtol=1e-6)                      # central differences
    latex = model.derivation().latex("md")
    assert r"\mathit{hidden} &= \tanh\left(Z^{[1]} \right)" in latex
    assert r"\mathit{scores} &= W^{[2]}\, \mathit{hidden}" in latex


def test_a_model_compiled_again_leaves_the_first_module_picklable():
    """Each sg.compile replaced sys.modules['symgrad_compiled_<name>']: pickling the first
    module's functions then failed (not the same object as the second's)."""
    model = _two_layer()
    fast, plain, again = sg.compile(model), sg.compile(model, style="plain"), sg.compile(model)
    assert again is fast and plain is not fast and plain.__name__ != fast.__name__
    for module in (fast, plain):
        assert sys.modules[module.__name__] is module
        assert pickle.loads(pickle.dumps(module.value_and_grad)) is module.value_and_grad
        assert "def value_and_grad" in inspect.getsource(module)


def test_compile_certifies_unless_verify_is_false(monkeypatch):
    model = _two_layer()
    seen = []

    def refuse(model, source):
        seen.append(model.name)
        raise sg.SymgradError("refused")

    monkeypatch.setattr("symgrad.notebook.certify", refuse)
    with pytest.raises(sg.SymgradError, match="refused"):
        sg.compile(model)
    module = sg.compile(model, verify=False)
    assert seen == ["notebook_two_layer"]
    W1, b1, W2 = (np.full(s, 0.1) for s in [(3, 2), (3, 1), (1, 3)])
    value, grads = module.value_and_grad(W1, b1, W2, np.ones((2, 4)), np.zeros((1, 4)))
    assert np.isclose(value, np.tanh(0.3) ** 2 * 9 / 100) and len(grads) == 3


@pytest.mark.parametrize("name", ['act\n    import os; os.system("touch PWNED")\n    #',
                                  'f"""', "f-g", "fé"])
def test_a_function_class_whose_name_is_not_an_identifier_is_refused(name):
    """A SymPy Function class's name is printed in the module's comments and docstrings:
    one with a newline ran `import os; ...` as a statement of the generated module."""
    act = type(name, (sp.Function,), {"fdiff": lambda self, i=1: 1 - sp.tanh(self.args[0])**2})
    n, m = sp.symbols("n m", integer=True, positive=True)
    W, X = sg.Param("W", n, n), sg.Input("X", n, m)
    with pytest.raises(sg.SymgradError, match="a function is named .*: name a Function class"):
        sg.Model("inj", loss=sg.sum((W @ X).applyfunc(act)), params=[W], inputs=[X])
