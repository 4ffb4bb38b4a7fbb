"""Dense convolutions through BLAS GEMMs that add into their targets: against torch.autograd, against
the portable matmul path, and across calls of different shapes."""

import numpy as np
import pytest

import tensorkit.nn._conv as conv_module
from tensorkit.nn import Conv2d, Conv3d, gradcheck


def _torch_conv(torch, layer, ndim):
    cls = torch.nn.Conv2d if ndim == 2 else torch.nn.Conv3d
    ref = cls(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
              padding=layer.padding, padding_mode="circular" if layer.padding_mode == "periodic" else "zeros")
    ref = ref.double()
    with torch.no_grad():
        ref.weight[...] = torch.tensor(layer.params["weight"].astype(np.float64))
        ref.bias[...] = torch.tensor(layer.params["bias"].astype(np.float64))
    return ref


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stride", [1, 2, (2, 1)])
@pytest.mark.parametrize(("kernel", "mode"), [(3, "periodic"), (3, "zeros"), ((2, 3), "zeros")])
def test_conv2d_against_torch(dtype, stride, kernel, mode):
    torch = pytest.importorskip("torch")
    padding = 1 if kernel == 3 else 0
    layer = Conv2d(3, 4, kernel, stride=stride, padding=padding, padding_mode=mode, dtype=dtype,
                   random_state=0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    ref = _torch_conv(torch, layer, 2)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ty = ref(tx)
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(g.astype(np.float64)))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    y = layer.forward(x)
    dx = layer.backward(g)
    assert y.dtype == dx.dtype == dtype
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.grads["weight"], ref.weight.grad.numpy(), rtol=tol, atol=10 * tol)
    np.testing.assert_allclose(layer.grads["bias"], ref.bias.grad.numpy(), rtol=tol, atol=10 * tol)


@pytest.mark.parametrize("stride", [1, 2])
def test_blas_taps_equal_the_matmul_path(monkeypatch, stride):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5, 6, 7))
    g = None
    results = []
    for blas in (True, False):
        if not blas:
            monkeypatch.setattr(conv_module, "_taps_backend", lambda nxp: "numpy")
        layer = Conv3d(3, 2, 3, stride=stride, padding_mode="periodic", random_state=3)
        y = layer.forward(x)
        g = rng.standard_normal(y.shape) if g is None else g
        results.append((y, layer.backward(g), layer.grads["weight"].copy()))
    for fast, plain in zip(*results, strict=True):
        np.testing.assert_allclose(fast, plain, rtol=1e-13, atol=1e-13)


def test_calls_of_different_shapes():
    rng = np.random.default_rng(4)
    layer = Conv2d(2, 3, 3, padding_mode="zeros", random_state=5)
    small, large = rng.standard_normal((2, 2, 6, 7)), rng.standard_normal((1, 2, 9, 5))
    fresh = [Conv2d(2, 3, 3, padding_mode="zeros", random_state=5).forward(a) for a in (small, large)]
    y1 = layer.forward(small)
    kept = y1.copy()
    y2 = layer.forward(large)
    y3 = layer.forward(small)
    np.testing.assert_array_equal(y1, kept)  # outputs are new arrays
    np.testing.assert_allclose(y2, fresh[1], rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(y3, fresh[0], rtol=1e-14, atol=1e-14)
    # the adjoint follows the last forward
    g = rng.standard_normal(y3.shape)
    layer.zero_grad()
    dx = layer.backward(g)
    ref = Conv2d(2, 3, 3, padding_mode="zeros", random_state=5)
    ref.forward(small)
    np.testing.assert_allclose(dx, ref.backward(g), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(layer.grads["weight"], ref.grads["weight"], rtol=1e-13, atol=1e-14)
    assert gradcheck(layer, small, max_entries=10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tap_kernels_against_reference(dtype):
    """The BLAS tap sum and its adjoint (overlapping windows) equal the reference matmul loops."""
    from tensorkit import _kernels

    rng = np.random.default_rng(6)
    flat = rng.standard_normal((2, 3, 40)).astype(dtype)
    taps = rng.standard_normal((4, 5, 3)).astype(dtype)
    offsets, length = [0, 1, 7, 9], 30
    out = {}
    for backend in ("numba", "numpy"):
        y = np.empty((2, 5, length), dtype=dtype)
        _kernels.conv_taps(flat, taps, offsets, y, backend=backend)
        g = np.random.default_rng(7).standard_normal((2, 5, length)).astype(dtype)
        dflat, dtaps = np.zeros_like(flat), np.zeros_like(taps)
        _kernels.conv_taps_adjoint(flat, taps, offsets, g, dflat, dtaps, backend=backend)
        out[backend] = (y, dflat, dtaps)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for fast, plain in zip(out["numba"], out["numpy"], strict=True):
        np.testing.assert_allclose(fast, plain, rtol=tol, atol=tol)
    # adjoint identity <conv(flat), g> = <flat, conv^T(g)> on the reference
    y, dflat, _ = out["numpy"]
    g = np.random.default_rng(7).standard_normal((2, 5, length)).astype(dtype)
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(flat, dflat), rtol=tol * 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_either_blas_gives_the_same_taps(monkeypatch, dtype):
    """The taps run on numpy's own OpenBLAS when it can be found, else on scipy's cython BLAS (32-bit
    sizes): both must give the reference's numbers."""
    import ctypes

    from numba.extending import get_cython_function_address

    from tensorkit import _kernels
    from tensorkit._kernels import nn_cpu

    scipy_gemm = {
        np.dtype(t): (ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * 13))(
            get_cython_function_address("scipy.linalg.cython_blas", f"{c}gemm")), np.dtype(np.int32))
        for t, c in ((np.float32, "s"), (np.float64, "d"))
    }
    rng = np.random.default_rng(8)
    flat = rng.standard_normal((2, 3, 40)).astype(dtype)
    taps = rng.standard_normal((4, 5, 3)).astype(dtype)
    g = rng.standard_normal((2, 5, 30)).astype(dtype)
    offsets = [0, 1, 7, 9]
    results = []
    for table in (None, scipy_gemm):
        if table is not None:
            monkeypatch.setattr(nn_cpu, "_GEMM", table)
        y = _kernels.conv_taps(flat, taps, offsets, np.empty((2, 5, 30), dtype), backend="numba")
        dflat, dtaps = np.zeros_like(flat), np.zeros_like(taps)
        _kernels.conv_taps_adjoint(flat, taps, offsets, g, dflat, dtaps, backend="numba")
        results.append((y, dflat, dtaps))
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for ours, scipys in zip(*results, strict=True):
        np.testing.assert_allclose(ours, scipys, rtol=tol, atol=tol)


@pytest.mark.parametrize(("kernel", "stride", "padding", "mode"), [
    (5, 3, 2, "periodic"), ((2, 3), (3, 2), 0, "zeros"), (3, (1, 4), 1, "zeros"), (1, 2, 0, "zeros"),
])
def test_strided_polyphase_conv2d_against_torch(kernel, stride, padding, mode):
    """Strides as polyphase components: strides above the kernel size, uneven per axis, 1x1 kernels."""
    torch = pytest.importorskip("torch")
    layer = Conv2d(3, 4, kernel, stride=stride, padding=padding, padding_mode=mode, random_state=0)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 11, 10))
    ref = _torch_conv(torch, layer, 2)
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    g = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(layer.forward(x), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["weight"], ref.weight.grad.numpy(), rtol=1e-11, atol=1e-12)


def test_strided_conv3d_gradcheck():
    layer = Conv3d(2, 2, 3, stride=(2, 1, 3), padding_mode="periodic", random_state=1)
    assert gradcheck(layer, np.random.default_rng(10).standard_normal((1, 2, 5, 4, 7)), max_entries=12)
