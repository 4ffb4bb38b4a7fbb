"""tensorkit.nn layers and losses, forward and backward, on the device against the numpy result.

Each model is built twice on the CPU from the same seed: one stays there as the oracle, the other
moves with ``.to(device)``; outputs, input gradients and every parameter gradient are compared.
"""

import pytest

from tensorkit import nn


def forward_backward(model, x, grad_out):
    model.zero_grad()
    y = model.forward(x)
    dx = model.backward(grad_out)
    return y, dx, model.gradients()


def check_module(build, x_shape, device, dtype, random_array, assert_parity, *, factor=100):
    oracle_model = build(dtype)
    model = build(dtype).to(device.name)
    x = random_array(*x_shape, seed=1)
    y_oracle = oracle_model.forward(x)
    g = random_array(*y_oracle.shape, seed=2)
    y0, dx0, grads0 = forward_backward(oracle_model, x, g)
    y, dx, grads = forward_backward(model, device.put(x), device.put(g))
    assert_parity(y, y0, factor=factor)
    assert_parity(dx, dx0, factor=factor)
    assert grads.keys() == grads0.keys()
    for name in grads0:
        assert_parity(grads[name], grads0[name], factor=factor)
    for name, p in model.parameters().items():
        assert p.dtype == dtype, f"parameter {name} is {p.dtype}, not the model dtype {dtype}"


@pytest.mark.parametrize(("axis", "x_shape"), [(1, (3, 4, 5, 6)), (-1, (3, 7, 4))])
def test_linear(device, dtype, random_array, assert_parity, axis, x_shape):
    def build(dt):
        return nn.Linear(4, 5, axis=axis, dtype=dt, random_state=0)

    check_module(build, x_shape, device, dtype, random_array, assert_parity)


@pytest.mark.parametrize("padding_mode", ["zeros", "periodic"])
@pytest.mark.parametrize("kernel_size", [1, 3])
def test_conv2d(device, dtype, random_array, assert_parity, padding_mode, kernel_size):
    def build(dt):
        return nn.Conv2d(3, 4, kernel_size, padding_mode=padding_mode, dtype=dt, random_state=0)

    check_module(build, (2, 3, 7, 6), device, dtype, random_array, assert_parity)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(device, dtype, random_array, assert_parity, approximate):
    def build(dt):
        return nn.GELU(approximate, dtype=dt)

    check_module(build, (3, 4, 5), device, dtype, random_array, assert_parity)


def test_sequential(device, dtype, random_array, assert_parity):
    def build(dt):
        return nn.Sequential(
            nn.Conv2d(2, 3, 3, dtype=dt, random_state=0), nn.ReLU(dtype=dt),
            nn.Linear(3, 2, dtype=dt, random_state=1), nn.Tanh(dtype=dt),
        )

    check_module(build, (2, 2, 5, 5), device, dtype, random_array, assert_parity)


LOSSES = {
    "mse": lambda: nn.MSELoss(),
    "mse-sum": lambda: nn.MSELoss("sum"),
    "lp2": lambda: nn.LpLoss(d=2),
    "lp1-mean": lambda: nn.LpLoss(d=2, p=1, reduction="mean"),
    "h1-periodic": lambda: nn.H1Loss(d=2),
    "h1-open": lambda: nn.H1Loss(d=2, periodic=False, measure=(1.0, 2.0)),
}


@pytest.mark.parametrize("name", LOSSES)
def test_loss(device, dtype, random_array, assert_parity, rtol, name):
    pred, target = random_array(3, 2, 8, 6, seed=1), random_array(3, 2, 8, 6, seed=2)
    oracle_loss, loss = LOSSES[name](), LOSSES[name]()
    value0 = oracle_loss.forward(pred.copy(), target)
    grad0 = oracle_loss.backward()
    value = loss.forward(device.put(pred), device.put(target))
    assert isinstance(value, float)
    assert value == pytest.approx(value0, rel=100 * rtol(dtype))
    assert_parity(loss.backward(), grad0, factor=100)


@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt"])
@pytest.mark.parametrize("implementation", ["factorized", "reconstructed"])
@pytest.mark.parametrize(("ndim", "x_shape"), [(2, (2, 3, 6, 5)), (3, (1, 3, 5, 4, 4))])
def test_factorized_conv(device, dtype, random_array, assert_parity, factorization, implementation,
                         ndim, x_shape):
    if not hasattr(nn, "FactorizedConv"):
        pytest.skip("tensorkit.nn.FactorizedConv is not there yet")

    def build(dt):
        return nn.FactorizedConv(3, 4, 3, ndim=ndim, factorization=factorization, rank=0.5,
                                 implementation=implementation, dtype=dt, random_state=0)

    check_module(build, x_shape, device, dtype, random_array, assert_parity)
