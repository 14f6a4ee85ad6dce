"""init_params in every generated module: weights found in the graph (operands of matrix
products, their fan-in the axis the product sums over) drawn at the scheme's scale, biases 0,
scales 1; checked against the schemes' definitions (He et al. 2015: variance 2/fan-in;
Xavier as the course writes it: 1/fan-in; the course's 0.01) on large draws."""
import numpy as np
import pytest
import sympy as sp
from helpers import compiled

import symgrad as sg

n, k, m = sp.symbols("n k m", integer=True, positive=True)


def _columns_net():
    """Examples as columns: W (k, n) @ X (n, m), fan-in n = W's columns."""
    X, Y = sg.Input("X", n, m), sg.Input("Y", 1, m)
    W, b = sg.Param("W", k, n), sg.Param("b", k, 1)
    V, c = sg.Param("V", 1, k), sg.Param("c", 1, 1)
    A = sg.sigmoid(V @ sg.relu(W @ X + b) + c)
    return compiled(sg.Model("columns", loss=sg.binary_cross_entropy(A, Y),
                             params=[W, b, V, c], inputs=[X, Y]))


@pytest.mark.parametrize("scheme,variance", [("he", 2), ("xavier", 1)])
def test_weights_have_the_schemes_variance_over_their_fan_in(scheme, variance):
    module = _columns_net()
    W, b, V, c = module.init_params({"n": 300, "k": 500, "m": 7}, scheme, seed=0)
    assert W.shape == (500, 300) and V.shape == (1, 500) and b.shape == (500, 1)
    assert np.isclose(W.std(), np.sqrt(variance / 300), rtol=0.02)     # fan-in n, not k
    assert np.isclose(V.std(), np.sqrt(variance / 500), rtol=0.1)
    assert abs(W.mean()) < 0.01 * W.std()
    assert not b.any() and not c.any()


def test_small_and_zeros_and_the_seed():
    module = _columns_net()
    dims = {"n": 200, "k": 100}                       # m is not needed
    W = module.init_params(dims, "small", seed=1)[0]
    assert np.isclose(W.std(), 0.01, rtol=0.03)
    assert not any(np.any(p) for p in module.init_params(dims, "zeros"))
    again = module.init_params(dims, "small", seed=1)[0]
    other = module.init_params(dims, "small", seed=2)[0]
    assert np.array_equal(W, again) and not np.array_equal(W, other)


def test_examples_as_rows_and_a_transposed_weight_count_the_right_axis():
    """X (m, n) @ W (n, k): fan-in n = W's rows; W (n, k) used as W.T @ X: its rows too."""
    X, y = sg.Input("X", m, n), sg.Input("y", m, 1)
    W, U = sg.Param("W", n, k), sg.Param("U", n, k)
    cost = sg.mean((sg.tanh(X @ W) + sg.tanh(U.T @ X.T).T - y) ** 2)
    module = compiled(sg.Model("rows", loss=cost, params=[W, U], inputs=[X, y]))
    W0, U0 = module.init_params({"n": 400, "k": 50}, "he", seed=3)
    assert np.isclose(W0.std(), np.sqrt(2 / 400), rtol=0.03)
    assert np.isclose(U0.std(), np.sqrt(2 / 400), rtol=0.03)


def test_a_scale_starts_at_one_and_a_shift_at_zero():
    X = sg.Input("X", n, m)
    W, gamma, beta = sg.Param("W", n, n), sg.Param("gamma", n, 1), sg.Param("beta", n, 1)
    out = sg.batch_norm(W @ X, gamma, beta)
    module = compiled(sg.Model("bn", loss=sg.sum(out * out), params=[W, gamma, beta],
                               inputs=[X]))
    W0, g0, b0 = module.init_params({"n": 3})
    assert (g0 == 1).all() and (b0 == 0).all() and W0.std() > 0
    assert "gamma: 1 (scales)" in module.init_params.__doc__


def test_the_parameters_train_and_bad_arguments_get_clear_errors():
    module = _columns_net()
    params = module.init_params({"n": 3, "k": 4}, seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 5)), (rng.uniform(size=(1, 5)) > 0.5) * 1.0
    loss, grads = module.value_and_grad(*params, X, Y)
    assert np.isfinite(loss) and all(g.shape == p.shape for g, p in zip(grads, params))
    with pytest.raises(ValueError, match="scheme must be one of 'he', 'xavier', 'small', "
                                         "'zeros', not 'kaiming'"):
        module.init_params({"n": 3, "k": 4}, "kaiming")
    with pytest.raises(ValueError, match="init_params needs the size of k in dims"):
        module.init_params({"n": 3})


@pytest.mark.parametrize("value", [0, -1, 2.7, True, "2", None])
def test_a_dimension_that_is_not_a_positive_integer_is_refused(example, value):
    """init_params({'n_x': 0}) raised ZeroDivisionError from the fan-in, 2.7 was truncated
    to 2, True was 1 and '2' was accepted."""
    *_, module = example("two_layer")
    with pytest.raises(ValueError, match=f"n_x={value!r} in dims: give each dimension a "
                                         "positive integer"):
        module.init_params({"n_x": value, "n_h": 4})


def test_a_size_that_is_an_expression_of_dimensions_is_computed():
    """W (k, n + 1) acting on [X; ones] (the bias folded in): init_params asked for the size
    of 'n + 1' in dims."""
    X, ones = sg.Input("X", n, m), sg.Input("ones", 1, m)
    W, V = sg.Param("W", k, n + 1), sg.Param("V", 2 * k, n - 1)
    loss = sg.sum(sg.tanh(W @ sg.concat([X, ones], axis=0)) ** 2) + sg.sum(V ** 2)
    module = compiled(sg.Model("folded", loss=loss, params=[W, V], inputs=[X, ones]))
    W0, V0 = module.init_params({"n": 3, "k": 5000}, "he", seed=0)
    assert W0.shape == (5000, 4) and V0.shape == (10000, 2)
    assert np.isclose(W0.std(), np.sqrt(2 / 4), rtol=0.02)        # fan-in n + 1 = 4, not 3
    with pytest.raises(ValueError, match=r"init_params: V would be of shape \(2, 0\) "
                                         r"\(2\*k, n - 1\): give dims that make each size"):
        module.init_params({"n": 1, "k": 1})
