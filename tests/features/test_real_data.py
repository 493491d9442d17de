"""Slow end-to-end checks on real MNIST and CIFAR-10 subsets (skipped without the data)."""

import numpy as np
import pytest
from scipy.linalg import cho_factor, cho_solve

from kernelfit.features import (
    GaborTransform,
    RandomConvFeatures,
    gaussian_gram_from_linear,
    median_bandwidth_from_gram,
)

pytestmark = pytest.mark.slow


def _load(name):
    from kernelfit import datasets
    from kernelfit.datasets.errors import DatasetNotFoundError

    loader = {"mnist": datasets.load_mnist, "cifar10": datasets.load_cifar10}[name]
    try:
        return loader(download=False)
    except DatasetNotFoundError as error:  # no copy here (set KERNELFIT_DATA); any other
        pytest.skip(f"{name} not found: {error}")  # error (a bad copy) fails the test


def _subset(data, n_train, n_test):
    rng = np.random.default_rng(0)
    train = np.sort(rng.permutation(len(data.y_train))[:n_train])
    test = np.sort(rng.permutation(len(data.y_test))[:n_test])
    return data.X_train[train], data.y_train[train], data.X_test[test], data.y_test[test]


def _interpolation_error(train, cross, y_train, y_test, factor):
    """Exact Gaussian interpolation from linear Grams; returns the test error."""
    sigma = factor * median_bandwidth_from_gram(train.gram, train.row_sq_norms)
    K = gaussian_gram_from_linear(train.gram, train.row_sq_norms, bandwidth=sigma,
                                  out=np.empty_like(train.gram))
    alpha = cho_solve(cho_factor(K, lower=True), np.eye(10)[y_train])
    K_test = gaussian_gram_from_linear(cross.gram, cross.row_sq_norms, cross.col_sq_norms,
                                       bandwidth=sigma, out=np.empty_like(cross.gram))
    return float(np.mean(np.argmax(K_test @ alpha, axis=1) != y_test))


def _linear_grams(F_train, F_test):
    from kernelfit.features import StreamedGram

    F_train, F_test = F_train.astype(np.float64), F_test.astype(np.float64)
    norms_train, norms_test = (F_train**2).sum(1), (F_test**2).sum(1)
    train = StreamedGram(F_train @ F_train.T.copy(), norms_train, norms_train)
    return train, StreamedGram(F_test @ F_train.T, norms_test, norms_train)


def test_gabor_features_beat_pixels_on_mnist():
    X, y, Xt, yt = _subset(_load("mnist"), 3000, 2000)
    pixels = _interpolation_error(*_linear_grams(X.reshape(3000, -1) / 255.0,
                                                 Xt.reshape(2000, -1) / 255.0), y, yt, 0.7)
    gabor = GaborTransform().fit(X)
    features = _interpolation_error(*_linear_grams(gabor.transform(X), gabor.transform(Xt)),
                                    y, yt, 2.0)
    assert features < 0.6 * pixels, (features, pixels)


def test_random_conv_features_beat_pixels_on_cifar10():
    X, y, Xt, yt = _subset(_load("cifar10"), 2000, 1000)
    pixels = _interpolation_error(*_linear_grams(X.reshape(2000, -1) / 255.0,
                                                 Xt.reshape(1000, -1) / 255.0), y, yt, 0.35)
    f = RandomConvFeatures(n_filters=500, memory_budget="1GiB").fit(X)
    train, cross = f.accumulate_train_test_grams(X, Xt)
    features = _interpolation_error(train, cross, y, yt, 2.0)
    assert features < pixels - 0.08, (features, pixels)
