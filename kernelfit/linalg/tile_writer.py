"""Tiles written to a file by a background thread, so that computing never waits on the disk.

Linux lets a process dirty only so much of the page cache (``vm.dirty_ratio``, a
fifth of free memory by default) before it pauses whichever thread dirties more
pages until the disk catches up. A Gram matrix computed straight into a
memory-mapped file (the float64 ``K`` that mixed precision keeps on disk) is
therefore computed at the disk's write speed once the first few GB are out: the
BLAS threads themselves are paused in their page faults. At n = 60,000 that is
14.4 GB at the ~400 MB/s this machine's disk takes, longer than the arithmetic.

:class:`BackgroundTileWriter` moves the writes off the computing threads. A tile
is computed into one of a few reusable buffers (:meth:`~BackgroundTileWriter.buffer`),
handed over (:meth:`~BackgroundTileWriter.submit`) and written with ``pwrite`` by a
writer thread, which is the only thread the kernel pauses. The computation waits
only when all buffers are queued, so the phase takes about the longer of the
arithmetic and the disk rather than their sum.
"""

from __future__ import annotations

import os
import queue
import threading
import time

import numpy as np

__all__ = ["BackgroundTileWriter"]

#: Buffers in flight by default: one being computed, the rest queued or being written.
DEFAULT_DEPTH = 4


class BackgroundTileWriter:
    """Write tiles of an :class:`~kernelfit.linalg.out_of_core.OutOfCoreStorage` from a thread.

    Use as a context manager; leaving it waits for every write (and re-raises the
    first failed one), so that the storage's own readers see every tile.

    Parameters
    ----------
    storage : OutOfCoreStorage
        Provides ``tile_shape(i, j)``, ``tile_offset(i, j)`` and ``write_fd()``.
    depth : int, default :data:`DEFAULT_DEPTH`
        Tile buffers (``depth * tile_size**2`` numbers of the storage's dtype).
    """

    def __init__(self, storage, depth: int = DEFAULT_DEPTH):
        if int(depth) < 1:
            raise ValueError(f"depth must be at least 1 buffer; found {depth}")
        self.storage = storage
        size = storage.tile_size * storage.tile_size
        self._buffers = [np.empty(size, storage.dtype) for _ in range(int(depth))]
        self._free = queue.Queue()
        for flat in self._buffers:
            self._free.put(flat)
        self._pending = queue.Queue()
        self._error = None
        self._thread = None
        self.seconds_waited = 0.0  # how long the computation waited for a free buffer

    def __enter__(self):
        self._thread = threading.Thread(target=self._write_loop, name="kernelfit-tile-writer",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._pending.put(None)
        self._thread.join()
        self._thread = None
        if exc_type is None:
            self._raise_failure()

    def buffer(self, i: int, j: int) -> np.ndarray:
        """A free buffer shaped as tile ``(i, j)`` (column-major, as the storage lays
        tiles out); waits while every buffer is queued."""
        self._raise_failure()
        start = time.perf_counter()
        flat = self._free.get()
        self.seconds_waited += time.perf_counter() - start
        rows, cols = self.storage.tile_shape(i, j)
        return flat[: rows * cols].reshape((rows, cols), order="F")

    def submit(self, i: int, j: int, tile: np.ndarray) -> None:
        """Queue ``tile`` (a buffer from :meth:`buffer`, filled) as tile ``(i, j)``."""
        self._raise_failure()
        if (not any(tile.base is flat for flat in self._buffers) or not tile.flags.f_contiguous
                or tile.shape != self.storage.tile_shape(i, j)):
            raise ValueError(f"tile ({i}, {j}) must be the column-major "
                             f"{self.storage.tile_shape(i, j)} buffer that buffer({i}, {j}) "
                             f"gave; found shape {tile.shape}")
        self._pending.put((i, j, tile))

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"writing a tile to {self.storage.directory} failed: "
                               f"{self._error}") from self._error

    def _write_loop(self) -> None:
        fd = self.storage.write_fd()
        while (item := self._pending.get()) is not None:
            i, j, tile = item
            if self._error is None:  # after a failure, only hand the buffers back
                try:
                    data = memoryview(tile.reshape(-1, order="F")).cast("B")
                    offset = self.storage.tile_offset(i, j)
                    while data:
                        written = os.pwrite(fd, data, offset)
                        data, offset = data[written:], offset + written
                except Exception as error:  # any failure: handed to the computing thread
                    self._error = error
            self._free.put(tile.base)
