"""Mixed precision: a float32 factor refined to the float64 answer."""

import numpy as np
import pytest
import scipy.linalg

import kernelfit as kf
from kernelfit.kernels import make_kernel
from kernelfit.linalg import PackedStorage, tiled_cholesky
from kernelfit.solvers import refine_solution
from kernelfit.solvers.mixed import default_tol


def problem(n=400, d=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    Y = np.eye(4)[rng.integers(0, 4, n)]
    return X, Y


@pytest.mark.parametrize("reg", [0.0, 1e-3])
def test_refinement_reaches_float64_solution(reg):
    X, Y = problem()
    kernel = make_kernel("gaussian", bandwidth=1.0)
    storage = kf.gram(X.astype(np.float32), kernel=kernel, out=PackedStorage(400, 128,
                                                                              np.float32))
    storage.add_to_diagonal(reg)
    tiled_cholesky(storage)
    alpha, info = refine_solution(storage, X, Y, kernel, reg=reg)
    K = kf.gram(X, kernel=kernel) + reg * np.eye(400)
    ref = scipy.linalg.solve(K, Y, assume_a="pos")
    direct64 = np.linalg.norm(K @ ref - Y) / np.linalg.norm(Y)
    assert info.residuals[0] > 1e3 * info.residuals[-1]  # float32 alone is far off
    assert info.residuals[-1] <= 10 * max(direct64, 1e-15)
    assert info.iterations >= 1
    np.testing.assert_allclose(alpha, ref, rtol=1e-6, atol=1e-8 * np.abs(ref).max())
    np.testing.assert_allclose(info.final_residual, Y - K @ alpha, atol=1e-10)


def test_mixed_estimator_matches_float64():
    X, Y = problem(300)
    y = Y.argmax(1)
    m64 = kf.KernelClassifier(bandwidth=1.0, dtype="float64").fit(X, y)
    mix = kf.KernelClassifier(bandwidth=1.0, dtype="mixed").fit(X, y)
    assert mix.solver_ == "mixed"
    np.testing.assert_allclose(mix.dual_coef_, m64.dual_coef_, rtol=1e-6,
                               atol=1e-9 * np.abs(m64.dual_coef_).max())
    assert mix.rkhs_norm_ == pytest.approx(m64.rkhs_norm_, rel=1e-9)
    assert mix.refinement_.residuals[-1] < 1e-12


def test_refinement_stops_when_it_stagnates():
    X, Y = problem(200)
    kernel = make_kernel("gaussian", bandwidth=1.0)
    storage = tiled_cholesky(kf.gram(X, kernel=kernel, out=PackedStorage(200, 64)))
    _, info = refine_solution(storage, X, Y, kernel, tol=0.0, max_iter=8)
    assert info.iterations < 8  # a float64 factor gains nothing after one step


def test_default_tolerance_stops_within_ten_times_the_float64_residual():
    X, Y = problem(1500)
    kernel = make_kernel("gaussian", bandwidth=1.0)
    K = kf.gram(X, kernel=kernel)
    alpha64 = scipy.linalg.solve(K, Y, assume_a="pos")
    residual64 = np.linalg.norm(K @ alpha64 - Y) / np.linalg.norm(Y)
    storage = tiled_cholesky(kf.gram(X, kernel=kernel, dtype=np.float32,
                                     out=PackedStorage(1500, 256, np.float32)))
    alpha, info = refine_solution(storage, X, Y, kernel)
    assert default_tol(1500) == pytest.approx(4 * np.sqrt(1500) * np.finfo(float).eps)
    assert info.residuals[-1] <= max(default_tol(1500), 10 * residual64)
    assert np.linalg.norm(K @ alpha - Y) / np.linalg.norm(Y) <= 10 * residual64
