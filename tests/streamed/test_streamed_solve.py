"""The streamed random-convolution solve against materialized features, sklearn and SciPy."""

import os

import numpy as np
import pytest
import scipy.linalg
from sklearn.metrics.pairwise import rbf_kernel

from kernelfit.experiments import ExperimentConfig, run_experiment
from kernelfit.features import RandomConvFeatures, median_bandwidth_from_gram
from kernelfit.memory import MemoryBudgetError
from kernelfit.model_selection import AUTO_BANDWIDTH_FACTORS, REG_GRID, select_bandwidth
from kernelfit.streamed import plan_streamed_memory, solve_streamed

DATA = os.environ.get("KERNELFIT_DATA")
needs_cifar = pytest.mark.skipif(
    not DATA or not os.path.isfile(os.path.join(DATA, "cifar10-jpeg.tar")),
    reason="CIFAR-10 not found (set KERNELFIT_DATA)",
)
#: Relative tolerance of dual coefficients and scores per storage dtype (K's condition
#: number is about 200 here).
RTOL = {"float64": 1e-9, "mixed": 2e-5, "float32": 2e-5}


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, size=(120, 32, 32, 3), dtype=np.uint8)
    Xt = rng.integers(0, 256, size=(40, 32, 32, 3), dtype=np.uint8)
    return X, rng.integers(0, 3, size=120), Xt, rng.integers(0, 3, size=40)


def features(dtype="float64", **params):
    defaults = dict(n_filters=64, n_whitening_patches=4000, n_standardize_images=100, n_jobs=1,
                    device="cpu", dtype=dtype)
    return RandomConvFeatures(**{**defaults, **params})


@pytest.fixture(scope="module")
def reference(images):
    """Materialized float64 features and the sklearn Gaussian Gram builder."""
    X, _, Xt, _ = images
    fmap = features()
    F = fmap.fit_transform(X).astype(np.float64)
    return F, fmap.transform(Xt).astype(np.float64)


def relative(a, b):
    return np.abs(np.asarray(a) - b).max() / np.abs(b).max()


@pytest.mark.parametrize("dtype", ["float64", "mixed", "float32"])
@pytest.mark.parametrize(("tile", "reg", "binary"), [(50, 0.0, False), (None, 0.1, True)])
def test_matches_materialized_features_and_dense_solve(images, reference, dtype, tile, reg,
                                                       binary):
    X, y, Xt, _ = images
    y = y % 2 if binary else y
    F, Ft = reference
    sol = solve_streamed(features(), X, y, Xt, dtype=dtype, tile_size=tile, reg=reg,
                         device="cpu")
    sigma = median_bandwidth_from_gram(F @ F.T, (F * F).sum(1))
    assert sol.bandwidth == pytest.approx(sigma, rel=1e-6)
    gamma = 1.0 / (2.0 * sol.bandwidth**2)
    K, Kt = rbf_kernel(F, F, gamma=gamma), rbf_kernel(Ft, F, gamma=gamma)
    Y = np.where(y[:, None] == np.unique(y)[None, :], 1.0, 0.0)
    Y = 2 * Y[:, 1] - 1 if binary else Y  # +-1 for two classes, one-hot otherwise
    np.testing.assert_array_equal(sol.targets, Y)
    alpha = scipy.linalg.solve(K + reg * np.eye(len(y)), Y, assume_a="pos")
    assert relative(sol.dual_coef, alpha) < RTOL[dtype]
    assert relative(sol.test_scores, Kt @ alpha) < RTOL[dtype]
    np.testing.assert_array_equal(sol.predict(sol.test_scores), sol.predict(Kt @ alpha))
    assert sol.rkhs_norm == pytest.approx(np.sqrt(np.sum(alpha * (K @ alpha))),
                                          rel=RTOL[dtype])
    assert sol.relative_residual < (1e-12 if dtype != "float32" else 1e-4)
    assert sol.solver == ("mixed" if dtype == "mixed" else "cholesky")
    assert (sol.refinement is not None) == (dtype == "mixed")
    assert sol.n_features == 64 * 8
    assert {"features+gram", "kernel", "cholesky", "solve", "predict"} <= set(sol.timings)


@pytest.mark.parametrize("storage_tile", [16, 10, 37])  # aligned, misaligned, one tile
def test_gram_accumulated_into_packed_tiles_equals_dense(monkeypatch, storage_tile):
    import kernelfit.features.conv_gram as conv_gram
    from kernelfit.linalg import PackedStorage
    from kernelfit.linalg.symmetric_view import SymmetricTileView

    monkeypatch.setattr(conv_gram, "GRAM_TILE", 16)  # several accumulation tiles
    rng = np.random.default_rng(5)
    X = rng.integers(0, 256, size=(37, 12, 12, 3), dtype=np.uint8)
    Xt = rng.integers(0, 256, size=(9, 12, 12, 3), dtype=np.uint8)
    fmap = features(n_filters=24, patch_size=5, n_whitening_patches=2000).fit(X)
    dense, _ = fmap.accumulate_train_test_grams(X, Xt, filter_chunk=10)
    storage = PackedStorage(37, storage_tile, np.float64, "cpu")
    view = SymmetricTileView(storage)
    packed, cross = fmap.accumulate_train_test_grams(X, Xt, out=view, filter_chunk=10)
    view.symmetrize_diagonal()
    np.testing.assert_allclose(storage.to_dense(), dense.gram, rtol=1e-12)
    np.testing.assert_array_equal(packed.row_sq_norms, dense.row_sq_norms)
    assert cross.gram.shape == (9, 37)


def test_auto_bandwidth_is_the_held_out_choice_on_features(images, reference):
    X, y, Xt, _ = images
    F, _ = reference
    events = []
    sol = solve_streamed(features(), X, y, Xt, bandwidth="auto", dtype="float64",
                         device="cpu", progress=events.append)
    median = median_bandwidth_from_gram(F @ F.T, (F * F).sum(1))
    grid = [median * f for f in AUTO_BANDWIDTH_FACTORS]
    best, errors = select_bandwidth(F, y, "gaussian", grid)
    assert sorted(sol.bandwidth_search) == pytest.approx(sorted(errors))
    assert list(sol.bandwidth_search.values()) == list(errors.values())
    assert sol.bandwidth == pytest.approx(best)
    assert "bandwidth_search" in sol.timings
    assert {"randconv gram", "bandwidth", "kernel", "cholesky", "solve", "residual",
            "predict"} <= {e.phase for e in events}
    searched = [e for e in events if e.phase == "bandwidth"]
    assert searched[-1].finished and searched[-1].done == searched[-1].total == len(grid)


def test_failed_cholesky_falls_back_to_lu_on_the_stored_kernel(images, reference, monkeypatch):
    import kernelfit.solvers.gram_sources as gram_sources
    from kernelfit.backend import NotPositiveDefiniteError
    from kernelfit.solvers import SolverFallbackWarning

    def failing(storage, **kwargs):
        raise NotPositiveDefiniteError("matrix is not positive definite", 3)

    monkeypatch.setattr(gram_sources, "tiled_cholesky", failing)
    X, y, Xt, _ = images
    F, _ = reference
    with pytest.warns(SolverFallbackWarning, match="solving by LU"):
        sol = solve_streamed(features(), X, y, Xt, dtype="float64", device="cpu")
    gamma = 1.0 / (2.0 * sol.bandwidth**2)
    alpha = scipy.linalg.solve(rbf_kernel(F, F, gamma=gamma), sol.targets)
    assert sol.solver == "lu"
    assert relative(sol.dual_coef, alpha) < RTOL["float64"]
    assert sol.relative_residual < 1e-12


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"bandwidth": "wide"}, ValueError, r"bandwidth must be a positive number.*'wide'"),
    ({"bandwidth": -1.0}, ValueError, r"bandwidth must be a positive number.*-1\.0"),
    ({"dtype": "float16"}, ValueError, r"dtype must be one of .*'float16'"),
    ({"reg": -1.0}, ValueError, r"reg must be a non-negative number or 'auto'.*-1\.0"),
    ({"reg": "wide"}, ValueError, r"reg must be a non-negative number or 'auto'.*'wide'"),
    ({"kernel": "laplacian"}, ValueError, r"kernel must be one of \('gaussian', 'linear'\)"),
    ({"kernel": "linear", "bandwidth": "auto"}, ValueError, "linear kernel has no bandwidth"),
    ({"memory_budget": "1MB"}, MemoryBudgetError, r"streamed exact solve of 120 training"),
])
def test_bad_inputs_are_refused_before_any_work(images, kwargs, error, match):
    X, y, Xt, _ = images
    fmap = features()
    with pytest.raises(error, match=match):
        solve_streamed(fmap, X, y, Xt, device="cpu", **kwargs)
    assert not hasattr(fmap, "filters_")  # refused before fitting


def test_one_class_is_refused(images):
    X, y, Xt, _ = images
    with pytest.raises(ValueError, match="at least 2 classes"):
        solve_streamed(features(), X, np.zeros_like(y), Xt, device="cpu")


def test_memory_plan_at_full_cifar_size():
    gib = 2**30
    plan = plan_streamed_memory(50_000, 10_000, 2000, np.float32, 20 * gib)
    assert plan.packed == 325 * 2000 * 2000 * 4  # 25 tiles a side, lower ones only
    assert plan.cross == 10_000 * 50_000 * 4
    assert plan.feature_budget == plan.packed  # the chunk takes the room of the copy of K
    assert plan.peak == 2 * plan.packed + plan.cross + plan.work < 12 * gib
    with pytest.raises(MemoryBudgetError, match="float64"):
        plan_streamed_memory(50_000, 10_000, 2000, np.float64, 20 * gib)


@needs_cifar
def test_run_experiment_end_to_end_on_cifar10_subset():
    from kernelfit.experiments import _load
    from kernelfit.features import make_feature_map

    params = {"n_filters": 32, "n_whitening_patches": 5000, "n_jobs": 1, "device": "cpu"}
    config = ExperimentConfig(dataset="cifar10", features="randconv", n_train=200, n_test=100,
                              feature_params=params, dtype="mixed", device="cpu")
    result = run_experiment(config)
    _, X, y, Xt, yt = _load(config, None)
    fmap = make_feature_map("randconv", dataset="cifar10", **params)
    F = fmap.fit_transform(X).astype(np.float64)
    Ft = fmap.transform(Xt).astype(np.float64)
    gamma = 1.0 / (2.0 * result.bandwidth**2)
    classes = np.unique(y)
    Y = (y[:, None] == classes[None, :]).astype(np.float64)
    alpha = scipy.linalg.solve(rbf_kernel(F, F, gamma=gamma), Y, assume_a="pos")
    test_error = np.mean(classes[np.argmax(rbf_kernel(Ft, F, gamma=gamma) @ alpha, 1)] != yt)
    assert result.test_error == pytest.approx(test_error)
    assert result.train_error == 0.0
    assert result.rkhs_norm == pytest.approx(
        np.sqrt(np.sum(alpha * (rbf_kernel(F, F, gamma=gamma) @ alpha))), rel=1e-3)
    assert result.relative_residual < 1e-10  # against the stored float32 K
    assert result.bandwidth == pytest.approx(
        median_bandwidth_from_gram(F @ F.T, (F * F).sum(1)), rel=1e-5)
    # CIFAR-10's defaults pool over 3 x 3 windows: 18 features per filter.
    assert (result.n_features, result.storage, result.solver) == (32 * 18, "packed", "mixed")
    assert {"load", "features+gram", "kernel", "cholesky", "solve", "predict"} <= set(
        result.timings)
    residuals = result.config["refinement"]["residuals"]
    assert residuals[0] > 1e-8 > residuals[-1]  # the float32 factor was refined
    jsonschema = pytest.importorskip("jsonschema")
    import json
    from importlib.resources import files

    schema = json.loads(files("kernelfit.schemas").joinpath("experiment.schema.json")
                        .read_text())
    jsonschema.validate(json.loads(json.dumps(result.to_dict())), schema)


def held_out_reference(K_of, y, regs, seed=0):
    """Held-out error per ridge term: the split written out, scipy solves on dense blocks.

    ``K_of(rows, cols)`` is the materialized kernel between training points.
    """
    order = np.random.default_rng(seed).permutation(len(y))
    n_val = min(2000, len(y) // 5)
    val, fit = order[:n_val], order[n_val : n_val + 10000]
    classes = np.unique(y[fit])
    Y = (y[fit][:, None] == classes[None, :]).astype(np.float64)  # 3 classes: one-hot
    K, K_val = K_of(fit, fit), K_of(val, fit)
    errors = {}
    for reg in regs:
        alpha = scipy.linalg.solve(K + reg * np.eye(len(fit)), Y, assume_a="sym")
        errors[reg] = float(np.mean(classes[np.argmax(K_val @ alpha, 1)] != y[val]))
    return errors


def materialized_kernel(F, kernel):
    """``K_of(rows, cols)`` on materialized features, and the unit of the ridge grid."""
    if kernel == "linear":  # the grid is relative to the mean diagonal
        return (lambda r, c: F[r] @ F[c].T), (F * F).sum(1).mean()
    gamma = 1.0 / (2.0 * median_bandwidth_from_gram(F @ F.T, (F * F).sum(1)) ** 2)
    return (lambda r, c: rbf_kernel(F[r], F[c], gamma=gamma)), 1.0  # unit diagonal


@pytest.mark.parametrize("kernel", ["gaussian", "linear"])
def test_auto_reg_is_the_held_out_choice_on_materialized_features(images, reference, kernel):
    X, y, Xt, _ = images
    F, _ = reference
    K_of, scale = materialized_kernel(F, kernel)
    grid = REG_GRID if kernel == "gaussian" else REG_GRID[1:]  # linear: singular, no 0
    errors = held_out_reference(K_of, y, [scale * g for g in grid])
    best = min(errors, key=lambda r: (errors[r], r))  # ties: the smaller reg
    events = []
    sol = solve_streamed(features(), X, y, Xt, kernel=kernel, reg="auto", dtype="float64",
                         device="cpu", progress=events.append)
    searched = [e for e in events if e.phase == "reg"]
    assert searched[-1].finished and searched[-1].done == searched[-1].total == len(grid)
    assert list(sol.reg_search) == pytest.approx(list(errors))  # grid order, absolute regs
    assert list(sol.reg_search.values()) == list(errors.values())
    assert sol.reg == pytest.approx(best)
    assert len(set(errors.values())) > 1  # the search is not a foregone conclusion
    assert "reg_search" in sol.timings and sol.kernel == kernel
    K = K_of(slice(None), slice(None))  # the final solve uses the chosen reg
    alpha = scipy.linalg.solve(K + sol.reg * np.eye(len(y)), sol.targets, assume_a="pos")
    assert relative(sol.dual_coef, alpha) < 20 * RTOL["float64"]
    assert sol.relative_residual < 1e-10  # linear, reg 5% of the mean diagonal: cond ~1e5


def test_auto_reg_after_auto_bandwidth_uses_the_chosen_bandwidth(images, reference):
    X, y, Xt, _ = images
    F, _ = reference
    sol = solve_streamed(features(), X, y, Xt, bandwidth="auto", reg="auto", dtype="float64",
                         device="cpu")
    median = median_bandwidth_from_gram(F @ F.T, (F * F).sum(1))
    best_bw, bw_errors = select_bandwidth(F, y, "gaussian",
                                          [median * f for f in AUTO_BANDWIDTH_FACTORS])
    assert list(sol.bandwidth_search.values()) == list(bw_errors.values())  # fitted with 0
    assert sol.bandwidth == pytest.approx(best_bw)
    gamma = 1.0 / (2.0 * sol.bandwidth**2)
    errors = held_out_reference(lambda r, c: rbf_kernel(F[r], F[c], gamma=gamma), y, REG_GRID)
    assert list(sol.reg_search.values()) == list(errors.values())
    assert sol.reg == min(errors, key=lambda r: (errors[r], r))


@pytest.mark.parametrize("dtype", ["float64", "mixed"])
def test_linear_kernel_is_the_feature_gram_itself(images, reference, dtype):
    X, y, Xt, _ = images
    F, Ft = reference
    reg = 1.0  # the centred features' Gram is singular (rank n - 1): a ridge is needed
    sol = solve_streamed(features(), X, y, Xt, kernel="linear", reg=reg, dtype=dtype,
                         device="cpu")
    K = F @ F.T
    alpha = scipy.linalg.solve(K + reg * np.eye(len(y)), sol.targets, assume_a="pos")
    # K's condition number with reg = 1 is about 4,000 (20x the Gaussian's)
    assert relative(sol.dual_coef, alpha) < 20 * RTOL[dtype]
    assert relative(sol.test_scores, Ft @ F.T @ alpha) < 20 * RTOL[dtype]
    np.testing.assert_array_equal(sol.predict(sol.test_scores),
                                  sol.predict(Ft @ F.T @ alpha))
    assert sol.rkhs_norm == pytest.approx(np.sqrt(np.sum(alpha * (K @ alpha))),
                                          rel=20 * RTOL[dtype])
    assert sol.bandwidth is None and sol.bandwidth_search is None and sol.reg_search is None
    assert sol.relative_residual < 1e-12


def fake_cifar(images):
    """``_load``'s answer on the tiny CIFAR-shaped images (no data set needed)."""
    X, y, Xt, yt = images
    source = type("S", (), {"to_dict": lambda self: {
        "kind": "fake", "path": "-", "verified": False, "origin": "tests"}})()
    data = type("D", (), {"display_name": "fake CIFAR-10", "source": source})()
    return data, X, y, Xt, yt


TINY = {"n_filters": 64, "n_whitening_patches": 4000, "n_standardize_images": 100,
        "n_jobs": 1, "device": "cpu"}


@pytest.mark.parametrize("kernel", ["gaussian", "linear"])
def test_run_experiment_records_the_chosen_reg_and_matches_the_schema(images, monkeypatch,
                                                                      kernel):
    import json
    from importlib.resources import files

    import kernelfit.experiments as experiments

    jsonschema = pytest.importorskip("jsonschema")
    monkeypatch.setattr(experiments, "_load", lambda config, progress: fake_cifar(images))
    result = run_experiment(ExperimentConfig(
        dataset="cifar10", features="randconv", kernel=kernel, reg="auto",
        feature_params=TINY, dtype="float64", device="cpu", n_train=120, n_test=40))
    config = result.config
    assert config["reg"] == "auto"  # as configured: stored results still match
    search = {float(k): v for k, v in config["reg_search"].items()}
    assert len(search) == len(REG_GRID) - (kernel == "linear")
    assert config["reg_chosen"] == min(search, key=lambda r: (search[r], r))
    assert (result.bandwidth is None) == (kernel == "linear")
    assert "reg_search" in result.timings
    schema = json.loads(files("kernelfit.schemas").joinpath("experiment.schema.json")
                        .read_text())
    jsonschema.validate(json.loads(json.dumps(result.to_dict())), schema)
    for bad in ({"reg": "wide"}, {"reg": -1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**result.to_dict(), "config": {**config, **bad}}, schema)


@pytest.mark.parametrize(("changes", "match"), [
    ({"features": "randconv", "kernel": "laplacian"},
     r"kernel must be one of \('gaussian', 'linear'\); found 'laplacian'"),
    ({"features": "randconv", "reg": "wide"},
     r"reg must be a non-negative number or 'auto'.*'wide'"),
    ({"features": "randconv", "reg": -1.0}, r"reg must be a non-negative number.*-1\.0"),
    ({"features": "gabor", "reg": "auto"},
     r"reg='auto' \(held-out choice\) is supported for the streamed feature maps "
     r"\('randconv',\) only; features='gabor'"),
    ({"reg": "auto"}, r"streamed feature maps \('randconv',\) only; features='none'"),
])
def test_run_experiment_refuses_what_it_cannot_do_before_loading(monkeypatch, changes, match):
    import kernelfit.experiments as experiments

    def no_load(config, progress):
        raise AssertionError("loaded data before refusing")

    monkeypatch.setattr(experiments, "_load", no_load)
    with pytest.raises(ValueError, match=match):
        run_experiment(ExperimentConfig(dataset="cifar10", **changes))
