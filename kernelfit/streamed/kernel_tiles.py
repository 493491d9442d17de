"""Gaussian kernels from streamed linear Grams, in place, and predictions from the cross Gram.

:func:`gaussian_tiles` turns the linear Gram held in packed lower tiles into the
Gaussian kernel matrix tile by tile (:func:`kernelfit.features.gaussian_gram_from_linear`
on each tile, distances in float64); :func:`gaussian_cross` does the same for the
dense test-versus-training Gram; :func:`cross_matvec` applies it to the dual
coefficients in float64 row blocks.
"""

from __future__ import annotations

import numpy as np

from ..features import gaussian_gram_from_linear
from ..linalg.symmetric_view import SymmetricTileView
from ..progress import phase
from ..tile_walk import tile_pairs, walk_tiles
from .memory_plan import CROSS_BLOCK_ENTRIES

__all__ = ["cross_matvec", "gaussian_cross", "gaussian_tiles"]


def gaussian_tiles(storage, sq_norms, bandwidth: float, *, progress=None) -> None:
    """Replace the linear Gram in ``storage`` by its Gaussian kernel matrix, in place.

    Parameters
    ----------
    storage : TileStorage
        Lower tiles of ``Phi Phi^T``; afterwards those of
        ``K_ij = exp(-||phi_i - phi_j||^2 / (2 sigma^2))``, diagonal exactly 1 and diagonal
        tiles exactly symmetric.
    sq_norms : array of shape (n,)
        ``||phi_i||^2`` (host or on the storage's device).
    bandwidth : float
        ``sigma``.
    progress : callable, optional
        Phase ``"kernel"`` in tiles.
    """
    backend = storage.backend
    norms = backend.astype(backend.asarray(sq_norms), np.float64)  # n numbers to the device
    for pair in walk_tiles(tile_pairs(storage.n, storage.tile_size), progress, "kernel"):
        tile = storage.tile(pair.i, pair.j)  # converted where it lives: no host round trip
        gaussian_gram_from_linear(tile, norms[pair.rows],
                                  None if pair.diagonal else norms[pair.cols],
                                  bandwidth=bandwidth)
        storage.store(pair.i, pair.j, tile)
    SymmetricTileView(storage).symmetrize_diagonal()


def gaussian_cross(cross, row_sq_norms, col_sq_norms, bandwidth: float) -> None:
    """Replace the linear cross Gram by its Gaussian, in place, in row blocks.

    Parameters
    ----------
    cross : ndarray of shape (m, n)
        Host array, ``Phi(test) Phi(train)^T``.
    row_sq_norms : ndarray of shape (m,)
    col_sq_norms : ndarray of shape (n,)
    bandwidth : float

    Notes
    -----
    Row blocks of at most 4M entries keep the float64 distances within 32 MiB
    (one call on all rows would take 1,024 rows at a time: 410 MB at n = 50,000).
    """
    m, n = cross.shape
    step = max(1, CROSS_BLOCK_ENTRIES // max(1, n))
    for r0 in range(0, m, step):
        gaussian_gram_from_linear(cross[r0 : r0 + step], row_sq_norms[r0 : r0 + step],
                                  col_sq_norms, bandwidth=bandwidth)


def cross_matvec(cross, alpha, *, progress=None) -> np.ndarray:
    """``cross @ alpha`` accumulated in float64, in row blocks of at most 4M entries.

    Parameters
    ----------
    cross : ndarray of shape (m, n)
        Host array (float32 or float64).
    alpha : ndarray of shape (n,) or (n, c)
    progress : callable, optional
        Phase ``"predict"`` in rows.

    Returns
    -------
    ndarray of shape (m,) or (m, c), float64
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    m, n = cross.shape
    out = np.empty((m, *alpha.shape[1:]))
    step = max(1, CROSS_BLOCK_ENTRIES // max(1, n))
    with phase(progress, "predict", total=m, unit="rows") as bar:
        for r0 in range(0, m, step):
            block = np.asarray(cross[r0 : r0 + step], dtype=np.float64)
            out[r0 : r0 + block.shape[0]] = block @ alpha
            bar.advance(block.shape[0])
    return out
