"""Gram sources on one machine: what :func:`~kernelfit.solvers.solve_kernel_system` solves.

A Gram source knows ``n`` and

* ``open(reg, dtype, *, mixed, progress)``: fills the tiles of ``K + reg I`` and
  returns an opened system (below);
* ``kernel_product(progress=None, phase_name=...)``: a callable ``V -> K @ V`` in
  float64, for the residual;
* ``dense_kernel(exc)`` and ``fallback_budget``: a dense float64 ``K`` for the LU
  fallback after the Cholesky failed with ``exc``, and the budget of that solve.

An opened system holds the tiles and offers ``factorize(progress)``, ``synchronize()``,
``solve(Y, progress)`` (float64), ``correction`` and ``refine_product(progress)``
for :func:`~kernelfit.solvers.mixed.refine`, ``residuals_from``, ``description``,
``fill_phase``, ``resumed_panels`` and ``release(finished)`` (idempotent).

:class:`KernelGramSource` is data plus a :class:`~kernelfit.kernels.Kernel` (packed
or out-of-core tiles, with a kept float64 ``K`` for mixed precision);
:class:`StoredGramSource` is ``K`` already in tiles (accumulated from streamed
features). The Dask tile graph is :class:`kernelfit.distributed.gram_source.DaskGramSource`.
"""

from __future__ import annotations

import numpy as np

from ..backend import resolve_device
from ..gram_builder import gram, symmetric_matvec
from ..linalg import PackedStorage, cholesky_solve, tiled_cholesky
from ..linalg.storage_choice import (
    OpenedStorage,
    TeeTiles,
    describe,
    discard_tile_storage,
    open_kept_kernel,
    open_tile_storage,
)
from ..linalg.symmetric_view import SymmetricTileView
from ..linalg.tile_matvec import tile_symmetric_matvec
from ..memory import check_budget
from .mixed import tile_correction

__all__ = ["KernelGramSource", "StoredGramSource"]

#: Smallest budget given to the kernel blocks of a matrix-free product while the tiles
#: hold the rest (a block of about 450 x 450 float64 numbers and its temporaries).
MIN_BLOCK_BUDGET = 8 << 20


def _resumable(opened) -> bool:
    """Out-of-core tiles under a scratch directory the user chose, kept to resume."""
    return bool(getattr(opened, "keep", False))


class _TileSystem:
    """Opened tiles of ``K + reg I`` on one machine, with an optional product by ``K``.

    Parameters
    ----------
    opened : OpenedStorage
        The tiles to factorize (possibly resumed from disk).
    product : callable
        ``product(progress, phase_name)`` returns ``V -> K @ V`` in float64.
    residuals_from : str
        What ``product`` reads: ``"data"`` or ``"stored kernel"``.
    kept : OpenedStorage, optional
        A float64 copy of ``K`` discarded with the tiles.
    """

    def __init__(self, opened, product, residuals_from, kept=None):
        self.opened, self.kept = opened, kept
        self.storage = opened.storage
        self._product, self.residuals_from = product, residuals_from
        self.fill_phase = "gram"
        self.resumed_panels = opened.panels_done
        self.description = describe(opened) + ("" if kept is None else
                                               " + float64 copy of K " + (
            "in memory" if kept.directory is None else "on disk"))
        self.correction = tile_correction(self.storage)
        self._released = False

    def synchronize(self):
        """Wait for the device to finish queued work (before a phase time is read)."""
        self.storage.backend.synchronize()

    def factorize(self, progress=None):
        tiled_cholesky(self.storage, progress=progress, start_panel=self.opened.panels_done)

    def solve(self, Y, progress=None):
        backend = self.storage.backend
        return backend.to_numpy(cholesky_solve(self.storage, backend.asarray(Y),
                                               progress=progress))

    def refine_product(self, progress=None):
        return self._product(progress, "refine")

    def release(self, finished):
        """Free the tiles; out-of-core ones are deleted only when ``finished``."""
        if self._released:
            return
        self._released = True
        try:
            if finished or not _resumable(self.opened):
                discard_tile_storage(self.opened)
            else:  # interrupted: tiles under a chosen scratch_dir stay for a resume
                self.storage.close()
        finally:
            if self.kept is not None:
                discard_tile_storage(self.kept)


class KernelGramSource:
    """``K(X, X)`` from data and a kernel, filled tile by tile by :func:`kernelfit.gram`.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Host data (the out-of-core fingerprint reads it).
    kernel : Kernel
        With its bandwidth resolved.
    device : {"auto", "cpu", "cuda"} or Backend, default "auto"
    storage : {"auto", "packed", "out-of-core"}, default "auto"
        See :func:`kernelfit.linalg.storage_choice.open_tile_storage`.
    tile_size : int, optional
    memory_budget : int or str, optional
        For the tiles, the kept ``K`` and the dense fallback.
    scratch_dir : str or path, optional
        Parent of out-of-core tiles and of a kept ``K`` on disk.
    keep_kernel : {"auto", "memory", "disk", False}, default "auto"
        Mixed precision only: keep a float64 ``K`` beside the float32 factor
        (:func:`~kernelfit.linalg.storage_choice.open_kept_kernel`) so that each
        refinement step reads it instead of recomputing kernel blocks.
    """

    def __init__(self, X, kernel, *, device="auto", storage="auto", tile_size=None,
                 memory_budget=None, scratch_dir=None, keep_kernel="auto"):
        self.X, self.kernel = X, kernel
        self.backend = resolve_device(device)  # resolved once; only the Backend goes below
        self.storage, self.tile_size = storage, tile_size
        self.memory_budget, self.scratch_dir = memory_budget, scratch_dir
        self.keep_kernel = keep_kernel
        self.fallback_budget = memory_budget
        self._Xb = None

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def data(self):
        """``X`` on the device (copied once)."""
        if self._Xb is None:
            self._Xb = self.backend.asarray(self.X)
        return self._Xb

    def kernel_product(self, progress=None, phase_name="matvec", memory_budget=None):
        """``V -> K @ V`` in float64, matrix-free from the data (NumPy result).

        Its kernel blocks are sized from ``memory_budget``: by default the source's
        budget (after the tiles are freed, for the residual); during the refinement, what
        the tiles leave of it (:meth:`_budget_left`).
        """
        budget = self.memory_budget if memory_budget is None else memory_budget

        def product(V):
            return np.asarray(self.backend.to_numpy(symmetric_matvec(
                self.data, V, self.kernel, device=self.backend, memory_budget=budget,
                progress=progress, phase_name=phase_name)))
        return product

    def _budget_left(self, storage) -> int:
        """Bytes of the budget the tiles leave (their working set out of core), at least
        :data:`MIN_BLOCK_BUDGET`."""
        held = (storage.working_set_bytes() if hasattr(storage, "working_set_bytes")
                else storage.nbytes_for(storage.n, storage.tile_size, storage.dtype))
        return max(self.backend.memory_budget(self.memory_budget) - held, MIN_BLOCK_BUDGET)

    def dense_kernel(self, exc):
        """``K`` as a dense float64 array on the device (budget checked by
        :func:`kernelfit.gram`); the LU fallback copies it to the host."""
        return gram(self.data, kernel=self.kernel, dtype=np.float64, device=self.backend,
                    memory_budget=self.memory_budget)

    def open(self, reg, dtype, *, mixed=False, progress=None):
        """Fill the tiles of ``K + reg I`` (and, mixed, a kept float64 ``K``)."""
        kept = None
        if mixed and self.storage != "out-of-core":
            kept = open_kept_kernel(self.n, self.backend, keep=self.keep_kernel,
                                    tile_size=self.tile_size, memory_budget=self.memory_budget,
                                    scratch_dir=self.scratch_dir)
        if kept is not None:
            try:
                factor = PackedStorage(self.n, kept.storage.tile_size, np.float32, self.backend,
                                       kept.budget_left)
                opened = OpenedStorage(factor)
                gram(self.data, kernel=self.kernel, dtype=np.float64, device=self.backend,
                     out=TeeTiles(kept.storage, factor), progress=progress)
                SymmetricTileView(kept.storage).symmetrize_diagonal()
            except BaseException:
                discard_tile_storage(kept)
                raise
            stored = kept.storage

            def product(progress, phase_name):
                return lambda V: tile_symmetric_matvec(stored, V, progress=progress,
                                                       phase_name=phase_name)
            system = _TileSystem(opened, product, "stored kernel", kept)
        else:
            opened = open_tile_storage(
                self.X, self.kernel, reg, dtype, self.backend, storage=self.storage,
                tile_size=self.tile_size, memory_budget=self.memory_budget,
                scratch_dir=self.scratch_dir)
            left = self._budget_left(opened.storage)
            system = _TileSystem(opened, lambda progress, phase_name: self.kernel_product(
                progress, phase_name, left), "data")
            if opened.gram_done:
                return system
            try:
                gram(self.data, kernel=self.kernel, dtype=dtype, device=self.backend,
                     out=opened.storage, progress=progress)
            except BaseException:
                system.release(finished=False)
                raise
        if reg:
            opened.storage.add_to_diagonal(reg)
        if opened.directory is not None:
            opened.storage.mark_gram_done()
        return system


class StoredGramSource:
    """``K`` already held in tiles (e.g. accumulated from streamed features).

    ``open`` adds ``reg`` to the diagonal of ``tiles`` and factorizes them in place;
    residuals, refinement and the fallback read ``kernel``, an unfactorized copy.

    Parameters
    ----------
    tiles : TileStorage
        ``K`` in the solve's storage dtype; overwritten by the factor and closed
        when the solve ends.
    kernel : TileStorage
        A copy of ``K`` (diagonal tiles exactly symmetric), kept by the caller.
    fallback_budget : int
        Bytes the dense float64 copy of the LU fallback may take.
    """

    def __init__(self, tiles, kernel, *, fallback_budget):
        self.tiles, self.kernel = tiles, kernel
        self.fallback_budget = fallback_budget

    @property
    def n(self) -> int:
        return self.kernel.n

    def kernel_product(self, progress=None, phase_name="matvec"):
        """``V -> K @ V`` in float64 with the stored copy."""
        return lambda V: tile_symmetric_matvec(self.kernel, V, progress=progress,
                                               phase_name=phase_name)

    def dense_kernel(self, exc):
        """A dense float64 copy of the stored ``K``, checked against ``fallback_budget``."""
        n = self.n
        check_budget(n * n * (8 + self.kernel.dtype.itemsize), self.fallback_budget,
                     f"the LU fallback after a failed Cholesky ({exc}) on a dense {n} x {n} "
                     "copy")
        return self.kernel.to_dense()

    def open(self, reg, dtype, *, mixed=False, progress=None):
        """Add ``reg`` to the diagonal of the tiles."""
        if np.dtype(dtype) != self.tiles.dtype:
            raise ValueError(f"the stored tiles are {self.tiles.dtype}; the solve asked for "
                             f"{np.dtype(dtype)}")
        if reg:
            self.tiles.add_to_diagonal(reg)
        system = _TileSystem(OpenedStorage(self.tiles),
                             lambda progress, phase_name: self.kernel_product(
                                 progress, phase_name), "stored kernel")
        system.fill_phase = None
        return system
