"""The documentation's build helpers: API pages from ``__all__``, offline-safe intersphinx."""

import sys
import textwrap
from pathlib import Path

import pytest

DOCS_EXT = Path(__file__).resolve().parents[2] / "docs" / "_ext"


@pytest.fixture
def helpers(monkeypatch):
    monkeypatch.syspath_prepend(str(DOCS_EXT))
    import api_pages
    import inventories

    return api_pages, inventories


@pytest.fixture
def toy_package(tmp_path, monkeypatch):
    """``toypkg``: a re-exported function, a subpackage, a plain module, a private one."""
    root = tmp_path / "src" / "toypkg"
    (root / "sub").mkdir(parents=True)
    files = {
        "__init__.py": """
            from .sub import solve
            from .plain import helper
            __all__ = ["solve", "helper"]
        """,
        "sub/__init__.py": """
            from .core import solve, SIZES
            __all__ = ["solve", "SIZES"]
        """,
        "sub/core.py": """
            SIZES = (1, 2)
            def solve():
                '''Solve.'''
        """,
        "plain.py": """
            import os
            def helper():
                '''Help.'''
            class Record:
                '''A record.'''
            def _hidden():
                pass
        """,
        "_private.py": "def secret():\n    pass\n",
    }
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    yield "toypkg"
    for name in [m for m in sys.modules if m == "toypkg" or m.startswith("toypkg.")]:
        del sys.modules[name]


def entries(page: Path) -> list[str]:
    """The names in a page's autosummary table."""
    table = page.read_text().split(".. autosummary::")[1]
    return [line.strip() for line in table.splitlines()
            if line.startswith("   ") and not line.strip().startswith(":")]


def test_every_public_name_gets_one_entry_under_its_first_name(helpers, toy_package, tmp_path):
    api_pages, _ = helpers
    out = tmp_path / "api"
    assert api_pages.write_api_pages(toy_package, out) == []
    pages = sorted(p.name for p in out.glob("*.rst"))
    assert pages == ["index.rst", "toypkg.plain.rst", "toypkg.rst", "toypkg.sub.rst"]
    assert entries(out / "toypkg.rst") == ["solve", "helper"]
    assert entries(out / "toypkg.sub.rst") == ["SIZES"]  # solve: listed under toypkg already
    assert entries(out / "toypkg.plain.rst") == ["Record"]  # no helper, _hidden or os
    index = (out / "index.rst").read_text()
    assert index.index("toypkg\n") < index.index("toypkg.sub") < index.index("toypkg.plain")


def test_pages_of_objects_that_moved_are_removed(helpers, toy_package, tmp_path):
    api_pages, _ = helpers
    out = tmp_path / "api"
    (out / "generated").mkdir(parents=True)
    kept = out / "generated" / "toypkg.solve.rst"
    moved = out / "generated" / "toypkg.old_module.solve.rst"
    kept.write_text("stub")
    moved.write_text("stub")
    (out / "toypkg.old_module.rst").write_text("page")
    api_pages.write_api_pages(toy_package, out)
    assert kept.exists()
    assert not moved.exists() and not (out / "toypkg.old_module.rst").exists()


def test_an_unimportable_name_is_reported_not_fatal(helpers, toy_package, tmp_path):
    api_pages, _ = helpers
    init = tmp_path / "src" / "toypkg" / "sub" / "__init__.py"
    init.write_text(init.read_text() + textwrap.dedent("""
        __all__ = ["solve", "SIZES", "needs_extra"]
        def __getattr__(name):
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
    """))
    skipped = api_pages.write_api_pages(toy_package, tmp_path / "api")
    assert skipped == ["toypkg.sub.needs_extra (No module named 'torch')"]
    assert entries(tmp_path / "api" / "toypkg.sub.rst") == ["SIZES"]


def test_inventories_offline_use_local_copies_only(helpers, tmp_path, monkeypatch):
    _, inventories = helpers
    monkeypatch.setenv("KERNELFIT_DOCS_OFFLINE", "1")
    monkeypatch.setattr(inventories, "reachable", lambda url, timeout=3.0: pytest.fail(url))
    (tmp_path / "numpy.inv").write_bytes(b"# Sphinx inventory version 2\n")
    projects = {"numpy": "https://numpy.org/doc/stable/", "torch": "https://example.org/t/"}
    mapping, left_out = inventories.available_inventories(projects, tmp_path)
    assert mapping == {"numpy": ("https://numpy.org/doc/stable/", str(tmp_path / "numpy.inv"))}
    assert left_out == ["torch"]


def test_inventories_online_only_when_the_inventory_answers(helpers, tmp_path, monkeypatch):
    _, inventories = helpers
    monkeypatch.delenv("KERNELFIT_DOCS_OFFLINE", raising=False)
    asked = []

    def answers(url, timeout=3.0):
        asked.append(url)
        return "scipy" in url

    monkeypatch.setattr(inventories, "reachable", answers)
    projects = {"scipy": "https://docs.scipy.org/doc/scipy/", "sklearn": "https://sk.example/"}
    mapping, left_out = inventories.available_inventories(projects, tmp_path)
    assert mapping == {"scipy": ("https://docs.scipy.org/doc/scipy/", None)}
    assert left_out == ["sklearn"]
    assert asked == ["https://docs.scipy.org/doc/scipy/objects.inv",
                     "https://sk.example/objects.inv"]


def test_an_unreachable_address_is_not_reachable(helpers):
    _, inventories = helpers
    assert inventories.reachable("http://127.0.0.1:9/objects.inv", timeout=1.0) is False
    assert inventories.reachable("not a url") is False
