"""Losses and the Normalizer: gradients by finite differences, values against neuraloperator's."""

import numpy as np
import pytest

from tensorkit.nn import H1Loss, Linear, LpLoss, MSELoss, Normalizer, Sequential, gradcheck


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 2, 8, 6)), rng.standard_normal((3, 2, 8, 6))


LOSSES = {
    "mse": MSELoss,
    "mse_sum": lambda: MSELoss("sum"),
    "lp": LpLoss,
    "lp_mean_p3": lambda: LpLoss(p=3, reduction="mean"),
    "lp_d1_p1": lambda: LpLoss(d=1, p=1),
    "h1": H1Loss,
    "h1_nonperiodic": lambda: H1Loss(periodic=False, measure=(1.0, 2.0)),
    "h1_d1_mean": lambda: H1Loss(d=1, reduction="mean"),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradcheck_every_loss(name, pair):
    assert gradcheck(LOSSES[name](), pair)


def test_lp_loss_closed_form(pair):
    pred, target = pair
    ref = sum(
        np.linalg.norm(pred[b, c] - target[b, c]) / (np.linalg.norm(target[b, c]) + 1e-8)
        for b in range(3)
        for c in range(2)
    )
    assert LpLoss()(pred, target) == pytest.approx(ref, rel=1e-12)
    assert LpLoss(reduction="mean")(pred, target) == pytest.approx(ref / 6, rel=1e-12)
    assert MSELoss()(pred, target) == pytest.approx(np.mean((pred - target) ** 2), rel=1e-12)


def test_zero_error_has_zero_gradient(pair):
    _, target = pair
    for loss in (LpLoss(), LpLoss(p=3), H1Loss()):
        assert loss(target.copy(), target) == 0
        assert not np.any(loss.backward())


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_against_neuraloperator(reduction, pair):
    torch = pytest.importorskip("torch")
    losses = pytest.importorskip("neuralop.losses.data_losses")
    pred, target = pair
    tp, tt = torch.tensor(pred), torch.tensor(target)
    assert LpLoss(d=2, p=2, reduction=reduction)(pred, target) == pytest.approx(
        float(losses.LpLoss(d=2, p=2, reduction=reduction)(tp, tt)), rel=1e-12
    )
    assert LpLoss(d=2, p=3, reduction=reduction)(pred, target) == pytest.approx(
        float(losses.LpLoss(d=2, p=3, reduction=reduction)(tp, tt)), rel=1e-12
    )
    for periodic in (True, False):
        ours = H1Loss(d=2, reduction=reduction, periodic=periodic, measure=[1.0, 3.0])(pred, target)
        theirs = losses.H1Loss(
            d=2, reduction=reduction, periodic_in_x=periodic, periodic_in_y=periodic, measure=[1.0, 3.0]
        )(tp, tt)
        assert ours == pytest.approx(float(theirs), rel=1e-12)


def test_gradients_against_torch_autograd(pair):
    torch = pytest.importorskip("torch")
    losses = pytest.importorskip("neuralop.losses.data_losses")
    pred, target = pair
    cases = [
        (LpLoss(), losses.LpLoss(d=2, p=2)),
        (LpLoss(p=3, reduction="mean"), losses.LpLoss(d=2, p=3, reduction="mean")),
        (H1Loss(periodic=False), losses.H1Loss(d=2, periodic_in_x=False, periodic_in_y=False)),
    ]
    for ours, theirs in cases:
        tp = torch.tensor(pred, requires_grad=True)
        theirs(tp, torch.tensor(target)).backward()
        ours(pred, target)
        np.testing.assert_allclose(ours.backward(), tp.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_normalizer_roundtrip_and_gradients(pair):
    x, _ = pair
    x = 3.0 * x + np.array([1.0, -2.0])[None, :, None, None]
    norm = Normalizer().fit(x)
    z = norm.encode(x)
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1, rtol=1e-6)
    np.testing.assert_allclose(norm.decode(z), x, rtol=1e-12)
    assert gradcheck(norm, x)
    assert gradcheck(norm.decoder(), z)
    model = Sequential(norm, Linear(2, 2, random_state=0), norm.decoder())
    assert model.num_parameters() == 6
    assert set(model.state_dict()) == {"0.mean", "0.std", "1.weight", "1.bias"}
    fresh = Normalizer()
    fresh.load_state_dict(norm.state_dict())
    np.testing.assert_array_equal(fresh.encode(x), z)
    # inside a model: registered by n_channels, then loaded with the model
    inner = Normalizer(n_channels=2)
    np.testing.assert_array_equal(inner.encode(x), x / (1 + 1e-7))
    copy = Sequential(inner, Linear(2, 2, random_state=5), inner.decoder())
    copy.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(copy(x), model(x))


def test_float32_losses(pair):
    pred, target = (a.astype(np.float32) for a in pair)
    for loss in (MSELoss(), LpLoss(), H1Loss()):
        loss(pred, target)
        assert loss.backward().dtype == np.float32


def test_bad_input(pair):
    pred, target = pair
    with pytest.raises(ValueError, match="shape"):
        LpLoss()(pred, target[:2])
    with pytest.raises(ValueError, match="reduction"):
        LpLoss(reduction="max")
    with pytest.raises(ValueError, match="p must be"):
        LpLoss(p=0.5)
    with pytest.raises(ValueError, match="at least 4 points"):
        H1Loss(periodic=False)(pred[..., :3], target[..., :3])
    with pytest.raises(RuntimeError, match="before forward"):
        MSELoss().backward()
    with pytest.raises(RuntimeError, match="not fitted"):
        Normalizer().encode(pred)
    with pytest.raises(ValueError, match="fitted on 2 channels"):
        Normalizer().fit(pred).encode(pred[:, :1])


@pytest.mark.parametrize(("scale", "dtype"), [(1.0, np.float64), (1e300, np.float64), (1e-300, np.float64),
                                              (1e36, np.float32), (1e-30, np.float32)])
def test_normalizer_statistics_near_overflow_and_underflow(scale, dtype):
    """The fitted mean and std are numpy's on unit-scale data, times the scale: never inf or 0."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 3, 5, 5)) * np.array([1.0, 4.0, 0.0])[None, :, None, None] + 2.0
    norm = Normalizer(dtype=dtype).fit((x * scale).astype(dtype))
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(norm.buffers["mean"] / scale, x.mean(axis=(0, 2, 3)), rtol=rtol)
    np.testing.assert_allclose(norm.buffers["std"] / scale, x.std(axis=(0, 2, 3)), rtol=rtol, atol=1e-300)


def test_normalizer_refuses_non_finite_data():
    x = np.ones((4, 2, 3))
    x[1, 0, 2] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        Normalizer().fit(x)
