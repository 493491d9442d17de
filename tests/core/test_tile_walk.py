"""The shared walk over Gram tiles against NumPy: products assembled tile by tile equal
``X @ X.T`` and ``X @ Y.T``, every entry is visited once, mirroring is exact."""

from __future__ import annotations

import numpy as np
import pytest

from kernelfit import tile_walk
from kernelfit.linalg import PackedStorage
from kernelfit.tile_walk import mirror_lower, symmetrize_square, tile_pairs, walk_tiles
from tests.backend.emulated_device import (  # noqa: F401 (strict_devices is a fixture)
    DEVICE,
    host,
    on_device,
    strict_devices,
    xps,
)
from tests.conftest import tol

#: Odd sizes, with tiles that do not divide them (and one larger than the matrix).
SIZES = [(1, 1), (7, 3), (37, 8), (50, 17), (41, 64)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n", "tile"), SIZES)
def test_lower_tiles_then_mirror_give_the_symmetric_gram(rng, dtype, n, tile):
    """The lower tiles of ``X X^T``, each computed from its own rows and columns, then
    mirrored: NumPy's product, exactly symmetric, whatever the upper triangle held."""
    X = rng.standard_normal((n, 5)).astype(dtype)
    out = np.full((n, n), np.nan, dtype=dtype)
    for pair in tile_pairs(n, tile):
        assert pair.j <= pair.i and pair.diagonal == (pair.i == pair.j)
        out[pair.rows, pair.cols] = X[pair.rows] @ X[pair.cols].T
    mirror_lower(np, out, tile)
    np.testing.assert_allclose(out, X.astype(np.float64) @ X.T.astype(np.float64), **tol(dtype))
    np.testing.assert_array_equal(out, out.T)


@pytest.mark.parametrize(("n", "m", "tile"), [(7, 3, 2), (37, 50, 8), (5, 41, 17), (9, 4, 64)])
def test_all_tiles_give_the_rectangular_gram(rng, n, m, tile):
    X, Y = rng.standard_normal((n, 4)), rng.standard_normal((m, 4))
    out = np.zeros((n, m))
    visits = np.zeros((n, m), dtype=int)
    for pair in tile_pairs(n, tile, m):
        assert not pair.diagonal
        assert pair.shape == (X[pair.rows].shape[0], Y[pair.cols].shape[0])
        out[pair.rows, pair.cols] += X[pair.rows] @ Y[pair.cols].T
        visits[pair.rows, pair.cols] += 1
    np.testing.assert_array_equal(visits, 1)
    np.testing.assert_allclose(out, X @ Y.T, **tol(np.float64))


@pytest.mark.parametrize(("n", "tile"), SIZES)
def test_symmetric_walk_visits_the_lower_triangle_once(n, tile):
    visits = np.zeros((n, n), dtype=int)
    for pair in tile_pairs(n, tile):
        visits[pair.rows, pair.cols] += 1
    nt = -(-n // min(tile, n))
    assert len(tile_pairs(n, tile)) == nt * (nt + 1) // 2
    np.testing.assert_array_equal(np.tril(visits), np.tril(np.ones((n, n), dtype=int)))
    # only diagonal tiles reach above the diagonal
    above = np.triu(visits, 1)
    for pair in tile_pairs(n, tile):
        if not pair.diagonal:
            assert not above[pair.rows, pair.cols].any()


@pytest.mark.parametrize(("n", "tile"), [(37, 8), (50, 17), (5, 64)])
def test_tiles_are_those_of_a_tile_storage(n, tile):
    storage = PackedStorage(n, tile, np.float64, "cpu")
    pairs = tile_pairs(storage.n, storage.tile_size)
    assert [(p.i, p.j) for p in pairs] == [(i, j) for i in range(storage.nt)
                                           for j in range(i + 1)]
    for p in pairs:
        assert (p.rows, p.cols) == (storage.bounds(p.i), storage.bounds(p.j))
        assert p.shape == storage.tile(p.i, p.j).shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n", "leaf"), [(40, 3), (17, 5), (9, 256)])
def test_symmetrize_square_mirrors_the_lower_triangle(rng, monkeypatch, dtype, n, leaf):
    """Mirrored in halves down to ``leaf`` rows: ``tril(A) + tril(A, -1)^T`` exactly, and only
    the square given is touched."""
    monkeypatch.setattr(tile_walk, "MIRROR_LEAF", leaf)
    A = rng.standard_normal((n + 6, n + 6)).astype(dtype)
    before = A.copy()
    symmetrize_square(np, A, 3, 3 + n)
    square = before[3 : 3 + n, 3 : 3 + n]
    np.testing.assert_array_equal(A[3 : 3 + n, 3 : 3 + n],
                                  np.tril(square) + np.tril(square, -1).T)
    A[3 : 3 + n, 3 : 3 + n] = before[3 : 3 + n, 3 : 3 + n]
    np.testing.assert_array_equal(A, before)


def test_walk_reports_one_step_per_tile():
    events = []
    pairs = tile_pairs(10, 3)
    assert list(walk_tiles(pairs, events.append, "kernel")) == pairs
    assert {e.phase for e in events} == {"kernel"} and {e.unit for e in events} == {"tiles"}
    assert events[-1].finished and events[-1].done == events[-1].total == len(pairs) == 10


@pytest.mark.parametrize("tile", [0, -2])
def test_a_tile_edge_below_one_is_refused(tile):
    with pytest.raises(ValueError, match=f"the tile edge must be >= 1; found {tile}"):
        tile_pairs(5, tile)


@pytest.mark.usefixtures("strict_devices")
def test_mirror_lower_stays_on_the_device(rng):
    """On an emulated second device: no silent host copy, the result stays there."""
    A = rng.standard_normal((23, 23))
    out = on_device(np.tril(A) + np.triu(np.full((23, 23), 7.0), 1))
    mirror_lower(xps, out, 6)
    assert out.device == DEVICE
    np.testing.assert_array_equal(host(out), np.tril(A) + np.tril(A, -1).T)
