"""operators.SpectralConv and operators.FNO, forward and backward, on the device against numpy.

Models are built on the CPU from one seed (twice: the oracle stays, the other moves with
``.to(device)``), so both hold the same weights.
"""

import numpy as np
import pytest

from operators import FNO, SpectralConv


def forward_backward(model, x, grad_out):
    model.zero_grad()
    y = model.forward(x)
    dx = model.backward(grad_out)
    return y, dx, model.gradients()


def check_model(build, x_shape, device, dtype, assert_parity, *, factor=100):
    rng = np.random.default_rng(1)
    oracle_model, model = build(dtype), build(dtype).to(device.name)
    x = rng.standard_normal(x_shape).astype(dtype)
    y0 = oracle_model.forward(x)
    g = rng.standard_normal(y0.shape).astype(dtype)
    y0, dx0, grads0 = forward_backward(oracle_model, x, g)
    y, dx, grads = forward_backward(model, device.put(x), device.put(g))
    assert_parity(y, y0, factor=factor)
    assert_parity(dx, dx0, factor=factor)
    assert grads.keys() == grads0.keys()
    for name in grads0:
        assert_parity(grads[name], grads0[name], factor=factor)


@pytest.mark.parametrize(
    ("factorization", "implementation"),
    [(None, "factorized"), ("cp", "factorized"), ("tucker", "factorized"), ("tt", "factorized"),
     ("tucker", "reconstructed")],
)
@pytest.mark.parametrize(("n_modes", "x_shape"), [((6,), (2, 3, 16)), ((6, 4), (2, 3, 12, 10)),
                                                  ((4, 4, 4), (2, 3, 8, 6, 8))])
def test_spectral_conv(device, dtype, assert_parity, factorization, implementation, n_modes, x_shape):
    def build(dt):
        return SpectralConv(3, 2, n_modes, factorization=factorization, rank=0.5,
                            implementation=implementation, dtype=dt, random_state=0)

    check_model(build, x_shape, device, dtype, assert_parity)


@pytest.mark.parametrize("factorization", [None, "tucker"])
def test_fno(device, dtype, assert_parity, factorization):
    def build(dt):
        return FNO((6, 6), 1, 1, 8, n_layers=2, domain_padding=0.125, factorization=factorization,
                   rank=0.5, dtype=dt, random_state=0)

    check_model(build, (2, 1, 16, 16), device, dtype, assert_parity)


@pytest.mark.parametrize("factorization", [None, "tucker"])
def test_fno_3d(device, dtype, assert_parity, factorization):
    def build(dt):
        return FNO((4, 4, 4), 1, 1, 4, n_layers=2, domain_padding=(0, 0, 0.125), factorization=factorization,
                   rank=0.5, dtype=dt, random_state=0)

    check_model(build, (1, 1, 8, 8, 8), device, dtype, assert_parity)
