"""The LaTeX view: every trace step explained, values at a point, and a real LaTeX engine.

pdflatex comes from Debian's texlive packages, which `.ci/run` installs; where it is missing
the compile test is skipped, unless SYMGRAD_REQUIRE_LATEX=1 (set by CI) makes it fail.
"""
import re

import pytest
import sympy as sp

import symgrad as sg
from conftest import EXAMPLES, ROOT
from helpers import compiled_latex, run_cli as run
from symgrad.derive import derive
from symgrad.explain import Explanation, render
from symgrad.load import load
from symgrad.printing.latex import breaks, width
from symgrad.rules import LOCAL, VJP


# every op in the registry, in one loss: trace, det and inverse of a square parameter too
ZOO = ROOT / "tests" / "zoo_model.py"


def derivations(path):
    return [derive(model, names) for model, names in load(path)]


@pytest.mark.parametrize("steps", [(), ("--steps",)], ids=["summary", "steps"])
@pytest.mark.parametrize("path", EXAMPLES + [ZOO], ids=lambda p: p.stem)
def test_every_example_compiles_without_errors_or_overfull_lines(path, steps, tmp_path):
    log = compiled_latex(path, tmp_path, *steps)
    overfull = re.findall(r"Overfull \\hbox \((\d+\.\d+)pt too wide\)", log)
    assert not [w for w in overfull if float(w) > 5], f"lines run off the page by {overfull} pt"


@pytest.mark.parametrize("path", EXAMPLES + [ZOO], ids=lambda p: p.stem)
def test_every_step_of_the_trace_appears(path):
    for d in derivations(path):
        text = render([d], steps=True)
        e = Explanation(d)
        e.intermediates()                   # the names the steps give long intermediates
        course = e.course                   # sigmoid with cross-entropy: dA, then dZ
        skipped = course.skipped if course else set()
        for step in d.steps:
            if step.node.id in skipped:
                continue
            assert "%s &= " % e.d_of(step.node) in text, e.d_of(step.node)
            if course and step.node is course.z:
                continue
            for t in step.terms:
                partial = r"\frac{\partial %s}{\partial %s} &= " % (
                    e.label(t.consumer), e.label(step.node))
                assert partial in text, partial


def test_every_rule_is_explained_and_exercised_by_an_example():
    assert set(LOCAL) == set(VJP)
    used = {t.consumer.op for path in EXAMPLES + [ZOO] for d in derivations(path)
            for s in d.steps for t in s.terms}
    assert used == set(VJP), f"no model uses {set(VJP) - used}: add it to {ZOO.name}"


def gradient_rows(text):
    rows = {}
    for name, rhs in re.findall(r"\\frac\{\\partial J\}\{\\partial (\w)\} &= (.*?) &", text):
        rows[name] = rhs.rsplit("= ", 1)[-1].strip()
    return rows


def test_scalar_graph_values_at_a_point_match_hand_derivatives():
    (d,) = derivations(ROOT / "examples" / "graph.py")
    # J = 3(a + b c): dJ/da = 3, dJ/db = 3c, dJ/dc = 3b
    for a, b, c in [(5, 3, 2), (1, -2, sp.Rational(1, 2))]:
        text = d.latex(at={"a": a, "b": b, "c": c})
        assert gradient_rows(text) == {"a": "3", "b": sp.latex(3 * c), "c": sp.latex(3 * b)}
        assert r"J &= 3 v = %s" % sp.latex(3 * (a + b * c)) in text
        assert r"u &= b c = %s" % sp.latex(b * c) in text


def test_two_layer_reads_as_in_the_notes():
    (d,) = derivations(ROOT / "examples" / "two_layer.py")
    text = d.latex(steps=True)
    for expected in [r"Z^{[1]} &= W^{[1]}\, X + b^{[1]} && n_{h} \times m",
                     r"A^{[1]} &= \tanh\left(Z^{[1]} \right)",
                     r"\frac{A^{[2]} - Y}{m}",                       # dZ2 = (A2 - Y)/m
                     r"\frac{\partial A^{[1]}}{\partial Z^{[1]}} &= \operatorname{diag}",
                     r"dZ^{[1]}\, X^{T}",                            # dW1 = dZ1 X^T
                     r"W^{[2]T}\, d\left(W^{[2]}\, A^{[1]}\right)",  # W2^T dZ2
                     r"\textstyle\sum_{i=1}^{m} dZ^{[1](i)}",        # db1: sum over examples
                     r"X^{T} \otimes I_{n_{h}}"]:                     # Kronecker structure
        assert expected in text, expected


def test_a_broadcast_operand_s_local_jacobian_is_the_broadcast_not_the_identity():
    """d vec(Z)/d vec(b) for Z = W X + b (b a column added to every example's column) is the
    nm x n matrix 1_m (x) I_n, not I; a row broadcast down the n rows is I_m (x) 1_n, and a
    number's is the column vec(partial). The Kronecker forms are checked on vec (columns
    stacked) of the broadcasts themselves, in NumPy."""
    import numpy as np
    n, m = sp.symbols("n m", integer=True, positive=True)
    X, b, c, s = sg.Input("X", n, m), sg.Param("b", n, 1), sg.Param("c", 1, m), sg.Param("s")
    W = sg.Param("W", n, n)
    Z = W @ X + b
    model = sg.Model("bc", sg.mean(sg.tanh(Z) * c + s * X - c), [W, b, c, s], [X])
    text = model.derivation().latex(steps=True)
    for expected in [r"\frac{\partial Z}{\partial b} &= \mathbf{1}_{m} \otimes I_{n}",
                     r"&= -(I_{m} \otimes \mathbf{1}_{n})",                      # - c
                     r"&= \operatorname{diag}\left(t_{1}\right)\,(I_{m} \otimes \mathbf{1}_{n})",
                     r"{\partial s} &= \operatorname{vec}\left(X\right)",
                     r"\frac{\partial Z}{\partial \left(W\, X\right)} &= I"]:
        assert expected in text, expected
    assert r"{\partial b} &= I" not in text and r"{\partial c} &= I" not in text
    rng, (n_, m_) = np.random.default_rng(0), (3, 4)
    vec = lambda a: a.reshape(-1, order="F")                           # noqa: E731
    col, row = rng.standard_normal((n_, 1)), rng.standard_normal((1, m_))
    assert np.array_equal(np.kron(np.ones((m_, 1)), np.eye(n_)) @ vec(col),
                          vec(np.broadcast_to(col, (n_, m_))))
    assert np.array_equal(np.kron(np.eye(m_), np.ones((n_, 1))) @ vec(row),
                          vec(np.broadcast_to(row, (n_, m_))))


def test_a_names_mapping_on_the_model_overrides_layer_superscripts():
    n, m = sp.symbols("n m", integer=True, positive=True)
    W1, X = sg.Param("W1", 1, n), sg.Input("X", n, m)
    model = sg.Model("named", sg.mean(sg.tanh(W1 @ X)), [W1], [X],
                     names={"W1": sg.tex(r"\mathbf{W}_{\mathrm{in}}")})
    text = model.derivation().latex()
    assert r"\mathbf{W}_{\mathrm{in}}" in text and "W^{[1]}" not in text


@pytest.mark.parametrize("key,hint", [("W3", ""), ("n", "a dimension reads as its symbol"),
                                      ("dW1", "")])
def test_a_names_key_that_names_no_node_is_refused_not_ignored(key, hint):
    """A typo (W3 for W1), a dimension or an adjoint in names= would change nothing in the
    LaTeX: refused, with the names that can be given display text."""
    n, m = sp.symbols("n m", integer=True, positive=True)
    W1, X = sg.Param("W1", 1, n), sg.Input("X", n, m)
    model = sg.Model("named", sg.mean(sg.tanh(W1 @ X)), [W1], [X], names={key: "V"})
    with pytest.raises(sg.SymgradError, match=f"no node of the model is named {key}.*{hint}"
                       ".*display text to: W1, X, Z1$"):
        model.derivation().latex()


def test_markdown_has_dollar_blocks_and_notebooks_get_a_display():
    (d,) = derivations(ROOT / "examples" / "two_layer.py")
    md = d.latex(fmt="md", steps=True)
    assert "\\documentclass" not in md and "align*" not in md
    assert md.count("$$\n\\begin{aligned}") == md.count("\\end{aligned}\n$$") > 10
    shown = d._repr_latex_()
    assert shown.startswith("$dN$") and shown.count("$$\n\\begin{aligned}") == shown.count(
        "\\end{aligned}\n$$") == 3


def test_long_right_hand_sides_break_into_lines():
    terms = " + ".join(r"\tanh\left(x_{%d}\right)" % k for k in range(30))
    lines = breaks(terms, 40)
    assert len(lines) > 3 and all(width(line) <= 60 for line in lines)
    assert "".join(lines).count("tanh") == 30


def test_only_a_function_argument_loses_its_braces():
    # \frac{\left(a\right)}{b} lost the numerator's braces: \frac\left(, a LaTeX error
    for tex in [r"\frac{\left(a + b\right)}{c}", r"\frac{a}{\left(b + c\right)}",
                r"e^{\left(a + b\right)}", r"\sqrt{\left(a + b\right)}"]:
        assert breaks(tex, 100) == [tex]
    assert breaks(r"\tanh{\left(x \right)} + \operatorname{softsign}{\left(y \right)}", 100) \
        == [r"\tanh\left(x \right) + \operatorname{softsign}\left(y \right)"]


def test_braces_in_a_name_are_characters_to_the_line_breaker():
    terms = " + ".join(r"\text{pre \{ act%d}" % k for k in range(30))
    lines = breaks(terms, 40)
    assert len(lines) > 3 and all(width(line) <= 60 for line in lines)


@pytest.mark.parametrize("steps", [(), ("--steps",)], ids=["summary", "steps"])
def test_a_softsign_layer_compiles(tmp_path, steps):
    # its dt = (W2^T dZ2)/(|t| + 1)^2 was printed \frac\left(...\right){...}
    (tmp_path / "soft.py").write_text(
        "import sympy as sp\nimport symgrad as sg\n"
        "n, m = sp.symbols('n m', integer=True, positive=True)\n"
        "X, Y = sg.Input('X', n, m), sg.Input('Y', 1, m)\n"
        "W1, W2 = sg.Param('W1', n, n), sg.Param('W2', 1, n)\n"
        "model = sg.Model('soft', loss=sg.mse(W2 @ sg.softsign(W1 @ X), Y), params=[W1, W2],"
        " inputs=[X, Y])\n")
    compiled_latex(tmp_path / "soft.py", tmp_path, *steps)


def test_cli_writes_markdown_and_values(tmp_path):
    result = run("latex", ROOT / "examples" / "graph.py", "-o", "d.md", "--at", "a=5,b=3,c=2",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "d.md").read_text()
    assert text.startswith("<!-- Generated by symgrad") and "$$" in text
    assert gradient_rows(text) == {"a": "3", "b": "6", "c": "9"}


@pytest.mark.parametrize("args, message", [
    (["--at", "a=5,b=x,c=2"], "--at: 'b=x' is not NAME=NUMBER"),
    (["--at", "a=5,b=3"], "--at: no value for c"),
    (["--at", "a=5,b=3,c=2,z=1"], "unknown names z"),
    (["--at", "a=5,b=3,c=2,a=6"], "--at: a is given twice: give it once"),    # (a=6 won)
    (["--at", "a=\uff15,b=3,c=2"], "is not NAME=NUMBER"),                     # a fullwidth 5
    (["--format", "pdf"], "invalid choice"),
])
def test_cli_rejects_bad_options_in_one_line(tmp_path, args, message):
    result = run("latex", ROOT / "examples" / "graph.py", *args, cwd=tmp_path)
    assert result.returncode != 0 and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["latex", "graph", "report"])
def test_at_values_are_read_as_numbers_never_run_as_code(tmp_path, command):
    hostile = "b=__import__('pathlib').Path('pwned').touch()"
    result = run(command, ROOT / "examples" / "graph.py", "--at", f"a=5,{hostile},c=2",
                 "-o", "out.dot" if command == "graph" else "out.html", cwd=tmp_path)
    assert result.returncode == 1 and "is not NAME=NUMBER" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "pwned").exists()
    assert list(tmp_path.iterdir()) == []


def test_at_takes_numbers_as_written_exactly():
    from symgrad.explain import parse_at
    assert parse_at("a=5, b=-2.5,c=3/4,d=1e-3") == {
        "a": 5, "b": sp.Rational(-5, 2), "c": sp.Rational(3, 4), "d": sp.Rational(1, 1000)}
    for bad in ("a=pi", "a=sqrt(2)", "a=3/0", "a=1e99999", "1a=3", "a"):
        with pytest.raises(sg.SymgradError, match="is not NAME=NUMBER"):
            parse_at(bad)


def test_at_on_a_matrix_model_and_foreign_files_are_refused(tmp_path):
    result = run("latex", ROOT / "examples" / "two_layer.py", "--at", "W1=1", cwd=tmp_path)
    assert result.returncode == 1 and "--at works only for scalar models" in result.stderr
    (tmp_path / "notes.tex").write_text("my own notes\n")
    result = run("latex", ROOT / "examples" / "graph.py", "-o", "notes.tex", cwd=tmp_path)
    assert result.returncode == 1 and "--force" in result.stderr
    assert (tmp_path / "notes.tex").read_text() == "my own notes\n"



def test_the_forward_pass_shown_is_the_one_value_and_grad_computes():
    """The explanation reads value_and_grad's own plan: cookbook's covariance = inv(P), an
    output that only forward and the Jacobian compute, used to appear among its statements."""
    from symgrad.codegen import module_source
    d, = derivations(ROOT / "examples" / "cookbook.py")
    vag = module_source(d).split("def value_and_grad(", 1)[1].split("\ndef ", 1)[0]
    forward = "\n".join(Explanation(d).forward())
    assert "covariance" not in vag and "covariance" not in forward
    for name in ("D", "P", "nll"):       # what it does compute, it shows
        assert f"\n    {name} = " in vag and re.search(rf"(^|\\mathit{{){name}\}}? &= ", forward,
                                                      re.M), name


def test_names_sympy_reads_with_a_script_modifier_compile(tmp_path):
    """SymPy reads descr as \\mathscr{de}, a command of a package (mathrsfs) the document does
    not load: pdflatex stopped at an undefined control sequence."""
    path = tmp_path / "scr.py"
    path.write_text("import sympy as sp\nimport symgrad as sg\n"
                    "n, m = sp.symbols('n m', integer=True, positive=True)\n"
                    "descr, Wscr_1 = sg.Param('descr', n, n), sg.Param('Wscr_1', n, n)\n"
                    "X = sg.Input('X', n, m)\n"
                    "model = sg.Model('scr', loss=sg.sum(sg.tanh(Wscr_1 @ descr @ X)), "
                    "params=[descr, Wscr_1], inputs=[X])\n")
    compiled_latex(path, tmp_path, "--steps")
