"""solve() against scipy.linalg.solve, its fallbacks, and its refusals."""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.linalg

import kernelfit as kf
from kernelfit.linalg import PackedStorage
from kernelfit.memory import MemoryBudgetError
from kernelfit.solvers import SolverFallbackWarning


def gaussian_system(n, c, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5))
    K = kf.gram(X, kernel="gaussian", bandwidth=1.0, dtype=dtype)
    return X, K, rng.standard_normal((n, c)) if c else rng.standard_normal(n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c", [0, 1, 4])
@pytest.mark.parametrize("reg", [0.0, 1e-2])
def test_solve_matches_scipy(dtype, c, reg):
    _, K, Y = gaussian_system(150, c, dtype)
    alpha, info = kf.solve(K, Y, reg=reg, tile_size=64, return_info=True)
    A = K.astype(np.float64) + reg * np.eye(150)
    ref = scipy.linalg.solve(A, Y, assume_a="pos")
    assert info.method == "cholesky" and info.storage == "packed"
    assert alpha.shape == Y.shape
    rel = np.linalg.norm(A @ alpha - Y) / np.linalg.norm(Y)
    assert rel < (1e-3 if dtype == np.float32 else 1e-9)
    if dtype == np.float64:
        np.testing.assert_allclose(alpha, ref, rtol=1e-6, atol=1e-8 * np.abs(ref).max())


def test_solve_overwrite_uses_no_second_copy():
    _, K, y = gaussian_system(1200, 1)
    ref = scipy.linalg.solve(K, y, assume_a="pos")
    tracemalloc.start()
    alpha = kf.solve(K, y, overwrite=True, tile_size=200)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # working set: one panel (n x tile) and a few tiles, never a second n x n copy
    assert peak < 0.35 * K.nbytes, f"peak {peak} bytes for a {K.nbytes}-byte K"
    np.testing.assert_allclose(alpha, ref, rtol=1e-6)
    assert not np.allclose(np.triu(K, 1), np.tril(K, -1).T)  # K now holds L


def test_solve_tile_storage_in_place():
    X, K, y = gaussian_system(100, 2)
    storage = kf.gram(X, kernel="gaussian", bandwidth=1.0, out=PackedStorage(100, 30))
    alpha = kf.solve(storage, y)
    np.testing.assert_allclose(K @ alpha, y, atol=1e-8)


def test_indefinite_falls_back_to_lu_with_warning():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((40, 40))
    K = A + A.T  # symmetric indefinite, almost surely nonsingular
    y = rng.standard_normal(40)
    with pytest.warns(SolverFallbackWarning, match="falling back to LU"):
        alpha, info = kf.solve(K, y, return_info=True)
    assert info.method == "lu" and info.failed
    np.testing.assert_allclose(alpha, scipy.linalg.solve(K, y), rtol=1e-8)


def test_singular_falls_back_to_min_norm_lstsq():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((30, 3))
    K = X @ X.T  # rank 3
    y = rng.standard_normal(30)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        alpha, info = kf.solve(K, y, return_info=True)
    assert info.method == "lstsq"
    assert any("least-squares minimum-norm" in str(w.message) for w in caught)
    np.testing.assert_allclose(alpha, np.linalg.pinv(K) @ y, rtol=1e-6, atol=1e-8)


def test_overwrite_failure_explains_that_K_is_gone():
    K = -np.eye(10)
    with pytest.raises(kf.NotPositiveDefiniteError, match="overwritten"):
        kf.solve(K, np.ones(10), overwrite=True)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((np.eye(3), np.ones(3)), {"reg": -1.0}, ValueError, "reg must be >= 0"),
        ((np.eye(3), np.ones(4)), {}, ValueError, r"order 3 and Y.shape=\(4,\)"),
        ((np.ones((3, 4)), np.ones(3)), {}, ValueError, r"square; found shape \(3, 4\)"),
        ((np.eye(3), np.array([1.0, np.nan, 2.0])), {}, ValueError, "first bad row is 1"),
        ((np.eye(3), np.ones(3)), {"method": "qr"}, ValueError, "method must be one of"),
        ((np.eye(3), np.array(["a", "b", "c"])), {}, TypeError, "real numbers"),
    ],
)
def test_solve_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        kf.solve(*args, **kwargs)


def test_solve_refuses_copy_beyond_budget():
    K = np.eye(2000)
    with pytest.raises(MemoryBudgetError, match="budget"):
        kf.solve(K, np.ones(2000), memory_budget="1MB")
