"""A cache of decoded image arrays, so an image tree is decoded only once.

Entries are uncompressed ``.npz`` files in ``<cache>/decoded/``, named by a key
that the caller derives from the source's content (the sha256 of a tar file, or
of a directory listing). They hold only numeric and string arrays and are read
with ``allow_pickle=False``. A damaged entry is deleted and treated as absent.
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .locations import user_cache_dir

__all__ = ["decoded_cache_path", "load_decoded", "store_decoded"]

_KEY = re.compile(r"[A-Za-z0-9._-]+")


def decoded_cache_path(key: str) -> Path:
    """Return the cache file of ``key`` (letters, digits, ``._-`` only)."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"cache key must match {_KEY.pattern}; found {key!r}")
    return user_cache_dir() / "decoded" / f"{key}.npz"


def load_decoded(key: str, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """Return the arrays cached under ``key``, or None if absent or damaged.

    Parameters
    ----------
    key : str
        Cache key.
    names : tuple of str
        Arrays the entry must contain.
    """
    path = decoded_cache_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in names}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        path.unlink(missing_ok=True)
        return None


def store_decoded(key: str, arrays: dict[str, np.ndarray]) -> Path | None:
    """Write ``arrays`` under ``key`` atomically; return the path, or None if not writable."""
    path = decoded_cache_path(key)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".part")
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
        return path
    except OSError:
        return None  # the cache is an optimisation only
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
