"""Compiled (Numba) products of a large tile with a few columns, the tile read once.

The refinement and triangular sweeps multiply every tile of ``K`` or of its
Cholesky factor by ``c`` right-hand sides, ``c`` the number of classes. A BLAS
GEMM with 10 columns repacks the whole tile first and reaches a third of the
memory bandwidth here; the symmetric product needs two of them per off-diagonal
tile (``T V`` and ``T^T V``). These kernels stream each tile once instead: four
of its columns at a time, applied to two right-hand sides at a time, with the
sums in registers and the vector arithmetic left to LLVM.

Layout. The kernels see a tile ``T`` (``m x p``) through ``tile_t = T^T``, a
C-contiguous ``p x m`` array (the memory of a column-major tile), and the
right-hand sides and results "class-major": ``(c, m)`` or ``(c, p)`` C-contiguous
arrays (the memory of column-major ``m x c`` blocks). Each kernel handles the
columns ``q0 <= q < q1`` of ``T``, so that each thread (see
:mod:`kernelfit.host_threads`) streams one contiguous part of the tile; results
indexed by rows then go to a buffer per thread. The right-hand sides are float64
(the callers convert them), so products and sums are float64 for either tile dtype.
Compiled code is cached on disk by Numba (``NUMBA_CACHE_DIR`` moves the cache),
so only a machine's first run compiles; loading it still costs about 0.4 s once
per process (Numba's import and its first dispatch).

This module imports Numba: import it lazily (``import kernelfit`` stays fast).
"""

from __future__ import annotations

import numba

__all__ = ["axpy_columns", "dot_columns", "symmetric_columns"]

_JIT = dict(nogil=True, fastmath=True, boundscheck=False, cache=True)


@numba.njit(**_JIT)
def axpy_columns(tile_t, v, out, alpha, q0, q1):  # pragma: no cover - compiled
    """``out[k, r] += alpha * sum_q T[r, q] v[k, q]`` over columns ``q0 <= q < q1`` (``T V``)."""
    m = tile_t.shape[1]
    c = v.shape[0]
    stop = q1 - (q1 - q0) % 4
    for q in range(q0, stop, 4):
        t0, t1, t2, t3 = tile_t[q], tile_t[q + 1], tile_t[q + 2], tile_t[q + 3]
        k = 0
        while k + 2 <= c:  # not a range(): LLVM then vectorizes the r loop 3x worse
            o, u = out[k], out[k + 1]
            a0, a1 = alpha * v[k, q], alpha * v[k, q + 1]
            a2, a3 = alpha * v[k, q + 2], alpha * v[k, q + 3]
            b0, b1 = alpha * v[k + 1, q], alpha * v[k + 1, q + 1]
            b2, b3 = alpha * v[k + 1, q + 2], alpha * v[k + 1, q + 3]
            for r in range(m):
                e0, e1, e2, e3 = t0[r], t1[r], t2[r], t3[r]
                o[r] += e0 * a0 + e1 * a1 + e2 * a2 + e3 * a3
                u[r] += e0 * b0 + e1 * b1 + e2 * b2 + e3 * b3
            k += 2
        if c % 2:
            o = out[c - 1]
            a0, a1 = alpha * v[c - 1, q], alpha * v[c - 1, q + 1]
            a2, a3 = alpha * v[c - 1, q + 2], alpha * v[c - 1, q + 3]
            for r in range(m):
                o[r] += t0[r] * a0 + t1[r] * a1 + t2[r] * a2 + t3[r] * a3
    for q in range(stop, q1):
        t0 = tile_t[q]
        for k in range(c):
            o = out[k]
            a0 = alpha * v[k, q]
            for r in range(m):
                o[r] += t0[r] * a0


@numba.njit(**_JIT)
def dot_columns(tile_t, v, out, alpha, q0, q1):  # pragma: no cover - compiled
    """``out[k, q] += alpha * sum_r T[r, q] v[k, r]`` for columns ``q0 <= q < q1`` (``T^T V``)."""
    m = tile_t.shape[1]
    c = v.shape[0]
    stop = q1 - (q1 - q0) % 4
    for q in range(q0, stop, 4):
        t0, t1, t2, t3 = tile_t[q], tile_t[q + 1], tile_t[q + 2], tile_t[q + 3]
        k = 0
        while k + 2 <= c:  # not a range(), as in axpy_columns
            x, y = v[k], v[k + 1]
            s0 = s1 = s2 = s3 = 0.0
            w0 = w1 = w2 = w3 = 0.0
            for r in range(m):
                e0, e1, e2, e3 = t0[r], t1[r], t2[r], t3[r]
                xr, yr = x[r], y[r]
                s0 += e0 * xr
                s1 += e1 * xr
                s2 += e2 * xr
                s3 += e3 * xr
                w0 += e0 * yr
                w1 += e1 * yr
                w2 += e2 * yr
                w3 += e3 * yr
            out[k, q] += alpha * s0
            out[k, q + 1] += alpha * s1
            out[k, q + 2] += alpha * s2
            out[k, q + 3] += alpha * s3
            out[k + 1, q] += alpha * w0
            out[k + 1, q + 1] += alpha * w1
            out[k + 1, q + 2] += alpha * w2
            out[k + 1, q + 3] += alpha * w3
            k += 2
        if c % 2:
            x = v[c - 1]
            s0 = s1 = s2 = s3 = 0.0
            for r in range(m):
                xr = x[r]
                s0 += t0[r] * xr
                s1 += t1[r] * xr
                s2 += t2[r] * xr
                s3 += t3[r] * xr
            out[c - 1, q] += alpha * s0
            out[c - 1, q + 1] += alpha * s1
            out[c - 1, q + 2] += alpha * s2
            out[c - 1, q + 3] += alpha * s3
    for q in range(stop, q1):
        t0 = tile_t[q]
        for k in range(c):
            x = v[k]
            s0 = 0.0
            for r in range(m):
                s0 += t0[r] * x[r]
            out[k, q] += alpha * s0


@numba.njit(**_JIT)
def symmetric_columns(tile_t, v_rows, v_cols, out_rows, out_cols, q0, q1):  # pragma: no cover
    """Both products over columns ``q0 <= q < q1`` of ``T``, in one pass over them:
    ``out_rows[k, r] += sum_q T[r, q] v_cols[k, q]`` and
    ``out_cols[k, q] += sum_r T[r, q] v_rows[k, r]`` (``T V_cols`` and ``T^T V_rows``)."""
    m = tile_t.shape[1]
    c = v_rows.shape[0]
    stop = q1 - (q1 - q0) % 4
    for q in range(q0, stop, 4):
        t0, t1, t2, t3 = tile_t[q], tile_t[q + 1], tile_t[q + 2], tile_t[q + 3]
        k = 0
        while k + 2 <= c:  # not a range(), as in axpy_columns
            x, y = v_rows[k], v_rows[k + 1]
            o, u = out_rows[k], out_rows[k + 1]
            a0, a1, a2, a3 = v_cols[k, q], v_cols[k, q + 1], v_cols[k, q + 2], v_cols[k, q + 3]
            b0, b1 = v_cols[k + 1, q], v_cols[k + 1, q + 1]
            b2, b3 = v_cols[k + 1, q + 2], v_cols[k + 1, q + 3]
            s0 = s1 = s2 = s3 = 0.0
            w0 = w1 = w2 = w3 = 0.0
            for r in range(m):
                e0, e1, e2, e3 = t0[r], t1[r], t2[r], t3[r]
                xr, yr = x[r], y[r]
                s0 += e0 * xr
                s1 += e1 * xr
                s2 += e2 * xr
                s3 += e3 * xr
                w0 += e0 * yr
                w1 += e1 * yr
                w2 += e2 * yr
                w3 += e3 * yr
                o[r] += e0 * a0 + e1 * a1 + e2 * a2 + e3 * a3
                u[r] += e0 * b0 + e1 * b1 + e2 * b2 + e3 * b3
            out_cols[k, q] += s0
            out_cols[k, q + 1] += s1
            out_cols[k, q + 2] += s2
            out_cols[k, q + 3] += s3
            out_cols[k + 1, q] += w0
            out_cols[k + 1, q + 1] += w1
            out_cols[k + 1, q + 2] += w2
            out_cols[k + 1, q + 3] += w3
            k += 2
        if c % 2:
            x, o = v_rows[c - 1], out_rows[c - 1]
            a0, a1 = v_cols[c - 1, q], v_cols[c - 1, q + 1]
            a2, a3 = v_cols[c - 1, q + 2], v_cols[c - 1, q + 3]
            s0 = s1 = s2 = s3 = 0.0
            for r in range(m):
                e0, e1, e2, e3 = t0[r], t1[r], t2[r], t3[r]
                xr = x[r]
                s0 += e0 * xr
                s1 += e1 * xr
                s2 += e2 * xr
                s3 += e3 * xr
                o[r] += e0 * a0 + e1 * a1 + e2 * a2 + e3 * a3
            out_cols[c - 1, q] += s0
            out_cols[c - 1, q + 1] += s1
            out_cols[c - 1, q + 2] += s2
            out_cols[c - 1, q + 3] += s3
    for q in range(stop, q1):
        t0 = tile_t[q]
        for k in range(c):
            x, o = v_rows[k], out_rows[k]
            a0 = v_cols[k, q]
            s0 = 0.0
            for r in range(m):
                s0 += t0[r] * x[r]
                o[r] += t0[r] * a0
            out_cols[k, q] += s0
