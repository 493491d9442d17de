"""``Backend.gemm_acc`` (``C + alpha op(A) B``) against NumPy, on the host and on an
emulated device, and the tile sweeps built on it against SciPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from kernelfit.backend import backend_for, resolve_device
from kernelfit.linalg import PackedStorage, cholesky_solve
from kernelfit.linalg.tile_matvec import tile_symmetric_matvec

from .emulated_device import (  # noqa: F401 (strict_devices is a fixture)
    DEVICE,
    host,
    on_device,
    strict_devices,
)

TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}


def operands(rng, dtype, trans_a):
    A = rng.standard_normal((30, 20) if trans_a else (20, 30)).astype(dtype)
    B = rng.standard_normal((30, 7)).astype(dtype)
    C = rng.standard_normal((20, 7)).astype(dtype)
    return A, B, C


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("order", ["F", "C"])
def test_host_gemm_acc_in_place_on_column_major_c(rng, dtype, trans_a, order):
    A, B, C = operands(rng, dtype, trans_a)
    expected = C - 0.5 * ((A.T if trans_a else A) @ B)
    target = np.array(C, order=order)
    out = resolve_device("cpu").gemm_acc(target, A, B, trans_a=trans_a, alpha=-0.5)
    np.testing.assert_allclose(out, expected, **TOL[dtype])
    assert out.dtype == dtype
    if order == "F":  # BLAS updates a column-major C where it is
        assert np.shares_memory(out, target)


@pytest.mark.usefixtures("strict_devices")
@pytest.mark.parametrize("trans_a", [False, True])
def test_gemm_acc_stays_on_an_emulated_device(rng, trans_a):
    A, B, C = operands(rng, np.float64, trans_a)
    Ad = on_device(A)
    backend = backend_for(Ad)
    out = backend.gemm_acc(on_device(C), Ad, on_device(B), trans_a=trans_a)
    assert out.device == DEVICE
    np.testing.assert_allclose(host(out), C + (A.T if trans_a else A) @ B, **TOL[np.float64])


@pytest.fixture
def tiles(rng):
    """A symmetric positive definite 50 x 50 matrix in packed tiles of 16 (a ragged last
    tile), float64, and its float32 Cholesky factor in tiles."""
    n = 50
    M = rng.standard_normal((n, n))
    A = M @ M.T / n + np.eye(n)
    K = PackedStorage(n, 16, np.float64)
    L = PackedStorage(n, 16, np.float32)
    factor = np.linalg.cholesky(A).astype(np.float32)
    for i in range(K.nt):
        for j in range(i + 1):
            K.store(i, j, A[K.bounds(i), K.bounds(j)])
            L.store(i, j, factor[K.bounds(i), K.bounds(j)])
    return A, K, L, factor


@pytest.mark.parametrize("columns", [None, 1, 10])
def test_tile_product_equals_numpy(rng, tiles, columns):
    A, K, _, _ = tiles
    V = rng.standard_normal(50 if columns is None else (50, columns))
    got = tile_symmetric_matvec(K, V)
    assert got.shape == V.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, A @ V, rtol=1e-12, atol=1e-12)


def test_float32_triangular_sweeps_equal_scipy(rng, tiles):
    _, _, L, factor = tiles
    B = rng.standard_normal((50, 10)).astype(np.float32)
    got = cholesky_solve(L, B, dtype=np.float32)
    L64 = factor.astype(np.float64)
    expected = scipy.linalg.cho_solve((L64, True), B.astype(np.float64))
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-5)


@pytest.mark.usefixtures("strict_devices")
def test_streamed_and_symmetric_products_stay_on_an_emulated_device(rng):
    """The compiled products' backend methods, on a device they cannot use: the generic
    GEMMs, results left on the device."""
    A, B, C = operands(rng, np.float64, False)
    backend = backend_for(on_device(A))
    out = backend.streamed_gemm_acc(on_device(C), on_device(A), on_device(B), alpha=-0.5)
    assert out.device == DEVICE
    np.testing.assert_allclose(host(out), C - 0.5 * A @ B, **TOL[np.float64])
    B_rows, C_cols = rng.standard_normal((20, 7)), rng.standard_normal((30, 7))
    rows, cols = backend.symmetric_gemm_acc(on_device(C), on_device(C_cols), on_device(A),
                                            on_device(B_rows), on_device(B))
    assert rows.device == cols.device == DEVICE
    np.testing.assert_allclose(host(rows), C + A @ B, **TOL[np.float64])
    np.testing.assert_allclose(host(cols), C_cols + A.T @ B_rows, **TOL[np.float64])


@pytest.mark.usefixtures("strict_devices")
def test_sweeps_past_the_streamed_threshold_stay_on_an_emulated_device(rng, tiles,
                                                                       monkeypatch):
    """With the compiled-products threshold at 0 (every matrix "large"), the stored-K
    product and the triangular sweeps on an emulated device still give the answer."""
    from kernelfit.linalg import tile_matvec

    monkeypatch.setattr(tile_matvec, "STREAMED_PRODUCT_BYTES", 0)
    A, K, L, factor = tiles
    backend = backend_for(on_device(np.zeros(1)))
    Kd, Ld = PackedStorage(50, 16, np.float64, backend), PackedStorage(50, 16, np.float32,
                                                                      backend)
    for i in range(K.nt):
        for j in range(i + 1):
            Kd.store(i, j, on_device(K.tile(i, j)))
            Ld.store(i, j, on_device(L.tile(i, j)))
    V = rng.standard_normal((50, 10))
    np.testing.assert_allclose(tile_symmetric_matvec(Kd, on_device(V)), A @ V, rtol=1e-12,
                               atol=1e-12)
    solved = cholesky_solve(Ld, on_device(V.astype(np.float32)), dtype=np.float32)
    assert solved.device == DEVICE
    expected = scipy.linalg.cho_solve((factor.astype(np.float64), True), V)
    np.testing.assert_allclose(host(solved), expected, rtol=2e-4, atol=2e-4)
