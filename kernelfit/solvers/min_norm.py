"""Minimum-norm tools for linear models: the exact solution, SGD from zero, RKHS norms.

For ``X w = y`` with more unknowns than equations, the minimum l2-norm
solution lies in the row space of ``X``: ``w = X^T alpha`` with
``X X^T alpha = y``. SGD started at ``w0 = 0`` never leaves that span, so
when it converges it converges to the same point (Zhang et al., Section 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg

from ..backend import backend_for, to_numpy
from ..gram_builder import gram, kernel_matvec
from ..validation import check_finite_rows, check_matrix, check_positive, check_same_rows
from .exact import solve

__all__ = ["MinNormResult", "SGDResult", "min_norm", "rkhs_norm", "sgd_linear"]


@dataclass
class MinNormResult:
    """Minimum-norm solution of ``X w = y`` and diagnostics.

    Attributes
    ----------
    w : array of shape (d,) or (d, c)
        On the device of ``X``.
    method : str
        ``"dual"``, ``"pinv"`` or ``"lstsq"``.
    norm : float
        ``||w||_2`` (Frobenius for several outputs).
    residual : float
        ``||X w - y|| / ||y||``.
    rank : int
        Numerical rank of ``X``.
    """

    w: np.ndarray
    method: str
    norm: float
    residual: float
    rank: int


def _linear_problem(X, y, backend=None):
    """``X`` and ``y`` checked and cast to float64 on ``backend`` (the host by default)."""
    X = check_matrix(X, "X")
    y = check_matrix(y, "y", allow_1d=True)
    check_same_rows(X, y)
    check_finite_rows(X, "X")
    check_finite_rows(y, "y")
    if backend is None:  # explicit device -> host copies
        return np.asarray(to_numpy(X), np.float64), np.asarray(to_numpy(y), np.float64)
    return (backend.astype(backend.asarray(X), np.float64),
            backend.astype(backend.asarray(y), np.float64))


def _norm(xp, a) -> float:
    return float(xp.sqrt(xp.sum(a * a)))


def min_norm(X, y, method="dual"):
    """Minimum l2-norm solution of ``X w = y``.

    Parameters
    ----------
    X : array of shape (n, d)
    y : array of shape (n,) or (n, c)
    method : {"dual", "pinv", "lstsq"}, default "dual"
        ``"dual"``: ``w = X^T (X X^T)^{-1} y`` through :func:`kernelfit.solve`
        on the linear Gram matrix; exact when ``X`` has full row rank (``d >= n``);
        it falls back to least squares, with a warning, when ``X X^T`` is singular.
        ``"pinv"``: ``w = pinv(X) y``. ``"lstsq"``: LAPACK ``gelsd``. Both handle
        rank-deficient ``X`` and any shape. ``"dual"`` and ``"pinv"`` run on
        the device of ``X``; ``"lstsq"`` is LAPACK-only and runs on the host
        (``X`` and ``y`` are copied there and ``w`` back, explicitly).

    Returns
    -------
    MinNormResult
    """
    if method not in ("dual", "pinv", "lstsq"):
        raise ValueError(f"method must be 'dual', 'pinv' or 'lstsq'; found {method!r}")
    backend = backend_for(check_matrix(X, "X"))
    X, y = _linear_problem(X, y, backend)
    xp = backend.xp
    if method == "dual":
        alpha = solve(gram(X, kernel="linear", device=backend), y)
        w = X.T @ alpha
    elif method == "pinv":
        w = xp.linalg.pinv(X) @ y
    else:
        w = backend.asarray(scipy.linalg.lstsq(backend.to_numpy(X), backend.to_numpy(y),
                                               lapack_driver="gelsd", check_finite=False)[0])
    resid = _norm(xp, X @ w - y) / max(_norm(xp, y), np.finfo(float).tiny)
    rank = int(xp.linalg.matrix_rank(X))
    return MinNormResult(w, method, _norm(xp, w), resid, rank)


@dataclass
class SGDResult:
    """Result of :func:`sgd_linear`.

    Attributes
    ----------
    w : ndarray of shape (d,)
    loss : list of float
        Mean squared training loss ``||X w - y||^2 / (2 n)`` after each epoch.
    distance_to_min_norm : list of float
        ``||w_t - w_min_norm||`` after each epoch.
    w_min_norm : ndarray of shape (d,)
    """

    w: np.ndarray
    loss: list = field(default_factory=list)
    distance_to_min_norm: list = field(default_factory=list)
    w_min_norm: np.ndarray | None = None


def sgd_linear(X, y, lr, epochs, w0=None, *, batch_size=1, seed=0, progress=None):
    """Plain SGD on the squared loss ``(x_i^T w - y_i)^2 / 2``, recording the distance to
    the minimum-norm solution.

    Parameters
    ----------
    X : array of shape (n, d)
    y : array of shape (n,)
    lr : float
        Step size (> 0). Stable for ``lr < 2 / max_i ||x_i||^2`` with ``batch_size=1``.
    epochs : int
        Passes over the data in a fresh random order each time.
    w0 : array of shape (d,), optional
        Starting point; zeros by default. Only from a point in the row space of
        ``X`` (such as 0) does SGD converge to the minimum-norm solution.
    batch_size : int, default 1
    seed : int, default 0
    progress : callable, optional
        Progress callback, phase ``"sgd"`` in epochs.

    Returns
    -------
    SGDResult

    Notes
    -----
    Runs on the host: device arrays are copied to NumPy explicitly first.
    """
    from ..progress import phase

    X, y = _linear_problem(X, y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D for sgd_linear; found shape {y.shape}")
    lr = check_positive(lr, "lr")
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError(f"epochs and batch_size must be >= 1; found {epochs}, {batch_size}")
    n, d = X.shape
    w = np.zeros(d) if w0 is None else np.array(check_matrix(w0, "w0", ndim=1), np.float64)
    if w.shape != (d,):
        raise ValueError(f"w0 must have shape {(d,)}; found {w.shape}")
    w_star = np.asarray(min_norm(X, y, method="lstsq").w)
    result = SGDResult(w, w_min_norm=w_star)
    rng = np.random.default_rng(seed)
    with phase(progress, "sgd", total=int(epochs), unit="epochs") as bar:
        for _ in range(int(epochs)):
            order = rng.permutation(n)
            for start in range(0, n, int(batch_size)):
                idx = order[start : start + int(batch_size)]
                Xb = X[idx]
                w -= lr * (Xb.T @ (Xb @ w - y[idx])) / len(idx)
            r = X @ w - y
            result.loss.append(float(r @ r / (2 * n)))
            result.distance_to_min_norm.append(float(np.linalg.norm(w - w_star)))
            bar.advance()
    result.w = w
    return result


def rkhs_norm(alpha, K=None, *, X=None, kernel="gaussian", per_output=False, **kernel_params):
    """RKHS norm ``sqrt(trace(alpha^T K alpha))`` of ``f = sum_i alpha_i k(x_i, .)``.

    Parameters
    ----------
    alpha : array of shape (n,) or (n, c)
        Dual coefficients.
    K : array of shape (n, n), optional
        The Gram matrix. If omitted, ``X`` and the kernel are used matrix-free
        through :func:`kernelfit.kernel_matvec`.
    X : array of shape (n, d), optional
    kernel : str or callable, default "gaussian"
    per_output : bool, default False
        Return one norm per column of ``alpha`` instead of the total.
    **kernel_params
        ``bandwidth``, ``degree``, ``gamma``, ``coef0``, ``memory_budget``, ...

    Returns
    -------
    float or ndarray of shape (c,)
        Computed on the device of ``K`` (or ``X``); only the ``c`` norms
        reach the host.
    """
    alpha = check_matrix(alpha, "alpha", allow_1d=True)
    check_finite_rows(alpha, "alpha")
    if K is None and X is None:
        raise ValueError("rkhs_norm needs the Gram matrix K or the data X")
    if K is not None:
        K = check_matrix(K, "K")
        if K.shape != (alpha.shape[0], alpha.shape[0]):
            raise ValueError(
                f"K must be {alpha.shape[0]} x {alpha.shape[0]} to match alpha; "
                f"found {tuple(K.shape)}"
            )
        backend = backend_for(K)
        Ka = K @ backend.asarray(alpha, dtype=K.dtype)
    else:
        check_same_rows(X, alpha, "X", "alpha")
        backend = backend_for(check_matrix(X, "X"), kernel_params.pop("device", "auto"))
        Ka = kernel_matvec(X, X, alpha, kernel, device=backend, **kernel_params)
    xp = backend.xp
    Ka = backend.astype(Ka, np.float64)
    A = backend.astype(backend.asarray(alpha), np.float64)
    if A.ndim == 1:
        A, Ka = A[:, None], Ka[:, None]
    sq = np.clip(backend.to_numpy(xp.sum(A * Ka, axis=0)), 0.0, None)
    return np.sqrt(sq) if per_output else float(np.sqrt(sq.sum()))
