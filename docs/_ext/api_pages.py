"""Write the API reference pages from the package's own ``__all__`` lists.

The reference is generated, never hand-written: every name in
``kernelfit.__all__``, in each public subpackage's ``__all__`` and in each
public top-level module gets an autosummary entry (one page per object), so a
module that moves or a name that is added shows up at the next build. An
object already listed under an earlier name (``kernelfit.solve`` is
``kernelfit.solvers.solve``) is listed once, under the first name.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

#: Subpackages whose ``__all__`` are not a Python API (the JSON schemas).
SKIPPED = {"kernelfit.schemas"}

_PLAIN_VALUES = (str, bytes, int, float, bool, type(None))


def public_names(module) -> list[str]:
    """``__all__`` if the module has one, else the functions and classes it defines."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return sorted(
        name for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", None) == module.__name__
    )


def public_modules(package_name: str) -> list[tuple[str, bool]]:
    """``(name, is_package)`` for the package's public top-level modules and subpackages."""
    package = importlib.import_module(package_name)
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        name = f"{package_name}.{info.name}"
        if info.name.startswith("_") or name in SKIPPED:
            continue
        if info.ispkg and not hasattr(importlib.import_module(name), "__all__"):
            continue
        found.append((name, info.ispkg))
    return found


def _resolvable(module, name: str, skipped: list[str]):
    try:
        return getattr(module, name)
    except (ImportError, AttributeError) as exc:  # an optional extra is not installed
        skipped.append(f"{module.__name__}.{name} ({exc})")
        return None


def _page(module_name: str, names: list[str]) -> str:
    title = f"``{module_name}``"
    lines = [title, "=" * len(title), "", f".. automodule:: {module_name}", "   :no-members:",
             "", f".. currentmodule:: {module_name}", ""]
    if names:
        lines += [".. autosummary::", "   :toctree: generated/", "   :nosignatures:", ""]
        lines += [f"   {name}" for name in names]
    else:
        lines.append("Everything this module offers is listed under an earlier name.")
    return "\n".join(lines) + "\n"


def write_api_pages(package_name: str, out_dir: Path) -> list[str]:
    """Write one page per public module into ``out_dir``; return what could not be imported.

    Pages whose text is unchanged are left alone, so an incremental build does
    not redo them.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    seen: set[int] = set()
    skipped: list[str] = []
    documented: set[str] = set()
    order = [(package_name, True)]
    modules = public_modules(package_name)
    order += [m for m in modules if m[1]] + [m for m in modules if not m[1]]
    for module_name, _ in order:
        module = importlib.import_module(module_name)
        names = []
        for name in public_names(module):
            value = _resolvable(module, name, skipped)
            if value is None:
                continue
            # The same object under a second name is listed once; plain values
            # (numbers, strings) may be shared by unrelated names, so they never are.
            key = id(value)
            if not isinstance(value, _PLAIN_VALUES) and key in seen:
                continue
            seen.add(key)
            names.append(name)
            documented.add(f"{module_name}.{name}")
        _write_if_changed(out_dir / f"{module_name}.rst", _page(module_name, names))
    _write_if_changed(out_dir / "index.rst", _index([m for m, _ in order]))
    for stale in out_dir.glob("*.rst"):
        if stale.stem not in {m for m, _ in order} | {"index"}:
            stale.unlink()
    for stale in (out_dir / "generated").glob("*.rst"):  # objects that moved or went
        if stale.stem not in documented:
            stale.unlink()
    return skipped


def _index(module_names: list[str]) -> str:
    lines = ["API reference", "=============", "",
             "Generated from the docstrings: the names in ``kernelfit.__all__`` first, then",
             "each public subpackage's ``__all__``, then the public top-level modules.",
             "A name exported in two places is listed under the first.", "",
             ".. toctree::", "   :maxdepth: 1", ""]
    lines += [f"   {name}" for name in module_names]
    return "\n".join(lines) + "\n"


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
