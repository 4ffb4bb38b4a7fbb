"""Sphinx extension: bring the example notebooks into the source tree, never executing them.

``examples/notebooks/*.ipynb`` (committed without outputs) are copied to ``docs/notebooks/``;
when ``TENSORKIT_EXECUTED_NOTEBOOKS`` names a folder where ``tests/test_notebooks.py`` saved the
notebooks it executed, those copies (with their outputs and plots) are taken instead.
"""

from __future__ import annotations

from pathlib import Path


def copy_notebooks(app, config) -> None:
    source = Path(config.notebooks_source)
    executed = Path(config.notebooks_executed) if config.notebooks_executed else None
    outdir = Path(app.srcdir) / "notebooks"
    outdir.mkdir(exist_ok=True)
    names = {path.name for path in source.glob("*.ipynb")}
    for stale in outdir.glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()
    for name in sorted(names):
        chosen = source / name
        if executed is not None and (executed / name).exists():
            chosen = executed / name
        data = chosen.read_bytes()
        target = outdir / name
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)


def setup(app):
    app.add_config_value("notebooks_source", None, "env")
    app.add_config_value("notebooks_executed", None, "env")
    app.connect("config-inited", copy_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
