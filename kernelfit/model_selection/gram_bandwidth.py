"""Gaussian bandwidths chosen from a linear Gram held in tiles (the features are gone).

* :func:`median_bandwidth_from_tiles`: the median heuristic, equal to
  :func:`kernelfit.features.median_bandwidth_from_gram` on the dense Gram (same
  sample of points, same seed).
* :func:`select_bandwidth_from_gram`: the held-out choice of
  :func:`kernelfit.model_selection.select_bandwidth` (same split of the training set,
  same float64 exact solves), with the kernel formed from Gram entries instead of
  features.
"""

from __future__ import annotations

import numpy as np

from ..features import gaussian_gram_from_linear, median_bandwidth_from_gram
from ..median_heuristic import median_sample
from ..progress import phase
from .grid import check_bandwidth_candidates, pick_bandwidth
from .held_out import check_held_out_budget, held_out_error, held_out_split

__all__ = ["median_bandwidth_from_tiles", "select_bandwidth_from_gram"]


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
    index = median_sample(view.shape[0], sample, seed)
    # Gather the sample's sub-Gram; every point in it is sampled: the same median.
    return median_bandwidth_from_gram(view.take(index, index), np.asarray(sq_norms)[index],
                                      sample=index.size)


def select_bandwidth_from_gram(view, sq_norms, y, candidates, *, seed=0, n_fit=10000,
                               n_val=2000, reg=0.0, memory_budget: int, progress=None):
    """Pick the bandwidth with the lowest error on a held-out part of the training set.

    The split is that of :func:`kernelfit.model_selection.select_bandwidth`
    (:func:`~kernelfit.model_selection.held_out_split`): a seeded permutation, the
    first ``min(n_val, n // 5)`` points held out, the next ``n_fit`` fitted with a
    float64 exact solve for each candidate.

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
    progress : callable, optional
        Progress callback, phase ``"bandwidth"`` (one step per candidate).

    Returns
    -------
    best : float
    errors : dict of float to float
        Validation error of each candidate.

    Raises
    ------
    ValueError
        If the fitted part holds fewer than 2 classes.
    MemoryBudgetError
        If the validation problem does not fit in ``memory_budget``.
    """
    candidates = check_bandwidth_candidates(candidates)
    split = held_out_split(y, seed=seed, n_fit=n_fit, n_val=n_val,
                           what="the bandwidth search")
    check_held_out_budget(split, np.dtype(view.dtype).itemsize, memory_budget,
                          "the held-out bandwidth choice")
    norms = np.asarray(sq_norms, dtype=np.float64)
    fit, val = split.fit, split.val
    G_fit, G_val = view.take(fit, fit), view.take(val, fit)
    K = np.empty(G_fit.shape)
    K_val = np.empty(G_val.shape)
    errors = {}
    with phase(progress, "bandwidth", total=len(candidates), unit="fits") as bar:
        for bw in candidates:
            gaussian_gram_from_linear(G_fit, norms[fit], None, bandwidth=float(bw), out=K)
            gaussian_gram_from_linear(G_val, norms[val], norms[fit], bandwidth=float(bw),
                                      out=K_val)
            errors[float(bw)] = held_out_error(K, K_val, split, reg)
            bar.advance()
    return pick_bandwidth(errors), errors
