r"""Streaming ``Phi(X) Phi(Y)^T`` over filter chunks, never holding the whole feature matrix.

One pass over the filters can serve several products that share image sets, e.g.
the training Gram and the test-versus-training Gram (so the training features,
the dominant cost, are computed once).

For filter chunks :math:`c = 1 .. C` (sizes chosen from the memory budget), the
features of *all* images for that chunk are computed once, then

.. math::

    G \mathrel{+}= \Phi_c(X) \Phi_c(Y)^T, \qquad
    \|\phi(x_i)\|^2 \mathrel{+}= \|\Phi_c(x_i)\|^2,

tile by tile (each tile one GEMM between distinct arrays, computed in the feature
dtype and added into ``G`` in ``G``'s dtype). In the symmetric case only tiles on
and below the diagonal are computed; the upper triangle is mirrored at the end (the
walk and the mirror are :mod:`kernelfit.tile_walk`'s).

Memory model (bytes, ``s`` = feature itemsize, ``f`` = features per filter): for a
chunk of ``k`` filters, ``(sum of the image-set sizes + t) f k s`` (``t`` rows for the
copy of a diagonal tile when a product is symmetric), plus the worker buffers, two
Gram tiles, up to 32 MiB for a float64 norm block, and the outputs allocated here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ..memory import check_budget
from ..progress import phase
from ..tile_walk import mirror_lower, tile_pairs
from .conv_features import encode_images, workspace_bytes

__all__ = [
    "StreamedGram",
    "accumulate_feature_grams",
    "encode_gflop",
    "gram_gflop",
    "plan_filter_chunk",
]

#: Edge of the Gram tiles (rows of features per GEMM operand).
GRAM_TILE = 2048
#: Entries upcast to float64 at a time for the squared norms (32 MiB).
NORM_BLOCK_ENTRIES = 1 << 22


class StreamedGram(NamedTuple):
    """Result of a streamed Gram accumulation.

    Attributes
    ----------
    gram : array of shape (n, m)
        :math:`\\Phi(X) \\Phi(Y)^T` (the ``out`` array when one was given, else an
        array on the backend's device).
    row_sq_norms : ndarray of float64, shape (n,)
        :math:`\\|\\phi(x_i)\\|^2`.
    col_sq_norms : ndarray of float64, shape (m,)
        :math:`\\|\\phi(y_j)\\|^2` (the same array as ``row_sq_norms`` when ``Y`` is None).
    """

    gram: object
    row_sq_norms: np.ndarray
    col_sq_norms: np.ndarray


def plan_filter_chunk(n_rows: int, n_filters: int, features_per_filter: int, itemsize: int,
                      fixed_bytes: int, budget: int, what: str) -> int:
    """Largest filter chunk whose features for ``n_rows`` images fit in the budget.

    Raises
    ------
    MemoryBudgetError
        If even one filter does not fit; the message gives both byte counts.
    """
    per_filter = n_rows * features_per_filter * itemsize
    check_budget(fixed_bytes + per_filter, budget, what)
    return int(max(1, min(n_filters, (budget - fixed_bytes) // per_filter)))


def _make_symmetric(out, tile: int, backend) -> None:
    """Make a symmetric product exactly symmetric from its lower tiles: a tile view stores
    only those (its diagonal tiles are symmetrized); an array gets its upper triangle."""
    if hasattr(out, "symmetrize_diagonal"):
        out.symmetrize_diagonal()
    else:
        mirror_lower(np if isinstance(out, np.ndarray) else backend.xp, out, tile)


def _add_tiles(out, FX, FY, symmetric: bool, backend, tile: int, advance) -> None:
    xp = backend.xp
    host = isinstance(out, np.ndarray)
    for pair in tile_pairs(FX.shape[0], tile, None if symmetric else FY.shape[0]):
        rows, cols = FX[pair.rows], FY[pair.cols]
        if pair.diagonal:
            cols = xp.array(cols, copy=True)  # distinct operand: no SYRK (OpenBLAS hazard)
        block = rows @ cols.T
        out[pair.rows, pair.cols] += backend.to_numpy(block) if host else block
        advance(2e-9 * rows.shape[0] * cols.shape[0] * rows.shape[1])


def _add_sq_norms(norms: np.ndarray, F, backend) -> None:
    """``norms += ||F_i||^2`` in float64, in row blocks of at most 4M entries."""
    xp = backend.xp
    step = max(1, NORM_BLOCK_ENTRIES // max(1, F.shape[1]))
    for i0 in range(0, F.shape[0], step):
        part = F[i0 : i0 + step].astype(xp.float64)
        part *= part
        norms[i0 : i0 + step] += backend.to_numpy(xp.sum(part, axis=1))


def encode_gflop(encoder, n_images: int) -> float:
    """GFLOP of the encoding GEMMs of ``n_images`` images with this encoder's filters."""
    patch_dim = encoder.patch_size**2 * encoder.image_shape[2]
    return 2e-9 * n_images * encoder.rows * encoder.cols * patch_dim * encoder.n_filters


def gram_gflop(n: int, m: int, n_features: int, symmetric: bool, tile: int = GRAM_TILE) -> float:
    """GFLOP of the Gram GEMMs: all tiles, or those on and below the diagonal if symmetric."""
    if not symmetric:
        return 2e-9 * n * m * n_features
    entries = sum(pair.shape[0] * pair.shape[1] for pair in tile_pairs(n, tile))
    return 2e-9 * entries * n_features


def _check_out(out, shape, out_dtype, backend):
    if out is None:  # on the device of the features: tiles are added where they are computed
        return backend.zeros(shape, out_dtype)
    if tuple(out.shape) != shape:
        raise ValueError(f"out must have shape {shape}; found {tuple(out.shape)}")
    out[...] = 0
    return out


def accumulate_feature_grams(
    make_encoder: Callable,
    n_filters: int,
    image_sets: list,
    products: list[tuple[int, int]],
    *,
    backend,
    dtype,
    outs: list | None = None,
    out_dtype=np.float64,
    memory_budget: int,
    n_jobs: int = 1,
    batch_size: int = 4,
    filter_chunk: int | None = None,
    checkpoint=None,
    progress=None,
) -> list[StreamedGram]:
    """Accumulate linear Grams of streamed features, filter chunk by filter chunk.

    The features of every image set are computed once per chunk and shared by all the
    requested products (e.g. the training Gram and the test-versus-training Gram).

    Parameters
    ----------
    make_encoder : callable
        ``make_encoder(start, stop)`` returns a :class:`PatchEncoder` for filters
        ``start:stop`` on ``backend`` in ``dtype``.
    n_filters : int
        Total number of filters.
    image_sets : list of ndarray of shape (n_s, H, W, C)
        Host images (uint8 or float).
    products : list of (int, int)
        ``(a, b)`` asks for ``Phi(image_sets[a]) Phi(image_sets[b])^T``; ``a == b`` is a
        symmetric Gram (lower tiles computed, then mirrored; a tile view's diagonal
        tiles are made symmetric, as it stores no upper tiles).
    backend : Backend
    dtype : dtype
        Feature and tile GEMM dtype (float32 or float64).
    outs : list of arrays or None, optional
        One destination per product (NumPy array, ``np.memmap``, device array or a
        :class:`~kernelfit.linalg.symmetric_view.SymmetricTileView` of device tiles),
        overwritten; ``None`` entries are allocated on ``backend``'s device in
        ``out_dtype``. A host destination for device features receives each tile
        by an explicit device -> host copy; a device destination keeps every tile
        on the device.
    out_dtype : dtype, default float64
        Dtype of allocated outputs.
    memory_budget : int
        Bytes allowed for everything allocated here.
    n_jobs, batch_size : int
        Encoding threads and images per encoder call.
    filter_chunk : int, optional
        Filters per chunk; the largest that fits ``memory_budget`` when None. A given
        chunk is checked against the budget too.
    checkpoint : object, optional
        Saves the state after each chunk and restores it: ``resume(filter_chunk, outs,
        norms, backend)`` fills the outputs and norms and returns the filters they hold
        (chunks before it are skipped), ``save(filters_done, outs, norms, backend)``
        after each chunk (:class:`kernelfit.streamed.checkpoint.GramCheckpoint`).
    progress : callable, optional
        Phase ``"randconv gram"`` in GFLOP (encoding plus Gram GEMMs).

    Returns
    -------
    list of StreamedGram
        One per product.
    """
    dtype = np.dtype(dtype)
    sizes = [images.shape[0] for images in image_sets]
    outs = list(outs) if outs is not None else [None] * len(products)
    probe = make_encoder(0, min(n_filters, 256))
    per_filter = 2 * probe.n_regions
    tile = min(GRAM_TILE, max(sizes))
    fixed = n_jobs * workspace_bytes(probe, batch_size)
    fixed += tile * tile * (dtype.itemsize + np.dtype(out_dtype).itemsize)
    fixed += 8 * min(NORM_BLOCK_ENTRIES, max(sizes) * per_filter * n_filters)  # norm blocks
    fixed += sum(sizes[a] * sizes[b] * np.dtype(out_dtype).itemsize
                 for (a, b), out in zip(products, outs, strict=True) if out is None)
    shapes = " and ".join(f"{sizes[a]} x {sizes[b]}" for a, b in products)
    what = (f"streaming the Gram of {shapes} images over {n_filters} filters "
            f"({per_filter} features each)")
    symmetric_any = any(a == b for a, b in products)
    rows = sum(sizes) + (tile if symmetric_any else 0)  # + the copy of a diagonal tile
    if filter_chunk is None:
        chunk = plan_filter_chunk(rows, n_filters, per_filter, dtype.itemsize, fixed,
                                  memory_budget, what)
    else:
        chunk = min(n_filters, int(filter_chunk))
        if chunk < 1:
            raise ValueError(f"filter_chunk must be >= 1; found {filter_chunk!r}")
        check_budget(fixed + rows * per_filter * chunk * dtype.itemsize, memory_budget,
                     f"{what}, in chunks of {chunk} filters")
    outs = [_check_out(out, (sizes[a], sizes[b]), out_dtype, backend)
            for (a, b), out in zip(products, outs, strict=True)]
    norms = [np.zeros(size) for size in sizes]
    done = 0 if checkpoint is None else int(checkpoint.resume(chunk, outs, norms, backend))
    xp = backend.xp
    total = encode_gflop(probe, sum(sizes)) / probe.n_filters * n_filters
    total += sum(gram_gflop(sizes[a], sizes[b], per_filter * n_filters, a == b, tile)
                 for a, b in products)
    with phase(progress, "randconv gram", total=total, unit="GFLOP") as bar:
        if done:
            bar.restore(total * min(done, n_filters) / n_filters)
        for start in range(done, n_filters, chunk):
            stop = min(n_filters, start + chunk)
            encoder = make_encoder(start, stop)
            image_gflop = encode_gflop(encoder, 1)

            def advance(count, image_gflop=image_gflop):
                bar.advance(count * image_gflop)

            features = []
            for images, norm in zip(image_sets, norms, strict=True):
                F = xp.empty((images.shape[0], (stop - start) * per_filter), dtype=dtype)
                encode_images(encoder, images, F.reshape((images.shape[0], stop - start, 2, -1)),
                              backend, n_jobs=n_jobs, batch_size=batch_size, advance=advance)
                _add_sq_norms(norm, F, backend)
                features.append(F)
            for (a, b), out in zip(products, outs, strict=True):
                _add_tiles(out, features[a], features[b], a == b, backend, tile, bar.advance)
            del features
            if checkpoint is not None:
                checkpoint.save(stop, outs, norms, backend)
    for (a, b), out in zip(products, outs, strict=True):
        if a == b:
            _make_symmetric(out, tile, backend)
    return [StreamedGram(out, norms[a], norms[b])
            for (a, b), out in zip(products, outs, strict=True)]
