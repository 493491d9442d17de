"""Other interpolants of the same data, to set against the minimum-norm one.

The minimum-norm interpolant ``f = sum_i alpha_i k(x_i, .)`` with
``K alpha = y`` has the smallest RKHS norm of all functions in the RKHS that
fit the data. These constructors build other exact fits, so a user can
measure how much larger their norms are:

* :func:`random_centers_interpolant` -- kernel centres at random points;
* :func:`forced_labels_interpolant` -- also forces random labels on extra points.

Both run on the host (NumPy and SciPy's LAPACK): device inputs are copied there
explicitly, and their Grams are built on the CPU whatever GPU the machine has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..backend import host_backend, to_numpy
from ..gram_builder import gram
from ..kernels import make_kernel
from ..validation import check_finite_rows, check_matrix, check_same_rows
from .exact import solve
from .targets import one_hot

__all__ = ["Interpolant", "forced_labels_interpolant", "random_centers_interpolant"]


@dataclass
class Interpolant:
    """``f(x) = sum_j coef_j k(centers_j, x)`` and its RKHS norm.

    Attributes
    ----------
    centers : ndarray of shape (m, d)
    coef : ndarray of shape (m,) or (m, c)
    rkhs_norm : float
        ``sqrt(trace(coef^T K(centers, centers) coef))``.
    train_residual : float
        ``||f(X) - y|| / ||y||`` on the points it was built to fit.
    """

    centers: np.ndarray
    coef: np.ndarray
    rkhs_norm: float
    train_residual: float
    kernel: object = None

    def predict(self, X):
        """Evaluate ``f`` at the rows of ``X``."""
        X = np.asarray(to_numpy(X), np.float64)
        return gram(X, self.centers, self.kernel, device=_HOST) @ self.coef


#: These interpolants are NumPy/SciPy (LAPACK) computations: their Grams are built on the
#: host whatever GPU the machine has (``device="auto"`` would return CuPy blocks).
_HOST = host_backend()


def _norm(coef, Kcc):
    c = coef[:, None] if coef.ndim == 1 else coef
    return float(np.sqrt(max(np.sum(c * (Kcc @ c)), 0.0)))


def _problem(X, y):
    X = np.asarray(to_numpy(check_matrix(X, "X")), np.float64)  # explicit host copies
    y = np.asarray(to_numpy(check_matrix(y, "y", allow_1d=True)), np.float64)
    check_same_rows(X, y)
    check_finite_rows(X, "X")
    check_finite_rows(y, "y")
    return X, y


def random_centers_interpolant(X, y, kernel="gaussian", *, n_centers=None, seed=0,
                               **kernel_params):
    """Interpolate ``(X, y)`` with kernel centres at random points instead of the data.

    The centres are Gaussian points with the mean and per-feature spread of
    ``X``; the coefficients are the minimum-norm solution of
    ``K(X, C) coef = y`` (an underdetermined system when ``m >= n``).

    Parameters
    ----------
    X : array of shape (n, d)
    y : array of shape (n,) or (n, c)
    kernel : str or callable, default "gaussian"
    n_centers : int, optional
        ``m``, at least ``n`` (default ``2 n``).
    seed : int, default 0
    **kernel_params
        ``bandwidth`` etc.

    Returns
    -------
    Interpolant
    """
    X, y = _problem(X, y)
    n = X.shape[0]
    m = 2 * n if n_centers is None else int(n_centers)
    if m < n:
        raise ValueError(f"n_centers must be >= n to interpolate; found {m} < n = {n}")
    k = make_kernel(kernel, X=X, **kernel_params)
    rng = np.random.default_rng(seed)
    C = X.mean(0) + X.std(0) * rng.standard_normal((m, X.shape[1]))
    KXC = gram(X, C, k, device=_HOST)
    coef = scipy.linalg.lstsq(KXC, y, lapack_driver="gelsd", check_finite=False)[0]
    resid = np.linalg.norm(KXC @ coef - y) / np.linalg.norm(y)
    return Interpolant(C, coef, _norm(coef, gram(C, None, k, device=_HOST)), float(resid), k)


def forced_labels_interpolant(X, y, X_extra, kernel="gaussian", *, seed=0, n_classes=None,
                              **kernel_params):
    """Interpolate ``(X, y)`` while also forcing random labels on the points ``X_extra``.

    Parameters
    ----------
    X : array of shape (n, d)
    y : array of shape (n,) or (n, c)
        Targets; for one-hot ``(n, c)`` targets the forced labels are random
        one-hot rows, otherwise values drawn from ``y``.
    X_extra : array of shape (m, d)
        Extra points (e.g. test inputs) given random labels.
    kernel : str or callable, default "gaussian"
    seed : int, default 0
    n_classes : int, optional
        Unused unless ``y`` is one-hot; inferred from ``y``.
    **kernel_params
        ``bandwidth`` etc.

    Returns
    -------
    Interpolant
        Fits ``y`` on ``X`` exactly (up to rounding) and random labels on ``X_extra``.
    """
    X, y = _problem(X, y)
    X_extra = np.asarray(check_matrix(X_extra, "X_extra"), np.float64)
    check_finite_rows(X_extra, "X_extra")
    if X_extra.shape[1] != X.shape[1]:
        raise ValueError(
            f"X_extra must have {X.shape[1]} features like X; found shape {X_extra.shape}"
        )
    rng = np.random.default_rng(seed)
    m = X_extra.shape[0]
    if y.ndim == 2:
        c = n_classes or y.shape[1]
        y_extra = one_hot(rng.integers(0, c, m), np.arange(c))
    else:
        y_extra = rng.choice(y, size=m)
    k = make_kernel(kernel, X=X, **kernel_params)
    C = np.vstack([X, X_extra])
    Y = np.concatenate([y, y_extra])
    Kcc = gram(C, None, k, device=_HOST)
    coef = solve(Kcc.copy(), Y)
    resid = np.linalg.norm(gram(X, C, k, device=_HOST) @ coef - y) / np.linalg.norm(y)
    return Interpolant(C, coef, _norm(coef, Kcc), float(resid), k)
