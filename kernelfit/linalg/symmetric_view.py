"""An array-style window on a symmetric matrix held in a tile storage.

:class:`SymmetricTileView` lets code written for a dense ``n x n`` destination
(``out[rows, cols] += block``, ``out[...] = 0``) write straight into the lower
tiles of a :class:`~kernelfit.linalg.TileStorage`, with no dense intermediate.
The streamed random-convolution Gram accumulation
(:func:`kernelfit.features.conv_gram.accumulate_feature_grams`) fills a packed
storage through it.

Semantics: the lower triangle is authoritative. Reading a region returns the
symmetric matrix (an upper tile is read as the transpose of its lower mirror);
writing a region updates the lower tiles and the diagonal tiles it overlaps and
ignores its parts in upper tiles. A writer that fills the lower triangle (at
least) therefore leaves the storage exact; :meth:`symmetrize_diagonal` then
copies each diagonal tile's lower triangle onto its upper one.
"""

from __future__ import annotations

import numpy as np

from ..tile_walk import symmetrize_square

__all__ = ["SymmetricTileView"]


def _span(key, n: int) -> tuple[int, int]:
    if not isinstance(key, slice) or key.step not in (None, 1):
        raise TypeError(f"SymmetricTileView takes contiguous slices; found {key!r}")
    start, stop, _ = key.indices(n)
    return start, max(start, stop)


class SymmetricTileView:
    """Dense-array indexing (contiguous 2-D slices) over the lower tiles of a storage.

    A region that is exactly one stored lower (or diagonal) tile is returned as that
    tile, not a copy, so ``view[r, c] += block`` on tile-aligned regions updates in
    place; other regions are gathered into a new array.

    Parameters
    ----------
    storage : TileStorage
        Holds (or will hold) the lower tiles of a symmetric ``n x n`` matrix.

    Attributes
    ----------
    shape : tuple of int
        ``(n, n)``.
    dtype : numpy.dtype
        The storage dtype.
    """

    def __init__(self, storage):
        self.storage = storage
        self.shape = (storage.n, storage.n)
        self.dtype = storage.dtype
        self.ndim = 2

    def _tiles(self, lo: int, hi: int):
        """``(tile index, global start, global stop)`` of the tiles meeting ``[lo, hi)``."""
        t = self.storage.tile_size
        for i in range(lo // t, -(-hi // t)):
            bounds = self.storage.bounds(i)
            yield i, max(lo, bounds.start), min(hi, bounds.stop)

    def _whole_tile(self, r0, r1, c0, c1):
        """Tile indices ``(i, j)`` if the region is exactly one tile, else None."""
        t = self.storage.tile_size
        i, j = r0 // t, c0 // t
        rows, cols = self.storage.bounds(i), self.storage.bounds(j)
        if (rows.start, rows.stop, cols.start, cols.stop) == (r0, r1, c0, c1):
            return i, j
        return None

    def _region(self, key):
        if key is Ellipsis:
            return 0, self.storage.n, 0, self.storage.n
        if not isinstance(key, tuple) or len(key) != 2:
            raise TypeError(f"SymmetricTileView takes a pair of slices or ...; found {key!r}")
        return (*_span(key[0], self.storage.n), *_span(key[1], self.storage.n))

    def __getitem__(self, key):
        r0, r1, c0, c1 = self._region(key)
        storage = self.storage
        whole = self._whole_tile(r0, r1, c0, c1)
        if whole is not None and whole[0] >= whole[1]:
            return storage.tile(*whole)  # the tile itself: in-place updates go through
        out = storage.backend.empty((r1 - r0, c1 - c0), storage.dtype)
        for i, a0, a1 in self._tiles(r0, r1):
            for j, b0, b1 in self._tiles(c0, c1):
                if i >= j:
                    rows, cols = storage.bounds(i), storage.bounds(j)
                    part = storage.tile(i, j)[a0 - rows.start : a1 - rows.start,
                                              b0 - cols.start : b1 - cols.start]
                else:
                    rows, cols = storage.bounds(j), storage.bounds(i)
                    part = storage.tile(j, i)[b0 - rows.start : b1 - rows.start,
                                              a0 - cols.start : a1 - cols.start].T
                out[a0 - r0 : a1 - r0, b0 - c0 : b1 - c0] = part
        return out

    def __setitem__(self, key, value):
        r0, r1, c0, c1 = self._region(key)
        storage = self.storage
        backend = storage.backend
        scalar = np.isscalar(value)
        if not scalar:
            value = backend.asarray(value)  # an explicit copy to the tiles' device
            if tuple(value.shape) != (r1 - r0, c1 - c0):
                raise ValueError(f"value must have shape {(r1 - r0, c1 - c0)}; found "
                                 f"{tuple(value.shape)}")
        for i, a0, a1 in self._tiles(r0, r1):
            for j, b0, b1 in self._tiles(c0, c1):
                if i < j:
                    continue  # upper tiles are not stored: the lower mirror is authoritative
                tile = storage.tile(i, j)
                if tile is value:
                    continue  # an in-place update of the tile returned by __getitem__
                rows, cols = storage.bounds(i), storage.bounds(j)
                target = (slice(a0 - rows.start, a1 - rows.start),
                          slice(b0 - cols.start, b1 - cols.start))
                tile[target] = value if scalar else value[a0 - r0 : a1 - r0, b0 - c0 : b1 - c0]
                storage.store(i, j, tile)

    def symmetrize_diagonal(self) -> None:
        """Make every diagonal tile exactly symmetric from its lower triangle.

        Each tile is mirrored in halves by :func:`kernelfit.tile_walk.symmetrize_square`,
        where it lives.
        """
        storage = self.storage
        for i in range(storage.nt):
            tile = storage.tile(i, i)
            symmetrize_square(storage.backend.xp, tile, 0, tile.shape[0])
            storage.store(i, i, tile)

    def take(self, rows, cols) -> np.ndarray:
        """Host copy of the sub-matrix ``A[np.ix_(rows, cols)]``.

        Parameters
        ----------
        rows, cols : array of int
            Global indices (any order, repeats allowed).

        Returns
        -------
        ndarray of shape (len(rows), len(cols))
            In the storage dtype.
        """
        storage = self.storage
        rows = np.asarray(rows, dtype=np.intp)
        cols = np.asarray(cols, dtype=np.intp)
        t = storage.tile_size
        out = np.empty((rows.size, cols.size), dtype=storage.dtype)
        row_tiles, col_tiles = rows // t, cols // t
        for i in np.unique(row_tiles):
            r_sel = np.flatnonzero(row_tiles == i)
            for j in np.unique(col_tiles):
                c_sel = np.flatnonzero(col_tiles == j)
                if i >= j:
                    tile = storage.backend.to_numpy(storage.tile(i, j))
                    part = tile[np.ix_(rows[r_sel] - i * t, cols[c_sel] - j * t)]
                else:
                    tile = storage.backend.to_numpy(storage.tile(j, i))
                    part = tile[np.ix_(cols[c_sel] - j * t, rows[r_sel] - i * t)].T
                out[np.ix_(r_sel, c_sel)] = part
        return out
