"""``backend="dask"`` for :class:`~kernelfit.KernelRegressor` and ``KernelClassifier``.

The estimators stay thin: with ``backend="dask"`` their ``fit`` calls
:func:`dask_gram_source`, which returns the Dask tile graph as a Gram source for
the solve pipeline (``solver="auto"`` or ``"cholesky"``; ``dtype="mixed"`` adds the
pipeline's float64 refinement with products computed on the workers) or solves by
the matrix-free path (``solver="pcg"``) itself; predictions call :func:`decision`.
"""

from __future__ import annotations

import time

from ..kernels import make_kernel
from ..solvers.pipeline import solution_metrics, storage_precision
from .cluster import resolve_client
from .gram_source import DaskGramSource
from .matvec import dask_kernel_matvec
from .pcg import pcg_solve

__all__ = ["dask_gram_source", "decision"]

SOLVERS = ("auto", "cholesky", "pcg")


def dask_gram_source(model, X, Y, reg):
    """The Dask Gram source of a fit, or None after solving by PCG.

    Parameters
    ----------
    model : KernelRegressor or KernelClassifier
        Reads ``kernel``, ``bandwidth``, ``solver``, ``dtype``, ``tile_size``,
        ``client`` and ``progress``; sets ``kernel_`` (and, for PCG, every fitted
        attribute).
    X : ndarray of shape (n, d)
    Y : ndarray of shape (n,) or (n, c), float64
    reg : float

    Returns
    -------
    DaskGramSource or None
    """
    if model.solver not in SOLVERS:
        raise ValueError(f"with backend='dask', solver must be one of {SOLVERS}; "
                         f"found {model.solver!r}")
    storage_precision(model.dtype)
    client = resolve_client(model.client)
    model.kernel_ = make_kernel(model.kernel, bandwidth=model.bandwidth, degree=model.degree,
                                gamma=model.gamma, coef0=model.coef0, X=X)
    if model.solver != "pcg":
        return DaskGramSource(X, model.kernel_, client=client, tile_size=model.tile_size)
    t0 = time.perf_counter()
    alpha, model.pcg_info_ = pcg_solve(X, Y, model.kernel_, reg=reg, client=client,
                                       progress=model.progress)
    model.timings_ = {"solve": time.perf_counter() - t0}
    model.solver_ = "pcg"
    model.rkhs_norm_ = solution_metrics(Y, alpha, reg)[1]
    model.dual_coef_ = alpha
    model.X_fit_ = X
    return None


def decision(model, X):
    """``K(X, X_fit_) @ dual_coef_`` on the model's Dask client."""
    return dask_kernel_matvec(X, model.X_fit_, model.dual_coef_, model.kernel_,
                              client=resolve_client(model.client), progress=model.progress)
