"""The public numerics on a second, emulated device (array-api-strict's ``device1``).

See :mod:`tests.backend.emulated_device`: any host copy that does not go through
a backend's explicit ``to_numpy`` fails here. Every result is checked against
NumPy/SciPy and for the device it lives on.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import kernelfit as kf
from kernelfit.backend import backend_for

from .emulated_device import (  # noqa: F401 (strict_devices is a fixture)
    DEVICE,
    gaussian_reference,
    host,
    on_device,
    strict_devices,
    tolerance,
    xps,
)

pytestmark = pytest.mark.usefixtures("strict_devices")


def test_the_fixture_catches_a_silent_host_copy():
    x = on_device(np.ones(3))
    with pytest.raises(RuntimeError, match="silent host copy"):
        np.from_dlpack(x)
    with pytest.raises((RuntimeError, ValueError)):
        np.asarray(x)
    np.testing.assert_array_equal(host(x), np.ones(3))  # the explicit path works


def test_backend_for_keeps_the_device():
    backend = backend_for(on_device(np.ones((2, 2))))
    assert backend.array_device == DEVICE
    assert backend.asarray(np.zeros(3)).device == DEVICE  # explicit host -> device
    assert backend.zeros((2,), np.float64).device == DEVICE
    assert backend_for(np.ones(2), backend) is backend  # a resolved backend passes through


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gram_stays_on_the_device(rng, dtype):
    X = rng.standard_normal((37, 5)).astype(dtype)
    Z = rng.standard_normal((11, 5)).astype(dtype)
    K = kf.gram(on_device(X), bandwidth=1.7, block_size=16)
    KZ = kf.gram(on_device(X), on_device(Z), bandwidth=1.7, block_size=16)
    assert K.device == DEVICE and KZ.device == DEVICE
    np.testing.assert_allclose(host(K), gaussian_reference(X, X, 1.7), **tolerance(dtype))
    np.testing.assert_allclose(host(KZ), gaussian_reference(X, Z, 1.7), **tolerance(dtype))


def test_large_jobs_on_the_device_keep_the_device_passes(rng, monkeypatch):
    """The compiled distance pass is for NumPy blocks: a job past its threshold on
    another device neither loads it nor leaves that device."""
    from kernelfit import host_kernel_blocks

    monkeypatch.setattr(host_kernel_blocks, "COMPILED_PASS_ENTRIES", 1)
    monkeypatch.setattr(host_kernel_blocks, "_use_compiled_pass", False)
    X, V = rng.standard_normal((30, 4)), rng.standard_normal((30, 2))
    K = kf.gram(on_device(X), bandwidth=1.7, block_size=8)
    KV = kf.kernel_matvec(on_device(X), on_device(X), on_device(V), bandwidth=1.7,
                          block_size=8)
    assert K.device == DEVICE and KV.device == DEVICE
    assert not host_kernel_blocks._use_compiled_pass
    np.testing.assert_allclose(host(K), gaussian_reference(X, X, 1.7), rtol=1e-10)
    np.testing.assert_allclose(host(KV), gaussian_reference(X, X, 1.7) @ V, rtol=1e-10)


def test_gram_with_the_median_bandwidth_on_the_device(rng):
    X = rng.standard_normal((20, 3))
    K = kf.gram(on_device(X))
    assert K.device == DEVICE
    np.testing.assert_allclose(host(K), kf.gram(X), rtol=1e-12)


def test_kernel_matvec_stays_on_the_device(rng):
    X, Z = rng.standard_normal((30, 4)), rng.standard_normal((25, 4))
    V = rng.standard_normal((25, 3))
    out = kf.kernel_matvec(on_device(X), on_device(Z), on_device(V), bandwidth=2.0,
                           block_size=8)
    assert out.device == DEVICE
    np.testing.assert_allclose(host(out), gaussian_reference(X, Z, 2.0) @ V, rtol=1e-10)


@pytest.mark.parametrize("dtype,reg", [(np.float32, 0.0), (np.float64, 0.0), (np.float64, 0.3)])
def test_solve_stays_on_the_device(rng, dtype, reg):
    X = rng.standard_normal((40, 6))
    K = gaussian_reference(X, X, 2.0) + 1e-3 * np.eye(40)
    y = rng.standard_normal((40, 2))
    alpha = kf.solve(on_device(K.astype(dtype)), on_device(y.astype(dtype)), reg=reg,
                     tile_size=16)
    assert alpha.device == DEVICE
    expected = scipy.linalg.solve(K.astype(dtype).astype(np.float64) + reg * np.eye(40), y)
    rtol = 2e-3 if dtype == np.float32 else 1e-8  # float32: cond(K) ~ 1e3
    np.testing.assert_allclose(host(alpha), expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_mixed_precision_refinement_from_device_data(rng):
    """A float32 factor on the device, corrected to float64 accuracy; the n x c
    refinement vectors go through the backend's explicit host copies."""
    from kernelfit.linalg import PackedStorage, tiled_cholesky
    from kernelfit.solvers.mixed import refine_solution

    X = rng.standard_normal((48, 5))
    y = rng.standard_normal(48)
    Xd = on_device(X)
    backend = backend_for(Xd)
    kernel = kf.make_kernel("gaussian", bandwidth=2.0)
    storage = PackedStorage(48, 16, np.float32, backend)
    kf.gram(xps.astype(Xd, xps.float32), kernel=kernel, out=storage)
    assert storage.tile(0, 0).device == DEVICE
    storage.add_to_diagonal(0.1)
    tiled_cholesky(storage)
    alpha, info = refine_solution(storage, Xd, on_device(y), kernel, reg=0.1)
    expected = scipy.linalg.solve(gaussian_reference(X, X, 2.0) + 0.1 * np.eye(48), y)
    np.testing.assert_allclose(host(alpha), expected, rtol=1e-9, atol=1e-11)
    assert info.residuals[-1] < 1e-12


def test_lu_fallback_copies_explicitly_and_returns_to_the_device(rng):
    K = np.array([[1.0, 2.0], [2.0, 1.0]])  # indefinite: the Cholesky fails
    y = np.array([1.0, 0.0])
    with pytest.warns(kf.solvers.SolverFallbackWarning):
        alpha = kf.solve(on_device(K), on_device(y))
    assert alpha.device == DEVICE
    np.testing.assert_allclose(host(alpha), np.linalg.solve(K, y), rtol=1e-12)


def test_rkhs_norm_from_device_arrays(rng):
    X = rng.standard_normal((30, 4))
    alpha = rng.standard_normal((30, 2))
    K = gaussian_reference(X, X, 1.5)
    expected = np.sqrt(np.trace(alpha.T @ K @ alpha))
    assert kf.rkhs_norm(on_device(alpha), on_device(K)) == pytest.approx(expected, rel=1e-12)
    norm = kf.rkhs_norm(on_device(alpha), X=on_device(X), bandwidth=1.5, block_size=8)
    assert norm == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("method", ["dual", "pinv", "lstsq"])
def test_min_norm_stays_on_the_device(rng, method):
    X = rng.standard_normal((8, 20))
    y = rng.standard_normal(8)
    result = kf.min_norm(on_device(X), on_device(y), method=method)
    assert result.w.device == DEVICE
    expected = np.linalg.lstsq(X, y, rcond=None)[0]  # the minimum-norm solution
    np.testing.assert_allclose(host(result.w), expected, rtol=1e-8, atol=1e-10)
    assert result.rank == 8
    assert result.residual < 1e-10


def test_phase_timer_synchronizes_before_and_after():
    from kernelfit.backend import Backend

    calls = []

    class Recording(Backend):
        def synchronize(self):
            calls.append("sync")

    backend, timings = Recording(xps, DEVICE), {}
    with backend.timed(timings, "gram"):
        calls.append("work")
    with backend.timed(timings, "gram"):
        pass
    assert calls == ["sync", "work", "sync", "sync", "sync"]
    assert set(timings) == {"gram"} and timings["gram"] >= 0.0


def test_median_bandwidth_copies_only_the_sample(rng, monkeypatch):
    """Only the sampled rows reach the host (explicitly); the value matches NumPy's."""
    from kernelfit.backend import Backend
    from kernelfit.kernels import median_bandwidth

    copied = []
    original = Backend.to_numpy

    def recording(self, a):
        copied.append(tuple(a.shape))
        return original(self, a)

    monkeypatch.setattr(Backend, "to_numpy", recording)
    X = rng.standard_normal((300, 4))
    assert median_bandwidth(on_device(X), sample=50) == median_bandwidth(X, sample=50)
    assert copied == [(50, 4)]


def test_auto_precision_is_mixed_on_the_cpu_and_float64_on_a_device():
    from kernelfit.backend import Backend, resolve_device, resolve_precision

    assert resolve_precision("auto", resolve_device("cpu")) == "mixed"
    assert resolve_precision("auto", Backend(xps, DEVICE)) == "float64"
    assert resolve_precision("float32", Backend(xps, DEVICE)) == "float32"
    with pytest.raises(ValueError, match="precision must be one of 'auto', 'float64', "
                                         "'float32', 'mixed'; found 'half'"):
        resolve_precision("half", resolve_device("cpu"))


def test_host_only_interpolants_copy_device_inputs_explicitly(rng):
    """LAPACK-only routines say so and copy through the backend (no silent copy)."""
    X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    on_host = kf.random_centers_interpolant(X, y, bandwidth=1.5, n_centers=40)
    from_device = kf.random_centers_interpolant(on_device(X), on_device(y), bandwidth=1.5,
                                                n_centers=40)
    np.testing.assert_array_equal(from_device.coef, on_host.coef)
    np.testing.assert_array_equal(from_device.predict(on_device(X)), on_host.predict(X))


@pytest.mark.parametrize("dtype", ["float64", "float32", "mixed"])
@pytest.mark.parametrize("keep_kernel", ["auto", False])
def test_solve_pipeline_keeps_its_tiles_on_the_device(rng, dtype, keep_kernel):
    """Tiles, factor and kept K live on the device; only the n x c vectors (alpha,
    K alpha, refinement residuals) cross to the host, through the backend."""
    from kernelfit.linalg import PackedStorage
    from kernelfit.linalg.tile_matvec import copy_tiles
    from kernelfit.solvers import KernelGramSource, StoredGramSource, solve_kernel_system

    X, Y = rng.standard_normal((48, 5)), rng.standard_normal((48, 2))
    K = gaussian_reference(X, X, 2.0)
    storage_dtype = np.float64 if dtype == "float64" else np.float32
    Ks = K.astype(storage_dtype).astype(np.float64)  # what the stored tiles hold
    rtol = 2e-4 if dtype == "float32" else 1e-9  # float32: cond(K + 0.1 I) ~ 1e2
    backend = backend_for(on_device(X))
    source = KernelGramSource(X, kf.make_kernel("gaussian", bandwidth=2.0), device=backend,
                              tile_size=16, keep_kernel=keep_kernel)
    assert source.data.device == DEVICE
    tiles = PackedStorage(48, 16, storage_dtype, backend)
    kf.gram(source.data, kernel=source.kernel, out=tiles)
    assert tiles.tile(2, 0).device == DEVICE
    stored = StoredGramSource(tiles, copy_tiles(tiles), fallback_budget=2**30)
    for sol, matrix in ((solve_kernel_system(source, Y, reg=0.1, dtype=dtype), K),
                        (solve_kernel_system(stored, Y, reg=0.1, dtype=dtype), Ks)):
        expected = scipy.linalg.solve(matrix + 0.1 * np.eye(48), Y, assume_a="pos")
        np.testing.assert_allclose(sol.alpha, expected, rtol=rtol,
                                   atol=rtol * np.abs(expected).max())
        assert sol.relative_residual < (1e-5 if dtype == "float32" else 1e-12)


def test_a_bad_row_on_the_device_is_named(rng):
    X = rng.standard_normal((30, 3))
    X[17, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity; the first bad row is 17"):
        kf.gram(on_device(X), bandwidth=1.0)


def test_kernel_label_noise_runs_on_a_device(rng):
    """Its test scores were ``np.asarray`` of a device array (TypeError on a GPU)."""
    from kernelfit.backend import Backend
    from kernelfit.nets.kernel_label_noise import run_kernel_label_noise

    X, Xt = rng.standard_normal((40, 5)), rng.standard_normal((15, 5))
    y, yt = rng.integers(0, 3, 40), rng.integers(0, 3, 15)
    args = dict(ps=(0.0, 1.0), bandwidth=2.0, num_classes=3)
    on_device_sweep = run_kernel_label_noise(X, y, Xt, yt, device=Backend(xps, DEVICE), **args)
    on_host_sweep = run_kernel_label_noise(X, y, Xt, yt, device="cpu", **args)
    for a, b in zip(on_device_sweep.runs, on_host_sweep.runs, strict=True):
        assert a.test_error == b.test_error and a.train_error == b.train_error == 0.0
        assert a.rkhs_norm == pytest.approx(b.rkhs_norm, rel=1e-9)
