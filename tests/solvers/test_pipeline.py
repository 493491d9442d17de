"""The solve pipeline against SciPy's dense Cholesky, for each local Gram source and dtype.

The reference kernel is built here with ``scipy.spatial.distance.cdist`` (not with
kernelfit), the reference solution with ``scipy.linalg.cho_solve``, and the
residual and RKHS norm with plain NumPy products.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg
from scipy.spatial.distance import cdist

import kernelfit.solvers.gram_sources as gram_sources
from kernelfit.backend import NotPositiveDefiniteError
from kernelfit.kernels import make_kernel
from kernelfit.linalg import PackedStorage
from kernelfit.linalg.tile_matvec import copy_tiles
from kernelfit.solvers import SolverFallbackWarning
from kernelfit.solvers.gram_sources import KernelGramSource, StoredGramSource
from kernelfit.solvers.pipeline import (
    measure_solution,
    solution_metrics,
    solve_kernel_system,
    storage_precision,
)

N, D, SIGMA, TILE = 120, 6, 1.5, 32  # 4 tiles a side, the last 24 wide; cond(K) ~ 2.5e3

#: Relative error of alpha against the float64 reference: float32 is bounded by
#: cond(K) * eps(float32) ~ 1.5e-4; float64 and mixed by cond(K) * eps(float64).
ALPHA_RTOL = {"float64": 1e-10, "mixed": 1e-10, "float32": 2e-3}

#: Largest relative residual accepted: float64 and mixed at float64 accuracy,
#: float32 at its own.
RESIDUAL_MAX = {"float64": 1e-12, "mixed": 1e-12, "float32": 1e-4}


def relative(a, b):
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D))
    Y = rng.standard_normal((N, 3))
    K = np.exp(-cdist(X, X, "sqeuclidean") / (2 * SIGMA**2))
    return X, Y, K


def reference(K, Y, reg):
    return scipy.linalg.cho_solve(scipy.linalg.cho_factor(K + reg * np.eye(len(K))), Y)


def check_against_reference(sol, K, Y, reg, dtype):
    """alpha, K alpha, the residual and the RKHS norm, each against NumPy/SciPy."""
    assert relative(sol.alpha, reference(K, Y, reg)) < ALPHA_RTOL[dtype]
    KA = K @ sol.alpha
    np.testing.assert_allclose(sol.K_alpha, KA, rtol=0, atol=1e-12 * np.abs(KA).max())
    residual = np.linalg.norm(KA + reg * sol.alpha - Y) / np.linalg.norm(Y)
    assert sol.relative_residual < RESIDUAL_MAX[dtype]
    assert sol.relative_residual == pytest.approx(residual, rel=1e-3, abs=1e-14)
    norm = np.sqrt(np.sum(sol.alpha * KA))
    assert sol.rkhs_norm == pytest.approx(norm, rel=1e-10)


@pytest.mark.parametrize("dtype", ["float64", "float32", "mixed"])
@pytest.mark.parametrize("reg", [0.0, 1e-3])
@pytest.mark.parametrize("keep_kernel", ["auto", False])
def test_data_source_matches_dense_cholesky(data, dtype, reg, keep_kernel):
    X, Y, K = data
    source = KernelGramSource(X, make_kernel("gaussian", bandwidth=SIGMA), device="cpu",
                              tile_size=TILE, keep_kernel=keep_kernel)
    sol = solve_kernel_system(source, Y, reg=reg, dtype=dtype)
    check_against_reference(sol, K, Y, reg, dtype)
    assert sol.solver == ("mixed" if dtype == "mixed" else "cholesky")
    assert (sol.refinement is not None) == (dtype == "mixed")
    if dtype == "mixed":
        assert sol.refinement.residuals_from == ("stored kernel" if keep_kernel else "data")
        assert sol.refinement.iterations >= 1
    assert {"gram", "cholesky", "solve"} <= set(sol.timings)
    assert ("residual" in sol.timings) == (dtype != "mixed")  # mixed: K alpha is free


@pytest.mark.parametrize("dtype", ["float64", "float32", "mixed"])
@pytest.mark.parametrize("reg", [0.0, 1e-3])
def test_stored_source_matches_dense_cholesky_of_the_stored_matrix(data, dtype, reg):
    _, Y, K = data
    storage_dtype = storage_precision(dtype)[0]
    tiles = PackedStorage(N, TILE, storage_dtype, "cpu")
    for i in range(tiles.nt):
        for j in range(i + 1):
            tiles.write_block(i, j, K[tiles.bounds(i), tiles.bounds(j)])
    stored = copy_tiles(tiles)
    Ks = K.astype(storage_dtype).astype(np.float64)  # the matrix the stored tiles hold
    sol = solve_kernel_system(StoredGramSource(tiles, stored, fallback_budget=2**30), Y,
                              reg=reg, dtype=dtype)
    check_against_reference(sol, Ks, Y, reg, dtype)
    assert sol.storage == "packed" and "gram" not in sol.timings
    if dtype == "mixed":
        assert sol.refinement.residuals_from == "stored kernel"


def test_a_vector_right_hand_side_gives_a_vector(data):
    X, Y, K = data
    source = KernelGramSource(X, make_kernel("gaussian", bandwidth=SIGMA), tile_size=TILE)
    sol = solve_kernel_system(source, Y[:, 0], dtype="mixed")
    assert sol.alpha.shape == sol.K_alpha.shape == (N,)
    check_against_reference(sol, K, Y[:, 0], 0.0, "mixed")


@pytest.mark.parametrize("solver", ["lu", "lstsq"])
def test_dense_solvers_on_request(data, solver):
    X, Y, K = data
    source = KernelGramSource(X, make_kernel("gaussian", bandwidth=SIGMA), tile_size=TILE)
    sol = solve_kernel_system(source, Y, reg=1e-3, solver=solver)
    assert sol.solver == solver and "cholesky" not in sol.timings
    check_against_reference(sol, K, Y, 1e-3, "float64")


def test_failed_cholesky_falls_back_to_lu_or_raises(data, monkeypatch):
    X, Y, K = data

    def failing(storage, **kwargs):
        raise NotPositiveDefiniteError("matrix is not positive definite", 5)

    monkeypatch.setattr(gram_sources, "tiled_cholesky", failing)
    source = KernelGramSource(X, make_kernel("gaussian", bandwidth=SIGMA), tile_size=TILE)
    with pytest.warns(SolverFallbackWarning, match="not numerically positive definite"):
        sol = solve_kernel_system(source, Y, reg=1e-3)
    assert sol.solver == "lu"
    check_against_reference(sol, K, Y, 1e-3, "float64")
    with pytest.raises(NotPositiveDefiniteError, match="not positive definite"):
        solve_kernel_system(source, Y, reg=1e-3, solver="cholesky")


def test_without_residual_the_norm_comes_from_the_targets(data):
    X, Y, K = data
    source = KernelGramSource(X, make_kernel("gaussian", bandwidth=SIGMA), tile_size=TILE)
    sol = solve_kernel_system(source, Y, reg=1e-3, residual=False)
    assert sol.K_alpha is None and sol.relative_residual is None
    assert "residual" not in sol.timings
    assert sol.rkhs_norm == pytest.approx(np.sqrt(np.sum(sol.alpha * (K @ sol.alpha))),
                                          rel=1e-8)
    measure_solution(sol, source, Y)
    check_against_reference(sol, K, Y, 1e-3, "float64")
    assert "residual" in sol.timings


def test_summary_is_json(data):
    X, Y, _ = data
    source = KernelGramSource(X, make_kernel("gaussian", bandwidth=SIGMA), tile_size=TILE)
    sol = solve_kernel_system(source, Y, dtype="mixed")
    summary = json.loads(json.dumps(sol.summary()))
    assert summary["n"] == N and summary["solver"] == "mixed"
    assert summary["refinement"]["residuals"] == sol.refinement.residuals
    assert summary["relative_residual"] == sol.relative_residual


def test_solution_metrics_against_numpy():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((20, 20))
    K = A @ A.T
    alpha, Y = rng.standard_normal((20, 2)), rng.standard_normal((20, 2))
    residual, norm = solution_metrics(Y, alpha, 0.5, K @ alpha)
    assert residual == pytest.approx(np.linalg.norm(K @ alpha + 0.5 * alpha - Y)
                                     / np.linalg.norm(Y), rel=1e-12)
    assert norm == pytest.approx(np.sqrt(np.trace(alpha.T @ K @ alpha)), rel=1e-12)
    # Without K alpha: alpha^T K alpha = alpha^T Y - reg ||alpha||^2 for an exact solve.
    exact = np.linalg.solve(K + 0.5 * np.eye(20), Y)
    assert solution_metrics(Y, exact, 0.5) == (
        None, pytest.approx(np.sqrt(np.trace(exact.T @ K @ exact)), rel=1e-9))


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"dtype": "float16"}, ValueError, r"dtype must be float32, float64 or 'mixed'; found "
                                       r"'float16'"),
    ({"solver": "qr"}, ValueError, r"solver must be one of .*; found 'qr'"),
    ({"reg": -1.0}, ValueError, r"reg must be >= 0; found -1\.0"),
])
def test_bad_arguments_are_refused(data, kwargs, error, match):
    X, Y, _ = data
    source = KernelGramSource(X, make_kernel("gaussian", bandwidth=SIGMA), tile_size=TILE)
    with pytest.raises(error, match=match):
        solve_kernel_system(source, Y, **kwargs)


def test_targets_with_the_wrong_row_count_are_refused(data):
    X, Y, _ = data
    source = KernelGramSource(X, make_kernel("gaussian", bandwidth=SIGMA), tile_size=TILE)
    with pytest.raises(ValueError, match=r"Y must have shape \(120,\) or \(120, c\); found "
                                         r"\(119, 3\)"):
        solve_kernel_system(source, Y[:-1])


def test_stored_tiles_of_another_dtype_are_refused(data):
    _, Y, _ = data
    tiles = PackedStorage(N, TILE, np.float32, "cpu")
    source = StoredGramSource(tiles, copy_tiles(tiles), fallback_budget=2**30)
    with pytest.raises(ValueError, match="stored tiles are float32; the solve asked for "
                                         "float64"):
        solve_kernel_system(source, Y, dtype="float64")
