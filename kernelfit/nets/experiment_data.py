"""Train/test arrays for the randomization experiments, with seeded class-balanced subsets.

The experiments take arrays, so they never depend on where data come from;
:func:`load_experiment_data` is the one place that calls
:mod:`kernelfit.datasets` (imported when called).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ExperimentData", "balanced_subset", "load_experiment_data"]


@dataclass
class ExperimentData:
    """A train/test split and what it is.

    Attributes
    ----------
    X_train, y_train, X_test, y_test : ndarray
        uint8 images (``(n, H, W)`` or ``(n, H, W, C)``) and int64 labels.
    name : str
        Data-set key, e.g. ``"cifar10"``.
    display_name : str
        Name to report results under (says when CIFAR-10 is a JPEG re-encoding).
    source : dict
        Provenance record of the loader.
    full_n_train : int
        Size of the whole training split the subset was drawn from.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str
    display_name: str
    source: dict = field(default_factory=dict)
    full_n_train: int = 0

    def describe(self) -> dict:
        """JSON-ready description (no arrays)."""
        return {"name": self.name, "display_name": self.display_name,
                "n_train": len(self.y_train), "n_test": len(self.y_test),
                "full_n_train": self.full_n_train,
                "image_shape": list(self.X_train.shape[1:]), "source": self.source}


def balanced_subset(y, n: int | None, seed: int = 0) -> np.ndarray:
    """Indices of a seeded random subset of ``n`` labels, as balanced over classes as possible.

    Parameters
    ----------
    y : array of int, shape (N,)
    n : int or None
        Subset size; None or ``n >= N`` gives all indices (in a random order).
    seed : int, default 0

    Returns
    -------
    ndarray of int64, shape (min(n, N),)
        Indices in random order.
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    if n is None or n >= len(y):
        return rng.permutation(len(y))
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"subset size must be a positive integer; found {n!r}")
    # A random order, then a stable sort by each element's rank within its class:
    # taking the first n interleaves the classes evenly.
    order = rng.permutation(len(y))
    rank = np.empty(len(y), dtype=np.int64)
    for label in np.unique(y):
        members = order[y[order] == label]
        rank[members] = np.arange(len(members))
    by_rank = order[np.argsort(rank[order], kind="stable")]
    return rng.permutation(by_rank[:n])


def load_experiment_data(dataset: str = "cifar10", *, data_dir=None, n_train: int | None = None,
                         n_test: int | None = None, seed: int = 0, download: bool = True,
                         progress=None) -> ExperimentData:
    """Load a data set with :mod:`kernelfit.datasets` and take balanced subsets.

    Parameters
    ----------
    dataset : {"cifar10", "mnist", "fashion-mnist"}
    data_dir : str or os.PathLike, optional
        Searched first (see :func:`kernelfit.datasets.load_dataset`).
    n_train, n_test : int, optional
        Subset sizes; None keeps the whole split.
    seed : int, default 0
        Seed of the subsets.
    download : bool, default True
        Let the loader download a missing data set.
    progress : callable, optional

    Returns
    -------
    ExperimentData
    """
    from ..datasets import load_dataset

    data = load_dataset(dataset, data_dir, download=download, progress=progress)
    train = balanced_subset(data.y_train, n_train, seed)
    test = balanced_subset(data.y_test, n_test, seed + 1)
    return ExperimentData(
        data.X_train[train], data.y_train[train], data.X_test[test], data.y_test[test],
        data.name, data.display_name, data.source.to_dict(), len(data.y_train),
    )
