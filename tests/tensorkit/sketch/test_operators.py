"""Sketching operators against explicit matrices: Hadamard, DCT, Khatri-Rao, isotropy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
from scipy.linalg import hadamard

from tensorkit import _kernels
from tensorkit.sketch import (
    SRDCT,
    SRHT,
    ComposedSketch,
    CountSketch,
    GaussianSketch,
    KroneckerSketch,
    SparseSign,
    make_sketch,
)
from tensorkit.tenalg import khatri_rao

ROW_SKETCHES = [
    lambda m, s: GaussianSketch(m, random_state=s),
    lambda m, s: SRHT(m, random_state=s),
    lambda m, s: SRDCT(m, random_state=s),
    lambda m, s: CountSketch(m, random_state=s),
    lambda m, s: SparseSign(m, nnz_per_column=3, random_state=s),
    lambda m, s: ComposedSketch(SparseSign(12, nnz_per_column=2, random_state=s),
                                GaussianSketch(m, random_state=s + 1)),
]
IDS = ["gaussian", "srht", "srdct", "countsketch", "sparse_sign", "composed"]


@pytest.mark.parametrize("make", ROW_SKETCHES, ids=IDS)
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_apply_matches_explicit_matrix_and_vectors(make, backend):
    rng = np.random.default_rng(0)
    op = make(6, 3)
    A = rng.standard_normal((13, 4))
    S = op.to_dense(13)
    assert S.shape == (6, 13)
    SA = op.apply(A, backend=backend)
    np.testing.assert_allclose(SA, S @ A, atol=1e-12)
    # the same S for a vector (fixed by random_state and n)
    np.testing.assert_allclose(op.apply(A[:, 2], backend=backend), SA[:, 2], atol=1e-12)
    # float32 keeps its dtype and the same S
    SA32 = op.apply(A.astype(np.float32), backend=backend)
    assert SA32.dtype == np.float32
    np.testing.assert_allclose(SA32, SA, rtol=1e-4, atol=1e-4)
    # another seed gives another S
    assert not np.allclose(make(6, 4).to_dense(13), S)


@pytest.mark.parametrize("make", ROW_SKETCHES, ids=IDS)
def test_isotropy_in_expectation(make):
    """E[S^T S] = I: averaged over 400 seeds, within a few standard errors."""
    n = 8
    mean = sum(make(6, s).to_dense(n).T @ make(6, s).to_dense(n) for s in range(400)) / 400
    assert np.abs(mean - np.eye(n)).max() < 0.35


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("n", [1, 2, 16, 64])
def test_fwht_equals_hadamard_matrix(backend, n):
    X = np.random.default_rng(n).standard_normal((n, 3))
    np.testing.assert_allclose(_kernels.fwht(X.copy(), backend), hadamard(n) @ X, atol=1e-12)


def test_srht_is_signed_subsampled_hadamard():
    """sqrt(m) S = P H D with n = 11 padded to 16: some sign vector D turns every row of
    sqrt(m) S into a distinct row of H (restricted to the first n columns)."""
    n, m = 11, 9
    S = SRHT(m, random_state=5).to_dense(n)
    H = hadamard(16)[:, :n]
    scaled = np.sqrt(m) * S
    np.testing.assert_allclose(np.abs(scaled), 1.0)

    def rows_of_h(D):
        found = []
        for row in scaled * D:
            hits = [k for k in range(16) if np.array_equal(row, H[k])]
            if not hits:
                return None
            found.append(hits[0])
        return found

    candidates = [rows_of_h(scaled[0] * H[k0]) for k0 in range(16)]
    assert any(c is not None and len(set(c)) == m for c in candidates)
    full = SRHT(16, random_state=5).to_dense(n)
    np.testing.assert_allclose(full.T @ full, np.eye(n), atol=1e-12)


def test_srdct_is_signed_subsampled_dct():
    n, m = 10, 6
    S = SRDCT(m, random_state=2).to_dense(n)
    C = scipy.fft.dct(np.eye(n), type=2, norm="ortho", axis=0)
    scaled = np.sqrt(m / n) * S
    D = None
    used = set()
    for row in scaled:
        k = next(k for k in range(n) if np.allclose(np.abs(row), np.abs(C[k])) and k not in used)
        used.add(k)
        d_row = np.sign(row) * np.sign(C[k])
        nz = np.abs(C[k]) > 1e-12
        if D is None:
            D = d_row
        np.testing.assert_array_equal(d_row[nz], D[nz])
    full = SRDCT(n, random_state=2).to_dense(n)
    np.testing.assert_allclose(full.T @ full, np.eye(n), atol=1e-12)


def test_countsketch_and_sparse_sign_structure():
    S = CountSketch(7, random_state=1).to_dense(40)
    assert np.all(np.count_nonzero(S, axis=0) == 1)
    np.testing.assert_allclose(np.abs(S).sum(axis=0), 1.0)
    S = SparseSign(12, nnz_per_column=4, random_state=1).to_dense(40)
    assert np.all(np.count_nonzero(S, axis=0) == 4)
    np.testing.assert_allclose(np.abs(S[S != 0]), 0.5)
    # one nonzero in each block of 3 rows
    for j in range(4):
        assert np.all(np.count_nonzero(S[3 * j:3 * j + 3], axis=0) == 1)


def test_fortran_ordered_input_gives_the_same_sketch():
    A = np.random.default_rng(3).standard_normal((50, 5))
    for op in (CountSketch(9, random_state=0), SparseSign(9, random_state=0)):
        np.testing.assert_allclose(op.apply(np.asfortranarray(A)), op.apply(A), atol=1e-12)


def test_apply_block_sums_to_a_sketch_independent_of_order():
    A = np.random.default_rng(4).standard_normal((30, 3))
    op = CountSketch(8, random_state=9)
    blocks = [A[:10], A[10:25], A[25:]]
    total = sum(op.apply_block(blk, i) for i, blk in enumerate(blocks))
    again = sum(op.apply_block(blocks[i], i) for i in (2, 0, 1))
    np.testing.assert_allclose(total, again, atol=1e-12)
    with pytest.raises(ValueError, match="cannot be applied by row blocks"):
        SRHT(8, random_state=0).apply_block(A, 0)


def test_kronecker_sketch_matches_explicit_khatri_rao():
    rng = np.random.default_rng(6)
    shapes = (4, 3, 5)
    factors = [rng.standard_normal((s, 2)) for s in shapes]
    op = KroneckerSketch(7, shapes, random_state=11)
    KR = khatri_rao(factors)
    expected = op.apply(KR)
    np.testing.assert_allclose(op.apply_khatri_rao(factors), expected, atol=1e-12)
    # and apply equals the explicit row-wise Kronecker matrix
    G = op.factor_sketches()
    S = np.stack([np.kron(np.kron(G[0][r], G[1][r]), G[2][r]) for r in range(7)]) / np.sqrt(7)
    np.testing.assert_allclose(expected, S @ KR, atol=1e-12)
    np.testing.assert_allclose(op.apply(KR[:, 0]), expected[:, 0], atol=1e-12)


def test_kronecker_sketch_bad_input():
    op = KroneckerSketch(5, (3, 4), random_state=0)
    with pytest.raises(ValueError, match="12"):
        op.apply(np.ones((11, 2)))
    with pytest.raises(ValueError, match="factors"):
        op.apply_khatri_rao([np.ones((3, 2))])
    with pytest.raises(ValueError, match="shapes"):
        KroneckerSketch(5, (), random_state=0)


def test_bad_operator_arguments():
    with pytest.raises(ValueError, match="sketch_size"):
        GaussianSketch(0)
    with pytest.raises(TypeError, match="sketch_size"):
        GaussianSketch(2.5)
    with pytest.raises(ValueError, match="random_state"):
        GaussianSketch(3, random_state=-1)
    with pytest.raises(ValueError, match="nnz_per_column"):
        SparseSign(3, nnz_per_column=4)
    with pytest.raises(ValueError, match="sketch must be one of"):
        make_sketch("hadamard", 4)
    with pytest.raises(ValueError, match="exceeds"):
        SRHT(40, random_state=0).apply(np.ones((20, 2)))
    with pytest.raises(TypeError, match="real"):
        GaussianSketch(3).apply(np.ones((5, 2), dtype=complex))
    with pytest.raises(ValueError, match="vector or a matrix"):
        GaussianSketch(3).apply(np.ones((5, 2, 2)))


def test_operator_pickles_without_its_cached_draw():
    import pickle

    op = CountSketch(5, random_state=3)
    A = np.random.default_rng(0).standard_normal((20, 2))
    SA = op.apply(A)
    clone = pickle.loads(pickle.dumps(op))
    assert "_last_draw" not in clone.__dict__
    np.testing.assert_allclose(clone.apply(A), SA)
