"""Downloading one file safely: streamed, verified, then renamed into place.

The bytes go to a hidden temporary file (``.<name>.<random>.part``) in the
destination directory. Only after the byte count and the checksum are right is
it renamed over the destination with :func:`os.replace`, which is atomic on one
file system. On any failure -- a network error, an interruption, a checksum
mismatch, a ``KeyboardInterrupt`` -- the temporary file is removed, and a
leftover from a killed process never has a name that a loader accepts.
"""

from __future__ import annotations

import http.client
import os
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from ..progress import ProgressCallback, phase
from .checksums import Checksum, verify_file
from .errors import DownloadError

__all__ = ["download_file"]

_CHUNK_BYTES = 1 << 16
_USER_AGENT = "kernelfit-datasets (+https://pypi.org/project/kernelfit)"


def download_file(
    url: str,
    destination: Path,
    *,
    checksum: Checksum | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``destination``, verifying it before it appears there.

    Parameters
    ----------
    url : str
        An ``http://`` or ``https://`` address.
    destination : Path
        Final path; its directory is created if needed.
    checksum : Checksum, optional
        Expected checksum of the downloaded file (``of="content"`` checks the
        decompressed bytes of a gzip download).
    progress : callable, optional
        Receives a ``"download <name>"`` phase in bytes.
    timeout : float, default 60.0
        Seconds to wait for the connection and for each read.

    Returns
    -------
    Path
        ``destination``.

    Raises
    ------
    ValueError
        If ``url`` is not http(s).
    DownloadError
        If the server fails or the transfer ends early; nothing is left behind.
    ChecksumError
        If the downloaded bytes do not match ``checksum``; nothing is left behind.
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise ValueError(f"download URL must start with http:// or https://; found {url!r}")
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _fetch(url, out, destination.name, progress, timeout)
            out.flush()
            os.fsync(out.fileno())
        tmp.chmod(0o644)  # mkstemp makes it private; data files are ordinary files
        if checksum is not None:
            verify_file(tmp, checksum, source=f"{destination.name} downloaded from {url}",
                        use_cache=False)
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    return destination


def _fetch(url: str, out, name: str, progress, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    total = received = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else 0
            with phase(progress, f"download {name}", total=total, unit="B") as p:
                while chunk := response.read(_CHUNK_BYTES):
                    out.write(chunk)
                    received += len(chunk)
                    p.advance(len(chunk))
    except http.client.IncompleteRead as exc:
        raise DownloadError(
            f"download of {url} was interrupted: expected {total:,} bytes, "
            f"received {received + len(exc.partial):,}"
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, DownloadError):
            raise
        raise DownloadError(f"download of {url} failed: {exc}") from exc
    if total and received != total:
        raise DownloadError(
            f"download of {url} was interrupted: expected {total:,} bytes, received {received:,}"
        )
