"""Patch extraction, brightness/contrast normalization, ZCA whitening, random filters."""

import numpy as np
import pytest

from kernelfit.features.patches import (
    extract_patches,
    normalize_patches,
    patch_grid,
    sample_patches,
)
from kernelfit.features.random_filters import draw_filters
from kernelfit.features.whitening import fit_zca


def test_extract_patches_matches_slicing(rng):
    images = rng.integers(0, 256, size=(2, 9, 11, 3)).astype(np.uint8)
    patches = extract_patches(np, images, 4, stride=2)
    assert patches.shape == (2, 3, 4, 48) and patches.dtype == np.float32
    for i in range(2):
        for r in range(3):
            for c in range(4):
                window = images[i, 2 * r : 2 * r + 4, 2 * c : 2 * c + 4, :]
                np.testing.assert_array_equal(patches[i, r, c], window.reshape(-1))


def test_patch_grid_and_a_patch_larger_than_the_image():
    assert patch_grid(32, 32, 6) == (27, 27)
    assert patch_grid(32, 30, 6, stride=2) == (14, 13)
    with pytest.raises(ValueError, match=r"patch_size=7 is larger than the images \(6 x 8\)"):
        patch_grid(6, 8, 7)


def test_normalize_patches_matches_the_formula(rng):
    patches = rng.random((50, 27)) * 255
    expected = (patches - patches.mean(1, keepdims=True)) / np.sqrt(
        patches.var(1, ddof=1, keepdims=True) + 10.0
    )
    np.testing.assert_allclose(normalize_patches(np, patches.copy(), 10.0), expected,
                               rtol=1e-12)


def test_sample_patches_comes_from_the_images(rng):
    images = rng.integers(0, 256, size=(4, 10, 10, 2)).astype(np.uint8)
    sample = sample_patches(images, 30, 3, 1, np.random.default_rng(0))
    every = extract_patches(np, images, 3).reshape(-1, 18).astype(np.float64)
    for row in sample:
        assert np.any(np.all(every == row, axis=1))
    again = sample_patches(images, 30, 3, 1, np.random.default_rng(0))
    np.testing.assert_array_equal(sample, again)


def test_zca_whitens_and_is_symmetric(rng):
    mixing = rng.standard_normal((6, 6))
    data = rng.standard_normal((20000, 6)) @ mixing + 3.0
    zca = fit_zca(data, epsilon=0.0)
    white = zca.apply(data)
    np.testing.assert_allclose(np.cov(white, rowvar=False), np.eye(6), atol=1e-8)
    np.testing.assert_allclose(zca.matrix, zca.matrix.T)
    np.testing.assert_allclose(white.mean(0), 0, atol=1e-10)


def test_zca_refuses_too_few_patches():
    with pytest.raises(ValueError, match="at least 2 patches"):
        fit_zca(np.zeros((1, 5)))


@pytest.mark.parametrize("kind", ["gaussian", "patches"])
def test_filters_are_unit_norm_and_deterministic(kind, rng):
    pool = rng.standard_normal((100, 12))
    a = draw_filters(kind, 40, 12, np.random.default_rng(3), pool)
    b = draw_filters(kind, 40, 12, np.random.default_rng(3), pool)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0)
    if kind == "patches":
        normalized = pool / np.linalg.norm(pool, axis=1, keepdims=True)
        assert len({tuple(np.round(f, 12)) for f in a}) == 40  # no repeats while the pool lasts
        assert all(np.any(np.all(np.isclose(normalized, f), axis=1)) for f in a)


def test_filter_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n_filters must be >= 1; found 0"):
        draw_filters("gaussian", 0, 5, rng)
    with pytest.raises(ValueError, match="filter kind"):
        draw_filters("kmeans", 3, 5, rng)
    with pytest.raises(ValueError, match=r"whitened patches of shape \(m, 5\)"):
        draw_filters("patches", 3, 5, rng)
