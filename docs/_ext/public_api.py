"""Sphinx extension: the API reference, generated from the packages' ``__all__`` at build time.

Every module of ``tensorkit``, ``operators`` and ``physics`` whose dotted name has no ``_private``
part and that defines ``__all__`` gets a page (``api/modules/<module>.rst``): the module docstring
and a table of its names with the first paragraph of each docstring; every object gets a page of
its own (``api/generated/<name>.rst``, autodoc with numpydoc). A new public name therefore appears
without editing the docs.

The tables are written here rather than by ``sphinx.ext.autosummary``: autosummary cuts a summary at
the first ". ", which falls inside literals such as ``X ~ G x_1 U_1 ... x_N U_N`` and leaves broken
markup (a warning under ``-W``).

An object re-exported by several modules (``tensorkit.tucker`` is ``tensorkit.decomposition.tucker``)
is documented once, where it first appears in ``ORDER``, and linked from the other pages; a
cross-reference to any spelling of it, public or private (``tensorkit._info.Info``), resolves to
that page.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from sphinx.util import logging

PACKAGES = ("tensorkit", "operators", "physics")
# The order of the reference, and where a re-exported object is documented: the user-facing entry
# points first, the extension surface last. Modules not listed follow alphabetically.
ORDER = (
    "tensorkit", "tensorkit.decomposition", "tensorkit.decomposition.linalg", "tensorkit.formats",
    "tensorkit.tenalg", "tensorkit.gaunt", "tensorkit.sketch", "tensorkit.sketch.planning",
    "tensorkit.distributed", "tensorkit.chebyshev", "tensorkit.observed", "tensorkit.completion",
    "tensorkit.functional", "tensorkit.nn", "tensorkit.io", "tensorkit.backend", "tensorkit.extend",
    "tensorkit.cli", "operators", "physics", "physics.pde", "physics.electrostatics", "physics.wave",
    "physics.cli",
)

logger = logging.getLogger(__name__)


def public_modules() -> list[str]:
    """Importable public modules of the three packages that declare ``__all__``, in ``ORDER``."""
    found = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        names = [package] + [info.name for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")]
        for name in names:
            if any(part.startswith("_") for part in name.split(".")):
                continue
            try:
                module = importlib.import_module(name)
            except ImportError as exc:  # a warning, so that -W fails with the reason
                logger.warning("public module %s does not import: %s", name, exc)
                continue
            if hasattr(module, "__all__"):
                found.append(name)
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(found, key=lambda name: (rank.get(name, len(ORDER)), name))


def has_identity(obj) -> bool:
    """Functions and classes are documented once; constants (strings, tuples) where they are."""
    return inspect.isclass(obj) or inspect.isroutine(obj) or callable(obj)


class Catalogue:
    """Which names each module page documents and links, and the documented name of each object."""

    def __init__(self, modules: list[str]):
        self.modules = modules
        self.documented: dict[str, list[str]] = {}
        self.linked: dict[str, list[tuple[str, str]]] = {}
        self.canonical: dict[int, str] = {}
        for modname in modules:
            module = importlib.import_module(modname)
            self.documented[modname], self.linked[modname] = [], []
            # A class's own name first: ``Info`` is documented, ``DecompositionInfo`` links to it.
            names = sorted(module.__all__,
                           key=lambda n: getattr(getattr(module, n), "__name__", None) != n)
            for name in names:
                obj = getattr(module, name)
                if inspect.ismodule(obj):
                    continue  # a public submodule has a page of its own
                if has_identity(obj) and id(obj) in self.canonical:
                    self.linked[modname].append((name, self.canonical[id(obj)]))
                    continue
                if has_identity(obj):
                    self.canonical[id(obj)] = f"{modname}.{name}"
                self.documented[modname].append(name)
            order = {name: i for i, name in enumerate(module.__all__)}
            self.documented[modname].sort(key=order.__getitem__)
            self.linked[modname].sort(key=lambda pair: order[pair[0]])

    def documented_name(self, dotted: str) -> str | None:
        """The documented spelling of ``dotted`` (or of the object it names a member of)."""
        obj = lookup(dotted)
        if obj is not None and has_identity(obj) and id(obj) in self.canonical:
            return self.canonical[id(obj)]
        # An inherited member (``JointSpectralWeight.backward``): where its owner defines it.
        defined = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
        if inspect.isroutine(obj) and defined != dotted and "<" not in defined:
            return self.documented_name(defined)
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            owner = lookup(".".join(parts[:cut]))
            if owner is not None and has_identity(owner) and id(owner) in self.canonical:
                return ".".join([self.canonical[id(owner)], *parts[cut:]])
        return None


def lookup(dotted: str):
    """The object a dotted path names, importing its module; None when there is none."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def summary(obj, fullname: str) -> str:
    """First paragraph of the docstring on one line (constants: their value). A class's bare
    member names (:meth:`step`) get the class in front, which a table row does not supply."""
    if not has_identity(obj):
        return f"``{obj!r}``"
    text = " ".join((inspect.getdoc(obj) or "").split("\n\n")[0].split())
    if inspect.isclass(obj):
        text = re.sub(r":(meth|attr):`(\w+)`", rf":\1:`~{fullname}.\2`", text)
    return text


def object_page(fullname: str, obj) -> str:
    modname, name = fullname.rsplit(".", 1)
    lines = [fullname, "=" * len(fullname), "", f".. currentmodule:: {modname}", ""]
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        lines += [f".. autoexception:: {name}"]
    elif inspect.isclass(obj):
        lines += [f".. autoclass:: {name}", "   :members:", "   :undoc-members:",
                  "   :special-members: __call__"]
    elif has_identity(obj):
        lines += [f".. autofunction:: {name}"]
    else:
        lines += [f".. py:data:: {name}", f"   :value: {obj!r}"]
    return "\n".join(lines) + "\n"


def module_page(catalogue: Catalogue, modname: str) -> str:
    module = importlib.import_module(modname)
    title = f"``{modname}``"
    lines = [title, "=" * len(title), "", f".. automodule:: {modname}", "   :no-members:", "",
             f".. currentmodule:: {modname}", ""]
    documented = catalogue.documented[modname]
    if documented:
        lines += [".. list-table::", "   :widths: 25 75", ""]
        for name in documented:
            lines += [f"   * - :obj:`{name} <{modname}.{name}>`",
                      f"     - {summary(getattr(module, name), f'{modname}.{name}')}"]
        lines += ["", ".. toctree::", "   :hidden:", ""]
        lines += [f"   ../generated/{modname}.{name}" for name in documented]
        lines.append("")
    if catalogue.linked[modname]:
        heading = "Also available here"
        lines += [heading, "-" * len(heading), "",
                  "The same objects as documented under another module of this reference:", ""]
        lines += [f"- ``{modname}.{name}`` is :obj:`{target}`" for name, target in catalogue.linked[modname]]
        lines.append("")
    return "\n".join(lines)


def write_if_changed(path: Path, text: str) -> None:
    """Rewrite only changed pages, so that an incremental build stays incremental."""
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def sync_folder(folder: Path, pages: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.rst"):
        if stale.stem not in pages:
            stale.unlink()
    for stem, text in pages.items():
        write_if_changed(folder / f"{stem}.rst", text)


def generate(app, config) -> None:
    catalogue = Catalogue(public_modules())
    app.tensorkit_catalogue = catalogue
    api = Path(app.srcdir) / "api"
    sync_folder(api / "modules", {m: module_page(catalogue, m) for m in catalogue.modules})
    objects = {}
    for modname in catalogue.modules:
        module = importlib.import_module(modname)
        for name in catalogue.documented[modname]:
            objects[f"{modname}.{name}"] = object_page(f"{modname}.{name}", getattr(module, name))
    sync_folder(api / "generated", objects)
    toctree = [".. toctree::", "   :maxdepth: 1", ""] + [f"   modules/{m}" for m in catalogue.modules]
    write_if_changed(api / "modules.inc", "\n".join(toctree) + "\n")


def resolve(app, env, node, contnode):
    """Resolve a Python reference that Sphinx could not: another spelling of a documented object
    (``tensorkit.formats.TuckerTensor``, ``tensorkit._info.Info``, a method of it), or a short name
    that exactly one documented object ends with (``ChebTucker`` in physics' docstrings)."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    target = node["reftarget"]
    module, cls = node.get("py:module"), node.get("py:class")
    candidates = [target]
    if module:
        candidates += [f"{module}.{cls}.{target}"] if cls else []
        candidates.append(f"{module}.{target}")
    catalogue = app.tensorkit_catalogue
    names = [catalogue.documented_name(c) for c in candidates]
    suffix = [n for n, entry in domain.objects.items() if not entry.aliased and n.endswith(f".{target}")]
    names.append(suffix[0] if len(suffix) == 1 else None)
    for name in names:
        if name and name in domain.objects:
            found = domain.resolve_any_xref(env, node["refdoc"], app.builder, name, node, contnode)
            if found:
                return found[0][1]
    return None


def setup(app):
    app.connect("config-inited", generate)
    app.connect("missing-reference", resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
