"""Tiled triangular solves with a Cholesky factor held in a tile storage.

The right-hand sides are small next to ``L`` (``n x c`` with ``c`` classes),
so each tile of ``L`` is read once per sweep and upcast to the working dtype
(float64 by default): a float32 factor is applied with float64 arithmetic.
"""

from __future__ import annotations

import numpy as np

from ..progress import phase
from .tile_matvec import uses_streamed_products

__all__ = ["cholesky_solve", "solve_lower"]


def solve_lower(storage, B, *, transpose: bool = False, dtype=np.float64, progress=None):
    """Solve ``L X = B`` (or ``L^T X = B``) with ``L`` in the lower tiles of ``storage``.

    Parameters
    ----------
    storage : TileStorage
        Holds the factor ``L`` (after :func:`~kernelfit.linalg.tiled_cholesky`).
    B : array of shape (n, c)
        Right-hand sides, on the storage's backend; not modified.
    transpose : bool, default False
        Solve with ``L^T`` (backward substitution) instead of ``L``.
    dtype : dtype, default float64
        Working and output dtype.
    progress : callable, optional
        Progress callback, phase ``"solve"``.

    Returns
    -------
    X : array of shape (n, c)
    """
    backend = storage.backend
    nt = storage.nt
    work = backend.dtype(dtype)
    product = (backend.streamed_gemm_acc if uses_streamed_products(storage)
               else backend.gemm_acc)
    blocks = [None] * nt
    order = range(nt - 1, -1, -1) if transpose else range(nt)
    with phase(progress, "solve", total=nt, unit="tiles") as bar:
        for i in order:
            rows = storage.bounds(i)
            rhs = backend.astype(B[rows, :], work)
            rhs = backend.copy(rhs, fortran=True)
            others = range(i + 1, nt) if transpose else range(i)
            for k in others:  # rhs -= op(L_ik) X_k in place
                L = storage.tile(k, i) if transpose else storage.tile(i, k)
                rhs = product(rhs, L, blocks[k], trans_a=transpose, alpha=-1.0)
            diag = backend.astype(storage.tile(i, i), work)
            blocks[i] = backend.trsm_left_lower(diag, rhs, trans=transpose)
            bar.advance()
    return backend.concat(blocks, axis=0)


def cholesky_solve(storage, B, *, dtype=np.float64, progress=None):
    """Solve ``A X = B`` given the Cholesky factor of ``A`` in ``storage``.

    Parameters
    ----------
    storage : TileStorage
        Holds ``L`` with ``A = L L^T``.
    B : array of shape (n,) or (n, c)
    dtype : dtype, default float64
        Working and output dtype of the substitutions.
    progress : callable, optional
        Progress callback, phase ``"solve"``.

    Returns
    -------
    X : array of shape (n,) or (n, c)
    """
    vector = B.ndim == 1
    B2 = B[:, None] if vector else B
    Z = solve_lower(storage, B2, dtype=dtype, progress=progress)
    X = solve_lower(storage, Z, transpose=True, dtype=dtype, progress=progress)
    return X[:, 0] if vector else X
