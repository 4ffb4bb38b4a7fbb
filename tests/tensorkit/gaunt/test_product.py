import pickle

import numpy as np
import pytest

from tensorkit.gaunt import GauntTensorProduct, gaunt_coefficients, gaunt_tensor_product, wigner_D

from .scipy_oracle import project_product, random_rotation

METHODS = ["s2grid", "fourier", "direct"]
DEGREES = [(0, 0, 0), (0, 3, 3), (3, 0, 2), (1, 1, 2), (2, 3, 4), (3, 3, 2), (4, 2, 6), (5, 4, 3), (6, 6, 12)]


@pytest.mark.parametrize(("l1", "l2", "lout"), DEGREES)
@pytest.mark.parametrize("method", METHODS)
def test_product_then_project_oracle(method, l1, l2, lout):
    rng = np.random.default_rng(l1 * 100 + l2 * 10 + lout)
    x1 = rng.standard_normal((4, (l1 + 1) ** 2))
    x2 = rng.standard_normal((4, (l2 + 1) ** 2))
    out = gaunt_tensor_product(x1, x2, lmax_out=lout, method=method)
    np.testing.assert_allclose(out, project_product(x1, x2, lout), atol=1e-12)


def test_direct_is_the_contraction_with_the_coefficients():
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((2, 3, 9))
    ref = np.zeros((3, 25))
    for l1 in range(3):
        for l2 in range(3):
            for l3 in range(5):
                g = gaunt_coefficients(l1, l2, l3)
                ref[:, l3 * l3:(l3 + 1) ** 2] += np.einsum(
                    "abc,na,nb->nc", g, x1[:, l1 * l1:(l1 + 1) ** 2], x2[:, l2 * l2:(l2 + 1) ** 2])
    np.testing.assert_allclose(gaunt_tensor_product(x1, x2, method="direct"), ref, atol=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_methods_agree_at_high_degree(method):
    rng = np.random.default_rng(1)
    x1 = rng.standard_normal((3, 121))  # L = 10
    x2 = rng.standard_normal((3, 81))  # L = 8
    ref = gaunt_tensor_product(x1, x2, method="s2grid")
    np.testing.assert_allclose(gaunt_tensor_product(x1, x2, method=method), ref, atol=1e-12)


@pytest.mark.parametrize(("dtype", "atol"), [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("method", METHODS)
def test_equivariance(method, dtype, atol):
    rng = np.random.default_rng(2)
    r = random_rotation(rng)
    x1 = rng.standard_normal((5, 16)).astype(dtype)  # L = 3
    x2 = rng.standard_normal((5, 9)).astype(dtype)  # L = 2
    d3, d2, d5 = wigner_D(3, r), wigner_D(2, r), wigner_D(5, r)
    out = gaunt_tensor_product(x1, x2, method=method)
    assert out.dtype == dtype
    rotated = gaunt_tensor_product((x1 @ d3.T).astype(dtype), (x2 @ d2.T).astype(dtype), method=method)
    scale = np.abs(out).max()
    np.testing.assert_allclose(rotated / scale, (out @ d5.T.astype(dtype)) / scale, atol=atol)


@pytest.mark.parametrize("method", METHODS)
def test_symmetry_and_parity(method):
    rng = np.random.default_rng(3)
    x1, x2 = rng.standard_normal((2, 6, 16))
    np.testing.assert_allclose(gaunt_tensor_product(x1, x2, method=method),
                               gaunt_tensor_product(x2, x1, method=method), atol=1e-13)
    v1, v2 = np.zeros((2, 6, 4))
    v1[:, 1:], v2[:, 1:] = rng.standard_normal((2, 6, 3))
    out = gaunt_tensor_product(v1, v2, method=method)
    np.testing.assert_allclose(out[:, 1:4], 0.0, atol=1e-14)  # no cross product (1 x 1 -> 1)
    np.testing.assert_allclose(out[:, 0], np.sum(v1 * v2, axis=1) / np.sqrt(4 * np.pi), atol=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_weights_broadcasting_and_channels(method):
    rng = np.random.default_rng(4)
    x1 = rng.standard_normal((5, 3, 9))  # batch 5, channels 3
    x2 = rng.standard_normal((5, 1, 4))
    w = rng.standard_normal((3, 4))  # per channel and output degree (lmax_out = 3)
    out = gaunt_tensor_product(x1, x2, lmax_out=3, method=method, weights=w)
    assert out.shape == (5, 3, 16)
    plain = gaunt_tensor_product(x1, np.broadcast_to(x2, (5, 3, 4)), lmax_out=3, method="direct")
    l = np.repeat(np.arange(4), 2 * np.arange(4) + 1)
    np.testing.assert_allclose(out, plain * w[:, l], atol=1e-13)
    # 1-D inputs, and a batch created by the weights alone
    y = gaunt_tensor_product(x1[0, 0], x2[0, 0], method=method, weights=np.ones((2, 4)))
    assert y.shape == (2, 16)


def test_e3nn_gaunt_paths_agree():
    torch = pytest.importorskip("torch")
    o3 = pytest.importorskip("e3nn.o3")
    l1, l2, lout = 3, 2, 4
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # e3nn computes its 3j symbols in the default dtype
    try:
        instructions, weights = [], []
        for a in range(l1 + 1):
            for b in range(l2 + 1):
                for c in range(abs(a - b), min(a + b, lout) + 1, 2):
                    instructions.append((a, b, c, "uuu", True))
                    w3j = o3.wigner_3j(a, b, c).numpy()
                    # the documented normalization change: each e3nn path times sum(G * w3j)
                    weights.append(float(np.sum(gaunt_coefficients(a, b, c) * w3j)))
        tp = o3.TensorProduct(o3.Irreps.spherical_harmonics(l1), o3.Irreps.spherical_harmonics(l2),
                              o3.Irreps.spherical_harmonics(lout), instructions,
                              irrep_normalization="none", path_normalization="none",
                              internal_weights=False, shared_weights=True)
    finally:
        torch.set_default_dtype(previous)
    rng = np.random.default_rng(5)
    x1, x2 = rng.standard_normal((6, 16)), rng.standard_normal((6, 9))
    with torch.no_grad():
        ref = tp(torch.tensor(x1), torch.tensor(x2), torch.tensor(weights, dtype=torch.float64)).numpy()
    for method in METHODS:
        np.testing.assert_allclose(gaunt_tensor_product(x1, x2, lmax_out=lout, method=method), ref,
                                   atol=1e-12)


def test_plan_float32_pickle_and_auto():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 25)).astype(np.float32)
    plan = GauntTensorProduct(4, 4, 4)
    out = plan(x, x)
    assert out.dtype == np.float32 and plan.resolved_method() in ("s2grid", "direct")
    np.testing.assert_allclose(out, gaunt_tensor_product(x.astype(np.float64), x.astype(np.float64),
                                                         lmax_out=4), atol=1e-5)
    restored = pickle.loads(pickle.dumps(plan))
    np.testing.assert_array_equal(restored(x, x), out)
    as64 = GauntTensorProduct(4, 4, 4, method="fourier", dtype=np.float64)(x, x)
    assert as64.dtype == np.float64
    assert "lmax_out=4" in repr(plan)


def test_bad_input():
    x = np.ones((3, 9))
    with pytest.raises(ValueError, match=r"x1 must have last dimension \(lmax\+1\)\*\*2"):
        gaunt_tensor_product(np.ones((3, 8)), x)
    with pytest.raises(ValueError, match=r"x2 must have last dimension \(lmax\+1\)\*\*2 = 4"):
        GauntTensorProduct(2, 1)(x, x)
    with pytest.raises(ValueError, match="do not broadcast"):
        gaunt_tensor_product(x, np.ones((4, 9)))
    with pytest.raises(ValueError, match="weights must broadcast"):
        gaunt_tensor_product(x, x, lmax_out=2, weights=np.ones(4))
    with pytest.raises(ValueError, match="lmax_out must be >= 0"):
        gaunt_tensor_product(x, x, lmax_out=-1)
    with pytest.raises(ValueError, match="lmax1 must be >= 0"):
        GauntTensorProduct(-1, 2)
    with pytest.raises(ValueError, match="method"):
        gaunt_tensor_product(x, x, method="fft")
    with pytest.raises(TypeError, match="dtype must be one of"):
        GauntTensorProduct(1, 1, dtype=np.int32)
    with pytest.raises(ValueError, match="non-finite"):
        gaunt_tensor_product(np.full((3, 9), np.inf), x)


def test_mixed_devices_rejected():
    cupy = pytest.importorskip("cupy")
    from tensorkit.backend import gpu_available

    if not gpu_available():
        pytest.skip("no CUDA device")
    with pytest.raises(TypeError, match="mix numpy and CuPy"):
        gaunt_tensor_product(np.ones((2, 4)), cupy.ones((2, 4)))


@pytest.mark.gpu
@pytest.mark.parametrize("method", METHODS)
def test_cupy_matches_numpy(method):
    cupy = pytest.importorskip("cupy")
    from tensorkit.backend import gpu_available

    if not gpu_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(7)
    x1, x2 = rng.standard_normal((2, 8, 25))
    out = gaunt_tensor_product(cupy.asarray(x1), cupy.asarray(x2), method=method)
    np.testing.assert_allclose(out.get(), gaunt_tensor_product(x1, x2, method=method), atol=1e-12)


@pytest.mark.parametrize("method", ["s2grid", "fourier"])
def test_batch_chunks_keep_broadcasting(method, monkeypatch):
    import tensorkit.gaunt._product as product_module

    monkeypatch.setattr(product_module, "_GRID_CHUNK_BYTES", 1)  # one row per chunk
    rng = np.random.default_rng(8)
    x1 = rng.standard_normal((5, 3, 9))
    ref_plan = GauntTensorProduct(2, 2, method="direct")
    plan = GauntTensorProduct(2, 2, method=method)
    for x2 in (rng.standard_normal((1, 3, 9)), rng.standard_normal((5, 1, 9)), x1):
        np.testing.assert_allclose(plan(x1, x2), ref_plan(x1, x2), atol=1e-13)
    np.testing.assert_allclose(plan(x1[:1], x1), ref_plan(x1[:1], x1), atol=1e-13)
