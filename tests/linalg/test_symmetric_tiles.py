"""Symmetric tile view, float64 tile matvec, and refinement against a stored K."""

import numpy as np
import pytest
import scipy.linalg

from kernelfit.linalg import PackedStorage, tiled_cholesky
from kernelfit.linalg.symmetric_view import SymmetricTileView
from kernelfit.linalg.tile_matvec import copy_tiles, tile_symmetric_matvec
from kernelfit.solvers.stored_refinement import refine_with_stored_kernel
from tests.conftest import tol


def spd(rng, n, dtype=np.float64):
    A = rng.standard_normal((n, n + 5))
    return (A @ A.T / n + 0.5 * np.eye(n)).astype(dtype)


def filled(K, tile):
    storage = PackedStorage(K.shape[0], tile, K.dtype, "cpu")
    view = SymmetricTileView(storage)
    view[...] = 0
    for i0 in range(0, K.shape[0], 7):  # row panels not aligned with the tiles
        view[i0 : i0 + 7, 0 : i0 + 7] = K[i0 : i0 + 7, : i0 + 7]
    return storage, view


@pytest.mark.parametrize("tile", [4, 8, 13, 40])
def test_view_writes_lower_and_reads_the_symmetric_matrix(rng, tile):
    K = spd(rng, 29)
    storage, view = filled(K, tile)
    view.symmetrize_diagonal()
    np.testing.assert_array_equal(storage.to_dense(), K)
    np.testing.assert_array_equal(view[3:20, 11:27], K[3:20, 11:27])  # crosses the diagonal
    np.testing.assert_array_equal(view[...], K)
    rows, cols = rng.integers(0, 29, 12), rng.integers(0, 29, 9)
    np.testing.assert_array_equal(view.take(rows, cols), K[np.ix_(rows, cols)])
    view[0:29, 0:29] += np.ones((29, 29))  # read-modify-write, as the Gram accumulation does
    np.testing.assert_array_equal(storage.to_dense(), K + 1)


def test_view_rejects_fancy_keys_and_wrong_shapes(rng):
    _, view = filled(spd(rng, 10), 4)
    with pytest.raises(TypeError, match="contiguous slices"):
        view[::2, 0:3]
    with pytest.raises(TypeError, match="pair of slices"):
        view[0:3]
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        view[0:3, 0:3] = np.zeros((2, 3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tile_matvec_and_copy_match_dense(rng, dtype):
    K = spd(rng, 31, dtype)
    storage, view = filled(K, 8)
    view.symmetrize_diagonal()
    V = rng.standard_normal((31, 3))
    reference = K.astype(np.float64) @ V
    np.testing.assert_allclose(tile_symmetric_matvec(storage, V), reference, rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(tile_symmetric_matvec(copy_tiles(storage), V[:, 0]),
                               reference[:, 0], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"V must have shape \(31,\)"):
        tile_symmetric_matvec(storage, V[:5])


def test_refinement_against_stored_float32_kernel_reaches_float64_accuracy(rng):
    K = spd(rng, 45, np.float32)
    reg = 0.1
    kernel, view = filled(K, 16)
    view.symmetrize_diagonal()
    factor = copy_tiles(kernel)
    factor.add_to_diagonal(reg)
    tiled_cholesky(factor)
    Y = rng.standard_normal((45, 2))
    alpha, info = refine_with_stored_kernel(factor, kernel, Y, reg=reg)
    exact = scipy.linalg.solve(K.astype(np.float64) + reg * np.eye(45), Y, assume_a="pos")
    np.testing.assert_allclose(alpha, exact, **tol(np.float64))
    assert info.residuals[0] > 1e-9 > info.residuals[-1] and info.iterations >= 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n", "tile", "leaf"), [(40, 29, 3), (40, 40, 5), (17, 17, 256)])
def test_symmetrize_diagonal_mirrors_the_lower_triangle(rng, monkeypatch, dtype, n, tile, leaf):
    """Diagonal tiles mirrored in halves down to ``leaf`` rows equal the symmetric matrix
    of their lower triangles, whatever their upper triangles held (NaN here)."""
    from kernelfit import tile_walk

    monkeypatch.setattr(tile_walk, "MIRROR_LEAF", leaf)
    K = spd(rng, n, dtype)
    storage = PackedStorage(n, tile, dtype, "cpu")
    for i in range(storage.nt):
        for j in range(i + 1):
            block = K[storage.bounds(i), storage.bounds(j)].copy()
            if i == j:
                block[np.triu_indices(block.shape[0], 1)] = np.nan
            storage.write_block(i, j, block)
    SymmetricTileView(storage).symmetrize_diagonal()
    for i in range(storage.nt):
        np.testing.assert_array_equal(storage.tile(i, i), K[storage.bounds(i), storage.bounds(i)])
