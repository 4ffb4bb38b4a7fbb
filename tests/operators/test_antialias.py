"""Band-limited layers: FFT oracles, resolution consistency, adjoints (finite differences, torch)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

from operators._antialias import AntialiasedGELU, BandLimit, trigonometric_matrix
from tensorkit.nn import gradcheck


def _gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def _lowpass_fft(x, cutoff, axes):
    """Ideal low-pass with numpy's FFT: zero every frequency |k| > cutoff (and the Nyquist one);
    ``cutoff`` is one int or one per axis."""
    out = np.fft.fftn(x, axes=axes)
    cutoffs = cutoff if isinstance(cutoff, tuple) else (cutoff,) * len(axes)
    for ax, cutoff in zip(axes, cutoffs, strict=True):
        n = x.shape[ax]
        k = np.abs(np.fft.fftfreq(n, 1.0 / n))
        keep = (k <= cutoff) & ~((2 * k == n) & (cutoff < n // 2))
        out = out * keep.reshape([-1 if a == ax % x.ndim else 1 for a in range(x.ndim)])
    return np.fft.ifftn(out, axes=axes).real


def _upsample_fft(x, m, axis):
    """Periodic trigonometric interpolation n -> m >= n along ``axis`` by FFT zero-padding, the
    Nyquist coefficient of an even n split between +n/2 and -n/2 (the real interpolant)."""
    n = x.shape[axis]
    spec = np.moveaxis(np.fft.fft(x, axis=axis), axis, -1)
    out = np.zeros((*spec.shape[:-1], m), dtype=complex)
    for k in range(-(n // 2), n // 2 + 1):
        coef = spec[..., k % n]
        if n % 2 == 0 and abs(k) == n // 2:
            coef = coef / 2  # split the Nyquist term between +n/2 and -n/2
        out[..., k % m] += coef
    return np.moveaxis(np.fft.ifft(out, axis=-1).real * (m / n), -1, axis)


@pytest.mark.parametrize(("n_in", "n_out", "cutoff"), [(8, 16, 4), (7, 21, 3), (12, 5, 2), (9, 9, 2)])
def test_trigonometric_matrix_matches_explicit_interpolant(n_in, n_out, cutoff):
    # oracle: evaluate the truncated Fourier series of the samples at the output nodes
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n_in)
    coef = np.fft.fft(x) / n_in
    k = np.fft.fftfreq(n_in, 1.0 / n_in)
    t = np.arange(n_out) / n_out
    kept = np.abs(k) <= min(cutoff, n_in // 2)
    weights = np.where(np.abs(2 * k) == n_in, 0.5, 1.0)  # a Nyquist bin stands for +-n/2 together
    series = np.zeros(n_out)
    for kk, c, w in zip(k[kept], coef[kept], weights[kept], strict=True):
        if abs(2 * kk) == n_in:
            series += (c * np.cos(2 * np.pi * kk * t)).real  # sampled sine part is zero
        else:
            series += (w * c * np.exp(2j * np.pi * kk * t)).real
    np.testing.assert_allclose(trigonometric_matrix(n_in, n_out, cutoff) @ x, series, atol=1e-12)


@pytest.mark.parametrize("n", [8, 9])
def test_full_band_is_identity(n):
    np.testing.assert_allclose(trigonometric_matrix(n, n, n), np.eye(n), atol=1e-12)


@pytest.mark.parametrize("shape", [(2, 3, 16), (2, 3, 12, 11)])
def test_band_limit_matches_fft_lowpass(shape):
    x = np.random.default_rng(1).standard_normal(shape)
    axes = tuple(range(2, len(shape)))
    np.testing.assert_allclose(BandLimit(3)(x), _lowpass_fft(x, 3, axes), atol=1e-12)


def test_band_limit_is_a_projection_and_self_adjoint():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((2, 1, 2, 10, 10))
    f = BandLimit(2)
    np.testing.assert_allclose(f(f(x)), f(x), atol=1e-12)
    assert np.isclose(np.vdot(f(x), y), np.vdot(x, f(y)))


@pytest.mark.parametrize(("shape", "cutoff"), [((2, 3, 10), 3), ((2, 2, 8, 9), None), ((1, 2, 12, 12), 2)])
def test_antialiased_gelu_matches_fft_oracle(shape, cutoff):
    x = np.random.default_rng(3).standard_normal(shape)
    axes = tuple(range(2, len(shape)))
    fine = x
    for ax in axes:
        fine = _upsample_fft(fine, 2 * x.shape[ax], ax)
    act = _gelu(fine)
    band = tuple(min(cutoff if cutoff is not None else x.shape[ax], (x.shape[ax] - 1) // 2) for ax in axes)
    act = _lowpass_fft(act, band, axes)
    expected = act[(slice(None), slice(None), *(slice(None, None, 2) for _ in axes))]
    np.testing.assert_allclose(AntialiasedGELU(cutoff)(x), expected, atol=1e-12)


def test_antialiased_gelu_output_is_band_limited():
    x = np.random.default_rng(4).standard_normal((2, 3, 16, 16))
    y = AntialiasedGELU(cutoff=3)(x)
    np.testing.assert_allclose(y, _lowpass_fft(y, 3, (2, 3)), atol=1e-12)


def test_antialiased_gelu_is_resolution_consistent():
    # a band-limited input sampled at 16 and 32 nodes: the band-limited outputs agree at the shared
    # nodes up to the aliasing of GELU's harmonics on the oversampled grids (small for a smooth input)
    def field(n):
        s = 2 * np.pi * np.arange(n) / n
        return (np.cos(s)[:, None] + 0.5 * np.sin(2 * s)[None, :]).reshape(1, 1, n, n)

    layer = AntialiasedGELU(cutoff=4, oversample=4)
    coarse, fine = layer(field(16)), layer(field(32))[:, :, ::2, ::2]
    assert np.abs(coarse - fine).max() < 1e-3 * np.abs(coarse).max()
    pointwise = _gelu(field(16))
    assert np.abs(coarse - pointwise).max() > 1e-3  # the layer really is not the pointwise GELU


@pytest.mark.parametrize("layer", [BandLimit(2), AntialiasedGELU(), AntialiasedGELU(2, oversample=3)],
                         ids=["bandlimit", "gelu-grid-band", "gelu-cutoff"])
@pytest.mark.parametrize("shape", [(2, 3, 10), (2, 2, 8, 7)])
def test_gradcheck(layer, shape):
    x = np.random.default_rng(5).standard_normal(shape)
    assert gradcheck(layer, x)


def test_adjoint_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 8, 6))
    g = rng.standard_normal((2, 3, 8, 6))
    layer = AntialiasedGELU(cutoff=2)
    layer.forward(x)
    ours = layer.backward(g)

    # torch oracle through FFTs (not the layer's matrices): zero-pad, GELU, mask, sample back
    xt = torch.tensor(x, requires_grad=True)

    def resample(t, m, dim):
        n = t.shape[dim]
        spec = torch.fft.fft(t, dim=dim)
        spec = torch.movedim(spec, dim, -1)
        half = spec[..., n // 2: n // 2 + 1] / 2
        padded = torch.cat([spec[..., : n // 2], half, torch.zeros(*spec.shape[:-1], m - n - 1,
                            dtype=spec.dtype), half, spec[..., n // 2 + 1:]], dim=-1)
        return torch.movedim(torch.fft.ifft(padded, dim=-1).real * (m / n), -1, dim)

    fine = resample(resample(xt, 16, 2), 12, 3)
    act = torch.nn.functional.gelu(fine)
    spec = torch.fft.fft2(act)
    k0 = torch.fft.fftfreq(16, 1 / 16).abs()
    k1 = torch.fft.fftfreq(12, 1 / 12).abs()
    mask = ((k0 <= 2)[:, None] & (k1 <= 2)[None, :]).to(spec.dtype)
    y = torch.fft.ifft2(spec * mask).real[:, :, ::2, ::2]
    np.testing.assert_allclose(layer(x), y.detach().numpy(), atol=1e-12)
    y.backward(torch.tensor(g))
    np.testing.assert_allclose(ours, xt.grad.numpy(), atol=1e-12)


def test_stands_in_for_gelu_in_an_fno_block():
    # forward_shifted(x, bias, residual, gate) is the layer at x + bias + gate * residual
    rng = np.random.default_rng(8)
    x, r = rng.standard_normal((2, 2, 3, 8, 8))
    bias, gate = rng.standard_normal((2, 3))
    layer = AntialiasedGELU(cutoff=2)
    shifted = layer.forward_shifted(x.copy(), bias, r, gate, overwrite_x=True)
    p = x + bias.reshape(1, -1, 1, 1) + gate.reshape(1, -1, 1, 1) * r
    np.testing.assert_allclose(shifted, AntialiasedGELU(cutoff=2)(p), atol=1e-14)
    from operators import FNO

    model = FNO((4, 4), 1, 1, 4, n_layers=2, random_state=0)
    for k in range(2):
        for name in ("act_z", "act_out"):
            model._modules[f"block{k}"]._modules[name] = AntialiasedGELU(cutoff=3)
    assert gradcheck(model, rng.standard_normal((2, 1, 8, 8)), max_entries=10)


def test_float32_stays_float32():
    x = np.random.default_rng(7).standard_normal((1, 2, 8, 8)).astype(np.float32)
    layer = AntialiasedGELU(dtype=np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32


def test_bad_input():
    with pytest.raises(ValueError, match="cutoff"):
        BandLimit(-1)
    with pytest.raises(TypeError, match="cutoff"):
        AntialiasedGELU(True)
    with pytest.raises(ValueError, match="oversample"):
        AntialiasedGELU(oversample=0)
    with pytest.raises(ValueError, match="expects x of shape"):
        BandLimit(2)(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="before forward"):
        AntialiasedGELU().backward(np.zeros((1, 1, 4)))
