"""Streamed hashing of files, with a memory of digests already computed.

Files are hashed in 1 MiB chunks, optionally after gzip decompression. Digests
are remembered in ``<cache>/digests.json`` keyed by resolved path, size and
modification time (nanoseconds), so repeated loads and status checks do not
rehash the same large file. Callers about to unpickle bypass this memory and
hash the very bytes they read (see :func:`.checksums.verify_open_file`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from ..progress import ProgressCallback, phase
from ..results_io import write_json
from .compression import open_content
from .locations import user_cache_dir

__all__ = ["CHUNK_BYTES", "file_digest", "hash_stream", "new_hash"]

#: Bytes read per step when hashing.
CHUNK_BYTES = 1 << 20


def new_hash(algorithm: str):
    """Return a hashlib object for ``algorithm`` (md5 marked as not for security)."""
    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    return hashlib.new(algorithm)


def hash_stream(stream, algorithm: str, advance=None) -> tuple[str, int]:
    """Hash a binary stream in 1 MiB chunks.

    Parameters
    ----------
    stream : binary file object
        Read to its end.
    algorithm : str
        ``"sha256"`` or ``"md5"``.
    advance : callable, optional
        Called with the number of bytes of each chunk (e.g. ``Phase.advance``).

    Returns
    -------
    (str, int)
        Hexadecimal digest and number of bytes hashed.
    """
    hasher = new_hash(algorithm)
    total = 0
    while chunk := stream.read(CHUNK_BYTES):
        hasher.update(chunk)
        total += len(chunk)
        if advance is not None:
            advance(len(chunk))
    return hasher.hexdigest(), total


def _digest_cache_path() -> Path:
    return user_cache_dir() / "digests.json"


def _load_digest_cache() -> dict:
    try:
        with open(_digest_cache_path(), encoding="utf-8") as handle:
            cache = json.load(handle)
        return cache if isinstance(cache, dict) else {}
    except (OSError, ValueError):
        return {}


def _store_digest(key: str, stamp: list, slot: str, digest: str) -> None:
    cache = _load_digest_cache()
    entry = cache.get(key)
    if not isinstance(entry, dict) or entry.get("stamp") != stamp:
        entry = {"stamp": stamp, "digests": {}}
    entry["digests"][slot] = digest
    cache[key] = entry
    path = _digest_cache_path()
    with contextlib.suppress(OSError):  # the digest memory is an optimisation only
        write_json(cache, path)


def file_digest(
    path: Path,
    algorithm: str,
    of: str = "file",
    *,
    progress: ProgressCallback | None = None,
    use_cache: bool = True,
) -> str:
    """Return the digest of a file (``of="file"``) or of its decompressed content.

    Parameters
    ----------
    path : Path
        File to hash, streamed in chunks.
    algorithm : str
        ``"sha256"`` or ``"md5"``.
    of : {"file", "content"}, default "file"
        Hash the stored bytes or the gzip-decompressed content.
    progress : callable, optional
        Receives a ``"verify <name>"`` phase in bytes.
    use_cache : bool, default True
        Reuse a digest remembered for the same path, size and modification time.

    Returns
    -------
    str
        Hexadecimal digest.
    """
    path = Path(path)
    stat = path.stat()
    key = str(path.resolve())
    stamp = [stat.st_size, stat.st_mtime_ns]
    slot = f"{algorithm}:{of}"
    if use_cache:
        entry = _load_digest_cache().get(key)
        if isinstance(entry, dict) and entry.get("stamp") == stamp:
            cached = entry.get("digests", {}).get(slot)
            if isinstance(cached, str):
                return cached
    with phase(progress, f"verify {path.name}", total=stat.st_size, unit="B") as p:
        if of == "content":
            with open_content(path) as stream:
                digest, _ = hash_stream(stream, algorithm)
            p.advance(stat.st_size)
        else:
            with open(path, "rb") as stream:
                digest, _ = hash_stream(stream, algorithm, p.advance)
    if use_cache:
        _store_digest(key, stamp, slot, digest)
    return digest
