"""Completion kernels: the Numba and numba.cuda versions agree with the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from tensorkit import _kernels as core_kernels
from tensorkit._kernels import cuda as core_cuda
from tensorkit._kernels import reference as core_reference
from tensorkit.completion import _kernels
from tensorkit.completion._kernels import cpu, cuda, reference


def _problem(seed, shape=(7, 5, 6), nnz=80, rank=3):
    rng = np.random.default_rng(seed)
    cells = rng.choice(int(np.prod(shape)), nnz, replace=False)
    indices = np.stack(np.unravel_index(cells, shape), axis=1).astype(np.int64)
    values = rng.standard_normal(nnz)
    factors = [rng.standard_normal((n, rank)) for n in shape]
    return indices, values, factors, shape


def _sorted(indices, values, mode, n_rows, backend):
    perm, rowptr = _kernels.row_groups(indices[:, mode], n_rows, backend)
    return indices[perm], values[perm], rowptr


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_row_groups_match(mode):
    indices, *_, shape = _problem(0)
    perm_ref, ptr_ref = _kernels.row_groups(indices[:, mode], shape[mode], "numpy")
    perm, ptr = _kernels.row_groups(indices[:, mode], shape[mode], "numba")
    np.testing.assert_array_equal(perm, perm_ref)
    np.testing.assert_array_equal(ptr, ptr_ref)
    assert np.all(np.diff(indices[perm, mode]) >= 0)
    values = np.arange(indices.shape[0], dtype=float)
    for backend in ("numpy", "numba"):
        idx, y, ptr = _kernels.sort_by_row(indices, values, mode, shape[mode], np.int32, backend)
        assert idx.dtype == np.int32
        np.testing.assert_array_equal(idx, indices[perm_ref])
        np.testing.assert_array_equal(y, values[perm_ref])
        np.testing.assert_array_equal(ptr, ptr_ref)


@pytest.mark.parametrize("reg", [0.0, 0.1])
@pytest.mark.parametrize("mode", [0, 2])
def test_cp_rows_numba_matches_reference_and_normal_equations(mode, reg):
    indices, values, factors, shape = _problem(1)
    idx, y, rowptr = _sorted(indices, values, mode, shape[mode], "numpy")
    ref, sing_ref = _kernels.cp_rows(idx, y, rowptr, factors, mode, reg, "numpy")
    out, sing = _kernels.cp_rows(idx.astype(np.int32), y, rowptr, factors, mode, reg, "numba")
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(sing, sing_ref)
    # oracle: each row solves its own least-squares problem (numpy lstsq)
    for i in range(shape[mode]):
        rows = indices[:, mode] == i
        Z = np.prod([factors[k][indices[rows, k]] for k in range(3) if k != mode], axis=0)
        A = np.vstack([Z, np.sqrt(reg * rows.sum()) * np.eye(3)])
        b = np.concatenate([values[rows], np.zeros(3)])
        np.testing.assert_allclose(ref[i], np.linalg.lstsq(A, b, rcond=None)[0], atol=1e-10)


def test_rows_without_observations_are_zero_and_singular_rows_flagged():
    rank = 3
    factors = [np.ones((3, rank)), np.eye(4, rank)]
    indices = np.array([[1, 0], [1, 1]])  # row 0 and 2 empty; row 1 has 2 < 3 observations
    for backend in ("numpy", "numba"):
        rowptr = np.array([0, 0, 2, 2])
        out, singular = _kernels.cp_rows(indices, np.array([1.0, 2.0]), rowptr, factors, 0, 0.0, backend)
        assert singular.tolist() == [False, True, False]
        assert not out.any()
        out, singular = _kernels.cp_rows(indices, np.array([1.0, 2.0]), rowptr, factors, 0, 0.5, backend)
        assert not singular.any() and out[1].any()


def test_solve_rows_and_values_match():
    indices, values, factors, shape = _problem(2)
    idx, y, rowptr = _sorted(indices, values, 1, shape[1], "numpy")
    Z = np.random.default_rng(3).standard_normal((idx.shape[0], 4))
    ref = _kernels.solve_rows(Z, y, rowptr, 0.05, "numpy")
    out = _kernels.solve_rows(Z, y, rowptr, 0.05, "numba")
    np.testing.assert_allclose(out[0], ref[0], rtol=1e-10, atol=1e-12)
    weights = np.array([1.0, -2.0, 0.5])
    dense = np.einsum("r,ir,jr,kr->ijk", weights, *factors)
    expected = dense[tuple(indices.T)]
    for backend in ("numpy", "numba"):
        np.testing.assert_allclose(core_kernels.cp_values(indices, weights, factors, backend), expected,
                                   rtol=1e-12)


@pytest.mark.cuda_kernel
def test_cuda_kernels_match_reference():
    """Runs under NUMBA_ENABLE_CUDASIM=1 on numpy arrays (tiny sizes), or on CuPy arrays on a GPU."""
    from tensorkit.backend import gpu_available, to_device, to_numpy

    device = "gpu" if gpu_available() else "cpu"
    indices, values, factors, shape = _problem(4, shape=(4, 3, 5), nnz=20, rank=2)
    idx, y, rowptr = _sorted(indices, values, 0, shape[0], "numpy")
    put = lambda a: to_device(a, device)  # noqa: E731
    for reg in (0.0, 0.1):
        ref, sing_ref = reference.cp_rows(idx, y, rowptr, factors, 0, reg)
        out, sing = cuda.cp_rows(put(idx), put(y), put(rowptr), [put(f) for f in factors], 0, reg)
        np.testing.assert_array_equal(to_numpy(sing), sing_ref)
        np.testing.assert_allclose(to_numpy(out), ref, rtol=1e-9, atol=1e-12)
    *_, sse_ref = reference.cp_rows(idx, y, rowptr, factors, 0, 0.1, residual=True)
    *_, sse = cuda.cp_rows(put(idx), put(y), put(rowptr), [put(f) for f in factors], 0, 0.1, residual=True)
    assert sse == pytest.approx(sse_ref, rel=1e-9)
    weights = np.array([1.5, -1.0])
    np.testing.assert_allclose(
        to_numpy(core_cuda.cp_values(put(indices), put(weights), [put(f) for f in factors])),
        core_reference.cp_values(indices, weights, factors), rtol=1e-12)
    _perm, ptr = cuda.row_groups(put(indices[:, 2]), shape[2])
    np.testing.assert_array_equal(to_numpy(ptr), reference.row_groups(indices[:, 2], shape[2])[1])
    expected = reference.sort_by_row(indices, values, 2, shape[2], np.int32)
    for got, want in zip(cuda.sort_by_row(put(indices), put(values), 2, shape[2], np.int32), expected,
                         strict=True):
        np.testing.assert_array_equal(to_numpy(got), want)


def _direct_sse(indices, values, factors, mode, rows):
    Z = np.prod([factors[k][indices[:, k]] for k in range(indices.shape[1]) if k != mode], axis=0)
    return float(np.sum((values - np.sum(Z * rows[indices[:, mode]], axis=1)) ** 2))


@pytest.mark.parametrize("planted", [False, True])
def test_cp_rows_residual_is_the_sse_of_the_new_rows(planted):
    """Random values take the Gram-matrix form of the residual, exactly fitted ones the residuals
    themselves (where that form cancels); both match the directly computed sum of squares."""
    indices, values, factors, shape = _problem(5, nnz=150)
    if planted:  # mode 0 solves exactly: values = CP model with the other factors
        values = np.einsum("er,er,er->e", *(f[indices[:, k]] for k, f in enumerate(factors)))
    idx, y, rowptr = _sorted(indices, values, 0, shape[0], "numpy")
    for backend in ("numpy", "numba"):
        out, singular, sse = _kernels.cp_rows(idx, y, rowptr, factors, 0, 0.0, backend, residual=True)
        assert not singular.any()
        expected = _direct_sse(idx, y, factors, 0, out)
        if planted:
            assert sse < 1e-20
        else:
            assert sse == pytest.approx(expected, rel=1e-10)


def test_cp_rows_parallel_chunks_match_reference_on_skewed_rows():
    """Large enough for the threaded kernel; rows of very different sizes (one holds half the
    observations) are split into chunks of about equal observation counts."""
    rng = np.random.default_rng(6)
    shape, rank, nnz = (40, 300, 50), 16, 20_000
    first = np.where(rng.random(nnz) < 0.5, 3, rng.integers(0, shape[0], nnz))
    indices = np.stack([first, rng.integers(0, shape[1], nnz), rng.integers(0, shape[2], nnz)], axis=1)
    values = rng.standard_normal(nnz)
    factors = [rng.standard_normal((n, rank)) for n in shape]
    assert cpu._parallel_pays(nnz, rank)
    for mode in (0, 1):
        idx, y, rowptr = _sorted(indices, values, mode, shape[mode], "numpy")
        ref, _, sse_ref = _kernels.cp_rows(idx, y, rowptr, factors, mode, 1e-3, "numpy", residual=True)
        out, _, sse = _kernels.cp_rows(idx.astype(np.int32), y, rowptr, factors, mode, 1e-3, "numba",
                                       residual=True)
        np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12)
        assert sse == pytest.approx(sse_ref, rel=1e-9)


def test_balanced_chunks_cover_all_rows_with_equal_work():
    counts = np.r_[5000, np.ones(999, dtype=np.int64), np.zeros(10, dtype=np.int64), 3000, 2000]
    rowptr = np.r_[0, np.cumsum(counts)]
    bounds = cpu._balanced_chunks(rowptr, 8)
    assert bounds[0] == 0 and bounds[-1] == counts.size and np.all(np.diff(bounds) > 0)
    work = np.diff(rowptr[bounds])
    assert work.max() <= max(counts.max(), rowptr[-1] / 8 + counts.max())
    np.testing.assert_array_equal(cpu._balanced_chunks(np.zeros(4, dtype=np.int64), 8), [0, 3])
