"""CIFAR-10's own batch formats: python pickles and binary records, in a tarball or a folder.

* Python version: ``cifar-10-batches-py/data_batch_1..5`` and ``test_batch``, each a
  pickled dict with ``data`` (N x 3072 uint8, channel-major) and ``labels``. The
  pickles are opened only after their container's checksum is verified (the
  tarball's md5, or each extracted batch's md5), and then only with
  :class:`~.restricted_pickle.NumpyOnlyUnpickler`.
* Binary version: ``cifar-10-batches-bin/data_batch_1..5.bin`` and
  ``test_batch.bin``, each a sequence of 3073-byte records (1 label byte, then
  3072 pixel bytes: 1024 red, 1024 green, 1024 blue, rows in order). No pickle.

Images are returned height x width x channel.
"""

from __future__ import annotations

import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..progress import ProgressCallback
from .checksums import Checksum, verify_bytes, verify_open_file
from .errors import ChecksumError, DatasetFormatError
from .restricted_pickle import load_numpy_pickle

__all__ = [
    "BINARY_DIR",
    "CIFAR10_CLASSES",
    "PYTHON_DIR",
    "CifarArrays",
    "parse_binary_batch",
    "read_binary_batch_dir",
    "read_binary_tarball",
    "read_python_batch_dir",
    "read_python_tarball",
]

#: CIFAR-10 class names, in label order (which is also alphabetical order).
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
PYTHON_DIR = "cifar-10-batches-py"
BINARY_DIR = "cifar-10-batches-bin"
BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
RECORD_BYTES = 1 + 3 * 32 * 32


@dataclass(frozen=True, eq=False)
class CifarArrays:
    """Train and test arrays read from CIFAR-10 batches, with the digests verified."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    checksums: dict[str, str] = field(default_factory=dict)


def _channel_major_to_hwc(flat: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(flat.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def _check_labels(labels: np.ndarray, source: str) -> np.ndarray:
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise DatasetFormatError(
            f"{source}: labels must lie in 0..9; found {int(labels.min())}..{int(labels.max())}"
        )
    return labels.astype(np.int64)


def _python_batch_arrays(batch, source: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        found = sorted(map(str, batch)) if isinstance(batch, dict) else type(batch).__name__
        raise DatasetFormatError(
            f"{source}: expected a dict with 'data' and 'labels'; found {found}"
        )
    data, labels = batch["data"], np.asarray(batch["labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or (
        data.shape[1] != RECORD_BYTES - 1
    ):
        raise DatasetFormatError(
            f"{source}: expected 'data' as a uint8 array of shape (N, 3072); found "
            f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}"
        )
    if labels.ndim != 1 or labels.shape[0] != data.shape[0] or labels.dtype.kind not in "iu":
        raise DatasetFormatError(
            f"{source}: mismatched counts: {data.shape[0]} images but labels of shape "
            f"{labels.shape} and dtype {labels.dtype}"
        )
    return _channel_major_to_hwc(data), _check_labels(labels, source)


def _assemble(parts: list[tuple[np.ndarray, np.ndarray]], checksums: dict) -> CifarArrays:
    X_train = np.concatenate([x for x, _ in parts[:-1]])
    y_train = np.concatenate([y for _, y in parts[:-1]])
    return CifarArrays(X_train, y_train, parts[-1][0], parts[-1][1], checksums)


def _no_checksum(source: str) -> ChecksumError:
    return ChecksumError(
        f"{source}: no checksum is known for this pickle, and pickles are opened only after "
        "their checksum is verified; use the binary batches (cifar-10-batches-bin) or pass "
        "its checksum in checksums=..."
    )


def read_python_tarball(
    path: Path, checksum: Checksum | None, *, progress: ProgressCallback | None = None
) -> CifarArrays:
    """Read ``cifar-10-python.tar.gz`` after verifying it.

    Parameters
    ----------
    path : Path
        The tarball.
    checksum : Checksum or None
        Its expected checksum; None is refused.
    progress : callable, optional
        Receives the ``"verify"`` phase.

    Raises
    ------
    ChecksumError
        If the checksum is unknown or does not match (nothing is unpickled).
    DatasetFormatError
        If a batch is missing or malformed.
    UnsafePickleError
        If a batch pickle names anything but NumPy array reconstruction.
    """
    if checksum is None:
        raise _no_checksum(str(path))
    parts = []
    with open(path, "rb") as handle:
        digest = verify_open_file(handle, checksum, str(path), progress)
        try:
            with tarfile.open(fileobj=handle, mode="r:gz") as archive:
                for name in BATCHES:
                    source = f"{path}:{PYTHON_DIR}/{name}"
                    try:
                        member = archive.getmember(f"{PYTHON_DIR}/{name}")
                    except KeyError:
                        raise DatasetFormatError(
                            f"{path}: expected a member {PYTHON_DIR}/{name}; it is missing"
                        ) from None
                    stream = archive.extractfile(member)
                    if stream is None:
                        raise DatasetFormatError(f"{source}: expected a regular file")
                    parts.append(_python_batch_arrays(load_numpy_pickle(stream, source=source),
                                                      source))
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise DatasetFormatError(f"{path}: unreadable or truncated tarball: {exc}") from exc
    return _assemble(parts, {path.name: f"{checksum.algorithm}:{digest}"})


def read_python_batch_dir(directory: Path, checksums: dict[str, Checksum]) -> CifarArrays:
    """Read extracted python batches, verifying each file before unpickling it.

    Parameters
    ----------
    directory : Path
        The ``cifar-10-batches-py`` folder.
    checksums : dict
        Table with entries ``"cifar-10-batches-py/<batch>"``; a batch without
        one is refused.

    Raises
    ------
    ChecksumError, DatasetFormatError, UnsafePickleError
        As for :func:`read_python_tarball`.
    """
    parts, verified = [], {}
    for name in BATCHES:
        path, key = directory / name, f"{PYTHON_DIR}/{name}"
        checksum = checksums.get(key)
        if checksum is None:
            raise _no_checksum(str(path))
        data = path.read_bytes()
        verified[key] = f"{checksum.algorithm}:{verify_bytes(data, checksum, str(path))}"
        parts.append(_python_batch_arrays(load_numpy_pickle(data, source=str(path)), str(path)))
    return _assemble(parts, verified)


def parse_binary_batch(content: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse one binary batch (3073-byte records) into HWC images and int64 labels.

    Raises
    ------
    DatasetFormatError
        If the size is not a positive multiple of 3073 bytes or a label exceeds 9.
    """
    count, extra = divmod(len(content), RECORD_BYTES)
    if extra or not count:
        raise DatasetFormatError(
            f"{source}: truncated or malformed batch: expected a positive multiple of "
            f"{RECORD_BYTES} bytes (1 label byte + 3072 pixel bytes per image), "
            f"found {len(content):,} bytes ({count} records and {extra} extra bytes)"
        )
    records = np.frombuffer(content, dtype=np.uint8).reshape(count, RECORD_BYTES)
    return _channel_major_to_hwc(records[:, 1:]), _check_labels(records[:, 0], source)


def read_binary_batch_dir(directory: Path) -> CifarArrays:
    """Read the extracted binary batches (``<batch>.bin``); structure is checked, not checksums."""
    return _assemble(
        [parse_binary_batch((directory / f"{n}.bin").read_bytes(), str(directory / f"{n}.bin"))
         for n in BATCHES],
        {},
    )


def read_binary_tarball(
    path: Path, checksum: Checksum | None, *, progress: ProgressCallback | None = None
) -> CifarArrays:
    """Read ``cifar-10-binary.tar.gz``, verifying it first when ``checksum`` is given.

    Raises
    ------
    ChecksumError
        If ``checksum`` is given and does not match.
    DatasetFormatError
        If a batch is missing or malformed.
    """
    parts, verified = [], {}
    with open(path, "rb") as handle:
        if checksum is not None:
            digest = verify_open_file(handle, checksum, str(path), progress)
            verified[path.name] = f"{checksum.algorithm}:{digest}"
        try:
            with tarfile.open(fileobj=handle, mode="r:gz") as archive:
                for name in BATCHES:
                    member_name = f"{BINARY_DIR}/{name}.bin"
                    try:
                        stream = archive.extractfile(archive.getmember(member_name))
                    except KeyError:
                        raise DatasetFormatError(
                            f"{path}: expected a member {member_name}; it is missing"
                        ) from None
                    if stream is None:
                        raise DatasetFormatError(f"{path}:{member_name}: expected a regular file")
                    parts.append(parse_binary_batch(stream.read(), f"{path}:{member_name}"))
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise DatasetFormatError(f"{path}: unreadable or truncated tarball: {exc}") from exc
    return _assemble(parts, verified)
