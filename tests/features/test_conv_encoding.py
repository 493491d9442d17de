"""The soft-threshold encoder and quadrant pooling against a naive loop."""

import numpy as np
import pytest

from kernelfit.features.conv_encoding import PatchEncoder, pooling_matrix


def naive_features(images, filters, offsets, alpha, patch, stride, eps, grid):
    """Loop over images, positions and filters; returns (n, k, 2, grid**2)."""
    n, height, width, _ = images.shape
    rows, cols = (height - patch) // stride + 1, (width - patch) // stride + 1
    row_edges = [-(-a * rows // grid) for a in range(grid + 1)]
    col_edges = [-(-b * cols // grid) for b in range(grid + 1)]
    out = np.zeros((n, filters.shape[1], 2, grid * grid))
    for i in range(n):
        for r in range(rows):
            for c in range(cols):
                p = images[i, stride * r : stride * r + patch, stride * c : stride * c + patch]
                p = p.astype(np.float64).reshape(-1)
                p = (p - p.mean()) / np.sqrt(p.var(ddof=1) + eps)
                z = p @ filters + offsets
                a = np.searchsorted(row_edges, r, side="right") - 1
                b = np.searchsorted(col_edges, c, side="right") - 1
                out[i, :, 0, a * grid + b] += np.maximum(z - alpha, 0)
                out[i, :, 1, a * grid + b] += np.maximum(-z - alpha, 0)
    return out


@pytest.mark.parametrize(("stride", "grid", "block"), [(1, 2, 3), (2, 2, 256), (1, 3, 2)])
def test_encoder_matches_naive_loop(rng, stride, grid, block):
    images = rng.integers(0, 256, size=(3, 11, 10, 3)).astype(np.uint8)
    filters = rng.standard_normal((48, 7))
    offsets = 0.3 * rng.standard_normal(7)
    encoder = PatchEncoder(np, filters, offsets, 0.25, (11, 10, 3), 4, stride, 10.0, grid,
                           np.float64, filter_block=block)
    out = encoder.encode(images, np.empty((3, 7, 2, grid * grid)))
    expected = naive_features(images, filters, offsets, 0.25, 4, stride, 10.0, grid)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-10)
    assert encoder.n_features == 7 * 2 * grid * grid


def test_standardization_is_applied(rng):
    images = rng.integers(0, 256, size=(2, 8, 8, 1)).astype(np.uint8)
    filters, offsets = rng.standard_normal((9, 4)), np.zeros(4)
    mean, scale = rng.random((4, 2, 4)), 1 + rng.random((4, 2, 4))
    args = (np, filters, offsets, 0.1, (8, 8, 1), 3, 1, 10.0, 2, np.float64)
    raw = PatchEncoder(*args).encode(images, np.empty((2, 4, 2, 4)))
    std = PatchEncoder(*args, feature_mean=mean, feature_scale=scale).encode(
        images, np.empty((2, 4, 2, 4)))
    np.testing.assert_allclose(std, (raw - mean) / scale, rtol=1e-12)


def test_pooling_matrix_quadrants_of_27():
    pool = pooling_matrix(27, 27, 2)
    np.testing.assert_array_equal(pool.sum(1), [14 * 14, 14 * 13, 13 * 14, 13 * 13])
    np.testing.assert_array_equal(pool.sum(0), 1)
    assert pool.reshape(4, 27, 27)[0, 13, 13] == 1 and pool.reshape(4, 27, 27)[3, 14, 14] == 1
