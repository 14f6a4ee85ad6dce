"""The benchmark's references cannot rot: at small sizes, for all five models, the textbook
and the tuned NumPy value_and_grad, symgrad's generated module, HIPS autograd and PyTorch
(where installed) agree through the harness's own check (benchmarks/session.py), and no
reference raises to an integer power the slow way. No timing here."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import compiled

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import measure  # noqa: E402
import peers  # noqa: E402
import references  # noqa: E402
import session  # noqa: E402
import textbook  # noqa: E402
import tuned  # noqa: E402

TINY = references.specs(tiny=True)


def _model(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}",
                                                  ROOT / "benchmarks" / "models" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.model


@pytest.fixture(scope="module")
def peer_builders():
    wanted = [name for name in ("PyTorch eager", "autograd")
              if importlib.util.find_spec({"PyTorch eager": "torch"}.get(name, name))]
    return peers.load_peers(1, wanted)[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(TINY))
def test_references_symgrad_and_peers_agree_at_small_sizes(name, dtype, peer_builders):
    spec = TINY[name]
    impls = session.implementations(spec, np.dtype(dtype), compiled(_model(name)),
                                    peer_builders)
    _, errors, problems = session.check(spec, np.dtype(dtype), impls)
    assert set(errors) >= {references.GENERATED, references.TUNED}
    assert not any(problems.values()), problems


def test_a_reference_off_by_a_little_stops_the_check():
    spec = TINY["m4_tiny"]

    def off(*args):
        loss, grads = tuned.tiny(*args)
        return loss, (grads[0] * 1.001, *grads[1:])

    impls = {**references.numpy_references(spec), "off": references.numpy_impl(off)}
    with pytest.raises(measure.AgreementError, match="off: dW1"):
        session.check(spec, np.dtype(np.float64), impls)


def test_the_references_raise_no_integer_power():
    references.check_no_slow_powers(textbook, tuned, peers)


@pytest.mark.parametrize("line", ["y = Z2 ** 3", "y = np.power(Z, 2)", "y = x ** -2.0",
                                  "x **= 2"])
def test_the_power_check_finds_a_slow_power(line):
    assert references.slow_powers(line)


@pytest.mark.parametrize("line", ["y = Z * Z * Z", "y = x ** 0.5", "y = np.square(x)"])
def test_the_power_check_passes_products(line):
    assert not references.slow_powers(line)
