"""Mixed precision: a float32 factor refined to the float64 answer."""

import warnings

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


@pytest.mark.parametrize("keep_kernel", ["memory", "disk", False])
@pytest.mark.parametrize("reg", [0.0, 1e-2])
def test_mixed_estimator_matches_scipy_wherever_the_kernel_is_kept(keep_kernel, reg, tmp_path):
    X, Y = problem(500, seed=3)
    model = kf.KernelRegressor(bandwidth=1.0, reg=reg, dtype="mixed", tile_size=96,
                               keep_kernel=keep_kernel, scratch_dir=tmp_path).fit(X, Y)
    K = kf.gram(X, kernel=make_kernel("gaussian", bandwidth=1.0)) + reg * np.eye(500)
    ref = scipy.linalg.solve(K, Y, assume_a="pos")
    assert model.refinement_.residuals_from == ("data" if keep_kernel is False
                                                else "stored kernel")
    assert model.storage_ == {"memory": "packed + float64 copy of K in memory",
                              "disk": "packed + float64 copy of K on disk",
                              False: "packed"}[keep_kernel]
    assert model.refinement_.residuals[0] > 1e3 * model.refinement_.residuals[-1]
    np.testing.assert_allclose(model.dual_coef_, ref, rtol=1e-6,
                               atol=1e-8 * np.abs(ref).max())
    assert np.linalg.norm(K @ model.dual_coef_ - Y) / np.linalg.norm(Y) < 1e-12
    assert list(tmp_path.iterdir()) == []  # the on-disk copy is deleted after the fit


def test_keep_kernel_auto_goes_to_disk_then_gives_up_as_the_budget_shrinks(tmp_path):
    X, Y = problem(400)
    # tiles of 100: float64 K 800 kB, float32 factor 400 kB, two float64 columns 640 kB
    budgets = {"memory": 2_000_000, "disk": 1_100_000, "none": 500_000}
    models = {where: kf.KernelRegressor(bandwidth=1.0, dtype="mixed", memory_budget=budget,
                                        tile_size=100, scratch_dir=tmp_path).fit(X, Y)
              for where, budget in budgets.items()}
    assert models["memory"].storage_ == "packed + float64 copy of K in memory"
    assert models["disk"].storage_ == "packed + float64 copy of K on disk"
    assert models["none"].storage_ == "packed"
    assert models["none"].refinement_.residuals_from == "data"
    for model in models.values():
        np.testing.assert_allclose(model.dual_coef_, models["memory"].dual_coef_, rtol=1e-7,
                                   atol=1e-9 * np.abs(models["memory"].dual_coef_).max())


def test_keep_kernel_memory_refuses_a_budget_too_small_for_both():
    X, Y = problem(400)
    model = kf.KernelRegressor(bandwidth=1.0, dtype="mixed", keep_kernel="memory",
                               memory_budget=400 * 400 * 5)
    with pytest.raises(kf.MemoryBudgetError, match="float64 kernel kept beside"):
        model.fit(X, Y)


@pytest.mark.parametrize("value", ["yes", True])
def test_keep_kernel_rejects_other_values(value):
    X, Y = problem(50)
    with pytest.raises(ValueError, match="keep_kernel must be one of 'auto', 'memory', 'disk', "
                       "False"):
        kf.KernelRegressor(dtype="mixed", keep_kernel=value).fit(X, Y)


def test_corrections_are_solved_in_the_factors_precision(monkeypatch):
    from kernelfit.solvers import mixed

    X, Y = problem(600, seed=5)
    kernel = make_kernel("gaussian", bandwidth=1.0)
    storage = tiled_cholesky(kf.gram(X, kernel=kernel, dtype=np.float32,
                                     out=PackedStorage(600, 128, np.float32)))
    seen = []
    solve = mixed.cholesky_solve

    def recording_solve(factor, B, *, dtype=np.float64, progress=None):
        seen.append((np.dtype(dtype), B.dtype))
        return solve(factor, B, dtype=dtype, progress=progress)

    monkeypatch.setattr(mixed, "cholesky_solve", recording_solve)
    alpha, info = refine_solution(storage, X, Y, kernel)
    assert len(seen) == info.iterations + 1
    assert set(seen) == {(np.dtype(np.float32), np.dtype(np.float32))}
    K = kf.gram(X, kernel=kernel)
    assert np.linalg.norm(K @ alpha - Y) / np.linalg.norm(Y) <= default_tol(600)


def test_tee_target_refuses_storages_of_different_shapes():
    from kernelfit.linalg.storage_choice import TeeTiles

    with pytest.raises(ValueError, match="tee targets differ"):
        TeeTiles(PackedStorage(100, 50), PackedStorage(100, 40, np.float32))


def test_kernel_kept_on_disk_creates_a_missing_scratch_directory(tmp_path):
    X, Y = problem(300)
    scratch = tmp_path / "new" / "scratch"
    model = kf.KernelRegressor(bandwidth=1.0, dtype="mixed", tile_size=100, keep_kernel="disk",
                               scratch_dir=scratch).fit(X, Y)
    assert model.storage_ == "packed + float64 copy of K on disk"
    assert list(scratch.iterdir()) == []


def test_kernel_kept_on_disk_names_a_scratch_directory_it_cannot_create(tmp_path):
    X, Y = problem(300)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError, match="cannot create the scratch directory for the float64 "
                                      "copy of K"):
        kf.KernelRegressor(bandwidth=1.0, dtype="mixed", tile_size=100, keep_kernel="disk",
                           scratch_dir=blocker / "scratch").fit(X, Y)


def fake_refinement(floor, contraction=0.02, tol=1e-13, n=50):
    """``refine`` on a system whose product has a rounding floor: each correction divides
    the error by ``1 / contraction`` and the computed residual never falls below ``floor``
    (a deterministic stand-in for the float64 product with a kept ``K``)."""
    from kernelfit.solvers.mixed import refine

    target = np.ones((n, 1))
    direction = np.linspace(1.0, 2.0, n)[:, None]
    direction /= np.linalg.norm(direction)
    products = []

    def matvec(alpha):  # K = I, plus a rounding error of alternating sign (no fixed point)
        products.append(1)
        return alpha + (-1) ** len(products) * floor * np.linalg.norm(target) * direction

    def correction(R, progress=None):  # an approximate inverse: leaves contraction of R
        return (1 - contraction) * R

    _, info = refine(correction, target, matvec, tol=tol)
    return info, len(products)


def test_refinement_stops_at_the_tolerance():
    info, products = fake_refinement(floor=0.0)
    assert info.stop_reason == "tolerance" and info.converged
    assert info.residuals[-1] <= 1e-13 < info.residuals[-2]
    assert products == len(info.residuals)


def test_a_collapsed_reduction_near_the_tolerance_stops_as_stalled():
    """Residuals 2e-2, 4e-4, 8e-6, ... fall 50-fold per step until they near the floor
    3e-13 (three times tol); refinement stops at the first step within ten times tol that
    gains less than the square root of the previous gain, without a step that only
    confirms the floor."""
    info, products = fake_refinement(floor=3e-13)
    gains = np.array(info.residuals[:-1]) / np.array(info.residuals[1:])
    assert info.stop_reason == "stalled" and not info.converged
    assert gains[-1] < np.sqrt(gains[-2]) and info.residuals[-1] <= 10 * 1e-13
    assert 3e-13 <= info.residuals[-1] <= 1e-12
    assert all(g > 20 for g in gains[:-1])  # steady until the floor
    assert products == len(info.residuals)


def test_a_floor_far_above_the_tolerance_stops_on_min_gain():
    info, _ = fake_refinement(floor=1e-8)
    assert info.stop_reason == "stalled"
    assert info.residuals[-2] / info.residuals[-1] < 2.0  # the min_gain rule, one step later


def test_stop_reason_is_recorded():
    info, _ = fake_refinement(floor=0.0)
    assert info.to_dict()["stop_reason"] == "tolerance"


def test_no_contraction_far_above_the_tolerance_is_a_failure_and_warns():
    """Corrections that leave 70% of the residual: not a stall at a rounding floor but a
    factor too inaccurate for K; the result is not a solution, and it says so."""
    from kernelfit.solvers import MixedPrecisionWarning

    with pytest.warns(MixedPrecisionWarning, match=r"residual stopped falling at 4\.9e-01"):
        info, products = fake_refinement(floor=0.0, contraction=0.7)
    assert info.stop_reason == "not_contracting" and not info.converged
    assert products == 2  # residuals 0.7 then 0.49: a gain below 2, far above any floor
    with pytest.warns(MixedPrecisionWarning, match=r"stopped falling at [12]\.0e-03"):
        info, _ = fake_refinement(floor=1e-3)  # a "floor" far above any float64 rounding
    assert info.stop_reason == "not_contracting"


def test_slow_contraction_cut_at_max_iter_warns():
    from kernelfit.solvers import MixedPrecisionWarning
    from kernelfit.solvers.mixed import refine

    target = np.ones((20, 1))
    with pytest.warns(MixedPrecisionWarning, match="still falling slowly after 10 corrections"):
        _, info = refine(lambda R, progress=None: 0.6 * R, target, lambda a: a)
    assert info.stop_reason == "max_iter" and info.residuals[-1] > 1e-6


def test_a_factor_of_a_perturbed_kernel_does_not_contract_on_the_true_one():
    """A real matrix: a factor of K + E, with E far above K's smallest eigenvalues,
    leaves (L L^T)^{-1} K with eigenvalues far from 1, as a float32 factor of a K whose
    condition number exceeds 1 / eps(float32) does."""
    from kernelfit.solvers import MixedPrecisionWarning
    from kernelfit.solvers.mixed import refine

    rng = np.random.default_rng(5)
    Q = np.linalg.qr(rng.standard_normal((80, 80)))[0]
    K = (Q * np.logspace(0, -10, 80)) @ Q.T
    E = rng.standard_normal((80, 80)) * 1e-5
    factor = scipy.linalg.cho_factor(K + E @ E.T + 1e-6 * np.eye(80))
    Y = rng.standard_normal((80, 2))
    with pytest.warns(MixedPrecisionWarning, match="not a solution"):
        _, info = refine(lambda R, progress=None: scipy.linalg.cho_solve(factor, R), Y,
                         lambda a: K @ a)
    assert info.residuals[-1] > 1e-6 and not info.converged


def test_a_converged_solve_above_the_failure_level_does_not_warn():
    """A caller's loose tolerance reached is convergence, whatever the residual."""
    from kernelfit.solvers.mixed import refine

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, info = refine(lambda R, progress=None: 0.99 * R, np.ones((20, 1)), lambda a: a,
                         tol=1e-3)
    assert info.stop_reason == "tolerance" and info.converged and info.residuals[-1] > 1e-6


def test_a_non_finite_residual_is_a_failure_at_once():
    from kernelfit.solvers import MixedPrecisionWarning
    from kernelfit.solvers.mixed import refine

    with pytest.warns(MixedPrecisionWarning, match="stopped falling at nan"):
        _, info = refine(lambda R, progress=None: np.full_like(R, np.nan), np.ones((20, 1)),
                         lambda a: a)
    assert info.stop_reason == "not_contracting" and info.iterations == 0
