"""benchmarks/bench_navier_stokes.py end to end at a tiny size: the ``--paper`` protocol (10 input
snapshots -> the next one, rolled out) and the ``--full`` protocol's cache, pair subsampling and
cosine schedule, so that the GPU runs only change sizes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
TINY = ["--flows", "3", "--test-flows", "2", "--epochs", "2", "--width", "4", "--modes", "4",
        "--steps", "2", "--resolution", "16", "--batch-size", "4"]


@pytest.fixture(scope="module")
def bench():
    path = ROOT / "benchmarks" / "bench_navier_stokes.py"
    spec = importlib.util.spec_from_file_location("bench_navier_stokes", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paper_protocol_tiny(bench, tmp_path, capsys):
    out = tmp_path / "paper.json"
    assert bench.main(["--paper", *TINY, "--t-final", "13", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "protocol paper" in text and "(9 pairs, 10 -> 1)" in text and "FNO-2D 0.0128" in text
    result = json.loads(out.read_text())
    assert result["config"]["n_in"] == 10 and result["config"]["schedule"] == "step"
    assert set(result["results"]) == {"FNO", "TFNO", "MG-TFNO"}
    for r in result["results"].values():
        assert len(r["rollout"]) == 2 and len(r["history"]) == 2 and np.isfinite(r["rollout_space_time"])
        # the rollout's first step is the one-step validation pair
        assert np.isclose(r["rollout"][0], r["one_step"], rtol=1e-5)


def test_full_protocol_tiny_with_cache(bench, tmp_path, capsys):
    cache = tmp_path / "ns.npz"
    args = ["--full", *TINY, "--t-final", "5", "--pairs-per-flow", "2", "--models", "tfno,mgtfno",
            "--cache", str(cache)]
    assert bench.main([*args, "--json", str(tmp_path / "a.json")]) == 0
    first = capsys.readouterr().out
    assert cache.is_file() and "generated 5 flows" in first
    assert "(6 pairs, 1 -> 1)" in first and "mean of the last 5 epochs" in first
    assert bench.main([*args, "--json", str(tmp_path / "b.json")]) == 0
    assert "loaded" in capsys.readouterr().out
    a, b = (json.loads((tmp_path / f"{k}.json").read_text()) for k in "ab")
    assert a["config"]["schedule"] == "cosine"
    for model in ("TFNO", "MG-TFNO"):  # the same numbers from the cached flows
        assert a["results"][model]["history"] == b["results"][model]["history"]


def test_two_level_mgtfno_runs_and_is_compared_with_tfno(bench, tmp_path, capsys):
    out = tmp_path / "t.json"
    args = ["--full", *TINY, "--t-final", "4", "--pairs-per-flow", "1", "--models", "tfno,mgtfno2l",
            "--rank", "0.3", "--coarse-width", "3", "--coarse-channels", "2"]
    assert bench.main([*args, "--json", str(out)]) == 0
    assert "target MG-TFNO-2L (last epoch)" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert set(result["results"]) == {"TFNO", "MG-TFNO-2L"}
    assert (result["options"]["coarse_width"], result["options"]["coarse_channels"]) == (3, 2)
    cfg = dict(bench.PROTOCOLS["full"], width=4, modes=4, rank=0.3)
    ns = type("Args", (), {"embedding": "periodic", "device": "cpu", "coarse_width": 3, "coarse_channels": 2})
    model = bench._model("mgtfno2l", cfg, 1, ns)
    assert (model.coarse.hidden_channels, model.coarse.out_channels, model.local.hidden_channels) == (3, 2, 4)
    assert result["results"]["MG-TFNO-2L"]["parameters"] == model.num_parameters()


def test_pairs_subsampling_covers_every_time(bench):
    """per_flow windows per flow, evenly spaced and shifted from flow to flow."""
    n, t = 4, 7
    labels = (np.arange(n)[:, None] * 100 + np.arange(t)[None, :]).astype(float)  # flow * 100 + time
    w = labels[:, :, None, None] * np.ones((2, 2))
    x, y = bench._pairs(w, 2, per_flow=2)
    assert x.shape == (8, 2, 2, 2) and y.shape == (8, 1, 2, 2)
    flow, start = np.divmod(x[:, 0, 0, 0].astype(int), 100)
    np.testing.assert_array_equal(flow, np.repeat(np.arange(n), 2))
    assert set(start) == set(range(t - 2))
    np.testing.assert_array_equal(x[:, 1], x[:, 0] + 1)  # consecutive snapshots, then the next one
    np.testing.assert_array_equal(y[:, 0], x[:, 1] + 1)
    full, _ = bench._pairs(w, 2)
    assert full.shape[0] == n * (t - 2)


def test_model_options_reach_the_models(bench, tmp_path, capsys):
    """--factorization, --rank (a fraction or one rank per mode), --per-layer and --harmonics build the
    models the sweep compared: CP / Tucker spectral weights, MG-TFNO per layer, more embedding channels."""
    out = tmp_path / "o.json"
    args = ["--full", *TINY, "--t-final", "4", "--pairs-per-flow", "1", "--models", "tfno,mgtfno",
            "--factorization", "cp", "--rank", "0.2", "--per-layer", "--harmonics", "2", "--padding", "0.125"]
    assert bench.main([*args, "--json", str(out)]) == 0
    cfg = json.loads(out.read_text())["config"]
    assert (cfg["factorization"], cfg["rank"], cfg["per_layer"], cfg["harmonics"], cfg["padding"]) == (
        "cp", 0.2, True, 2, 0.125)
    assert bench._rank("0.07") == 0.07 and bench._rank("2,2,4,3") == (2, 2, 4, 3)
    cfg = dict(bench.PROTOCOLS["full"], width=4, modes=4, factorization="tucker", rank=(2, 2, 4, 3))
    ns = type("Args", (), {"embedding": "periodic", "device": "cpu", "resolution": 16})
    tucker = bench._model("tfno", cfg, 1, ns)
    cp = bench._model("tfno", dict(cfg, factorization="cp", rank=0.2, harmonics=2), 1, ns)
    assert tucker.parameters()["block0.spectral.core"].shape == (2, 2, 4, 3)
    assert "block0.spectral.core" not in cp.parameters() and "block0.spectral.weights" in cp.parameters()
    # sin / cos of 2 harmonics of 2 coordinates ahead of the vorticity
    assert tucker.parameters()["lifting.0.weight"].shape[1] == 5
    assert cp.parameters()["lifting.0.weight"].shape[1] == 9
    capsys.readouterr()


def test_cli_navier_stokes_defaults_are_the_benchmarks(bench, capsys):
    """``tensorkit train fno --problem navier-stokes`` defaults to the --full protocol's settings."""
    from tensorkit.cli import main

    full = bench.PROTOCOLS["full"]
    tiny = ["train", "fno", "--problem", "navier-stokes", "--resolution", "16", "--samples", "3",
            "--test-samples", "1", "--t-final", "2", "--epochs", "1", "--modes", "4", "--layers", "1",
            "--no-progress", "--model", "mgtfno"]
    assert main(tiny) == 0
    text = capsys.readouterr().out
    assert f"width {full['width']}" in text and f"factorization {full['factorization']}" in text
    assert f"padding {full['padding']}" in text
