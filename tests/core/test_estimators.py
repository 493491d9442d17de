"""KernelRegressor / KernelClassifier: scikit-learn conventions and references."""

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

import kernelfit as kf
from kernelfit.memory import MemoryBudgetError


@parametrize_with_checks([kf.KernelRegressor(bandwidth=2.0), kf.KernelClassifier(bandwidth=2.0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_ridge_matches_sklearn(dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 8)).astype(dtype)
    y = rng.standard_normal((200, 2))
    lam = 0.7
    model = kf.KernelRegressor(kernel="linear", reg=lam, dtype=dtype, tile_size=64).fit(X, y)
    kr = KernelRidge(kernel="linear", alpha=lam).fit(X.astype(np.float64), y)
    ridge = Ridge(alpha=lam, fit_intercept=False).fit(X.astype(np.float64), y)
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(model.predict(X), kr.predict(X.astype(np.float64)), rtol=rtol,
                               atol=rtol)
    np.testing.assert_allclose(model.predict(X), ridge.predict(X.astype(np.float64)), rtol=rtol,
                               atol=rtol)


def test_gaussian_interpolant_properties():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 4))
    y = rng.integers(0, 5, 300)
    clf = kf.KernelClassifier(bandwidth=1.0, tile_size=100).fit(X, y)
    assert clf.score(X, y) == 1.0  # interpolates, even random labels
    assert clf.solver_ == "cholesky"
    K = kf.gram(X, kernel="gaussian", bandwidth=1.0)
    assert clf.rkhs_norm_ == pytest.approx(kf.rkhs_norm(clf.dual_coef_, K), rel=1e-6)
    np.testing.assert_array_equal(clf.classes_, np.arange(5))
    assert clf.decision_function(X[:7]).shape == (7, 5)
    assert set(clf.timings_) == {"gram", "cholesky", "solve"}


def test_classifier_random_labels_need_larger_norm():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((400, 3))
    y_true = (X[:, 0] > 0).astype(int)
    y_rand = rng.permutation(y_true)
    true = kf.KernelClassifier(bandwidth=1.0).fit(X, y_true).rkhs_norm_
    rand = kf.KernelClassifier(bandwidth=1.0).fit(X, y_rand).rkhs_norm_
    assert rand > 1.5 * true


def test_estimator_refuses_budget_before_allocating():
    X = np.random.default_rng(3).standard_normal((3000, 2))
    with pytest.raises(MemoryBudgetError, match=r"needs .* budget of"):
        kf.KernelRegressor(bandwidth=1.0, memory_budget="1MB").fit(X, X[:, 0])


@pytest.mark.parametrize(
    ("params", "match"),
    [({"reg": -1.0}, "reg must be >= 0"), ({"bandwidth": 0.0}, "bandwidth must be > 0"),
     ({"dtype": "int32"}, "float32, float64 or 'mixed'"), ({"solver": "qr"}, "solver must be")],
)
def test_estimator_bad_parameters(params, match):
    X = np.random.default_rng(4).standard_normal((20, 2))
    with pytest.raises(ValueError, match=match):
        kf.KernelRegressor(**{"bandwidth": 1.0, **params}).fit(X, X[:, 0])


def test_estimator_nan_names_row():
    X = np.ones((5, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="first bad row is 3"):
        kf.KernelRegressor(bandwidth=1.0).fit(X, np.ones(5))


@pytest.mark.parametrize("tile_size", [0, -3, 2.5, True])
def test_tile_size_below_one_is_refused(tile_size):
    X = np.arange(12, dtype=float).reshape(6, 2)
    with pytest.raises(ValueError, match=rf"tile_size must be a whole number >= 1; found "
                                         rf"{tile_size!r}"):
        kf.KernelRegressor(kernel="linear", reg=0.1, tile_size=tile_size).fit(X, X[:, 0])
