"""Winograd convolutions (Conv2d algorithm="winograd" / "winograd3" / "winograd4"): the matrices against the
convolution they encode, the tile kernels (reference vs Numba, adjoint identities), the layer against
torch.autograd and the direct algorithm, float32 accuracy against a float64 oracle, and bad input."""

import numpy as np
import pytest

from tensorkit import _kernels
from tensorkit._kernels import winograd_cpu, winograd_transforms
from tensorkit.nn import Conv2d, Conv3d, gradcheck

ALGORITHMS = ("winograd", "winograd3", "winograd4")


@pytest.mark.parametrize(("m", "points"), [
    (2, None), (3, None), (4, None), (4, (0, 1, -1, 0.5, -2)), (3, (0, 1, -1, 2)),
])
def test_matrices_compute_the_correlation(m, points):
    """``A^T [(G g) (.) (B^T d)]`` is the valid correlation of ``d`` with ``g`` (1D), in float64."""
    at, g, bt = _kernels.winograd_matrices(m, 3, points)
    rng = np.random.default_rng(0)
    for _ in range(5):
        d, w = rng.standard_normal(m + 2), rng.standard_normal(3)
        np.testing.assert_allclose(at @ ((g @ w) * (bt @ d)), np.correlate(d, w, "valid"), atol=1e-13)


def test_matrices_reject_bad_points():
    with pytest.raises(ValueError, match="distinct finite points"):
        _kernels.winograd_matrices(2, 3, (0, 1, 1))
    with pytest.raises(ValueError, match="distinct finite points"):
        _kernels.winograd_matrices(2, 3, (0, 1))


@pytest.mark.parametrize("m", [2, 3, 4])
def test_written_out_transforms_match_the_matrices(m):
    """The Numba 1D transforms ``bt``, ``b``, ``at``, ``a`` apply B^T, B, A^T, A (exactly for
    F(2) and F(4); F(3)'s even/odd pairs round its thirds once more)."""
    at, _, bt = _kernels.winograd_matrices(m)
    for name, mat, source in (("bt", bt, bt), ("b", bt.T, bt), ("at", at, at), ("a", at.T, at)):
        fn = getattr(winograd_transforms, f"{name}{m}")
        n_out, n_in = mat.shape
        ins = [np.eye(n_in)[i].copy() for i in range(n_in)]  # input i, over k = column
        outs = [np.empty(n_in) for _ in range(n_out)]
        fn(*ins, *outs, n_in, winograd_transforms.constants(m, source, np.float64))
        np.testing.assert_allclose(np.array(outs), mat, rtol=0, atol=0 if m != 3 else 1e-15)


def test_f3_kernels_apply_its_matrices_only():
    """F(3, 3)'s kernels read its matrices' entries by position: other points go to the reference."""
    at, _, bt = _kernels.winograd_matrices(3, 3, (0, 1, -1, 2))
    assert not winograd_cpu._written_out(3, bt, 2) and not winograd_cpu._written_out(3, at, 0)
    for dtype in (np.float32, np.float64):
        at, _, bt = (mat.astype(dtype) for mat in _kernels.winograd_matrices(3))
        assert winograd_cpu._written_out(3, bt, 2) and winograd_cpu._written_out(3, at, 0)


CASES = [  # (batch, channels, H, W, pads, mode): odd sizes, partial tiles, margins wider than 1
    (2, 3, 9, 8, (1, 1), "periodic"),
    (2, 3, 9, 8, (1, 1), "zeros"),
    (1, 2, 7, 11, (0, 2), "zeros"),
    (1, 2, 5, 6, (2, 1), "periodic"),
    (1, 1, 3, 3, (0, 0), "zeros"),
]


def _tile_shape(m, channels, batch, height, width, pads):
    out_h, out_w = height + 2 * pads[0] - 2, width + 2 * pads[1] - 2
    n_ty, n_tx = -(-out_h // m), -(-out_w // m)
    return (m + 2) ** 2, channels, batch * n_ty * (n_tx + _kernels.tile_gap(m, m + 2)), (out_h, out_w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [2, 3, 4])
@pytest.mark.parametrize("case", CASES)
def test_tile_kernels_numba_equal_reference_and_are_adjoint(dtype, m, case):
    batch, chan, height, width, pads, mode = case
    at, _, bt = _kernels.winograd_matrices(m)
    *shape, out_sp = _tile_shape(m, chan, batch, height, width, pads)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, chan, height, width)).astype(dtype)
    dy = rng.standard_normal((batch, chan, *out_sp)).astype(dtype)
    bias = rng.standard_normal(chan).astype(dtype)
    results = {}
    for backend in ("numpy", "numba"):
        v = np.full(shape, np.nan, dtype)  # every entry must be written
        _kernels.winograd_input(x, pads, mode, m, bt, v, backend=backend)
        z = np.full(shape, np.nan, dtype)
        _kernels.winograd_output_adjoint(dy, m, at, z, backend=backend)
        dx = np.full(x.shape, np.nan, dtype)
        _kernels.winograd_input_adjoint(z.copy(), pads, mode, m, bt, dx, backend=backend)
        y = np.full(dy.shape, np.nan, dtype)
        _kernels.winograd_output(v, m, at, bias, y, backend=backend)
        results[backend] = (v, z, dx, y)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for plain, fast in zip(results["numpy"], results["numba"], strict=True):
        np.testing.assert_allclose(fast, plain, rtol=tol, atol=tol * np.abs(plain).max())
    v, z, dx, y = results["numba"]
    # <V(x), Z> = <x, V^T(Z)> and <O(V), dy> = <V, O^T(dy)> (bias removed)
    scale = np.abs(v).sum() * np.abs(z).max()
    assert abs(np.vdot(v, z) - np.vdot(x, dx)) <= 10 * tol * scale
    assert abs(np.vdot(y - bias[:, None, None], dy) - np.vdot(v, z)) <= 10 * tol * scale


def _torch_conv(torch, layer):
    ref = torch.nn.Conv2d(layer.in_channels, layer.out_channels, 3, padding=layer.padding,
                          padding_mode="circular" if layer.padding_mode == "periodic" else "zeros").double()
    with torch.no_grad():
        ref.weight[...] = torch.tensor(layer.params["weight"].astype(np.float64))
        ref.bias[...] = torch.tensor(layer.params["bias"].astype(np.float64))
    return ref


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(("shape", "padding", "mode"), [
    ((2, 3, 9, 8), 1, "periodic"), ((2, 3, 9, 8), 1, "zeros"), ((1, 3, 7, 13), 0, "zeros"),
    ((2, 3, 5, 6), 2, "periodic"),
])
def test_winograd_conv2d_against_torch(dtype, algorithm, shape, padding, mode):
    torch = pytest.importorskip("torch")
    layer = Conv2d(3, 4, 3, padding=padding, padding_mode=mode, algorithm=algorithm, dtype=dtype,
                   random_state=0)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(dtype)
    ref = _torch_conv(torch, layer)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ty = ref(tx)
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(g.astype(np.float64)))
    y = layer.forward(x)
    dx = layer.backward(g)
    assert y.dtype == dx.dtype == layer.grads["weight"].dtype == dtype
    # F(3, 3) and F(4, 3)'s transforms have entries up to 17/9 and 8: a few ulps more rounding
    tol = (2e-5 if algorithm == "winograd" else 1e-4) if dtype == np.float32 else 1e-12
    for got, want in ((y, ty), (dx, tx.grad), (layer.grads["weight"], ref.weight.grad),
                      (layer.grads["bias"], ref.bias.grad)):
        want = want.detach().numpy()
        np.testing.assert_allclose(got, want, rtol=0, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_winograd_gradcheck_and_repeated_calls(algorithm):
    """Finite differences, and the direct algorithm over odd, even, non-square sizes and batch 1."""
    rng = np.random.default_rng(3)
    layer = Conv2d(2, 3, 3, padding_mode="periodic", algorithm=algorithm, random_state=4)
    direct = Conv2d(2, 3, 3, padding_mode="periodic", algorithm="direct", random_state=4)
    assert gradcheck(layer, rng.standard_normal((2, 2, 6, 5)), max_entries=10)
    # shapes change between calls (the workspace follows), and the adjoint follows the last forward
    for shape in ((3, 2, 9, 7), (1, 2, 4, 4), (1, 2, 10, 6), (3, 2, 9, 7)):
        x = rng.standard_normal(shape)
        y = layer.forward(x)
        np.testing.assert_allclose(y, direct.forward(x), rtol=1e-12, atol=1e-12)
        g = rng.standard_normal(y.shape)
        layer.zero_grad()
        direct.zero_grad()
        np.testing.assert_allclose(layer.backward(g), direct.backward(g), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.grads["weight"], direct.grads["weight"], rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("algorithm", ["winograd", "winograd3"])
def test_winograd_many_images_span_several_chunks(monkeypatch, algorithm):
    """Images go through in chunks; a small chunk size must give the same numbers."""
    import tensorkit.nn._conv as conv_module

    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 3, 8, 9))
    g = rng.standard_normal((5, 4, 8, 9))
    results = []
    for chunk in (1 << 30, 1):
        monkeypatch.setattr(conv_module, "_CHUNK_BYTES", chunk)
        layer = Conv2d(3, 4, 3, padding_mode="zeros", algorithm=algorithm, random_state=6)
        results.append((layer.forward(x), layer.backward(g), layer.grads["weight"].copy()))
    for one, many in zip(*results, strict=True):
        np.testing.assert_allclose(many, one, rtol=1e-13, atol=1e-13)


def test_float32_error_near_the_direct_algorithm():
    """Against a float64 oracle, F(2x2, 3x3)'s float32 RMS error stays within 3x of the direct
    algorithm's and F(3x3, 3x3)'s within 4x (the reason it may be the default); F(4x4, 3x3)'s
    within 30x."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 16, 24, 24))
    g = rng.standard_normal((2, 16, 24, 24))
    oracle = Conv2d(16, 16, 3, padding_mode="periodic", algorithm="direct", random_state=8)
    want = (oracle.forward(x), oracle.backward(g))
    errors = {}
    for algorithm in ("direct", *ALGORITHMS):
        layer = Conv2d(16, 16, 3, padding_mode="periodic", algorithm=algorithm, dtype=np.float32,
                       random_state=8)
        got = (layer.forward(x.astype(np.float32)), layer.backward(g.astype(np.float32)))
        errors[algorithm] = [np.sqrt(np.mean((a - b) ** 2) / np.mean(b**2))
                             for a, b in zip(got, want, strict=True)]
    for k in range(2):
        assert errors["winograd"][k] <= 3 * errors["direct"][k]
        assert errors["winograd3"][k] <= 4 * errors["direct"][k]
        assert errors["winograd4"][k] <= 30 * errors["direct"][k]


def test_auto_picks_by_geometry():
    """F(3x3, 3x3) from in x out channels x pixels = 2^19 on, the taps otherwise."""
    x = np.random.default_rng(9).standard_normal((1, 32, 32, 32))
    wide = Conv2d(32, 32, 3, random_state=0)
    wide.forward(x)
    assert wide._cache[0] == "winograd" and wide._cache[5] == 3
    direct = Conv2d(32, 32, 3, algorithm="direct", random_state=0)
    np.testing.assert_allclose(wide.forward(x), direct.forward(x), rtol=1e-12, atol=1e-12)
    wide.forward(x[:, :, :16, :16])  # small images: the taps
    assert wide._cache[0] != "winograd"
    narrow = Conv2d(32, 8, 3, random_state=0)
    narrow.forward(x)
    assert narrow._cache[0] != "winograd"
    narrow.forward(np.zeros((1, 32, 64, 64)))  # 2^19: large enough again
    assert narrow._cache[0] == "winograd"
    strided = Conv2d(32, 32, 3, stride=2, random_state=0)
    strided.forward(x)
    assert strided._cache[0] != "winograd"


def test_bad_algorithm():
    with pytest.raises(ValueError, match="algorithm"):
        Conv2d(2, 2, 3, algorithm="fft")
    with pytest.raises(ValueError, match="algorithm"):  # check_choice's policy for any non-choice
        Conv2d(2, 2, 3, algorithm=2)
    with pytest.raises(ValueError, match="3x3 kernel at stride 1"):
        Conv2d(2, 2, 3, stride=2, algorithm="winograd")
    with pytest.raises(ValueError, match="3x3 kernel at stride 1"):
        Conv2d(2, 2, 3, stride=(1, 2), algorithm="winograd3")
    with pytest.raises(ValueError, match="algorithm"):
        Conv2d(2, 2, 3, algorithm="winograd5")
    with pytest.raises(ValueError, match="3x3 kernel at stride 1"):
        Conv2d(2, 2, 5, padding=2, algorithm="winograd4")
    with pytest.raises(ValueError, match="3x3 kernel at stride 1"):
        Conv3d(2, 2, 3, algorithm="winograd")


@pytest.mark.cuda_kernel
@pytest.mark.parametrize("m", [2, 3, 4])
def test_gpu_tile_kernels_match_numba(m):
    """The GPU set (CuPy array code) run on numpy arrays, as under the CUDA simulator lane."""
    from tensorkit._kernels import cuda

    batch, chan, height, width, pads, mode = CASES[0]
    at, _, bt = _kernels.winograd_matrices(m)
    *shape, out_sp = _tile_shape(m, chan, batch, height, width, pads)
    rng = np.random.default_rng(10)
    x = rng.standard_normal((batch, chan, height, width))
    dy = rng.standard_normal((batch, chan, *out_sp))
    for name, args, out in (
        ("winograd_input", (x, pads, mode, m, bt), np.empty(shape)),
        ("winograd_output_adjoint", (dy, m, at), np.empty(shape)),
    ):
        want = _kernels.__dict__[name](*args, out.copy(), backend="numba")
        np.testing.assert_allclose(getattr(cuda, name)(*args, out), want, rtol=1e-12, atol=1e-12)
    z = _kernels.winograd_output_adjoint(dy, m, at, np.empty(shape), backend="numba")
    want = _kernels.winograd_input_adjoint(z.copy(), pads, mode, m, bt, np.empty_like(x), backend="numba")
    np.testing.assert_allclose(cuda.winograd_input_adjoint(z, pads, mode, m, bt, np.empty_like(x)), want,
                               rtol=1e-12, atol=1e-12)
    y = cuda.winograd_output(z, m, at, None, np.empty(dy.shape))
    want = _kernels.winograd_output(z, m, at, None, np.empty(dy.shape), backend="numba")
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)


@pytest.mark.gpu
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_winograd_on_the_gpu_equals_the_cpu(algorithm):
    from tensorkit.backend import gpu_available, to_device, to_numpy

    if not gpu_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(11)
    x, g = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((2, 4, 9, 8))
    cpu = Conv2d(3, 4, 3, padding_mode="periodic", algorithm=algorithm, random_state=12)
    gpu = Conv2d(3, 4, 3, padding_mode="periodic", algorithm=algorithm, random_state=12).to("gpu")
    y = gpu.forward(to_device(x, "gpu"))
    np.testing.assert_allclose(to_numpy(y), cpu.forward(x), rtol=1e-12, atol=1e-12)
    dx = gpu.backward(to_device(g, "gpu"))
    np.testing.assert_allclose(to_numpy(dx), cpu.backward(g), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_numpy(gpu.grads["weight"]), cpu.grads["weight"], rtol=1e-11, atol=1e-12)
