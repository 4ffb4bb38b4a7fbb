"""Sparse COO MTTKRP: every kernel set against the plain-numpy reference and the dense formula."""

from __future__ import annotations

import warnings

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


@pytest.mark.parametrize("kind", ["float16", "big-endian"])
def test_kernels_convert_float16_and_big_endian_at_the_entry(kind):
    """Numba has no float16 arithmetic and reads native byte order only: the dispatchers convert."""
    rng = np.random.default_rng(3)

    def odd(a):
        return a.astype(np.float16) if kind == "float16" else a.astype(a.dtype.newbyteorder(">"))

    indices, values = random_coo((5, 6, 7), 30, rng)
    factors = [rng.standard_normal((n, 3)) for n in (5, 6, 7)]
    expected = _kernels.mttkrp_coo(indices, odd(values).astype(np.float64),
                                   [odd(f).astype(np.float64) for f in factors], 1, 6, "numpy")
    got = _kernels.mttkrp_coo(odd(indices) if kind != "float16" else indices, odd(values),
                              [odd(f) for f in factors], 1, 6, "numba")
    np.testing.assert_allclose(got, expected, rtol=1e-3 if kind == "float16" else 1e-12)
    assert got.dtype.isnative
    x = rng.standard_normal((8, 2))
    np.testing.assert_allclose(_kernels.fwht(odd(x), "numba"),
                               _kernels.fwht(odd(x).astype(np.float64), "numpy"), rtol=1e-3, atol=1e-3)
    A, W, B = rng.standard_normal((20, 3)), rng.standard_normal((3, 2)), rng.standard_normal((20, 2))
    for g, e in zip(_kernels.normal_matvec(odd(A), odd(W), odd(B), "numba"),
                    _kernels.normal_matvec(*(odd(a).astype(np.float64) for a in (A, W, B)), "numpy"),
                    strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-2 if kind == "float16" else 1e-12)


def test_mttkrp_converts_float16_and_big_endian_through_cp():
    import tensorkit

    indices = np.array([[0, 1, 2], [1, 2, 3], [2, 0, 1]])
    values = np.array([1.0, 2.0, -1.0])
    for idx, val in [(indices, values), (indices.astype(">i8"), values.astype(">f8")),
                     (indices.astype(np.int32), values.astype(np.float16))]:
        results = []
        for backend in ("numpy", "numba"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out = tensorkit.cp((idx, val, (3, 4, 5)), 2, backend=backend, random_state=0,
                                   n_iter_max=20)
            results.append(out.to_dense())
        np.testing.assert_allclose(results[1], results[0], rtol=1e-3, atol=1e-3)
        assert results[0].dtype == (np.float32 if val.dtype == np.float16 else np.float64)
