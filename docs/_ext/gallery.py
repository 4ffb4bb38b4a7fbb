"""Sphinx extension: ``.. example-gallery::`` lists ``examples/*.py`` with their docstrings and code.

A new example script appears without editing the docs; its module docstring is the description.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from sphinx.util.docutils import SphinxDirective


class ExampleGallery(SphinxDirective):
    """One section per example script: its docstring (as a literal block) and its source."""

    def run(self):
        examples = Path(self.config.gallery_examples)
        here = Path(self.env.doc2path(self.env.docname)).parent
        lines = []
        for path in sorted(examples.glob("*.py")):
            self.env.note_dependency(str(path))
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            title = f"``{path.name}``"
            lines += [title, "-" * len(title), "", "::", ""]
            lines += [f"    {line}" if line else "" for line in doc.splitlines()]
            lines += ["", f".. literalinclude:: {os.path.relpath(path, here)}", "   :language: python", ""]
        return self.parse_text_to_nodes("\n".join(lines), allow_section_headings=True)


def setup(app):
    app.add_config_value("gallery_examples", None, "env")
    app.add_directive("example-gallery", ExampleGallery)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
