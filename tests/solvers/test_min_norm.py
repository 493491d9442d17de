"""Minimum-norm solutions, SGD from zero, RKHS norms, and other interpolants."""

import numpy as np
import pytest

import kernelfit as kf


@pytest.mark.parametrize("method", ["dual", "pinv", "lstsq"])
@pytest.mark.parametrize("c", [None, 3])
def test_min_norm_matches_pinv_underdetermined(method, c):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 120))
    y = rng.standard_normal(40) if c is None else rng.standard_normal((40, c))
    res = kf.min_norm(X, y, method=method)
    np.testing.assert_allclose(res.w, np.linalg.pinv(X) @ y, rtol=1e-8, atol=1e-10)
    assert res.residual < 1e-10 and res.rank == 40


@pytest.mark.parametrize("method", ["pinv", "lstsq"])
def test_min_norm_rank_deficient(method):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 4)) @ rng.standard_normal((4, 30))  # rank 4
    y = rng.standard_normal(50)
    res = kf.min_norm(X, y, method=method)
    np.testing.assert_allclose(res.w, np.linalg.pinv(X) @ y, rtol=1e-6, atol=1e-9)
    assert res.rank == 4


def test_sgd_from_zero_converges_to_min_norm():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((30, 100)) / 10
    y = rng.standard_normal(30)
    res = kf.sgd_linear(X, y, lr=0.5, epochs=400, seed=0)
    w_star = np.linalg.pinv(X) @ y
    assert res.distance_to_min_norm[-1] < 1e-6 * np.linalg.norm(w_star)
    assert res.loss[-1] < 1e-12
    assert res.distance_to_min_norm[-1] < res.distance_to_min_norm[0]


def test_sgd_from_outside_the_span_stays_away():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20, 60)) / 8
    y = rng.standard_normal(20)
    w0 = rng.standard_normal(60)
    res = kf.sgd_linear(X, y, lr=0.5, epochs=300, w0=w0)
    assert res.loss[-1] < 1e-10  # it interpolates ...
    null_part = w0 - np.linalg.pinv(X) @ (X @ w0)
    # ... but keeps the null-space component of w0, so it is not the min-norm solution
    assert res.distance_to_min_norm[-1] == pytest.approx(np.linalg.norm(null_part), rel=1e-4)


def test_sgd_bad_input():
    with pytest.raises(ValueError, match="lr must be > 0"):
        kf.sgd_linear(np.ones((3, 4)), np.ones(3), lr=0.0, epochs=1)
    with pytest.raises(ValueError, match=r"w0 must have shape \(4,\)"):
        kf.sgd_linear(np.ones((3, 4)), np.ones(3), lr=0.1, epochs=1, w0=np.ones(5))


def test_rkhs_norm_dense_matrix_free_and_formula_agree():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((80, 6))
    alpha = rng.standard_normal((80, 3))
    K = kf.gram(X, kernel="gaussian", bandwidth=2.0)
    ref = np.sqrt(np.trace(alpha.T @ K @ alpha))
    assert kf.rkhs_norm(alpha, K) == pytest.approx(ref, rel=1e-12)
    assert kf.rkhs_norm(alpha, X=X, kernel="gaussian", bandwidth=2.0) == pytest.approx(
        ref, rel=1e-12)
    per = kf.rkhs_norm(alpha, K, per_output=True)
    np.testing.assert_allclose(per, np.sqrt(np.diag(alpha.T @ K @ alpha)), rtol=1e-12)


def test_rkhs_norm_shape_mismatch():
    with pytest.raises(ValueError, match="must be 3 x 3"):
        kf.rkhs_norm(np.ones(3), np.eye(4))


def test_other_interpolants_fit_but_have_larger_norms():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 4))
    y = np.sign(rng.standard_normal(60))
    K = kf.gram(X, kernel="gaussian", bandwidth=1.5)
    min_norm = kf.rkhs_norm(kf.solve(K.copy(), y), K)
    rc = kf.random_centers_interpolant(X, y, bandwidth=1.5, n_centers=150)
    fl = kf.forced_labels_interpolant(X, y, rng.standard_normal((40, 4)), bandwidth=1.5)
    for interp in (rc, fl):
        assert interp.train_residual < 1e-6
        np.testing.assert_allclose(interp.predict(X), y, atol=1e-4)
        assert interp.rkhs_norm > min_norm
