"""Issue 16, one op table: every op in symgrad.graph.OPS has its derivative rules (a VJP, a
JVP and the VJP's explanation, symgrad/rules.py) unless it has none by design (listed below
with the reason), and a NumPy and a LaTeX printer. The printers are checked by printing a
tiny node of each op (tests/op_cases.py); the NumPy code, in both styles (fast and plain), is
run and compared with the value op_cases.evaluate computes on its own."""
import numpy as np
import pytest

from op_cases import CASES, build, evaluate
from symgrad.graph import OPS, Graph
from symgrad.printing import runtime
from symgrad.printing.latex import LatexNodePrinter, name_tex
from symgrad.printing.numpy import (FastNumPyNodePrinter, MathNodePrinter,
                                    PlainNumPyNodePrinter)
from symgrad.rules import JVP, LOCAL, VJP, Local
from symgrad.schedule import plan

# ops with no VJP, by design (the sweep never takes an adjoint through them)
NO_VJP = {
    "leaf": "no operands",
    "eye": "no operands",
    "scatter": "made by the sweep only, as pick's adjoint (a Hessian is forward over reverse)",
    "pad": "made by the sweep only, as the adjoint of slices",
    "undiag": "made by the sweep only, as diag's adjoint",
    "argmax_put": "made by the sweep only, as max's adjoint",
    "argmin_put": "made by the sweep only, as min's adjoint",
    "argmax_take": "made by the forward sweep only, as max's tangent",
    "argmin_take": "made by the forward sweep only, as min's tangent",
}
# ops with no JVP, by design
NO_JVP = {
    "leaf": "no operands: a leaf's tangent is given, not derived",
    "eye": "no operands: a constant",
}


def test_the_exemptions_are_ops():
    assert set(NO_VJP) <= OPS and set(NO_JVP) <= OPS


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_op_has_its_rules_unless_exempt(op):
    if op in NO_VJP:
        assert op not in VJP and op not in LOCAL, f"{op} has a VJP: drop it from NO_VJP"
    else:
        assert op in VJP, f"{op} has no VJP rule in rules.py"
        assert isinstance(LOCAL[op], Local) and LOCAL[op].text, f"{op} has no explanation"
        assert callable(LOCAL[op].jacobian) and callable(LOCAL[op].chain)
    if op in NO_JVP:
        assert op not in JVP, f"{op} has a JVP: drop it from NO_JVP"
    else:
        assert op in JVP, f"{op} has no JVP rule in rules.py"


def test_the_rules_are_for_ops_of_the_table():
    assert set(VJP) <= OPS and set(JVP) <= OPS and set(LOCAL) == set(VJP)


def test_every_op_has_a_case():
    assert {c.op for c in CASES} == OPS


def test_a_node_of_an_unknown_op_is_refused():
    with pytest.raises(ValueError, match="unknown op 'gather'"):
        Graph()._make("gather", (), ())


def _printing(case):
    graph, node, values, _ = build(case)
    p = plan([node])
    names = {n.id: n.name or f"t{k}" for k, n in enumerate(p.order)}
    return node, values, p, names


@pytest.mark.parametrize("style", [FastNumPyNodePrinter, PlainNumPyNodePrinter],
                         ids=["fast", "plain"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_numpy_printer_computes_the_op(case, style):
    node, values, p, names = _printing(case)
    printer = style(p, names)
    if node.op == "leaf":            # an argument of the function: printed as its name
        assert printer.operand(node) == (node.name, False)
        return
    temps = iter(f"tmp{k}" for k in range(100))
    code = "\n".join(printer.lines(node, "out", lambda: next(temps)))
    scope = {"np": np, **values, **{h: getattr(runtime, h) for h in printer.runtime}}
    exec(compile(code, case.id, "exec"), scope)
    want = evaluate(node, values)
    got = np.asarray(scope["out"], dtype=float)
    assert got.shape == want.shape, code
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=code)
    assert MathNodePrinter(names, p.exprs).rhs(node)   # docstring math


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_latex_printer_prints_the_op(case):
    node, _, p, names = _printing(case)
    leaves = {n.id: name_tex(n.name) for n in p.order if n.op == "leaf"}
    text = LatexNodePrinter(leaves, p.exprs).rhs(node)
    assert isinstance(text, str) and text.strip()
