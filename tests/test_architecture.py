"""The house rules of the package layout, checked on the source (ast, nothing imported).

- Imports only go downward: ``physics -> operators -> tensorkit``.
- A private module (a dotted name with a component starting with ``_``, ``__init__`` aside) is
  imported only from inside the package that owns it: each public subpackage of ``tensorkit``
  (``tensorkit.nn``, ``tensorkit.sketch``, ...), ``operators`` and ``physics``. Files outside
  ``tensorkit/`` import no private module of ``tensorkit`` at all; inside ``tensorkit`` the core's
  own top-level private modules (``tensorkit._validation``, ``tensorkit._kernels``, ...) are shared.
- Private *names* (``_check_tol``) are not imported across those package borders either.
- No module is longer than ``MAX_LINES`` lines.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tensorkit", "operators", "physics")
# A package may import only the packages listed after it: physics -> operators -> tensorkit.
LAYER = {"physics": 2, "operators": 1, "tensorkit": 0}
MAX_LINES = 500
# Modules allowed above MAX_LINES, with the reason; keep empty unless a split would hurt.
LONG_MODULE_ALLOWLIST: dict[str, str] = {}


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        files.extend(p for p in sorted((ROOT / package).rglob("*.py")) if "__pycache__" not in p.parts)
    return files


def _is_module(dotted: str, root: Path = ROOT) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _is_private(component: str) -> bool:
    return component.startswith("_") and not (component.startswith("__") and component.endswith("__"))


def _owners() -> list[str]:
    """Packages whose private modules stay inside them: tensorkit's public subpackages, operators,
    physics (longest first, so the innermost owner is found first)."""
    subpackages = [
        f"tensorkit.{p.name}" for p in sorted((ROOT / "tensorkit").iterdir())
        if (p / "__init__.py").is_file() and not _is_private(p.name)
    ]
    return sorted([*subpackages, "operators", "physics"], key=len, reverse=True)


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@dataclass(frozen=True)
class Import:
    file: str  # path relative to the repository root
    importer: str  # dotted module name of the file
    module: str  # dotted name of the imported module
    names: tuple[str, ...]  # names taken from it by ``from module import ...`` (not modules)
    line: int

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _package_of(path: Path, module: str) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imports(path: Path, root: Path = ROOT) -> list[Import]:
    """Every import of the file, relative ones resolved; ``from pkg import sub`` of a submodule
    counts as an import of ``pkg.sub``; ``importlib.import_module("literal")`` counts too."""
    importer = _module_name(path, root)
    package = _package_of(path, importer)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = str(path.relative_to(root))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(Import(rel, importer, alias.name, (), node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level - 1 >= len(base_parts):
                    raise AssertionError(f"{rel}:{node.lineno}: relative import beyond the top level")
                base = ".".join(base_parts[: len(base_parts) - (node.level - 1)])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            names = []
            for alias in node.names:
                if _is_module(f"{source}.{alias.name}", root):
                    out.append(Import(rel, importer, f"{source}.{alias.name}", (), node.lineno))
                else:
                    names.append(alias.name)
            out.append(Import(rel, importer, source, tuple(names), node.lineno))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and not node.args[0].value.startswith(".")
        ):
            out.append(Import(rel, importer, node.args[0].value, (), node.lineno))
    return out


FILES = _source_files()
IMPORTS = [imp for path in FILES for imp in _imports(path)]
OWNERS = _owners()


def _top(name: str) -> str:
    return name.split(".")[0]


def _border_crossed(imp: Import, target: str) -> str | None:
    """The package whose privacy ``imp`` breaks by reaching ``target`` (a module, or a module plus
    a private name), or None."""
    owner = next((p for p in OWNERS if _inside(target, p)), None)
    if owner is not None and not _inside(imp.importer, owner):
        return owner
    if _top(target) == "tensorkit" and _top(imp.importer) != "tensorkit":
        return "tensorkit"  # the core's own private modules are shared inside tensorkit only
    return None


def test_sources_found():
    assert len(FILES) > 50, f"only {len(FILES)} source files under {ROOT}"
    assert OWNERS[-1] in ("physics", "operators") or "tensorkit.nn" in OWNERS


def test_imports_go_downward():
    """tensorkit never imports operators or physics; operators never imports physics."""
    bad = [
        f"{imp.where()} ({_top(imp.importer)}) imports {imp.module}"
        for imp in IMPORTS
        if _top(imp.module) in LAYER and LAYER[_top(imp.module)] > LAYER[_top(imp.importer)]
    ]
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_private_modules_across_packages():
    bad = []
    for imp in IMPORTS:
        if _top(imp.module) not in LAYER:
            continue
        owner = _border_crossed(imp, imp.module)
        if owner is None:
            continue
        below = imp.module[len(owner) + 1:].split(".") if imp.module != owner else []
        if any(_is_private(part) for part in below):
            bad.append(f"{imp.where()} imports {imp.module}, a private module of {owner}")
    assert not bad, "private modules imported across packages:\n" + "\n".join(bad)


def test_no_private_names_across_packages():
    """``from tensorkit.sketch import _seed_from`` crosses a border as much as a private module does."""
    bad = []
    for imp in IMPORTS:
        if _top(imp.module) not in LAYER:
            continue
        for name in imp.names:
            if _is_private(name) and _border_crossed(imp, f"{imp.module}.{name}") is not None:
                bad.append(f"{imp.where()} imports the private name {name} from {imp.module}")
    assert not bad, "private names imported across packages:\n" + "\n".join(bad)


def test_module_length():
    lengths = {
        str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in _source_files()
    }
    for name, reason in LONG_MODULE_ALLOWLIST.items():
        print(f"allowed above {MAX_LINES} lines: {name} ({lengths.get(name)} lines): {reason}")
    stale = [name for name in LONG_MODULE_ALLOWLIST if lengths.get(name, 0) <= MAX_LINES]
    too_long = sorted(
        (f"{name}: {n} lines" for name, n in lengths.items()
         if n > MAX_LINES and name not in LONG_MODULE_ALLOWLIST),
    )
    assert not stale, f"allow-list entries no longer needed: {stale}"
    assert not too_long, f"modules above {MAX_LINES} lines (split them by job):\n" + "\n".join(too_long)


# ---------------------------------------------------------------- the checker checks itself
FAKE_TREE = ("tensorkit/__init__.py", "tensorkit/backend.py", "tensorkit/_validation.py",
             "tensorkit/nn/__init__.py", "tensorkit/nn/_module.py", "tensorkit/sketch/__init__.py",
             "tensorkit/sketch/_lstsq.py", "tensorkit/distributed/__init__.py", "operators/__init__.py")


@pytest.mark.parametrize(
    ("source", "file", "module", "names"),
    [
        ("from ..sketch import _lstsq", "tensorkit/distributed/x.py", "tensorkit.sketch._lstsq", ()),
        ("from ..sketch import lstsq", "tensorkit/distributed/x.py", "tensorkit.sketch", ("lstsq",)),
        ("from .._validation import check_int", "tensorkit/nn/x.py", "tensorkit._validation", ("check_int",)),
        ("from . import _module", "tensorkit/nn/__init__.py", "tensorkit.nn._module", ()),
        ("from .backend import native", "tensorkit/__init__.py", "tensorkit.backend", ("native",)),
        ("from ._module import Module", "tensorkit/nn/x.py", "tensorkit.nn._module", ("Module",)),
        ("import tensorkit.nn._module as m", "operators/x.py", "tensorkit.nn._module", ()),
        ("importlib.import_module('tensorkit.sketch._lstsq')", "operators/x.py",
         "tensorkit.sketch._lstsq", ()),
    ],
)
def test_imports_resolve(tmp_path, source, file, module, names):
    for name in (*FAKE_TREE, file):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(source if name == file else "")
    found = {(imp.module, imp.names) for imp in _imports(tmp_path / file, tmp_path)}
    assert (module, names) in found


@pytest.mark.parametrize(
    ("importer", "target", "owner"),
    [
        ("tensorkit.distributed._lstsq", "tensorkit.sketch._lstsq", "tensorkit.sketch"),
        ("tensorkit.nn._conv", "tensorkit._validation", None),
        ("tensorkit.nn._conv", "tensorkit.nn._module", None),
        ("operators._fno", "tensorkit._validation", "tensorkit"),
        ("operators._fno", "tensorkit.nn._module", "tensorkit.nn"),
        ("operators._fno", "tensorkit._kernels.cpu", "tensorkit"),
        ("physics.pde._darcy", "operators._fno", "operators"),
        ("physics.pde._darcy", "physics.electrostatics._kernel", None),
    ],
)
def test_border_rule(importer, target, owner):
    imp = Import("f.py", importer, target, (), 1)
    assert _border_crossed(imp, target) == owner


def test_ruff_bans_every_private_core_module():
    """pyproject's banned-api list (ruff TID251: no private core module outside tensorkit/ and
    tests/) names every private module of tensorkit, so a new one cannot slip through."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    banned = set(config["tool"]["ruff"]["lint"]["flake8-tidy-imports"]["banned-api"])
    private = set()
    for path in _source_files():
        name = _module_name(path)
        parts = name.split(".")
        if parts[0] != "tensorkit":
            continue
        for i, part in enumerate(parts):
            if _is_private(part):
                private.add(".".join(parts[: i + 1]))
                break
    # demo sections are example code; the version module is read by the build only
    private = {m for m in private if not m.endswith("._demo") and m != "tensorkit._version"}
    missing = sorted(private - banned)
    assert not missing, f"add to [tool.ruff.lint.flake8-tidy-imports.banned-api]: {missing}"
