"""The training demos in examples/scripts: the planar run reaches 90 % training accuracy, zero
initialisation leaves the hidden units identical, and the deep network learns the moons."""
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "examples" / "scripts"))
import train_deep      # noqa: E402
import train_out_of_core  # noqa: E402
import train_planar    # noqa: E402
import training        # noqa: E402


def test_planar_default_run_reaches_90_percent_and_zero_init_stays_symmetric(tmp_path):
    png = tmp_path / "boundary.png"
    results = train_planar.main(["--quiet", "--png", str(png)])
    assert results["random"]["accuracy"] >= 0.90
    assert results["random"]["costs"][-1] < 0.5 * results["random"]["costs"][0]
    W1 = results["zero"]["params"][0]
    assert results["zero"]["spread"] == 0 and np.all(W1 == W1[0])
    assert results["zero"]["accuracy"] == pytest.approx(0.5)
    pytest.importorskip("matplotlib")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_flower_has_two_balanced_classes_of_columns():
    X, Y = train_planar.flower()
    assert X.shape == (2, 400) and Y.shape == (1, 400) and Y.sum() == 200


def test_deep_network_learns_the_moons_in_a_short_run():
    results = train_deep.main(["--quiet", "--png", "", "--iterations", "1000"])
    assert results["accuracy"] >= 0.85
    assert results["costs"][-1] < 0.5 * results["costs"][0]


@pytest.mark.parametrize("sizes", ["2,20,7,5", "abc", "3,20,7,5,1", "2,0,7,5,1", "2,4,4,4,2"])
def test_deep_sizes_that_do_not_fit_the_network_or_the_data_are_refused(sizes, capsys):
    """--sizes 2,20,7,5 (four) trained silently, 3 inputs failed in the product, 'abc' raised a
    traceback."""
    with pytest.raises(SystemExit) as exit:
        train_deep.main(["--quiet", "--png", "", "--sizes", sizes])
    assert exit.value.code == 2
    assert "give five positive integers, 2 first" in capsys.readouterr().err


def test_initialisation_schemes_show_what_the_notes_say(tmp_path):
    """zeros never breaks the symmetry (every weight's gradient is 0, the cost stays at log 2
    for balanced labels); 0.01-scaled weights give vanishing gradients in the deep ReLU net;
    He keeps the per-layer gradient norms level and trains."""
    import init_schemes
    png = tmp_path / "schemes.png"
    r = init_schemes.main(["--iterations", "500", "--png", str(png)])
    assert r["zeros"]["norms"] == [0.0] * 4
    assert all(not W.any() for W in r["zeros"]["params"][0:6:2])      # W1, W2, W3 stay 0
    assert r["zeros"]["costs"][-1] == pytest.approx(np.log(2), abs=1e-6)
    he, small = r["he"]["norms"], r["small"]["norms"]
    assert max(he) / min(he) < 10                                      # level
    assert all(s < 1e-3 * h for s, h in zip(small, he))                # vanishing
    assert r["he"]["accuracy"] >= 0.85
    pytest.importorskip("matplotlib")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_demo_ends_on_ctrl_c_in_one_line_with_exit_130(capsys):
    def main():
        raise KeyboardInterrupt
    with pytest.raises(SystemExit) as ended:
        training.run(main)
    assert ended.value.code == 130
    assert capsys.readouterr() == ("", "interrupted\n")


def test_ctrl_c_during_a_progress_bar_on_a_terminal_ends_the_bar_s_line_first(monkeypatch,
                                                                               capsys):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)

    def main():
        training._progress(3, 10, 0.5)
        raise KeyboardInterrupt
    with pytest.raises(SystemExit):
        training.run(main)
    out, err = capsys.readouterr()
    assert out.endswith("cost 0.500000\r\n") and err == "interrupted\n"


@pytest.mark.parametrize("script,args", [
    ("train_planar", ["--png", ""]), ("train_deep", ["--png", ""]),
    ("init_schemes", ["--png", ""]), ("train_out_of_core", ["--examples", "10000000"])])
def test_ctrl_c_in_each_training_script_is_one_line_and_exit_130(script, args, tmp_path):
    if script == "train_out_of_core":
        pytest.importorskip("dask.array")
        pytest.importorskip("array_api_compat")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "scripts" / f"{script}.py"), *args],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even in a `cmd &`
    process.stdout.readline()                       # it has started its work
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (130, "interrupted\n")
    assert list(tmp_path.iterdir()) == []


def test_a_picture_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    """savefig wrote straight to the target: Ctrl-C halfway left half a PNG there."""
    plt = pytest.importorskip("matplotlib.pyplot")
    png = tmp_path / "boundary.png"
    png.write_bytes(b"the old picture")
    fig = plt.figure()

    def halfway(f, **kwargs):
        f.write(b"\x89PNG half")
        raise KeyboardInterrupt
    monkeypatch.setattr(fig, "savefig", halfway)
    with pytest.raises(KeyboardInterrupt):
        training.save_figure(fig, png)
    assert png.read_bytes() == b"the old picture" and len(list(tmp_path.iterdir())) == 1
    monkeypatch.undo()
    training.save_figure(plt.figure(), png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and len(list(tmp_path.iterdir())) == 1


def test_the_out_of_core_script_without_dask_says_what_to_install_and_writes_nothing(
        tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)          # as if Dask were not installed
    monkeypatch.delitem(sys.modules, "dask.array", raising=False)
    with pytest.raises(SystemExit) as ended:
        train_out_of_core.main(["--examples", "1000", "--folder", str(tmp_path / "shards")])
    assert ended.value.code == "train_out_of_core.py needs dask[array]: pip install 'dask[array]'"
    assert list(tmp_path.iterdir()) == []


def test_the_pictures_the_scripts_write_by_default_are_ignored_by_git():
    """Run from the repository's root, they are not left untracked there (init_schemes.png
    was)."""
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    defaults = [re.search(r'"--png", default="([^"]+)"', path.read_text())
                for path in sorted((ROOT / "examples" / "scripts").glob("*.py"))]
    pictures = [found[1] for found in defaults if found]
    assert len(pictures) == 3 and all(f"/{picture}" in ignored for picture in pictures)
