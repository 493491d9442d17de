"""Verified loaders for MNIST, Fashion-MNIST and CIFAR-10.

Each loader returns a :class:`Dataset` of uint8 images and int64 labels with a
:class:`DataSource` record saying what was read and whether it matched the
published checksums. Data are looked for in ``data_dir``, then
``$KERNELFIT_DATA``, then the user cache directory, and downloaded (verified,
renamed into place atomically) only if absent.

Examples
--------
>>> from kernelfit.datasets import load_mnist, as_float      # doctest: +SKIP
>>> mnist = load_mnist(data_dir="~/data")                     # doctest: +SKIP
>>> X = as_float(mnist.X_train)                               # (60000, 784) float32
"""

from .catalog import DATASET_LOADERS, load_dataset
from .checksums import KNOWN_CHECKSUMS, Checksum
from .cifar10 import load_cifar10
from .errors import (
    ChecksumError,
    DatasetFormatError,
    DatasetNotFoundError,
    DownloadError,
    UnsafePickleError,
)
from .idx_datasets import load_fashion_mnist, load_mnist
from .locations import CACHE_ENV, DATA_ENV, user_cache_dir
from .pixels import as_float
from .records import Dataset, DatasetStatus, DataSource
from .status import dataset_status

__all__ = [
    "CACHE_ENV",
    "DATASET_LOADERS",
    "DATA_ENV",
    "KNOWN_CHECKSUMS",
    "Checksum",
    "ChecksumError",
    "DataSource",
    "Dataset",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "DatasetStatus",
    "DownloadError",
    "UnsafePickleError",
    "as_float",
    "dataset_status",
    "load_cifar10",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "user_cache_dir",
]
