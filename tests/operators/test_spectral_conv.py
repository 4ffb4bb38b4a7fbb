"""SpectralConv: explicit-DFT oracle, dense equivalence of every factorization, adjoints, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from operators import FNO, SpectralConv
from tensorkit.nn import gradcheck

FACTORIZATIONS = [None, "cp", "tucker", "tt"]
IMPLEMENTATIONS = ["factorized", "reconstructed"]


def _kept_frequencies(n: int, m: int) -> np.ndarray:
    """Frequencies of the weight rows along a non-last axis: -(m // 2) .. m - m // 2 - 1."""
    return np.arange(-(m // 2), m - m // 2)


def explicit_dft_spectral_conv(x, weight, bias, n_modes):
    """The layer written with explicit DFT sums (no FFT): the oracle.

    ``x_hat[k] = (1/N) sum_s x[s] exp(-2 pi i k.s / n)`` on the kept modes, ``y_hat = x_hat W`` per
    mode, and ``y[s] = sum_k c_k Re(y_hat[k] exp(2 pi i k.s / n))`` with ``c_k = 2`` for the columns
    of the last axis that stand for +k and -k and 1 for column 0 (and the Nyquist column).
    """
    spatial = x.shape[2:]
    m_last = n_modes[-1] // 2 + 1
    n_last = spatial[-1]
    k_last = np.arange(m_last)
    c = np.where((k_last == 0) | (2 * k_last == n_last), 1.0, 2.0)
    s_last = np.arange(n_last)
    e_last = np.exp(-2j * np.pi * np.outer(k_last, s_last) / n_last)  # (m_last, n_last)
    if len(spatial) == 1:
        x_hat = np.einsum("bis,ks->bik", x, e_last) / n_last
        y_hat = np.einsum("bik,iok->bok", x_hat, weight)
        y = np.einsum("bok,ks,k->bos", y_hat, np.conj(e_last), c).real
    else:
        n0 = spatial[0]
        k0 = _kept_frequencies(n0, n_modes[0])
        e0 = np.exp(-2j * np.pi * np.outer(k0, np.arange(n0)) / n0)
        x_hat = np.einsum("bist,ks,lt->bikl", x, e0, e_last) / (n0 * n_last)
        y_hat = np.einsum("bikl,iokl->bokl", x_hat, weight)
        y = np.einsum("bokl,ks,lt,l->bost", y_hat, np.conj(e0), np.conj(e_last), c).real
    return y + bias.reshape((1, -1) + (1,) * len(spatial))


CASES = [
    ((3, 4, 12, 10), (6, 6)),  # 2D, modes below the grid
    ((2, 3, 8, 8), (8, 8)),  # 2D, every mode kept, Nyquist column included
    ((2, 3, 7, 9), (5, 4)),  # 2D, odd sizes and odd mode count
    ((3, 4, 16), (6,)),  # 1D
    ((2, 3, 10), (10,)),  # 1D with the Nyquist mode
]


@pytest.mark.parametrize(("shape", "n_modes"), CASES)
@pytest.mark.parametrize("factorization", FACTORIZATIONS)
def test_matches_explicit_dft(shape, n_modes, factorization):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    layer = SpectralConv(shape[1], 5, n_modes, factorization=factorization, rank=0.6, random_state=2)
    expected = explicit_dft_spectral_conv(x, layer.dense_weight(), layer.params["bias"], n_modes)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt"])
@pytest.mark.parametrize(("n_modes", "spatial"), [((6, 6), (12, 12)), ((6,), (12,)), ((4, 4, 6), (8, 6, 8))])
def test_factorized_reconstructed_and_dense_agree(factorization, n_modes, spatial):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, *spatial))
    fact = SpectralConv(4, 5, n_modes, factorization=factorization, rank=0.5, random_state=4)
    recon = SpectralConv(4, 5, n_modes, factorization=factorization, rank=0.5,
                         implementation="reconstructed", random_state=99)
    recon.load_state_dict(fact.state_dict())  # same parameters move between implementations
    dense = SpectralConv(4, 5, n_modes, random_state=5)
    dense.load_state_dict({"weight": fact.dense_weight(), "bias": fact.params["bias"]})
    y = fact(x)
    np.testing.assert_allclose(recon(x), y, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dense(x), y, rtol=1e-12, atol=1e-13)
    # the tensorkit format (CPTensor / TuckerTensor / TTTensor) rebuilds the same dense weight
    np.testing.assert_allclose(fact.weight_tensor().to_dense(), fact.dense_weight(), rtol=1e-12, atol=1e-14)
    # gradients agree too (the factor gradients of both implementations, and the input gradient)
    g = rng.standard_normal(y.shape)
    fact.zero_grad()
    recon.zero_grad()
    np.testing.assert_allclose(recon.backward(g), fact.backward(g), rtol=1e-10, atol=1e-12)
    for name in fact.params:
        np.testing.assert_allclose(recon.grads[name], fact.grads[name], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("factorization", FACTORIZATIONS)
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("shape", "n_modes"), [((2, 3, 8, 7), (4, 6)), ((2, 3, 8, 8), (8, 8)), ((2, 3, 9), (6,))]
)
def test_gradcheck(factorization, implementation, shape, n_modes):
    if factorization is None and implementation == "reconstructed":
        pytest.skip("the dense layer has one implementation")
    layer = SpectralConv(3, 2, n_modes, factorization=factorization, rank=0.7,
                         implementation=implementation, random_state=1)
    x = np.random.default_rng(0).standard_normal(shape)
    assert gradcheck(layer, x, max_entries=8)


def test_ranks_follow_neuraloperator():
    # float rank = fraction of the dense parameter count (tltorch's rule), ints explicit
    shape = (32, 32, 12, 7)
    dense = 2 * np.prod(shape)
    for factorization in ("cp", "tucker", "tt"):
        layer = SpectralConv(32, 32, (12, 12), factorization=factorization, rank=0.1, bias=False)
        assert 0.07 < layer.num_parameters() / dense < 0.13, factorization
    assert SpectralConv(4, 4, (6, 6), factorization="cp", rank=3).rank == 3
    assert SpectralConv(4, 4, (6, 6), factorization="tucker", rank=(2, 3, 4, 2)).rank == (2, 3, 4, 2)
    assert SpectralConv(4, 4, (6, 6), factorization="tt", rank=(2, 3, 2)).rank == (1, 2, 3, 2, 1)


@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt"])
def test_factors_learn_at_the_dense_weights_relative_rate(factorization):
    # Adam steps every entry by about lr: factors drawn at factor_std get lr * factor_std / std
    layer = SpectralConv(8, 6, (6, 6), factorization=factorization, rank=0.2, random_state=0)
    std = np.sqrt(2.0 / 14)
    scales = layer.parameter_lr_scales()
    expected = {name: layer.weight.factor_std(std) / std for name in layer.weight.names if name != "weights"}
    assert scales == pytest.approx(expected)
    assert SpectralConv(8, 6, (6, 6), random_state=0).parameter_lr_scales() == {}


def test_float32_end_to_end():
    layer = SpectralConv(3, 2, (4, 4), factorization="tucker", rank=0.5, dtype=np.float32, random_state=0)
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
    y = layer(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert all(g.dtype == np.complex64 for name, g in layer.grads.items() if name != "bias")
    ref = SpectralConv(3, 2, (4, 4), factorization="tucker", rank=0.5, random_state=0)
    ref.load_state_dict(layer.state_dict())
    np.testing.assert_allclose(y, ref(x), rtol=1e-4, atol=1e-5)


def test_resolution_independence_of_band_limited_input():
    # a signal with only kept modes, sampled at two resolutions, gives the same function
    layer = SpectralConv(1, 1, (4, 4), random_state=0)

    def signal(n):
        s = np.arange(n) / n
        return (np.cos(2 * np.pi * s)[:, None] * np.sin(2 * np.pi * s)[None, :])[None, None]

    coarse, fine = layer(signal(16)), layer(signal(32))
    np.testing.assert_allclose(fine[..., ::2, ::2], coarse, atol=1e-12)


def test_bad_input():
    layer = SpectralConv(3, 2, (8, 8), random_state=0)
    with pytest.raises(ValueError, match="shape"):
        layer(np.zeros((2, 3, 16)))  # wrong number of dimensions
    with pytest.raises(ValueError, match="shape"):
        layer(np.zeros((2, 4, 16, 16)))  # wrong channels
    with pytest.raises(ValueError, match="n_modes"):
        layer(np.zeros((2, 3, 6, 16)))  # more modes than the first axis holds
    with pytest.raises(ValueError, match="n_modes"):
        layer(np.zeros((2, 3, 16, 6)))  # more modes than the last axis holds
    with pytest.raises(ValueError, match="empty"):
        SpectralConv(3, 2, (8, 8), factorization="cp", rank=1e-6)  # rounds to CP rank 0
    with pytest.raises(ValueError, match=r"rank\[0\] must be >= 1"):
        SpectralConv(3, 2, (8, 8), factorization="tucker", rank=(0, 2, 2, 2))
    with pytest.raises(ValueError, match="rank"):
        SpectralConv(3, 2, (8, 8), factorization="cp", rank=0)
    with pytest.raises(ValueError, match="factorization"):
        SpectralConv(3, 2, (8, 8), factorization="svd")
    with pytest.raises(ValueError, match="implementation"):
        SpectralConv(3, 2, (8, 8), implementation="fast")
    with pytest.raises(ValueError, match="n_modes"):
        SpectralConv(3, 2, (8, 8, 8, 8))  # 4 spatial dimensions
    with pytest.raises(TypeError, match="in_channels"):
        SpectralConv(3.0, 2, (8, 8))
    with pytest.raises(ValueError, match="another architecture"):
        SpectralConv(3, 2, (4, 4)).load_state_dict(layer.state_dict())


@pytest.mark.parametrize("fft_norm", ["forward", "backward", "ortho"])
def test_fft_norms_against_numpy_fft(fft_norm):
    x = np.random.default_rng(0).standard_normal((2, 3, 10, 8))
    layer = SpectralConv(3, 2, (6, 6), fft_norm=fft_norm, random_state=0)
    x_hat = np.fft.rfft2(x, norm=fft_norm)
    y_hat = np.zeros((2, 2, 10, 5), dtype=complex)
    rows = [7, 8, 9, 0, 1, 2]  # frequencies -3..2
    y_hat[:, :, rows, :4] = np.einsum("bixy,ioxy->boxy", x_hat[:, :, rows, :4], layer.dense_weight())
    expected = np.fft.irfft2(y_hat, s=(10, 8), norm=fft_norm) + layer.params["bias"][:, None, None]
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-13)
    assert gradcheck(layer, x, max_entries=8)


@pytest.mark.parametrize("factorization", ["cp", "tucker"])
def test_joint_factors_learn_at_the_dense_weights_relative_rate(factorization):
    from operators import JointSpectralWeight

    joint = JointSpectralWeight(3, 4, 4, (4, 3), factorization, 0.3, random_state=0)
    std = np.sqrt(2.0 / 8)
    expected = {name: joint.weight.factor_std(std) / std for name in joint.weight.names if name != "weights"}
    assert joint.parameter_lr_scales() == pytest.approx(expected)
    # a model holding it sees the scales under the dotted names its optimizer uses
    model = FNO((4, 4), 1, 1, 4, n_layers=3, factorization=factorization, rank=0.3, joint_factorization=True,
                random_state=0)
    assert set(model.parameter_lr_scales()) == {f"spectral_weight.{n}" for n in expected}
