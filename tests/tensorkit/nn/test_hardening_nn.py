"""Hardening of tensorkit.nn (issue 10): gradcheck fails on NaN, every backward checks its gradient,
real layers refuse complex data, state loads are atomic, sizes are refused before allocating, and a
catalogue of bad inputs, each giving the policy's exception type with the argument named."""

import re

import numpy as np
import pytest

from operators import SpectralConv
from tensorkit.nn import (
    GELU,
    SGD,
    Adam,
    AdamW,
    Conv2d,
    Conv3d,
    CosineLR,
    GradcheckError,
    H1Loss,
    Linear,
    Lion,
    LpLoss,
    Module,
    MSELoss,
    Normalizer,
    ReLU,
    Residual,
    Sequential,
    StepLR,
    Tanh,
    Trainer,
    gradcheck,
)

RNG = np.random.default_rng(0)


# ----------------------------------------------------------------------------------- gradcheck
class _Scale(Module):
    """y = 2 x with a backward the tests can break."""

    def __init__(self, grad):
        super().__init__()
        self._grad = grad

    def forward(self, x):
        return 2 * self._as_input(x)

    def backward(self, grad_out):
        return self._grad(grad_out)


def test_gradcheck_fails_on_a_nan_gradient():
    layer = _Scale(lambda g: np.full_like(g, np.nan))
    with pytest.raises(GradcheckError, match="NaN or Inf entries in the gradient of input"):
        gradcheck(layer, RNG.standard_normal(4))


def test_gradcheck_fails_on_an_infinite_gradient():
    layer = _Scale(lambda g: np.full_like(g, np.inf))
    with pytest.raises(GradcheckError, match="NaN or Inf"):
        gradcheck(layer, RNG.standard_normal(4))


def test_gradcheck_fails_on_nan_inputs():
    x = RNG.standard_normal(4)
    x[1] = np.nan
    # ReLU's adjoint is finite (the mask is False at NaN); the finite difference is NaN
    with pytest.raises(GradcheckError, match="finite difference"):
        gradcheck(ReLU(), x)


def test_gradcheck_still_passes_a_correct_adjoint_and_fails_a_wrong_one():
    assert gradcheck(_Scale(lambda g: 2 * g), RNG.standard_normal(5))
    with pytest.raises(GradcheckError, match="worst mismatch"):
        gradcheck(_Scale(lambda g: 3 * g), RNG.standard_normal(5))


@pytest.mark.parametrize("eps", [0, 0.0, -1e-6, np.nan, np.inf])
def test_gradcheck_refuses_a_bad_step(eps):
    with pytest.raises(ValueError, match="eps"):
        gradcheck(Tanh(), RNG.standard_normal(3), eps=eps)


# ------------------------------------------------------------------------------ grad_out checks
def _layers():
    return [
        (Linear(3, 2, random_state=0), (4, 3, 5)),
        (Linear(3, 2, axis=-1, random_state=0), (4, 3)),
        (Conv2d(2, 3, 3, random_state=0), (2, 2, 5, 5)),
        (Conv3d(1, 2, 3, random_state=0), (1, 1, 4, 4, 4)),
        (GELU(), (3, 4)),
        (GELU("tanh"), (3, 4)),
        (ReLU(), (3, 4)),
        (Tanh(), (3, 4)),
        (Normalizer(n_channels=2), (3, 2, 4)),
        (Normalizer(n_channels=2).decoder(), (3, 2, 4)),
        (Sequential(Linear(3, 2, random_state=0), GELU()), (4, 3, 2)),
        (Residual(Tanh()), (2, 3)),
        (SpectralConv(2, 3, (4, 4), random_state=0), (2, 2, 8, 8)),
        (SpectralConv(2, 3, 4, factorization="cp", rank=2, random_state=0), (2, 2, 8)),
    ]


@pytest.mark.parametrize("index", range(14))
def test_backward_refuses_a_gradient_of_the_wrong_shape(index):
    layer, shape = _layers()[index]
    y = layer.forward(RNG.standard_normal(shape))
    wrong = RNG.standard_normal((*y.shape[:-1], y.shape[-1] + 1))
    with pytest.raises(ValueError, match=re.escape(str(tuple(y.shape)))) as info:
        layer.backward(wrong)
    assert str(tuple(wrong.shape)) in str(info.value)
    assert "grad_out" in str(info.value)
    # the right shape still works and has the input's shape
    assert layer.backward(np.ones(y.shape)).shape == shape


@pytest.mark.parametrize("index", range(14))
def test_backward_refuses_complex_and_non_array_gradients(index):
    layer, shape = _layers()[index]
    y = layer.forward(RNG.standard_normal(shape))
    with pytest.raises(TypeError, match="grad_out must be real"):
        layer.backward(np.ones(y.shape, dtype=complex))
    with pytest.raises(TypeError, match="grad_out must be"):
        layer.backward(np.ones(y.shape).tolist())


def test_backward_with_a_broadcastable_gradient_is_refused_not_broadcast():
    layer = Tanh()
    layer.forward(RNG.standard_normal((3, 4)))
    with pytest.raises(ValueError, match=r"\(1, 4\)"):
        layer.backward(np.ones((1, 4)))


@pytest.mark.parametrize(
    "layer, shape",
    [
        (Linear(3, 2), (2, 3)),
        (Conv2d(2, 2, 3), (1, 2, 5, 5)),
        (GELU(), (3,)),
        (ReLU(), (3,)),
        (Tanh(), (3,)),
        (Normalizer(n_channels=2), (3, 2)),
        (SpectralConv(1, 1, 4), (1, 1, 8)),
    ],
)
def test_real_layers_refuse_complex_input(layer, shape):
    with pytest.raises(TypeError, match="x must be real"):
        layer.forward(np.ones(shape, dtype=complex))


def test_trainer_refuses_complex_data():
    model = Linear(3, 1, axis=-1, random_state=0)
    trainer = Trainer(model, MSELoss(), Adam(model, lr=1e-2), batch_size=4, progress=False)
    with pytest.raises(TypeError, match="x must be real"):
        trainer.fit(np.ones((8, 3), dtype=complex), np.ones((8, 1)), epochs=1)
    with pytest.raises(TypeError, match="y must be real"):
        trainer.fit(np.ones((8, 3)), np.ones((8, 1), dtype=complex), epochs=1)


def test_losses_refuse_complex_targets():
    with pytest.raises(TypeError, match="target"):
        MSELoss()(np.ones(3), np.ones(3, dtype=complex))


# ----------------------------------------------------------------------------------- state
def test_load_state_dict_refuses_lists_nan_and_leaves_the_model_unchanged():
    model = Linear(2, 2, random_state=0)
    before = model.state_dict()
    state = model.state_dict()
    state["weight"] = state["weight"].tolist()
    with pytest.raises(TypeError, match=r"state\['weight'\] must be a numpy or CuPy array"):
        model.load_state_dict(state)
    state = model.state_dict()
    state["bias"][0] = np.nan
    state["weight"][...] = 7.0
    with pytest.raises(ValueError, match=r"state\['bias'\] holds 1 NaN"):
        model.load_state_dict(state)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(TypeError, match="state must be a dict"):
        model.load_state_dict([("weight", before["weight"])])


def test_optimizer_load_state_dict_refuses_lists_and_nan():
    model = Linear(2, 2, random_state=0)
    opt = Adam(model, lr=1e-3)
    state = opt.state_dict()
    state["exp_avg/weight"] = [[0.0, 0.0], [0.0, 0.0]]
    with pytest.raises(TypeError, match="exp_avg/weight must be a numpy or CuPy array"):
        opt.load_state_dict(state)
    state = opt.state_dict()
    state["exp_avg/weight"][0, 0] = np.inf
    with pytest.raises(ValueError, match="exp_avg/weight holds 1 NaN or Inf"):
        opt.load_state_dict(state)
    state = opt.state_dict()
    state["lr"] = np.asarray(np.nan)
    with pytest.raises(ValueError, match="lr must be finite"):
        opt.load_state_dict(state)


def test_model_load_refuses_a_checkpoint_with_nan_parameters(tmp_path):
    model = Linear(2, 2, random_state=0)
    model.params["weight"][0, 0] = np.nan
    model.save(tmp_path / "m.npz")
    fresh = Linear(2, 2, random_state=1)
    before = fresh.state_dict()
    with pytest.raises(ValueError, match=r"state\['weight'\] holds 1 NaN"):
        fresh.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(fresh.params["weight"], before["weight"])


def _trainer(path, seed=0):
    model = Sequential(
        Linear(3, 4, axis=-1, random_state=seed), Tanh(), Linear(4, 1, axis=-1, random_state=seed)
    )
    opt = Adam(model, lr=1e-2)
    return Trainer(model, MSELoss(), opt, batch_size=4, scheduler=StepLR(opt, 2), checkpoint=path,
                   progress=False, random_state=seed)


def _snapshot(trainer):
    return (
        trainer.model.state_dict(),
        trainer.optimizer.state_dict(),
        trainer.scheduler.state_dict(),
        trainer.rng.bit_generator.state,
        trainer.epoch,
        {k: list(v) for k, v in trainer.history.items()},
    )


def _assert_same(a, b):
    for x, y in zip(a[:3], b[:3], strict=True):
        assert set(x) == set(y)
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])
    assert a[3] == b[3] and a[4] == b[4]
    assert a[5].keys() == b[5].keys()
    for k in a[5]:
        np.testing.assert_array_equal(a[5][k], b[5][k])


def _corrupt(path, out, **changes):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    for key, value in changes.items():
        key = key.replace("__", "/")
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    np.savez(out, **arrays)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"rng_state": np.asarray("not json")}, "'rng_state' is not a valid PCG64"),
        ({"rng_state": np.asarray('{"bit_generator": "MT19937"}')}, "rng_state"),
        ({"rng_state": None}, "no 'rng_state' key"),
        ({"epoch": None}, "no 'epoch' key"),
        ({"epoch": np.asarray(-1)}, "'epoch' must be a non-negative integer"),
        ({"epoch": np.asarray(1.5)}, "'epoch' must be a non-negative integer"),
        ({"param__2.bias": np.asarray([np.nan])}, r"state\['2.bias'\] holds 1 NaN"),
        ({"optim__exp_avg__0.weight": np.full((4, 3), np.nan)}, "exp_avg/0.weight holds 12 NaN"),
        ({"optim__step_count": np.asarray(-3)}, "step_count must be >= 0"),
        ({"sched__epoch": np.asarray("x")}, "scheduler state epoch"),
        ({"history__train_loss": np.zeros((2, 2))}, "history/train_loss"),
        ({"param__0.weight": np.zeros((5, 3))}, "another architecture"),
    ],
)
def test_load_checkpoint_is_atomic(tmp_path, changes, match):
    """A corrupted checkpoint leaves model, optimizer, scheduler, generator, epoch and history."""
    x = RNG.standard_normal((16, 3))
    y = x.sum(axis=1, keepdims=True)
    good = tmp_path / "good.npz"
    first = _trainer(good)
    first.fit(x, y, epochs=3)
    bad = tmp_path / "bad.npz"
    _corrupt(good, bad, **changes)
    other = _trainer(None, seed=5)
    other.fit(x, y, epochs=1)  # moments, step counts and history that must survive
    before = _snapshot(other)
    with pytest.raises(ValueError, match=match) as info:
        other.load_checkpoint(bad)
    assert "bad.npz" in str(info.value)
    _assert_same(before, _snapshot(other))
    other.load_checkpoint(good)  # the good one still loads
    _assert_same(_snapshot(first), _snapshot(other))


# ----------------------------------------------------------------------------------- sizes
def test_linear_refuses_a_weight_that_cannot_fit():
    match = r"Linear's weight of shape \(1000000, 1000000\) needs .* GiB"
    with pytest.raises(MemoryError, match=match) as info:
        Linear(10**6, 10**6)
    assert "bottleneck" in str(info.value)


def test_conv_refuses_a_kernel_that_cannot_fit():
    with pytest.raises(MemoryError, match="Conv2d's kernel .*FactorizedConv"):
        Conv2d(10**5, 10**5, 31)


@pytest.mark.parametrize("kwargs, match", [
    ({}, "dense weight .*factorization="),
    ({"factorization": "tucker", "rank": 0.1}, "weight factors"),
    ({"factorization": "cp", "rank": 0.5, "implementation": "reconstructed"}, "dense weight"),
])
def test_spectral_conv_refuses_weights_that_cannot_fit(kwargs, match):
    with pytest.raises(MemoryError, match=match):
        SpectralConv(2, 2, (10**5, 10**5), **kwargs)


def test_spectral_conv_backward_wrong_shape_used_to_give_a_wrong_gradient():
    layer = SpectralConv(2, 2, (4, 4), random_state=0)
    layer(RNG.standard_normal((3, 2, 8, 8)))
    # (1, 2, 8, 8) broadcast silently before; now it names both shapes
    with pytest.raises(ValueError, match=r"\(1, 2, 8, 8\).*\(3, 2, 8, 8\)"):
        layer.backward(np.ones((1, 2, 8, 8)))


# ------------------------------------------------------------------------------- catalogue
def _fitted_trainer():
    model = Linear(2, 1, axis=-1, random_state=0)
    return Trainer(model, MSELoss(), Adam(model, lr=1e-2), batch_size=4, progress=False)


def _unfit():
    norm = Normalizer()
    return norm.encode(np.ones((2, 2)))


def _backward_before_forward(layer):
    return layer.backward(np.ones((1, 1)))


_M = Linear(2, 2, random_state=0)
_B = np.ones(2)
_X4 = np.ones((4, 2))

# (call, exception type, text the message must contain: the argument's name)
CATALOGUE = [
    # layers
    (lambda: Linear(0, 2), ValueError, "in_features"),
    (lambda: Linear(2, -1), ValueError, "out_features"),
    (lambda: Linear(2.0, 2), TypeError, "in_features"),
    (lambda: Linear(True, 2), TypeError, "in_features"),
    (lambda: Linear(2, 2, axis=1.5), TypeError, "axis"),
    (lambda: Linear(2, 2, dtype=np.int32), TypeError, "dtype"),
    (lambda: Linear(2, 2, dtype="float16"), TypeError, "dtype"),
    (lambda: Linear(2, 2, random_state=True), TypeError, "random_state"),
    (lambda: Linear(2, 2, random_state=-1), ValueError, "random_state"),
    (lambda: Linear(2, 2, random_state="seed"), TypeError, "random_state"),
    (lambda: Linear(2, 3)(np.ones((2, 4))), ValueError, "channels"),
    (lambda: Linear(2, 3)([[1.0, 2.0]]), TypeError, "x must be"),
    (lambda: Linear(2, 3)(np.array(["a", "b"])), TypeError, "x must hold numbers"),
    (lambda: Linear(2, 3, axis=4)(np.ones((2, 2))), ValueError, "axis"),
    (lambda: Linear(2, 2).backward(np.ones((1, 2))), RuntimeError, "before forward"),
    (lambda: Conv2d(0, 2, 3), ValueError, "in_channels"),
    (lambda: Conv2d(2, 2, 0), ValueError, "kernel_size"),
    (lambda: Conv2d(2, 2, (3, 3, 3)), ValueError, "kernel_size"),
    (lambda: Conv2d(2, 2, 3, stride=0), ValueError, "stride"),
    (lambda: Conv2d(2, 2, 3, padding=-1), ValueError, "padding"),
    (lambda: Conv2d(2, 2, 4), ValueError, "kernel_size"),
    (lambda: Conv2d(2, 2, 3, padding="valid"), ValueError, "padding"),
    (lambda: Conv2d(2, 2, 3, padding_mode="reflect"), ValueError, "padding_mode"),
    (lambda: Conv2d(2, 2, 3)(np.ones((1, 3, 5, 5))), ValueError, "input of shape"),
    (lambda: Conv2d(2, 2, 3)(np.ones((1, 2, 5, 5), dtype=complex)), TypeError, "x must be real"),
    (lambda: Conv2d(2, 2, 5, padding=0)(np.ones((1, 2, 3, 3))), ValueError, "kernel"),
    (lambda: Conv3d(1, 1, 3)(np.ones((1, 1, 4, 4))), ValueError, "input of shape"),
    (lambda: GELU("exact"), ValueError, "approximate"),
    (lambda: GELU()(np.ones(3, dtype=complex)), TypeError, "x must be real"),
    (lambda: _backward_before_forward(GELU()), RuntimeError, "before forward"),
    (lambda: _backward_before_forward(ReLU()), RuntimeError, "before forward"),
    (lambda: _backward_before_forward(Tanh()), RuntimeError, "before forward"),
    (lambda: Sequential(), ValueError, "Sequential"),
    (lambda: Sequential(Linear(2, 2), "relu"), TypeError, "module"),
    (lambda: Residual(Linear(2, 3))(np.ones((1, 2))), ValueError, "shortcut"),
    (lambda: Normalizer(channel_axis=1.0), TypeError, "channel_axis"),
    (lambda: Normalizer(eps=-1.0), ValueError, "eps"),
    (lambda: Normalizer(n_channels=0), ValueError, "n_channels"),
    (_unfit, RuntimeError, "fit"),
    (lambda: Normalizer(n_channels=3).encode(np.ones((2, 2))), ValueError, "channels"),
    (lambda: Normalizer(channel_axis=5).fit(np.ones((2, 2))), ValueError, "channel_axis"),
    (lambda: SpectralConv(2, 2, 0), ValueError, "n_modes"),
    (lambda: SpectralConv(2, 2, (4, 4, 4, 4)), ValueError, "n_modes"),
    (lambda: SpectralConv(2, 2, 4, factorization="svd"), ValueError, "factorization"),
    (lambda: SpectralConv(2, 2, 4, fft_norm="none"), ValueError, "fft_norm"),
    (lambda: SpectralConv(2, 2, 4)(np.ones((1, 3, 8))), ValueError, "x of shape"),
    (lambda: _M.load_state_dict({"weight": np.ones((2, 2))}), ValueError, "missing ['bias']"),
    (lambda: _M.load_state_dict({"weight": np.ones((3, 2)), "bias": _B}), ValueError, "state['weight']"),
    (lambda: _M.load_state_dict({"weight": np.ones((2, 2), complex), "bias": _B}), ValueError, "complex"),
    (lambda: _M.load_state_dict({"weight": np.ones((2, 2)), "bias": [1.0, 2.0]}), TypeError, "state['bias']"),
    (lambda: _M.load_state_dict({"weight": np.full((2, 2), np.inf), "bias": np.ones(2)}), ValueError,
     "state['weight']"),
    (lambda: _M.to("tpu"), ValueError, "device"),
    (lambda: _M.add_parameter("a.b", np.ones(2)), ValueError, "name"),
    (lambda: _M.add_parameter("w2", np.array(["x"])), TypeError, "parameter 'w2'"),
    (lambda: _M.add_module("child", Tanh), TypeError, "module 'child'"),
    # losses
    (lambda: MSELoss(reduction="avg"), ValueError, "reduction"),
    (lambda: MSELoss()([1.0], np.ones(1)), TypeError, "pred"),
    (lambda: MSELoss()(np.ones(1), [1.0]), TypeError, "target"),
    (lambda: MSELoss()(np.ones(2), np.ones(3)), ValueError, "pred shape"),
    (lambda: MSELoss()(np.ones(2, dtype=int), np.ones(2)), TypeError, "pred"),
    (lambda: MSELoss()(np.ones(2, dtype=complex), np.ones(2)), TypeError, "pred"),
    (lambda: MSELoss().backward(), RuntimeError, "before forward"),
    (lambda: LpLoss(d=0), ValueError, "d"),
    (lambda: LpLoss(p=0.5), ValueError, "p"),
    (lambda: LpLoss(p=np.nan), ValueError, "p"),
    (lambda: LpLoss(eps=-1), ValueError, "eps"),
    (lambda: LpLoss(d=2)(np.ones(3), np.ones(3)), ValueError, "d=2"),
    (lambda: H1Loss(d=4), ValueError, "d"),
    (lambda: H1Loss(measure=0.0), ValueError, "measure"),
    (lambda: H1Loss(measure=(1.0, 1.0, 1.0)), ValueError, "measure"),
    (lambda: H1Loss(d=1)(np.ones((1, 2)), np.ones((1, 2))), ValueError, "points"),
    # optimizers and schedulers
    (lambda: SGD("model", lr=0.1), TypeError, "model"),
    (lambda: SGD(_M, lr=-0.1), ValueError, "lr"),
    (lambda: SGD(_M, lr=np.nan), ValueError, "lr"),
    (lambda: SGD(_M, lr=True), TypeError, "lr"),
    (lambda: SGD(_M, lr=0.1, momentum=-1), ValueError, "momentum"),
    (lambda: SGD(_M, lr=0.1, nesterov=True), ValueError, "nesterov"),
    (lambda: Adam(_M, lr=0.1, betas=(0.9, 1.0)), ValueError, "betas[1]"),
    (lambda: Adam(_M, lr=0.1, betas=0.9), TypeError, "betas"),
    (lambda: Adam(_M, lr=0.1, eps=-1e-8), ValueError, "eps"),
    (lambda: AdamW(_M, lr=0.1, weight_decay=-1), ValueError, "weight_decay"),
    (lambda: Lion(_M, lr=0.1, betas=(2, 0.9)), ValueError, "betas[0]"),
    (lambda: StepLR("opt", 2), TypeError, "optimizer"),
    (lambda: StepLR(Adam(_M, lr=0.1), 0), ValueError, "step_size"),
    (lambda: StepLR(Adam(_M, lr=0.1), 2, gamma=-0.5), ValueError, "gamma"),
    (lambda: CosineLR(Adam(_M, lr=0.1), 0), ValueError, "t_max"),
    (lambda: Adam(_M, lr=0.1).load_state_dict({"lr": np.asarray(0.1)}), ValueError, "missing"),
    (lambda: Adam(_M, lr=0.1).load_state_dict([1, 2]), TypeError, "optimizer state"),
    (lambda: StepLR(Adam(_M, lr=0.1), 2).load_state_dict({"epoch": 1}), ValueError, "base_lr"),
    (lambda: StepLR(Adam(_M, lr=0.1), 2).load_state_dict({"epoch": -1, "base_lr": 0.1}), ValueError,
     "scheduler state epoch"),
    # trainer
    (lambda: Trainer("m", MSELoss(), Adam(_M, lr=0.1), batch_size=2), TypeError, "model"),
    (lambda: Trainer(_M, "mse", Adam(_M, lr=0.1), batch_size=2), TypeError, "loss_fn"),
    (lambda: Trainer(_M, MSELoss(), Adam(Linear(2, 2), lr=0.1), batch_size=2), ValueError, "optimizer"),
    (lambda: Trainer(_M, MSELoss(), Adam(_M, lr=0.1), batch_size=0), ValueError, "batch_size"),
    (lambda: Trainer(_M, MSELoss(), Adam(_M, lr=0.1), batch_size=True), TypeError, "batch_size"),
    (lambda: Trainer(_M, MSELoss(), Adam(_M, lr=0.1), batch_size=2, checkpoint_every=0), ValueError,
     "checkpoint_every"),
    (lambda: Trainer(_M, MSELoss(), Adam(_M, lr=0.1), batch_size=2, n_threads=True), TypeError, "n_threads"),
    (lambda: Trainer(_M, MSELoss(), Adam(_M, lr=0.1), batch_size=2, processor=3), TypeError, "processor"),
    (lambda: _fitted_trainer().fit(np.ones((4, 2)), np.ones((4, 1)), epochs=-1), ValueError, "epochs"),
    (lambda: _fitted_trainer().fit(np.ones((4, 2)), np.ones((4, 1))), TypeError, "epochs"),
    (lambda: _fitted_trainer().fit(np.ones((4, 2)), np.ones((5, 1)), epochs=1), ValueError, "samples"),
    (lambda: _fitted_trainer().fit(np.ones((4, 2)), [[1.0]] * 4, epochs=1), TypeError, "y must be"),
    (lambda: _fitted_trainer().fit(np.ones((0, 2)), np.ones((0, 1)), epochs=1), ValueError, "x must hold"),
    (lambda: _fitted_trainer().fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, resume=True), ValueError,
     "checkpoint"),
    (lambda: _fitted_trainer().fit(_X4, np.ones((4, 1)), epochs=1, metric=3), TypeError, "metric"),
    (lambda: _fitted_trainer().fit(np.ones((4, 2)), epochs=1), TypeError, "y is required"),
    (lambda: _fitted_trainer().predict(np.ones((4, 2)), batch_size=0), ValueError, "batch_size"),
    (lambda: _fitted_trainer().predict(np.ones((4, 2), dtype=complex)), TypeError, "x must be real"),
    (lambda: _fitted_trainer().load_checkpoint("/nonexistent/ckpt.npz"), ValueError, "ckpt.npz"),
    # gradcheck
    (lambda: gradcheck("layer", np.ones(2)), TypeError, "module"),
    (lambda: gradcheck(Tanh(), [1.0, 2.0]), TypeError, "inputs"),
    (lambda: gradcheck(Tanh(), np.ones(2, dtype=int)), TypeError, "inputs"),
    (lambda: gradcheck(Tanh(), np.ones(2), eps=0), ValueError, "eps"),
    (lambda: gradcheck(Tanh(), np.ones(2), rtol=-1), ValueError, "rtol"),
    (lambda: gradcheck(Tanh(), np.ones(2), atol=np.nan), ValueError, "atol"),
    (lambda: gradcheck(Tanh(), np.ones(2), max_entries=0), ValueError, "max_entries"),
    (lambda: gradcheck(Tanh(), np.ones(2), max_entries=2.5), TypeError, "max_entries"),
    (lambda: gradcheck(MSELoss(), np.ones(2)), ValueError, "inputs"),
    (lambda: gradcheck(MSELoss(), ([1.0], np.ones(1))), TypeError, "pred"),
]


@pytest.mark.parametrize("call, exc, text", CATALOGUE, ids=[f"case{i}" for i in range(len(CATALOGUE))])
def test_bad_input_catalogue(call, exc, text):
    with pytest.raises(exc) as info:
        call()
    assert text in str(info.value), f"{text!r} not in {str(info.value)!r}"


def test_catalogue_size():
    assert len(CATALOGUE) >= 80
