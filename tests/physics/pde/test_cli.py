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
