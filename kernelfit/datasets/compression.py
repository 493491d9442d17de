"""Reading files that may or may not be gzip-compressed.

Compression is recognised by the gzip magic bytes, not by the file name, so a
download's temporary file and a misnamed file are read correctly.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from .errors import DatasetFormatError

__all__ = ["GZIP_MAGIC", "is_gzip", "open_content", "read_content"]

#: First two bytes of every gzip stream.
GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    """Return True if the file at ``path`` starts with the gzip magic bytes."""
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_content(path: Path):
    """Open ``path`` for binary reading, decompressing on the fly if it is gzip.

    Returns
    -------
    file object
        A binary stream of the decompressed content; close it after use.
    """
    if is_gzip(path):
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_content(path: Path) -> bytes:
    """Return the whole (decompressed) content of ``path``.

    Raises
    ------
    DatasetFormatError
        If a gzip stream is truncated or corrupt; the message names the file.
    """
    try:
        with open_content(path) as stream:
            return stream.read()
    except EOFError as exc:
        raise DatasetFormatError(
            f"{path}: truncated gzip stream (the compressed file ends before its end marker); "
            "download or copy it again"
        ) from exc
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DatasetFormatError(f"{path}: corrupt gzip stream: {exc}") from exc
