"""FNO / TFNO: adjoints, resolution changes, factorized variants, float32, checkpoints, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from operators import FNO, TFNO
from tensorkit.nn import gradcheck


@pytest.mark.parametrize(
    "kwargs",
    [
        {"domain_padding": 0.25},
        {"factorization": "tucker", "rank": 0.5},
        {"factorization": "cp", "rank": 0.5, "implementation": "reconstructed"},
        {"factorization": "tt", "rank": 0.5, "positional_embedding": None, "lifting_channels": 0},
    ],
)
def test_gradcheck_2d(kwargs):
    model = FNO((4, 4), 2, 1, 6, n_layers=2, random_state=0, **kwargs)
    x = np.random.default_rng(0).standard_normal((2, 2, 8, 8))
    assert gradcheck(model, x, max_entries=6)


def test_gradcheck_1d():
    model = FNO(6, 1, 2, 5, n_layers=3, projection_channels=7, random_state=0)
    x = np.random.default_rng(0).standard_normal((2, 1, 12))
    assert gradcheck(model, x, max_entries=6)


def test_any_resolution_and_parameter_counts():
    model = FNO((12, 12), 1, 1, 32, random_state=0)
    assert model.num_parameters() == 701_281  # neuraloperator's FNO at this configuration
    tfno = TFNO((12, 12), 1, 1, 32, random_state=0)
    assert tfno.factorization == "tucker"
    assert 6 < model.num_parameters() / tfno.num_parameters() < 12
    for n in (24, 32, 47):
        assert model(np.zeros((1, 1, n, n))).shape == (1, 1, n, n)
    with pytest.raises(ValueError, match="n_modes"):
        model(np.zeros((1, 1, 8, 8)))  # 12 modes do not fit an 8-point grid


def test_float32_end_to_end():
    model = FNO((4, 4), 1, 1, 8, n_layers=2, dtype=np.float32, random_state=0)
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8))
    y = model(x)
    assert y.dtype == np.float32
    model.zero_grad()
    assert model.backward(np.ones_like(y)).dtype == np.float32
    for name, g in model.gradients().items():
        assert g.dtype in (np.float32, np.complex64), name
    ref = FNO((4, 4), 1, 1, 8, n_layers=2, random_state=0)
    ref.load_state_dict(model.state_dict())
    np.testing.assert_allclose(y, ref(x), rtol=1e-4, atol=1e-5)


def test_checkpoint_roundtrip_and_other_architecture(tmp_path):
    model = TFNO((4, 4), 1, 1, 8, n_layers=2, random_state=0)
    path = tmp_path / "tfno.npz"
    model.save(path)
    x = np.random.default_rng(0).standard_normal((1, 1, 8, 8))
    again = TFNO((4, 4), 1, 1, 8, n_layers=2, random_state=1)
    again.load(path)
    np.testing.assert_array_equal(again(x), model(x))
    with pytest.raises(ValueError, match="TFNO"):
        FNO((4, 4), 1, 1, 8, n_layers=2).load(path)
    with pytest.raises(ValueError, match="architecture"):
        TFNO((4, 4), 1, 1, 8, n_layers=3).load(path)
    with pytest.raises(ValueError, match="architecture"):
        TFNO((4, 4), 1, 1, 8, n_layers=2, rank=0.9).load(path)


def test_bad_input():
    model = FNO((4, 4), 2, 1, 8, n_layers=1, random_state=0)
    with pytest.raises(ValueError, match="shape"):
        model(np.zeros((1, 2, 8)))
    with pytest.raises(ValueError, match="shape"):
        model(np.zeros((1, 3, 8, 8)))
    with pytest.raises(ValueError, match="n_modes"):
        FNO((4, 4, 4, 4), 1, 1, 8)  # 4 spatial dimensions
    with pytest.raises(ValueError, match="positional_embedding"):
        FNO((4, 4), 1, 1, 8, positional_embedding="fourier")
    with pytest.raises(ValueError, match="domain_padding"):
        FNO((4, 4), 1, 1, 8, domain_padding=1.5)
    with pytest.raises(ValueError, match="empty"):
        FNO((4, 4), 1, 1, 8, factorization="cp", rank=1e-6)
    with pytest.raises(ValueError, match="hidden_channels"):
        FNO((4, 4), 1, 1, 0)
