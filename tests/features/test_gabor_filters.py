"""The Morlet filter bank: normalization, zero mean, orientation, scale."""

import numpy as np
import pytest

from kernelfit.features import build_gabor_filter_bank


@pytest.fixture(scope="module")
def bank():
    return build_gabor_filter_bank((64, 64), n_scales=3, n_orientations=8)


def test_shapes_and_parameters(bank):
    assert bank.band_pass.shape == (3, 8, 64, 64)
    assert bank.low_pass.shape == (64, 64)
    np.testing.assert_allclose(bank.sigmas, [0.8, 1.6, 3.2])
    np.testing.assert_allclose(bank.frequencies, 3 * np.pi / 4 / np.array([1, 2, 4]))
    np.testing.assert_allclose(bank.orientations, np.pi * np.arange(8) / 8)
    assert bank.averaging_sigma == pytest.approx(0.8 * 2**3)


def test_band_pass_filters_peak_at_one_and_have_zero_mean(bank):
    peaks = np.abs(bank.band_pass).max(axis=(2, 3))
    np.testing.assert_allclose(peaks, 1.0, rtol=1e-12)
    assert np.all(bank.band_pass[:, :, 0, 0] == 0)
    spatial, _ = bank.spatial()
    assert np.abs(spatial.sum(axis=(2, 3))).max() < 1e-12


def test_low_pass_sums_to_one_and_is_real_symmetric(bank):
    _, low = bank.spatial()
    assert low.sum() == pytest.approx(1.0, abs=1e-12)
    assert bank.low_pass[0, 0] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(low, np.roll(low[::-1, ::-1], (1, 1), axis=(0, 1)), atol=1e-15)
    assert low.min() > 0


def _grating_spectrum(size, frequency, theta):
    """Power spectrum of cos(<k, u>) with k rounded to the DFT grid nearest (frequency, theta)."""
    k = np.rint(frequency * size / (2 * np.pi) * np.array([np.cos(theta), np.sin(theta)]))
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    image = np.cos(2 * np.pi * (k[0] * rows + k[1] * cols) / size)
    return np.abs(np.fft.fft2(image)) ** 2


@pytest.mark.parametrize("scale", [0, 1])
def test_response_to_a_grating_is_largest_at_its_own_orientation(bank, scale):
    for l, theta in enumerate(bank.orientations):
        power = _grating_spectrum(64, bank.frequencies[scale], theta)
        energy = (power[None] * np.abs(bank.band_pass[scale]) ** 2).sum(axis=(1, 2))
        assert int(np.argmax(energy)) == l


def test_response_to_a_grating_is_largest_at_its_own_scale(bank):
    for j, frequency in enumerate(bank.frequencies):
        power = _grating_spectrum(64, frequency, 0.0)
        energy = (power[None] * np.abs(bank.band_pass[:, 0]) ** 2).sum(axis=(1, 2))
        assert int(np.argmax(energy)) == j


def test_periodized_filters_are_translation_consistent():
    # On a grid several times the envelope, the spatial filter is concentrated at the origin.
    bank = build_gabor_filter_bank((32, 32), n_scales=1, n_orientations=4)
    spatial, _ = bank.spatial()
    magnitude = np.abs(np.fft.fftshift(spatial[0, 0]))
    assert np.unravel_index(np.argmax(magnitude), magnitude.shape) == (16, 16)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shape": (1, 28)}, "shape must be"),
        ({"shape": (28, 28), "n_scales": 0}, "n_scales"),
        ({"shape": (28, 28), "n_orientations": 2.5}, "n_orientations"),
        ({"shape": (28, 28), "slant": 0.0}, "slant"),
    ],
)
def test_bad_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_gabor_filter_bank(**kwargs)
