"""``tensorkit train fno``: a tiny run end to end, the checkpoint, and bad input (exit code 2)."""

from __future__ import annotations

import numpy as np
import pytest

from tensorkit.cli import main
from tensorkit.io import load_archive

TINY = ["--resolution", "12", "--samples", "20", "--epochs", "2", "--modes", "4", "--width", "6",
        "--layers", "2", "--batch-size", "10", "--no-progress"]


def test_train_fno_tiny_run(tmp_path, capsys):
    out = tmp_path / "fno.npz"
    assert main(["train", "fno", *TINY, "--factorization", "tucker", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "test error" in text and "parameters" in text
    checkpoint = load_archive(out, "tensorkit.nn.TrainerCheckpoint", 1)
    assert int(checkpoint["epoch"]) == 2
    assert np.all(np.isfinite(checkpoint["history/val_metric"]))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--modes", "20"], "--modes"),
        (["--resolution", "2"], "--resolution"),
        (["--epochs", "0"], "--epochs"),
        (["-o", "model.txt"], ".npz"),
        (["-o", "/no/such/dir/model.npz"], "does not exist"),
    ],
)
def test_bad_input(extra, message, capsys):
    assert main(["train", "fno", *TINY, *extra]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_diverging_run_stops_with_a_clear_message(tmp_path, capsys):
    out = tmp_path / "fno.npz"
    assert main(["train", "fno", *TINY, "--lr", "1e12", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "training loss is nan" in err and "step" in err


NS = ["--problem", "navier-stokes", "--resolution", "16", "--samples", "4", "--test-samples", "2",
      "--t-final", "2", "--epochs", "1", "--modes", "4", "--width", "4", "--layers", "1",
      "--batch-size", "4", "--no-progress"]


@pytest.mark.parametrize("model", ["fno", "tfno", "mgtfno", "mgtfno2l"])
def test_train_navier_stokes_tiny_run(model, capsys):
    extra = ["--padding", "0.125"] if model.startswith("mgtfno") else []
    assert main(["train", "fno", *NS, "--model", model, "--loss", "h1", *extra]) == 0
    text = capsys.readouterr().out
    assert "Navier-Stokes 16x16" in text and "rollout" in text and model.upper() in text


def test_train_darcy_mgtfno_and_navier_stokes_from_a_file(tmp_path, capsys):
    assert main(["train", "fno", *TINY, "--resolution", "16", "--model", "mgtfno", "--padding", "0.125"]) == 0
    from physics.pde import navier_stokes2d, save_navier_stokes

    w, t = navier_stokes2d(5, 16, t_final=2, n_snapshots=3, random_state=0, progress=False)
    path = tmp_path / "ns.npz"
    save_navier_stokes(path, w, t)
    assert main(["train", "fno", *NS, "--data", str(path)]) == 0
    assert "3 train flows" in capsys.readouterr().out
    bad = tmp_path / "bad.npz"
    save_navier_stokes(bad, w[:, :, :, :15], t)
    assert main(["train", "fno", *NS, "--data", str(bad)]) == 2
    assert "periodic grid" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--resolution", "15"], "even"),
        (["--model", "mgtfno", "--resolution", "24", "--levels", "2"], "divisible by 4^levels"),
        (["--model", "mgtfno", "--padding", "0.75"], "padding_fraction"),
        (["--model", "mgtfno2l", "--levels", "0"], "--levels must be >= 1 for --model mgtfno2l"),
        (["--model", "mgtfno2l", "--coarse-width", "0"], "--coarse-width must be positive"),
        (["--viscosity", "0"], "--viscosity"),
        (["--dt", "0.5"], "CFL"),
        (["--dt", "-1"], "--dt"),
        (["--data", "missing.npz"], "existing file"),
    ],
)
def test_navier_stokes_bad_input(extra, message, capsys):
    assert main(["train", "fno", *NS, *extra]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("problem", "extra", "embedding"), [
    (NS, ["--model", "mgtfno", "--padding", "0.125"], "periodic"),
    (NS, ["--model", "tfno", "--embedding", "grid", "--schedule", "cosine"], "grid"),
    (TINY, ["--schedule", "cosine"], "dirichlet"),
    (TINY, ["--embedding", "grid", "--ema", "0"], "grid"),
    (TINY, ["--model", "mgtfno", "--resolution", "16"], "grid"),
    (TINY, ["--model", "mgtfno", "--resolution", "16", "--embedding", "periodic"], "periodic"),
])
def test_embedding_and_schedule(problem, extra, embedding, capsys):
    """Navier-Stokes defaults to the periodic global coordinates (ahead of the patching for mgtfno),
    Darcy to the folded box with the Dirichlet bubble (each patch's grid for mgtfno); both take the
    others, and either learning-rate schedule."""
    assert main(["train", "fno", *problem, *extra]) == 0
    assert f"{embedding} embedding" in capsys.readouterr().out


@pytest.mark.parametrize(("extra", "message"), [
    (["--ema", "1"], "--ema must be in [0, 1)"),
    (["--ema", "-0.5"], "--ema must be in [0, 1)"),
    (["--model", "mgtfno", "--resolution", "16", "--embedding", "dirichlet"], "--embedding dirichlet is for"),
])
def test_darcy_ema_and_embedding_bad_input(extra, message, capsys):
    assert main(["train", "fno", *TINY, *extra]) == 2
    assert message in capsys.readouterr().err


def test_darcy_default_scores_the_weight_average():
    """The CLI's Darcy default trains the folded Dirichlet-embedded FNO and scores with ema 0.95:
    the same run with the average switched off scores the last weights instead, so the two differ
    while the training losses agree exactly."""
    import argparse

    from physics.cli import _check_args, _darcy_data, _model, register_train
    from physics.pde import fit_darcy

    parser = argparse.ArgumentParser()
    register_train(parser.add_subparsers(dest="command"))
    histories = []
    for ema in (None, "0"):
        args = parser.parse_args(["train", "fno", *TINY] + ([] if ema is None else ["--ema", ema]))
        _check_args(args)
        _, (x, y, x_test, y_test) = _darcy_data(args)
        model, _ = _model(args, in_channels=x.shape[1])
        assert model.periodic_fold and model.positional_embedding == "dirichlet"
        fit = fit_darcy(model, x[:, 0], y[:, 0], epochs=3, validation=(x_test[:, 0], y_test[:, 0]),
                        random_state=0, progress=False, ema=args.ema or None)
        histories.append(fit.history)
    np.testing.assert_array_equal(histories[0]["train_loss"], histories[1]["train_loss"])
    assert histories[0]["val_metric"][-1] != histories[1]["val_metric"][-1]


def test_bad_step_size(capsys):
    assert main(["train", "fno", *TINY, "--step-size", "0"]) == 2
    assert "--step-size" in capsys.readouterr().err
