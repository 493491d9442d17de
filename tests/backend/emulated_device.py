"""Helpers for the tests on an emulated device (array-api-strict's ``device1``).

array-api-strict refuses to mix arrays of different devices and to turn an
array that is not on its default device into NumPy (``np.asarray``). The
``strict_devices`` fixture also makes ``__dlpack__`` refuse such arrays, so
any copy to the host that does not go through a backend's explicit
``to_numpy`` (which moves the array to the default device first) fails.
This is how the GPU paths stay free of silent host round trips without a GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from kernelfit.backend import to_numpy

xps = pytest.importorskip("array_api_strict")
DEVICE = xps.Device("device1")
DEFAULT = xps.__array_namespace_info__().default_device()


@pytest.fixture
def strict_devices(monkeypatch):
    """Arrays off the default device refuse ``__dlpack__`` (a silent host copy)."""
    from array_api_strict._array_object import Array

    original = Array.__dlpack__

    def guarded(self, *args, **kwargs):
        if self.device != DEFAULT:
            raise RuntimeError(f"silent host copy of an array on {self.device}")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Array, "__dlpack__", guarded)


def on_device(a):
    """``a`` on ``device1`` (an explicit host -> device copy)."""
    return xps.asarray(np.asarray(a), device=DEVICE)


def host(a):
    """Explicit copy for the comparisons (through the backend's only host path)."""
    return to_numpy(a)


def gaussian_reference(X, Z, sigma):
    """SciPy's Gaussian Gram, the independent reference."""
    return np.exp(-cdist(X, Z, "sqeuclidean") / (2 * sigma**2))


def tolerance(dtype):
    """Comparison tolerances for a float dtype."""
    return {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
