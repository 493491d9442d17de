"""The soft-threshold encoder and quadrant pooling against a naive loop, on both of its
CPU paths: the compiled one-pass kernels (``fused=True``, NumPy's default) and the
array path that CuPy and other namespaces run (``fused=False``)."""

import subprocess
import sys

import numpy as np
import pytest

from kernelfit.features.conv_encoding import PatchEncoder, pooling_factors, pooling_matrix
from kernelfit.features.fused_encoding import (
    member_runs,
    normalized_patches,
    region_members,
    threshold_pool,
)


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


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize(("image_shape", "out_shape", "message"), [
    ((2, 40, 40, 3), (2, 5, 2, 4), r"images must have shape \(n, 8, 8, 3\) .*\(2, 40, 40, 3\)"),
    ((2, 8, 8, 4), (2, 5, 2, 4), r"images must have shape \(n, 8, 8, 3\) .*\(2, 8, 8, 4\)"),
    ((2, 8, 8), (2, 5, 2, 4), r"images must have shape \(n, 8, 8, 3\) .*found \(2, 8, 8\)"),
    ((2, 8, 8, 3), (2, 5, 2, 1), r"out must have shape \(2, 5, 2, 4\) .*found \(2, 5, 2, 1\)"),
    ((2, 8, 8, 3), (1, 5, 2, 4), r"out must have shape \(2, 5, 2, 4\) .*found \(1, 5, 2, 4\)"),
])
def test_images_and_outputs_of_other_shapes_are_refused(rng, fused, image_shape, out_shape,
                                                        message):
    """The compiled kernels index memory unchecked: a larger image or a smaller output
    must be refused before they run, not written past the buffers' ends."""
    encoder = PatchEncoder(np, rng.standard_normal((27, 5)), np.zeros(5), 0.2, (8, 8, 3), 3, 1,
                           10.0, 2, np.float64, fused=fused)
    out = np.zeros(out_shape)
    with pytest.raises(ValueError, match=message):
        encoder.encode(rng.integers(0, 256, size=image_shape).astype(np.uint8), out)
    assert not out.any()


def test_kernels_refuse_shapes_that_do_not_fit(rng):
    images = rng.random((2, 8, 8, 3))
    with pytest.raises(ValueError, match=r"out must have shape \(72, 27\) .*found \(72, 12\)"):
        normalized_patches(images, 3, 1, 10.0, np.empty((72, 12)))
    with pytest.raises(ValueError, match=r"H, W >= patch_size=9; found \(2, 8, 8, 3\)"):
        normalized_patches(images, 9, 1, 10.0, np.empty((2, 243)))
    row_pool, col_pool = pooling_factors(6, 6, 2)
    rows, runs = region_members(row_pool), member_runs(region_members(col_pool))
    response, bounds = np.empty((72, 5)), np.zeros(5)
    with pytest.raises(ValueError, match=r"out must have shape \(2, 5, 2, 4\); found \(2, 5, 2, 9"):
        threshold_pool(response, 2, 6, 6, rows, runs, (2, 2), bounds, bounds,
                       np.empty((2, 5, 2, 9)), 0)
    with pytest.raises(ValueError, match=r"response must have shape \(72, 5\); found \(60, 5\)"):
        threshold_pool(response[:60], 2, 6, 6, rows, runs, (2, 2), bounds, bounds,
                       np.empty((2, 5, 2, 4)), 0)
    with pytest.raises(ValueError, match=r"within out's 8; found start=4"):
        threshold_pool(response, 2, 6, 6, rows, runs, (2, 2), bounds, bounds,
                       np.empty((2, 8, 2, 4)), 4)
    with pytest.raises(ValueError, match="of 6 rows and 5 columns; found 6 rows and column runs "
                                         "up to 6"):
        threshold_pool(response[:60], 2, 6, 5, rows, runs, (2, 2), bounds, bounds,
                       np.empty((2, 5, 2, 4)), 0)
    with pytest.raises(ValueError, match=r"beyond the 1 x 2 grid; found up to 2 x 2"):
        threshold_pool(response, 2, 6, 6, rows, runs, (1, 2), bounds, bounds,
                       np.empty((2, 5, 2, 2)), 0)


@pytest.mark.parametrize(("image_edge", "grid"), [(5, 4), (3, 2)])
def test_maps_smaller_than_the_grid_have_empty_regions_on_both_paths(rng, image_edge, grid):
    """A 3 x 3 map on a 4 x 4 grid, or a 1 x 1 map on quadrants: the trailing regions
    hold no position, so their features are 0, and the others are where they belong."""
    images = rng.integers(0, 256, size=(2, image_edge, image_edge, 3)).astype(np.uint8)
    filters, offsets = rng.standard_normal((27, 3)), 0.2 * rng.standard_normal(3)
    args = (filters, offsets, 0.25, (image_edge, image_edge, 3), 3, 1, 10.0, grid, np.float64)
    fused = PatchEncoder(np, *args, fused=True).encode(images, np.empty((2, 3, 2, grid**2)))
    array = PatchEncoder(np, *args, fused=False).encode(images, np.empty((2, 3, 2, grid**2)))
    np.testing.assert_allclose(fused, array, rtol=1e-12, atol=1e-12)
    if image_edge == 5:
        np.testing.assert_allclose(fused, naive_features(images, filters, offsets, 0.25, 3, 1,
                                                         10.0, grid), rtol=1e-12, atol=1e-10)
    empty = PatchEncoder(np, *args).encode(images, np.empty((2, 3, 2, grid**2))) == 0
    assert empty.reshape(2, 3, 2, grid, grid)[..., -1, :].all()


def test_fused_refuses_pixels_that_are_not_finite(rng):
    images = rng.random((2, 8, 8, 1)) * 255
    images[0, 2, 3, 0], images[1, 0, 0, 0] = np.nan, np.inf
    encoder = PatchEncoder(np, rng.standard_normal((9, 4)), np.zeros(4), 0.1, (8, 8, 1), 3, 1,
                           10.0, 2, np.float32)
    with pytest.raises(ValueError, match=r"images must be finite; found 1 NaN and 1 infinite"):
        encoder.encode(images, np.empty((2, 4, 2, 4), dtype=np.float32))


@pytest.mark.parametrize("fused", [True, False])
def test_strided_views_of_images_and_outputs(rng, fused):
    """Images that are a non-contiguous view (a channel slice, columns reversed) and an
    output that is a slice of a wider feature array along the filters."""
    wide = rng.integers(0, 256, size=(2, 12, 9, 4)).astype(np.float32)
    images = wide[:, :, ::-1, 1:]
    filters, offsets = rng.standard_normal((48, 6)) / 5, 0.2 * rng.standard_normal(6)
    encoder = PatchEncoder(np, filters, offsets, 0.25, (12, 9, 3), 4, 2, 10.0, 2, np.float32,
                           filter_block=4, fused=fused)
    features = np.full((2, 10, 2, 4), np.nan, dtype=np.float32)
    encoder.encode(images, features[:, 3:9])
    expected = naive_features(images, filters, offsets, 0.25, 4, 2, 10.0, 2)
    np.testing.assert_allclose(features[:, 3:9], expected, rtol=2e-4,
                               atol=2e-4 * np.abs(expected).max())
    assert np.isnan(features[:, [0, 1, 2, 9]]).all()
