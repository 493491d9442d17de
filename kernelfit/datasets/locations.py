"""Where data sets are looked for, and where downloads and caches are written.

The search order is: the ``data_dir`` argument (the CLI's ``--data-dir``), the
``KERNELFIT_DATA`` environment variable (one directory or several separated by
``os.pathsep``), then the user cache directory. The cache directory is
``$KERNELFIT_CACHE`` when set, else ``$XDG_CACHE_HOME/kernelfit``, else
``~/.cache/kernelfit``. Inside each of these roots a data set may sit at the
top level or in a sub-folder named after it (``<root>/mnist/``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "SearchRoot",
    "candidate_dirs",
    "search_roots",
    "user_cache_dir",
]

#: Environment variable naming extra data directories.
DATA_ENV = "KERNELFIT_DATA"
#: Environment variable overriding the user cache directory.
CACHE_ENV = "KERNELFIT_CACHE"


@dataclass(frozen=True)
class SearchRoot:
    """One directory searched for data, with the reason it is searched.

    Attributes
    ----------
    path : Path
        The directory (it need not exist).
    origin : str
        ``"data_dir"``, ``"KERNELFIT_DATA"`` or ``"cache"``.
    """

    path: Path
    origin: str


def user_cache_dir() -> Path:
    """Return the kernelfit cache directory (not created).

    Returns
    -------
    Path
        ``$KERNELFIT_CACHE``, else ``$XDG_CACHE_HOME/kernelfit``, else
        ``~/.cache/kernelfit``.
    """
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "kernelfit"


def _as_path(data_dir) -> Path:
    if isinstance(data_dir, (str, os.PathLike)):
        return Path(data_dir).expanduser()
    raise TypeError(f"data_dir must be a path (str or os.PathLike) or None; found {data_dir!r}")


def search_roots(data_dir=None) -> list[SearchRoot]:
    """Return the directories searched for data, in order, without duplicates.

    Parameters
    ----------
    data_dir : str, os.PathLike or None, default None
        Directory given by the caller; searched first.

    Returns
    -------
    list of SearchRoot
        ``data_dir``, then each entry of ``$KERNELFIT_DATA``, then the cache directory.

    Raises
    ------
    TypeError
        If ``data_dir`` is neither None nor a path.
    """
    roots: list[SearchRoot] = []
    if data_dir is not None:
        roots.append(SearchRoot(_as_path(data_dir), "data_dir"))
    for entry in os.environ.get(DATA_ENV, "").split(os.pathsep):
        if entry.strip():
            roots.append(SearchRoot(Path(entry.strip()).expanduser(), DATA_ENV))
    roots.append(SearchRoot(user_cache_dir(), "cache"))
    unique: list[SearchRoot] = []
    seen: set[Path] = set()
    for root in roots:
        key = root.path.absolute()
        if key not in seen:
            seen.add(key)
            unique.append(root)
    return unique


def candidate_dirs(
    roots: list[SearchRoot], subfolders: tuple[str, ...]
) -> list[tuple[Path, SearchRoot]]:
    """Expand each root into its data-set sub-folders, then the root itself.

    Parameters
    ----------
    roots : list of SearchRoot
        From :func:`search_roots`.
    subfolders : tuple of str
        Sub-folder names of the data set, e.g. ``("fashion-mnist", "fashion_mnist")``.

    Returns
    -------
    list of (Path, SearchRoot)
        Directories to look in, root by root; within a root the sub-folders come
        first because they name the data set unambiguously.
    """
    found: list[tuple[Path, SearchRoot]] = []
    for root in roots:
        found.extend((root.path / sub, root) for sub in subfolders)
        found.append((root.path, root))
    return found
