"""The held-out bandwidth search on features: one exact fit per candidate.

The split is :func:`~kernelfit.model_selection.held_out_split`'s, the same as the
searches on a Gram held in tiles (:mod:`~kernelfit.model_selection.gram_bandwidth`).
The test set is never seen.
"""

from __future__ import annotations

import numpy as np

from ..progress import phase
from .grid import check_bandwidth_candidates, pick_bandwidth
from .held_out import held_out_split

__all__ = ["select_bandwidth"]


def select_bandwidth(X, y, kernel, candidates, seed=0, n_fit=10000, n_val=2000, reg=0.0,
                     progress=None):
    """Pick the bandwidth with the lowest error on a held-out part of the training set.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
        Training data only; the validation part is drawn from it.
    kernel : str
    candidates : sequence of float
    seed : int, default 0
        Seeds the split into fitted and held-out rows
        (:func:`~kernelfit.model_selection.held_out_split`).
    n_fit, n_val : int
        Rows fitted and scored (``n_val`` at most a fifth of ``n``).
    reg : float, default 0
    progress : callable, optional
        Progress callback, phase ``"bandwidth"`` (one step per candidate).

    Returns
    -------
    best : float
        Lowest validation error; ties go to the larger bandwidth.
    errors : dict of float to float
        Validation error of each candidate.

    Raises
    ------
    ValueError
        For no candidates, a candidate that is not positive and finite, or fewer than 2
        classes in the fitted part.

    Warns
    -----
    BandwidthGridEdgeWarning
        If ``best`` is the smallest or the largest candidate.
    """
    from ..estimators import KernelClassifier

    candidates = check_bandwidth_candidates(candidates)
    split = held_out_split(y, seed=seed, n_fit=n_fit, n_val=n_val, what="the bandwidth search")
    fit, val = split.fit, split.val
    errors = {}
    with phase(progress, "bandwidth", total=len(candidates), unit="fits") as bar:
        for bw in candidates:
            clf = KernelClassifier(kernel=kernel, bandwidth=float(bw), reg=reg).fit(X[fit],
                                                                                  y[fit])
            errors[float(bw)] = float(np.mean(clf.predict(X[val]) != y[val]))
            bar.advance()
    return pick_bandwidth(errors), errors
