"""TwoLevelMGTFNO: the resampling maps against FFT oracles, the forward as the composition of its public
parts, gradients by finite differences, training, checkpoints and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from operators import MGTFNO, TFNO, TwoLevelMGTFNO
from physics import fit_operator
from tensorkit.nn import gradcheck


def _band_limited(rng, shape, cutoff):
    """Random real periodic fields holding only the frequencies |k_d| <= cutoff."""
    f = np.fft.fft2(rng.standard_normal(shape))
    k = np.abs(np.fft.fftfreq(shape[-1], 1 / shape[-1]))
    keep = (k[:, None] <= cutoff) & (k[None, :] <= cutoff)
    return np.fft.ifft2(f * keep).real


def _band(x, cutoff):
    """Oracle: the frequencies |k_d| < cutoff of periodic (..., n, n) samples."""
    k = np.abs(np.fft.fftfreq(x.shape[-1], 1 / x.shape[-1]))
    return np.fft.ifft2(np.fft.fft2(x) * ((k[:, None] < cutoff) & (k[None, :] < cutoff))).real


def _fft_resample(x, n):
    """Oracle: trigonometric interpolation of periodic (..., m, m) samples to (..., n, n), |k| < m/2."""
    m = x.shape[-1]
    f = np.fft.fft2(x)
    k = np.fft.fftfreq(m, 1 / m)
    f = f * ((np.abs(k)[:, None] < m / 2) & (np.abs(k)[None, :] < m / 2))
    out = np.zeros((*x.shape[:-2], n, n), dtype=complex)
    kk = k.astype(int)
    out[..., kk[:, None] % n, kk[None, :] % n] = f
    return np.fft.ifft2(out).real * (n / m) ** 2


def _model(**kw):
    kw = {"n_layers": 2, "levels": 1, "padding_fraction": 0.125, "rank": 0.5, "random_state": 0} | kw
    return TwoLevelMGTFNO((3, 3), 1, 1, 4, **kw)


def test_restriction_and_prolongation_are_trigonometric_interpolation():
    rng = np.random.default_rng(0)
    model = _model()
    x = rng.standard_normal((2, 3, 16, 16))
    restrict = model._restrict.matrices(x)
    # R = sampling every second node of the band |k| < 4 of x (the coarse grid's Nyquist dropped)
    np.testing.assert_allclose(restrict[0] @ x @ restrict[1].T, _band(x, 4)[..., ::2, ::2], atol=1e-12)
    smooth = _band_limited(rng, (2, 3, 16, 16), 3)  # nothing to alias: restriction is sampling
    np.testing.assert_allclose(restrict[0] @ smooth @ restrict[1].T, smooth[..., ::2, ::2], atol=1e-12)
    g = rng.standard_normal((2, 3, 8, 8))
    prolong = model._prolong.matrices(g)
    np.testing.assert_allclose(prolong[0] @ g @ prolong[1].T, _fft_resample(g, 16), atol=1e-12)
    # P R is the orthogonal projection onto |k| < 4: idempotent, symmetric
    pr = prolong[0] @ restrict[0]
    np.testing.assert_allclose(pr @ pr, pr, atol=1e-12)
    np.testing.assert_allclose(pr, pr.T, atol=1e-12)


def test_forward_is_coarse_prediction_plus_patched_local_model():
    rng = np.random.default_rng(1)
    model = _model(coarse_channels=3)
    x = rng.standard_normal((2, 1, 16, 16))
    u = _fft_resample(model.coarse(_band(x, 4)[..., ::2, ::2]), 16)
    z = np.concatenate([x, u], axis=1)
    patches, _ = model.local.processor.patch(z)
    expected = model.local.processor.unpatch(model.local(patches)) + u[:, :1]
    np.testing.assert_allclose(model(x), expected, rtol=1e-10, atol=1e-12)
    assert isinstance(model.coarse, TFNO) and isinstance(model.local, MGTFNO)
    assert model.local.processor.levels == 1 and model.processor is None
    assert model.num_parameters() == model.coarse.num_parameters() + model.local.num_parameters()


@pytest.mark.parametrize("levels, n, out_channels", [(1, 16, 1), (1, 12, 2), (2, 16, 1)])
def test_gradcheck(levels, n, out_channels):
    model = TwoLevelMGTFNO((2, 2), 2, out_channels, 3, n_layers=2, levels=levels, padding_fraction=0.125,
                           coarse_channels=out_channels + 1, rank=0.5, random_state=0)
    x = np.random.default_rng(2).standard_normal((2, 2, n, n))
    assert gradcheck(model, x, max_entries=12)


def test_grid_embedding_and_rectangular_fields():
    model = _model(positional_embedding="grid")
    x = np.random.default_rng(3).standard_normal((1, 1, 16, 24))
    assert model(x).shape == (1, 1, 16, 24)
    assert gradcheck(model, x, max_entries=6)


def test_training_learns_a_transport_across_the_patches():
    """y = x shifted by half the domain (far beyond the 2-cell halo): the two-level model learns it, and
    better than MG-TFNO of the same local size at equal epochs."""
    rng = np.random.default_rng(4)
    x = _band_limited(rng, (48, 1, 16, 16), 2)
    y = np.roll(x, 8, axis=-1)
    errors = {}
    for model in (TwoLevelMGTFNO((4, 4), 1, 1, 6, n_layers=2, rank=0.5, random_state=0),
                  MGTFNO((4, 4), 1, 1, 6, n_layers=2, padding_fraction=0.125, rank=0.5, factorization="cp",
                         positional_embedding="periodic", random_state=0)):
        fit = fit_operator(model, x[:40], y[:40], epochs=30, validation=(x[40:], y[40:]), batch_size=8,
                           lr=1e-2, processor=model.processor, random_state=0, progress=False)
        errors[type(model).__name__] = fit.history["val_metric"]
    assert errors["TwoLevelMGTFNO"][-1] < 0.4 * errors["TwoLevelMGTFNO"][0]
    assert errors["TwoLevelMGTFNO"][-1] < 0.9 * errors["MGTFNO"][-1]


def test_overlap_blends_shifted_tilings_in_evaluation_only():
    model = _model(overlap=True)
    plain = _model()
    x = np.random.default_rng(6).standard_normal((2, 1, 16, 16))
    np.testing.assert_array_equal(model(x), plain(x))  # training: one tiling
    model.eval()
    u = plain._prolong.matrices(x[:, :, ::2, ::2])
    g = model.coarse(plain._restrict.matrices(x)[0] @ x @ plain._restrict.matrices(x)[1].T)
    up = u[0] @ g @ u[1].T
    z = np.concatenate([x, up], axis=1)
    processor = model.local.processor
    blended = processor.unpatch(model.local(processor.patch(z, overlap=True)[0]))
    np.testing.assert_allclose(model(x), blended + up[:, :1], rtol=1e-10, atol=1e-12)
    assert gradcheck(model, x, max_entries=6)


def test_state_dict_round_trip(tmp_path):
    model = _model()
    x = np.random.default_rng(5).standard_normal((2, 1, 16, 16))
    model.save(tmp_path / "m.npz")
    other = _model(random_state=7)
    assert not np.allclose(other(x), model(x))
    other.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(other(x), model(x))
    np.testing.assert_array_equal(model.predict_fields(x), model(x))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"levels": 0}, ValueError, "levels"),
    ({"levels": True}, TypeError, "levels"),
    ({"coarse_channels": 0}, ValueError, "coarse_channels"),
    ({"positional_embedding": "dirichlet"}, ValueError, "positional_embedding"),
    ({"coarse_modes": (2, 2, 2)}, ValueError, "coarse_modes"),
    ({"coarse_hidden_channels": 0}, ValueError, "coarse_hidden_channels"),
    ({"padding_fraction": 1.5}, ValueError, "padding_fraction"),
    ({"shifted_training": True}, TypeError, "shifted_training"),
    ({"stitching": False}, TypeError, "stitching"),
])
def test_bad_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        _model(**kwargs)


def test_bad_input():
    model = _model()
    with pytest.raises(RuntimeError, match="before forward"):
        model.backward(np.ones((1, 1, 16, 16)))
    with pytest.raises(ValueError, match="divisible"):
        model(np.ones((1, 1, 15, 16)))
    model(np.ones((2, 1, 16, 16)))
    with pytest.raises(ValueError, match="shape"):
        model.backward(np.ones((2, 1, 8, 8)))
    with pytest.raises(TypeError):
        model.backward([1.0])
    with pytest.raises(ValueError, match=r"\(batch, 1, H, W\)"):
        model(np.ones((1, 2, 16, 16)))
    with pytest.raises(ValueError, match="4 dimensions"):
        model(np.ones((1, 1, 16)))
    with pytest.raises(ValueError, match="modes"):
        TwoLevelMGTFNO((6, 6), 1, 1, 4, levels=1)(np.ones((1, 1, 8, 8)))
    with pytest.raises(ValueError, match="pair"):
        TwoLevelMGTFNO((6, 6, 6), 1, 1, 4)
