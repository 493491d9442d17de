"""The IDX file format of MNIST and Fashion-MNIST: parsing, checking and writing.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian 32-bit size per dimension, then the data in C order.
Only unsigned-byte data (type code ``0x08``) occurs in these data sets.
"""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from .compression import GZIP_MAGIC
from .errors import DatasetFormatError

__all__ = ["IMAGES_MAGIC", "LABELS_MAGIC", "encode_idx", "parse_idx", "write_idx_gz"]

#: Magic number of a 3-D unsigned-byte IDX file (images).
IMAGES_MAGIC = 0x00000803
#: Magic number of a 1-D unsigned-byte IDX file (labels).
LABELS_MAGIC = 0x00000801
_UBYTE = 0x08


def _describe(magic: int) -> str:
    return f"0x{magic:08x} ({magic})"


def parse_idx(content: bytes, *, ndim: int, source: str) -> np.ndarray:
    """Parse the decompressed bytes of an unsigned-byte IDX file.

    Parameters
    ----------
    content : bytes
        The whole file content (decompressed).
    ndim : int
        Expected number of dimensions: 3 for images, 1 for labels.
    source : str
        File name used in error messages.

    Returns
    -------
    ndarray of uint8
        Array of the shape given in the header (a writable copy).

    Raises
    ------
    DatasetFormatError
        On a wrong magic number, a truncated header or body, or trailing bytes.
    """
    expected_magic = (_UBYTE << 8) | ndim
    if len(content) < 4:
        raise DatasetFormatError(
            f"{source}: truncated IDX file: expected at least a 4-byte magic number, "
            f"found {len(content)} bytes"
        )
    (magic,) = struct.unpack(">I", content[:4])
    if magic != expected_magic:
        hint = ""
        if content[:2] == GZIP_MAGIC:
            hint = " (the data look gzip-compressed: is the file decompressed twice?)"
        raise DatasetFormatError(
            f"{source}: wrong magic number: expected {_describe(expected_magic)} "
            f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''}), "
            f"found {_describe(magic)}{hint}"
        )
    header = 4 + 4 * ndim
    if len(content) < header:
        raise DatasetFormatError(
            f"{source}: truncated IDX header: expected {header} bytes, found {len(content)}"
        )
    shape = struct.unpack(f">{ndim}I", content[4:header])
    expected = int(np.prod(shape, dtype=np.int64))
    found = len(content) - header
    if found < expected:
        raise DatasetFormatError(
            f"{source}: truncated file: the header announces shape {shape}, i.e. "
            f"{expected:,} data bytes after the {header}-byte header; found {found:,}"
        )
    if found > expected:
        raise DatasetFormatError(
            f"{source}: {found - expected:,} unexpected trailing bytes: the header announces "
            f"shape {shape}, i.e. {expected:,} data bytes; found {found:,}"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape).copy()


def encode_idx(array: np.ndarray) -> bytes:
    """Return the IDX bytes (header and data) of a uint8 array.

    Parameters
    ----------
    array : ndarray of uint8
        1-D labels or 3-D images.

    Returns
    -------
    bytes
        Exactly the bytes of the corresponding original IDX file.
    """
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8:
        raise TypeError(f"encode_idx needs a uint8 ndarray; found {getattr(array, 'dtype', array)}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"encode_idx needs at least one dimension; found shape {array.shape}")
    header = struct.pack(f">I{array.ndim}I", (_UBYTE << 8) | array.ndim, *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def write_idx_gz(array: np.ndarray, path: Path) -> Path:
    """Write ``array`` as a gzip-compressed IDX file, atomically.

    The data go to a temporary file in the same directory, which is renamed
    over ``path`` only when complete.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0
        ) as stream:
            stream.write(encode_idx(array))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; data files are ordinary files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
