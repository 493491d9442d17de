"""Turning uint8 images into the float feature matrices the estimators take."""

from __future__ import annotations

import numpy as np

__all__ = ["as_float"]


def as_float(X: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Scale uint8 pixels to [0, 1] and flatten each image into a row.

    .. math:: x_{ij} = p_{ij} / 255

    Parameters
    ----------
    X : ndarray of uint8, shape (n, ...)
        Images, e.g. (n, 28, 28) or (n, 32, 32, 3); channels stay interleaved
        (height, width, channel order) in each row.
    dtype : {numpy.float32, numpy.float64}, default numpy.float32
        Floating type of the result.

    Returns
    -------
    ndarray of dtype, shape (n, d)
        ``d`` is the number of values per image (784 for MNIST, 3072 for CIFAR-10).

    Raises
    ------
    TypeError
        If ``X`` is not a uint8 array or ``dtype`` is not a floating type.
    ValueError
        If ``X`` has fewer than 2 dimensions.
    """
    if not isinstance(X, np.ndarray) or X.dtype != np.uint8:
        raise TypeError(
            f"as_float expects a uint8 ndarray of images; found {getattr(X, 'dtype', type(X))}"
        )
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating type such as float32; found {dtype}")
    if X.ndim < 2:
        raise ValueError(f"as_float expects images of shape (n, ...); found shape {X.shape}")
    out = X.reshape(X.shape[0], -1).astype(dtype)
    out /= dtype.type(255)
    return out
