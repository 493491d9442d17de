"""What data sets are available locally: the records behind ``kernelfit datasets``.

:func:`dataset_status` never downloads, unpickles or decodes; with
``verify=True`` it hashes the files found (streamed, and remembered by path,
size and modification time, so a second call is quick).
"""

from __future__ import annotations

from .checksums import checksum_table, file_digest
from .cifar10 import locate_cifar10, verify_cifar_copy
from .errors import ChecksumError, DatasetFormatError
from .idx_datasets import FASHION_MNIST, MNIST, locate_idx
from .idx_verification import applicable_checksum, not_the_published_file
from .records import DatasetStatus

__all__ = ["dataset_status"]


def _idx_status(spec, data_dir, verify: bool) -> DatasetStatus:
    found, searched, partial = locate_idx(spec, data_dir)
    if found is None:
        return DatasetStatus(
            spec.name, False, None, None, None, None,
            (*partial, "searched: " + ", ".join(map(str, searched))),
        )
    files, root = found
    directory = str(files["train_images"].parent)
    if not verify:
        return DatasetStatus(spec.name, True, directory, "idx", None, root.origin, tuple(partial))
    table = checksum_table(spec.name)
    notes, verified, failed = list(partial), True, False
    for path in files.values():
        checksum = applicable_checksum(path, table)
        if checksum is None:
            verified = False
            notes.append(f"{path.name}: no published checksum (structure checked at load only)")
            continue
        try:
            digest = file_digest(path, checksum.algorithm, checksum.of)
        except (OSError, EOFError, DatasetFormatError) as exc:
            verified, failed = False, True
            notes.append(f"{path.name}: unreadable: {exc}")
            continue
        if digest != checksum.digest and checksum.of == "file":  # loads, unverified
            verified = False
            notes.append(not_the_published_file(path, checksum, digest))
        elif digest != checksum.digest:
            verified, failed = False, True
            notes.append(
                f"{path.name}: checksum mismatch: expected {checksum}, "
                f"found {checksum.algorithm}:{digest}"
            )
    return DatasetStatus(spec.name, True, directory, "idx", verified, root.origin, tuple(notes),
                         failed)


def _cifar_status(data_dir, verify: bool) -> DatasetStatus:
    copy, searched, partial = locate_cifar10(data_dir)
    if copy is None:
        return DatasetStatus(
            "cifar10", False, None, None, None, None,
            (*partial, "searched: " + ", ".join(map(str, searched))),
        )
    verified, notes, failed = None, list(partial), False
    if verify:
        try:
            verified, note = verify_cifar_copy(copy, checksum_table("cifar10"))
        except ChecksumError as exc:
            verified, failed, note = False, True, str(exc)
        except OSError as exc:
            verified, failed, note = False, True, f"unreadable: {exc}"
        notes.append(note)
    return DatasetStatus(
        "cifar10", True, str(copy.path), copy.kind, verified, copy.origin, tuple(notes), failed
    )


def dataset_status(data_dir=None, *, verify: bool = True) -> list[DatasetStatus]:
    """Report, for each known data set, whether and where a local copy exists.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Directory searched first, as for the loaders.
    verify : bool, default True
        Check the copies found against their published checksums.

    Returns
    -------
    list of DatasetStatus
        One record each for ``"mnist"``, ``"fashion-mnist"`` and ``"cifar10"``.
    """
    return [
        _idx_status(MNIST, data_dir, verify),
        _idx_status(FASHION_MNIST, data_dir, verify),
        _cifar_status(data_dir, verify),
    ]
