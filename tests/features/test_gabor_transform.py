"""GaborTransform against a direct (non-FFT) circular convolution, and its API."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import make_pipeline

from kernelfit.features import GaborTransform


def circular_convolution(image, kernel):
    """(x * h)[u] = sum_v h[v] x[u - v] on a periodic grid, by explicit shifts (no FFT)."""
    out = np.zeros(image.shape, dtype=np.result_type(image, kernel))
    for a in range(kernel.shape[0]):
        for b in range(kernel.shape[1]):
            if kernel[a, b] != 0:
                out += kernel[a, b] * np.roll(image, (a, b), axis=(0, 1))
    return out


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(3, 16, 16)).astype(np.uint8)


def test_first_order_matches_direct_convolution(images):
    g = GaborTransform(n_scales=2, n_orientations=4, averaging_scale=2, max_order=1,
                       dtype="float64", device="cpu").fit(images)
    features = g.transform(images).reshape(3, 1 + 2 * 4, 4, 4)
    psi, phi = g.filter_bank_.spatial()
    for i, x in enumerate(images.astype(np.float64)):
        np.testing.assert_allclose(features[i, 0], circular_convolution(x, phi)[::4, ::4],
                                   rtol=1e-10, atol=1e-9)
        for j in range(2):
            for l in range(4):
                modulus = np.abs(circular_convolution(x, psi[j, l]))
                expected = circular_convolution(modulus, phi)[::4, ::4]
                np.testing.assert_allclose(features[i, 1 + 4 * j + l], expected,
                                           rtol=1e-10, atol=1e-9)


def test_second_order_matches_direct_convolution(images):
    g = GaborTransform(n_scales=2, n_orientations=2, averaging_scale=1, max_order=2,
                       dtype="float64", device="cpu").fit(images)
    maps = g.transform(images[:1]).reshape(1 + 4 + 4, 8, 8)
    psi, phi = g.filter_bank_.spatial()
    x = images[0].astype(np.float64)
    for t1 in range(2):
        first = np.abs(circular_convolution(x, psi[0, t1]))
        for t2 in range(2):
            second = np.abs(circular_convolution(first, psi[1, t2]))
            expected = circular_convolution(second, phi)[::2, ::2]
            np.testing.assert_allclose(maps[5 + 2 * t1 + t2], expected, rtol=1e-10, atol=1e-9)


def test_float32_agrees_with_float64(images):
    f64 = GaborTransform(dtype="float64", device="cpu").fit(images).transform(images)
    f32 = GaborTransform(dtype="float32", device="cpu").fit(images).transform(images)
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, f64, rtol=1e-4, atol=1e-4 * np.abs(f64).max())


def test_circular_shift_by_the_subsampling_factor_shifts_the_output():
    rng = np.random.default_rng(1)
    x = rng.random((1, 28, 28))
    g = GaborTransform(dtype="float64", device="cpu").fit(x)  # subsample 4, 7 x 7 maps
    before = g.transform(x).reshape(127, 7, 7)
    after = g.transform(np.roll(x, (4, 8), axis=(1, 2))).reshape(127, 7, 7)
    np.testing.assert_allclose(after, np.roll(before, (1, 2), axis=(1, 2)), rtol=1e-10,
                               atol=1e-12)


def test_shapes_defaults_padding_and_channels():
    grey = np.zeros((2, 28, 28), dtype=np.uint8)
    g = GaborTransform().fit(grey)
    assert g.grid_shape_ == (28, 28)
    assert g.n_features_out_ == (1 + 3 * 6 + 36 * 3) * 7 * 7 == 6223
    assert g.transform(grey).shape == (2, 6223)
    first = GaborTransform(n_orientations=8, max_order=1).fit(grey)
    assert first.n_features_out_ == 25 * 49 == 1225
    padded = first.set_params(padding=2).fit(grey)  # 32 x 32 grid, 8 x 8 maps
    assert padded.grid_shape_ == (32, 32) and padded.n_features_out_ == 25 * 64
    colour = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    colour_map = GaborTransform(n_orientations=8, max_order=1).fit(colour)
    assert colour_map.transform(colour).shape == (2, 3 * 25 * 64)
    rows = grey.reshape(2, -1)
    np.testing.assert_array_equal(g.transform(rows), g.transform(grey))
    odd = GaborTransform(averaging_scale=3, max_order=1).fit(grey)  # subsample 8: grid 32
    assert odd.grid_shape_ == (32, 32) and odd.n_features_out_ == 19 * 16


def test_deterministic_and_homogeneous(images):
    g = GaborTransform(device="cpu").fit(images)
    first, again = g.transform(images), g.transform(images)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(g.transform(images / 2.0), first / 2, rtol=1e-5, atol=1e-3)


def test_batches_and_progress(images):
    events = []
    g = GaborTransform(batch_size=2, device="cpu", progress=events.append).fit(images)
    one = clone(g).set_params(batch_size=100, progress=None).fit(images)
    np.testing.assert_array_equal(g.transform(images), one.transform(images))
    assert events[-1].finished and events[-1].done == 3 and events[-1].unit == "images"


def test_in_a_pipeline():
    rng = np.random.default_rng(2)
    X = rng.random((40, 16, 16))
    X[20:, 4:12, 7:9] += 2.0  # a vertical bar in class 1
    y = np.repeat([0, 1], 20)
    model = make_pipeline(GaborTransform(n_scales=2, device="cpu"), RidgeClassifier()).fit(X, y)
    assert model.score(X, y) == 1.0


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros((2, 20, 20)), r"images of shape \(height, width, channels\)=\(16, 16, 1\)"),
        (np.zeros((2, 16, 16, 3)), "channels"),
        (np.zeros((2, 17)), r"17 features, but it is expecting 256 features as input: rows "
                            r"of image_shape=\(16, 16, 1\) flattened"),
        (np.zeros(5), "must be images of shape"),
        (np.full((1, 16, 16), np.nan), "NaN"),
        (np.zeros((2, 16, 16), dtype=complex), "real numbers"),
    ],
)
def test_bad_input_is_refused_clearly(images, X, message):
    g = GaborTransform(device="cpu").fit(images)
    with pytest.raises((ValueError, TypeError), match=message):
        g.transform(X)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_scales": 0}, "n_scales"),
        ({"max_order": 3}, "max_order"),
        ({"dtype": "float16"}, "dtype"),
        ({"subsample": 0}, "subsample"),
    ],
)
def test_bad_parameters_are_refused(images, params, message):
    with pytest.raises(ValueError, match=message):
        GaborTransform(**params).fit(images)


def test_unflattening_needs_a_square_or_an_image_shape():
    with pytest.raises(ValueError, match="cannot tell the image shape of rows with 17 values"):
        GaborTransform().fit(np.zeros((2, 17)))
    g = GaborTransform(image_shape=(16, 8), n_scales=2, averaging_scale=1).fit(np.zeros((2, 128)))
    assert g.image_shape_ == (16, 8, 1)


def test_transform_before_fit_is_refused(images):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        GaborTransform().transform(images)


@pytest.mark.gpu
def test_cupy_matches_numpy(images):
    cpu = GaborTransform(device="cpu").fit(images).transform(images)
    gpu = GaborTransform(device="cuda").fit(images).transform(images)
    assert isinstance(gpu, np.ndarray)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-3)


def test_torch_images_are_copied_to_the_host(images):
    torch = pytest.importorskip("torch")
    g = GaborTransform(device="cpu").fit(images)
    np.testing.assert_array_equal(g.transform(torch.from_numpy(images)), g.transform(images))
