"""ObservedTensor: construction checks, conversions, split, archives, pickling, text formats."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from tensorkit.observed import ObservedTensor, read_coo_text, read_tns, write_coo_text, write_tns


def _random(seed=0, shape=(5, 6, 7), nnz=40):
    rng = np.random.default_rng(seed)
    cells = rng.choice(int(np.prod(shape)), nnz, replace=False)
    return ObservedTensor(np.stack(np.unravel_index(cells, shape), axis=1), rng.standard_normal(nnz), shape)


def test_attributes_and_dense_round_trip():
    obs = _random()
    assert (obs.ndim, obs.nnz, obs.dtype) == (3, 40, np.float64)
    assert obs.density == pytest.approx(40 / 210)
    assert obs.indices.dtype == np.int64
    dense = obs.to_dense()
    assert np.isnan(dense).sum() == 210 - 40
    back = ObservedTensor.from_dense(dense)
    order = np.lexsort(obs.indices.T[::-1])
    np.testing.assert_array_equal(back.indices, obs.indices[order])
    np.testing.assert_array_equal(back.values, obs.values[order])


def test_from_dense_with_mask():
    X = np.arange(6.0).reshape(2, 3)
    mask = np.array([[True, False, False], [False, True, True]])
    obs = ObservedTensor.from_dense(X, mask=mask)
    assert obs.values.tolist() == [0.0, 4.0, 5.0]
    with pytest.raises(TypeError, match="boolean"):
        ObservedTensor.from_dense(X, mask=mask.astype(int))
    with pytest.raises(ValueError, match="mask has shape"):
        ObservedTensor.from_dense(X, mask=mask[:, :2])


@pytest.mark.parametrize(
    ("indices", "values", "error", "match"),
    [
        ([[0, 0], [2, 1]], [1.0, 2.0], ValueError, r"indices\[1\] = \(2, 1\) is out of range"),
        ([[0, -1]], [1.0], ValueError, r"indices\[0\] = \(0, -1\)"),
        ([[0, 0], [1, 1], [0, 0]], [1.0, 2.0, 3.0], ValueError, "duplicate cells .*from_duplicates"),
        ([[0, 0], [1, 1]], [1.0, np.nan], ValueError, "non-finite"),
        ([[0, 0], [1, 1]], [1.0, np.inf], ValueError, "non-finite"),
        (np.array([[0.0, 0.0]]), [1.0], TypeError, "integer array"),
        (np.array([[True, False]]), [1.0], TypeError, "integer array"),
        ([[0, 0, 0]], [1.0], ValueError, r"shape \(nnz, order\)"),
        ([[0, 0]], [[1.0]], ValueError, "1-D"),
    ],
)
def test_bad_construction(indices, values, error, match):
    with pytest.raises(error, match=match):
        ObservedTensor(indices, values, (2, 2))


def test_bad_shape():
    with pytest.raises(TypeError, match="bool"):
        ObservedTensor([[0]], [1.0], (True,))
    with pytest.raises(ValueError, match=">= 1"):
        ObservedTensor([[0, 0]], [1.0], (2, 0))


def test_from_duplicates():
    obs = ObservedTensor.from_duplicates([[0, 1], [1, 0], [0, 1]], [1.0, 2.0, 5.0], (2, 2))
    assert dict(zip(map(tuple, obs.indices.tolist()), obs.values.tolist(), strict=True)) == {
        (0, 1): 3.0, (1, 0): 2.0}
    total = ObservedTensor.from_duplicates([[0, 1], [0, 1]], [1.0, 2.0], (2, 2), reduce="sum")
    assert total.values.tolist() == [3.0]
    with pytest.raises(ValueError, match="reduce"):
        ObservedTensor.from_duplicates([[0, 1]], [1.0], (2, 2), reduce="max")


def test_split_is_a_disjoint_partition():
    obs = _random(nnz=100)
    parts = obs.split((0.8, 0.1, 0.1), random_state=0)
    assert [p.nnz for p in parts] == [80, 10, 10]
    cells = np.concatenate([p.indices for p in parts])
    assert len({tuple(c) for c in cells.tolist()}) == 100
    again = obs.split((0.8, 0.1, 0.1), random_state=0)
    np.testing.assert_array_equal(parts[1].indices, again[1].indices)
    assert obs.split((0.5,), random_state=1)[0].nnz == 50


@pytest.mark.parametrize("fractions", [(0.9, 0.2), (0.5, -0.1), (1.0, 0.0)])
def test_split_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions"):
        _random().split(fractions)


def test_split_refuses_an_empty_part():
    with pytest.raises(ValueError, match="empty"):
        _random(nnz=10).split((0.99, 0.01))


def test_save_load_and_pickle(tmp_path):
    obs = _random()
    obs.save(tmp_path / "obs.npz")
    for back in (ObservedTensor.load(tmp_path / "obs.npz"), pickle.loads(pickle.dumps(obs))):
        assert back.shape == obs.shape
        np.testing.assert_array_equal(back.indices, obs.indices)
        np.testing.assert_array_equal(back.values, obs.values)
    with pytest.raises(ValueError, match="format"):
        from tensorkit.io import save_archive

        save_archive(tmp_path / "other.npz", "tensorkit.CPTensor", 1, weights=np.ones(1))
        ObservedTensor.load(tmp_path / "other.npz")


@pytest.mark.parametrize(("write", "read", "base"), [(write_tns, read_tns, 1),
                                                      (write_coo_text, read_coo_text, 0)])
def test_text_round_trip(tmp_path, write, read, base):
    obs = _random()
    path = tmp_path / "x.tns"
    write(path, obs)
    first = path.read_text().splitlines()[0].split()
    assert int(first[0]) == obs.indices[0, 0] + base
    back = read(path, shape=obs.shape)
    np.testing.assert_array_equal(back.indices, obs.indices)
    np.testing.assert_array_equal(back.values, obs.values)  # repr precision: exact
    inferred = read(path)
    assert inferred.shape == tuple(int(m) + 1 for m in obs.indices.max(axis=0))


def test_tns_reads_comments_and_reports_the_bad_line(tmp_path):
    path = tmp_path / "x.tns"
    path.write_text("# a comment\n1 1 1 0.5\n\n2 3 1 1.5\n2 x 1 2.0\n")
    with pytest.raises(ValueError, match=r"line 5: expected integer indices"):
        read_tns(path)
    path.write_text("1 1 1 0.5\n2 3 1.5\n")
    with pytest.raises(ValueError, match=r"line 2: expected 3 indices and a value"):
        read_tns(path)
    path.write_text("1 1 1 0.5\n0 3 1 1.5\n")
    with pytest.raises(ValueError, match=r"line 2: indices are 1-based"):
        read_tns(path)
    path.write_text("1 1 1 0.5\n1 2 1 nan\n")
    with pytest.raises(ValueError, match=r"line 2: the value must be finite"):
        read_tns(path)
    path.write_text("1 1 1 0.5\n3 1 1 1.5\n")
    with pytest.raises(ValueError, match=r"out of range"):
        read_tns(path, shape=(2, 2, 2))
    path.write_text("1 1 0.5\n2 2 1.5\n")
    assert read_tns(path).shape == (2, 2)


def test_write_is_atomic_and_checks_its_input(tmp_path):
    with pytest.raises(TypeError, match="ObservedTensor"):
        write_tns(tmp_path / "x.tns", np.ones(3))
    assert not list(tmp_path.iterdir())


def test_to_dense_is_guarded():
    obs = ObservedTensor([[0, 0, 0]], [1.0], (10**6, 10**6, 10**6))
    with pytest.raises(MemoryError, match="dense tensor"):
        obs.to_dense()
