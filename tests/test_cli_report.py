"""What `symgrad derive` reports: the files it wrote and the time each model took; with -v,
the right-to-left steps. Progress notes go to a terminal's stderr only, never into a pipe."""
import io
import re
import sys

import pytest
from conftest import ROOT
from helpers import model_file
from test_cli import run

from symgrad import cli


def test_derive_verbose_shows_the_chain_rule_steps_and_timings(tmp_path):
    (tmp_path / "two_layer.py").write_text((ROOT / "examples" / "two_layer.py").read_text())
    result = run("derive", "two_layer.py", "-v", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    out = result.stdout
    assert "two_layer: right-to-left sweep" in out
    steps = re.findall(r"^\s+\d+\. (d\S+) = (.*)$", out, re.M)
    order = [name for name, _ in steps]
    assert order[0] == "dcost" and order.index("dZ2") < order.index("dZ1") < order.index("dW1")
    rules = dict(steps)
    assert rules["dZ1"] == "dA1 * (1 - tanh(Z1)**2)"            # tanh' = 1 - tanh^2
    assert rules["dA1"].startswith("W2^T @ d")                   # dA1 = W2^T dZ2
    assert rules["db1"] == "sum of dZ1 to shape (n_h, 1)"        # the bias broadcast undone
    assert re.search(r"derive \d+\.\d\d s, emit \d+\.\d\d s", out)
    assert re.search(r"^wrote generated/two_layer\.py \(\d+\.\d\d s\)$", out, re.M)


def test_derive_verbose_prints_each_rule_as_its_text_the_same_on_every_run(tmp_path):
    """-v names a rule by its text, never by a repr holding memory addresses."""
    (tmp_path / "two_layer.py").write_text((ROOT / "examples" / "two_layer.py").read_text())
    first, second = (run("derive", "two_layer.py", "-v", cwd=tmp_path).stdout
                     for _ in range(2))
    sweep = [text.split("  derive ")[0] for text in (first, second)]    # then the timings
    assert sweep[0] == sweep[1] and "through sum [sum(A)" in sweep[0]
    assert "0x" not in sweep[0] and "<function" not in sweep[0] and "Local(" not in sweep[0]


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, so that the progress notes show."""

    def isatty(self):
        return True


@pytest.mark.parametrize("loss,says", [
    ("sg.mean(W @ X)", "symgrad: warning: parameter V does not reach the loss"),
    ("sg.mean(sg.log(W @ X - 100))", "symgrad: error: model x: cannot certify"),
    ("interrupt", "symgrad: interrupted; no file was left half-written")])
def test_a_message_on_a_terminal_starts_on_a_line_the_progress_note_left(tmp_path, monkeypatch,
                                                                         loss, says):
    """An error, a warning or Ctrl-C is not glued to the progress note: it is cleared first
    (as a run that succeeds clears it)."""
    if loss == "interrupt":
        def interrupted(*args):
            raise KeyboardInterrupt
        monkeypatch.setattr(cli, "certify", interrupted)
        loss = "sg.mean(W @ X)"
    model_file(tmp_path, f"""
        W, V, X = sg.Param("W", 1, n), sg.Param("V", 1, n), sg.Input("X", n, m)
        model = sg.Model("x", loss={loss}, params=[W, V], inputs=[X])
    """)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stderr", Terminal())
    cli.main(["derive", "model.py", "-o", "out"])
    err = sys.stderr.getvalue()
    assert says in err and "x: deriving ..." in err
    assert not re.search(r"(?<!\r\033\[K)symgrad: ", err), repr(err)
