"""Storage for a symmetric matrix split into square tiles.

The tiled Cholesky reads and writes tiles ``(i, j)``, ``i >= j``, through one
small interface, so the same driver runs on:

* :class:`DenseStorage` -- an existing ``n x n`` array (NumPy, memmap, CuPy),
  factorized in place; tiles are copied to column-major work buffers;
* :class:`PackedStorage` -- lower tiles only, each its own column-major array
  (about ``n^2 / 2`` numbers), used by the Gram builder with no dense
  intermediate.

A storage also answers :meth:`TileStorage.nbytes_for` before anything is
allocated, so budgets are checked first.
"""

from __future__ import annotations

import numpy as np

from ..backend import Backend, numpy_dtype, resolve_device
from ..memory import check_budget

__all__ = ["DenseStorage", "PackedStorage", "TileStorage", "default_tile_size"]

#: Default tile edge on the CPU: BLAS-3 on 2048-tiles runs within ~10% of GEMM speed here.
DEFAULT_TILE = 2048


def default_tile_size(n: int, backend: Backend | None = None) -> int:
    """Tile edge for an ``n x n`` matrix, with tiles of near-equal size.

    At most ``backend.max_tile`` (2048 on the CPU, 8192 on a GPU, where each
    cuBLAS call needs more work to fill the device), so 60,000 gives 30 tiles
    of 2,000 on the CPU and 8 of 7,500 on a GPU; the packed lower tiles waste nothing.
    """
    largest = backend.max_tile if backend is not None else DEFAULT_TILE
    nt = -(-max(1, n) // largest)
    return max(1, -(-n // nt))


class TileStorage:
    """Base class: an ``n x n`` symmetric matrix as ``nt x nt`` tiles of edge ``tile_size``.

    Subclasses implement :meth:`tile`, :meth:`store` and :meth:`write_block`.
    Only tiles on or below the diagonal are ever used.
    """

    kind = "abstract"

    def __init__(self, n: int, tile_size: int, dtype, backend: Backend):
        if n < 1:
            raise ValueError(f"n must be >= 1; found {n}")
        if tile_size < 1:
            raise ValueError(f"tile_size must be >= 1; found {tile_size}")
        self.n = int(n)
        self.tile_size = int(min(tile_size, n))
        self.dtype = numpy_dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"tile storage holds float32 or float64; found {self.dtype}")
        self.backend = backend
        self.nt = -(-self.n // self.tile_size)

    def bounds(self, i: int) -> slice:
        """Global row/column range of tile index ``i``."""
        return slice(i * self.tile_size, min((i + 1) * self.tile_size, self.n))

    def tile(self, i: int, j: int):
        """A column-major array holding tile ``(i, j)``, safe to modify in place."""
        raise NotImplementedError

    def store(self, i: int, j: int, array) -> None:
        """Write back tile ``(i, j)`` after it was modified (may be a no-op)."""
        raise NotImplementedError

    def write_block(self, i: int, j: int, block) -> None:
        """Set tile ``(i, j)`` from a freshly computed block (Gram builder)."""
        raise NotImplementedError

    def fill_block(self, i: int, j: int, compute) -> None:
        """Set tile ``(i, j)`` to ``compute(out)``, letting it write into the tile itself.

        ``compute(out)`` evaluates the block into ``out`` and returns it; given
        ``out=None`` it returns a new array. Storages whose tiles are plain
        arrays pass the tile, so the block is computed in place, with no
        temporary and no copy (see :meth:`Kernel.__call__
        <kernelfit.kernels.Kernel.__call__>`); the default computes a block and
        calls :meth:`write_block`.
        """
        self.write_block(i, j, compute(None))

    def add_to_diagonal(self, value: float) -> None:
        """Add ``value`` to every diagonal entry (ridge regularization)."""
        for i in range(self.nt):
            self.store(i, i, self.backend.add_to_diagonal(self.tile(i, i), value))

    def diagonal(self):
        """The diagonal as a NumPy float64 vector."""
        out = np.empty(self.n)
        for i in range(self.nt):
            out[self.bounds(i)] = self.backend.to_numpy(self.tile(i, i)).diagonal()
        return out

    def to_dense(self, lower_only: bool = False) -> np.ndarray:
        """Assemble a dense NumPy copy (for tests and small problems)."""
        out = np.zeros((self.n, self.n), dtype=self.dtype)
        for i in range(self.nt):
            for j in range(i + 1):
                t = self.backend.to_numpy(self.tile(i, j))
                out[self.bounds(i), self.bounds(j)] = t
                if not lower_only and i != j:
                    out[self.bounds(j), self.bounds(i)] = t.T
        if lower_only:
            out = np.tril(out)
        return out

    def close(self) -> None:
        """Release resources held by the storage."""


class PackedStorage(TileStorage):
    """Lower tiles only, each a separate column-major array in memory.

    Parameters
    ----------
    n : int
        Matrix order.
    tile_size : int, optional
        Tile edge (:func:`default_tile_size` when None).
    dtype : {float32, float64}
    device : {"auto", "cpu", "cuda"} or Backend
    memory_budget : int or str, optional
        Checked against :meth:`nbytes_for` before any tile is allocated;
        defaults to a share of the free memory of the backend's device.
    """

    kind = "packed"

    def __init__(self, n, tile_size=None, dtype=np.float64, device="cpu", memory_budget=None):
        backend = resolve_device(device)
        super().__init__(n, tile_size or default_tile_size(n, backend), dtype, backend)
        check_budget(
            self.nbytes_for(self.n, self.tile_size, self.dtype),
            backend.memory_budget(memory_budget),
            f"packed lower tiles of a {self.n} x {self.n} {self.dtype} matrix "
            f"on {backend.device}",
            "raise the memory budget (--memory-budget), "
            + ("use float32 tiles (--dtype float32 or mixed), " if self.dtype.itemsize > 4
               else "")
            + "or keep the tiles on disk (--storage out-of-core, on the CPU)",
        )
        self._tiles = {}
        for i in range(self.nt):
            for j in range(i + 1):
                shape = (self._len(i), self._len(j))
                self._tiles[i, j] = backend.empty(shape, self.dtype, fortran=True)

    def _len(self, i: int) -> int:
        s = self.bounds(i)
        return s.stop - s.start

    @staticmethod
    def nbytes_for(n: int, tile_size: int, dtype) -> int:
        """Bytes the lower tiles of an ``n x n`` matrix occupy."""
        b = min(tile_size, n)
        nt = -(-n // b)
        full = nt * (nt + 1) // 2 * b * b
        return int(full * np.dtype(dtype).itemsize)

    def tile(self, i, j):
        return self._tiles[i, j]

    def store(self, i, j, array):
        if array is not self._tiles[i, j]:
            self._tiles[i, j][...] = array

    def write_block(self, i, j, block):
        self._tiles[i, j][...] = block

    def fill_block(self, i, j, compute):
        compute(self._tiles[i, j])

    def close(self):
        self._tiles.clear()


class DenseStorage(TileStorage):
    """Tiles are views of an existing ``n x n`` array (NumPy, memmap or CuPy).

    The array is overwritten by the factorization (its lower triangle holds
    ``L``); tiles are copied to column-major work buffers for BLAS, which
    costs ``O(n^2)`` memory traffic per panel step but no second ``n x n`` copy.
    """

    kind = "dense"

    def __init__(self, array, tile_size=None, backend=None):
        if array.ndim != 2 or array.shape[0] != array.shape[1]:
            raise ValueError(f"K must be a square 2-D array; found shape {tuple(array.shape)}")
        from ..backend import backend_for

        backend = backend or backend_for(array)
        super().__init__(array.shape[0],
                         tile_size or default_tile_size(array.shape[0], backend),
                         array.dtype, backend)
        self.array = array

    @staticmethod
    def nbytes_for(n: int, tile_size: int, dtype) -> int:
        """Bytes of a dense ``n x n`` matrix."""
        return int(n * n * np.dtype(dtype).itemsize)

    def tile(self, i, j):
        return self.backend.copy(self.array[self.bounds(i), self.bounds(j)], fortran=True)

    def store(self, i, j, array):
        self.array[self.bounds(i), self.bounds(j)] = array

    def write_block(self, i, j, block):
        self.array[self.bounds(i), self.bounds(j)] = block
        if i != j:
            self.array[self.bounds(j), self.bounds(i)] = block.T
