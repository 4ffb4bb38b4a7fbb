"""The ``tensorkit demo`` sections of this capability run at quick size and save their plot."""

from __future__ import annotations

from physics.electrostatics import _demo as electrostatics_demo
from tensorkit.chebyshev import _demo as chebyshev_demo
from tensorkit.cli import DemoOptions


def test_demo_sections(tmp_path, capsys):
    options = DemoOptions(quick=True, plot=tmp_path / "demo.png", progress=False)
    chebyshev_demo.run(options)
    electrostatics_demo.run(options)
    out = capsys.readouterr().out
    assert "4.28685406230184" in out and "cluster" in out
    assert (tmp_path / "demo-electrostatics.png").stat().st_size > 1000
