"""``backend="dask"`` for :class:`~kernelfit.KernelRegressor` and ``KernelClassifier``.

The estimators stay thin: with ``backend="dask"`` their ``fit`` calls
:func:`fit_dual` and their predictions call :func:`decision`, which run the
exact path (``solver="auto"`` or ``"cholesky"``; ``dtype="mixed"`` adds float64
refinement with products computed on the workers) or the matrix-free path
(``solver="pcg"``) on the estimator's ``client``.
"""

from __future__ import annotations

import time

import numpy as np

from ..kernels import make_kernel
from ..solvers.mixed import RefinementInfo
from .cluster import resolve_client
from .factorization import cholesky_factor
from .matvec import SymmetricKernelOperator, dask_kernel_matvec
from .pcg import pcg_solve

__all__ = ["decision", "fit_dual"]

SOLVERS = ("auto", "cholesky", "pcg")


def fit_dual(model, X, Y, reg):
    """Solve ``(K + reg I) alpha = Y`` on Dask and set the model's fitted attributes.

    Parameters
    ----------
    model : KernelRegressor or KernelClassifier
        Reads ``kernel``, ``bandwidth``, ``solver``, ``dtype``, ``tile_size``,
        ``client`` and ``progress``.
    X : ndarray of shape (n, d)
    Y : ndarray of shape (n,) or (n, c), float64
    reg : float

    Returns
    -------
    model
    """
    if model.solver not in SOLVERS:
        raise ValueError(f"with backend='dask', solver must be one of {SOLVERS}; "
                         f"found {model.solver!r}")
    mixed = isinstance(model.dtype, str) and model.dtype == "mixed"
    dtype = np.dtype(np.float32 if mixed else (model.dtype or np.float64))
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32, float64 or 'mixed'; found {model.dtype!r}")
    client = resolve_client(model.client)
    model.kernel_ = make_kernel(model.kernel, bandwidth=model.bandwidth, degree=model.degree,
                                gamma=model.gamma, coef0=model.coef0, X=X)
    model.timings_ = {}
    t0 = time.perf_counter()
    if model.solver == "pcg":
        alpha, model.pcg_info_ = pcg_solve(X, Y, model.kernel_, reg=reg, client=client,
                                           progress=model.progress)
        model.timings_["solve"] = time.perf_counter() - t0
        model.solver_ = "pcg"
    else:
        with cholesky_factor(X, model.kernel_, reg=reg, client=client, dtype=dtype,
                             tile_size=model.tile_size, progress=model.progress) as factor:
            model.timings_["cholesky"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            if mixed:
                alpha, model.refinement_ = _refine(factor, Y, reg, model.progress)
            else:
                alpha = factor.solve(Y, progress=model.progress)
            model.timings_["solve"] = time.perf_counter() - t0
        model.solver_ = "mixed" if mixed else "cholesky"
    A = alpha[:, None] if alpha.ndim == 1 else alpha
    sq = float(np.sum(A * Y.reshape(A.shape)) - reg * np.sum(A * A))
    model.rkhs_norm_ = float(np.sqrt(max(sq, 0.0)))
    model.dual_coef_ = alpha
    model.X_fit_ = X
    return model


def _refine(factor, Y, reg, progress, tol=1e-13, max_iter=10, min_gain=2.0):
    """Iterative refinement with a low-precision factor; as
    :func:`kernelfit.solvers.refine_solution`, with products on the workers."""
    operator = SymmetricKernelOperator(factor.client, factor.data, factor.kernel,
                                       factor.tile_size)
    Y2 = Y[:, None] if Y.ndim == 1 else Y
    y_norm = float(np.linalg.norm(Y2)) or 1.0
    alpha = factor.solve(Y2, progress=progress)
    info = RefinementInfo()
    for it in range(max_iter + 1):
        R = Y2 - operator(alpha, progress, "refine") - reg * alpha
        res = float(np.linalg.norm(R)) / y_norm
        gain = info.residuals[-1] / res if info.residuals and res > 0 else np.inf
        info.residuals.append(res)
        info.final_residual = R[:, 0] if Y.ndim == 1 else R
        if res <= tol or gain < min_gain or it == max_iter:
            break
        alpha += factor.solve(R, progress=progress)
        info.iterations += 1
    info.converged = info.residuals[-1] <= tol
    return (alpha[:, 0] if Y.ndim == 1 else alpha), info


def decision(model, X):
    """``K(X, X_fit_) @ dual_coef_`` on the model's Dask client."""
    return dask_kernel_matvec(X, model.X_fit_, model.dual_coef_, model.kernel_,
                              client=resolve_client(model.client), progress=model.progress)
