"""The walk over the tiles of a Gram matrix, shared by every driver that fills one.

A symmetric ``n x n`` matrix is visited through its tiles on and below the diagonal,
an ``n x m`` one through all of its tiles (:func:`tile_pairs`), row of tiles by row of
tiles, with a progress phase if wanted (:func:`walk_tiles`). A dense destination of
which only the lower tiles were written is made exactly symmetric by
:func:`mirror_lower`; :func:`symmetrize_square` does it for one diagonal square.

The drivers: :func:`kernelfit.gram_builder.gram` (kernel blocks),
:func:`kernelfit.features.conv_gram.accumulate_feature_grams` (products of streamed
features) and :func:`kernelfit.streamed.kernel_tiles.gaussian_tiles` (Gaussian kernels
in place). The tile slices are those of :meth:`kernelfit.linalg.TileStorage.bounds`
for the same edge, so tile ``(i, j)`` of a walk is tile ``(i, j)`` of a storage.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

from .progress import phase

__all__ = ["MIRROR_LEAF", "TilePair", "mirror_lower", "symmetrize_square", "tile_pairs",
           "walk_tiles"]

#: Diagonal squares up to this edge are symmetrized whole by ``tril``.
MIRROR_LEAF = 256


class TilePair(NamedTuple):
    """One tile of a tiled matrix.

    Attributes
    ----------
    i, j : int
        Tile row and column indices.
    rows, cols : slice
        Its global row and column ranges.
    diagonal : bool
        A diagonal tile of a symmetric matrix (its rows are its columns).
    """

    i: int
    j: int
    rows: slice
    cols: slice
    diagonal: bool

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)`` of the tile."""
        return self.rows.stop - self.rows.start, self.cols.stop - self.cols.start


def tile_pairs(n: int, tile: int, m: int | None = None) -> list[TilePair]:
    """The tiles of an ``n x m`` matrix, or the lower ones of a symmetric ``n x n`` one.

    Parameters
    ----------
    n : int
        Rows.
    tile : int
        Tile edge (the last tile of a row or column is narrower when ``tile`` does
        not divide the size).
    m : int, optional
        Columns; None for a symmetric ``n x n`` matrix, of which only the tiles on or
        below the diagonal (``j <= i``) are listed.

    Returns
    -------
    list of TilePair
        Row of tiles by row of tiles, columns in increasing order.

    Raises
    ------
    ValueError
        If ``tile`` is not positive.
    """
    if int(tile) < 1:
        raise ValueError(f"the tile edge must be >= 1; found {tile}")
    tile = int(tile)
    symmetric = m is None
    m = n if symmetric else m
    pairs = []
    for i, r0 in enumerate(range(0, n, tile)):
        rows = slice(r0, min(r0 + tile, n))
        for j, c0 in enumerate(range(0, min(r0 + 1, m) if symmetric else m, tile)):
            pairs.append(TilePair(i, j, rows, slice(c0, min(c0 + tile, m)),
                                  symmetric and i == j))
    return pairs


def walk_tiles(pairs: Sequence[TilePair], progress=None, phase_name: str = "gram",
               unit: str = "tiles") -> Iterator[TilePair]:
    """Yield ``pairs`` one by one inside a progress phase, advancing it after each.

    Parameters
    ----------
    pairs : sequence of TilePair
        From :func:`tile_pairs`.
    progress : callable, optional
        Progress callback (see :mod:`kernelfit.progress`); ``len(pairs)`` in total.
    phase_name : str, default "gram"
        Name of the phase.
    unit : str, default "tiles"
        Unit of the phase.

    Yields
    ------
    TilePair
    """
    with phase(progress, phase_name, total=len(pairs), unit=unit) as bar:
        for pair in pairs:
            yield pair
            bar.advance()


def symmetrize_square(xp, a, start: int, stop: int) -> None:
    """Copy the strict lower triangle of ``a[start:stop, start:stop]`` onto its upper one.

    The square is mirrored in halves (the lower-left quarter copied, transposed, onto the
    upper-right one, then the two diagonal quarters the same way) down to
    :data:`MIRROR_LEAF` rows, where ``tril`` finishes: about one transposed copy of half
    the square instead of four whole-square passes and temporaries.

    Parameters
    ----------
    xp : array namespace
        That of ``a``.
    a : 2-D array
        Modified in place (where it lives: no host round trip).
    start, stop : int
        The square's first and past-the-end row (and column).
    """
    n = stop - start
    if n <= MIRROR_LEAF:
        square = a[start:stop, start:stop]
        a[start:stop, start:stop] = xp.tril(square) + xp.tril(square, k=-1).T
        return
    mid = start + n // 2
    a[start:mid, mid:stop] = a[mid:stop, start:mid].T
    symmetrize_square(xp, a, start, mid)
    symmetrize_square(xp, a, mid, stop)


def mirror_lower(xp, out, tile: int) -> None:
    """Copy the lower triangle of the square ``out`` onto its upper one, tile by tile.

    Afterwards ``out`` is exactly symmetric, whatever its upper triangle held.

    Parameters
    ----------
    xp : array namespace
        That of ``out`` (NumPy for a host array or ``np.memmap``).
    out : 2-D array of shape (n, n)
        Modified in place.
    tile : int
        Tile edge of the copies.
    """
    for pair in tile_pairs(out.shape[0], tile):
        if pair.diagonal:
            symmetrize_square(xp, out, pair.rows.start, pair.rows.stop)
        else:
            out[pair.cols, pair.rows] = out[pair.rows, pair.cols].T
