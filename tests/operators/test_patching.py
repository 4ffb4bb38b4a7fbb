"""Multi-grid patching: neuraloperator's layout exactly, exact adjoints, processor protocol, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from operators import MultigridPatching2D

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
