r"""Square image patches (im2col) and their per-patch brightness and contrast normalization.

A patch of size ``p`` at stride ``s`` is the vector of the ``p x p x c`` pixels in
(row, column, channel) order. Normalization as in Coates & Ng (2011):

.. math:: \tilde p = \frac{p - \bar p}{\sqrt{\operatorname{var}(p) + \epsilon}},

with the unbiased variance over the ``p^2 c`` entries and :math:`\epsilon = 10`
for pixels in 0..255. All functions take the array namespace ``xp``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["extract_patches", "normalize_patches", "patch_grid", "sample_patches"]


def patch_grid(height: int, width: int, patch_size: int, stride: int = 1) -> tuple[int, int]:
    """Number of patch positions ``(rows, columns)`` of a ``height x width`` image.

    Raises
    ------
    ValueError
        If the patch is larger than the image.
    """
    if patch_size > min(height, width):
        raise ValueError(
            f"patch_size={patch_size} is larger than the images ({height} x {width}); "
            f"expected patch_size <= {min(height, width)}"
        )
    return (height - patch_size) // stride + 1, (width - patch_size) // stride + 1


def extract_patches(xp, images, patch_size: int, stride: int = 1, out=None):
    """All ``patch_size x patch_size`` patches of a batch of images.

    Parameters
    ----------
    xp : module
        Array namespace.
    images : array of shape (n, H, W, C)
        Channels-last images (any real dtype; converted to ``out.dtype``).
    patch_size, stride : int
        Patch edge and step between patch positions.
    out : array of shape (n, R, S, patch_size, patch_size, C), optional
        Buffer to fill (any layout-compatible float array); allocated as float32 if omitted.

    Returns
    -------
    array of shape (n, R, S, patch_size * patch_size * C)
        ``R, S = patch_grid(H, W, patch_size, stride)``.
    """
    count, height, width, channels = images.shape
    rows, cols = patch_grid(height, width, patch_size, stride)
    if out is None:
        out = xp.empty((count, rows, cols, patch_size, patch_size, channels), dtype=xp.float32)
    for dy in range(patch_size):
        for dx in range(patch_size):
            out[:, :, :, dy, dx, :] = images[
                :, dy : dy + stride * (rows - 1) + 1 : stride, dx : dx + stride * (cols - 1) + 1 :
                stride, :
            ]
    return xp.reshape(out, (count, rows, cols, patch_size * patch_size * channels))


def normalize_patches(xp, patches, epsilon: float = 10.0):
    """Subtract each patch's mean and divide by ``sqrt(var + epsilon)``, in place.

    Parameters
    ----------
    xp : module
        Array namespace.
    patches : float array of shape (..., d)
        Patch vectors in the last axis, ``d >= 2``.
    epsilon : float, default 10.0
        Added to the unbiased variance (units: squared pixel values).

    Returns
    -------
    array
        ``patches``, normalized in place.
    """
    dim = patches.shape[-1]
    patches -= xp.mean(patches, axis=-1, keepdims=True)
    scale = xp.sum(patches * patches, axis=-1, keepdims=True)
    scale /= dim - 1
    scale += epsilon
    patches /= xp.sqrt(scale)
    return patches


def sample_patches(images, count: int, patch_size: int, stride: int, rng) -> np.ndarray:
    """``count`` patches at random images and positions (NumPy), as float64 rows.

    Parameters
    ----------
    images : ndarray of shape (n, H, W, C)
    count : int
        Patches to draw (with replacement over images and positions).
    patch_size, stride : int
        Patch geometry; positions are multiples of ``stride``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of float64, shape (count, patch_size * patch_size * C)
    """
    n, height, width, _ = images.shape
    rows, cols = patch_grid(height, width, patch_size, stride)
    which = rng.integers(0, n, size=count)
    top = stride * rng.integers(0, rows, size=count)
    left = stride * rng.integers(0, cols, size=count)
    offsets = np.arange(patch_size)
    patches = images[
        which[:, None, None],
        (top[:, None] + offsets)[:, :, None],
        (left[:, None] + offsets)[:, None, :],
    ]
    return np.asarray(patches, dtype=np.float64).reshape(count, -1)
