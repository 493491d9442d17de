"""Feature maps and the streamed Gram on an emulated device (array-api-strict's ``device1``).

See :mod:`tests.backend.emulated_device`: any host copy that does not go through
a backend's explicit ``to_numpy`` fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernelfit as kf
from kernelfit.backend import backend_for

from .emulated_device import (  # noqa: F401 (strict_devices is a fixture)
    DEVICE,
    gaussian_reference,
    host,
    on_device,
    strict_devices,
    tolerance,
)

pytestmark = pytest.mark.usefixtures("strict_devices")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gabor_transform_stays_on_the_device(rng, dtype):
    from kernelfit.features import GaborTransform

    images = rng.random((5, 12, 12, 2))
    transform = GaborTransform(n_scales=2, max_order=2, dtype=dtype, batch_size=2).fit(images)
    features = transform.transform(on_device(images))
    assert features.device == DEVICE
    assert str(features.dtype).endswith(dtype)
    np.testing.assert_allclose(host(features), transform.transform(images),
                               **tolerance(np.dtype(dtype)))


def test_patch_encoder_on_the_device(rng):
    """The random-convolution encoding: the array-API path on ``device1`` against the
    in-place NumPy path, and the NumPy path against a direct loop over patches."""
    from array_api_compat import array_namespace

    from kernelfit.features.conv_encoding import PatchEncoder

    images = rng.random((3, 9, 9, 2)) * 255
    d, k = 3 * 3 * 2, 5
    filters, offsets = rng.standard_normal((d, k)), rng.standard_normal(k)
    args = (filters, offsets, 0.25, (9, 9, 2), 3, 2, 10.0, 2, np.float64, 2)
    reference = PatchEncoder(np, *args).encode(images, np.empty((3, k, 2, 4)))
    xp = array_namespace(on_device(images))
    encoder = PatchEncoder(xp, *args, device=DEVICE)
    out = xp.zeros((3, k, 2, 4), dtype=xp.float64, device=DEVICE)
    features = encoder.encode(on_device(images), out)
    assert features.device == DEVICE
    np.testing.assert_allclose(host(features), reference, rtol=1e-12, atol=1e-10)
    # Independent check of one image, filter and sign: soft threshold, summed per quadrant.
    patches = np.array([images[0, r:r + 3, c:c + 3, :].ravel()
                        for r in range(0, 7, 2) for c in range(0, 7, 2)])
    patches -= patches.mean(axis=1, keepdims=True)
    patches /= np.sqrt(patches.var(axis=1, ddof=1, keepdims=True) + 10.0)
    z = patches @ filters[:, 1] + offsets[1]
    positive = np.maximum(z - 0.25, 0).reshape(4, 4)
    quadrants = [positive[:2, :2].sum(), positive[:2, 2:].sum(),
                 positive[2:, :2].sum(), positive[2:, 2:].sum()]
    np.testing.assert_allclose(reference[0, 1, 0], quadrants, rtol=1e-10, atol=1e-12)


def test_gaussian_from_a_linear_gram_on_the_device(rng):
    from kernelfit.features import gaussian_gram_from_linear

    F, H = rng.standard_normal((30, 7)), rng.standard_normal((12, 7))
    G = on_device(H @ F.T)
    out = gaussian_gram_from_linear(G, (H * H).sum(1), (F * F).sum(1), bandwidth=2.5)
    assert out is G and out.device == DEVICE
    np.testing.assert_allclose(host(out), gaussian_reference(H, F, 2.5), rtol=1e-12)


def test_streamed_gaussian_tiles_stay_on_the_device(rng):
    """The streamed path turns linear tiles into Gaussian ones where they live."""
    from kernelfit.linalg import PackedStorage
    from kernelfit.streamed.kernel_tiles import gaussian_tiles

    F = rng.standard_normal((50, 6))
    Fd = on_device(F)
    storage = PackedStorage(50, 16, np.float64, backend_for(Fd))
    kf.gram(Fd, kernel="linear", out=storage)
    gaussian_tiles(storage, on_device((F * F).sum(1)), 1.5)
    assert storage.tile(3, 1).device == DEVICE
    np.testing.assert_allclose(storage.to_dense(), gaussian_reference(F, F, 1.5), rtol=1e-12,
                               atol=1e-14)


def test_overlapping_pooling_windows_on_the_device(rng):
    """3 x 3 overlapping windows (CIFAR-10's default layout) stay on ``device1`` and
    agree with the NumPy path, which the naive loop of test_conv_encoding checks."""
    from array_api_compat import array_namespace

    from kernelfit.features.conv_encoding import PatchEncoder

    images = rng.random((2, 11, 11, 1)) * 255
    filters, offsets = rng.standard_normal((9, 4)), rng.standard_normal(4)
    args = (filters, offsets, 0.25, (11, 11, 1), 3, 1, 10.0, 2, np.float64, 2)
    reference = PatchEncoder(np, *args, pooling_window=(5, 2)).encode(
        images, np.empty((2, 4, 2, 9)))
    xp = array_namespace(on_device(images))
    encoder = PatchEncoder(xp, *args, device=DEVICE, pooling_window=(5, 2))
    out = xp.zeros((2, 4, 2, 9), dtype=xp.float64, device=DEVICE)
    features = encoder.encode(on_device(images), out)
    assert features.device == DEVICE
    np.testing.assert_allclose(host(features), reference, rtol=1e-12, atol=1e-10)
