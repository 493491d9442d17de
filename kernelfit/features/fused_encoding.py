r"""Compiled CPU kernels of the random-convolution encoder: one pass per step.

The array path of :class:`~kernelfit.features.conv_encoding.PatchEncoder` moves
each response block through memory several times (two clipping passes, two
pooling products, a transposing copy) and gathers patches with one strided copy
per patch offset. On the CPU those passes cost about a third of the GEMM they
surround. These kernels, compiled by Numba, do the same work in one pass each:

* :func:`normalized_patches` gathers every patch of a batch of images (each
  patch row is ``patch_size`` contiguous runs of ``patch_size * channels``
  values) and normalizes it (mean removed, divided by
  :math:`\sqrt{\mathrm{var} + \epsilon}`, unbiased variance);
* :func:`threshold_pool` reads one block of responses :math:`y = v^T \tilde p`
  once and writes the pooled features straight into the output,
  :math:`f^+_q = \sum_{u \in q} \max(0, y_u - t^+)` and
  :math:`f^-_q = \sum_{u \in q} \max(0, t^- - y_u)` with :math:`t^\pm = \pm\alpha - b`.
  Summing the clipped differences (not ``max(y, t)`` minus ``|q| t``) keeps
  every term non-negative, with no cancellation.

Numba is imported when a kernel is first needed, so ``import kernelfit`` does
not pay for it, and each kernel is compiled on first use in a process, once per
argument dtype (1-3 s for both on a 2-core machine). Both release the GIL: the
encoder's worker threads run them in parallel.
"""

from __future__ import annotations

import threading
from functools import cache

import numpy as np

__all__ = ["member_runs", "normalized_patches", "region_members", "threshold_pool"]


def region_members(pool: np.ndarray) -> np.ndarray:
    """For each position, the pooling regions (along one axis) that contain it.

    Parameters
    ----------
    pool : ndarray of shape (regions, positions)
        A 0/1 pooling factor (:func:`~kernelfit.features.conv_encoding.pooling_factors`).

    Returns
    -------
    ndarray of int64, shape (positions, most regions per position)
        Region indices in increasing order, padded with -1 (a position past the
        last window has only -1).
    """
    pool = np.asarray(pool) != 0
    width = max(1, int(pool.sum(axis=0).max()))
    members = np.full((pool.shape[1], width), -1, dtype=np.int64)
    for position in range(pool.shape[1]):
        regions = np.flatnonzero(pool[:, position])
        members[position, : regions.size] = regions
    return members


def member_runs(members: np.ndarray):
    """Maximal spans of consecutive positions that lie in the same regions.

    Parameters
    ----------
    members : ndarray of int64, shape (positions, m)
        :func:`region_members` of one pooling factor.

    Returns
    -------
    runs : ndarray of int64, shape (spans, 2)
        ``[start, stop)`` of each span, in order; positions in no region are left out.
    run_members : ndarray of int64, shape (spans, m)
        The regions of each span, as in ``members``.
    """
    runs, run_members = [], []
    for position, regions in enumerate(members):
        if regions[0] < 0:
            continue
        if runs and runs[-1][1] == position and np.array_equal(run_members[-1], regions):
            runs[-1][1] = position + 1
        else:
            runs.append([position, position + 1])
            run_members.append(regions)
    width = members.shape[1]
    return (np.array(runs, dtype=np.int64).reshape(-1, 2),
            np.array(run_members, dtype=np.int64).reshape(-1, width))


_COMPILE_LOCK = threading.Lock()


def _kernels():
    """The two Numba kernels, defined on first use by one thread (the encoder's
    workers start together; the others wait rather than define them again)."""
    with _COMPILE_LOCK:
        return _define_kernels()


@cache
def _define_kernels():
    import numba

    @numba.njit(nogil=True, fastmath=True, cache=False)
    def gather_normalize(pixels, patch_size, stride, channels, rows, cols, epsilon, out):
        # pixels: (n, H, W * C), C-contiguous; out: (n * rows * cols, d) C-contiguous.
        run = patch_size * channels
        dim = patch_size * run
        for i in range(pixels.shape[0]):
            for r in range(rows):
                for s in range(cols):
                    row = out[(i * rows + r) * cols + s]
                    # One pass for the sums, shifted by the patch's first value so that
                    # large offsets do not cancel; a second to normalize.
                    shift = float(pixels[i, r * stride, s * stride * channels])
                    total = 0.0
                    squares = 0.0
                    for dy in range(patch_size):
                        line = pixels[i, r * stride + dy]
                        first = s * stride * channels
                        for t in range(run):
                            value = line[first + t]
                            row[dy * run + t] = value
                            shifted = value - shift
                            total += shifted
                            squares += shifted * shifted
                    mean = total / dim
                    variance = (squares - total * mean) / (dim - 1)
                    scale = 1.0 / np.sqrt(max(variance, 0.0) + epsilon)
                    centre = mean + shift
                    for t in range(dim):
                        row[t] = (row[t] - centre) * scale

    @numba.njit(nogil=True, fastmath=True, cache=False)
    def clip_and_pool(response, count, rows, cols, row_members, col_runs, run_members,
                      col_regions, upper, lower, out, start):
        # response: (count * rows * cols, w); out: (count, k, 2, row regions * col regions).
        # Columns are summed over runs (maximal spans in the same column regions), four
        # columns per step, then each run's sums are added to its regions.
        width = response.shape[1]
        zero = upper[0] - upper[0]  # in the responses' dtype: no promotion in the loop
        regions = out.shape[3]
        run_pos = np.empty(width, dtype=response.dtype)
        run_neg = np.empty(width, dtype=response.dtype)
        band_pos = np.empty((col_regions, width), dtype=response.dtype)
        band_neg = np.empty((col_regions, width), dtype=response.dtype)
        region_pos = np.empty((regions, width), dtype=response.dtype)
        region_neg = np.empty((regions, width), dtype=response.dtype)
        for i in range(count):
            region_pos[:] = 0
            region_neg[:] = 0
            for r in range(rows):
                if row_members[r, 0] < 0:
                    continue
                band_pos[:] = 0
                band_neg[:] = 0
                base = (i * rows + r) * cols
                for run in range(col_runs.shape[0]):
                    run_pos[:] = 0
                    run_neg[:] = 0
                    c, end = col_runs[run, 0], col_runs[run, 1]
                    while c + 3 < end:
                        y, z = response[base + c], response[base + c + 1]
                        u, v = response[base + c + 2], response[base + c + 3]
                        for j in range(width):
                            run_pos[j] += ((max(y[j] - upper[j], zero)
                                            + max(z[j] - upper[j], zero))
                                           + (max(u[j] - upper[j], zero)
                                              + max(v[j] - upper[j], zero)))
                            run_neg[j] += ((max(lower[j] - y[j], zero)
                                            + max(lower[j] - z[j], zero))
                                           + (max(lower[j] - u[j], zero)
                                              + max(lower[j] - v[j], zero)))
                        c += 4
                    while c < end:
                        y = response[base + c]
                        for j in range(width):
                            run_pos[j] += max(y[j] - upper[j], zero)
                            run_neg[j] += max(lower[j] - y[j], zero)
                        c += 1
                    for m in range(run_members.shape[1]):
                        b = run_members[run, m]
                        if b < 0:
                            break
                        for j in range(width):
                            band_pos[b, j] += run_pos[j]
                            band_neg[b, j] += run_neg[j]
                for m in range(row_members.shape[1]):
                    a = row_members[r, m]
                    if a < 0:
                        break
                    for b in range(col_regions):
                        q = a * col_regions + b
                        for j in range(width):
                            region_pos[q, j] += band_pos[b, j]
                            region_neg[q, j] += band_neg[b, j]
            for j in range(width):
                for q in range(regions):
                    out[i, start + j, 0, q] = region_pos[q, j]
                    out[i, start + j, 1, q] = region_neg[q, j]

    return gather_normalize, clip_and_pool


def normalized_patches(images, patch_size: int, stride: int, epsilon: float, out) -> np.ndarray:
    """All patches of ``images``, normalized, written into ``out`` (one pass).

    Parameters
    ----------
    images : ndarray of shape (n, H, W, C)
        Any real dtype: uint8 pixels and those already in ``out``'s dtype are read
        as they are, others are converted to it first.
    patch_size, stride : int
        Patch edge and step between patch positions.
    epsilon : float
        Added to each patch's unbiased variance (squared pixel units).
    out : ndarray of shape (n * R * S, patch_size**2 * C)
        C-contiguous float32 or float64; rows in (image, patch row, patch column)
        order, values in (dy, dx, channel) order, as
        :func:`~kernelfit.features.patches.extract_patches` lays them out.

    Returns
    -------
    ndarray
        ``out``.

    Raises
    ------
    ValueError
        If ``images`` are not 4-d, ``out`` is not of the shape above (the kernel does
        not check its indices) or a pixel is NaN or infinite (the kernels are compiled
        with ``fastmath``, which assumes finite values).
    """
    if images.ndim != 4 or min(images.shape[1:3]) < patch_size:
        raise ValueError(f"images must have shape (n, H, W, C) with H, W >= patch_size="
                         f"{patch_size}; found {tuple(images.shape)}")
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        raise ValueError(f"images must be finite; found {int(np.isnan(images).sum())} NaN and "
                         f"{int(np.isinf(images).sum())} infinite pixel(s)")
    count, height, width, channels = images.shape
    rows, cols = (height - patch_size) // stride + 1, (width - patch_size) // stride + 1
    expected = (count * rows * cols, patch_size**2 * channels)
    if out.shape != expected:
        raise ValueError(f"out must have shape {expected} (one row per patch of images of "
                         f"shape {tuple(images.shape)}); found {out.shape}")
    if images.dtype not in (np.uint8, out.dtype):  # one compiled kernel per pixel dtype
        images = images.astype(out.dtype)
    pixels = np.ascontiguousarray(images).reshape(count, height, width * channels)
    _kernels()[0](pixels, int(patch_size), int(stride), int(channels), rows, cols,
                  float(epsilon), out)
    return out


def threshold_pool(response, count: int, rows: int, cols: int, row_members, col_runs,
                   region_grid, upper, lower, out, start: int) -> None:
    """Pooled soft-threshold features of one response block, into ``out`` (one pass).

    Parameters
    ----------
    response : ndarray of shape (count * rows * cols, w)
        :math:`y` for ``w`` filters, rows in (image, position) order.
    count, rows, cols : int
        Images and the response map's shape.
    row_members : ndarray of int64
        :func:`region_members` of the row pooling factor.
    col_runs : tuple of two ndarrays of int64
        :func:`member_runs` of the column pooling factor's :func:`region_members`.
    region_grid : tuple of int
        Regions along the rows and along the columns, the two factors' row counts
        (a region may hold no position when the map is smaller than the grid: its
        features are 0).
    upper, lower : ndarray of shape (w,)
        :math:`t^+` and :math:`t^-` for each filter, in ``response``'s dtype.
    out : ndarray of shape (count, k, 2, regions)
        Receives ``out[:, start:start + w]`` (sign 0 is :math:`f^+`).
    start : int
        The block's first filter in ``out``.

    Raises
    ------
    ValueError
        If the arrays' shapes do not fit together as above (the kernel does not check
        its indices).
    """
    runs, run_members = col_runs
    width = response.shape[1]
    row_regions, col_regions = (int(v) for v in region_grid)
    regions = row_regions * col_regions
    if row_members.max() >= row_regions or run_members.max() >= col_regions:
        raise ValueError(f"the pooling factors name regions beyond the {row_regions} x "
                         f"{col_regions} grid; found up to {int(row_members.max()) + 1} x "
                         f"{int(run_members.max()) + 1}")
    shapes = {"response": (response.shape, (count * rows * cols, width)),
              "upper": (upper.shape, (width,)), "lower": (lower.shape, (width,)),
              "out": (out.shape, (count, *out.shape[1:2], 2, regions))}
    for name, (found, expected) in shapes.items():
        if tuple(found) != expected:
            raise ValueError(f"{name} must have shape {expected}; found {tuple(found)}")
    if not 0 <= start <= out.shape[1] - width:
        raise ValueError(f"filters start..start + {width} must lie within out's "
                         f"{out.shape[1]}; found start={start}")
    last = int(runs[-1, 1]) if runs.size else 0
    if row_members.shape[0] != rows or last > cols:
        raise ValueError(f"the pooling factors must be of {rows} rows and {cols} columns; "
                         f"found {row_members.shape[0]} rows and column runs up to {last}")
    _kernels()[1](response, int(count), int(rows), int(cols), row_members, runs, run_members,
                  col_regions, upper, lower, out, int(start))
