"""Exceptions raised by the data-set loaders.

Each one subclasses the built-in type that fits, so callers may catch either:
a missing data set is a :class:`FileNotFoundError`, a bad checksum or a malformed
file is a :class:`ValueError`, a failed download is an :class:`OSError`.
"""

from __future__ import annotations

import pickle

__all__ = [
    "ChecksumError",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "DownloadError",
    "UnsafePickleError",
]


class DatasetNotFoundError(FileNotFoundError):
    """No usable copy of a data set was found, and none could be downloaded.

    The message lists the accepted file names, the directories searched in
    order, the environment variable and the download attempts.
    """


class ChecksumError(ValueError):
    """A file's checksum differs from the published one (or none is known for a pickle).

    The message names the file, the expected value and the value found.
    """


class DatasetFormatError(ValueError):
    """A data file is truncated, has a wrong magic number, or its parts disagree."""


class DownloadError(OSError):
    """A download failed or was interrupted; nothing was left at the destination."""


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for an object outside the NumPy-array allowlist and was refused."""
