"""tensorkit.io (issue 10): file modes, object arrays, malformed archives, NaN reported."""

import os
import stat

import numpy as np
import pytest

from tensorkit.io import (
    ArchiveKeyError,
    atomic_path,
    load_archive,
    load_array,
    save_archive,
    save_array,
)
from tensorkit.nn import Linear


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_new_files_get_the_umask_mode(tmp_path, umask_022):
    save_array(tmp_path / "a.npy", np.ones(3))
    assert _mode(tmp_path / "a.npy") == 0o644
    save_archive(tmp_path / "b.npz", "fmt", 1, x=np.ones(2))
    assert _mode(tmp_path / "b.npz") == 0o644
    Linear(2, 2).save(tmp_path / "m.npz")
    assert _mode(tmp_path / "m.npz") == 0o644
    os.umask(0o077)
    save_array(tmp_path / "private.npy", np.ones(3))
    assert _mode(tmp_path / "private.npy") == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o664, 0o640])
def test_overwriting_keeps_the_old_mode(tmp_path, umask_022, mode):
    path = tmp_path / "a.npy"
    path.write_bytes(b"old")
    os.chmod(path, mode)
    save_array(path, np.ones(3))
    assert _mode(path) == mode
    np.testing.assert_array_equal(load_array(path), np.ones(3))


def test_atomic_path_failure_leaves_the_old_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("new")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_path_refuses_a_directory_target(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"), atomic_path(tmp_path):
        pass
    with pytest.raises(FileNotFoundError, match="does not exist"), atomic_path(tmp_path / "no" / "x.npy"):
        pass


def test_object_arrays_are_refused_at_save(tmp_path):
    with pytest.raises(TypeError, match="array has dtype object"):
        save_array(tmp_path / "a.npy", np.array([1, "a"], dtype=object))
    with pytest.raises(TypeError, match="array 'x' has dtype object"):
        save_archive(tmp_path / "b.npz", "fmt", 1, x=np.array([None]))
    assert not list(tmp_path.iterdir())


def _archive(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("arrays, match", [
    ({"x": np.ones(2), "version": np.asarray(1)}, "no 'format' key"),
    ({"x": np.ones(2), "format": np.asarray("fmt")}, "no 'version' key"),
    ({"format": np.asarray("fmt"), "version": np.asarray("one")}, "'version' must be an integer, got 'one'"),
    ({"format": np.asarray("fmt"), "version": np.asarray(1.5)}, "'version' must be an integer"),
    ({"format": np.asarray("fmt"), "version": np.asarray([1, 2])}, "'version' must be an integer"),
    ({"format": np.asarray("fmt"), "version": np.asarray(7)}, "version 7"),
    ({"format": np.asarray("fmt"), "version": np.asarray(0)}, "version 0"),
    ({"format": np.asarray("other"), "version": np.asarray(1)}, "holds format 'other'"),
])
def test_malformed_archives_raise_value_error_naming_file_and_key(tmp_path, arrays, match):
    path = _archive(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=match) as info:
        load_archive(path, "fmt", 2)
    assert "bad.npz" in str(info.value)


def test_version_written_as_a_digit_string_is_read(tmp_path):
    path = _archive(tmp_path / "s.npz", format=np.asarray("fmt"), version=np.asarray("2"), x=np.ones(1))
    assert set(load_archive(path, "fmt", 2)) == {"x"}


def test_a_missing_key_names_the_file_and_the_key(tmp_path):
    save_archive(tmp_path / "a.npz", "fmt", 1, x=np.ones(2))
    data = load_archive(tmp_path / "a.npz", "fmt", 1)
    with pytest.raises(ValueError, match=r"a.npz' has no key 'factors'.*holds \['x'\]") as info:
        data["factors"]
    assert isinstance(info.value, KeyError) and isinstance(info.value, ArchiveKeyError)
    assert data.get("factors") is None


def test_unreadable_archive(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read .*junk.npz"):
        load_archive(path, "fmt", 1)


def test_nan_in_an_archive_is_reported(tmp_path):
    x = np.ones(3)
    x[0] = np.nan
    save_archive(tmp_path / "a.npz", "fmt", 1, x=x, y=np.ones(2))
    with pytest.warns(RuntimeWarning, match=r"holds NaN or Inf entries: 'x' \(1\)"):
        load_archive(tmp_path / "a.npz", "fmt", 1)
    with pytest.raises(ValueError, match="'x'"):
        load_archive(tmp_path / "a.npz", "fmt", 1, nonfinite="raise")
    out = load_archive(tmp_path / "a.npz", "fmt", 1, nonfinite="allow")
    assert np.isnan(out["x"][0])
    with pytest.raises(ValueError, match="nonfinite"):
        load_archive(tmp_path / "a.npz", "fmt", 1, nonfinite="ignore")


def test_nan_in_a_loaded_array_warns(tmp_path):
    save_array(tmp_path / "a.npy", np.array([1.0, np.inf, np.nan]))
    with pytest.warns(RuntimeWarning, match="holds 2 NaN or Inf entries"):
        load_array(tmp_path / "a.npy")


def test_load_array_refuses_a_directory_and_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        load_array(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        load_array(tmp_path / "none.npy")
    with pytest.raises(ValueError, match="unsupported input format '.txt'"):
        (tmp_path / "a.txt").write_text("1")
        load_array(tmp_path / "a.txt")


def test_load_array_npz_keys(tmp_path):
    np.savez(tmp_path / "a.npz", a=np.ones(1), b=np.zeros(1))
    with pytest.raises(ValueError, match="name one with key"):
        load_array(tmp_path / "a.npz")
    with pytest.raises(ValueError, match="has no array 'c'"):
        load_array(tmp_path / "a.npz", key="c")
    np.testing.assert_array_equal(load_array(tmp_path / "a.npz", key="b"), np.zeros(1))


def test_object_npy_written_elsewhere_is_refused_on_load(tmp_path):
    np.save(tmp_path / "o.npy", np.array([1, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="cannot read"):
        load_array(tmp_path / "o.npy")
