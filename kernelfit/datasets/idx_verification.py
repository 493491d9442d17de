"""Checking the four IDX files of an MNIST-like set against their published checksums.

MNIST's checksums are sha256 digests of the *decompressed* files, so a raw copy
and any gzip re-compression of it verify alike. Fashion-MNIST publishes md5 sums
of its original ``.gz`` files only: a re-compressed ``.gz`` (or a raw file) with
the right content cannot be told from one with other content, so it is loaded
as unverified, with a note, and checked for structure only.

Every file is checked before any error is raised, so one error names every
file that failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .checksums import Checksum, verify_bytes
from .digests import file_digest
from .errors import ChecksumError

__all__ = ["applicable_checksum", "not_the_published_file", "verify_idx_files"]


def applicable_checksum(path: Path, table: Mapping[str, Checksum]) -> Checksum | None:
    """Return the checksum that applies to an IDX file, raw or ``.gz``, if any.

    A ``"content"`` checksum under the decompressed name applies to both forms;
    a ``"file"`` checksum applies only to the file of exactly that name.
    """
    base = path.name.removesuffix(".gz")
    if (checksum := table.get(base)) is not None and checksum.of == "content":
        return checksum
    if (checksum := table.get(path.name)) is not None and checksum.of == "file":
        return checksum
    return None


def not_the_published_file(path: Path, checksum: Checksum, found: str) -> str:
    """The note for a ``.gz`` whose published checksum (of the original ``.gz``) differs."""
    return (f"{path.name} is not the published file (expected {checksum}, found "
            f"{checksum.algorithm}:{found}), as a re-compressed copy is not; no checksum of "
            "its decompressed content is published, so it was checked for structure only")


def _check(path: Path, content: bytes, checksum: Checksum) -> str | None:
    """Verify one file; return a note when it cannot be verified, raise on a mismatch."""
    if checksum.of == "content":
        verify_bytes(content, checksum, str(path))
        return None
    found = file_digest(path, checksum.algorithm, checksum.of)
    return None if found == checksum.digest else not_the_published_file(path, checksum, found)


def verify_idx_files(contents: Mapping[Path, bytes], table: Mapping[str, Checksum],
                     dataset: str) -> tuple[dict[str, str], list[str], list[str]]:
    """Check every file of a set; raise one error naming every file that failed.

    Parameters
    ----------
    contents : mapping of Path to bytes
        Each file and its decompressed content.
    table : mapping of str to Checksum
        Published checksums by file name (see :func:`.checksums.checksum_table`).
    dataset : str
        ``"mnist"`` or ``"fashion-mnist"`` (for the hint in the error).

    Returns
    -------
    (verified, unverified, notes)
        ``{published name: "algorithm:digest"}`` of the files that verified, the
        names of those that could not be verified, and why.

    Raises
    ------
    ChecksumError
        Listing every file whose content differs from its published checksum.
    """
    verified: dict[str, str] = {}
    unverified: list[str] = []
    notes: list[str] = []
    failures: list[str] = []
    no_checksum: list[str] = []
    for path, content in contents.items():
        checksum = applicable_checksum(path, table)
        if checksum is None:
            unverified.append(path.name)
            no_checksum.append(path.name)
            continue
        try:
            note = _check(path, content, checksum)
        except ChecksumError as exc:
            failures.append(str(exc))
            continue
        if note is None:
            published_as = path.name.removesuffix(".gz") if checksum.of == "content" else (
                path.name)
            verified[published_as] = str(checksum)
        else:
            unverified.append(path.name)
            notes.append(note)
    if failures:
        hint = (" (Fashion-MNIST files have the same names: keep them in a fashion-mnist/ "
                "folder)" if dataset == "mnist" else "")
        if len(failures) == 1:
            raise ChecksumError(failures[0] + hint)
        raise ChecksumError(f"{len(failures)} files failed verification:\n"
                            + "\n".join(f"  {failure}" for failure in failures) + hint)
    if no_checksum:
        notes.insert(0, f"structure checked only for {', '.join(sorted(no_checksum))} (no "
                        "published checksum applies to these files)")
    return verified, unverified, notes
