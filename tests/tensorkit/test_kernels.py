"""Sparse COO MTTKRP: every kernel set against the plain-numpy reference and the dense formula."""

from __future__ import annotations

import numpy as np
import pytest

from tensorkit import _kernels
from tensorkit.tenalg import mttkrp


def random_coo(shape, nnz, rng, dtype=np.float64):
    flat = rng.choice(int(np.prod(shape)), size=nnz, replace=False)
    indices = np.stack(np.unravel_index(flat, shape), axis=1).astype(np.int64)
    values = rng.standard_normal(nnz).astype(dtype)
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal(nnz)
    return indices, values


def densify(indices, values, shape):
    dense = np.zeros(shape, dtype=values.dtype)
    dense[tuple(indices.T)] = values
    return dense


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_coo_mttkrp_matches_dense(backend, xp_for, mode, dtype, rtol):
    rng = np.random.default_rng(1)
    shape = (7, 8, 9)
    indices, values = random_coo(shape, 150, rng, dtype)
    factors = [rng.standard_normal((n, 4)).astype(dtype) for n in shape]
    expected = mttkrp(densify(indices, values, shape), factors, mode)
    xp = xp_for(backend)
    got = mttkrp(
        (xp.asarray(indices), xp.asarray(values), shape),
        [xp.asarray(f) for f in factors],
        mode,
        backend=backend,
    )
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(np.asarray(got.get() if hasattr(got, "get") else got), expected,
                               rtol=100 * rtol(dtype), atol=100 * rtol(dtype))


def test_coo_mttkrp_four_way_with_repeated_rows():
    rng = np.random.default_rng(2)
    shape = (3, 4, 2, 5)
    indices, values = random_coo(shape, 60, rng)
    factors = [rng.standard_normal((n, 2)) for n in shape]
    dense = densify(indices, values, shape)
    for mode in range(4):
        ref = _kernels.mttkrp_coo(indices, values, factors, mode, shape[mode], "numpy")
        fast = _kernels.mttkrp_coo(indices, values, factors, mode, shape[mode], "numba")
        np.testing.assert_allclose(fast, ref, rtol=1e-13)
        np.testing.assert_allclose(ref, mttkrp(dense, factors, mode), rtol=1e-12)


def test_empty_coo_gives_zeros():
    factors = [np.ones((3, 2)), np.ones((4, 2))]
    out = mttkrp((np.zeros((0, 2), np.int64), np.zeros(0), (3, 4)), factors, 0)
    np.testing.assert_array_equal(out, np.zeros((3, 2)))


@pytest.mark.cuda_kernel
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_cuda_kernel_matches_reference(dtype):
    from tensorkit._kernels import cuda

    rng = np.random.default_rng(3)
    shape = (5, 6, 4)
    indices, values = random_coo(shape, 40, rng, dtype)
    factors = [rng.standard_normal((n, 3)).astype(dtype) for n in shape]
    for mode in range(3):
        ref = _kernels.mttkrp_coo(indices, values, factors, mode, shape[mode], "numpy")
        got = cuda.mttkrp_coo(indices, values, factors, mode, shape[mode])
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-12, atol=1e-12)


def test_coo_bad_input_is_named():
    factors = [np.ones((3, 2)), np.ones((4, 2))]
    with pytest.raises(ValueError, match=r"indices\[:, 1\] spans"):
        mttkrp((np.array([[0, 4]]), np.ones(1), (3, 4)), factors, 0)
    with pytest.raises(ValueError, match="indices must have shape"):
        mttkrp((np.array([[0, 1, 1]]), np.ones(1), (3, 4)), factors, 0)
    with pytest.raises(ValueError, match="values must have shape"):
        mttkrp((np.array([[0, 1]]), np.ones(2), (3, 4)), factors, 0)
    with pytest.raises(TypeError, match="indices must be integers"):
        mttkrp((np.array([[0.0, 1.0]]), np.ones(1), (3, 4)), factors, 0)
    with pytest.raises(ValueError, match="factors"):
        mttkrp((np.array([[0, 1]]), np.ones(1), (3, 4)), [np.ones((3, 2)), np.ones((5, 2))], 0)
    with pytest.raises(ValueError, match="backend must be one of"):
        mttkrp((np.array([[0, 1]]), np.ones(1), (3, 4)), factors, 0, backend="torch")
