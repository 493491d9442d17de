"""DiscreteWaveletTransform (PyWavelets) features."""

import numpy as np
import pytest
import pywt

from kernelfit.features import DiscreteWaveletTransform


def test_features_are_the_approximation_and_pooled_detail_moduli(rng):
    X = rng.random((3, 28, 28)) * 255
    d = DiscreteWaveletTransform(wavelet="haar", level=2).fit(X)
    assert d.coarse_shape_ == (7, 7) and d.n_features_out_ == 7 * 49
    F = d.transform(X).reshape(3, 7, 7, 7)
    approx, level2, level1 = pywt.wavedec2(X[0], "haar", level=2, mode="periodization")
    np.testing.assert_allclose(F[0, 0], approx, rtol=1e-6)
    np.testing.assert_allclose(F[0, 1], np.abs(level2[0]), rtol=1e-6)
    pooled = np.abs(level1[2]).reshape(7, 2, 7, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(F[0, 6], pooled, rtol=1e-6)


def test_colour_images_and_errors(rng):
    X = rng.random((2, 16, 16, 3))
    d = DiscreteWaveletTransform(level=1).fit(X)
    assert d.transform(X).shape == (2, 3 * 4 * 64)
    with pytest.raises(ValueError, match="channels"):
        d.transform(X[..., 0])
    with pytest.raises(ValueError, match="discrete PyWavelets wavelet"):
        DiscreteWaveletTransform(wavelet="morl").fit(X)
    with pytest.raises(ValueError, match="level=5 needs images of at least 32"):
        DiscreteWaveletTransform(level=5).fit(X)
