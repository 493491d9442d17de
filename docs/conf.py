"""Sphinx configuration of the kernelfit documentation.

Build (warnings are errors, as in CI)::

    .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html

The API pages are written from the package's ``__all__`` lists at each build
(``docs/_ext/api_pages.py``); the gallery runs ``examples/plot_*.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

from api_pages import write_api_pages  # noqa: E402
from inventories import available_inventories  # noqa: E402

import kernelfit  # noqa: E402

project = "kernelfit"
author = "the kernelfit developers"
copyright = "2026, the kernelfit developers"
release = version = kernelfit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "_inventories", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# -- API reference -------------------------------------------------------------
_unimportable = write_api_pages("kernelfit", DOCS / "api")
if _unimportable:
    print("API reference: left out (optional extras missing):", *_unimportable, sep="\n  ")
# The pages to generate stubs for, named here rather than taken from the
# environment, which in an incremental build does not yet know pages written above.
autosummary_generate = sorted(str(page.relative_to(DOCS)) for page in (DOCS / "api").glob("*.rst"))
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc sections say the types
numpydoc_show_class_members = False  # the class template lists the members
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_validation_checks: set[str] = set()

# -- Markdown ------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# -- Links to NumPy, SciPy, scikit-learn, PyTorch ------------------------------
_linked, _not_linked = available_inventories(
    {
        "python": "https://docs.python.org/3/",
        "numpy": "https://numpy.org/doc/stable/",
        "scipy": "https://docs.scipy.org/doc/scipy/",
        "sklearn": "https://scikit-learn.org/stable/",
        "torch": "https://docs.pytorch.org/docs/stable/",
    },
    DOCS / "_inventories",
)
intersphinx_mapping = _linked
if _not_linked:
    print("intersphinx: no inventory at hand for", ", ".join(_not_linked),
          "(offline; links to those projects are left as plain text)")

# -- Gallery -------------------------------------------------------------------
os.environ.setdefault("MPLBACKEND", "Agg")
sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib", "gallery_threads.one_blas_thread"),
}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"kernelfit {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []


def _skip_inherited_library_members(app, what, name, obj, skip, options):
    """Leave out members scikit-learn adds to the estimators (``set_fit_request`` ...).

    They are documented by scikit-learn, and their docstrings refer to its glossary.
    """
    owner = getattr(obj, "__module__", None) or ""
    if owner.startswith("sklearn.") or (name.startswith("set_") and name.endswith("_request")):
        return True
    return skip


def _reread_api_pages(app, env, added, changed, removed):
    """Re-read the module pages at every build, so that their autosummary tables
    (and the toctrees of the per-object pages) follow objects that moved."""
    return [name for name in env.found_docs
            if name.startswith("api/") and not name.startswith("api/generated/")]


def setup(app):
    app.connect("autodoc-skip-member", _skip_inherited_library_members)
    app.connect("env-get-outdated", _reread_api_pages)
