"""The functions Dask runs on the workers: one tile or one row block each.

Every task is a pure function of its arguments and of the worker's data
replica (:mod:`kernelfit.distributed.data`), so the scheduler can rerun it on
another worker after a failure. The tile operations are those of the
single-machine driver (:mod:`kernelfit.backend`, NumPy/LAPACK on column-major
tiles); a tile being updated is modified in place (it has no other reader).
"""

from __future__ import annotations

import numpy as np

from ..backend import NotPositiveDefiniteError, host_backend
from .data import rows

__all__ = [
    "TILE_TASKS",
    "diagonal_solve",
    "gram_tile",
    "kernel_columns",
    "kernel_diagonal",
    "kernel_query_matvec",
    "kernel_rows_matvec",
    "tile_product",
]


def _writable(tile) -> np.ndarray:
    """A column-major copy of the tile, for the task to overwrite.

    Never the input itself: a worker hands a task the very object it stores under the
    input's key, so an update in place would change that key's value. When a worker
    dies and Dask reruns a task from inputs held elsewhere, the rerun would then apply
    its update a second time (``A -= L L^T`` twice), and the factorization fails or
    silently differs.
    """
    return np.array(tile, order="F")


def _aligned(array, dtype=np.float64) -> np.ndarray:
    """``array`` as ``dtype``, copied if its buffer is not aligned.

    Arrays received from other workers can sit at any byte offset of a
    network frame; NumPy's ``@`` then skips BLAS for a slower loop that rounds
    differently, so results would depend on where the data came from.
    """
    array = np.asarray(array, dtype=dtype)
    return array if array.flags.aligned else np.array(array, order="K")


def gram_tile(token, i0, i1, j0, j1, kernel, dtype, shift):
    """Tile ``K(X[i0:i1], X[j0:j1])`` (plus ``shift`` on the diagonal) from the replica.

    The rows are cast to ``dtype`` first, as the single-machine Gram builder does.
    """
    dtype = np.dtype(dtype)
    Xi = rows(token, i0, i1, dtype=dtype)
    same = (i0, i1) == (j0, j1)
    Xj = Xi if same else rows(token, j0, j1, dtype=dtype)
    tile = np.asfortranarray(kernel(Xi, Xj, same=same), dtype=dtype)
    if same and shift:
        tile[np.diag_indices(tile.shape[0])] += shift
    return tile


def potrf_tile(tile, offset, index, nt):
    """``L_kk = chol(A_kk)``; ``offset`` is the tile's first global row."""
    try:
        return host_backend().potrf(_writable(tile), offset=offset)
    except NotPositiveDefiniteError as exc:
        raise NotPositiveDefiniteError(f"{exc} (tile {index} of {nt})", exc.index) from None


def trsm_tile(tile, diagonal_factor):
    """``L_ik = A_ik L_kk^{-T}``."""
    return host_backend().trsm_right_lower_t(diagonal_factor, _writable(tile))


def syrk_tile(tile, factor):
    """``A_jj -= L_jk L_jk^T`` (lower triangle)."""
    return host_backend().syrk(_writable(tile), factor)


def gemm_tile(tile, factor_i, factor_j):
    """``A_ij -= L_ik L_jk^T``."""
    return host_backend().gemm_nt(_writable(tile), factor_i, factor_j)


#: Task function of each :class:`~kernelfit.linalg.TileOp` kind.
TILE_TASKS = {"potrf": potrf_tile, "trsm": trsm_tile, "syrk": syrk_tile, "gemm": gemm_tile}


def tile_product(tile, block, transpose):
    """``L_ik @ Z_k`` (or ``L_ki^T @ Z_k`` when ``transpose``), in float64."""
    L = _aligned(tile)
    return (L.T if transpose else L) @ _aligned(block)


def diagonal_solve(tile, rhs, transpose, *products):
    """``L_ii^{-1} (B_i - sum products)`` (``L_ii^{-T}`` when ``transpose``), in float64.

    The products are subtracted in the order given, so the result does not
    depend on where or when they were computed.
    """
    work = np.array(rhs, dtype=np.float64, order="F")
    for product in products:
        work -= product
    L = np.asarray(tile, dtype=np.float64, order="F")
    return host_backend().trsm_left_lower(L, work, trans=bool(transpose))


def kernel_rows_matvec(token, start, stop, block, kernel, V):
    """``K(X[start:stop], X) @ V``: one row block of the symmetric product.

    Loops over column blocks of edge ``block`` of the worker's replica of
    ``X`` (``start`` must be a multiple of ``block``), in a fixed order.

    Returns
    -------
    ndarray of shape (stop - start, c), float64
    """
    Q = rows(token, start, stop, dtype=np.float64)
    return _matvec_loop(token, Q, start, block, kernel, _aligned(V))


def kernel_query_matvec(token, Q, block, kernel, V):
    """``K(Q, X) @ V`` for query points ``Q`` (predictions), float64."""
    return _matvec_loop(token, _aligned(Q), None, block, kernel, _aligned(V))


def _matvec_loop(token, Q, own_start, block, kernel, V):
    n = V.shape[0]
    out = np.zeros((Q.shape[0], V.shape[1]))
    for start in range(0, n, block):
        stop = min(start + block, n)
        same = start == own_start
        Xc = Q if same else rows(token, start, stop, dtype=np.float64)
        out += kernel(Q, Xc, same=same) @ V[start:stop]
    return out


def kernel_columns(token, start, stop, points, kernel):
    """``K(X[start:stop], P)``: rows of the kernel columns at the points ``P``, float64."""
    X = rows(token, start, stop, dtype=np.float64)
    return kernel(X, _aligned(points))


def kernel_diagonal(token, start, stop, kernel, chunk=64):
    """``k(x_i, x_i)`` for the rows ``start:stop``, from small diagonal blocks."""
    X = rows(token, start, stop, dtype=np.float64)
    out = np.empty(X.shape[0])
    for start in range(0, X.shape[0], chunk):
        part = X[start : start + chunk]
        out[start : start + chunk] = np.diagonal(kernel(part, part, same=True))
    return out
