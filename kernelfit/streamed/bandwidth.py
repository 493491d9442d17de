"""Gaussian bandwidths chosen from a linear Gram held in tiles (the features are gone).

* :func:`median_bandwidth_from_tiles`: the median heuristic, equal to
  :func:`kernelfit.features.median_bandwidth_from_gram` on the dense Gram (same
  sample of points, same seed).
* :func:`select_bandwidth_from_gram`: the held-out choice of
  :func:`kernelfit.experiments.select_bandwidth` (same split of the training set,
  same float64 exact solves), with the kernel formed from Gram entries instead of
  features.
"""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import LabelBinarizer

from ..experiments import AUTO_BANDWIDTH_FACTORS
from ..features import gaussian_gram_from_linear, median_bandwidth_from_gram
from ..linalg import PackedStorage, default_tile_size
from ..memory import check_budget
from ..solvers import solve

__all__ = ["median_bandwidth_from_tiles", "select_bandwidth_from_gram"]

#: Multiples of the median heuristic tried by the held-out choice (the same as
#: the materialized path's).
BANDWIDTH_GRID = AUTO_BANDWIDTH_FACTORS


def median_bandwidth_from_tiles(view, sq_norms, sample: int = 1000, seed: int = 0) -> float:
    """Median heuristic from a symmetric linear Gram seen through a ``SymmetricTileView``.

    Parameters
    ----------
    view : SymmetricTileView
        The linear Gram ``Phi Phi^T``.
    sq_norms : ndarray of shape (n,)
        ``||phi_i||^2``.
    sample, seed : int
        As in :func:`kernelfit.features.median_bandwidth_from_gram`.

    Returns
    -------
    float
    """
    n = view.shape[0]
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(n, size=min(int(sample), n), replace=False))
    sub = view.take(index, index)
    # Every point of the gathered sub-Gram is in the sample: the same median.
    return median_bandwidth_from_gram(sub, np.asarray(sq_norms)[index], sample=index.size,
                                      seed=seed)


def _binarize(y):
    binarizer = LabelBinarizer(neg_label=-1 if len(np.unique(y)) == 2 else 0)
    Y = binarizer.fit_transform(y).astype(np.float64)
    return binarizer.classes_, Y[:, 0] if Y.shape[1] == 1 else Y


def _predict(classes, scores):
    return classes[(scores > 0).astype(int)] if scores.ndim == 1 else classes[
        np.argmax(scores, axis=1)]


def select_bandwidth_from_gram(view, sq_norms, y, candidates, *, seed=0, n_fit=10000,
                               n_val=2000, reg=0.0, memory_budget: int):
    """Pick the bandwidth with the lowest error on a held-out part of the training set.

    The split is that of :func:`kernelfit.experiments.select_bandwidth`: a seeded
    permutation, the first ``min(n_val, n // 5)`` points held out, the next ``n_fit``
    fitted with a float64 exact solve for each candidate.

    Parameters
    ----------
    view : SymmetricTileView
        The training linear Gram.
    sq_norms : ndarray of shape (n,)
    y : ndarray of shape (n,)
        Training labels.
    candidates : sequence of float
    seed, n_fit, n_val : int
    reg : float, default 0
    memory_budget : int
        Bytes for the gathered sub-Grams, one kernel matrix and its packed factor.

    Returns
    -------
    best : float
    errors : dict of float to float
        Validation error of each candidate.

    Raises
    ------
    MemoryBudgetError
        If the validation problem does not fit in ``memory_budget``.
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_val = min(n_val, len(y) // 5)
    val, fit = order[:n_val], order[n_val : n_val + n_fit]
    k, s = fit.size, np.dtype(view.dtype).itemsize
    check_budget(k * k * (s + 8) + n_val * k * (s + 8)
                 + PackedStorage.nbytes_for(k, default_tile_size(k), np.float64),
                 memory_budget, f"the held-out bandwidth choice ({k} fitted, {n_val} held out)")
    norms = np.asarray(sq_norms, dtype=np.float64)
    G_fit, G_val = view.take(fit, fit), view.take(val, fit)
    classes, Y = _binarize(y[fit])
    if len(classes) < 2:
        raise ValueError(f"the bandwidth search needs at least 2 classes in its fitted part; "
                         f"found {classes}")
    K = np.empty((k, k))
    K_val = np.empty((n_val, k))
    errors = {}
    for bw in candidates:
        gaussian_gram_from_linear(G_fit, norms[fit], None, bandwidth=float(bw), out=K)
        alpha = solve(K, Y, reg)
        gaussian_gram_from_linear(G_val, norms[val], norms[fit], bandwidth=float(bw), out=K_val)
        errors[float(bw)] = float(np.mean(_predict(classes, K_val @ alpha) != y[val]))
    best = min(errors, key=lambda b: (errors[b], -b))
    return best, errors
