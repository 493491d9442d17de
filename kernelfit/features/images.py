"""Checking image batches and bringing them to one layout, ``(n, height, width, channels)``.

Feature maps accept images as

* ``(n, height, width)`` grey-level arrays (MNIST as loaded by :mod:`kernelfit.datasets`),
* ``(n, height, width, channels)`` channels-last arrays (CIFAR-10 as loaded), or
* ``(n, d)`` rows of flattened images, with ``image_shape`` saying how to unflatten
  them (``(height, width)`` or ``(height, width, channels)``, channels last). Without
  ``image_shape`` a row of ``s*s`` values is an ``s x s`` grey image and a row of
  ``3*s*s`` values an ``s x s`` RGB image (the two cases cannot collide).
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import numpy_dtype, to_numpy
from ..validation import check_finite_rows

__all__ = ["as_image_batch", "infer_image_shape"]


def infer_image_shape(n_values: int) -> tuple[int, int, int]:
    """Guess ``(height, width, channels)`` for a flattened square image of ``n_values`` values.

    Raises
    ------
    ValueError
        If ``n_values`` is neither ``s*s`` nor ``3*s*s``.
    """
    side = math.isqrt(n_values)
    if side * side == n_values:
        return side, side, 1
    if n_values % 3 == 0:
        side = math.isqrt(n_values // 3)
        if 3 * side * side == n_values:
            return side, side, 3
    raise ValueError(
        f"cannot tell the image shape of rows with {n_values} values: expected s*s (grey) or "
        "3*s*s (RGB) values, or pass image_shape=(height, width[, channels])"
    )


def _normalize_shape(image_shape) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            "image_shape must be (height, width) or (height, width, channels) with positive "
            f"entries; found {image_shape!r}"
        )
    return shape


def as_image_batch(X, image_shape=None, xp=np, dtype=np.float32, name: str = "X"):
    """Validate a batch of images and return it as an ``(n, h, w, c)`` array of ``xp``.

    Parameters
    ----------
    X : array-like
        Images in one of the layouts listed in the module docstring; uint8 or float.
    image_shape : tuple of int, optional
        ``(height, width)`` or ``(height, width, channels)``. Required to unflatten rows
        that are not square images; when given, the images must have this shape.
    xp : module or None, default numpy
        Array namespace of the result (``numpy`` or ``cupy``); None keeps the
        namespace and device of ``X`` (no copy), for arrays of any array-API library.
    dtype : dtype or None, default float32
        Floating type of the result; ``None`` keeps the input's dtype (e.g. uint8, so
        that a large data set is converted batch by batch).
    name : str, default "X"
        Name used in error messages.

    Returns
    -------
    array of shape (n, height, width, channels)

    Raises
    ------
    TypeError
        Sparse, non-numeric or complex data.
    ValueError
        Wrong number of dimensions, a size that does not match ``image_shape``, an empty
        batch, or NaN / infinite values.
    """
    import scipy.sparse

    if scipy.sparse.issparse(X):
        raise TypeError(f"{name} must be a dense array of images; sparse input is not "
                        f"supported; found {type(X).__name__} (convert with .toarray())")
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        X = np.asarray(X)
    elif xp is np and not isinstance(X, np.ndarray):  # explicit host copy of device images
        X = to_numpy(X)
    from array_api_compat import array_namespace

    own = array_namespace(X)
    try:
        kind = numpy_dtype(X.dtype).kind
    except TypeError:
        kind = "c"
    if kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (uint8 or float); found dtype {X.dtype}")
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            f"{name} must be images of shape (n, h, w), (n, h, w, c) or flattened rows (n, d); "
            f"found shape {tuple(X.shape)}. Reshape your data: one image per row"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image; found {X.shape[0]} sample(s) "
                         f"(shape={tuple(X.shape)})")
    if 0 in tuple(X.shape):
        raise ValueError(f"{name} has 0 feature(s) (shape={tuple(X.shape)}) while a minimum of "
                         "1 is required: images must be non-empty")
    expected = _normalize_shape(image_shape) if image_shape is not None else None
    if X.ndim == 2:
        shape = expected if expected is not None else infer_image_shape(int(X.shape[1]))
        if math.prod(shape) != X.shape[1]:
            raise ValueError(
                f"{name} has {X.shape[1]} features, but it is expecting {math.prod(shape)} "
                f"features as input: rows of image_shape={shape} flattened"
            )
        X = own.reshape(X, (X.shape[0], *shape))
    elif X.ndim == 3:
        X = own.reshape(X, (*X.shape, 1))
    if expected is not None and tuple(X.shape[1:]) != expected:
        raise ValueError(
            f"{name} must hold images of shape (height, width, channels)={expected}; "
            f"found {tuple(X.shape[1:])}"
        )
    if xp is not None:
        X = xp.asarray(X)
        own = array_namespace(X)
    if dtype is not None:
        X = own.astype(X, getattr(own, numpy_dtype(dtype).name))
    check_finite_rows(X, name)
    return X
