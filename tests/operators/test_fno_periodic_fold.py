"""FNO(periodic_fold=True, positional_embedding="periodic"): numpy oracles, adjoints, consistency."""

from __future__ import annotations

import numpy as np
import pytest

from operators import FNO, TFNO, PeriodicCoordinates
from tensorkit.nn import gradcheck


def numpy_fold(x):
    """Nodal (..., R, R) -> periodic (..., R - 1, R - 1): trapezoidal end weights, loop by loop."""
    r = x.shape[-1]
    out = np.empty((*x.shape[:-2], r - 1, r - 1))
    for i in range(r - 1):
        for j in range(r - 1):
            rows = [0, r - 1] if i == 0 else [i]
            cols = [0, r - 1] if j == 0 else [j]
            out[..., i, j] = np.mean([x[..., p, q] for p in rows for q in cols], axis=0)
    return out


def test_fold_is_the_periodic_model_on_folded_data_with_the_first_node_repeated():
    x = np.random.default_rng(0).standard_normal((2, 1, 9, 9))
    folded = FNO((4, 4), 1, 1, 6, n_layers=2, positional_embedding=None, periodic_fold=True, random_state=0)
    plain = FNO((4, 4), 1, 1, 6, n_layers=2, positional_embedding=None, random_state=1)
    plain.load_state_dict(folded.state_dict())
    inner = plain(numpy_fold(x))
    expected = np.concatenate([inner, inner[:, :, :1]], axis=2)
    expected = np.concatenate([expected, expected[:, :, :, :1]], axis=3)
    np.testing.assert_allclose(folded(x), expected, rtol=1e-12, atol=1e-13)


def test_periodic_embedding_is_periodic_coordinates():
    x = np.random.default_rng(1).standard_normal((2, 2, 8, 8))
    embedded = FNO((4, 4), 2, 1, 6, n_layers=2, positional_embedding="periodic", random_state=0)
    plain = FNO((4, 4), 6, 1, 6, n_layers=2, positional_embedding=None, random_state=1)
    plain.load_state_dict(embedded.state_dict())
    np.testing.assert_allclose(embedded(x), plain(PeriodicCoordinates().embed(x)), rtol=1e-12, atol=1e-13)


def test_with_the_fold_the_embedding_sits_on_the_nodes():
    # on the folded grid of R - 1 points, x_j = j / (R - 1): the nodal coordinates, whose ends agree
    x = np.zeros((1, 1, 9, 9))
    folded = FNO((4, 4), 1, 1, 6, n_layers=1, positional_embedding="periodic", periodic_fold=True,
                 random_state=0)
    plain = FNO((4, 4), 5, 1, 6, n_layers=1, positional_embedding=None, random_state=1)
    plain.load_state_dict(folded.state_dict())
    nodes = np.linspace(0, 1, 9)
    channels = [f(2 * np.pi * nodes)[:, None] * np.ones(9) for f in (np.sin, np.cos)]
    channels += [c.T for c in channels]
    nodal = np.concatenate([x, np.stack(channels)[None]], axis=1)
    inner = plain(numpy_fold(nodal))
    np.testing.assert_allclose(folded(x)[..., :-1, :-1], inner, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kwargs", [
    {"positional_embedding": "periodic", "periodic_fold": True},
    {"positional_embedding": "grid", "periodic_fold": True, "domain_padding": 0.25},
    {"positional_embedding": "periodic"},
])
def test_gradcheck(kwargs):
    model = FNO((4, 4), 2, 1, 6, n_layers=2, random_state=0, **kwargs)
    x = np.random.default_rng(0).standard_normal((2, 2, 9, 9))
    assert gradcheck(model, x, max_entries=6)


def test_gradcheck_1d_and_tfno():
    model = FNO(6, 1, 2, 5, n_layers=2, periodic_fold=True, positional_embedding="periodic", random_state=0)
    assert gradcheck(model, np.random.default_rng(0).standard_normal((2, 1, 13)), max_entries=6)
    tfno = TFNO((4, 4), 1, 1, 6, n_layers=2, periodic_fold=True, random_state=0)
    assert gradcheck(tfno, np.random.default_rng(1).standard_normal((2, 1, 9, 9)), max_entries=6)


def test_fold_makes_the_dft_the_trapezoidal_rule():
    # a non-periodic smooth field: the folded DFT's mean is the trapezoidal rule, accurate to
    # O(h^2) at every resolution, where the samples of one end alone are off by O(h)
    exact = (np.e - 1) ** 2  # integral of exp(x + y) over the unit square
    for r in (17, 33):
        s = np.linspace(0, 1, r)
        field = np.exp(s[:, None] + s[None, :])[None, None]
        h = 1 / (r - 1)
        assert abs(numpy_fold(field).mean() - exact) < 0.5 * h**2 * exact
        assert abs(field[..., :-1, :-1].mean() - exact) > 0.5 * h * exact


def test_bad_input():
    with pytest.raises(TypeError, match="periodic_fold"):
        FNO((4, 4), 1, 1, 6, periodic_fold=1)
    with pytest.raises(ValueError, match="positional_embedding"):
        FNO((4, 4), 1, 1, 6, positional_embedding="fourier")
    model = FNO(2, 1, 1, 4, n_layers=1, periodic_fold=True, random_state=0)
    with pytest.raises(ValueError, match="3 nodes"):
        model(np.zeros((1, 1, 2)))


@pytest.mark.parametrize("fold", [False, True])
def test_dirichlet_embedding_is_the_coordinates_and_the_sine_bubble(fold):
    x = np.random.default_rng(2).standard_normal((2, 1, 9, 9))
    embedded = FNO((4, 4), 1, 1, 6, n_layers=2, positional_embedding="dirichlet", periodic_fold=fold,
                   random_state=0)
    plain = FNO((4, 4), 4, 1, 6, n_layers=2, positional_embedding=None, periodic_fold=fold, random_state=1)
    plain.load_state_dict(embedded.state_dict())
    nodes = np.linspace(0, 1, 9)
    bubble = np.outer(np.sin(np.pi * nodes), np.sin(np.pi * nodes))
    # standardized with the continuous moments over the unit square: mean (2/pi)^2, mean square 1/4
    channels = [np.outer(nodes, np.ones(9)), np.outer(np.ones(9), nodes),
                (bubble - 4 / np.pi**2) / np.sqrt(0.25 - 16 / np.pi**4)]
    channels = np.broadcast_to(np.stack(channels), (2, 3, 9, 9))
    np.testing.assert_allclose(embedded(x), plain(np.concatenate([x, channels], axis=1)), rtol=1e-12,
                               atol=1e-13)
    assert gradcheck(embedded, x, max_entries=6)


def test_dirichlet_embedding_in_1d_and_3d():
    model = FNO(4, 1, 1, 4, n_layers=1, positional_embedding="dirichlet", periodic_fold=True, random_state=0)
    assert gradcheck(model, np.random.default_rng(0).standard_normal((1, 1, 7)), max_entries=6)
    model3 = FNO((4, 4, 4), 1, 1, 4, n_layers=1, positional_embedding="dirichlet", random_state=0)
    assert model3(np.zeros((1, 1, 5, 5, 5))).shape == (1, 1, 5, 5, 5)
