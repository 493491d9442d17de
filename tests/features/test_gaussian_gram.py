"""Linear Gram -> Gaussian Gram in place, and the median heuristic from a Gram."""

import numpy as np
import pytest
from sklearn.metrics.pairwise import rbf_kernel

from kernelfit.features import gaussian_gram_from_linear, median_bandwidth_from_gram


@pytest.fixture
def features(rng):
    return rng.standard_normal((1500, 20)), rng.standard_normal((40, 20))


def test_symmetric_gaussian_gram_matches_sklearn_in_place(features):
    X, _ = features
    G = X @ X.T.copy()
    result = gaussian_gram_from_linear(G, (X * X).sum(1), bandwidth=3.0)
    assert result is G  # in place, several row blocks
    np.testing.assert_allclose(G, rbf_kernel(X, gamma=1 / (2 * 9.0)), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(np.diag(G), 1.0)


def test_cross_gram_into_a_float32_memmap(features, tmp_path):
    X, Z = features
    out = np.lib.format.open_memmap(tmp_path / "k.npy", mode="w+", dtype=np.float32,
                                    shape=(1500, 40))
    gaussian_gram_from_linear(X @ Z.T, (X * X).sum(1), (Z * Z).sum(1), bandwidth=2.5, out=out)
    np.testing.assert_allclose(out, rbf_kernel(X, Z, gamma=1 / 12.5), rtol=1e-6, atol=1e-7)


def test_shape_and_bandwidth_errors(features):
    X, Z = features
    with pytest.raises(ValueError,
                       match=r"shapes \(1500,\) and \(40,\).*found \(1500,\) and \(39,\)"):
        gaussian_gram_from_linear(X @ Z.T, (X * X).sum(1), np.ones(39), bandwidth=1.0)
    with pytest.raises(ValueError, match="symmetric Gram must be square"):
        gaussian_gram_from_linear(X @ Z.T, (X * X).sum(1), bandwidth=1.0)
    with pytest.raises(ValueError, match="bandwidth must be > 0"):
        gaussian_gram_from_linear(Z @ Z.T, (Z * Z).sum(1), bandwidth=0.0)


def test_median_bandwidth_matches_the_kernels_module(features):
    from kernelfit.kernels import median_bandwidth

    X, _ = features
    G = X @ X.T.copy()
    ours = median_bandwidth_from_gram(G, np.diag(G).copy(), sample=300, seed=5)
    assert ours == pytest.approx(median_bandwidth(X, sample=300, seed=5), rel=1e-10)
