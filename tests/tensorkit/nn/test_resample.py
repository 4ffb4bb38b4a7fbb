"""Upsample, SkipConcat and OneWayConv: finite-difference adjoints, torch (test-only oracle) on
the same numbers, the one-way kernel's structure and parameter count, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tensorkit.nn import Conv2d, OneWayConv, Sequential, SkipConcat, Upsample, gradcheck


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --------------------------------------------------------------------------------------- Upsample
@pytest.mark.parametrize(("ndim", "factor"), [(1, 3), (2, 2), (2, (1, 3)), (3, (1, 2, 2))])
def test_upsample_gradcheck(ndim, factor):
    x = _x((2, 3, *(3, 4, 2)[:ndim]))
    assert gradcheck(Upsample(factor, ndim=ndim), x, max_entries=None)


@pytest.mark.parametrize(("ndim", "factor"), [(2, 2), (2, (2, 3)), (3, (1, 2, 2))])
def test_upsample_matches_torch(ndim, factor):
    torch = pytest.importorskip("torch")
    x = _x((2, 3, *(4, 3, 5)[:ndim]))
    up = Upsample(factor, ndim=ndim)
    y = up(x)
    xt = torch.tensor(x, requires_grad=True)
    scale = factor if isinstance(factor, tuple) else (factor,) * ndim
    yt = torch.nn.functional.interpolate(xt, scale_factor=tuple(float(s) for s in scale), mode="nearest")
    np.testing.assert_array_equal(y, yt.detach().numpy())
    g = _x(y.shape, 1)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(up.backward(g), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_upsample_bad_input():
    with pytest.raises(ValueError, match="scale_factor"):
        Upsample(0)
    with pytest.raises(TypeError, match="scale_factor"):
        Upsample(1.5)
    with pytest.raises(ValueError, match="ndim"):
        Upsample(2, ndim=4)
    with pytest.raises(ValueError, match="expects input"):
        Upsample(2)(np.ones((1, 1, 4, 4, 4)))
    with pytest.raises(RuntimeError, match="before forward"):
        Upsample(2).backward(np.ones((1, 1, 4, 4)))


# ------------------------------------------------------------------------------------- SkipConcat
def test_skipconcat_gradcheck_and_torch():
    body = Sequential(Conv2d(2, 3, 3, stride=2, random_state=0), Upsample(2))
    block = SkipConcat(body)
    x = _x((2, 2, 6, 4))
    assert gradcheck(block, x, max_entries=20)
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, requires_grad=True)
    conv = torch.nn.functional.conv2d(xt, torch.tensor(body[0].params["weight"]),
                                      torch.tensor(body[0].params["bias"]), stride=2, padding=1)
    yt = torch.cat([xt, torch.nn.functional.interpolate(conv, scale_factor=2.0, mode="nearest")], dim=1)
    y = block(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = _x(y.shape, 2)
    yt.backward(torch.tensor(g))
    block.zero_grad()
    np.testing.assert_allclose(block.backward(g), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_skipconcat_shape_mismatch():
    block = SkipConcat(Conv2d(2, 3, 3, stride=2, random_state=0))
    with pytest.raises(ValueError, match="does not match"):
        block(np.ones((1, 2, 8, 8)))
    with pytest.raises(TypeError, match="Module"):
        SkipConcat(lambda x: x)


# ------------------------------------------------------------------------------------- OneWayConv
@pytest.mark.parametrize(("ndim", "rank", "stride", "mode"),
                         [(2, 1, 1, "zeros"), (2, 2, 2, "periodic"), (3, 2, 1, "zeros"), (3, 1, 2, "zeros")])
def test_oneway_gradcheck(ndim, rank, stride, mode):
    conv = OneWayConv(2, 3, 3, ndim=ndim, rank=rank, stride=stride, padding_mode=mode, random_state=0)
    x = _x((2, 2, *(5, 6, 4)[:ndim]))
    assert gradcheck(conv, x, max_entries=25)


@pytest.mark.parametrize("ndim", [2, 3])
def test_oneway_matches_torch_with_its_kernel(ndim):
    torch = pytest.importorskip("torch")
    conv = OneWayConv(3, 4, (3, 5, 3)[:ndim], ndim=ndim, rank=2, stride=2, random_state=1)
    x = _x((2, 3, *(7, 8, 6)[:ndim]))
    kernel = conv.kernel()
    # the kernel is the sum of outer products of its 1D filters, pair by pair
    f = conv.filters()
    o, c = 2, 1
    outer = sum(math.prod(np.ix_(*(f[d][o, c, r] for d in range(ndim)))) for r in range(2))
    np.testing.assert_allclose(kernel[o, c], outer, rtol=1e-13)
    fn = torch.nn.functional.conv2d if ndim == 2 else torch.nn.functional.conv3d
    kt = torch.tensor(kernel, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    pads = tuple(k // 2 for k in kernel.shape[2:])
    yt = fn(xt, kt, torch.tensor(conv.params["bias"]), stride=2, padding=pads)
    y = conv(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = _x(y.shape, 3)
    yt.backward(torch.tensor(g))
    conv.zero_grad()
    np.testing.assert_allclose(conv.backward(g), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    # chain rule through the kernel: <dK, dK/dF_0 . v> matches torch's kernel gradient
    f0 = torch.tensor(f[0], requires_grad=True)
    rest = [torch.tensor(a) for a in f[1:]]
    subs = ",".join(f"ocr{'xyz'[d]}" for d in range(ndim)) + "->oc" + "xyz"[:ndim]
    torch.einsum(subs, f0, *rest).backward(kt.grad)
    np.testing.assert_allclose(conv.grads["filter_0"], f0.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_oneway_parameters_and_variance():
    conv = OneWayConv(16, 16, 3, rank=1, bias=False, random_state=0)
    dense = Conv2d(16, 16, 3, bias=False)
    assert conv.num_parameters() == 16 * 16 * 1 * 2 * 3
    assert dense.num_parameters() / conv.num_parameters() == pytest.approx(3 / 2)
    conv3 = OneWayConv(4, 4, 3, ndim=3, rank=2, bias=False)
    assert conv3.num_parameters() == 4 * 4 * 2 * 3 * 3
    big = OneWayConv(32, 32, 3, rank=3, random_state=0)
    assert np.var(big.kernel()) == pytest.approx(1 / (3 * 32 * 9), rel=0.2)


def test_oneway_bad_input():
    with pytest.raises(ValueError, match="rank"):
        OneWayConv(2, 3, 3, rank=0)
    with pytest.raises(TypeError, match="rank"):
        OneWayConv(2, 3, 3, rank=True)
    with pytest.raises(ValueError, match="ndim"):
        OneWayConv(2, 3, 3, ndim=1)
    with pytest.raises(ValueError, match="expects input"):
        OneWayConv(2, 3, 3)(np.ones((1, 3, 5, 5)))
    with pytest.raises(RuntimeError, match="before forward"):
        OneWayConv(2, 3, 3).backward(np.ones((1, 3, 5, 5)))
