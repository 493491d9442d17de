"""CIFAR-10: finding any of its accepted formats, verifying it, and reading it.

Accepted, in each searched directory (each root's ``cifar10/`` sub-folder first),
in this order of preference:

1. ``cifar-10-batches-py/`` -- the extracted python batches (md5 of each batch);
2. ``cifar-10-python.tar.gz`` -- the original python tarball (md5);
3. ``cifar-10-binary.tar.gz`` -- the original binary tarball (md5);
4. ``cifar-10-batches-bin/`` -- the extracted binary batches (structure only);
5. ``cifar10-jpeg.tar`` or ``cifar10-images.tar`` -- an image tree in a tar
   (the JPEG re-encoding is verified by sha256 and reported as such);
6. ``train/<class>/*`` and ``test/<class>/*`` -- an image tree (structure only).

If none is found, the binary tarball is downloaded into the cache directory:
it is as canonical as the python one and needs no unpickling at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..progress import ProgressCallback
from .checksums import Checksum, checksum_table, verify_file
from .cifar_batches import (
    BATCHES,
    BINARY_DIR,
    CIFAR10_CLASSES,
    PYTHON_DIR,
    read_binary_batch_dir,
    read_binary_tarball,
    read_python_batch_dir,
    read_python_tarball,
)
from .digests import file_digest
from .download import download_file
from .errors import ChecksumError, DatasetFormatError, DatasetNotFoundError
from .image_tree import has_image_tree, read_image_tree
from .locations import candidate_dirs, search_roots, user_cache_dir
from .not_found import not_found_message
from .records import Dataset, DataSource

__all__ = ["CifarCopy", "load_cifar10", "locate_cifar10"]

SUBFOLDERS = ("cifar10", "cifar-10", "CIFAR10")
PYTHON_TARBALL = "cifar-10-python.tar.gz"
BINARY_TARBALL = "cifar-10-binary.tar.gz"
IMAGE_TREE_TARS = ("cifar10-jpeg.tar", "cifar10-images.tar")
MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
JPEG_NAME = "CIFAR-10 (JPEG re-encoding)"
JPEG_NOTE = (
    "JPEG re-encoding of CIFAR-10, not bit-identical to the original (pixels differ by a few "
    f"levels); report results as '{JPEG_NAME}'"
)
ORDER_NOTE = (
    "images are ordered by class, then file name, not in the original order; "
    "shuffle before taking subsets"
)
ACCEPTED = [
    f"{PYTHON_DIR}/ with {', '.join(BATCHES)}",
    PYTHON_TARBALL,
    BINARY_TARBALL,
    f"{BINARY_DIR}/ with {', '.join(b + '.bin' for b in BATCHES)}",
    " or ".join(IMAGE_TREE_TARS) + " (train/<class>/*.png|jpg and test/<class>/*)",
    "train/<class>/*.png|jpg and test/<class>/*.png|jpg, classes " + " ".join(CIFAR10_CLASSES),
]


@dataclass(frozen=True)
class CifarCopy:
    """A copy of CIFAR-10 found on disk (not yet read or verified)."""

    kind: str
    path: Path
    origin: str


def _copies_in(directory: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    copies, partial = [], []
    for kind, folder, suffix in (
        ("cifar-python-batches", PYTHON_DIR, ""),
        ("cifar-binary-batches", BINARY_DIR, ".bin"),
    ):
        if (directory / folder).is_dir():
            files = [b + suffix for b in BATCHES]
            missing = [f for f in files if not (directory / folder / f).is_file()]
            if missing:
                partial.append(f"{directory / folder} lacks {', '.join(missing)}")
            else:
                copies.append((kind, directory / folder))
    for kind, name in (
        ("cifar-python-tarball", PYTHON_TARBALL),
        ("cifar-binary-tarball", BINARY_TARBALL),
        *(("image-tree-tar", name) for name in IMAGE_TREE_TARS),
    ):
        if (directory / name).is_file():
            copies.append((kind, directory / name))
    if has_image_tree(directory):
        copies.append(("image-tree-dir", directory))
    rank = ["cifar-python-batches", "cifar-python-tarball", "cifar-binary-tarball",
            "cifar-binary-batches", "image-tree-tar", "image-tree-dir"]
    return sorted(copies, key=lambda copy: rank.index(copy[0])), partial


def locate_cifar10(data_dir=None) -> tuple[CifarCopy | None, list[Path], list[str]]:
    """Find the preferred copy of CIFAR-10 in the searched directories.

    Returns
    -------
    (copy, searched, partial)
        The first copy found (or None), the directories searched, and notes on
        incomplete copies seen.
    """
    searched, partial = [], []
    for directory, root in candidate_dirs(search_roots(data_dir), SUBFOLDERS):
        searched.append(directory)
        copies, notes = _copies_in(directory)
        partial += notes
        if copies:
            kind, path = copies[0]
            return CifarCopy(kind, path, root.origin), searched, partial
    return None, searched, partial


def _read_tree(copy: CifarCopy, table: dict[str, Checksum], progress) -> Dataset:
    checksum = table.get(copy.path.name) if copy.kind == "image-tree-tar" else None
    verified, digest = {}, None
    if checksum is not None:
        digest = verify_file(copy.path, checksum, progress=progress)
        verified[copy.path.name] = str(checksum)
        if checksum.algorithm != "sha256":
            digest = None
    tree = read_image_tree(copy.path, progress=progress, content_digest=digest)
    if tree.classes != CIFAR10_CLASSES:
        raise DatasetFormatError(
            f"{copy.path}: expected the 10 CIFAR-10 class folders {', '.join(CIFAR10_CLASSES)}; "
            f"found {', '.join(tree.classes)}"
        )
    jpeg = any(s in (".jpg", ".jpeg") for s in tree.suffixes)
    notes = [ORDER_NOTE]
    if jpeg:
        notes.insert(0, JPEG_NOTE)
    if not verified:
        notes.append("structure checked only: no published checksum for this copy")
    return Dataset(
        "cifar10", JPEG_NAME if jpeg else "CIFAR-10 (image tree)",
        tree.X_train, tree.y_train, tree.X_test, tree.y_test, CIFAR10_CLASSES,
        DataSource(copy.kind, str(copy.path), bool(verified), copy.origin, verified, tuple(notes)),
    )


def read_cifar_copy(
    copy: CifarCopy, table: dict[str, Checksum], *, progress: ProgressCallback | None = None
) -> Dataset:
    """Verify (where a checksum is published) and read one copy of CIFAR-10."""
    if copy.kind.startswith("image-tree"):
        return _read_tree(copy, table, progress)
    if copy.kind == "cifar-python-tarball":
        arrays = read_python_tarball(copy.path, table.get(PYTHON_TARBALL), progress=progress)
    elif copy.kind == "cifar-binary-tarball":
        arrays = read_binary_tarball(copy.path, table.get(BINARY_TARBALL), progress=progress)
    elif copy.kind == "cifar-python-batches":
        arrays = read_python_batch_dir(copy.path, table)
    else:
        arrays = read_binary_batch_dir(copy.path)
    verified = bool(arrays.checksums)
    notes = () if verified else (
        "structure checked only: no published checksums for the extracted binary batches",
    )
    return Dataset(
        "cifar10", "CIFAR-10",
        arrays.X_train, arrays.y_train, arrays.X_test, arrays.y_test, CIFAR10_CLASSES,
        DataSource(copy.kind, str(copy.path), verified, copy.origin, arrays.checksums, notes),
    )


def verify_cifar_copy(copy: CifarCopy, table: dict[str, Checksum]) -> tuple[bool, str]:
    """Check a copy's published checksums without reading it; return (verified, note).

    ``verified`` is False when no checksum is published for the copy's format.

    Raises
    ------
    ChecksumError
        If a file differs from its published checksum.
    """
    if copy.kind in ("cifar-binary-batches", "image-tree-dir"):
        return False, "structure checked only: no published checksums for this format"
    if copy.kind == "cifar-python-batches":
        names = [f"{PYTHON_DIR}/{b}" for b in BATCHES]
    else:
        names = [copy.path.name]
    base = copy.path.parent
    for name in names:
        checksum = table.get(name)
        if checksum is None:
            return False, f"no published checksum for {name}"
        digest = file_digest(base / name, checksum.algorithm, checksum.of)
        if digest != checksum.digest:
            raise ChecksumError(
                f"checksum mismatch for {base / name}: expected {checksum}, "
                f"found {checksum.algorithm}:{digest}"
            )
    note = JPEG_NOTE if copy.path.name == "cifar10-jpeg.tar" else "matches published checksums"
    return True, note


def load_cifar10(
    data_dir=None,
    *,
    progress: ProgressCallback | None = None,
    download: bool = True,
    checksums: Mapping[str, Checksum | None] | None = None,
    mirrors: Sequence[str] | None = None,
) -> Dataset:
    """Load CIFAR-10 (50,000 train and 10,000 test 32x32 RGB images).

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Directory searched first (also its ``cifar10/`` sub-folder); then
        ``$KERNELFIT_DATA``, then the cache directory.
    progress : callable, optional
        Receives ``"download"``, ``"verify"`` and ``"decode"`` phases.
    download : bool, default True
        If nothing is found, download ``cifar-10-binary.tar.gz`` into the cache.
    checksums : mapping, optional
        Entries replacing (or, with None, removing) published checksums.
    mirrors : sequence of str, optional
        Base URLs to download the tarball from, in order.

    Returns
    -------
    Dataset
        ``X_*`` uint8 of shape (n, 32, 32, 3) (height, width, RGB), ``y_*`` int64.
        ``display_name`` is ``"CIFAR-10 (JPEG re-encoding)"`` for the JPEG copy,
        which results must be reported under.

    Raises
    ------
    DatasetNotFoundError
        Listing the accepted files, the directories searched and the attempts.
    ChecksumError
        If a copy does not match its published checksum (it is not used).
    DatasetFormatError
        If a file is truncated or malformed.
    UnsafePickleError
        If a (verified) python batch names anything but NumPy array reconstruction.
    """
    table = checksum_table("cifar10", checksums)
    copy, searched, partial = locate_cifar10(data_dir)
    if copy is not None:
        return read_cifar_copy(copy, table, progress=progress)
    attempts: list[str] = []
    if download:
        target = user_cache_dir() / SUBFOLDERS[0] / BINARY_TARBALL
        for base in MIRRORS if mirrors is None else mirrors:
            url = base.rstrip("/") + "/" + BINARY_TARBALL
            try:
                download_file(url, target, checksum=table.get(BINARY_TARBALL), progress=progress)
            except (OSError, ValueError) as exc:
                attempts.append(f"{url}: {exc}")
                continue
            copy = CifarCopy("cifar-binary-tarball", target, "download")
            return read_cifar_copy(copy, table, progress=progress)
    raise DatasetNotFoundError(not_found_message(
        "CIFAR-10", ACCEPTED, "any one of these", searched, partial, attempts, download
    ))
