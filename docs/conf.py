"""Sphinx configuration of the tensorkit documentation (built with ``-W -n``: no warning allowed).

The API reference is generated from the packages' ``__all__`` at build time (``_ext/public_api.py``),
so a name added to a public module appears without editing these files. The notebooks are rendered
from ``examples/notebooks/*.ipynb`` and never executed here: CI executes them once in
``tests/test_notebooks.py``, which can leave executed copies for this build
(``TENSORKIT_EXECUTED_NOTEBOOKS``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))

import tensorkit  # noqa: E402

project = "tensorkit"
author = "tensorkit developers"
copyright = "tensorkit developers"
release = tensorkit.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "public_api",
    "notebooks",
    "gallery",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# --- API reference ---------------------------------------------------------------------------------
# Parameter types live in the numpydoc sections; signatures without annotations read like numpy's.
autodoc_typehints = "none"
# numpydoc would add a member table per class that needs its own stub pages; the class template
# documents the members instead.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Type phrases ("array (n, d)", "int or None", "{'cp', 'tucker'}") are prose, not references.
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# --- nitpicky mode (-n) ----------------------------------------------------------------------------
nitpicky = True
# Intersphinx would fetch other projects' inventories over the network, which CI does not have:
# references to other libraries' objects stay plain text instead of failing the build.
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|scipy|cupy|cupyx|dask|distributed|matplotlib|torch|e3nn|tensorly|"
               r"neuralop|numba|h5py|skfem|tqdm|threadpoolctl|array_api_compat)(\..*)?"),
    # Python builtins and typing names in signatures and "Returns" blocks.
    (r"py:.*", r"(int|float|complex|bool|str|bytes|tuple|list|dict|set|object|callable|None|"
               r"Callable|Sequence|Iterable|Iterator|Mapping|Any|Path|os\.PathLike|pathlib\.Path|"
               r"dataclasses\.dataclass|Exception|ValueError|TypeError|MemoryError)"),
    # Instance attributes set in ``__init__`` (``Trainer.history``, ``Optimizer.lr``) are described
    # in their class's docstring and have no entry of their own to link to.
    (r"py:attr", r"((\w+\.)*[A-Z]\w*\.)?[a-z_]\w*"),
    # Private modules are not part of the reference.
    (r"py:mod", r"(tensorkit|operators|physics)(\.\w+)*\._\w+(\.\w+)*"),
]
# Library docstrings to fix at the source: none at present (add one entry per docstring, naming it).
nitpick_ignore: list[tuple[str, str]] = []

# --- notebooks (myst-nb) ---------------------------------------------------------------------------
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
notebooks_source = ROOT / "examples" / "notebooks"
notebooks_executed = os.environ.get("TENSORKIT_EXECUTED_NOTEBOOKS") or None
gallery_examples = ROOT / "examples"

# --- HTML ------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"tensorkit {release}"
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path: list[str] = []
html_show_sourcelink = False
