r"""Turning a linear Gram of features into a Gaussian Gram, in place and in row blocks.

With :math:`G_{ij} = \langle \phi_i, \phi_j \rangle` and squared norms :math:`n_i`,

.. math::

    \|\phi_i - \phi_j\|^2 = n_i + n_j - 2 G_{ij}, \qquad
    K_{ij} = \exp\!\left(-\frac{\|\phi_i - \phi_j\|^2}{2 \sigma^2}\right),

the convention of :mod:`kernelfit.kernels` (``bandwidth`` is :math:`\sigma`). The
distances are formed in float64 block by block, so ``G`` may be a float32 array
or an ``np.memmap`` larger than memory.
"""

from __future__ import annotations

import numpy as np

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
    gram : ndarray of shape (n, m)
        :math:`\\Phi(X) \\Phi(Y)^T` (NumPy array or ``np.memmap``).
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
    rows = np.asarray(row_sq_norms, dtype=np.float64)
    cols = rows if col_sq_norms is None else np.asarray(col_sq_norms, dtype=np.float64)
    if col_sq_norms is None and n != m:
        raise ValueError(f"a symmetric Gram must be square; found shape {(n, m)}")
    if rows.shape != (n,) or cols.shape != (m,):
        raise ValueError(
            f"squared norms must have shapes ({n},) and ({m},) for a Gram of shape {(n, m)}; "
            f"found {rows.shape} and {cols.shape}"
        )
    out = gram if out is None else out
    if tuple(out.shape) != (n, m):
        raise ValueError(f"out must have shape {(n, m)}; found {tuple(out.shape)}")
    scale = -0.5 / sigma**2
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(n, start + _BLOCK_ROWS)
        distances = _squared_distances(gram[start:stop], rows[start:stop], cols)
        if col_sq_norms is None:
            index = np.arange(start, stop)
            distances[index - start, index] = 0.0
        distances *= scale
        out[start:stop] = np.exp(distances, out=distances)
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
