"""The data sets kernelfit knows, loadable by name (for the CLI and benchmarks)."""

from __future__ import annotations

from .cifar10 import load_cifar10
from .idx_datasets import load_fashion_mnist, load_mnist
from .records import Dataset

__all__ = ["DATASET_LOADERS", "load_dataset"]

#: Loader of each data set, by the name used on the command line.
DATASET_LOADERS = {
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
}


def load_dataset(name: str, data_dir=None, **options) -> Dataset:
    """Load a data set by name.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "cifar10"}
        Data-set name.
    data_dir : str or os.PathLike, optional
        Searched first.
    **options
        Keyword options of the loader (``progress``, ``download``, ...).

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        If ``name`` is not a known data set.
    """
    loader = DATASET_LOADERS.get(name)
    if loader is None:
        raise ValueError(f"unknown data set {name!r}; expected one of {sorted(DATASET_LOADERS)}")
    return loader(data_dir, **options)
