"""Formats: dense reconstruction, tensorly interop, save/load, pickling, sizes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import tensorly as tl

from tensorkit import CPTensor, TTTensor, TuckerTensor, tucker

RNG = np.random.default_rng(0)


def make_tucker():
    core = RNG.standard_normal((2, 3, 4))
    factors = [RNG.standard_normal((n, r)) for n, r in [(5, 2), (6, 3), (7, 4)]]
    return TuckerTensor(core, factors)


def make_cp():
    return CPTensor(RNG.standard_normal(3), [RNG.standard_normal((n, 3)) for n in (4, 5, 6)])


def test_tucker_dense_matches_tensorly_and_round_trips():
    T = make_tucker()
    np.testing.assert_allclose(T.to_dense(), tl.tucker_to_tensor(T.to_tensorly()), rtol=1e-13)
    back = TuckerTensor.from_tensorly(T.to_tensorly())
    np.testing.assert_array_equal(back.core, T.core)
    core, factors = T  # unpacks like tensorly's
    assert core is T.core and len(factors) == 3
    assert T.shape == (5, 6, 7) and T.ranks == (2, 3, 4)
    assert T.compression_ratio == pytest.approx(210 / (24 + 10 + 18 + 28))
    assert T.nbytes == 8 * (24 + 10 + 18 + 28)


def test_cp_dense_matches_tensorly_and_einsum():
    C = make_cp()
    w, (a, b, c) = C
    np.testing.assert_allclose(C.to_dense(), np.einsum("r,ir,jr,kr->ijk", w, a, b, c), rtol=1e-12)
    np.testing.assert_allclose(C.to_dense(), tl.cp_to_tensor(C.to_tensorly()), rtol=1e-12)
    assert CPTensor.from_tensorly((None, [a, b, c])).weights.tolist() == [1.0, 1.0, 1.0]
    assert C.rank == 3 and C.compression_ratio == pytest.approx(120 / 48)


@pytest.mark.parametrize("make", [make_tucker, make_cp])
def test_save_load_and_pickle(tmp_path, make):
    obj = make()
    path = tmp_path / "obj.npz"
    obj.save(path)
    loaded = type(obj).load(path)
    np.testing.assert_array_equal(loaded.to_dense(), obj.to_dense())
    clone = pickle.loads(pickle.dumps(obj))
    np.testing.assert_array_equal(clone.to_dense(), obj.to_dense())
    assert not list(tmp_path.glob(".*tmp")), "temporary file left behind"


def test_load_rejects_other_formats_and_versions(tmp_path):
    make_cp().save(tmp_path / "cp.npz")
    with pytest.raises(ValueError, match="expected 'tensorkit.TuckerTensor'"):
        TuckerTensor.load(tmp_path / "cp.npz")
    np.savez(tmp_path / "future.npz", format="tensorkit.TuckerTensor", version=99, core=np.ones(1))
    with pytest.raises(ValueError, match="version 99"):
        TuckerTensor.load(tmp_path / "future.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read"):
        TuckerTensor.load(tmp_path / "junk.npz")


def test_decomposition_info_survives_and_constructor_checks():
    T = tucker(RNG.standard_normal((5, 6, 7)), rank=2)
    assert T.info.method == "st_hosvd"
    with pytest.raises(ValueError, match=r"factors\[1\] must have shape"):
        TuckerTensor(np.ones((2, 2)), [np.ones((3, 2)), np.ones((3, 3))])
    with pytest.raises(ValueError, match="core has 2 modes but 3 factors"):
        TuckerTensor(np.ones((2, 2)), [np.ones((3, 2))] * 3)
    with pytest.raises(ValueError, match=r"factors\[0\] must have shape"):
        CPTensor(np.ones(2), [np.ones((3, 3))])


def test_to_dense_refuses_what_cannot_fit_before_allocating():
    huge = TuckerTensor(np.ones((1, 1, 1)), [np.ones((100_000, 1))] * 3)
    with pytest.raises(MemoryError, match=r"needs 7450580.6 GiB .*work with the factored form"):
        huge.to_dense()
    with pytest.raises(MemoryError, match="the dense tensor of shape"):
        CPTensor(np.ones(1), [np.ones((100_000, 1))] * 3).to_dense()


def test_lists_of_numbers_become_arrays():
    """Formats are containers users build from their own data: nested lists are converted."""
    T = make_tucker()
    from_lists = TuckerTensor(T.core.tolist(), [f.tolist() for f in T.factors])
    np.testing.assert_array_equal(from_lists.to_dense(), T.to_dense())
    C = make_cp()
    from_lists = CPTensor(C.weights.tolist(), [f.tolist() for f in C.factors])
    np.testing.assert_array_equal(from_lists.to_dense(), C.to_dense())
    cores = [RNG.standard_normal(s) for s in [(1, 3, 2), (2, 4, 1)]]
    np.testing.assert_array_equal(TTTensor([c.tolist() for c in cores]).to_dense(),
                                  TTTensor(cores).to_dense())


def test_what_is_not_an_array_of_numbers_is_a_type_error():
    with pytest.raises(TypeError, match="core must be an array, got list"):
        TuckerTensor([[1.0, 2.0], [3.0]], [np.eye(2)] * 2)
    with pytest.raises(TypeError, match=r"factors\[1\] must hold numbers"):
        TuckerTensor(np.ones((2, 2)), [np.eye(2), [["a", "b"], ["c", "d"]]])
    with pytest.raises(TypeError, match="factors must be a sequence of arrays, got int"):
        CPTensor(np.ones(2), 3)
    with pytest.raises(TypeError, match=r"cores\[0\] must hold numbers"):
        TTTensor([[["x"]]])


def test_every_decomposition_result_carries_the_one_info_record():
    import tensorkit
    from tensorkit import Info, cp, tt
    from tensorkit.formats import DecompositionInfo

    assert DecompositionInfo is Info and tensorkit.DecompositionInfo is Info
    X = RNG.standard_normal((5, 6, 7))
    results = [tucker(X, rank=2, method=m, random_state=0) for m in ("hosvd", "st_hosvd", "randomized")]
    results += [tucker(X, rank=2, method="hooi", n_iter_max=200), cp(X, 2, stop_tol=1e-6),
                tt(X, rank=2)]
    for result in results:
        assert type(result.info) is Info
        assert result.info.rel_error == pytest.approx(
            np.linalg.norm(X - result.to_dense()) / np.linalg.norm(X), rel=1e-6)
    assert [r.info.method for r in results] == ["hosvd", "st_hosvd", "randomized", "hooi", "cp_als",
                                               "tt_svd"]
