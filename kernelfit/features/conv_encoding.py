r"""Soft-threshold encoding and quadrant sum pooling of one batch of images (one thread).

For a normalized patch :math:`\tilde p` and a filter :math:`w` in whitened space, the
response is :math:`z = w^T W (\tilde p - m) = v^T \tilde p + b` with the effective
filter :math:`v = W w` and offset :math:`b = -v^T m` (whitening folded into the
filters, so each patch costs one GEMM row). The features of a filter are

.. math::

    f^{+}_q = \sum_{u \in q} \max(0, z_u - \alpha), \qquad
    f^{-}_q = \sum_{u \in q} \max(0, -z_u - \alpha)

for each pooling region :math:`q` (the four quadrants by default). With
:math:`y = v^T \tilde p` and :math:`t^\pm = \pm\alpha - b` they are computed as
:math:`f^+_q = \sum_q \max(y, t^+) - |q| t^+` and
:math:`f^-_q = |q| t^- - \sum_q \min(y, t^-)`: one GEMM for :math:`y`, one
elementwise pass per sign, and the region sums as a small GEMM. On NumPy the
patches and the clipping and pooling run as compiled one-pass kernels instead
(:mod:`kernelfit.features.fused_encoding`), which sum :math:`\max(0, y - t^+)`
directly; the GEMM is the same.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from . import fused_encoding
from .patches import extract_patches, normalize_patches, patch_grid

__all__ = ["EncoderWorkspace", "PatchEncoder", "pooling_factors", "pooling_matrix"]


def pooling_matrix(rows: int, cols: int, grid: int = 2, window=None) -> np.ndarray:
    """0/1 matrix of shape (regions, rows*cols) summing patch positions per region.

    Parameters
    ----------
    rows, cols : int
        Patch positions per column and per row of the response map.
    grid : int, default 2
        Without ``window``: ``grid x grid`` regions that split the map. Region ``(a, b)``
        (row-major index ``a * grid + b``) covers position rows
        ``[ceil(a rows / grid), ceil((a+1) rows / grid))``, and likewise for columns; for
        27 x 27 positions and ``grid=2`` the quadrants are 14 and 13 wide.
    window : tuple of int, optional
        ``(size, stride)``: square windows of ``size`` positions whose corners step by
        ``stride`` in both directions, overlapping when ``stride < size`` (27 positions
        with ``(15, 6)`` give 3 x 3 windows; ``(14, 13)`` gives 2 x 2 windows that share
        the middle row and column). Positions past the last window are not pooled.

    Raises
    ------
    ValueError
        If ``window`` is larger than the map or has a stride below 1.
    """
    row_pool, col_pool = pooling_factors(rows, cols, grid, window)
    return np.kron(row_pool, col_pool)


def pooling_factors(rows: int, cols: int, grid: int = 2, window=None):
    """The row and column factors of :func:`pooling_matrix`: 0/1 matrices of shapes
    (region rows, rows) and (region columns, cols) whose Kronecker product it is.

    Every region is a rectangle of positions, so pooling a response map is two small
    products, over its rows and then over its columns (:meth:`PatchEncoder.encode`).
    Parameters and errors as :func:`pooling_matrix`.
    """
    if window is None:
        row_edges = [-(-a * rows // grid) for a in range(grid + 1)]
        col_edges = [-(-b * cols // grid) for b in range(grid + 1)]
        row_spans = list(pairwise(row_edges))
        col_spans = list(pairwise(col_edges))
    else:
        size, stride = (int(v) for v in window)
        if stride < 1 or size < 1 or size > min(rows, cols):
            raise ValueError(f"pooling window (size, stride) must have 1 <= size <= "
                             f"{min(rows, cols)} (the response map is {rows} x {cols}) and "
                             f"stride >= 1; found {window}")
        row_spans = [(a, a + size) for a in range(0, rows - size + 1, stride)]
        col_spans = [(b, b + size) for b in range(0, cols - size + 1, stride)]
    row_pool, col_pool = np.zeros((len(row_spans), rows)), np.zeros((len(col_spans), cols))
    for a, (r0, r1) in enumerate(row_spans):
        row_pool[a, r0:r1] = 1.0
    for b, (c0, c1) in enumerate(col_spans):
        col_pool[b, c0:c1] = 1.0
    return row_pool, col_pool


class EncoderWorkspace:
    """Buffers reused across calls by one worker thread (avoids page faults on each batch)."""

    def __init__(self, xp):
        self.xp = xp
        self._buffers: dict[str, object] = {}

    def get(self, name: str, shape, dtype):
        """A buffer of at least ``shape`` elements, viewed with that shape (contents undefined)."""
        size = int(np.prod(shape))
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size or buffer.dtype != dtype:
            buffer = self.xp.empty(size, dtype=dtype)
            self._buffers[name] = buffer
        return buffer[:size].reshape(shape)

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return int(sum(b.nbytes for b in self._buffers.values()))


class PatchEncoder:
    """Encode images with one block of filters, on the arrays of one namespace.

    Parameters
    ----------
    xp : module
        Array namespace. NumPy and CuPy (the modules) run the in-place path with
        reused buffers; any other array-API namespace (array-api-strict, torch
        through ``array_api_compat``) runs the same formulas without ``out=``.
    effective_filters : ndarray of shape (d, k)
        :math:`v` for each filter (whitening folded in), ``d = patch_size**2 * channels``.
    offsets : ndarray of shape (k,)
        :math:`b` for each filter.
    alpha : float
        Soft threshold.
    image_shape : tuple of int
        ``(H, W, C)``.
    patch_size, stride : int
        Patch geometry.
    contrast_epsilon : float
        See :func:`kernelfit.features.patches.normalize_patches`.
    pooling_grid : int
        Pooling regions per side (when ``pooling_window`` is None).
    dtype : dtype
        Compute dtype (float32 or float64).
    filter_block : int, default 256
        Filters per GEMM, so that one block of responses stays in cache.
    feature_mean, feature_scale : ndarray of shape (k, 2, regions), optional
        When given, features are standardized: ``(f - feature_mean) / feature_scale``.
    pooling_window : tuple of int, optional
        ``(size, stride)`` of overlapping pooling windows (see :func:`pooling_matrix`).
    device : object, optional
        Device of ``xp`` the filters are copied to (the images' device); None
        for the namespace's default.
    fused : bool, optional
        Run the patches, clipping and pooling as compiled one-pass kernels
        (:mod:`kernelfit.features.fused_encoding`). Default: on NumPy, yes; the
        array path (``False``) is what CuPy and other namespaces run.

    Raises
    ------
    ValueError
        If ``fused=True`` is asked for a namespace other than NumPy.
    """

    def __init__(self, xp, effective_filters, offsets, alpha, image_shape, patch_size, stride,
                 contrast_epsilon, pooling_grid, dtype, filter_block=256, *,
                 feature_mean=None, feature_scale=None, pooling_window=None, device=None,
                 fused=None):
        self.xp = xp
        self.device = device
        namespace = getattr(xp, "__name__", "")
        self.in_place = namespace in ("numpy", "cupy")  # ufuncs with out=
        if fused and namespace != "numpy":
            raise ValueError(f"fused=True runs compiled CPU kernels and needs NumPy arrays; "
                             f"found the namespace {namespace or xp!r}")
        self.fused = namespace == "numpy" if fused is None else bool(fused)

        def to_device(a):  # an explicit host -> device copy of the filters
            return xp.asarray(a) if device is None else xp.asarray(a, device=device)

        self.dtype = np.dtype(dtype)
        self.patch_size, self.stride = int(patch_size), int(stride)
        self.image_shape = tuple(image_shape)
        self.contrast_epsilon = float(contrast_epsilon)
        self.rows, self.cols = patch_grid(*self.image_shape[:2], self.patch_size, self.stride)
        row_pool, col_pool = pooling_factors(self.rows, self.cols, pooling_grid, pooling_window)
        self.row_pool = to_device(row_pool.astype(self.dtype))
        self.col_pool = to_device(col_pool.astype(self.dtype))
        counts = np.outer(row_pool.sum(axis=1), col_pool.sum(axis=1)).reshape(-1, 1)
        offsets = np.asarray(offsets, dtype=np.float64)
        self.n_filters = offsets.shape[0]
        self.n_regions = row_pool.shape[0] * col_pool.shape[0]
        self.row_members = fused_encoding.region_members(row_pool)
        self.col_runs = fused_encoding.member_runs(fused_encoding.region_members(col_pool))
        self.region_grid = (row_pool.shape[0], col_pool.shape[0])
        self.blocks = []
        for start in range(0, self.n_filters, int(filter_block)):
            part = slice(start, min(start + int(filter_block), self.n_filters))
            upper, lower = alpha - offsets[part], -alpha - offsets[part]
            self.blocks.append((
                part,
                to_device(np.ascontiguousarray(effective_filters[:, part], dtype=self.dtype)),
                to_device(upper.astype(self.dtype)),
                to_device(lower.astype(self.dtype)),
                to_device((counts * upper).astype(self.dtype)),
                to_device((counts * lower).astype(self.dtype)),
            ))
        self.standardization = None
        if feature_mean is not None:
            self.standardization = (to_device(np.asarray(feature_mean, dtype=self.dtype)),
                                    to_device(np.asarray(1.0 / feature_scale, dtype=self.dtype)))

    @property
    def n_features(self) -> int:
        """Features per image: ``2 * regions * k``."""
        return 2 * self.n_regions * self.n_filters

    def encode(self, images, out, workspace: EncoderWorkspace | None = None):
        """Write the pooled features of ``images`` into ``out``.

        Parameters
        ----------
        images : array of shape (b, H, W, C)
            Any real dtype, on this encoder's namespace.
        out : array of shape (b, k, 2, regions)
            Features in the order (filter, sign, region); sign 0 is :math:`f^+`.
        workspace : EncoderWorkspace, optional
            Reused buffers; a fresh one if omitted.

        Returns
        -------
        array
            ``out``.

        Raises
        ------
        ValueError
            If ``images`` are not of this encoder's image shape or ``out`` is not of
            shape (b, k, 2, regions).
        """
        self._check_shapes(images, out)
        if self.fused:
            return self._encode_fused(images, out, workspace)
        if not self.in_place:
            return self._encode_functional(images, out)
        xp = self.xp
        workspace = workspace or EncoderWorkspace(xp)
        count = images.shape[0]
        p, c = self.patch_size, self.image_shape[2]
        positions = self.rows * self.cols
        buffer = workspace.get("patches", (count, self.rows, self.cols, p, p, c), self.dtype)
        patches = extract_patches(xp, images, p, self.stride, out=buffer)
        patches = normalize_patches(xp, patches.reshape((count * positions, -1)),
                                    self.contrast_epsilon)
        for part, filters, upper, lower, upper_sum, lower_sum in self.blocks:
            width = filters.shape[1]
            response = workspace.get("response", (count * positions, width), self.dtype)
            clipped = workspace.get("clipped", (count * positions, width), self.dtype)
            xp.matmul(patches, filters, out=response)
            xp.maximum(response, upper, out=clipped)
            positive = self._pool(clipped, count, width)
            positive -= upper_sum
            xp.minimum(response, lower, out=response)
            negative = self._pool(response, count, width)
            xp.subtract(lower_sum, negative, out=negative)
            # Sums of non-negative terms: clip the rounding of the subtraction above.
            out[:, part, 0, :] = xp.moveaxis(xp.maximum(positive, 0, out=positive), 1, 2)
            out[:, part, 1, :] = xp.moveaxis(xp.maximum(negative, 0, out=negative), 1, 2)
        if self.standardization is not None:
            out -= self.standardization[0]
            out *= self.standardization[1]
        return out

    def _check_shapes(self, images, out):
        """Refuse images and outputs of other shapes than those the encoder was built for
        (the compiled kernels index memory without bounds checks)."""
        found = tuple(images.shape)
        if found[1:] != self.image_shape:
            raise ValueError(f"images must have shape (n, {', '.join(map(str, self.image_shape))})"
                             f" (n images of this encoder's image_shape); found {found}")
        expected = (found[0], self.n_filters, 2, self.n_regions)
        if tuple(out.shape) != expected:
            raise ValueError(f"out must have shape {expected} (images, filters, signs, pooling "
                             f"regions); found {tuple(out.shape)}")

    def _encode_fused(self, images, out, workspace):
        """:meth:`encode` with the compiled kernels: one pass to gather and normalize the
        patches, then per filter block the GEMM and one pass to clip and pool."""
        workspace = workspace or EncoderWorkspace(np)
        count = images.shape[0]
        positions = self.rows * self.cols
        patch_dim = self.patch_size**2 * self.image_shape[2]
        patches = workspace.get("patches", (count * positions, patch_dim), self.dtype)
        fused_encoding.normalized_patches(images, self.patch_size, self.stride,
                                          self.contrast_epsilon, patches)
        for part, filters, upper, lower, _, _ in self.blocks:
            response = workspace.get("response", (count * positions, filters.shape[1]),
                                     self.dtype)
            np.matmul(patches, filters, out=response)
            fused_encoding.threshold_pool(response, count, self.rows, self.cols,
                                          self.row_members, self.col_runs, self.region_grid,
                                          upper, lower,
                                          out, part.start)
        if self.standardization is not None:
            out -= self.standardization[0]
            out *= self.standardization[1]
        return out

    def _pool(self, responses, count: int, width: int):
        """Region sums of ``count`` response maps: rows, then columns (a third of the
        work of one product with the full pooling matrix for 3 x 3 windows of 15).

        ``responses`` holds ``count * rows * cols`` rows of ``width``; the result has
        shape (count, regions, width), regions in :func:`pooling_matrix`'s order."""
        xp = self.xp
        by_rows = xp.matmul(self.row_pool,
                            xp.reshape(responses, (count, self.rows, self.cols * width)))
        band_count = self.row_pool.shape[0]
        by_regions = xp.matmul(self.col_pool, xp.reshape(by_rows, (count * band_count,
                                                                   self.cols, width)))
        return xp.reshape(by_regions, (count, self.n_regions, width))

    def _encode_functional(self, images, out):
        """:meth:`encode` with array-API operations only (no ``out=``, no buffers)."""
        xp = self.xp
        count = images.shape[0]
        p, c = self.patch_size, self.image_shape[2]
        positions = self.rows * self.cols
        dtype = getattr(xp, self.dtype.name)
        images = xp.astype(images, dtype)
        shape = (count, self.rows, self.cols, p, p, c)
        buffer = xp.empty(shape, dtype=dtype) if self.device is None else xp.empty(
            shape, dtype=dtype, device=self.device)
        patches = extract_patches(xp, images, p, self.stride, out=buffer)
        patches = normalize_patches(xp, xp.reshape(patches, (count * positions, -1)),
                                    self.contrast_epsilon)
        for part, filters, upper, lower, upper_sum, lower_sum in self.blocks:
            width = filters.shape[1]
            response = patches @ filters
            clipped = xp.reshape(xp.maximum(response, upper), (count, positions, width))
            positive = self._pool(clipped, count, width) - upper_sum
            clipped = xp.reshape(xp.minimum(response, lower), (count, positions, width))
            negative = lower_sum - self._pool(clipped, count, width)
            # Sums of non-negative terms: clip the rounding of the subtractions.
            out[:, part, 0, :] = xp.permute_dims(xp.clip(positive, 0.0, None), (0, 2, 1))
            out[:, part, 1, :] = xp.permute_dims(xp.clip(negative, 0.0, None), (0, 2, 1))
        if self.standardization is not None:
            out -= self.standardization[0]
            out *= self.standardization[1]
        return out
