"""Bad inputs and extreme values at the public entry points of ``operators`` (and the losses that
train them): each must raise TypeError / ValueError / RuntimeError naming the argument, never an
obscure error from inside a kernel, never a silent wrong answer; relative losses must give the true
value for data near the overflow and underflow thresholds."""

import numpy as np
import pytest

from operators import (
    FNO,
    MGTFNO,
    AntialiasedGELU,
    BandLimit,
    JointSpectralWeight,
    MultigridPatching2D,
    PeriodicCoordinates,
    SpectralConv,
    TwoLevelMGTFNO,
)
from tensorkit.nn import H1Loss, LpLoss, MSELoss

RNG = np.random.default_rng(0)


# ------------------------------------------------------------------------------------ losses
def _scaled_oracle(loss, p, t, s):
    """Value and gradient of ``loss`` at ``(s p, s t)`` from float64 data of order one: a relative loss
    ``||e|| / (||y|| + eps)`` at scale ``s`` is the same loss with ``eps / s`` at scale one, and its
    gradient is ``1 / s`` times that loss's gradient."""
    own = {"p": loss.p} if isinstance(loss, LpLoss) else {"periodic": loss.periodic, "measure": loss.measure}
    twin = type(loss)(d=loss.d, reduction=loss.reduction, eps=loss.eps / s, **own)
    value = twin(p, t)
    return value, twin.backward() / s


LOSSES = [LpLoss(), LpLoss(reduction="mean"), LpLoss(p=3), LpLoss(p=1), H1Loss(), H1Loss(periodic=False)]


@pytest.mark.parametrize("loss", LOSSES, ids=lambda lo: f"{type(lo).__name__}-{getattr(lo, 'p', 'h1')}")
@pytest.mark.parametrize(("dtype", "scale"), [
    (np.float64, 1e200), (np.float64, 1e-200), (np.float64, 1e300), (np.float64, 1e-300),
    (np.float32, 1e30), (np.float32, 1e-30), (np.float32, 1e20), (np.float32, 1e-25),
])
def test_relative_losses_are_true_near_overflow_and_underflow(loss, dtype, scale):
    p = RNG.standard_normal((3, 2, 12, 12))
    t = RNG.standard_normal((3, 2, 12, 12))
    expected, grad_expected = _scaled_oracle(loss, p, t, scale)
    value = loss((p * scale).astype(dtype), (t * scale).astype(dtype))
    grad = loss.backward()
    rtol = 1e-10 if dtype == np.float64 else 2e-5
    assert np.isfinite(value) and value == pytest.approx(expected, rel=rtol)
    assert grad.dtype == dtype
    # compare in the units of order one (the float32 gradient at 1e30 is 1e-30-ish: subnormal-free)
    np.testing.assert_allclose(grad.astype(np.float64) * scale, grad_expected * scale,
                               rtol=100 * rtol, atol=100 * rtol * np.abs(grad_expected * scale).max())


@pytest.mark.parametrize(("dtype", "scale"), [(np.float32, 1e30), (np.float64, 1e150), (np.float32, 1e-30)])
def test_mse_value_is_true_when_its_float_fits(dtype, scale):
    p, t = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5))
    expected = float(np.mean((p - t) ** 2)) * scale * scale
    value = MSELoss()((p * scale).astype(dtype), (t * scale).astype(dtype))
    assert value == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("loss", [LpLoss(), LpLoss(reduction="mean"), H1Loss(), H1Loss(reduction="mean"),
                                  MSELoss()], ids=lambda lo: type(lo).__name__ + lo.reduction)
@pytest.mark.parametrize("shape", [(0, 1, 8, 8), (2, 1, 0, 8)])
def test_losses_refuse_empty_arrays(loss, shape):
    with pytest.raises(ValueError, match="empty"):
        loss(np.zeros(shape), np.zeros(shape))


def test_relative_loss_without_eps_refuses_a_zero_target():
    with pytest.raises(ValueError, match="zero"):
        LpLoss(eps=0.0)(np.ones((2, 1, 8, 8)), np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match="zero"):
        H1Loss(eps=0.0)(np.ones((2, 1, 8, 8)), np.zeros((2, 1, 8, 8)))


@pytest.mark.parametrize("periodic", ["no", 1, (1, 0)])
def test_h1_periodic_must_be_bool(periodic):
    with pytest.raises(TypeError, match="periodic"):
        H1Loss(periodic=periodic)


# ------------------------------------------------------------------------------------ FNO
def _fno(**kw):
    return FNO((4, 4), 1, 1, 4, n_layers=1, random_state=0, **kw)


@pytest.mark.parametrize("grad", [[[1.0]], "g", np.full((2, 1, 16, 16), "a")])
def test_fno_backward_refuses_what_is_not_a_numeric_array(grad):
    model = _fno()
    model(RNG.standard_normal((2, 1, 16, 16)))
    with pytest.raises(TypeError, match="grad_out"):
        model.backward(grad)


@pytest.mark.parametrize(("kw", "size", "wrong"), [
    ({}, 16, (2, 1, 8, 8)), ({"periodic_fold": True}, 17, (2, 1, 16, 16)),
    ({"domain_padding": 0.25}, 16, (1, 1, 16, 16)),
])
def test_fno_backward_names_the_shapes_the_caller_gave(kw, size, wrong):
    """The message shows the caller's gradient and the model's output, not an inner layer's."""
    model = _fno(**kw)
    model(RNG.standard_normal((2, 1, size, size)))
    with pytest.raises(ValueError, match=rf"FNO.backward.*{wrong}.*\(2, 1, {size}, {size}\)"):
        model.backward(np.ones(wrong))


@pytest.mark.parametrize("make", [_fno, lambda: SpectralConv(1, 2, (4, 4), random_state=0),
                                  lambda: SpectralConv(1, 2, (4, 4), factorization="cp",
                                                       implementation="reconstructed", random_state=0)])
def test_empty_batches_are_refused_or_empty(make):
    """An empty batch gives a clear ValueError (FNO) or an empty output (a spectral layer), never an
    error from a reshape inside."""
    layer = make()
    try:
        out = layer(np.zeros((0, 1, 16, 16)))
    except ValueError as exc:
        assert "sample" in str(exc)
    else:
        assert out.shape == (0, 2, 16, 16)
        assert layer.backward(np.zeros((0, 2, 16, 16))).shape == (0, 1, 16, 16)


def test_mgtfno_and_two_level_refuse_an_empty_batch_clearly():
    mg = MGTFNO((4, 4), 1, 1, 4, n_layers=1, levels=1, padding_fraction=0.125, random_state=0)
    with pytest.raises(ValueError, match="sample"):
        mg.predict_fields(np.zeros((0, 1, 16, 16)))
    two = TwoLevelMGTFNO((4, 4), 1, 1, 4, n_layers=1, levels=1, padding_fraction=0.125, random_state=0)
    with pytest.raises(ValueError, match="sample"):
        two(np.zeros((0, 1, 16, 16)))


@pytest.mark.parametrize("bias", [1, "no", None])
def test_spectral_conv_bias_must_be_bool(bias):
    with pytest.raises(TypeError, match="bias"):
        SpectralConv(1, 2, (4, 4), bias=bias)


# ------------------------------------------------------------------------------------ joint weight
@pytest.mark.parametrize(("kw", "error"), [
    ({"weight_modes": 4}, TypeError), ({"weight_modes": ()}, ValueError),
    ({"weight_modes": (4, 3, 2, 2)}, ValueError),
    ({"std": float("nan")}, ValueError), ({"std": -1.0}, ValueError), ({"std": "a"}, TypeError),
    ({"std": True}, TypeError),
])
def test_joint_weight_checks_its_arguments(kw, error):
    args = {"weight_modes": (4, 3), "std": None, **kw}
    with pytest.raises(error, match="weight_modes" if "weight_modes" in kw else "std"):
        JointSpectralWeight(2, 3, 3, args["weight_modes"], "cp", 0.5, std=args["std"])


@pytest.mark.parametrize("factorization", [None, "cp", "tucker", "tt"])
@pytest.mark.parametrize(("layer", "error"), [(5, ValueError), (-1, ValueError), (True, TypeError),
                                              (1.0, TypeError)])
def test_joint_weight_layer_index_is_checked(factorization, layer, error):
    joint = JointSpectralWeight(2, 3, 3, (4, 3), factorization, 0.5 if factorization else 1.0, random_state=0)
    with pytest.raises(error, match="layer"):
        joint.layer_factors(layer)
    grads = [np.zeros_like(f) for f in joint.layer_factors(0)]
    with pytest.raises(error, match="layer"):
        joint.accumulate(layer, grads)


@pytest.mark.parametrize("factorization", [None, "cp", "tucker", "tt"])
def test_joint_weight_accumulate_checks_the_gradients(factorization):
    joint = JointSpectralWeight(2, 3, 3, (4, 3), factorization, 0.5 if factorization else 1.0, random_state=0)
    grads = [np.zeros_like(f) for f in joint.layer_factors(1)]
    with pytest.raises(ValueError, match="grads"):
        joint.accumulate(0, grads[:-1] if len(grads) > 1 else [])
    with pytest.raises(ValueError, match="grads"):
        joint.accumulate(0, [np.zeros(3), *grads[1:]])


# ------------------------------------------------------------------------------------ small layers
def test_periodic_coordinates_adjoint_checks_its_gradient():
    emb = PeriodicCoordinates()
    with pytest.raises(TypeError, match="grad"):
        emb.embed_adjoint([[1.0]])
    with pytest.raises(ValueError, match="grad"):
        emb.embed_adjoint(np.zeros(5))


def test_antialiased_gelu_shifted_checks_bias_gate_and_residual():
    act = AntialiasedGELU(3)
    x = np.ones((2, 1, 8, 8))
    with pytest.raises(ValueError, match="bias"):
        act.forward_shifted(x, bias=np.ones(3))
    with pytest.raises(ValueError, match="residual"):
        act.forward_shifted(x, residual=np.ones((2, 1, 4, 4)))
    with pytest.raises(TypeError, match="gate"):
        act.forward_shifted(x, residual=x, gate=[1.0])
    with pytest.raises(TypeError, match="bias"):
        act.forward_shifted(x, bias=[1.0])


@pytest.mark.parametrize("layer", [BandLimit(3), AntialiasedGELU(3)], ids=lambda m: type(m).__name__)
def test_band_limited_layers_refuse_empty_axes_naming_x(layer):
    with pytest.raises(ValueError, match=r"x .*\(1, 1, 0, 8\)"):
        layer(np.zeros((1, 1, 0, 8)))


# ------------------------------------------------------------------------------------ patching
def _patched(levels=1, fraction=0.125, **kw):
    mg = MultigridPatching2D(levels, fraction, **kw)
    x = RNG.standard_normal((2, 1, 16, 16))
    return mg, x, mg.patch(x)[0]


@pytest.mark.parametrize("call", [
    lambda mg: mg.unpatch(np.zeros((8, 1, 12, 12))),
    lambda mg: mg.patch_adjoint(np.zeros((8, 2, 12, 12))),
    lambda mg: mg.unpatch_adjoint(np.zeros((2, 1, 16, 16))),
    lambda mg: mg.postprocess_adjoint(np.zeros((2, 1, 16, 16))),
])
def test_patching_adjoints_before_their_forward_are_runtime_errors(call):
    with pytest.raises(RuntimeError, match="before"):
        call(MultigridPatching2D(1, 0.125))


@pytest.mark.parametrize(("shape", "error"), [((1, 1, 0, 0), ValueError), ((2, 1, 16, 16), TypeError)])
def test_patch_refuses_empty_grids_and_non_numbers(shape, error):
    x = np.zeros(shape) if error is ValueError else np.full(shape, "a")
    with pytest.raises(error, match="x"):
        MultigridPatching2D(1, 0.125).patch(x)


def test_patch_refuses_targets_of_another_batch():
    mg = MultigridPatching2D(1, 0.125, stitching=False)
    with pytest.raises(ValueError, match="y"):
        mg.patch(RNG.standard_normal((2, 1, 16, 16)), np.zeros((3, 1, 16, 16)))


def test_unpatch_checks_its_input():
    mg, _, patches = _patched()
    with pytest.raises(ValueError, match="out"):
        mg.unpatch(patches[:7, :1])
    with pytest.raises(TypeError, match="out"):
        mg.unpatch([[1.0]])
    with pytest.raises(TypeError, match="stitch"):
        mg.unpatch(patches[:, :1], stitch=1)


@pytest.mark.parametrize(("shape", "stitch"), [
    ((2, 1, 8, 8), True), ((3, 1, 16, 16), True), ((2, 1, 15, 15), True), ((2, 2, 16, 16), True),
    ((8, 1, 3, 3), False),
])
def test_unpatch_adjoint_refuses_a_gradient_of_another_shape(shape, stitch):
    """A wrong-shaped gradient would be cut into wrong patches silently (e.g. (2, 1, 8, 8) into 4x4
    blocks of a 16x16 patching)."""
    mg, _, patches = _patched()
    mg.unpatch(patches[:, :1], stitch=stitch)
    with pytest.raises(ValueError, match="grad"):
        mg.unpatch_adjoint(np.zeros(shape), stitch=stitch)
    with pytest.raises(TypeError, match="grad"):
        mg.unpatch_adjoint([1.0], stitch=stitch)


@pytest.mark.parametrize("shape", [(8, 2, 10, 10), (8, 3, 12, 12), (8, 1, 12, 12), (7, 2, 12, 12),
                                   (4, 2, 12, 12), (8, 12, 12)])
def test_patch_adjoint_refuses_a_gradient_of_another_shape(shape):
    """(8, 3, 12, 12) used to return a wrong (2, 1, 16, 16) answer, (8, 1, 12, 12) an empty one."""
    mg, _, patches = _patched()
    assert patches.shape == (8, 2, 12, 12)
    with pytest.raises(ValueError, match="grad"):
        mg.patch_adjoint(np.zeros(shape))
    with pytest.raises(TypeError, match="grad"):
        mg.patch_adjoint([1.0])


def test_patching_state_must_hold_integers():
    mg = MultigridPatching2D(1, 0.125, shifted_training=True, random_state=0)
    with pytest.raises(ValueError, match="step"):
        mg.load_state_dict({"seed": np.asarray(1), "step": np.asarray(-3)})
    with pytest.raises(ValueError, match="seed"):
        mg.load_state_dict({"seed": np.asarray(1.5), "step": np.asarray(3)})
    with pytest.raises(ValueError, match="seed"):
        mg.load_state_dict({"seed": np.asarray("a"), "step": np.asarray(3)})


def test_two_level_backward_with_a_list_or_wrong_shape_is_clear():
    model = TwoLevelMGTFNO((4, 4), 1, 1, 4, n_layers=1, levels=1, padding_fraction=0.125, random_state=0)
    model(RNG.standard_normal((2, 1, 16, 16)))
    with pytest.raises(TypeError, match="grad"):
        model.backward([1.0])
    with pytest.raises(ValueError, match=r"\(2, 1, 8, 8\)"):
        model.backward(np.zeros((2, 1, 8, 8)))
