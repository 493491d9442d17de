"""kernelfit's modules import each other without a circle, lazy imports included."""

import ast
from pathlib import Path

import kernelfit


def module_names(root: Path, package: str) -> dict:
    """Dotted module name -> file, for every module under ``root / package``."""
    names = {}
    for path in (root / package).rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imported_modules(name: str, path: Path, names: dict) -> set:
    """The package's modules that ``name`` imports anywhere in its file."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            prefix = ".".join(base + ([node.module] if node.module else []))
            targets = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in names and t != name)
    return found


def import_cycle(root: Path, package: str):
    """One import circle among the package's modules, as a list of names, or None.

    A package's ``__init__`` importing its own submodules is not a circle (Python
    runs the ``__init__`` first); every other edge counts."""
    names = module_names(root, package)
    edges = {n: {m for m in imported_modules(n, p, names) if not m.startswith(n + ".")}
             for n, p in names.items()}
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(names):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_kernelfit_has_no_import_circle():
    root = Path(kernelfit.__file__).parent.parent
    assert import_cycle(root, "kernelfit") is None


def test_a_circle_through_a_lazy_import_is_found(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from . import first\n")
    (package / "first.py").write_text("from .second import value\n")
    (package / "second.py").write_text("def value():\n    from .first import value\n")
    assert import_cycle(tmp_path, "pkg") == ["pkg.first", "pkg.second", "pkg.first"]


def test_a_package_importing_its_submodules_is_no_circle(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from .sub import leaf\n")
    (package / "sub" / "__init__.py").write_text("from .leaf import x\n")
    (package / "sub" / "leaf.py").write_text("from .. import sub\nx = 1\n")
    assert import_cycle(tmp_path, "pkg") is None
