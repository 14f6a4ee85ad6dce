"""examples/scripts/train_out_of_core.py at small size on a dask.distributed LocalCluster of 2
worker processes started here (localhost): the gradient over every shard equals NumPy's on
the data in memory, and the rule for sharded batches (a mean loss's shard gradients weighted
m_i/m) gives it too. Skipped where Dask is absent, unless CI requires it."""
import importlib.util
import os
import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "examples" / "scripts"))
import train_out_of_core as script  # noqa: E402

pytestmark = pytest.mark.skipif(
    not os.environ.get("SYMGRAD_REQUIRE_ARRAY_LIBS")
    and importlib.util.find_spec("distributed") is None, reason="dask.distributed absent")


def test_gradient_on_a_two_worker_cluster_matches_numpy_in_memory(tmp_path):
    from distributed import get_task_stream
    paths = script.write_shards(tmp_path, examples=3000, features=4, shard=700)  # uneven
    X = np.concatenate([np.load(x) for x, _ in paths], axis=1)
    Y = np.concatenate([np.load(y) for _, y in paths], axis=1)
    module, numpy_module = script.modules()
    rng = np.random.default_rng(3)
    w, b = rng.standard_normal((4, 1)), 0.3
    want_loss, (want_dw, want_db) = numpy_module.value_and_grad(w, b, X, Y)
    lazy = script.lazy_data(paths)
    assert lazy[0].chunks[1] == (700, 700, 700, 700, 200)        # chunked along the examples
    with script.scheduler(2) as client, get_task_stream(client) as tasks:
        assert len(client.scheduler_info()["workers"]) == 2
        loss, (dw, db) = script.value_and_grad(module, w, b, *lazy)
        result = script.main(["--examples", "3000", "--features", "4", "--shard", "700",
                              "--iterations", "3", "--quiet", "--folder", str(tmp_path / "m")])
    assert tasks.data                                   # the workers computed it
    assert abs(loss - want_loss) <= 1e-12 * abs(want_loss)
    assert np.max(np.abs(dw - want_dw)) <= 1e-12 * np.max(np.abs(want_dw))
    assert abs(db - want_db) <= 1e-12 * max(abs(want_db), 1e-300)
    costs = result["costs"]
    assert costs[-1] < costs[0] and len(costs) == 4


def test_shard_gradients_weighted_by_their_share_of_the_examples_give_the_mean_loss_gradient(
        tmp_path):
    paths = script.write_shards(tmp_path, examples=1000, features=3, shard=300)   # 300 ... 100
    _, numpy_module = script.modules()
    w, b = np.full((3, 1), 0.2), -0.1
    shards = [(np.load(x), np.load(y)) for x, y in paths]
    X, Y = (np.concatenate(parts, axis=1) for parts in zip(*shards))
    _, (want, _) = numpy_module.value_and_grad(w, b, X, Y)
    grads = [numpy_module.value_and_grad(w, b, x, y)[1][0] for x, y in shards]
    sizes = [x.shape[1] for x, _ in shards]
    weighted = sum(n / X.shape[1] * g for n, g in zip(sizes, grads))
    assert np.max(np.abs(weighted - want)) <= 1e-14
    assert np.max(np.abs(np.mean(grads, axis=0) - want)) > 1e-6   # unweighted: wrong
