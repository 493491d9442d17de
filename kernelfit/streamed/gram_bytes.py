"""The raw bytes of an accumulated Gram, as a checkpoint's state file holds them.

A symmetric Gram held in packed tiles (a
:class:`~kernelfit.linalg.symmetric_view.SymmetricTileView`) is written as its lower
tiles in storage order (:func:`kernelfit.tile_walk.tile_pairs`), each tile's rows one
after the other; a dense array (NumPy, ``np.memmap`` or on a device) as its rows, in
blocks of at most :data:`BLOCK_BYTES`. Device arrays are copied explicitly through the
backend, one tile or row block at a time. :mod:`kernelfit.streamed.checkpoint` uses
both functions for its ``gram-<filters done>.bin`` files, whose size
:func:`state_file_bytes` gives beforehand (for the disk checks of ``kernelfit reproduce``).
"""

from __future__ import annotations

import numpy as np

from ..tile_walk import tile_pairs

__all__ = ["BLOCK_BYTES", "read_gram_bytes", "state_file_bytes", "write_gram_bytes"]

#: Bytes written or read at a time for dense outputs.
BLOCK_BYTES = 64 << 20


def _lower_tiles(out):
    """The lower tiles of a ``SymmetricTileView`` in storage order, or None."""
    storage = getattr(out, "storage", None)
    if storage is None:
        return None
    return tile_pairs(storage.n, storage.tile_size)


def _row_step(out) -> int:
    row_bytes = max(1, int(np.prod(out.shape[1:])) * np.dtype(out.dtype).itemsize)
    return max(1, BLOCK_BYTES // row_bytes)


def write_gram_bytes(handle, out, backend) -> None:
    """Write ``out`` to the binary file ``handle``.

    Parameters
    ----------
    handle : binary file
    out : SymmetricTileView or 2-D array
        A tile view writes its lower tiles only.
    backend : Backend
        Where ``out`` lives.
    """
    tiles = _lower_tiles(out)
    if tiles is not None:
        for pair in tiles:
            tile = out.storage.tile(pair.i, pair.j)
            handle.write(np.ascontiguousarray(backend.to_numpy(tile)).data)
        return
    step = _row_step(out)
    for r0 in range(0, out.shape[0], step):
        handle.write(np.ascontiguousarray(backend.to_numpy(out[r0 : r0 + step])).data)


def read_gram_bytes(handle, out, backend) -> None:
    """Fill ``out`` from the binary file ``handle``, as :func:`write_gram_bytes` wrote it.

    Parameters
    ----------
    handle : binary file
    out : SymmetricTileView or 2-D array
        Of the shape, dtype and tile size it was written with.
    backend : Backend
        Where ``out`` lives.
    """
    tiles = _lower_tiles(out)
    if tiles is not None:
        storage = out.storage
        for pair in tiles:
            block = np.empty(pair.shape, storage.dtype)
            handle.readinto(memoryview(block).cast("B"))
            storage.store(pair.i, pair.j, backend.asarray(block))
        return
    step = _row_step(out)
    for r0 in range(0, out.shape[0], step):
        block = np.empty((min(step, out.shape[0] - r0), *out.shape[1:]), out.dtype)
        handle.readinto(memoryview(block).cast("B"))
        out[r0 : r0 + step] = backend.asarray(block) if not isinstance(out, np.ndarray) else block


def state_file_bytes(n: int, m: int, tile: int, itemsize: int) -> int:
    """Bytes of one checkpoint state file, known before any Gram is accumulated.

    Parameters
    ----------
    n, m : int
        Training and test images.
    tile : int
        Edge of the training Gram's tiles.
    itemsize : int
        Bytes per Gram entry (4 for float32).

    Returns
    -------
    int
        The training Gram's lower tiles and the ``m x n`` cross Gram at ``itemsize``
        bytes an entry, then the ``n + m`` squared feature norms in float64.
    """
    lower = sum(pair.shape[0] * pair.shape[1] for pair in tile_pairs(int(n), int(tile)))
    return (lower + int(m) * int(n)) * int(itemsize) + (int(n) + int(m)) * 8
