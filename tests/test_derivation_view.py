"""The derivation view as a student reads it (issue 19): the summary in the course's notation,
the full trace with --steps, every symbol defined before it is used, and the defects the
rendered PDF showed, each pinned by its LaTeX text or the compiled PDF's text.

The expected lines are the course's (Ng's two-layer summary, its dA for a sigmoid with
cross-entropy), written here by hand."""
import re
import subprocess

import pytest
import sympy as sp

import symgrad as sg
from conftest import EXAMPLES, ROOT
from helpers import HEADER, compiled_latex, model_file, run_cli as run
from symgrad.codegen import module_source
from symgrad.derive import derive
from symgrad.explain import Explanation, render
from symgrad.graph import OPS
from symgrad.load import load
from symgrad.printing.latex import name_tex, text_tex
from symgrad.schedule import gradient_roots

ZOO = ROOT / "tests" / "zoo_model.py"


def derivations(path):
    return [derive(model, names) for model, names in load(path)]


def two_layer():
    (d,) = derivations(ROOT / "examples" / "two_layer.py")
    return d


def rows(text, section="Backward pass, right to left"):
    """The align rows 'lhs &= rhs' of one section, the shape notes dropped."""
    body = text.split(r"\subsection*{%s}" % section, 1)[1].split(r"\subsection*", 1)[0]
    return [r.split(" &&")[0].strip() for block in re.findall(
        r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", body, re.S) for r in block.split(" \\\\\n")]


# ---- the summary: the course's six lines -----------------------------------------------------
def test_the_two_layer_summary_is_the_six_lines_of_the_course():
    assert rows(two_layer().latex()) == [
        r"dZ^{[2]} &= A^{[2]} - Y",
        r"dW^{[2]} &= \frac{1}{m}\, dZ^{[2]}\, A^{[1]T}",
        r"db^{[2]} &= \frac{1}{m}\, \textstyle\sum_{i=1}^{m} dZ^{[2](i)}",
        r"dZ^{[1]} &= W^{[2]T}\, dZ^{[2]} \odot \left(1 - A^{[1]\circ 2}\right)",
        r"dW^{[1]} &= \frac{1}{m}\, dZ^{[1]}\, X^{T}",
        r"db^{[1]} &= \frac{1}{m}\, \textstyle\sum_{i=1}^{m} dZ^{[1](i)}",
    ]


def test_the_summary_says_where_the_one_over_m_went():
    text = two_layer().latex()
    assert "the mean over the $m$ examples" in text and r"the $\frac{1}{m}$ of the mean" in text


# Each expected summary below is derived by hand in the course's convention: dN of an adjoint
# with the m examples along its columns is m times the loss's own; a parameter's gradient is
# the loss's own (the Gradients section says so).
def summary(tmp_path, body):
    (d,) = derivations(model_file(tmp_path, body, header=HEADER + (
        "n_x, n_h, k = sp.symbols('n_x n_h k', integer=True, positive=True)\n")))
    return rows(d.latex())


def test_a_parameter_with_the_examples_in_its_shape_gets_the_losss_own_gradient(tmp_path):
    lines = summary(tmp_path, """
        X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)
        W, c, w = sg.Param("W", n_h, n_x), sg.Param("c", 1, m), sg.Param("w", 1, n_h)
        Z1 = W @ X + c                       # c: one bias per example, a row
        A = sg.tanh(Z1)
        model = sg.Model("rowbias", sg.binary_cross_entropy(sg.sigmoid(w @ A), Y), [W, c, w],
                         [X, Y])
        """)
    # dc = the sum over the rows of the loss's own dZ1 = (1/m) that of each example's
    assert r"dc &= \frac{1}{m}\, \textstyle\sum_{\text{rows}} dZ^{[1]}" in lines, lines


def test_a_sum_over_the_examples_inside_an_adjoint_keeps_its_one_over_m(tmp_path):
    lines = summary(tmp_path, """
        X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)
        w = sg.Param("w", 1, n_x)
        Z = w @ X
        Zc = Z - sg.mean(Z, axis=1, keepdims=True)     # dZ = dZc - mean(dZc): the 1/m stays
        A = sg.sigmoid(Zc)
        model = sg.Model("center", sg.binary_cross_entropy(A, Y), [w], [X, Y])
        """)
    assert lines == [r"dZ_{c} &= A - Y",
                     r"dZ &= - \frac{\textstyle\sum_{i=1}^{m} dZ_{c}^{(i)}}{m} + dZ_{c}",
                     r"dw &= \frac{1}{m}\, dZ\, X^{T}"]


def test_a_weight_used_twice_has_one_over_m_on_the_term_from_a_scaled_adjoint(tmp_path):
    lines = summary(tmp_path, """
        X = sg.Input("X", n_x, m)
        W, b = sg.Param("W", n_h, n_x), sg.Param("b", n_h, 1)
        Z1 = W @ X + b
        A1 = sg.tanh(Z1)
        R = W.T @ A1 - X                             # tied weights: W, then W^T
        model = sg.Model("tied", sg.sum(R * R) / m, [W, b], [X])
        """)
    # each example's dR = 2R, so dA1 = W dR; dW = A1 (the loss's own dR^T) + (1/m) dZ1 X^T
    assert lines[:2] == [r"dR &= 2 R", r"dA^{[1]} &= W\, dR"], lines
    t = next(row.split(" &=")[0] for row in lines if row.endswith(r"&= \frac{2 R^{T}}{m}"))
    assert lines[-1] == r"dW &= A^{[1]}\, %s + \frac{dZ^{[1]}\, X^{T}}{m}" % t, lines


@pytest.mark.parametrize("loss", ["sg.nll(sg.log_softmax(Z), y)", "sg.cross_entropy(Z, y)"])
def test_integer_labels_give_softmax_minus_onehot_and_one_over_m_once(tmp_path, loss):
    lines = summary(tmp_path, f"""
        X, y = sg.Input("X", n_x, m), sg.Labels("y", m)
        W, b = sg.Param("W", k, n_x), sg.Param("b", k, 1)
        Z = W @ X + b
        model = sg.Model("labels", {loss}, [W, b], [X, y])
        """)
    assert re.fullmatch(r"dZ &= - \\operatorname\{onehot\}\\left\(y\\right\) \+ e\^\{Z - "
                        r"t_\{1\}\}", lines[0]), lines
    assert lines[1:] == [r"dW &= \frac{1}{m}\, dZ\, X^{T}",
                         r"db &= \frac{1}{m}\, \textstyle\sum_{i=1}^{m} dZ^{(i)}"], lines


def test_the_scale_of_an_operand_printed_inline_is_found_from_its_op():
    from symgrad.explain import _CoursePrinter, _Unscaled
    from symgrad.graph import Node
    n, m = sp.symbols("n m")
    dz, x = Node("leaf", (), (n, m), id=1), Node("leaf", (), (n, m), id=2)
    printer = _CoursePrinter({1: "dZ", 2: "X"}, {}, m, scaled={1})
    total = Node("sum", [dz], (n, 1), axis=1, id=3)
    assert printer.scale(dz) == m and printer.scale(x) == 1 and printer.scale(total) == m
    assert printer.scale(Node("matmul", [dz, Node("transpose", [dz], (m, n), id=4)], (n, n),
                              id=5)) == m ** 2
    for op in (Node("logsumexp", [dz], (1, m), axis=0, id=6),       # not linear
               Node("concat", [dz, x], (2 * n, m), axis=0, id=7)):    # a sum of unlike scales
        with pytest.raises(_Unscaled):
            printer.scale(op)


def test_a_line_the_courses_convention_cannot_write_leaves_the_whole_summary_in_the_codes(
        monkeypatch):
    from symgrad.explain import _CoursePrinter
    monkeypatch.setattr(_CoursePrinter, "_PRODUCTS", frozenset({"sum", "transpose"}))
    text = two_layer().latex()             # dW2 = dZ2 A1^T is now a line it cannot write
    assert r"dZ^{[2]} &= \frac{A^{[2]} - Y}{m}" in rows(text), rows(text)
    assert r"dW^{[2]} &= dZ^{[2]}\, A^{[1]T}" in rows(text)
    assert "the mean over the $m$ examples" not in text


def test_a_loss_that_is_no_mean_over_the_examples_keeps_the_codes_own_adjoints():
    (d,) = derivations(ROOT / "examples" / "attention.py")     # the mean over d * m entries
    text = d.latex()
    assert "the mean over the" not in text
    assert r"dt_{1} &= \frac{2 t_{1}}{d m}" in text


def test_steps_give_the_full_trace_with_local_jacobians():
    d = two_layer()
    summary, steps = d.latex(), d.latex(steps=True)
    assert r"\frac{\partial" not in summary.split("Backward pass")[1].split("Gradients")[0]
    for expected in [r"\frac{\partial A^{[1]}}{\partial Z^{[1]}} &= \operatorname{diag}",
                     r"X^{T} \otimes I_{n_{h}}",                         # Kronecker structure
                     r"dW^{[1]} &= d\left(W^{[1]}\, X\right)\, X^{T}",
                     r" &= dZ^{[1]}\, X^{T}"]:
        assert expected in steps, expected
    result = run("latex", ROOT / "examples" / "two_layer.py", "--steps", cwd=ROOT)
    assert result.returncode == 0 and r"\otimes" in result.stdout


# ---- products, transposes, powers, names ------------------------------------------------------
def test_a_product_with_an_inner_dimension_of_one_prints_as_a_product():
    text = two_layer().latex(steps=True)          # W2 is 1 x n_h: W2^T dZ2 is an outer product
    assert r"&= W^{[2]T}\, dZ^{[2]}" in text
    assert r"dZ^{[2]} \odot W^{[2]T}" not in text and r"\odot {W^{[2]}}^{\top}" not in text


def test_transposes_read_as_in_the_notes():
    text = two_layer().latex()
    assert r"A^{[1]T}" in text and r"X^{T}" in text and r"^{\top}" not in text


def test_an_elementwise_square_is_not_a_matrix_power_and_a_sum_of_squares_is_a_norm():
    n, m = sp.symbols("n m", integer=True, positive=True)
    W, X = sg.Param("W", n, n), sg.Input("X", n, m)
    model = sg.Model("decay", sg.mean(sg.tanh(W @ X) ** 2) + sg.sum(W ** 2), [W], [X])
    text = model.derivation().latex()
    assert r"\left\|W\right\|^{2}" in text
    assert r"^{\circ 2}" in text and not re.search(r"\\right\)\^\{2\}", text)


def test_the_elementwise_square_of_an_expression_of_matrices_is_not_a_matrix_power():
    n, m = sp.symbols("n m", integer=True, positive=True)
    W, X, Y = sg.Param("W", n, n), sg.Input("X", n, m), sg.Input("Y", n, m)
    text = sg.Model("sq", sg.mse((W @ X).T, Y.T), [W], [X, Y]).derivation().latex()
    assert re.search(r"\\right\)\^\{\\circ 2\}", text) and not re.search(
        r"\\right\)\^\{2\}", text)


def test_markdown_prose_keeps_the_underscore_of_a_name_in_its_math(tmp_path):
    path = model_file(tmp_path, """
        X, Y = sg.Input("X", n, m), sg.Input("Y", 1, m)
        w = sg.Param("w", 1, n)
        model = sg.Model("u", sg.binary_cross_entropy(sg.sigmoid(w @ X), Y), [w], [X, Y],
                         names={"Y": "y_true"})
        """)
    text = render(derivations(path), "md")
    prose = [line for line in text.splitlines() if line.startswith("Each example's loss")]
    assert prose and r"\text{y}\_\text{true}" in prose[0], prose
    assert r"\text{y}_\text{true}" not in text and "value_and_grad" in text


@pytest.mark.parametrize("example, over", [("softmax_classifier", "rows"),
                                           ("cs231n_softmax", "cols")])
def test_a_logsumexp_names_the_axis_it_reduces_as_a_sum_does(example, over):
    (d,) = derivations(ROOT / "examples" / f"{example}.py")   # classes along rows, columns
    text = d.latex()
    assert r"\operatorname{logsumexp}_{\text{%s}}" % over in text    # Σ_rows: over the rows


def test_the_commutation_matrix_is_no_symbol_of_the_model():
    (d,) = derivations(ROOT / "examples" / "attention.py")       # K: the keys
    text = d.latex(steps=True)
    assert r"\mathbf{K} \text{ (the commutation matrix)}" in text
    assert r"= K \text{ (the commutation" not in text


def test_multi_letter_names_are_one_symbol():
    assert name_tex("Wq") == "W_{q}" and name_tex("AL") == "A^{[L]}"
    assert name_tex("cost") == r"\mathit{cost}" and name_tex("ReLU") == r"\mathrm{ReLU}"
    (d,) = derivations(ROOT / "examples" / "attention.py")
    text = d.latex()
    assert r"dW_{q} &= dQ\, X^{T}" in text and r"\mathit{Wq}" not in text


def test_a_names_dashes_and_quotes_are_set_as_typed():
    # TeX makes -- an en dash and '' a closing quote: y--label read y–label
    assert text_tex("y--label q''") == r"\text{y-{}-label q'{}'}"
    assert text_tex("pre-activation's") == r"\text{pre-activation's}"


def test_two_names_that_read_the_same_are_set_as_their_characters():
    # Wq and W_q both read W_{q}: their product printed as a square, two rows alike
    W, Wq, W_q, x = sg.Param("W"), sg.Param("Wq"), sg.Param("W_q"), sg.Input("x")
    d = derive(sg.Model("collide", W * x**2 + Wq * W_q, [W, Wq, W_q], [x]))
    text = d.latex()
    assert r"t_{2} &= W t_{1} + \text{W}\_\text{q} \text{Wq} &&" in text
    assert r"\partial \text{Wq}}" in text and r"\partial \text{W}\_\text{q}}" in text
    assert r"\partial W}" in text           # a name nothing else reads like keeps its form


def test_greek_capitals_are_greek_letters_or_their_names():
    # Phi read P_{hi} (as Wq reads W_{q}); Eta read H, Chi X (SymPy's: the Latin letters)
    assert [name_tex(n) for n in ("Phi", "Psi", "Theta", "Xi", "alpha")] == [
        r"\Phi", r"\Psi", r"\Theta", r"\Xi", r"\alpha"]
    assert [name_tex(n) for n in ("Eta", "Chi", "Rho", "Mu")] == [
        r"\mathrm{Eta}", r"\mathrm{Chi}", r"\mathrm{Rho}", r"\mathrm{Mu}"]


# ---- every symbol defined before it is used ----------------------------------------------------
# the names a line can use: layer names, numbered temporaries, words, subscripted names,
# tangents and seeds (an identity I_{n} and the dimensions are no values)
SYMBOL = re.compile(r"(?<![A-Za-z\\_])(d?(?:\\dot\{[^{}]*\}|\\bar\{[^{}]*\}|v_\{[^{}]*\}|"
                    r"[A-Za-z]\^\{\[\w+\]\}|[a-z]_\{\d+\}|\\mathit\{\w+\}|\\mathrm\{\w+\}|"
                    r"[A-HJ-Z]_\{[a-z]+\}))")


def undefined(text, given):
    """(symbol, row) for each symbol a row's right-hand side uses before a row defines it."""
    defined, bad = set(given), []
    for row in re.findall(r"^(.*?&=.*?)(?: \\\\)?$", text, re.M):
        lhs, rhs = row.split("&=", 1)
        bad += [(u, row) for u in SYMBOL.findall(rhs.split("&&")[0])
                if u not in defined and u != lhs.strip()]
        if lhs.strip():
            defined.add(lhs.strip())
    return bad


@pytest.mark.parametrize("steps", [False, True], ids=["summary", "steps"])
@pytest.mark.parametrize("path", EXAMPLES + [ZOO], ids=lambda p: p.stem)
def test_every_symbol_a_line_uses_is_defined_on_an_earlier_line(path, steps):
    for model, names in load(path):
        d = derive(model, names)
        given = {name_tex(x.name, model.names) for x in d.params + d.inputs}
        given |= {"d" + g for g in given} | {sp.latex(x) for x in model.dims}
        for j in d.jacobians:
            given |= {name_tex(j.seed.name), name_tex(j.tangent.name)}
        if d.hessian:
            given |= {"v_{%s}" % name_tex(p.name, model.names) for p in d.params}
        assert undefined(render([d], steps=steps), given) == []


def test_the_checker_finds_a_symbol_used_before_its_definition():
    text = "u &= t_{4} + W \\\\\nt_{4} &= 2 W"
    assert undefined(text, {"W"}) == [("t_{4}", "u &= t_{4} + W")]


# ---- sigmoid with cross-entropy, as the course derives it ---------------------------------------
def test_sigmoid_with_cross_entropy_goes_through_dA_then_dZ_and_names_the_stable_form():
    text = two_layer().latex(steps=True)
    da = r"dA^{[2]} &= -\frac{1}{m} \left(\frac{Y}{A^{[2]}} - \frac{1 - Y}{1 - A^{[2]}}\right)"
    dz = (r"dZ^{[2]} &= dA^{[2]} \odot \left(A^{[2]} \odot \left(1 - A^{[2]}\right)\right) \\"
          "\n" r" &= \frac{A^{[2]} - Y}{m}")
    assert da in text and dz in text and text.index(da) < text.index(dz)
    assert r"-\left(Y \log A^{[2]} + (1 - Y) \log(1 - A^{[2]})\right)" in text
    assert (r"t_{1} = Y \odot \operatorname{softplus}(-Z^{[2]}) + (1 - Y) \odot "
            r"\operatorname{softplus}(Z^{[2]})$, the form the code") in text
    assert r"\max(z, 0) + \log(1 + e^{-|z|})" in text
    assert "u_{1}" not in text                    # the stable rewrite's intermediates


def test_the_course_dA_is_the_derivative_of_the_cross_entropy():
    a, y, m = sp.symbols("a y m", positive=True)
    bce = -(y * sp.log(a) + (1 - y) * sp.log(1 - a)) / m
    shown = -(y / a - (1 - y) / (1 - a)) / m       # the line the test above pins down
    assert sp.simplify(sp.diff(bce, a) - shown) == 0


# ---- captions and noise -----------------------------------------------------------------------
@pytest.mark.parametrize("path", EXAMPLES + [ZOO], ids=lambda p: p.stem)
def test_captions_are_words_and_no_line_is_noise(path):
    for d in derivations(path):
        text = d.latex(steps=True)
        ops = "|".join(sorted(OPS))
        assert not re.search(r"\((%s)\)" % ops, text), re.search(r".*\((%s)\).*" % ops, text)
        assert not re.search(r"\\odot 1(?![0-9.])|\\cdot 1(?![0-9.])", text)
        assert r"\top}}^{\top}" not in text and "TT}" not in text and "^{T}^{T}" not in text
        for row in re.findall(r"^.*&=.*$", text, re.M):
            parts = [re.sub(r"\s|\\[,;!]", "", p) for p in row.split("&&")[0].split("=")]
            assert all(p != q for p, q in zip(parts[1:], parts[2:])), row


def test_a_bias_caption_says_it_was_broadcast_over_the_examples():
    text = two_layer().latex(steps=True)
    assert ("$b^{[1]}$ was broadcast over the $m$ examples in $Z^{[1]}$, so its adjoint sums "
            "the terms of $dZ^{[1]}$ over them") in text


def test_values_at_a_point_are_not_repeated():
    text = derivations(ROOT / "examples" / "graph.py")[0].latex(at={"a": 5, "b": 3, "c": 2},
                                                                steps=True)
    assert r" &= 3 b = 9" in text and "3 b = 3 b" not in text


def test_the_gradients_section_says_what_value_and_grad_returns():
    text = two_layer().latex()
    assert ("value\\_and\\_grad returns the loss $\\mathit{cost}$ and its gradient with "
            "respect to each parameter, in the order $W^{[1]}$, $b^{[1]}$, $W^{[2]}$, $b^{[2]}$"
            ) in text


# ---- Jacobians and the Hessian ----------------------------------------------------------------
def test_jacobian_and_hessian_sweeps_have_sections_of_their_own():
    (d,) = derivations(ROOT / "examples" / "cookbook.py")
    text = d.latex()
    assert r"\subsection*{Jacobian dcov\_dL:" in text
    assert "Right to left" in text.split("Jacobian dcov")[1] and "Left to right" in text
    (d,) = derivations(ROOT / "examples" / "logistic_newton.py")
    text = d.latex()
    hessian = text.split(r"\subsection*{Hessian, forward over reverse}")[1]
    assert "v_{w}" in hessian and "&=" in hessian


# ---- one plan for the code and the view -------------------------------------------------------
def test_the_view_reads_the_plan_object_the_code_generator_made():
    d = two_layer()
    module_source(d)
    key = tuple(r.id for r in gradient_roots(d))
    assert Explanation(d).code is d.plans[key]


# ---- user text, Unicode, notebooks ------------------------------------------------------------
def test_user_text_is_escaped_and_greek_names_are_commands():
    n, m = sp.symbols("n m", integer=True, positive=True)
    alpha, X = sg.Param("α", 1, n), sg.Input("X", n, m)
    model = sg.Model("greek", sg.mean(sg.tanh(alpha @ X)), [alpha], [X],
                     names={"X": r"X & $\input{x}$ #_%"})
    text = model.derivation().latex()
    assert "α" not in text and r"\alpha" in text
    assert r"\input{x}" not in text and r"\&" in text and r"\#" in text


def test_a_notebook_keeps_the_users_names_and_shows_sections():
    n_x, m = sp.symbols("n_x m", integer=True, positive=True)

    def cell():
        X, Y = sg.Input("X", n_x, m), sg.Input("Y", 1, m)
        w = sg.Param("w", 1, n_x)
        A = sg.sigmoid(w @ X)
        cost = sg.binary_cross_entropy(A, Y)
        return sg.derive(sg.Model("logreg", cost, [w], [X, Y]))
    d = cell()
    shown = d._repr_latex_()
    assert r"\mathit{cost} &= " in shown and r"\partial \mathit{cost} / \partial N" in shown
    assert r"$\textbf{Forward pass}$" in shown and r"$\textbf{Backward pass" in shown
    assert shown.count("$$\n\\begin{aligned}") >= 3 and "value_and_grad returns" in shown
    assert repr(d).startswith("Derivation of logreg:") and "\n    cost = " in repr(d)
    assert "Derivation(model=" not in repr(d)


# ---- the compiled PDF, as a student reads it ----------------------------------------------------
def pdf_text(path, tmp_path, *args):
    compiled_latex(path, tmp_path, *args, tools=("pdflatex", "pdftotext"))
    return subprocess.run(["pdftotext", "d.pdf", "-"], cwd=tmp_path, capture_output=True,
                          text=True, check=True).stdout


def test_the_relu_indicator_prints_as_a_bold_one_in_the_pdf(tmp_path):
    text = pdf_text(ROOT / "examples" / "deep_relu.py", tmp_path)
    assert "⊮" not in text                       # what amssymb's \mathbb{1} printed
    assert "⊙ 1 A[3] > 0" in text


def test_a_greek_name_prints_as_the_greek_letter_in_the_pdf(tmp_path):
    (tmp_path / "greek.py").write_text(
        "import sympy as sp\nimport symgrad as sg\n"
        "n, m = sp.symbols('n m', integer=True, positive=True)\n"
        "α, X = sg.Param('α', 1, n), sg.Input('X', n, m)\n"
        "model = sg.Model('greek', sg.mean(sg.tanh(α @ X)), [α], [X])\n")
    for args in [(), ("--steps",)]:
        text = pdf_text(tmp_path / "greek.py", tmp_path, "--force", *args)
        assert "dα" in text and "?" not in text


def test_the_steps_option_reads_as_two_hyphens_in_the_pdf(tmp_path):
    text = pdf_text(ROOT / "examples" / "two_layer.py", tmp_path)
    assert "--steps" in text and "–steps" not in text


def test_softmax_with_cross_entropy_goes_through_dA_and_the_softmax_jacobian():
    """The course's chain for softmax: dA = -Y / A from the loss on A = softmax(Z), then
    dZ = A * (dA - sum_rows(A * dA)) through the softmax's Jacobian diag(a) - a a^T, which is
    A * sum_rows(Y) - Y, and A - Y for one-hot labels (checked here in NumPy, column by
    column with the Jacobian itself); the summary shows it in the course's convention, the
    steps with the mean's 1/m; a model without softmax has no such block."""
    import numpy as np
    (d,) = [derive(model, names)
            for model, names in load(ROOT / "examples" / "softmax_classifier.py")]
    summary, steps = render([d]), render([d], steps=True)
    for text in (summary, steps):
        assert "Softmax with cross-entropy, as the course derives it" in text
        assert r"\odot \left(dA^{[2]} - \textstyle\sum_{\text{rows}}\left(A^{[2]} \odot " \
               r"dA^{[2]}\right)\right)" in text
    assert r"dA^{[2]} &= -Y \oslash A^{[2]}" in summary
    assert r"&= A^{[2]} - Y && \text{one-hot } Y" in summary
    assert r"dA^{[2]} &= -\frac{1}{m}\, Y \oslash A^{[2]}" in steps
    assert r"&= \frac{1}{m}\left(A^{[2]} - Y\right)" in steps
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((4, 5))
    A = np.exp(Z) / np.exp(Z).sum(axis=0)
    Y = np.eye(4)[:, rng.integers(0, 4, 5)]
    dA = -Y / A
    by_jacobian = np.stack([(np.diag(a) - np.outer(a, a)).T @ g for a, g in zip(A.T, dA.T)]).T
    np.testing.assert_allclose(by_jacobian, A * (dA - (A * dA).sum(axis=0)), atol=1e-12)
    np.testing.assert_allclose(by_jacobian, A * Y.sum(axis=0) - Y, atol=1e-12)
    np.testing.assert_allclose(by_jacobian, A - Y, atol=1e-12)
    two_layer = [derive(m, n) for m, n in load(ROOT / "examples" / "two_layer.py")]
    assert "Softmax with" not in render(two_layer) + render(two_layer, steps=True)
