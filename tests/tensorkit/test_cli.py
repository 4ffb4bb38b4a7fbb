"""The tensorkit command: compress (npy, npz, h5), bad input (exit 2, no output), demo."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tensorkit import TuckerTensor
from tensorkit.cli import main


@pytest.fixture
def tensor_file(tmp_path):
    x = np.linspace(-1, 1, 20)
    X = np.exp(-(x[:, None, None] ** 2 + 2 * x[None, :, None] ** 2 + x[None, None, :] ** 2))
    X = X + 0.5 * np.sin(x[:, None, None] + x[None, :, None] * x[None, None, :])
    path = tmp_path / "X.npy"
    np.save(path, X)
    return path, X


def test_compress_by_tolerance_writes_a_loadable_archive(tensor_file, tmp_path, capsys):
    path, X = tensor_file
    out = tmp_path / "X_tucker.npz"
    assert main(["compress", str(path), "--tol", "1e-6", "-o", str(out), "--no-progress"]) == 0
    T = TuckerTensor.load(out)
    assert np.linalg.norm(X - T.to_dense()) <= 1e-6 * np.linalg.norm(X)
    text = capsys.readouterr().out
    for word in ("ranks", "rel. error", "compression", "time"):
        assert word in text


def test_compress_npz_key_and_hdf5_dataset(tensor_file, tmp_path):
    _, X = tensor_file
    np.savez(tmp_path / "many.npz", a=X, b=X[:2])
    out = tmp_path / "o.npz"
    assert main(["compress", str(tmp_path / "many.npz"), "--key", "a", "--rank", "3", "-o", str(out)]) == 0
    assert TuckerTensor.load(out).ranks == (3, 3, 3)
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "X.h5", "w") as fh:
        fh["field"] = X
    out2 = tmp_path / "o2.npz"
    args = ["compress", str(tmp_path / "X.h5"), "--dataset", "field", "--rank", "2", "3", "4",
            "--method", "hooi", "-o", str(out2)]
    assert main(args) == 0
    assert TuckerTensor.load(out2).ranks == (2, 3, 4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rank", "99"], "exceeds the size of mode"),
        (["--tol", "2"], "tol must be < 1.0, got 2.0"),
        (["--tol", "0.1", "--key", "nope"], ""),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(tensor_file, tmp_path, capsys, args, message):
    path, _ = tensor_file
    out = tmp_path / "out.npz"
    code = main(["compress", str(path), *args, "-o", str(out)])
    err = capsys.readouterr().err
    if "--key" in args:  # a key on a .npy is ignored: this one succeeds
        assert code == 0
        return
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not out.exists() and not list(tmp_path.glob(".*tmp"))


def test_unreadable_inputs_exit_2(tmp_path, capsys):
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    nan = np.ones((3, 3, 3))
    nan[0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.savez(tmp_path / "two.npz", a=nan, b=nan)
    cases = [
        (tmp_path / "bad.npy", "cannot read"),
        (tmp_path / "missing.npy", "does not exist"),
        (tmp_path / "nan.npy", "non-finite"),
        (tmp_path / "two.npz", "name one with key"),
        (tmp_path / "X.csv", "does not exist"),
    ]
    for path, message in cases:
        assert main(["compress", str(path), "--rank", "1", "-o", str(tmp_path / "o.npz")]) == 2
        assert message in capsys.readouterr().err
    (tmp_path / "X.csv").write_text("1,2")
    assert main(["compress", str(tmp_path / "X.csv"), "--rank", "1", "-o", str(tmp_path / "o.npz")]) == 2
    assert "unsupported input format" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()


def test_rank_and_tol_are_exclusive_on_the_command_line(tensor_file, tmp_path):
    path, _ = tensor_file
    proc = subprocess.run(
        [sys.executable, "-m", "tensorkit.cli", "compress", str(path), "--rank", "2", "--tol", "0.1",
         "-o", str(tmp_path / "o.npz")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2 and "not allowed with" in proc.stderr


def test_demo_tucker_section_quick_with_plot(tmp_path, capsys):
    plot = tmp_path / "demo.png"
    assert main(["demo", "--quick", "--only", "tucker", "--plot", str(plot), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Indian Pines" in out and "compression" in out
    assert plot.stat().st_size > 1000


def test_demo_unknown_section(capsys):
    assert main(["demo", "--only", "nope"]) == 2
    assert "unknown demo section" in capsys.readouterr().err
