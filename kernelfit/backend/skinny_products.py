"""Tile products with a few right-hand sides on the host, each tile read once.

:meth:`~kernelfit.backend.host.NumpyBackend.streamed_gemm_acc` sends
``C += alpha op(A) B`` here when ``B`` has at most :data:`MAX_COLUMNS` columns (the
classes of a refinement): :func:`skinny_gemm_acc` streams ``A`` once through the
compiled kernels of :mod:`kernelfit.backend.skinny_kernels`, split over the host
threads, instead of a BLAS GEMM that repacks ``A`` for 10 columns.
:func:`symmetric_gemm_acc` applies an off-diagonal tile of a symmetric matrix as
itself and transposed in the same pass. A float32 tile is read as it is; products
and sums are float64. Anything else (few rows, many columns, a tile that is not
contiguous, Numba unable to load its kernels) returns ``False`` and the caller
uses BLAS. ``C`` must not share memory with ``A`` or ``B`` (as for BLAS).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..host_threads import element_threads, run_shares
from ..numba_loading import import_compiled

__all__ = ["MAX_COLUMNS", "MIN_ENTRIES", "skinny_gemm_acc", "symmetric_gemm_acc"]

#: Most right-hand sides for which one pass over the tile beats a BLAS GEMM here
#: (``bench/bench_sweeps.py`` measures both at 10).
MAX_COLUMNS = 16

#: Tiles with fewer entries go to BLAS: compiled dispatch and threads cost more.
MIN_ENTRIES = 1 << 14

#: Entries of a tile per thread share (smaller tiles use fewer threads).
_SHARE_ENTRIES = 1 << 18

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@cache
def _kernels():
    """The compiled kernels, or ``None`` (with a warning, once) when Numba cannot load
    them, e.g. with no writable folder for its cache."""
    return import_compiled("kernelfit.backend.skinny_kernels",
                           "compiled tile products are unavailable", "BLAS")


def _tile_t(A):
    """``(tile_t, flipped)``: a C-contiguous ``tile_t`` with ``A = tile_t.T`` (a
    column-major tile), or ``A = tile_t`` (``flipped``, a row-major one); ``None``
    when ``A`` is neither."""
    if A.flags.f_contiguous:
        return A.T, False
    if A.flags.c_contiguous:
        return A, True
    return None


def _fits(C, A, B):
    return (isinstance(A, np.ndarray) and isinstance(B, np.ndarray)
            and isinstance(C, np.ndarray) and A.ndim == B.ndim == C.ndim == 2
            and A.dtype in _FLOATS and B.dtype in _FLOATS and C.dtype in _FLOATS
            and 1 <= B.shape[1] <= MAX_COLUMNS and A.size >= MIN_ENTRIES
            and C.flags.f_contiguous and C.flags.writeable)


def _check_shapes(C, opA, B):
    """The compiled kernels do not check bounds: refuse shapes that do not chain."""
    if B.shape[0] != opA.shape[1] or C.shape != (opA.shape[0], B.shape[1]):
        raise ValueError(f"C += op(A) @ B needs C of shape (rows of op(A), columns of B) and "
                         f"B with one row per column of op(A); found C {C.shape}, "
                         f"op(A) {opA.shape}, B {B.shape}")


def _class_major(B):
    """``B.T`` as a C-contiguous float64 array (a view of a column-major float64 ``B``):
    products with it are float64 whatever the tile's dtype."""
    return np.ascontiguousarray(B.T, dtype=np.float64)


def _shares(A) -> int:
    return min(element_threads(), max(1, A.size // _SHARE_ENTRIES))


def skinny_gemm_acc(C, A, B, *, trans_a: bool = False, alpha: float = 1.0) -> bool:
    """``C += alpha * op(A) @ B`` in place, ``op(A) = A.T`` when ``trans_a``.

    Returns ``False`` (``C`` untouched) when the operands do not suit the compiled
    path. Raises ``ValueError`` for shapes that do not chain.
    """
    if not _fits(C, A, B):
        return False
    _check_shapes(C, A.T if trans_a else A, B)
    view, kernels = _tile_t(A), _kernels()
    if view is None or kernels is None:
        return False
    tile_t, flipped = view
    v, out = _class_major(B), C.T
    shares = _shares(A)
    if trans_a != flipped:  # C += alpha T^T B: each share's columns of T give its rows of C
        def run(_, start, stop):
            kernels.dot_columns(tile_t, v, out, alpha, start, stop)

        run_shares(run, tile_t.shape[0], shares)
        return True
    # C += alpha T B: every column of T adds to all of C. Each share sums its columns'
    # terms in a zeroed buffer of its own, added to C once: adding them to C one group at
    # a time would make C's running sum over all tiles hundreds of terms long per tile
    # (1.3-1.5x BLAS's rounding error, which adds each tile's sum once).
    partial = _zeroed(out.shape, shares)

    def run(index, start, stop):
        kernels.axpy_columns(tile_t, v, partial[index], alpha, start, stop)

    run_shares(run, tile_t.shape[0], shares)
    for part in partial:
        out += part
    return True


def symmetric_gemm_acc(C_rows, C_cols, A, B_rows, B_cols) -> bool:
    """``C_rows += A @ B_cols`` and ``C_cols += A.T @ B_rows`` in one pass over ``A``.

    An off-diagonal tile ``A`` of a symmetric matrix, applied as itself and as its
    mirror. Returns ``False`` (nothing touched) when the operands do not suit.
    Raises ``ValueError`` for shapes that do not chain.
    """
    if not (_fits(C_rows, A, B_cols) and _fits(C_cols, A, B_rows)):
        return False
    _check_shapes(C_rows, A, B_cols)
    _check_shapes(C_cols, A.T, B_rows)
    if B_rows.shape[1] != B_cols.shape[1]:
        raise ValueError(f"both products need the same right-hand sides; found B_rows with "
                         f"{B_rows.shape[1]} columns and B_cols with {B_cols.shape[1]}")
    view, kernels = _tile_t(A), _kernels()
    if view is None or kernels is None:
        return False
    tile_t, flipped = view
    if flipped:  # T = A^T: its rows are A's columns
        C_rows, C_cols, B_rows, B_cols = C_cols, C_rows, B_cols, B_rows
    v_rows, v_cols, out_rows, out_cols = (_class_major(B_rows), _class_major(B_cols),
                                          C_rows.T, C_cols.T)
    shares = _shares(A)
    # Each share owns columns of T (one contiguous part of it) and so its entries of
    # out_cols; its row sums go to a zeroed buffer of its own (as in skinny_gemm_acc).
    partial = _zeroed(out_rows.shape, shares)

    def run(index, start, stop):
        kernels.symmetric_columns(tile_t, v_rows, v_cols, partial[index], out_cols, start,
                                  stop)

    run_shares(run, tile_t.shape[0], shares)
    for part in partial:
        out_rows += part
    return True


def _zeroed(shape, shares):
    """One float64 buffer of zeros per share, for its sums."""
    return [np.zeros(shape) for _ in range(shares)]
