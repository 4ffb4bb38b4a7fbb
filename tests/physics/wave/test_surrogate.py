"""WaveCNN (every conv kind, 2D and 3D), the forecasting task, ZoneReadout, compare_compression,
the boundary generator, the plots and the command: adjoints by finite differences, shapes,
parameter counts, honest small runs and bad input."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from physics.wave import (
    CONV_KINDS,
    CompressionTable,
    WaveCNN,
    ZoneReadout,
    boundary_trace,
    compare_boundary_generator,
    compare_compression,
    forecast_windows,
    make_conv,
    plot_compression,
    plot_rollout,
    relative_l2,
    rollout,
    wave2d,
)
from physics.wave._cli import add_wave_parser
from tensorkit.nn import Conv2d, Conv3d, FactorizedConv, OneWayConv, gradcheck


@pytest.fixture(scope="module")
def waves():
    return wave2d(8, 16, n_snapshots=10, t_final=0.6, random_state=0, progress=False)


@pytest.mark.parametrize("conv", CONV_KINDS)
def test_wavecnn_2d_gradcheck(conv):
    model = WaveCNN(2, 1, width=2, depth=1, conv=conv, rank=2, dtype=np.float64, random_state=0)
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4))
    assert gradcheck(model, x, max_entries=8)


@pytest.mark.parametrize("conv", ["dense", "oneway"])
def test_wavecnn_3d_gradcheck_and_shape(conv):
    model = WaveCNN(1, 1, dims="3d", width=2, depth=1, conv=conv, rank=1, dtype=np.float64, random_state=0)
    x = np.random.default_rng(1).standard_normal((1, 1, 3, 4, 4))
    assert model(x).shape == (1, 1, 3, 4, 4)
    assert gradcheck(model, x, max_entries=6)


def test_make_conv_kinds_and_parameter_ratios():
    assert type(make_conv("dense", 4, 4)) is Conv2d
    assert type(make_conv("dense", 4, 4, ndim=3)) is Conv3d
    assert type(make_conv("oneway", 4, 4, rank=1)) is OneWayConv
    assert make_conv("cp", 4, 4).factorization == "cp"
    tucker = make_conv("tucker", 16, 2, rank=4)
    assert isinstance(tucker, FactorizedConv) and tucker.rank == (2, 4, 3, 3)
    # one-way filters: ratio k^(d-1) / (R d) per layer (bias aside)
    dense = make_conv("dense", 8, 8, ndim=3).params["weight"].size
    oneway = sum(p.size for n, p in make_conv("oneway", 8, 8, ndim=3, rank=1).params.items() if n != "bias")
    assert dense / oneway == pytest.approx(3**2 / 3)


def test_compressed_models_are_smaller():
    sizes = {c: WaveCNN(4, 1, width=8, depth=2, conv=c, rank=4 if c != "oneway" else 1).num_parameters()
             for c in CONV_KINDS}
    assert sizes["dense"] / sizes["cp"] > 5 and sizes["dense"] / sizes["tucker"] > 5
    assert sizes["dense"] / sizes["oneway"] == pytest.approx(1.5, rel=0.05)


def test_forecast_windows_and_rollout(waves):
    u, _ = waves
    x, y = forecast_windows(u, 3)
    assert x.shape == (8 * 7, 3, 16, 16) and y.shape == (8 * 7, 1, 16, 16)
    np.testing.assert_array_equal(x[8], u[1, 1:4])
    x3, y3 = forecast_windows(u, 3, dims="3d")
    assert x3.shape == (56, 1, 3, 16, 16)
    np.testing.assert_array_equal(y3[:, 0, -1], y[:, 0])
    model = WaveCNN(3, 1, width=2, depth=1, random_state=0)
    out = rollout(model, u[:2, :3], 4)
    assert out.shape == (2, 4, 16, 16) and model.training
    # step 2 is the model applied to the window shifted by its own first forecast
    window = np.concatenate([u[:2, 1:3], out[:, :1]], axis=1)
    np.testing.assert_allclose(out[:, 1:2], model(window), rtol=1e-5, atol=1e-6)
    model3 = WaveCNN(1, 1, dims="3d", width=2, depth=1, random_state=0)
    assert rollout(model3, u[:2, :3], 2, batch_size=1).shape == (2, 2, 16, 16)


def test_zone_readout_gradcheck_and_trace(waves):
    u, times = waves
    zone = ((4 / 15, 12 / 15), (3 / 15, 9 / 15))
    readout = ZoneReadout(zone, 16, dtype=np.float64)
    np.testing.assert_allclose(readout(u), boundary_trace(u, times, zone, 16), atol=1e-12)
    assert gradcheck(readout, u[:1, :2], max_entries=20)
    whole = ZoneReadout(zone, 16, part="zone", dtype=np.float64)
    np.testing.assert_array_equal(whole(u)[0, 3], u[0, 3, 4:13, 3:10])


def test_compare_compression_small(waves, tmp_path):
    table = compare_compression(waves, ranks={"cp": [2, 4], "oneway": 1, "tucker": 2}, history=3,
                                rollout_steps=5, width=8, depth=2, epochs=2, batch_size=16)
    assert isinstance(table, CompressionTable)
    labels = [r.label for r in table]
    assert labels == ["dense", "oneway R=1", "cp R=2", "cp R=4", "tucker R=2"]
    dense = table.rows[0]
    for row in table:
        assert row.parameters * row.compression == pytest.approx(dense.parameters)
        assert np.isfinite(row.one_step_error) and row.one_step_error > 0
        assert row.rollout_curve.shape == (5,) and row.peak_memory_mb > 0 and row.epoch_time > 0
    # the compressed CP model needs less memory per training step than the dense one
    assert table.rows[2].peak_memory_mb < dense.peak_memory_mb
    text = table.to_text()
    assert "cp R=4" in text and "5-step" in text
    fig = plot_compression(table, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 0 and len(fig.axes) == 2
    plot_rollout(table, tmp_path / "r.png", steps=(1, 5))
    assert (tmp_path / "r.png").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_boundary_generator_small(waves):
    result = compare_boundary_generator(waves, ((4 / 15, 12 / 15), (4 / 15, 12 / 15)), width=2, depth=1,
                                        epochs=2)
    assert result.exact_submodel_error < 0.05
    assert all(np.isfinite([result.trace_error, result.submodel_error, result.direct_error]))
    assert "submodel on that trace" in result.to_text()


def test_relative_l2():
    a = np.ones((2, 3))
    np.testing.assert_allclose(relative_l2(2 * a, a), [1.0, 1.0])
    with pytest.raises(ValueError, match="differ"):
        relative_l2(a, a[:1])


def test_bad_input(waves):
    u, times = waves
    with pytest.raises(ValueError, match="conv"):
        WaveCNN(2, 1, conv="svd")
    with pytest.raises(ValueError, match="rank"):
        WaveCNN(2, 1, conv="cp", rank=0)
    with pytest.raises(ValueError, match="dims"):
        WaveCNN(2, 1, dims="4d")
    with pytest.raises(TypeError, match="width"):
        WaveCNN(2, 1, width=2.5)
    model = WaveCNN(2, 1, width=2, depth=2)
    with pytest.raises(ValueError, match="expects snapshots of shape"):
        model(np.ones((1, 3, 8, 8)))
    with pytest.raises(ValueError, match="expects snapshots of shape"):
        model(np.ones((2, 8, 8)))
    with pytest.raises(ValueError, match="multiples of 4"):
        model(np.ones((1, 2, 10, 8)))
    with pytest.raises(ValueError, match="history"):
        forecast_windows(u, 10)
    with pytest.raises(ValueError, match="n_samples, n_snapshots"):
        forecast_windows(u[0], 2)
    with pytest.raises(TypeError, match="model"):
        rollout(lambda x: x, u[:, :2], 3)
    with pytest.raises(ValueError, match="snapshots"):
        compare_compression(u, history=4, rollout_steps=8)
    with pytest.raises(ValueError, match="conv"):
        compare_compression(u, convs=("dense", "fft"))
    with pytest.raises(ValueError, match="rank"):
        compare_compression(u, ranks=0)
    with pytest.raises(ValueError, match="test_fraction"):
        compare_compression(u, history=2, rollout_steps=3, test_fraction=1.0)
    with pytest.raises(TypeError, match="pair"):
        compare_boundary_generator(u, ((0.25, 0.75), (0.25, 0.75)))
    with pytest.raises(ValueError, match="zone"):
        compare_boundary_generator((u, times), ((0.5, 1.5), (0.2, 0.6)))
    with pytest.raises(ValueError, match="ZoneReadout expects"):
        ZoneReadout(((4 / 15, 12 / 15), (4 / 15, 12 / 15)), 16)(np.ones((1, 2, 8, 8)))
    with pytest.raises(TypeError, match="CompressionTable"):
        plot_compression([])


def test_command_parses_and_runs(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_wave_parser(parser.add_subparsers(dest="model"))
    args = parser.parse_args(["wave", "--conv", "dense", "cp", "--rank", "2", "--resolution", "8",
                              "--samples", "4", "--snapshots", "6", "--history", "2", "--rollout", "3",
                              "--width", "2", "--depth", "1", "--epochs", "1", "--no-progress",
                              "--plots", str(tmp_path)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "cp R=2" in out and (tmp_path / "wave_rollout.png").exists()
    with pytest.raises(ValueError, match="--rank"):
        args.rank = 0
        args.func(args)
    with pytest.raises(SystemExit):
        parser.parse_args(["wave", "--conv", "fft"])
