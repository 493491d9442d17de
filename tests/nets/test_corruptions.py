"""Corruptions: statistics, reproducibility, inputs never modified, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from kernelfit.nets.corruptions import (
    CORRUPTIONS,
    corrupt,
    corrupt_labels,
    gaussian_images,
    random_labels,
    random_pixels,
    shuffle_pixels,
)


def _binomial_bounds(n: int, q: float, sigmas: float = 5.0) -> tuple[float, float]:
    half = sigmas * np.sqrt(q * (1 - q) / n)
    return q - half, q + half


@pytest.fixture
def labels():
    return np.random.default_rng(0).integers(0, 10, size=20_000)


@pytest.fixture
def images():
    rng = np.random.default_rng(1)
    return (rng.integers(0, 256, size=(40, 6, 5, 3), dtype=np.uint8),
            rng.integers(0, 256, size=(15, 6, 5, 3), dtype=np.uint8))


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_label_corruption_rate_matches_p(labels, p):
    out = corrupt_labels(labels, p, num_classes=10, seed=3)
    n = len(labels)
    low, high = _binomial_bounds(n, p)
    assert low <= out.resampled.mean() <= high
    # A redrawn label keeps its value with probability 1/10.
    low, high = _binomial_bounds(n, p * 0.9)
    assert low <= out.changed.mean() <= high
    np.testing.assert_array_equal(out.changed, out.labels != labels)
    np.testing.assert_array_equal(out.labels[~out.resampled], labels[~out.resampled])
    assert out.labels.dtype == np.int64
    assert not out.changed[~out.resampled].any()


def test_random_labels_are_uniform_and_independent_of_the_truth(labels):
    out = random_labels(labels, seed=5)
    counts = np.bincount(out.labels, minlength=10)
    expected = len(labels) / 10
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 40  # 9 degrees of freedom; P(chi2 > 40) < 1e-5
    assert out.p == 1.0
    low, high = _binomial_bounds(len(labels), 0.1)
    assert low <= np.mean(out.labels == labels) <= high


def test_label_corruption_is_reproducible(labels):
    a, b = corrupt_labels(labels, 0.4, seed=7), corrupt_labels(labels, 0.4, seed=7)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, corrupt_labels(labels, 0.4, seed=8).labels)


@pytest.mark.parametrize("p", [-0.1, 1.5, np.nan])
def test_p_outside_unit_interval_is_rejected(labels, p):
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        corrupt_labels(labels, p)


def test_bad_label_inputs(labels):
    with pytest.raises(TypeError, match="p must be a real number"):
        corrupt_labels(labels, True)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        corrupt_labels(labels, 0.5, num_classes=3)
    with pytest.raises(TypeError, match="integer class labels"):
        corrupt_labels(labels.astype(float), 0.5)


def test_shuffled_pixels_apply_one_permutation_to_every_image(images):
    X_train, X_test = images
    new_train, new_test, perm = shuffle_pixels(X_train, X_test, seed=2)
    assert sorted(perm) == list(range(30))
    for old, new in ((X_train, new_train), (X_test, new_test)):
        assert new.shape == old.shape and new.dtype == old.dtype
        flat_old, flat_new = old.reshape(len(old), 30, 3), new.reshape(len(new), 30, 3)
        np.testing.assert_array_equal(flat_new, flat_old[:, perm])  # channels move together


def test_random_pixels_permute_each_image_independently():
    # Every image holds the values 0..63 once, so its permutation can be read off it.
    base = np.arange(64, dtype=np.uint8).reshape(8, 8)
    X = np.repeat(base[None], 30, axis=0)
    new_train, new_test = random_pixels(X, X[:10], seed=4)
    perms = {tuple(img.ravel()) for img in new_train}
    assert len(perms) == 30  # all different
    for img in np.concatenate([new_train, new_test]):
        np.testing.assert_array_equal(np.sort(img.ravel()), np.arange(64))
    again, _ = random_pixels(X, X[:10], seed=4)
    np.testing.assert_array_equal(again, new_train)


def test_gaussian_images_match_mean_and_variance():
    rng = np.random.default_rng(9)
    X_train = rng.integers(0, 200, size=(400, 16, 16, 3), dtype=np.uint8)
    new_train, new_test, stats = gaussian_images(X_train, X_train[:50], seed=1)
    assert new_train.dtype == np.float32 and new_train.shape == X_train.shape
    assert new_test.shape == (50, 16, 16, 3)
    mean, std = X_train.mean(), X_train.std()
    assert stats == pytest.approx({"mean": mean, "std": std})
    m = new_train.size
    assert abs(new_train.mean() - mean) < 5 * std / np.sqrt(m)
    assert new_train.std() == pytest.approx(std, rel=5 * np.sqrt(2 / m))
    assert new_test.mean() == pytest.approx(mean, abs=5 * std / np.sqrt(new_test.size))


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_inputs_are_never_modified(images, name):
    X_train, X_test = images
    y_train = np.arange(40) % 10
    y_test = np.arange(15) % 10
    copies = [a.copy() for a in (X_train, y_train, X_test, y_test)]
    out = corrupt(name, X_train, y_train, X_test, y_test, p=0.5, seed=0)
    for original, copy in zip((X_train, y_train, X_test, y_test), copies, strict=True):
        np.testing.assert_array_equal(original, copy)
    for new, old in ((out.X_train, X_train), (out.y_train, y_train), (out.X_test, X_test),
                     (out.y_test, y_test)):
        assert not np.shares_memory(new, old)
    np.testing.assert_array_equal(out.y_test, y_test)  # test labels stay true
    np.testing.assert_array_equal(out.labels_changed, out.y_train != y_train)


def test_corrupt_rejects_bad_input(images):
    X_train, X_test = images
    y_train, y_test = np.zeros(40, dtype=np.int64), np.zeros(15, dtype=np.int64)
    with pytest.raises(ValueError, match="corruption must be one of"):
        corrupt("flipped", X_train, y_train, X_test, y_test)
    with pytest.raises(ValueError, match="same number of rows"):
        corrupt("random_labels", X_train, y_train[:-1], X_test, y_test)
    with pytest.raises(ValueError, match="same shape"):
        corrupt("shuffled_pixels", X_train, y_train, X_test[:, :5], y_test)
    with pytest.raises(ValueError, match="needs p"):
        corrupt("partial_labels", X_train, y_train, X_test, y_test)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        corrupt("partial_labels", X_train, y_train, X_test, y_test, p=2.0)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        corrupt("true_labels", X_train.reshape(40, -1), y_train, X_test, y_test)
