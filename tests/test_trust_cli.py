"""Issue 14, the command line's side: every failure is one line, writes are atomic and get
the user's umask, a model file's folder is importable, and nothing written from a user's
text (file names, names=, output names) can run code or read files."""
import errno
import os
import signal
import subprocess
import tempfile
import sys

import pytest
import sympy as sp
from helpers import model_file

import symgrad as sg
from symgrad import cli
from symgrad.errors import SymgradError

PLAIN = """
    W, X = sg.Param('W', 1, n), sg.Input('X', n, m)
    model = sg.Model('plain', sg.sum(sg.tanh(W @ X)), [W], [X])
"""


@pytest.fixture(autouse=True)
def here(tmp_path, monkeypatch):
    """Run in tmp_path, with certification (another part of issue 14) a no-op."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "certify", lambda model, source: None)
    return tmp_path


def one_line_error(capsys, *argv):
    """Run symgrad in-process; the single stderr line of its failure (exit code 1)."""
    assert cli.main([str(a) for a in argv]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symgrad: error: "), lines
    return lines[0]


def leftovers(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.tmp"))


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_before_or_after_the_subcommand_shows_the_traceback(where):
    argv = ["derive", "missing.py"]
    argv = ["--debug"] + argv if where == "before" else argv + ["--debug"]
    with pytest.raises(SymgradError, match="no such file"):
        cli.main(argv)


def test_an_output_folder_that_is_a_file(tmp_path, capsys):
    model_file(tmp_path, PLAIN)
    (tmp_path / "out").write_text("a file\n")
    line = one_line_error(capsys, "derive", "model.py", "-o", "out")
    assert "out is a file, not a folder" in line
    assert (tmp_path / "out").read_text() == "a file\n"


def test_a_target_that_is_a_folder(tmp_path, capsys):
    model_file(tmp_path, PLAIN)
    (tmp_path / "generated" / "plain.py").mkdir(parents=True)
    line = one_line_error(capsys, "derive", "model.py")
    assert "generated/plain.py: it is a folder" in line
    assert one_line_error(capsys, "derive", "model.py", "--check") == line


def test_tests_into_a_file(tmp_path, capsys):
    model_file(tmp_path, PLAIN)
    (tmp_path / "tests").write_text("a file\n")
    line = one_line_error(capsys, "derive", "model.py", "--tests", "tests")
    assert "tests is a file, not a folder" in line
    assert not (tmp_path / "generated").exists()        # refused before writing anything


def test_an_unwritable_folder(tmp_path, capsys, monkeypatch):
    model_file(tmp_path, PLAIN)

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(cli.tempfile, "mkstemp", refuse)
    line = one_line_error(capsys, "derive", "model.py")
    assert "cannot write generated/plain.py: Permission denied: choose a folder you can " \
           "write" in line


def test_a_full_disk_leaves_no_temporary_and_no_file(tmp_path, capsys, monkeypatch):
    model_file(tmp_path, PLAIN)
    fdopen = os.fdopen

    def full(fd, *args, **kwargs):
        f = fdopen(fd, *args, **kwargs)

        def write(text):
            raise OSError(errno.ENOSPC, "No space left on device")
        f.write = write
        return f
    monkeypatch.setattr(cli.os, "fdopen", full)
    line = one_line_error(capsys, "derive", "model.py")
    assert "No space left on device: free some disk space" in line
    assert leftovers(tmp_path) == [] and not (tmp_path / "generated" / "plain.py").exists()


@pytest.mark.parametrize("body,expected", [
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', loss=None, params=[W])\n",
     "model x: the loss is NoneType, not a SymPy expression"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', loss='W[0, 0]', params=[W])\n",
     "model x: the loss is str, not a SymPy expression"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W], names={'W': 1})\n",
     "names={'W': 1}: names maps a name to its display text, both strings"),
    ("import sys\nsys.exit(3)\n", "model.py:5: the model file called sys.exit(3)"),
    (("a, mode = sp.symbols('a mode', real=True)\nW = sg.Param('W', 1, n)\n"
      "model = sg.Model('x', sg.sum(a * W) + mode, [a, mode, W], jacobians={'J': (a * W, W)})\n"),
     ("parameter name 'mode' cannot be a variable in generated code: it is a name the "
      "generated code uses (the mode= argument")),
    (("W, s = sg.Param('W', 1, n), sp.Symbol('float', real=True)\n"
      "model = sg.Model('x', sg.sum(s * W), [W, s])\n"),
     ("parameter name 'float' cannot be a variable in generated code: it is a name the "
      "generated code uses (a Python builtin): rename it")),
    ("X, s = sg.Input('X', n, m), sg.Param('m')\nmodel = sg.Model('x', s * sg.sum(X), [s], [X])\n",
     "m names both a dimension and a parameter"),
    (("W, V = sg.Param('W', 1, n), sg.Param('V', 1, sp.Symbol('n'))\n"
      "model = sg.Model('x', sg.sum(W) + sg.sum(V), [W, V])\n"),
     "n names two different dimensions, the symbols sp.Symbol('n') and sp.Symbol('n', "
     "integer=True, positive=True) (SymPy tells symbols apart by their assumptions): make n "
     "once and use that symbol"),
    ("W = sg.Param('W', 2, n)\nmodel = sg.Model('x', sg.sum(sp.Matrix([[1, 2], [3, 4]]) @ W), "
     "[W])\n", "`@` with the explicit matrix Matrix([[1, 2], [3, 4]]): symgrad derives through "
     "symbolic matrices only: make it an input (sg.Input('M', 2, 2))"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W], outputs={'a\"\"\"b': W})\n",
     "output name 'a\"\"\"b' is not a Python identifier"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W], outputs={'a b': W})\n",
     "output name 'a b' is not a Python identifier"),
    # these were internal errors (AttributeError, KeyError: 'ComplexInfinity')
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W], outputs={'a': 3})\n",
     "model x: output 'a' is int, not a SymPy expression of the model: map each name to a "
     "matrix expression"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', sg.sum(W) + sp.zoo, [W])\n",
     "model x: the loss holds zoo (SymPy's value of a division by 0 or an overflow"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W], outputs={'a': W * sp.nan})"
     "\n", "model x: output 'a' holds nan (SymPy's value"),
    # Python reads identifiers in NFKC: these would be np, W, m and class in the code
    ("W = sg.Param('\uff4e\uff50', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W])\n",
     "name '\uff4e\uff50' cannot be a variable in generated code: it is read by Python as 'np'"),
    ("W, V = sg.Param('W', 1, n), sg.Param('\U0001d416', 1, n)\n"
     "model = sg.Model('x', sg.sum(W) + sg.sum(V), [W, V])\n", "is read by Python as 'W'"),
    ("W = sg.Param('W', 1, sp.Symbol('\uff4d'))\nmodel = sg.Model('x', sg.sum(W), [W])\n",
     "dimension name '\uff4d' cannot be a variable in generated code: it is read by Python as"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W], outputs={'\uff43lass': W})\n",
     "is read by Python as 'class'"),
    ("W = sg.Param('xp', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W])\n",
     "it is a name the generated code uses (the array namespace of --target array-api)"),
    ("W = sg.Param('workspace', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W])\n",
     "it is a name the generated code uses (the workspace= argument of value_and_grad)"),
    ("W = sg.Param('W' * 41, 1, n)\nmodel = sg.Model('x', sg.sum(W), [W])\n",
     "it is longer than 40 characters: rename it"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('numpy', sg.sum(W), [W])\n",
     "model name 'numpy' cannot be a variable in generated code: it is the name of the module "
     "numpy (generated/numpy.py would be imported in its place)"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('symgrad', sg.sum(W), [W])\n",
     "it is the name of the module symgrad"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('json', sg.sum(W), [W])\n",
     "it is the name of the module json"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('\u210c', sg.sum(W), [W])\n",
     "is read by Python as 'H'"),
    # jacobians= and hessian= mistakes: an internal AttributeError, a function jacobian_,
    # "yes" taken for True
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W], jacobians={'k': (3, W)})\n",
     "model x: jacobian 'k' must be a pair (output expression, parameter or input)"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W], jacobians=[(W, W)])\n",
     "model x: jacobians must be a dict {name: (output, wrt)}, e.g. jacobians={'dA2_dW2': "
     "(A2, W2)}, not a list"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W], outputs=[W])\n",
     "model x: outputs must be a dict {name: expression}"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W], jacobians={'': (W, W)})\n",
     "model x: jacobian name '' is not a Python identifier"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W], jacobians={'a b': (W, W)})\n",
     "model x: jacobian name 'a b' is not a Python identifier"),
    ("W = sg.Param('W', 1, n)\nmodel = sg.Model('x', sg.sum(W), [W], hessian='yes')\n",
     "model x: hessian must be True or False, not 'yes'"),
])
def test_bad_models_are_one_line_errors(tmp_path, capsys, body, expected):
    model_file(tmp_path, body)
    assert expected in one_line_error(capsys, "derive", "model.py")
    assert not (tmp_path / "generated").exists()


def test_the_model_file_s_own_warnings_show_as_one_line_each_and_sympy_s_do_not(tmp_path,
                                                                                 capsys):
    """Its warnings.warn and a deprecation an API it calls points at it (stacklevel=2) show,
    each once with FILE:LINE; one attributed to SymPy's own code does not."""
    (tmp_path / "helper.py").write_text(
        "import warnings\n"
        "def old():\n"
        "    warnings.warn('old() is deprecated: use new()', DeprecationWarning, stacklevel=2)\n")
    model_file(tmp_path, PLAIN + """
    import warnings
    from helper import old
    for _ in range(3):
        warnings.warn("check\\nthis")
    old()
    warnings.warn_explicit("SymPy's noise", UserWarning, sp.__file__, 1)
    """)
    assert cli.main(["derive", "model.py"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["symgrad: warning: model.py:11: check\\nthis",
                   "symgrad: warning: model.py:12: DeprecationWarning: old() is deprecated: "
                   "use new()"], err


@pytest.mark.parametrize("command", ["derive", "latex", "report"])
def test_a_names_key_that_names_no_node_is_refused_by_every_command(tmp_path, capsys, command):
    """derive refuses it as latex and report do (one check, in derive), writing nothing."""
    model_file(tmp_path, PLAIN.replace("[X])", "[X], names={'W3': 'V'})"))
    assert one_line_error(capsys, command, "model.py").endswith(
        "model plain: names={'W3': ...}: no node of the model is named W3; the names it can "
        "give display text to: W, X")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py"]


@pytest.mark.parametrize("command,output,expected", [
    ("latex", "d.pdf", "-o d.pdf: symgrad latex writes LaTeX (.tex) or Markdown (.md), not PDF: "
                       "write d.tex and run `pdflatex d.tex` for the PDF"),
    ("latex", "my d.PDF", "write my d.tex and run `pdflatex 'my d.tex'` for the PDF"),
    ("report", "r.pdf", "-o r.pdf: symgrad report writes an HTML page (.html), not PDF: "
                        "write r.html (a browser prints it as a PDF)")])
def test_latex_and_report_refuse_to_write_their_text_into_a_pdf(tmp_path, capsys, command,
                                                                output, expected):
    model_file(tmp_path, PLAIN)
    assert expected in one_line_error(capsys, command, "model.py", "-o", output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py"]


@pytest.mark.parametrize("raised, said", [
    ("GeneratorExit('done')", "the model file raised GeneratorExit: done: fix the model file"),
    ("Odd()", "the model file raised Odd: (no message): fix the model file"),
])
def test_a_base_exception_of_the_model_file_is_one_line(tmp_path, capsys, raised, said):
    model_file(tmp_path, f"""
        class Odd(BaseException):
            def __str__(self):
                raise ValueError("no text")
        raise {raised}
        """)
    assert said in one_line_error(capsys, "derive", "model.py")


def test_a_file_of_models_writes_none_when_one_fails(tmp_path, capsys, monkeypatch):
    model_file(tmp_path, PLAIN + """
    V = sg.Param('V', 1, n)
    second = sg.Model('second', sg.sum(sg.tanh(V @ X)), [V], [X])
    """)
    def refuse_second(model, source):
        if model.name == "second":
            raise SymgradError("model second: certification failed")
    monkeypatch.setattr(cli, "certify", refuse_second)
    assert "model second: certification failed" in one_line_error(capsys, "derive", "model.py")
    assert not (tmp_path / "generated").exists()
    monkeypatch.setattr(cli, "certify", lambda model, source: None)
    assert cli.main(["derive", "model.py"]) == 0
    assert sorted(p.name for p in (tmp_path / "generated").iterdir()) == ["plain.py", "second.py"]


def test_a_write_that_fails_leaves_no_file_temporary_or_folder(tmp_path, capsys, monkeypatch):
    # --tests to a folder that cannot be written (disk full at the last file): the modules
    # written before it stayed, and the folders made for them
    model_file(tmp_path, PLAIN + """
    V = sg.Param('V', 1, n)
    second = sg.Model('second', sg.sum(sg.tanh(V @ X)), [V], [X])
    """)
    made = []
    real = tempfile.mkstemp

    def full_at_the_fourth(**kwargs):
        made.append(kwargs["dir"])
        if len(made) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(**kwargs)
    monkeypatch.setattr(tempfile, "mkstemp", full_at_the_fourth)
    line = one_line_error(capsys, "derive", "model.py", "-o", "out/gen", "--tests", "checks")
    assert "No space left on device: free some disk space" in line and len(made) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py"]


def test_an_internal_error_is_one_line_asking_for_a_report(tmp_path, capsys, monkeypatch):
    def broken(model, names=None):
        raise ZeroDivisionError("boom")
    monkeypatch.setattr(cli, "derive", broken)
    model_file(tmp_path, PLAIN)
    line = one_line_error(capsys, "derive", "model.py")
    assert line == ("symgrad: error: internal error: ZeroDivisionError: boom; please report it "
                    "(rerun with --debug for the traceback)")
    with pytest.raises(ZeroDivisionError):
        cli.main(["--debug", "derive", "model.py"])


def test_unknown_dims_name_the_known_ones(tmp_path, capsys):
    model_file(tmp_path, """
        N, E, beta = sp.symbols('N E beta', integer=True, positive=True)
        W, X = sg.Param('W', beta, E), sg.Input('X', E, N)
        model = sg.Model('sympy_names', sg.sum(sg.tanh(W @ X)), [W], [X])
    """)
    line = one_line_error(capsys, "check", "model.py", "--dims", "N=3,k=2")
    assert "--dims: no dimension named k in model.py: its dimensions are E, N, beta" in line


def test_a_jacobian_not_real_at_the_point_is_a_one_line_error_in_check(tmp_path, capsys):
    model_file(tmp_path, """
        W, X = sg.Param('W', 1, n), sg.Input('X', n, m)
        model = sg.Model('x', sg.sum(sg.tanh(W @ X)), [W], [X],
                         jacobians={'J': (sg.log(W @ X - 10), W)})
    """)
    line = one_line_error(capsys, "check", "model.py")
    assert "model x: the model evaluates to (" in line and "at seed 0: try another --seed" in line


@pytest.mark.parametrize("dims, said", [
    ("n=3,n=4", "--dims: n is given twice: give it once"),
    ("n=99999999999999", "--dims: n=99999999999999 is larger than 10,000"),
    ("n=\u00b2", "--dims: 'n=\u00b2' is not NAME=POSITIVE_INT"),      # isdigit, no int
    ("n=0", "--dims: 'n=0' is not NAME=POSITIVE_INT"),
])
def test_bad_dims_are_one_line_errors(tmp_path, capsys, dims, said):
    model_file(tmp_path, PLAIN)
    assert said in one_line_error(capsys, "check", "model.py", "--dims", dims)


def test_odd_command_lines_are_one_line_errors(tmp_path, capsys):
    model_file(tmp_path, PLAIN)
    (tmp_path / "nul.py").write_bytes(b"x = 1\0\n")
    (tmp_path / "folder").mkdir()
    assert "nul.py:1: syntax error" in one_line_error(capsys, "derive", "nul.py")
    assert "folder: a folder: give the path of a model file" in one_line_error(
        capsys, "derive", "folder")
    os.mkfifo(tmp_path / "pipe.py")
    assert "pipe.py: not a regular file (a pipe or a device)" in one_line_error(
        capsys, "derive", "pipe.py")
    assert "--seed -1: give a non-negative integer" in one_line_error(
        capsys, "check", "model.py", "--seed", "-1")


def test_dimension_names_sympy_knows_work_in_check(tmp_path, capsys):
    model_file(tmp_path, """
        N, S, I, E, Q = sp.symbols('N S I E Q', integer=True, positive=True)
        beta, gamma, pi = sp.symbols('beta gamma pi', integer=True, positive=True)
        W, X = sg.Param('W', I, E), sg.Input('X', E, N)
        V, Y = sg.Param('V', Q, S), sg.Input('Y', S, beta)
        U = sg.Param('U', gamma, pi)
        model = sg.Model('sympy_names', sg.sum(sg.tanh(W @ X)) + sg.sum(sg.tanh(V @ Y))
                         + sg.sum(U), [W, V, U], [X, Y])
    """)
    assert cli.main(["check", "model.py", "--dims", "N=3,S=2,I=2,E=3,Q=2,beta=2,gamma=2,pi=3"]) \
        == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "N=3" in out and "E=3" in out and "pi=3" in out


def test_dimension_names_given_as_strings_are_names(tmp_path, capsys):
    model_file(tmp_path, """
        W, X = sg.Param('W', 'gamma', 'E'), sg.Input('X', 'E', 'N')
        model = sg.Model('strings', sg.sum(sg.tanh(W @ X)), [W], [X])
    """)
    assert cli.main(["check", "model.py", "--dims", "E=3,N=2,gamma=2"]) == 0, \
        capsys.readouterr().err
    assert "E=3" in capsys.readouterr().out


def test_write_atomic_removes_its_temporary_on_an_interrupt(tmp_path, monkeypatch):
    fdopen = os.fdopen

    def interrupted(fd, *args, **kwargs):
        f = fdopen(fd, *args, **kwargs)

        def write(text):
            raise KeyboardInterrupt
        f.write = write
        return f
    monkeypatch.setattr(cli.os, "fdopen", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli.write_atomic(tmp_path / "out" / "m.py", "# Generated by symgrad\n")
    assert list(tmp_path.iterdir()) == []           # nor the folder it made


SLOW_WRITE = """
import os, sys, time
from symgrad import cli
cli.certify = lambda model, source: None

def replace(src, dst):          # the temporary is written: now wait to be killed
    print("writing", flush=True)
    time.sleep(60)
cli.os.replace = replace
sys.exit(cli.main(["derive", "model.py"]))
"""


@pytest.mark.parametrize("signum,said", [
    (signal.SIGTERM, "terminated (SIGTERM)"), (signal.SIGINT, "interrupted"),
    (signal.SIGHUP, "terminated (SIGHUP)"), (signal.SIGQUIT, "terminated (SIGQUIT)"),
    (signal.SIGALRM, "terminated (SIGALRM)"), (signal.SIGUSR1, "terminated (SIGUSR1)")])
def test_a_signal_during_the_write_leaves_no_temporary(tmp_path, signum, said):
    model_file(tmp_path, PLAIN)
    (tmp_path / "slow.py").write_text(SLOW_WRITE)
    # a shell's background job inherits SIGINT ignored: give the child the default, as a
    # terminal does, so the test does not depend on how pytest was started
    proc = subprocess.Popen([sys.executable, "slow.py"], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.readline() == "writing\n", proc.stderr.read()
        assert leftovers(tmp_path) != []                  # the temporary exists now
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum, err
    assert err.strip() == f"symgrad: {said}; no file was left half-written"
    assert leftovers(tmp_path) == [] and not (tmp_path / "generated" / "plain.py").exists()


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_generated_files_get_the_mode_of_a_plain_write(tmp_path, capsys, umask, mode):
    model_file(tmp_path, PLAIN)
    old = os.umask(umask)
    try:
        assert cli.main(["derive", "model.py", "--tests", "tests"]) == 0
        assert cli.main(["latex", "model.py", "-o", "d.tex"]) == 0
    finally:
        os.umask(old)
    for path in ["generated/plain.py", "tests/test_plain.py", "d.tex"]:
        assert (tmp_path / path).stat().st_mode & 0o777 == mode, path


def test_an_existing_file_keeps_its_mode(tmp_path):
    target = tmp_path / "m.py"
    target.write_text("# Generated by symgrad old\n")
    target.chmod(0o640)
    cli.write_atomic(target, "# Generated by symgrad new\n")
    assert target.stat().st_mode & 0o777 == 0o640 and target.read_text().endswith("new\n")


def test_a_model_file_imports_from_its_own_folder(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "layers_for_symgrad_test.py").write_text(
        "import symgrad as sg\n\ndef hidden(W, X):\n    return sg.tanh(W @ X)\n")
    model_file(folder, """
        from layers_for_symgrad_test import hidden
        W, X = sg.Param('W', 1, n), sg.Input('X', n, m)
        model = sg.Model('layered', sg.sum(hidden(W, X)), [W], [X])
    """)
    monkeypatch.delitem(sys.modules, "layers_for_symgrad_test", raising=False)
    path = list(sys.path)
    assert cli.main(["derive", "project/model.py"]) == 0, capsys.readouterr().err
    assert (tmp_path / "generated" / "layered.py").exists()
    assert sys.path == path                               # the folder is removed again
    sys.modules.pop("layers_for_symgrad_test", None)


@pytest.mark.parametrize("name", ["a\nimport os.py", "a\rb.py", "a\u2028b.py", "a\x1bb.py"])
def test_a_file_name_with_a_line_break_is_refused(tmp_path, capsys, name):
    model_file(tmp_path, PLAIN, name=name)
    for command in (["derive"], ["latex"], ["check"]):
        line = one_line_error(capsys, *command, name)
        assert "contains a control character or a line break" in line and "rename" in line
    assert not (tmp_path / "generated").exists()


def test_a_file_name_with_quotes_stays_in_the_header_comment(tmp_path, capsys):
    name = 'q"""; import os; """.py'
    model_file(tmp_path, PLAIN, name=name)
    assert cli.main(["derive", name]) == 0, capsys.readouterr().err
    text = (tmp_path / "generated" / "plain.py").read_text()
    assert text.splitlines()[0].startswith("# Generated by symgrad ") and name in \
        text.splitlines()[0]
    compile(text, "plain.py", "exec")
    assert '"""; import os' not in "\n".join(text.splitlines()[3:])     # 3 comment lines
    line = one_line_error(capsys, "derive", name, "--tests", "tests", "--force")
    assert "contains a quote, a backslash or a control character" in line
    assert not (tmp_path / "tests").exists()


def test_markdown_header_cannot_close_its_comment(tmp_path, capsys):
    name = "x --><img src=a onerror=alert(1)>.py"
    model_file(tmp_path, PLAIN, name=name)
    assert cli.main(["latex", name, "-o", "d.md"]) == 0, capsys.readouterr().err
    first = (tmp_path / "d.md").read_text().splitlines()[0]
    assert first.startswith("<!-- Generated by symgrad ") and first.endswith(" -->")
    assert first.count("-->") == 1 and "<img" not in first


def test_certification_runs_before_writing_unless_no_verify(tmp_path, capsys, monkeypatch):
    model_file(tmp_path, PLAIN)
    seen = []

    def wrong(model, source):
        seen.append((model.name, "def value_and_grad" in source))
        raise SymgradError(f"model {model.name}: dW differs from the model's SymPy expression")
    monkeypatch.setattr(cli, "certify", wrong)
    line = one_line_error(capsys, "derive", "model.py")
    assert "dW differs" in line and seen == [("plain", True)]
    assert not (tmp_path / "generated").exists()
    assert cli.main(["derive", "model.py", "--no-verify"]) == 0
    assert (tmp_path / "generated" / "plain.py").exists() and len(seen) == 1


def latex_of(param, names):
    """The .tex and .md derivation of a one-layer model whose weight is named param."""
    n, m = sp.symbols("n m", integer=True, positive=True)
    W, X = sg.Param(param, 1, n), sg.Input("X", n, m)
    derivation = sg.Model("named", sg.mean(sg.tanh(W @ X)), [W], [X], names=names).derivation()
    return derivation.latex(), derivation.latex(fmt="md")


def test_names_values_are_text_unless_marked_as_latex():
    tex, md = latex_of("W1", names={"W1": r"\input{/etc/passwd}"})
    for text in (tex, md):
        assert r"\input" not in text and r"\backslash \text{input}\{" in text
    tex, _ = latex_of("W1", names={"W1": "a_b^c ~%$#&<x>"})
    assert r"\text{a}\_\text{b}\hat{}\text{c }\sim \%\$\#\&{<}\text{x}{>}" in tex
    tex, _ = latex_of("W1", names={"W1": sg.tex(r"\mathbf{W}")})
    assert r"\mathbf{W}" in tex and r"\backslash" not in tex


def test_unicode_names_become_ascii_latex():
    tex, md = latex_of("α", names={})
    assert tex.isascii() and r"\ensuremath{\alpha}" in tex
    assert "α" in md                                  # Markdown viewers set Unicode
    tex, _ = latex_of("W", names={"W": "Wé λ"})
    assert tex.isascii() and r"\text{We \ensuremath{\lambda}}" in tex


@pytest.mark.parametrize("kind", ["fifo", "symlink", "device", "the model file"])
def test_force_never_replaces_a_pipe_a_link_a_device_or_the_model_file(tmp_path, kind):
    """write_all renames a temporary over the path: --force turned a device node or a link
    into a regular file, a FIFO made the foreign-file check block forever, and -o FILE.py
    --force replaced the model being read with its own output."""
    from helpers import run_cli
    from conftest import ROOT
    model = tmp_path / "graph.py"
    model.write_text((ROOT / "examples" / "graph.py").read_text())
    target = tmp_path / "out.tex"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        (tmp_path / "real.tex").write_text("mine\n")
        target.symlink_to(tmp_path / "real.tex")
    elif kind == "device":
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root (CI runs as root)")
        os.mknod(target, 0o644 | __import__("stat").S_IFCHR, os.makedev(1, 7))   # /dev/full's
    else:
        target = model
    before = os.lstat(target)
    result = run_cli("latex", model, "-o", target, "--force", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert ("not a regular file" if kind != "the model file" else "the model file being read") \
        in result.stderr
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_size) == (before.st_mode, before.st_ino,
                                                            before.st_size)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["graph.py"] + (["out.tex"] if target != model else [])
        + (["real.tex"] if kind == "symlink" else []))


def test_a_full_standard_output_is_one_line_not_an_internal_error(tmp_path):
    from conftest import ROOT
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "symgrad.cli", "latex",
                                 str(ROOT / "examples" / "graph.py")], stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 1 and "No space left on device" in result.stderr
    assert "internal error" not in result.stderr and result.stderr.count("\n") == 1


def test_a_model_file_s_prints_do_not_reach_a_document_on_standard_output(tmp_path):
    from helpers import run_cli
    model = tmp_path / "p.py"
    model.write_text("print('HELLO FROM MODEL')\n" + (
        __import__("conftest").ROOT / "examples" / "graph.py").read_text())
    result = run_cli("latex", model, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("% Generated by symgrad")
    assert "HELLO FROM MODEL" not in result.stdout and "HELLO FROM MODEL" in result.stderr


def test_latex_of_an_undefined_function_s_derivative(tmp_path):
    """sp.Function('f') applied elementwise: its derivative prints as SymPy's Derivative,
    whose printer passes is_neg to parenthesize (the override lacked it: internal error)."""
    from helpers import run_cli
    model = tmp_path / "u.py"
    model.write_text("import sympy as sp\nimport symgrad as sg\n"
                     "n, m = sp.symbols('n m', integer=True, positive=True)\n"
                     "X, W = sg.Input('X', n, m), sg.Param('W', n, n)\n"
                     "f = sp.Function('f')\n"
                     "model = sg.Model('u', loss=sg.sum((W @ X).applyfunc(f)) / m, params=[W],"
                     " inputs=[X])\n")
    result = run_cli("latex", model, "--steps", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert r"\frac{d}{d" in result.stdout or r"\frac{\partial" in result.stdout


@pytest.mark.parametrize("stop_at", [1, 2, 3])
def test_a_signal_between_the_renames_of_several_files_leaves_the_old_ones(tmp_path, monkeypatch,
                                                                            stop_at):
    """All files of a run or none: a SIGTERM at the second rename left the first model's
    module written and the second's not, while the message said no file was half-written."""
    old = tmp_path / "first.py"
    old.write_text(f"# {cli.MARKER} earlier\nold = 1\n")
    files = [(old, f"# {cli.MARKER}\nnew = 1\n"), (tmp_path / "second.py", "# new\n"),
             (tmp_path / "third.py", "# new\n")]
    real, calls = os.replace, []

    def replace(a, b):
        calls.append(b)
        if len(calls) == stop_at:
            raise KeyboardInterrupt                    # as cli's signal handlers raise
        return real(a, b)
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        cli.write_all(files)
    monkeypatch.setattr(os, "replace", real)
    assert old.read_text() == f"# {cli.MARKER} earlier\nold = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.py"]


def test_an_integer_dimension_too_large_to_certify_is_one_line(tmp_path):
    """X of 10**12 rows: certification's arrays raised MemoryError, an internal error."""
    from helpers import run_cli
    path = tmp_path / "huge.py"
    path.write_text("import sympy as sp\nimport symgrad as sg\n"
                    "m = sp.Symbol('m', integer=True, positive=True)\n"
                    "X, W = sg.Input('X', 10**12, m), sg.Param('W', 3, 10**12)\n"
                    "model = sg.Model('huge', loss=sg.sum(sg.tanh(W @ X)) / m, params=[W], "
                    "inputs=[X])\n")
    result = run_cli("derive", path, "-o", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "out of memory" in result.stderr and "--no-verify" in result.stderr
    assert "internal error" not in result.stderr and not (tmp_path / "out").exists()


def test_a_signal_after_the_last_rename_keeps_the_new_files_and_no_backup(tmp_path, monkeypatch):
    """Stopped while the old files' backups were being removed, write_all restored from a
    backup already gone (FileNotFoundError in place of the interrupt, one old file and one
    new); all new files now, and no backup left."""
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    for p in (a, b):
        p.write_text(f"# {cli.MARKER} old\n")
    real, calls = os.unlink, []

    def unlink(path):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(path)
    monkeypatch.setattr(os, "unlink", unlink)
    with pytest.raises(KeyboardInterrupt):
        cli.write_all([(a, f"# {cli.MARKER} new\n"), (b, f"# {cli.MARKER} new\n")])
    monkeypatch.setattr(os, "unlink", real)
    assert [p.read_text() for p in (a, b)] == [f"# {cli.MARKER} new\n"] * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "b.py"]
