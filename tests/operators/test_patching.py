"""Multi-grid patching: neuraloperator's layout exactly, exact adjoints, processor protocol, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from operators import MultigridPatching2D, PeriodicCoordinates

CASES = [(1, 0.0, 32), (1, 0.125, 32), (2, 0.0625, 64), (2, 0.1, 64), (1, 0.05, 16)]


@pytest.mark.parametrize(("levels", "fraction", "size"), CASES)
@pytest.mark.parametrize("stitching", [True, False])
def test_matches_neuraloperator(levels, fraction, size, stitching):
    torch = pytest.importorskip("torch")
    patching = pytest.importorskip("neuralop.training.patching")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, size, size))
    y = rng.standard_normal((2, 1, size, size))
    ref = patching.MultigridPatching2D(torch.nn.Identity(), levels=levels, padding_fraction=fraction,
                                       stitching=stitching)
    ours = MultigridPatching2D(levels, fraction, stitching=stitching)
    x_ref, y_ref = ref.patch(torch.tensor(x), torch.tensor(y))
    x_ours, y_ours = ours.patch(x, y)
    np.testing.assert_array_equal(x_ours, x_ref.numpy())
    np.testing.assert_array_equal(y_ours, y_ref.numpy())
    out = 2 * x_ours[:, :3]
    u_ref, _ = ref.unpatch(torch.tensor(out), y_ref)
    np.testing.assert_array_equal(ours.unpatch(out, stitch=stitching), u_ref.numpy())


@pytest.mark.parametrize(("levels", "fraction", "size"), CASES)
@pytest.mark.parametrize("stitch", [True, False])
def test_adjoints(levels, fraction, size, stitch):
    """<P x, g> = <x, P^T g> and <U o, g> = <o, U^T g> for random x, o, g."""
    rng = np.random.default_rng(1)
    mg = MultigridPatching2D(levels, fraction)
    x = rng.standard_normal((2, 3, size, size))
    px, _ = mg.patch(x)
    g = rng.standard_normal(px.shape)
    assert np.isclose(np.vdot(px, g), np.vdot(x, mg.patch_adjoint(g)), rtol=1e-12)
    out = rng.standard_normal((px.shape[0], 2, *px.shape[2:]))
    u = mg.unpatch(out, stitch=stitch)
    gu = rng.standard_normal(u.shape)
    assert np.isclose(np.vdot(u, gu), np.vdot(out, mg.unpatch_adjoint(gu, stitch=stitch)), rtol=1e-12)


def test_levels_zero_is_identity_and_stitch_inverts_patch():
    x = np.random.default_rng(2).standard_normal((3, 2, 16, 16))
    mg0 = MultigridPatching2D(0)
    assert mg0.patch(x)[0] is x and mg0.unpatch(x) is x
    mg = MultigridPatching2D(1, 0.25)
    np.testing.assert_array_equal(mg.unpatch(mg.patch(x)[0][:, :2]), x)


def test_processor_protocol():
    """Training without stitching patches the target; evaluation always stitches."""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2, 1, 16, 16)), rng.standard_normal((2, 1, 16, 16))
    mg = MultigridPatching2D(1, 0.125, stitching=False)
    xp_, yp = mg.preprocess(x, y)
    assert xp_.shape == (8, 2, 12, 12) and yp.shape == (8, 1, 8, 8)
    pred, target = mg.postprocess(xp_[:, :1], yp)
    assert pred.shape == target.shape == (8, 1, 8, 8)
    assert mg.postprocess_adjoint(pred).shape == (8, 1, 12, 12)
    mg.eval()
    xp_, ye = mg.preprocess(x, y)
    assert ye is y
    pred, _ = mg.postprocess(xp_[:, :1], ye)
    np.testing.assert_array_equal(pred, x)


@pytest.mark.parametrize(
    ("kwargs", "shape", "error", "match"),
    [
        ({"levels": -1}, None, ValueError, "levels"),
        ({"levels": True}, None, TypeError, "levels"),
        ({"levels": 1, "padding_fraction": 1.5}, None, ValueError, "padding_fraction"),
        ({"levels": 1, "padding_fraction": float("nan")}, None, ValueError, "padding_fraction"),
        ({"levels": 1, "stitching": "yes"}, None, TypeError, "stitching"),
        ({"levels": 2}, (1, 1, 24, 24), ValueError, "divisible"),
        ({"levels": 1, "padding_fraction": 0.6}, (1, 1, 16, 16), ValueError, "more than a patch"),
        ({"levels": 1}, (1, 16, 16), ValueError, "batch of 2D fields"),
    ],
)
def test_bad_input(kwargs, shape, error, match):
    with pytest.raises(error, match=match):
        MultigridPatching2D(**kwargs).patch(np.zeros(shape or (1, 1, 16, 16)))


# ------------------------------------------------------------------ periodic global coordinates
def _periodic_oracle(spatial, harmonics):
    """sin / cos (2 pi k j / n) per axis, built with meshgrid (independent of the module's loop)."""
    grids = np.meshgrid(*[np.arange(n) / n for n in spatial], indexing="ij")
    return np.stack([f(2 * np.pi * k * g) for g in grids for k in range(1, harmonics + 1)
                     for f in (np.sin, np.cos)])


@pytest.mark.parametrize(("spatial", "harmonics"), [((12,), 1), ((8, 12), 1), ((8, 10), 3), ((6, 8, 10), 2)])
def test_periodic_coordinates_values_and_adjoint(spatial, harmonics):
    rng = np.random.default_rng(4)
    emb = PeriodicCoordinates(harmonics)
    x = rng.standard_normal((3, 2, *spatial))
    z = emb.embed(x)
    assert z.shape == (3, 2 + emb.channels(len(spatial)), *spatial)
    np.testing.assert_array_equal(z[:, :2], x)
    for b in range(3):
        np.testing.assert_allclose(z[b, 2:], _periodic_oracle(spatial, harmonics), atol=1e-13)
    # the linear part x -> [x; 0] and its adjoint: <E x - E 0, g> = <x, E^T g>
    g = rng.standard_normal(z.shape)
    lin = z - emb.embed(np.zeros_like(x))
    assert np.isclose(np.vdot(lin, g), np.vdot(x, emb.embed_adjoint(g)), rtol=1e-12)
    assert emb.embed(x.astype(np.float32)).dtype == np.float32
    # as a processor: embeds the inputs, leaves targets and predictions alone
    y = rng.standard_normal((3, 1, *spatial))
    zx, zy = emb.preprocess(x, y)
    assert zy is y and np.array_equal(zx, z)
    assert emb.postprocess(y, y)[0] is y and emb.postprocess_adjoint(y) is y


@pytest.mark.parametrize(("levels", "fraction", "size"), CASES)
def test_patching_with_embedding_is_patching_the_embedded_field(levels, fraction, size):
    """embedding= embeds whole fields ahead of the cut: each patch and its context windows carry the
    global coordinates of the cells they hold (the circular padding wraps them exactly)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, size, size))
    plain = MultigridPatching2D(levels, fraction)
    mg = MultigridPatching2D(levels, fraction, embedding=PeriodicCoordinates())
    coords = np.broadcast_to(_periodic_oracle((size, size), 1)[None], (2, 4, size, size))
    px, _ = mg.patch(x)
    np.testing.assert_allclose(px, plain.patch(np.concatenate([x, coords], axis=1))[0], atol=1e-13)
    assert px.shape[1] == 7 * (levels + 1)
    # adjoint of the linear part of the affine map x -> P [x; E]
    g = rng.standard_normal(px.shape)
    lin = px - mg.patch(np.zeros_like(x))[0]
    assert np.isclose(np.vdot(lin, g), np.vdot(x, mg.patch_adjoint(g)), rtol=1e-12)
    assert mg.patch_adjoint(g).shape == x.shape
    # the unpatching is unchanged
    np.testing.assert_array_equal(mg.unpatch(px[:, :3]), x)


def test_patches_know_where_they_lie():
    """Two patches of a constant field differ only through the coordinates."""
    mg = MultigridPatching2D(1, 0.125, embedding=PeriodicCoordinates())
    px, _ = mg.patch(np.ones((1, 1, 16, 16)))
    assert not np.allclose(px[0], px[1]) and np.array_equal(px[0, 0], px[1, 0])
    assert np.array_equal(MultigridPatching2D(1, 0.125).patch(np.ones((1, 1, 16, 16)))[0][0],
                          MultigridPatching2D(1, 0.125).patch(np.ones((1, 1, 16, 16)))[0][1])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: PeriodicCoordinates(0), ValueError, "n_harmonics"),
        (lambda: PeriodicCoordinates(True), TypeError, "n_harmonics"),
        (lambda: PeriodicCoordinates(1.5), TypeError, "n_harmonics"),
        (lambda: PeriodicCoordinates().embed(np.zeros((4, 4))), ValueError, "batch of fields"),
        (lambda: PeriodicCoordinates().embed([[[0.0]]]), ValueError, "batch of fields"),
        (lambda: PeriodicCoordinates(2).embed(np.zeros((1, 1, 4, 8))), ValueError, "Nyquist"),
        (lambda: PeriodicCoordinates().embed(np.zeros((1, 1, 8, 8), dtype=int)), TypeError, "floating"),
        (lambda: PeriodicCoordinates().embed_adjoint(np.zeros((1, 4, 8, 8))), ValueError, "embedded"),
        (lambda: MultigridPatching2D(1, embedding=object()), TypeError, "embed"),
    ],
)
def test_periodic_coordinates_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
