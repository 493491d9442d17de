"""Compiled (Numba) element-wise pass of the gaussian kernel blocks.

After a block's GEMM, four NumPy passes turn ``X Z^T`` into the clamped exponent
``min(2 gamma X Z^T - gamma ||x||^2 - gamma ||z||^2, 0)`` (scale, two broadcast
subtractions, the clamp), each over the whole chunk. :func:`gaussian_exponents`
does the same arithmetic in one pass, in the same order and without fused
multiply-adds, so its results are the NumPy passes' to the bit; NumPy's ``exp``
follows on the chunk while it is in cache. :mod:`kernelfit.host_kernel_blocks`
uses it for large jobs only (loading Numba costs about 0.4 s once per process).

This module imports Numba: import it lazily (``import kernelfit`` stays fast).
"""

from __future__ import annotations

import numba

__all__ = ["gaussian_exponents"]


@numba.njit(nogil=True, boundscheck=False, cache=True)
def gaussian_exponents(block, scale, x_term, z_term):  # pragma: no cover - compiled
    """``block[i, j] = min(scale * block[i, j] - x_term[i] - z_term[j], 0)``, in place.

    A NaN stays NaN, as with ``np.minimum``. Bounds are not checked: the caller
    passes terms that match the block.

    Parameters
    ----------
    block : ndarray of shape (n, m), float64
        ``X Z^T`` on entry (any row stride); the clamped exponents on return.
    scale : float
        ``2 gamma``.
    x_term : ndarray of shape (n,), float64
        ``gamma ||x||^2`` per row.
    z_term : ndarray of shape (m,), float64
        ``gamma ||z||^2`` per column.
    """
    for i in range(block.shape[0]):
        row = block[i]
        x = x_term[i]
        for j in range(row.shape[0]):
            value = scale * row[j] - x - z_term[j]
            row[j] = 0.0 if value > 0.0 else value
