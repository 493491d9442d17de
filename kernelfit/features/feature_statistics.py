"""Per-feature mean and variance of random-conv features, streamed over filter chunks.

Used to standardize the features (as Coates & Ng do before their linear classifier):
``(f - mean) / sqrt(var + 0.01)``, with statistics from a sample of training images.
"""

from __future__ import annotations

import numpy as np

from ..progress import phase
from .conv_features import encode_images, workspace_bytes
from .conv_gram import NORM_BLOCK_ENTRIES, plan_filter_chunk

__all__ = ["STANDARDIZE_EPSILON", "feature_moments"]

#: Added to each feature's variance before taking the square root.
STANDARDIZE_EPSILON = 0.01


def feature_moments(make_encoder, n_filters: int, images, *, backend, dtype, memory_budget: int,
                    n_jobs: int = 1, batch_size: int = 4, progress=None):
    """Mean and (biased) variance of every feature over ``images``.

    Parameters
    ----------
    make_encoder : callable
        ``make_encoder(start, stop)`` returns an unstandardized :class:`PatchEncoder`.
    n_filters : int
        Total number of filters.
    images : ndarray of shape (n, H, W, C)
        Sample of training images.
    backend, dtype, memory_budget, n_jobs, batch_size
        As in :func:`kernelfit.features.conv_gram.accumulate_feature_gram`.
    progress : callable, optional
        Phase ``"randconv statistics"`` in filters.

    Returns
    -------
    mean, var : ndarray of float64, shape (n_filters, 2, regions)
    """
    dtype = np.dtype(dtype)
    n = images.shape[0]
    probe = make_encoder(0, min(n_filters, 256))
    regions = probe.n_regions
    fixed = n_jobs * workspace_bytes(probe, batch_size)
    fixed += 8 * min(NORM_BLOCK_ENTRIES, n * 2 * regions * n_filters) + 16 * 2 * regions * n_filters
    chunk = plan_filter_chunk(n, n_filters, 2 * regions, dtype.itemsize, fixed, memory_budget,
                              f"feature statistics of {n} images over {n_filters} filters")
    mean = np.empty((n_filters, 2, regions))
    var = np.empty((n_filters, 2, regions))
    with phase(progress, "randconv statistics", total=n_filters, unit="filters") as bar:
        for start in range(0, n_filters, chunk):
            stop = min(n_filters, start + chunk)
            features = backend.empty((n, stop - start, 2, regions), dtype)
            encode_images(make_encoder(start, stop), images, features, backend, n_jobs=n_jobs,
                          batch_size=batch_size)
            total = np.zeros((stop - start, 2, regions))
            squares = np.zeros_like(total)
            step = max(1, NORM_BLOCK_ENTRIES // total.size)
            for row in range(0, n, step):
                part = backend.to_numpy(features[row : row + step]).astype(np.float64)
                total += part.sum(axis=0)
                part *= part
                squares += part.sum(axis=0)
            mean[start:stop] = total / n
            var[start:stop] = np.maximum(squares / n - mean[start:stop] ** 2, 0.0)
            bar.advance(stop - start)
    return mean, var
