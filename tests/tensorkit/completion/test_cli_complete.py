"""``tensorkit complete``: tiny runs end to end (dense with NaN, .tns, HDF5), and bad input (one line,
exit code 2, nothing written)."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import numpy as np
import pytest

import tensorkit
import tensorkit.cli
from tensorkit.cli import main
from tensorkit.completion import NeuralCompletion
from tensorkit.observed import ObservedTensor, write_tns

_COMMAND = EntryPoint(name="complete", value="tensorkit.completion._cli:register_complete",
                      group="tensorkit.commands")


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    """Until the entry point is in the installed metadata, add it to what the CLI discovers."""
    original = tensorkit.cli.entry_points

    def entry_points(*, group):
        found = list(original(group=group))
        if group == "tensorkit.commands" and not any(ep.name == "complete" for ep in found):
            found.append(_COMMAND)
        return found

    monkeypatch.setattr(tensorkit.cli, "entry_points", entry_points)


def _planted(shape=(12, 10, 8), rank=2, observed=0.4, seed=0):
    rng = np.random.default_rng(seed)
    X = tensorkit.CPTensor(np.ones(rank), [rng.standard_normal((n, rank)) for n in shape]).to_dense()
    missing = rng.random(shape) > observed
    return X, np.where(missing, np.nan, X)


def test_dense_npy_als_writes_model_and_dense(tmp_path, capsys):
    X, Xm = _planted()
    np.save(tmp_path / "x.npy", Xm)
    out = tmp_path / "model.npz"
    code = main(["complete", str(tmp_path / "x.npy"), "--rank", "2", "--reg", "1e-9", "-o", str(out),
                 "--dense", "--no-progress"])
    text = capsys.readouterr().out
    assert code == 0
    assert "NRMSE" in text and "validation" in text
    nrmse = float(text.split("NRMSE")[1].split()[0])
    assert nrmse < 1e-3
    model = tensorkit.CPTensor.load(out)
    dense = np.load(tmp_path / "model-dense.npy")
    observed = ~np.isnan(Xm)
    np.testing.assert_array_equal(dense[observed], Xm[observed])  # observed cells kept
    np.testing.assert_allclose(dense, X, atol=1e-3 * np.abs(X).max())
    np.testing.assert_allclose(model.to_dense(), X, atol=1e-3 * np.abs(X).max())


def test_tns_tucker_and_hdf5_wopt(tmp_path, capsys):
    _, Xm = _planted(seed=1)
    write_tns(tmp_path / "x.tns", ObservedTensor.from_dense(Xm))
    out = tmp_path / "t.npz"
    assert main(["complete", str(tmp_path / "x.tns"), "--rank", "2,2,2", "--method", "tucker",
                 "-o", str(out), "--no-progress"]) == 0
    assert tensorkit.TuckerTensor.load(out).ranks == (2, 2, 2)
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "x.h5", "w") as fh:
        fh["data"] = Xm
    out = tmp_path / "w.npz"
    assert main(["complete", str(tmp_path / "x.h5"), "--dataset", "data", "--rank", "2", "--method", "wopt",
                 "--validation", "0.2", "--seed", "3", "-o", str(out), "--no-progress"]) == 0
    assert "NRMSE" in capsys.readouterr().out
    assert tensorkit.CPTensor.load(out).rank == 2


def test_neural_writes_a_loadable_checkpoint(tmp_path, capsys):
    _, Xm = _planted(shape=(6, 5, 4), observed=0.6)
    np.savez(tmp_path / "x.npz", t=Xm)
    out = tmp_path / "n.npz"
    assert main(["complete", str(tmp_path / "x.npz"), "--key", "t", "--rank", "4", "--method", "neural",
                 "--n-iter-max", "2", "-o", str(out), "--dense", "--no-progress"]) == 0
    assert "epochs" in capsys.readouterr().out
    model = NeuralCompletion.from_checkpoint(out)
    assert model.shape == (6, 5, 4) and model.embedding_dim == 4
    assert np.load(tmp_path / "n-dense.npy").shape == (6, 5, 4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rank", "0"], "--rank"),
        (["--rank", "two"], "--rank"),
        (["--rank", "2,2"], "one integer"),
        (["--rank", "2", "--validation", "1.5"], "--validation"),
        (["--rank", "2", "-o", "{tmp}/no/such/dir/m.npz"], "does not exist"),
        (["--rank", "2", "-o", "{tmp}/m.txt"], ".npz"),
        (["--rank", "2", "--input", "empty"], "no observed cell"),
        (["--rank", "2", "--input", "bad.tns"], "line 2"),
        (["--rank", "2", "--input", "missing.npy"], "does not exist"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, args, message):
    _, Xm = _planted(shape=(5, 4, 3))
    np.save(tmp_path / "x.npy", Xm)
    np.save(tmp_path / "empty.npy", np.full((3, 3, 3), np.nan))
    (tmp_path / "bad.tns").write_text("1 1 1 2.0\n1 x 1 3.0\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    source = tmp_path / "x.npy"
    if "--input" in args:
        at = args.index("--input")
        name = args[at + 1]
        source = tmp_path / (name if name.endswith((".tns", ".npy")) else f"{name}.npy")
        del args[at:at + 2]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "m.npz")]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["complete", str(source), *args, "--dense", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before
