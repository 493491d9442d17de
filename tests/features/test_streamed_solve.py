"""The streamed random-convolution solve against materialized features, sklearn and SciPy."""

import os

import numpy as np
import pytest
import scipy.linalg
from sklearn.metrics.pairwise import rbf_kernel

from kernelfit.experiments import (
    AUTO_BANDWIDTH_FACTORS,
    ExperimentConfig,
    run_experiment,
    select_bandwidth,
)
from kernelfit.features import RandomConvFeatures, median_bandwidth_from_gram
from kernelfit.memory import MemoryBudgetError
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
    assert {"randconv gram", "kernel", "cholesky", "solve", "residual", "predict"} <= {
        e.phase for e in events}


def test_failed_cholesky_falls_back_to_lu_on_the_stored_kernel(images, reference, monkeypatch):
    import kernelfit.streamed.solve as streamed_solve
    from kernelfit.backend import NotPositiveDefiniteError
    from kernelfit.solvers import SolverFallbackWarning

    def failing(storage, **kwargs):
        raise NotPositiveDefiniteError("matrix is not positive definite", 3)

    monkeypatch.setattr(streamed_solve, "tiled_cholesky", failing)
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
    ({"reg": -1.0}, ValueError, "reg"),
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
    assert (result.n_features, result.storage, result.solver) == (256, "packed", "mixed")
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


def test_run_experiment_refuses_other_kernels_for_randconv(monkeypatch):
    import kernelfit.experiments as experiments

    fake = (type("D", (), {"display_name": "fake"})(), np.zeros((4, 8, 8, 3), np.uint8),
            np.arange(4) % 2, np.zeros((2, 8, 8, 3), np.uint8), np.arange(2))
    monkeypatch.setattr(experiments, "_load", lambda config, progress: fake)
    config = ExperimentConfig(dataset="cifar10", features="randconv", kernel="laplacian")
    with pytest.raises(ValueError, match="kernel must be 'gaussian'; found 'laplacian'"):
        run_experiment(config)
