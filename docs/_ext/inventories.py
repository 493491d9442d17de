"""Intersphinx inventories that do not break an offline build.

Sphinx warns when an inventory cannot be fetched, and the docs build treats
warnings as errors. So a project is linked only when its inventory is at hand:
a local copy in ``docs/_inventories/<name>.inv`` (used offline, with links to
the online pages), else the online inventory when it answers within a few
seconds. ``KERNELFIT_DOCS_OFFLINE=1`` skips the network probe altogether.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path


def reachable(url: str, timeout: float = 3.0) -> bool:
    """True when ``url`` answers a HEAD request within ``timeout`` seconds."""
    try:
        request = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def available_inventories(projects: dict[str, str], local_dir: Path) -> tuple[dict, list[str]]:
    """The ``intersphinx_mapping`` entries that can be resolved now, and the names left out.

    Parameters
    ----------
    projects : dict of str to str
        Project name to the base URL of its documentation (ending in ``/``).
    local_dir : Path
        Where local copies ``<name>.inv`` are looked for.
    """
    offline = os.environ.get("KERNELFIT_DOCS_OFFLINE", "") not in ("", "0")
    mapping, left_out = {}, []
    for name, url in projects.items():
        local = local_dir / f"{name}.inv"
        if local.is_file():
            mapping[name] = (url, str(local))
        elif not offline and reachable(url + "objects.inv"):
            mapping[name] = (url, None)
        else:
            left_out.append(name)
    return mapping, left_out
