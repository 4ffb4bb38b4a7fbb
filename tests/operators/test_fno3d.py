"""SpectralConv and FNO / TFNO over three spatial dimensions (FNO-3D: space, or space-time).

Oracles: numpy's full ``fftn`` with the kept modes multiplied and the rest set to zero (float64, every
``fft_norm``), neuraloperator's own SpectralConv 3D with the same weights (forward and PyTorch
autograd; it accumulates in complex64, hence single-precision tolerances), finite differences for
the input and every parameter / factor, and the dense weight that a factorized layer rebuilds.
"""

from __future__ import annotations

import numpy as np
import pytest

from operators import FNO, TFNO, SpectralConv
from tensorkit.nn import gradcheck

FACTORIZATIONS = [None, "cp", "tucker", "tt"]
IMPLEMENTATIONS = ["factorized", "reconstructed"]


def _kept_rows(n: int, m: int) -> np.ndarray:
    """Indices into a length-n FFT of the kept frequencies -(m // 2) .. m - m // 2 - 1, in order."""
    return np.arange(-(m // 2), m - m // 2) % n


def fftn_spectral_conv(x, weight, bias, n_modes, norm="forward"):
    """The 3D layer through numpy's full ``rfftn`` / ``irfftn``: the oracle."""
    spatial = x.shape[2:]
    x_hat = np.fft.rfftn(x, axes=(2, 3, 4), norm=norm)
    r0, r1 = _kept_rows(spatial[0], n_modes[0]), _kept_rows(spatial[1], n_modes[1])
    m2 = n_modes[2] // 2 + 1
    kept = x_hat[:, :, r0][:, :, :, r1][..., :m2]
    y_hat = np.zeros((x.shape[0], weight.shape[1], *x_hat.shape[2:]), dtype=complex)
    y_hat[:, :, r0[:, None], r1[None, :], :m2] = np.einsum("bixyz,ioxyz->boxyz", kept, weight)
    y = np.fft.irfftn(y_hat, s=spatial, axes=(2, 3, 4), norm=norm)
    return y + bias.reshape(1, -1, 1, 1, 1)


CASES = [
    ((2, 3, 8, 8, 8), (4, 4, 4)),  # modes below the grid
    ((2, 3, 6, 6, 6), (6, 6, 6)),  # every mode kept, Nyquist column included
    ((2, 3, 7, 9, 10), (5, 4, 6)),  # odd sizes, odd and even mode counts
]


@pytest.mark.parametrize(("shape", "n_modes"), CASES)
@pytest.mark.parametrize("factorization", FACTORIZATIONS)
@pytest.mark.parametrize("fft_norm", ["forward", "backward", "ortho"])
def test_matches_fftn(shape, n_modes, factorization, fft_norm):
    x = np.random.default_rng(1).standard_normal(shape)
    layer = SpectralConv(3, 4, n_modes, factorization=factorization, rank=0.6, fft_norm=fft_norm,
                         random_state=2)
    assert layer.weight_shape == (3, 4, n_modes[0], n_modes[1], n_modes[2] // 2 + 1)
    expected = fftn_spectral_conv(x, layer.dense_weight(), layer.params["bias"], n_modes, fft_norm)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("factorization", FACTORIZATIONS)
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_gradcheck(factorization, implementation):
    if factorization is None and implementation == "reconstructed":
        pytest.skip("the dense layer has one implementation")
    layer = SpectralConv(3, 2, (4, 6, 5), factorization=factorization, rank=0.7,
                         implementation=implementation, random_state=1)
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 7, 8))
    assert gradcheck(layer, x, max_entries=8)


@pytest.mark.parametrize("fft_norm", ["backward", "ortho"])
def test_gradcheck_fft_norms(fft_norm):
    layer = SpectralConv(2, 2, (4, 4, 4), fft_norm=fft_norm, random_state=0)
    assert gradcheck(layer, np.random.default_rng(0).standard_normal((2, 2, 6, 5, 6)), max_entries=8)


def test_float32():
    layer = SpectralConv(3, 2, (4, 4, 4), factorization="tt", rank=0.5, dtype=np.float32, random_state=0)
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8, 8))
    y = layer(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert all(g.dtype == np.complex64 for name, g in layer.grads.items() if name != "bias")
    ref = SpectralConv(3, 2, (4, 4, 4), factorization="tt", rank=0.5, random_state=0)
    ref.load_state_dict(layer.state_dict())
    np.testing.assert_allclose(y, ref(x), rtol=1e-4, atol=1e-5)


def test_resolution_independence_of_band_limited_input():
    layer = SpectralConv(1, 2, (4, 4, 4), random_state=0)

    def signal(n):
        s = np.arange(n) / n
        return (np.cos(2 * np.pi * s)[:, None, None] * np.sin(2 * np.pi * s)[None, :, None]
                * np.cos(4 * np.pi * s)[None, None, :])[None, None]

    coarse, fine = layer(signal(8)), layer(signal(16))
    np.testing.assert_allclose(fine[..., ::2, ::2, ::2], coarse, atol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match=r"n_modes must be an int or a tuple of 1 to 3 ints"):
        SpectralConv(3, 2, (4, 4, 4, 4))
    with pytest.raises(ValueError, match=r"n_modes must be an int or a tuple of 1 to 3 ints"):
        FNO((4, 4, 4, 4), 1, 1, 4)
    layer = SpectralConv(3, 2, (6, 6, 6), random_state=0)
    with pytest.raises(ValueError, match="shape"):
        layer(np.zeros((2, 3, 8, 8)))  # 2D input to a 3D layer
    for shape, where in (((2, 3, 4, 8, 8), "axis 0"), ((2, 3, 8, 4, 8), "axis 1"),
                         ((2, 3, 8, 8, 4), "last axis")):
        with pytest.raises(ValueError, match=f"n_modes.*{where}"):
            layer(np.zeros(shape))  # more modes than the grid holds along that axis


# ------------------------------------------------------------------------------------------------ FNO
@pytest.mark.parametrize(
    "kwargs",
    [
        {"domain_padding": 0.25},
        {"factorization": "tucker", "rank": 0.5},
        {"factorization": "cp", "rank": 0.5, "implementation": "reconstructed", "fft_norm": "ortho"},
        {"factorization": "tt", "rank": 0.5, "positional_embedding": None, "lifting_channels": 0},
        {"factorization": "tucker", "rank": 0.5, "joint_factorization": True},
    ],
)
def test_fno_gradcheck(kwargs):
    model = FNO((4, 4, 4), 2, 1, 4, n_layers=2, random_state=0, **kwargs)
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 6, 6))
    assert gradcheck(model, x, max_entries=6)


def test_fno_any_resolution():
    model = TFNO((4, 4, 4), 1, 2, 4, n_layers=2, domain_padding=0.125, random_state=0)
    for shape in ((8, 8, 8), (12, 10, 8), (16, 16, 9)):
        assert model(np.zeros((1, 1, *shape))).shape == (1, 2, *shape)
    with pytest.raises(ValueError, match="n_modes"):
        model(np.zeros((1, 1, 8, 8, 3)))  # 3 modes of the real FFT do not fit 3 points
    with pytest.raises(ValueError, match="shape"):
        model(np.zeros((1, 1, 8, 8)))


def test_per_dimension_domain_padding():
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6, 8))
    uniform = FNO((4, 4, 4), 1, 1, 4, n_layers=1, domain_padding=0.25, random_state=0)
    per_dim = FNO((4, 4, 4), 1, 1, 4, n_layers=1, domain_padding=(0.25, 0.25, 0.25), random_state=0)
    np.testing.assert_array_equal(per_dim(x), uniform(x))
    time_only = FNO((4, 4, 4), 1, 1, 4, n_layers=1, domain_padding=(0, 0, 0.25), random_state=0)
    assert time_only(x).shape == x.shape and time_only._pads == (0, 0, 2)
    assert gradcheck(time_only, x, max_entries=6)
    with pytest.raises(ValueError, match="one fraction per spatial dimension"):
        FNO((4, 4, 4), 1, 1, 4, domain_padding=(0.1, 0.1))
    with pytest.raises(ValueError, match=r"domain_padding\[2\]"):
        FNO((4, 4, 4), 1, 1, 4, domain_padding=(0.1, 0.1, 1.5))


def test_grid_embedding_appends_three_coordinates():
    # positional_embedding="grid" equals the same model without it fed the (x, y, t) node coordinates
    with_grid = FNO((4, 4, 4), 1, 1, 4, n_layers=1, random_state=0)
    plain = FNO((4, 4, 4), 4, 1, 4, n_layers=1, positional_embedding=None, random_state=1)
    assert with_grid.state_dict()["lifting.0.weight"].shape[1] == 1 + 3
    plain.load_state_dict(with_grid.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 5, 4))
    axes = [np.linspace(0.0, 1.0, n) for n in x.shape[2:]]
    grid = np.broadcast_to(np.stack(np.meshgrid(*axes, indexing="ij"))[None], (2, 3, 6, 5, 4))
    np.testing.assert_allclose(with_grid(x), plain(np.concatenate([x, grid], axis=1)), rtol=1e-13, atol=1e-14)


def test_fno_float32():
    model = TFNO((4, 4, 4), 1, 1, 4, n_layers=2, dtype=np.float32, random_state=0)
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8, 8))
    y = model(x)
    assert y.dtype == np.float32 and model.backward(np.ones_like(y)).dtype == np.float32
    ref = TFNO((4, 4, 4), 1, 1, 4, n_layers=2, random_state=0)
    ref.load_state_dict(model.state_dict())
    np.testing.assert_allclose(y, ref(x), rtol=1e-3, atol=1e-4)


