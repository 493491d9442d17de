r"""Memory model of the streamed features -> Gram -> exact solve path, checked up front.

With ``n`` training and ``m`` test images, tile edge ``t`` (``n_t = ceil(n / t)``
tiles a side) and storage itemsize ``s`` (4 for ``"float32"`` and ``"mixed"``,
8 for ``"float64"``):

* ``P = n_t (n_t + 1) / 2 * t^2 * s``: the packed lower tiles of the training
  matrix (linear Gram, then Gaussian ``K``, then its Cholesky factor ``L``);
* ``C = m n s``: the dense test-versus-training Gram on the host;
* ``W = 2 t^2 * 8 + 32 MiB``: float64 work buffers (one upcast tile, one row
  block of the cross Gram).

The fitted filters and standardization statistics (about ``n_filters (3 d + 1 + 8 R)
* 8`` bytes, :func:`kernelfit.features.conv_layout.filter_memory`) stay resident
throughout, and the accumulation needs room for one filter's features at least.
Several ridge terms (:func:`~kernelfit.streamed.solve_streamed_regs`) factor fresh
copies of the kept ``K`` one after the other: no more than one solve.

Phases, in order: the filter-chunk accumulation holds ``P + C`` and the
features of one chunk for all ``n + m`` images, sized to at most
``max(P, 1 GiB)``; the solve holds ``P`` (factor) + ``P`` (a packed copy of
``K`` for honest residuals) + ``C``. The chunk reuses the room the copy of
``K`` takes later, so the peak is ``2 P + C + W`` whenever ``P >= 1 GiB``
(plus the images themselves: 154 MB for 50,000 CIFAR-10 images in uint8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..features.conv_layout import filter_memory
from ..linalg import PackedStorage
from ..memory import check_budget, format_bytes

__all__ = ["KEEP_KERNEL", "MIN_FEATURE_BUDGET", "StreamedMemoryPlan", "filter_cost",
           "plan_streamed_memory"]

#: Places for the copy of ``K`` kept beside its factor.
KEEP_KERNEL = ("memory", "disk", "auto")
#: Floor of the feature-chunk budget, so small problems still encode many filters at once.
MIN_FEATURE_BUDGET = 1 << 30
#: Float64 row block of the cross Gram used for predictions (entries).
CROSS_BLOCK_ENTRIES = 1 << 22


@dataclass(frozen=True)
class StreamedMemoryPlan:
    """Bytes of each resident array of the streamed solve.

    Attributes
    ----------
    budget : int
        The whole budget.
    packed : int
        ``P``: one packed lower-tile copy of the ``n x n`` matrix.
    cross : int
        ``C``: the ``m x n`` cross Gram.
    work : int
        ``W``: float64 work buffers.
    feature_budget : int
        Bytes given to the filter-chunk accumulation (features of a chunk, encoder
        workspaces, Gram tiles).
    kept : {"memory", "disk"}
        Where the copy of ``K`` kept for residuals and further solves lives.
    working : int
        RAM of the on-disk copy's working set (two tile columns); 0 in memory.
    """

    budget: int
    packed: int
    cross: int
    work: int
    feature_budget: int
    kept: str = "memory"
    working: int = 0

    @property
    def peak(self) -> int:
        """Largest planned resident size: ``max(2 P, P + feature_budget) + C + W`` (the
        copy of ``K`` on disk: its working set instead of the second ``P``)."""
        copy = self.packed if self.kept == "memory" else self.working
        return self.packed + max(copy, self.feature_budget) + self.cross + self.work


def plan_streamed_memory(n: int, m: int, tile_size: int, dtype, budget: int, *,
                         filters: tuple[int, int, int] | None = None,
                         keep_kernel: str = "memory") -> StreamedMemoryPlan:
    """Plan the streamed solve's memory and refuse before allocating if it cannot fit.

    Parameters
    ----------
    n, m : int
        Training and test images.
    tile_size : int
        Tile edge of the packed storage.
    dtype : {float32, float64}
        Storage dtype of the training matrix, its factor and the cross Gram.
    budget : int
        Bytes allowed.
    filters : (int, int, int), optional
        ``(n_filters, fitted, per_filter)``: the filter count, the bytes of the fitted
        filters and statistics, and one filter's features for all images
        (:func:`kernelfit.features.conv_layout.filter_memory`). The fitted arrays stay
        resident; the accumulation needs room for at least one filter beside ``P + C``.
    keep_kernel : {"memory", "disk", "auto"}, default "memory"
        Where the copy of ``K`` lives: packed in RAM (``2 P``), or in a file with a
        working set of two tile columns, ``2 n t s`` (``"auto"``: RAM when it fits,
        else whichever needs less).

    Returns
    -------
    StreamedMemoryPlan

    Raises
    ------
    MemoryBudgetError
        If ``max(2 P, P + one filter) + C + W`` plus the fitted filters (the copy of
        ``K`` on disk: its working set instead of ``P``) exceeds ``budget``; the message
        gives both numbers (and the filter count).
    ValueError
        An unknown ``keep_kernel``.
    """
    if keep_kernel not in KEEP_KERNEL:
        raise ValueError(f"keep_kernel must be one of {KEEP_KERNEL}; found {keep_kernel!r}")
    itemsize = np.dtype(dtype).itemsize
    tile = min(int(tile_size), n)
    packed = PackedStorage.nbytes_for(n, tile, dtype)
    cross = m * n * itemsize
    work = 2 * tile * tile * 8 + CROSS_BLOCK_ENTRIES * 8
    n_filters, fitted, per_filter = filters if filters is not None else (0, 0, 0)
    working = 2 * n * tile * itemsize
    kept = keep_kernel
    if kept == "auto":  # RAM when it fits; else the smaller need (refused if too large)
        in_ram = max(2 * packed, packed + per_filter) + cross + work + fitted
        on_disk = packed + max(working, per_filter) + cross + work + fitted
        kept = "memory" if in_ram <= budget or in_ram <= on_disk else "disk"
    copy = (f"packed K and its factor 2 x {format_bytes(packed)}" if kept == "memory" else
            f"packed K {format_bytes(packed)}, its copy on disk with a working set of "
            f"{format_bytes(working)}")
    what = (f"the streamed exact solve of {n} training and {m} test points "
            f"({np.dtype(dtype).name}: {copy}, the cross Gram {format_bytes(cross)}, work "
            f"buffers {format_bytes(work)}")
    if filters is not None:
        what += (f"; {n_filters:,} filters: fitted filters and statistics "
                 f"{format_bytes(fitted)}, one filter's features for all images "
                 f"{format_bytes(per_filter)}")
    held = packed if kept == "memory" else working
    check_budget(packed + max(held, per_filter) + cross + work + fitted, budget, what + ")")
    feature_budget = min(budget - packed - cross - work - fitted,
                         max(packed, MIN_FEATURE_BUDGET))
    return StreamedMemoryPlan(budget, packed, cross, work, int(feature_budget), kept,
                              working if kept == "disk" else 0)


def filter_cost(feature_map, X_train, n_rows: int):
    """``(n_filters, fitted bytes, one filter's features)`` for :func:`plan_streamed_memory`.

    From the parameters of ``feature_map`` (a :class:`~kernelfit.features.RandomConvFeatures`)
    and the image shape of ``X_train``; None when flat rows come without ``image_shape``.
    """
    shape = np.shape(X_train)[1:]
    shape = (*shape, 1) if len(shape) == 2 else shape
    if len(shape) != 3:  # flat rows: the feature map's image_shape says how to unflatten
        shape = feature_map.get_params()["image_shape"]
    if shape is None:
        return None  # refused by the feature map's own checks when it sees the data
    fitted, per_filter = filter_memory(feature_map, shape, n_rows)
    return int(feature_map.get_params()["n_filters"]), fitted, per_filter
