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


def _assert_adjoints(mg, x, px, stitch, rng):
    """<P x, g> = <x, P^T g> for the patching just done (px = P x), and <U o, g> = <o, U^T g>."""
    g = rng.standard_normal(px.shape)
    assert np.isclose(np.vdot(px, g), np.vdot(x, mg.patch_adjoint(g)), rtol=1e-12)
    out = rng.standard_normal((px.shape[0], 2, *px.shape[2:]))
    u = mg.unpatch(out, stitch=stitch)
    gu = rng.standard_normal(u.shape)
    assert np.isclose(np.vdot(u, gu), np.vdot(out, mg.unpatch_adjoint(gu, stitch=stitch)), rtol=1e-12)


@pytest.mark.parametrize(("levels", "fraction", "size"), CASES)
@pytest.mark.parametrize(("stitch", "overlap", "restriction"), [
    (True, False, "injection"), (False, False, "injection"), (True, True, "injection"),
    (True, False, "full_weighting"), (False, False, "full_weighting"), (True, True, "full_weighting"),
])
def test_adjoints(levels, fraction, size, stitch, overlap, restriction):
    """<P x, g> = <x, P^T g> and <U o, g> = <o, U^T g> for random x, o, g."""
    rng = np.random.default_rng(1)
    mg = MultigridPatching2D(levels, fraction, restriction=restriction)
    x = rng.standard_normal((2, 3, size, size))
    px, _ = mg.patch(x, overlap=overlap)
    _assert_adjoints(mg, x, px, stitch, rng)


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
        ({"levels": 1, "overlap": 1}, None, TypeError, "overlap"),
        ({"levels": 1, "restriction": "average"}, None, ValueError, "restriction"),
    ],
)
def test_bad_input(kwargs, shape, error, match):
    with pytest.raises(error, match=match):
        MultigridPatching2D(**kwargs).patch(np.zeros(shape or (1, 1, 16, 16)))


def test_overlap_bad_use():
    mg = MultigridPatching2D(1, 0.125, stitching=False)
    x = np.zeros((1, 1, 16, 16))
    with pytest.raises(ValueError, match="stitching=False"):
        mg.patch(x, x, overlap=True)
    px, _ = mg.patch(x, overlap=True)
    with pytest.raises(ValueError, match="stitch=True"):
        mg.unpatch(px, stitch=False)
    with pytest.raises(TypeError, match="overlap"):
        mg.patch(x, overlap="yes")


# ------------------------------------------------------------------ anti-aliased context
def _full_weighting_oracle(c):
    """One multigrid full-weighting restriction of (B, C, n, n) to (B, C, n/2, n/2), by the formula
    (c[2k-1] + 2 c[2k] + c[2k+1]) / 4 per axis, periodic."""
    for axis in (2, 3):
        n = c.shape[axis]
        k = np.arange(n // 2)
        c = (np.take(c, (2 * k - 1) % n, axis) + 2 * np.take(c, 2 * k, axis)
             + np.take(c, (2 * k + 1) % n, axis)) / 4
    return c


@pytest.mark.parametrize(("levels", "fraction", "size"), CASES)
def test_full_weighting_context_is_the_restricted_field(levels, fraction, size):
    """Level l of the context = injection patching of a field whose every 2^l-th node holds the l-fold
    full-weighting restriction (and the level-0 patch is unchanged)."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, size, size))
    fw = MultigridPatching2D(levels, fraction, restriction="full_weighting").patch(x)[0]
    plain = MultigridPatching2D(levels, fraction)
    np.testing.assert_array_equal(fw[:, :3], plain.patch(x)[0][:, :3])
    coarse = x
    for level in range(1, levels + 1):
        coarse = _full_weighting_oracle(coarse)
        sub = 2**level
        carrier = np.zeros_like(x)
        carrier[:, :, ::sub, ::sub] = coarse
        ref = plain.patch(carrier)[0][:, 3 * level:3 * (level + 1)]
        np.testing.assert_allclose(fw[:, 3 * level:3 * (level + 1)], ref, atol=1e-13)


def test_full_weighting_removes_the_aliased_checkerboard():
    """The grid's Nyquist mode (-1)^(i+j) aliases to a constant under injection; full weighting
    removes it (its symbol cos^2(pi f) vanishes there)."""
    i = np.arange(16)
    x = ((-1.0) ** (i[:, None] + i[None, :]))[None, None]
    inj = MultigridPatching2D(1, 0.125).patch(x)[0][:, 1]
    fw = MultigridPatching2D(1, 0.125, restriction="full_weighting").patch(x)[0][:, 1]
    np.testing.assert_array_equal(inj, np.ones_like(inj))
    np.testing.assert_allclose(fw, 0.0, atol=1e-15)


# ------------------------------------------------------------------ overlap tiling
def _overlap_oracle(mg_plain, model, x, patch):
    """Blend of the 4 tilings shifted by half a patch, each a plain patch -> model -> stitch on the
    rolled field, weighted by the tent (min(d, P - 1 - d) + 1/2) / (P / 2) of each node's offset d
    within its core."""
    size = x.shape[-1]
    out = 0.0
    for s1 in (0, patch // 2):
        for s2 in (0, patch // 2):
            rolled = np.roll(x, (-s1, -s2), axis=(2, 3))
            pred = np.roll(mg_plain.unpatch(model(mg_plain.patch(rolled)[0])), (s1, s2), axis=(2, 3))
            d1, d2 = (np.arange(size) - s1) % patch, (np.arange(size) - s2) % patch
            t1 = (np.minimum(d1, patch - 1 - d1) + 0.5) / (patch / 2)
            t2 = (np.minimum(d2, patch - 1 - d2) + 0.5) / (patch / 2)
            out = out + np.outer(t1, t2) * pred
    return out


@pytest.mark.parametrize(("levels", "fraction", "size"), CASES)
def test_overlap_blends_shifted_tilings(levels, fraction, size):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, size, size))
    mg = MultigridPatching2D(levels, fraction, overlap=True)
    plain = MultigridPatching2D(levels, fraction)
    # a "model" that depends on where a value lies in its patch, so that the tilings disagree
    ramp = np.linspace(0.5, 2.0, size // 2**levels + 2 * round(fraction * size))

    def model(p):
        return p[:, :2] * ramp[:, None] + p[:, -1:] ** 2

    mg.eval()
    pred, _ = mg.postprocess(model(mg.preprocess(x)[0]))
    np.testing.assert_allclose(pred, _overlap_oracle(plain, model, x, size // 2**levels), atol=1e-12)
    # a partition of unity: the identity "model" gives the field back
    np.testing.assert_allclose(mg.unpatch(mg.patch(x, overlap=True)[0][:, :3]), x, atol=1e-14)
    # training keeps one tiling
    mg.train()
    assert mg.preprocess(x)[0].shape[0] == 2 * 4**levels


# ------------------------------------------------------------------ shifted tilings in training
@pytest.mark.parametrize(("levels", "fraction", "size"), CASES)
@pytest.mark.parametrize("stitch", [True, False])
def test_shifted_tiling_is_the_tiling_of_the_rolled_field(levels, fraction, size, stitch):
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((2, 3, size, size)), rng.standard_normal((2, 1, size, size))
    shift = (3, size // 2**levels - 1)
    mg = MultigridPatching2D(levels, fraction, stitching=stitch)
    px, py = mg.patch(x, y, shift=shift)
    ref_x, ref_y = MultigridPatching2D(levels, fraction, stitching=stitch).patch(
        np.roll(x, (-3, -shift[1]), axis=(2, 3)), np.roll(y, (-3, -shift[1]), axis=(2, 3)))
    np.testing.assert_array_equal(px, ref_x)
    np.testing.assert_array_equal(py, ref_y if not stitch else y)
    if stitch:
        np.testing.assert_array_equal(mg.unpatch(px[:, :3]), x)
    # adjoints of the shifted patching
    _assert_adjoints(mg, x, px, stitch, rng)


def test_shifted_training_draws_reproducible_shifts_and_resumes():
    x = np.random.default_rng(9).standard_normal((2, 1, 16, 16))
    a = MultigridPatching2D(1, 0.125, shifted_training=True, random_state=0)
    first = [a.preprocess(x)[0] for _ in range(3)]
    assert not all(np.array_equal(first[0], f) for f in first[1:])  # the tilings move
    b = MultigridPatching2D(1, 0.125, shifted_training=True, random_state=0)
    b.preprocess(x)
    c = MultigridPatching2D(1, 0.125, shifted_training=True, random_state=1)
    c.load_state_dict(b.state_dict())
    for f in first[1:]:
        np.testing.assert_array_equal(c.preprocess(x)[0], f)
    # the stitched output lands where its input came from; evaluation keeps the plain tiling
    np.testing.assert_array_equal(a.postprocess(a.preprocess(x)[0][:, :1])[0], x)
    a.eval()
    np.testing.assert_array_equal(a.preprocess(x)[0], MultigridPatching2D(1, 0.125).patch(x)[0])
    assert MultigridPatching2D(1, 0.125).state_dict() == {}
    with pytest.raises(ValueError, match="keys"):
        a.load_state_dict({})
    with pytest.raises(TypeError, match="shift"):
        a.patch(x, shift=3)
    with pytest.raises(ValueError, match="overlap"):
        a.patch(x, overlap=True, shift=(1, 0))


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
        (lambda: PeriodicCoordinates().embed([[[0.0]]]), TypeError, "numpy or CuPy array"),
        (lambda: PeriodicCoordinates(2).embed(np.zeros((1, 1, 4, 8))), ValueError, "Nyquist"),
        (lambda: PeriodicCoordinates().embed(np.zeros((1, 1, 8, 8), dtype=int)), TypeError, "floating"),
        (lambda: PeriodicCoordinates().embed_adjoint(np.zeros((1, 4, 8, 8))), ValueError, "embedded"),
        (lambda: MultigridPatching2D(1, embedding=object()), TypeError, "embed"),
    ],
)
def test_periodic_coordinates_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
