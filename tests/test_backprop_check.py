"""compare_backprop and assert_backprop_matches: a student's backward pass checked step by
step against symgrad's trace, naming the first wrong step of each classic bug."""
import importlib.util

import numpy as np
import pytest

from conftest import ROOT
from symgrad.errors import SymgradError
from symgrad.testing import assert_backprop_matches, compare_backprop

spec = importlib.util.spec_from_file_location(
    "student_backprop", ROOT / "examples" / "scripts" / "student_backprop.py")
student = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student)
MODEL = ROOT / "examples" / "two_layer.py"


def with_bug(bug):
    return lambda parameters, cache, X, Y: student.backward_propagation(parameters, cache, X, Y,
                                                                        bug)


def test_the_correct_course_backprop_passes_every_step():
    report = compare_backprop(MODEL, with_bug(None))
    assert report.passed and [c.name for c in report.checks if c.ok] == \
        ["dZ2", "db2", "dW2", "dA1", "dZ1", "db1", "dW1"]
    assert "as the course writes them" in report.convention


@pytest.mark.parametrize("bug, first, formula", [
    ("missing_one_over_m", "dW1", "dW1 = dZ1 @ X.T / m"),
    ("no_activation_derivative", "dZ1", "dZ1 = dA1*(1 - A1**2)"),
    ("db_wrong_axis", "db1", "db1 = sum(dZ1, axis=1, keepdims=True) / m")])
def test_each_classic_bug_is_named_with_the_formula_it_should_follow(bug, first, formula):
    report = compare_backprop(MODEL, with_bug(bug))
    wrong = report.first_wrong
    assert wrong.name == first and wrong.formula == formula
    before = report.checks[:[c.name for c in report.checks].index(first)]
    assert before and all(c.ok for c in before)          # right to left: all before it right
    assert f"first wrong step: {first}" in report.text()


def test_the_course_formulas_are_the_six_lines_of_the_notes():
    """The formulas of the course's summary, written out by hand (dZ per example)."""
    report = compare_backprop(MODEL, with_bug(None))
    assert {c.formula for c in report.checks} == {
        "dZ2 = A2 - Y", "dW2 = dZ2 @ A1.T / m", "db2 = sum(dZ2, axis=1, keepdims=True) / m",
        "dA1 = W2.T @ dZ2", "dZ1 = dA1*(1 - A1**2)", "dW1 = dZ1 @ X.T / m",
        "db1 = sum(dZ1, axis=1, keepdims=True) / m"}


def test_adjoints_of_the_cost_pass_too_but_conventions_cannot_be_mixed():
    def scaled(only):
        def backward(parameters, cache, X, Y):
            grads = student.backward_propagation(parameters, cache, X, Y)
            m = X.shape[1]
            return {k: v / m if k in only else v for k, v in grads.items()}
        return backward
    report = compare_backprop(MODEL, scaled({"dZ2", "dA1", "dZ1"}))
    assert report.passed and report.convention == "the cost's adjoints"
    assert report.checks[0].formula == "dZ2 = (A2 - Y)/m"
    assert compare_backprop(MODEL, scaled({"dZ1"})).first_wrong.name == "dZ1"


def test_unknown_names_list_the_valid_ones_and_missing_ones_are_skipped():
    with pytest.raises(SymgradError, match="no adjoint named dZ3 in two_layer's trace: its "
                       "adjoints are dZ2, db2, dW2, dA1, dZ1, db1, dW1"):
        compare_backprop(MODEL, lambda p, c, X, Y: {"dZ3": 0})
    with pytest.raises(SymgradError, match="backward returned tuple, not a dict"):
        compare_backprop(MODEL, lambda p, c, X, Y: (1, 2))

    def only_grads(parameters, cache, X, Y):
        grads = student.backward_propagation(parameters, cache, X, Y)
        return {k: grads[k] for k in ("dW1", "db1", "dW2", "db2")}
    report = compare_backprop(MODEL, only_grads)
    assert report.passed and [c.name for c in report.checks if not c.given] == \
        ["dZ2", "dA1", "dZ1"]


def test_the_student_gets_copies_and_the_cache_holds_the_forward_values():
    seen = {}

    def backward(parameters, cache, X, Y):
        seen.update(parameters=sorted(parameters), cache=sorted(cache))
        z1 = parameters["W1"] @ X + parameters["b1"]
        np.testing.assert_allclose(cache["Z1"], z1, rtol=1e-12)
        np.testing.assert_allclose(cache["A1"], np.tanh(z1), rtol=1e-12)
        X *= 0                                              # a copy: no harm done
        return {}
    report = compare_backprop(MODEL, backward)
    assert seen == {"parameters": ["W1", "W2", "b1", "b2"],
                    "cache": ["A1", "A2", "Z1", "Z2", "cost"]}
    assert not report.passed and "none of the adjoints given" in report.text()


def test_assert_backprop_matches_raises_with_the_report():
    assert_backprop_matches(MODEL, with_bug(None))
    with pytest.raises(AssertionError, match=r"first wrong step: dZ1 .*dZ1 = dA1\*\(1 - A1\*\*2\)"):
        assert_backprop_matches(MODEL, with_bug("no_activation_derivative"))


def test_the_lecture_graph_by_hand_and_a_swapped_partial():
    """J = 3(a + bc), u = bc, v = a + u: dv = 3, du = dv = 3, da = dv = 3, db = c du,
    dc = b du; the student's values at the random point come from these formulas."""
    import symgrad as sg
    import sympy as sp
    a, b, c = sg.Param("a"), sg.Param("b"), sg.Param("c")
    with sp.evaluate(False):
        u = b * c
        v = a + u
        J = 3 * v
    model = sg.Model("lecture", loss=J, params=[a, b, c])

    def backward(parameters, cache, swap=False):
        b, c = parameters["b"], parameters["c"]
        du = dv = 3.0
        return {"dv": dv, "du": du, "da": dv, "db": (b if swap else c) * du, "dc": b * du}
    report = compare_backprop(model, backward)
    assert report.passed and [c.name for c in report.checks] == ["dv", "da", "du", "dc", "db"]
    wrong = compare_backprop(model, lambda p, c: backward(p, c, swap=True)).first_wrong
    assert (wrong.name, wrong.formula) == ("db", "db = 3*c")
    assert_backprop_matches(model, backward)


def test_the_example_script_reports_each_bug(capsys):
    student.main()
    out = capsys.readouterr().out
    assert [line.split(" (")[0] for line in out.splitlines() if line.startswith("first")] == \
        ["first wrong step: dW1", "first wrong step: dZ1", "first wrong step: db1"]
