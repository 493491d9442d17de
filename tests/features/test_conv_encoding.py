"""The soft-threshold encoder and quadrant pooling against a naive loop, on both of its
CPU paths: the compiled one-pass kernels (``fused=True``, NumPy's default) and the
array path that CuPy and other namespaces run (``fused=False``)."""

import subprocess
import sys

import numpy as np
import pytest

from kernelfit.features.conv_encoding import PatchEncoder, pooling_factors, pooling_matrix
from kernelfit.features.fused_encoding import member_runs, region_members


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


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize(("stride", "grid", "block"), [(1, 2, 3), (2, 2, 256), (1, 3, 2)])
def test_encoder_matches_naive_loop(rng, stride, grid, block, fused):
    images = rng.integers(0, 256, size=(3, 11, 10, 3)).astype(np.uint8)
    filters = rng.standard_normal((48, 7))
    offsets = 0.3 * rng.standard_normal(7)
    encoder = PatchEncoder(np, filters, offsets, 0.25, (11, 10, 3), 4, stride, 10.0, grid,
                           np.float64, filter_block=block, fused=fused)
    assert encoder.fused is fused
    out = encoder.encode(images, np.empty((3, 7, 2, grid * grid)))
    expected = naive_features(images, filters, offsets, 0.25, 4, stride, 10.0, grid)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-10)
    assert encoder.n_features == 7 * 2 * grid * grid


@pytest.mark.parametrize("fused", [True, False])
def test_standardization_is_applied(rng, fused):
    images = rng.integers(0, 256, size=(2, 8, 8, 1)).astype(np.uint8)
    filters, offsets = rng.standard_normal((9, 4)), np.zeros(4)
    mean, scale = rng.random((4, 2, 4)), 1 + rng.random((4, 2, 4))
    args = (np, filters, offsets, 0.1, (8, 8, 1), 3, 1, 10.0, 2, np.float64)
    raw = PatchEncoder(*args, fused=fused).encode(images, np.empty((2, 4, 2, 4)))
    std = PatchEncoder(*args, feature_mean=mean, feature_scale=scale, fused=fused).encode(
        images, np.empty((2, 4, 2, 4)))
    np.testing.assert_allclose(std, (raw - mean) / scale, rtol=1e-12)


def test_pooling_matrix_quadrants_of_27():
    pool = pooling_matrix(27, 27, 2)
    np.testing.assert_array_equal(pool.sum(1), [14 * 14, 14 * 13, 13 * 14, 13 * 13])
    np.testing.assert_array_equal(pool.sum(0), 1)
    assert pool.reshape(4, 27, 27)[0, 13, 13] == 1 and pool.reshape(4, 27, 27)[3, 14, 14] == 1


def naive_window_features(images, filters, offsets, alpha, patch, eps, size, step):
    """Loop over images, windows and positions; returns (n, k, 2, windows)."""
    n, height, width, _ = images.shape
    rows, cols = height - patch + 1, width - patch + 1
    starts_r, starts_c = range(0, rows - size + 1, step), range(0, cols - size + 1, step)
    out = np.zeros((n, filters.shape[1], 2, len(starts_r) * len(starts_c)))
    for i in range(n):
        for w, (r0, c0) in enumerate((r0, c0) for r0 in starts_r for c0 in starts_c):
            for r in range(r0, r0 + size):
                for c in range(c0, c0 + size):
                    p = images[i, r : r + patch, c : c + patch].astype(np.float64).reshape(-1)
                    z = (p - p.mean()) / np.sqrt(p.var(ddof=1) + eps) @ filters + offsets
                    out[i, :, 0, w] += np.maximum(z - alpha, 0)
                    out[i, :, 1, w] += np.maximum(-z - alpha, 0)
    return out


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize(("size", "step", "windows"), [(5, 3, 9), (6, 5, 4), (11, 1, 2)])
def test_overlapping_windows_match_naive_loop(rng, size, step, windows, fused):
    images = rng.integers(0, 256, size=(2, 13, 14, 2)).astype(np.uint8)
    filters = rng.standard_normal((18, 5))
    offsets = 0.2 * rng.standard_normal(5)
    encoder = PatchEncoder(np, filters, offsets, 0.25, (13, 14, 2), 3, 1, 10.0, 2,
                           np.float64, filter_block=2, pooling_window=(size, step), fused=fused)
    assert encoder.n_regions == windows
    out = encoder.encode(images, np.empty((2, 5, 2, windows)))
    expected = naive_window_features(images, filters, offsets, 0.25, 3, 10.0, size, step)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-10)


def test_pooling_windows_of_27_positions():
    three = pooling_matrix(27, 27, window=(15, 6))
    np.testing.assert_array_equal(three.sum(1), np.full(9, 15 * 15))
    np.testing.assert_array_equal(three.sum(0).reshape(27, 27)[[0, 6, 12, 14, 26], 0],
                                  [1, 2, 3, 3, 1])
    two = pooling_matrix(27, 27, window=(14, 13))
    np.testing.assert_array_equal(two.sum(1), np.full(4, 14 * 14))
    assert two.sum(0).reshape(27, 27)[13, 13] == 4 and two.sum(0).min() == 1


@pytest.mark.parametrize("window", [(28, 1), (5, 0), (0, 2)])
def test_impossible_pooling_windows_are_refused(window):
    with pytest.raises(ValueError, match=r"size <= 27 \(the response map is 27 x 27\)"):
        pooling_matrix(27, 27, window=window)


@pytest.mark.parametrize("pixel_dtype", [np.uint8, np.float64, np.float16, np.int16, bool])
@pytest.mark.parametrize("window", [None, (15, 6), (14, 13)])
def test_fused_float32_matches_naive_loop_on_cifar_geometry(rng, window, pixel_dtype):
    """The production shape: 32 x 32 x 3 images, 6 x 6 patches, float32, several filter
    blocks, pixels of several dtypes, into a slice of a larger output."""
    images = rng.integers(0, 256 if pixel_dtype is not bool else 2, size=(3, 32, 32, 3))
    images = images.astype(pixel_dtype)
    filters = rng.standard_normal((108, 40)) / 10
    offsets = 0.2 * rng.standard_normal(40)
    encoder = PatchEncoder(np, filters, offsets, 0.25, (32, 32, 3), 6, 1, 10.0, 2,
                           np.float32, filter_block=16, pooling_window=window)
    assert encoder.fused
    out = np.full((5, 40, 2, encoder.n_regions), np.nan, dtype=np.float32)
    encoder.encode(images, out[1:4])
    if window is None:
        expected = naive_features(images, filters, offsets, 0.25, 6, 1, 10.0, 2)
    else:
        expected = naive_window_features(images, filters, offsets, 0.25, 6, 10.0, *window)
    np.testing.assert_allclose(out[1:4], expected, rtol=2e-4, atol=2e-4 * np.abs(expected).max())
    assert np.isnan(out[[0, 4]]).all()  # nothing written outside the slice


def test_region_members_lists_each_positions_regions():
    rows, _ = pooling_factors(27, 27, window=(15, 6))
    members = region_members(rows)
    assert members.shape == (27, 3)
    np.testing.assert_array_equal(members[[0, 6, 12, 14, 26]],
                                  [[0, -1, -1], [0, 1, -1], [0, 1, 2], [0, 1, 2], [2, -1, -1]])
    uncovered, _ = pooling_factors(13, 13, window=(6, 5))  # position 12 is in no window
    np.testing.assert_array_equal(region_members(uncovered)[12], [-1, -1])


def test_fused_needs_numpy():
    array_api_strict = pytest.importorskip("array_api_strict")
    with pytest.raises(ValueError, match="fused=True runs compiled CPU kernels and needs NumPy "
                                         "arrays; found the namespace 'array_api_strict'"):
        PatchEncoder(array_api_strict, np.ones((9, 2)), np.zeros(2), 0.1, (8, 8, 1), 3, 1, 10.0,
                     2, np.float64, fused=True)


def test_numba_is_imported_only_when_an_encoder_runs():
    code = ("import sys, numpy as np, kernelfit, kernelfit.features\n"
            "from kernelfit.features.conv_encoding import PatchEncoder\n"
            "encoder = PatchEncoder(np, np.ones((9, 2)), np.zeros(2), 0.1, (8, 8, 1), 3, 1, 10.0,"
            " 2, np.float64)\n"
            "before = 'numba' in sys.modules\n"
            "encoder.encode(np.zeros((1, 8, 8, 1)), np.empty((1, 2, 2, 4)))\n"
            "print(before, 'numba' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["False", "True"]


def test_member_runs_group_positions_in_the_same_regions():
    _, quadrants = pooling_factors(27, 27, 2)
    runs, members = member_runs(region_members(quadrants))
    np.testing.assert_array_equal(runs, [[0, 14], [14, 27]])
    np.testing.assert_array_equal(members, [[0], [1]])
    _, windows = pooling_factors(27, 27, window=(15, 6))
    runs, members = member_runs(region_members(windows))
    np.testing.assert_array_equal(runs, [[0, 6], [6, 12], [12, 15], [15, 21], [21, 27]])
    np.testing.assert_array_equal(members[2], [0, 1, 2])
    _, uncovered = pooling_factors(13, 13, window=(6, 5))  # positions 11 and 12: no window
    runs, _ = member_runs(region_members(uncovered))
    np.testing.assert_array_equal(runs, [[0, 5], [5, 6], [6, 11]])
