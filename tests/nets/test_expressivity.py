"""Theorem 1: a depth-2 ReLU network with 2n + d weights through any labels."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.linalg import solve_triangular

from kernelfit.nets.expressivity import ReluInterpolant, fit_relu_interpolant


@pytest.mark.parametrize(("n", "d"), [(1, 1), (1, 4), (2, 1), (10, 2), (200, 5), (1000, 50),
                                      (500, 784)])
def test_fits_random_labels_exactly(n, d):
    rng = np.random.default_rng(n + d)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, 10, n).astype(float)
    net = fit_relu_interpolant(X, y, check_rows=None)
    assert net.n_parameters == 2 * n + d
    assert net.a.shape == (d,) and net.b.shape == (n,) and net.w.shape == (n,)
    assert net.min_diagonal > 0
    assert net.residual_rows_checked == n
    # Rounding grows with the weights (~ 1 / smallest gap); stay near machine precision.
    tolerance = 1e-12 * max(1.0, net.max_abs_weight) * max(1.0, np.abs(X @ net.a).max()) * n
    assert net.max_abs_residual <= tolerance
    np.testing.assert_allclose(net.evaluate_dense(X), y, rtol=0, atol=tolerance)
    np.testing.assert_allclose(net(X), y, rtol=0, atol=tolerance)


def test_matches_a_dense_triangular_solve():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 3)), rng.standard_normal(60)
    net = fit_relu_interpolant(X, y)
    z = np.sort(X @ net.a)
    A = np.maximum(z[:, None] - net.b[None, :], 0.0)
    assert np.all(np.triu(A, 1) == 0)  # lower triangular ...
    assert np.all(np.diag(A) > 0)  # ... with a positive diagonal
    assert np.diag(A).min() == pytest.approx(net.min_diagonal)
    order = np.argsort(X @ net.a)
    reference = solve_triangular(A, y[order], lower=True)
    np.testing.assert_allclose(net.w, reference, rtol=1e-8, atol=1e-8)


def test_real_labels_and_1d_input():
    x = np.linspace(-3, 3, 50)
    y = np.sin(3 * x) * 100
    net = fit_relu_interpolant(x, y)
    assert net.a.shape == (1,)
    np.testing.assert_allclose(net(x), y, atol=1e-9)


@pytest.mark.parametrize("d", [1, 3])
def test_hundred_thousand_points_quickly(d):
    rng = np.random.default_rng(d)
    X = rng.random((100_000, d))
    y = rng.integers(0, 10, 100_000).astype(float)
    start = time.perf_counter()
    net = fit_relu_interpolant(X, y, check_rows=1000)
    assert time.perf_counter() - start < 20
    # Gaps between sorted projections of 1e5 uniform points go down to ~1e-10, so
    # the weights reach ~1e10 and float64 rounding leaves residuals around 1e-5.
    assert net.max_abs_weight > 1e8
    assert net.max_abs_residual < 1e-3
    assert np.abs(net(X) - y).max() < 1e-4
    assert np.all(np.round(net(X)) == y)  # every class label reproduced
    assert net.to_dict()["n_parameters"] == 200_000 + d


@pytest.mark.nets
def test_torch_module_reproduces_labels():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((100, 4)), rng.integers(0, 10, 100).astype(float)
    net = fit_relu_interpolant(X, y)
    module = net.to_torch()
    assert sum(p.numel() for p in module.parameters()) == 2 * 100 + 4
    out = module(torch.as_tensor(X)).detach().numpy()
    np.testing.assert_allclose(out, y, atol=1e-8)


def test_input_errors():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    X[7] = X[13]
    with pytest.raises(ValueError, match="rows 7 and 13 equal"):
        fit_relu_interpolant(X, np.arange(20.0))
    with pytest.raises(ValueError, match="same number of rows"):
        fit_relu_interpolant(X[:5], np.arange(4.0))
    with pytest.raises(ValueError, match="NaN or infinity"):
        fit_relu_interpolant(np.array([[0.0], [np.nan]]), np.zeros(2))
    with pytest.raises(ValueError, match=r"theta must be in \(0, 1\)"):
        fit_relu_interpolant(np.arange(3.0), np.zeros(3), theta=1.0)
    with pytest.raises(ValueError, match="must be a 1-D array"):
        fit_relu_interpolant(np.arange(3.0), np.zeros((3, 2)))
    net = fit_relu_interpolant(np.arange(3.0), np.zeros(3))
    assert isinstance(net, ReluInterpolant)
    with pytest.raises(ValueError, match="must have 1 columns"):
        net(np.zeros((2, 2)))
