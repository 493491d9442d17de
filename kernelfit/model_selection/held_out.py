"""The held-out part of the training set shared by the bandwidth and ridge searches.

Every search splits the training set with :func:`held_out_split` (a permutation
seeded by ``seed``; the first ``min(n_val, n // 5)`` points held out, the next
``n_fit`` fitted). The searches on a Gram held in tiles gather the two blocks they
need from it (:func:`held_out_blocks`) and score a float64 exact solve by its
classification error on the held-out points (:func:`held_out_error`). The test set
is never seen.
"""

from __future__ import annotations

import numpy as np

from ..features import gaussian_gram_from_linear
from ..linalg import PackedStorage, default_tile_size
from ..memory import check_budget
from ..solvers import solve
from ..solvers.targets import decode_scores, encode_targets

__all__ = ["HeldOutSplit", "check_held_out_budget", "held_out_blocks",
           "held_out_error", "held_out_split"]

class HeldOutSplit:
    """Indices of the fitted and held-out training points, and their targets.

    Attributes
    ----------
    fit, val : ndarray of int
        Fitted and held-out training points.
    classes : ndarray
        Class labels of the fitted part.
    targets : ndarray of shape (len(fit),) or (len(fit), n_classes)
        ±1 for two classes, one-hot otherwise.
    y_val : ndarray
        Labels of the held-out points.
    """

    def __init__(self, fit, val, y):
        self.fit, self.val = fit, val
        self.classes, self.targets = encode_targets(y[fit])
        self.y_val = y[val]

    def predict(self, scores) -> np.ndarray:
        """Class labels from held-out scores (sign for two classes, arg-max otherwise)."""
        return decode_scores(scores, self.classes)


def held_out_split(y, *, seed=0, n_fit=10000, n_val=2000, what="the held-out choice"
                   ) -> HeldOutSplit:
    """Split the training set into fitted and held-out points (every search's split).

    Parameters
    ----------
    y : ndarray of shape (n,)
        Training labels.
    seed, n_fit, n_val : int
        Seed of the permutation; at most ``n_fit`` fitted and ``min(n_val, n // 5)``
        held-out points.
    what : str
        The search, for the error message.

    Returns
    -------
    HeldOutSplit

    Raises
    ------
    ValueError
        If the fitted part holds fewer than 2 classes.
    """
    y = np.asarray(y)
    order = np.random.default_rng(seed).permutation(len(y))
    n_val = min(n_val, len(y) // 5)
    fit, val = order[n_val : n_val + n_fit], order[:n_val]
    if len(np.unique(y[fit])) < 2:
        raise ValueError(f"{what} needs at least 2 classes in its fitted part; found "
                         f"{np.unique(y[fit])}")
    return HeldOutSplit(fit, val, y)


def check_held_out_budget(split, itemsize: int, memory_budget: int, what: str) -> None:
    """Refuse before gathering if the held-out problem does not fit in ``memory_budget``.

    Counts the gathered sub-Grams (storage ``itemsize``), their float64 kernels and the
    packed float64 Cholesky factor of the fitted block.
    """
    k, v = split.fit.size, split.val.size
    check_budget(k * k * (itemsize + 8) + v * k * (itemsize + 8)
                 + PackedStorage.nbytes_for(k, default_tile_size(k), np.float64),
                 memory_budget, f"{what} ({k} fitted, {v} held out)")


def held_out_blocks(view, sq_norms, split, *, kernel="gaussian", bandwidth=None):
    """The float64 kernel of the fitted block and of held-out against fitted points.

    Parameters
    ----------
    view : SymmetricTileView
        The training linear Gram ``Phi Phi^T``.
    sq_norms : ndarray of shape (n,)
        ``||phi_i||^2``.
    split : HeldOutSplit
    kernel : {"gaussian", "linear"}
        ``"linear"``: the Gram entries themselves.
    bandwidth : float, optional
        ``sigma`` of the Gaussian.

    Returns
    -------
    K_fit : ndarray of shape (k, k)
    K_val : ndarray of shape (v, k)
    """
    G_fit, G_val = view.take(split.fit, split.fit), view.take(split.val, split.fit)
    if kernel == "linear":
        return np.asarray(G_fit, dtype=np.float64), np.asarray(G_val, dtype=np.float64)
    norms = np.asarray(sq_norms, dtype=np.float64)
    K_fit = gaussian_gram_from_linear(G_fit, norms[split.fit], None, bandwidth=bandwidth,
                                      out=np.empty(G_fit.shape))
    K_val = gaussian_gram_from_linear(G_val, norms[split.val], norms[split.fit],
                                      bandwidth=bandwidth, out=np.empty(G_val.shape))
    return K_fit, K_val


def held_out_error(K_fit, K_val, split, reg: float) -> float:
    """Held-out classification error of the float64 exact solve ``(K_fit + reg I) a = Y``."""
    alpha = solve(K_fit, split.targets, reg)
    return float(np.mean(split.predict(K_val @ alpha) != split.y_val))
