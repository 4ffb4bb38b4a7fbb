"""The example notebooks run top to bottom at quick size, and each ``.ipynb`` matches its ``.py``.

The jupytext percent scripts in ``examples/notebooks/`` are the source; the paired ``.ipynb``
(committed without outputs) are what users open. Each script is turned into a notebook in memory
and executed by ``nbclient`` in a ``python3`` kernel of the running interpreter (ipykernel ships
that kernel spec, and jupyter_client starts it with ``sys.executable``), with ``TENSORKIT_QUICK=1``
and no network. When ``TENSORKIT_EXECUTED_NOTEBOOKS`` names a folder, the executed notebooks are
saved there, so that the documentation shows their outputs without running them a second time
(``.ci/docs``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="notebook tests need the test extra (jupytext)")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need the test extra (nbclient)")
nbformat = pytest.importorskip("nbformat", reason="notebook tests need the test extra (nbformat)")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "examples" / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("*.py"))
KERNEL = "python3"


def cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_notebooks_exist():
    assert SCRIPTS, "examples/notebooks/ holds no notebooks"


def test_kernel_available():
    """The kernel the notebooks name comes with ipykernel (a test-extra dependency)."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    assert "ipykernel" in " ".join(spec.argv)


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_notebook_runs(script, tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORKIT_QUICK", "1")
    # the kernel's inline backend captures the figures; a non-interactive MPLBACKEND would not
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = jupytext.read(script)
    client = nbclient.NotebookClient(notebook, kernel_name=KERNEL, timeout=600,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [output for cell in notebook.cells for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    assert not errors
    images = [output for cell in notebook.cells for output in cell.get("outputs", [])
              if "image/png" in output.get("data", {})]
    assert images, f"{script.name} drew no figure"
    destination = os.environ.get("TENSORKIT_EXECUTED_NOTEBOOKS")
    if destination:
        Path(destination).mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, Path(destination) / f"{script.stem}.ipynb")


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_notebook_in_sync(script):
    """The ``.ipynb`` holds the script's cells and no outputs: ``jupytext --sync`` after editing."""
    paired = script.with_suffix(".ipynb")
    assert paired.exists(), f"no {paired.name}: run `jupytext --to ipynb {script}`"
    notebook = nbformat.read(paired, as_version=4)
    assert cells(notebook) == cells(jupytext.read(script)), (
        f"{paired.name} differs from {script.name}: run `jupytext --sync {script}`")
    assert all(not cell.get("outputs") for cell in notebook.cells), f"{paired.name} has outputs"
    assert notebook.metadata.get("kernelspec", {}).get("name") == KERNEL


def test_no_unpaired_notebook():
    orphans = [p.name for p in NOTEBOOKS.glob("*.ipynb") if not p.with_suffix(".py").exists()]
    assert not orphans, f"notebooks without a jupytext script: {orphans}"
