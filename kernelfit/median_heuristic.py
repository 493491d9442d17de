r"""The median heuristic for the Gaussian and Laplacian bandwidth, in one place.

.. math::

    \sigma = \frac{\operatorname{median}_{i < j} \|x_i - x_j\|}{\sqrt{2}}

over a seeded sample of at most ``sample`` points (1.0 when fewer than two points
or all of them coincide). The sample is drawn by :func:`median_sample` and the
distances reduced by :func:`bandwidth_from_squared_distances`; the callers only
differ in where the squared distances come from:

* :func:`kernelfit.kernels.median_bandwidth`: the data themselves;
* :func:`kernelfit.features.median_bandwidth_from_gram`: a linear Gram and its
  diagonal (the features are gone);
* :func:`kernelfit.model_selection.median_bandwidth_from_tiles`: a linear Gram
  held in tiles.

For the same points, seed and sample size all three give the same bandwidth.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bandwidth_from_squared_distances", "median_sample"]


def median_sample(n: int, sample: int = 1000, seed: int = 0) -> np.ndarray:
    """The points the median heuristic looks at: ``min(sample, n)`` of ``n``, sorted.

    Parameters
    ----------
    n : int
        Number of points.
    sample : int, default 1000
        Points drawn without replacement.
    seed : int, default 0
        Seed of the draw.

    Returns
    -------
    ndarray of int, shape (min(sample, n),)
        Increasing indices.

    Raises
    ------
    ValueError
        If ``sample`` is smaller than 1.
    """
    sample = int(sample)
    if sample < 1:
        raise ValueError(f"the median heuristic needs a sample of at least 1 point; found "
                         f"sample={sample}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(int(n), size=min(sample, int(n)), replace=False))


def bandwidth_from_squared_distances(sq_distances) -> float:
    r"""The median heuristic's ``sigma`` from the squared distances of the sampled points.

    Parameters
    ----------
    sq_distances : ndarray of shape (m, m)
        Symmetric squared distances between the ``m`` sampled points; only the strict
        upper triangle is read. Negative round-off is treated as 0.

    Returns
    -------
    float
        The median pairwise distance over :math:`\sqrt{2}`; 1.0 when ``m < 2`` or the
        median is 0.
    """
    D = np.asarray(sq_distances, dtype=np.float64)
    upper = np.triu_indices(D.shape[0], 1)
    if not upper[0].size:
        return 1.0
    median = float(np.median(np.sqrt(np.maximum(D[upper], 0.0))))
    return median / np.sqrt(2.0) if median > 0 else 1.0
