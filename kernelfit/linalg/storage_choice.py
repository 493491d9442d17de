"""Where the ``n x n`` tiles live: packed in RAM, or out of core on disk.

:func:`open_tile_storage` picks the storage from the memory budget (or takes a
forced choice) and, for out-of-core storage, opens the tile file under a
scratch directory named after a fingerprint of the problem. Under a
``scratch_dir`` the user chose, a run that was interrupted or killed leaves that
directory behind, and the next run of the same problem (same data, kernel,
ridge, dtype and tile size) finds it and continues from the last finished Gram
matrix or panel; in the system temporary directory it is deleted on every exit
that Python sees (see :mod:`.scratch` for the rest). :func:`discard_tile_storage`
removes it once the fit has succeeded.

:func:`open_kept_kernel` places the float64 copy of ``K`` that mixed precision
refines against: packed in RAM beside the float32 factor when both fit the
budget, else in a file on disk (each refinement step then streams it once,
seconds, instead of recomputing every kernel block from the data, a minute at
n = 60,000 here).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np

from ..memory import check_budget, format_bytes
from .out_of_core import OutOfCoreStorage
from .scratch import claim_scratch_dir, new_scratch_dir
from .storage import PackedStorage, TileStorage, default_tile_size

__all__ = ["KEEP_KERNEL", "STORAGES", "OpenedStorage", "TeeTiles", "discard_tile_storage",
           "open_kept_kernel", "open_tile_storage", "problem_fingerprint"]

#: Accepted values of the ``storage`` option.
STORAGES = ("auto", "packed", "out-of-core")

#: Accepted values of the ``keep_kernel`` option.
KEEP_KERNEL = ("auto", "memory", "disk", False)


@dataclass
class OpenedStorage:
    """A tile storage ready for the Gram builder, and what was found on disk.

    Attributes
    ----------
    storage : TileStorage
    directory : str or None
        The out-of-core scratch directory (None for packed storage).
    gram_done : bool
        The Gram matrix is already complete (a resumed run skips building it).
    panels_done : int
        Factorized panels found on disk (0 for a fresh or packed storage).
    budget_left : int or None
        For a kept kernel: bytes of the memory budget left for the factor.
    keep : bool
        The out-of-core directory is under a scratch directory the user chose,
        so an interrupted run leaves it to be resumed; otherwise it is deleted
        on every exit.
    """

    storage: TileStorage
    directory: str | None = None
    gram_done: bool = False
    panels_done: int = 0
    budget_left: int | None = None
    keep: bool = False


def problem_fingerprint(X, kernel, reg: float, dtype, tile_size: int) -> str:
    """A sha256 naming the matrix ``K(X, X) + reg I`` as stored (data, kernel, dtype, tiles)."""
    digest = hashlib.sha256()
    X = np.ascontiguousarray(X)
    digest.update(repr((X.shape, X.dtype.str, kernel, float(reg), np.dtype(dtype).str,
                        int(tile_size))).encode())
    digest.update(memoryview(X).cast("B"))
    return digest.hexdigest()


def open_tile_storage(X, kernel, reg, dtype, backend, *, storage="auto", tile_size=None,
                      memory_budget=None, scratch_dir=None) -> OpenedStorage:
    """Allocate (or reopen) the tiles of ``K(X, X) + reg I``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Host data (fingerprinted for out-of-core resume).
    kernel : Kernel
    reg : float
    dtype : {float32, float64}
    backend : Backend
    storage : {"auto", "packed", "out-of-core"}, default "auto"
        ``"auto"``: packed lower tiles in RAM when they fit ``memory_budget``,
        otherwise out-of-core tiles (CPU only).
    tile_size : int, optional
    memory_budget : int or str, optional
        RAM allowed for the tiles (packed) or the working set (out-of-core).
    scratch_dir : str or path, optional
        Parent of the out-of-core directory; the system temporary directory
        when None. Tiles under a given ``scratch_dir`` are kept when a run is
        interrupted, for the same call to resume; tiles in the system temporary
        directory are not.

    Returns
    -------
    OpenedStorage

    Raises
    ------
    ValueError
        For an unknown ``storage``, or out-of-core storage on a GPU backend.
    MemoryBudgetError
        If packed storage is forced and does not fit, or not even the
        out-of-core working set fits.
    OSError
        If the scratch directory cannot hold the tiles.
    """
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {', '.join(map(repr, STORAGES))}; "
                         f"found {storage!r}")
    n = X.shape[0]
    tile = min(tile_size or default_tile_size(n, backend), n)
    budget = backend.memory_budget(memory_budget)  # of the device the tiles live on
    if storage == "auto":
        fits = PackedStorage.nbytes_for(n, tile, dtype) <= budget
        storage = "packed" if fits or not backend.is_host else "out-of-core"
    if storage == "packed":
        return OpenedStorage(PackedStorage(n, tile, dtype, backend, budget))
    if not backend.is_host:
        raise ValueError(f"out-of-core storage runs on the CPU; found device {backend.device!r}")
    fingerprint = problem_fingerprint(X, kernel, reg, dtype, tile)
    parent = _scratch_parent(scratch_dir, "the out-of-core tiles")
    directory = os.path.join(parent, f"kernelfit-tiles-{fingerprint[:16]}")
    st = OutOfCoreStorage(n, directory, tile, dtype, memory_budget=budget, resume=True,
                          fingerprint=fingerprint)
    keep = scratch_dir is not None
    claim_scratch_dir(directory, keep=keep)
    return OpenedStorage(st, directory, st.gram_done, st.panels_done, keep=keep)


def open_kept_kernel(n, backend, *, keep="auto", tile_size=None, memory_budget=None,
                     scratch_dir=None):
    """Storage for a float64 ``K`` kept beside a float32 factor, or None.

    Parameters
    ----------
    n : int
    backend : Backend
    keep : {"auto", "memory", "disk", False}, default "auto"
        ``"auto"``: packed in RAM when ``K`` (float64) and the factor (float32)
        both fit ``memory_budget``, else a file under ``scratch_dir`` when the
        factor and a two-column working set fit and the disk has room, else
        None (refinement recomputes ``K`` from the data). ``"memory"`` and
        ``"disk"`` force a place and raise when it cannot hold ``K``.
    tile_size : int, optional
    memory_budget : int or str, optional
        RAM for the factor and (in memory) ``K``.
    scratch_dir : str or path, optional
        Parent of the on-disk copy (the system temporary directory when None).

    Returns
    -------
    OpenedStorage or None
        ``directory`` is set for the on-disk copy (deleted by
        :func:`discard_tile_storage`).

    Raises
    ------
    ValueError
        For an unknown ``keep``.
    MemoryBudgetError
        If ``keep="memory"`` and ``K`` and the factor do not both fit.
    OSError
        If ``keep="disk"`` and the scratch directory has no room for ``K``.
    """
    if keep not in KEEP_KERNEL or keep is True:
        raise ValueError(f"keep_kernel must be one of {', '.join(map(repr, KEEP_KERNEL))}; "
                         f"found {keep!r}")
    if keep is False:
        return None
    tile = min(tile_size or default_tile_size(n, backend), n)
    need64 = PackedStorage.nbytes_for(n, tile, np.float64)
    need32 = PackedStorage.nbytes_for(n, tile, np.float32)
    budget = backend.memory_budget(memory_budget)  # of the device the tiles live on
    if keep == "memory" or (keep == "auto" and need64 + need32 <= budget):
        check_budget(need64 + need32, budget,
                     f"a {n} x {n} float64 kernel kept beside its float32 factor",
                     "raise the memory budget (--memory-budget) or keep the float64 kernel "
                     "on disk (keep_kernel='disk' or 'auto')")
        return OpenedStorage(PackedStorage(n, tile, np.float64, backend, budget),
                             budget_left=budget - need64)
    working = 2 * n * tile * 8
    if not backend.is_host:
        if keep == "auto":
            return None
        raise ValueError(f"a kernel kept on disk needs the CPU; found device {backend.device!r}")
    if keep == "auto" and need32 + working > budget:
        return None
    parent = _scratch_parent(scratch_dir, "the float64 copy of K")
    if keep == "auto" and shutil.disk_usage(parent).free <= 1.1 * need64:
        return None
    directory = new_scratch_dir(parent, "kernelfit-kernel-")
    try:
        st = OutOfCoreStorage(n, directory, tile, np.float64, memory_budget=max(
            budget - need32, working))
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return OpenedStorage(st, directory, budget_left=budget)


def _scratch_parent(scratch_dir, what: str) -> str:
    """The directory under which ``what`` is written: ``scratch_dir`` (created if
    missing) or the system temporary directory."""
    if scratch_dir is None:
        return tempfile.gettempdir()
    parent = os.fspath(scratch_dir)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot create the scratch directory for {what} "
                                   f"({exc.strerror}); choose another with scratch_dir / "
                                   "--scratch-dir", parent) from exc
    return parent


class TeeTiles:
    """Gram-builder target writing each block to two storages (e.g. float64 ``K`` and float32).

    One pass over the kernel blocks fills both, so a kept float64 ``K`` on disk
    is never read back to make the float32 copy.

    Parameters
    ----------
    first, second : TileStorage
        Same ``n`` and tile size.
    """

    def __init__(self, first, second):
        if (first.n, first.tile_size) != (second.n, second.tile_size):
            raise ValueError(f"tee targets differ: n, tile = {(first.n, first.tile_size)} "
                             f"and {(second.n, second.tile_size)}")
        self.first, self.second = first, second
        self.n, self.tile_size, self.nt = first.n, first.tile_size, first.nt

    def write_block(self, i, j, block):
        """Write ``block`` as tile ``(i, j)`` of both storages (each in its own dtype)."""
        self.first.write_block(i, j, self._cast(block, self.first))
        self.second.write_block(i, j, self._cast(block, self.second))

    def fill_block(self, i, j, compute):
        """Compute tile ``(i, j)`` into the first storage and copy it to the second.

        ``compute(out, copy_to=None)`` (:func:`kernelfit.gram_builder.gram`'s blocks).
        On the host the copy is made by the block itself (``copy_to``): the NumPy
        gaussian writes it chunk by chunk while each chunk is in cache, on the
        block's threads, which also share the first touch of the second storage's
        fresh pages (a cost this machine's virtual memory makes large: about 1-2 s
        per GB from one thread, half that from two).
        """
        if self.first.backend.is_host and self.second.backend.is_host:
            target = self.second.tile(i, j)  # a view in packed tiles; else a copy, stored
            self.first.fill_block(i, j, lambda out: compute(out, copy_to=target))
            self.second.store(i, j, target)
            return
        self.first.fill_block(i, j, compute)
        self.second.write_block(i, j, self._cast(self.first.tile(i, j), self.second))

    @staticmethod
    def _cast(block, storage):
        """``block`` in ``storage``'s dtype, cast explicitly (array-API arrays refuse to
        assign across dtypes); one tile-sized temporary at most. NumPy tiles cast on
        assignment, with no temporary."""
        if storage.backend.is_host and isinstance(block, np.ndarray):
            return block
        return storage.backend.astype(block, storage.dtype)


def discard_tile_storage(opened: OpenedStorage) -> None:
    """Release the storage; an out-of-core directory is deleted (the fit succeeded)."""
    opened.storage.close()
    if opened.directory is not None:
        shutil.rmtree(opened.directory, ignore_errors=True)


def describe(opened: OpenedStorage) -> str:
    """One line for reports, e.g. ``out-of-core (40 GB in /tmp/...)``."""
    st = opened.storage
    if opened.directory is None:
        return st.kind
    return f"{st.kind} ({format_bytes(st.nbytes)} in {opened.directory})"
