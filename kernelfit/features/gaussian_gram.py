r"""Turning a linear Gram of features into a Gaussian Gram, in place and in row blocks.

With :math:`G_{ij} = \langle \phi_i, \phi_j \rangle` and squared norms :math:`n_i`,

.. math::

    \|\phi_i - \phi_j\|^2 = n_i + n_j - 2 G_{ij}, \qquad
    K_{ij} = \exp\!\left(-\frac{\|\phi_i - \phi_j\|^2}{2 \sigma^2}\right),

the convention of :mod:`kernelfit.kernels` (``bandwidth`` is :math:`\sigma`). The
distances are formed in float64 block by block, so ``G`` may be a float32 array
or an ``np.memmap`` larger than memory. A device array (a CuPy tile, an array on
another array-API device) is converted on its device: only the norms are
copied there, never the Gram.
"""

from __future__ import annotations

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as device_of

from ..median_heuristic import bandwidth_from_squared_distances, median_sample
from ..validation import check_positive

__all__ = ["gaussian_gram_from_linear", "median_bandwidth_from_gram"]

#: Rows converted per block.
_BLOCK_ROWS = 1024


def _squared_distances(block, row_norms, col_norms):
    distances = np.asarray(block, dtype=np.float64) * -2.0
    distances += row_norms[:, None]
    distances += col_norms[None, :]
    return np.maximum(distances, 0.0, out=distances)


def gaussian_gram_from_linear(gram, row_sq_norms, col_sq_norms=None, *, bandwidth, out=None):
    """Gaussian kernel matrix from a linear Gram and the squared norms.

    Parameters
    ----------
    gram : array of shape (n, m)
        :math:`\\Phi(X) \\Phi(Y)^T` (NumPy array, ``np.memmap``, or an array on a device).
    row_sq_norms : array of shape (n,)
        :math:`\\|\\phi(x_i)\\|^2`.
    col_sq_norms : array of shape (m,), optional
        :math:`\\|\\phi(y_j)\\|^2`; ``None`` means the symmetric case (``Y = X``), whose
        diagonal is set to exactly 1.
    bandwidth : float
        :math:`\\sigma > 0`.
    out : ndarray of shape (n, m), optional
        Destination; defaults to ``gram`` itself (in place).

    Returns
    -------
    ndarray of shape (n, m)
        ``out``.

    Raises
    ------
    ValueError
        Mismatched shapes or a non-positive bandwidth.
    """
    sigma = check_positive(bandwidth, "bandwidth")
    n, m = gram.shape
    host = isinstance(gram, np.ndarray)
    xp = np if host else array_namespace(gram)

    def norms(a):  # to the Gram's device (an explicit copy of n numbers), in float64
        return (np.asarray(a, dtype=np.float64) if host else
                xp.asarray(a, dtype=xp.float64, device=device_of(gram)))

    rows = norms(row_sq_norms)
    cols = rows if col_sq_norms is None else norms(col_sq_norms)
    if col_sq_norms is None and n != m:
        raise ValueError(f"a symmetric Gram must be square; found shape {(n, m)}")
    if tuple(rows.shape) != (n,) or tuple(cols.shape) != (m,):
        raise ValueError(
            f"squared norms must have shapes ({n},) and ({m},) for a Gram of shape {(n, m)}; "
            f"found {tuple(rows.shape)} and {tuple(cols.shape)}"
        )
    out = gram if out is None else out
    if tuple(out.shape) != (n, m):
        raise ValueError(f"out must have shape {(n, m)}; found {tuple(out.shape)}")
    scale = -0.5 / sigma**2
    if not host:
        return _on_device(xp, gram, rows, cols, col_sq_norms is None, scale, out)
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(n, start + _BLOCK_ROWS)
        distances = _squared_distances(gram[start:stop], rows[start:stop], cols)
        if col_sq_norms is None:
            index = np.arange(start, stop)
            distances[index - start, index] = 0.0
        distances *= scale
        out[start:stop] = np.exp(distances, out=distances)
    return out


def _on_device(xp, gram, rows, cols, symmetric, scale, out):
    """:func:`gaussian_gram_from_linear` with array-API operations, on the Gram's device."""
    n, m = gram.shape
    column = xp.arange(m, device=device_of(gram))
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(n, start + _BLOCK_ROWS)
        block = xp.astype(gram[start:stop, ...], xp.float64)
        distances = xp.clip(rows[start:stop, None] + cols[None, :] - 2.0 * block, 0.0, None)
        if symmetric:
            row = xp.arange(start, stop, device=device_of(gram))
            distances = xp.where(row[:, None] == column[None, :], 0.0, distances)
        out[start:stop, ...] = xp.astype(xp.exp(distances * scale), out.dtype)
    return out


def median_bandwidth_from_gram(gram, sq_norms, sample: int = 1000, seed: int = 0) -> float:
    """Median heuristic from a symmetric linear Gram: median pairwise distance over sqrt(2).

    Matches :func:`kernelfit.kernels.median_bandwidth` on the same points, seed and
    sample size (:mod:`kernelfit.median_heuristic`).

    Parameters
    ----------
    gram : ndarray of shape (n, n)
        Symmetric linear Gram of the features.
    sq_norms : array of shape (n,)
        Its diagonal (squared feature norms).
    sample : int, default 1000
        Points drawn (without replacement) for the median.
    seed : int, default 0
        Seed of the draw.

    Returns
    -------
    float
        ``sigma`` for :func:`gaussian_gram_from_linear` (1.0 if all points coincide).
    """
    index = median_sample(gram.shape[0], sample, seed)
    norms = np.asarray(sq_norms, dtype=np.float64)[index]
    return bandwidth_from_squared_distances(
        _squared_distances(np.asarray(gram[np.ix_(index, index)]), norms, norms))
