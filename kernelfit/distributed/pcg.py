"""Matrix-free solves of ``(K + reg I) alpha = Y`` by preconditioned conjugate gradients.

For ``n`` where even the tiles of ``K`` do not fit the cluster: each iteration
needs one product ``K @ P`` (row-block tasks on the workers, from the data
alone: :class:`~kernelfit.distributed.matvec.SymmetricKernelOperator`) and one
application of a rank-``r`` preconditioner on the client
(:mod:`kernelfit.distributed.preconditioners`). The ``c`` right-hand sides run
as independent CG recursions sharing each product.

With ``reg > 0`` (or a well-conditioned ``K``) the iterates converge to the
solution of the exact path. With ``reg = 0`` the system is the interpolation
problem: in exact arithmetic CG still converges for a positive-definite ``K``,
but a smooth kernel's smallest eigenvalues sit near rounding level, so the
relative residual stalls around ``eps * cond(K)`` and ``alpha`` is only
determined in the well-conditioned directions; :class:`PCGInfo` then reports
``converged=False`` and a :class:`PCGConvergenceWarning` is raised.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..kernels import make_kernel
from ..progress import phase
from ..validation import check_nonnegative
from . import data as data_mod
from .cluster import resolve_client
from .matvec import SymmetricKernelOperator
from .preconditioners import nystrom_preconditioner, rpcholesky_preconditioner

__all__ = ["PCGConvergenceWarning", "PCGInfo", "pcg_solve"]

PRECONDITIONERS = ("rpcholesky", "nystrom", "none")


class PCGConvergenceWarning(UserWarning):
    """Conjugate gradients stopped before reaching the requested tolerance."""


@dataclass
class PCGInfo:
    """How a matrix-free solve went.

    Attributes
    ----------
    iterations : int
    residuals : list of float
        Largest relative residual ``||y_j - (K + reg I) alpha_j|| / ||y_j||`` over
        the columns, after each iteration (recursively updated).
    converged : bool
    preconditioner : str
    rank : int
        Columns of the preconditioner's factor.
    shift : float
        Its ``mu``.
    seconds : dict
        Wall time of ``preconditioner`` and ``iterations``.
    """

    iterations: int = 0
    residuals: list = field(default_factory=list)
    converged: bool = False
    preconditioner: str = "rpcholesky"
    rank: int = 0
    shift: float = 0.0
    seconds: dict = field(default_factory=dict)


def pcg_solve(X, Y, kernel="gaussian", *, reg=0.0, client=None, bandwidth=None,
              preconditioner="rpcholesky", rank=200, tol=1e-10, max_iter=500,
              block_size=None, seed=0, progress=None):
    """Solve ``(K(X, X) + reg I) alpha = Y`` matrix-free on a Dask cluster.

    Parameters
    ----------
    X : array of shape (n, d), or path of a ``.npy`` file every worker can read
    Y : array of shape (n,) or (n, c)
    kernel : str, Kernel or callable, default "gaussian"
    reg : float, default 0
    client : None, distributed.Client or str
    bandwidth : float, optional
    preconditioner : {"rpcholesky", "nystrom", "none"}, default "rpcholesky"
    rank : int, default 200
        Columns of ``K`` the preconditioner is built from.
    tol : float, default 1e-10
        Stop when every column's relative residual is below this.
    max_iter : int, default 500
    block_size : int, optional
        Row/column block of the products (at most 2048).
    seed : int, default 0
        Pivot sampling.
    progress : callable, optional
        Phases ``"preconditioner"`` and ``"pcg"`` (iterations).

    Returns
    -------
    alpha : ndarray of shape (n,) or (n, c), float64
    info : PCGInfo
    """
    reg = check_nonnegative(reg, "reg")
    if preconditioner not in PRECONDITIONERS:
        raise ValueError(f"preconditioner must be one of {PRECONDITIONERS}; "
                         f"found {preconditioner!r}")
    if int(rank) < 1 or int(max_iter) < 1 or not tol > 0:
        raise ValueError(f"rank and max_iter must be >= 1 and tol > 0; found rank={rank}, "
                         f"max_iter={max_iter}, tol={tol}")
    client = resolve_client(client)
    source, n, _, _ = data_mod.describe(X)
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim not in (1, 2) or Y.shape[0] != n:
        raise ValueError(f"Y must have shape ({n},) or ({n}, c); found {Y.shape}")
    vector = Y.ndim == 1
    B = Y[:, None] if vector else Y
    view = data_mod.local_view(source)

    def points_of(indices):
        return np.asarray(view[indices], dtype=np.float64)

    kernel = make_kernel(kernel, bandwidth=bandwidth, X=view)
    info = PCGInfo(preconditioner=preconditioner)
    with data_mod.replicated_data(client, source) as data:
        operator = SymmetricKernelOperator(client, data, kernel, block_size)
        t0 = time.perf_counter()
        apply_inverse = _preconditioner(preconditioner, client, data, points_of, kernel,
                                        rank, reg, operator.block, seed, progress, info)
        info.seconds["preconditioner"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        alpha = _iterate(lambda V: operator(V) + reg * V, apply_inverse, B, tol,
                         int(max_iter), info, progress)
        info.seconds["iterations"] = time.perf_counter() - t0
    if not info.converged:
        warnings.warn(
            f"conjugate gradients stopped after {info.iterations} iterations with relative "
            f"residual {info.residuals[-1]:.2e}, above tol={tol:.1e}"
            + ("; with reg=0 the residual stalls near eps * cond(K): use reg > 0" if not reg
               else "; raise rank or max_iter"),
            PCGConvergenceWarning, stacklevel=2,
        )
    return (alpha[:, 0] if vector else alpha), info


def _preconditioner(kind, client, data, points_of, kernel, rank, reg, block, seed, progress,
                    info):
    if kind == "none":
        return lambda R: R
    if kind == "nystrom":
        P = nystrom_preconditioner(client, data, points_of, kernel, rank, reg=reg, block=block,
                                   seed=seed)
    else:
        P = rpcholesky_preconditioner(client, data, points_of, kernel, rank, reg=reg,
                                      block=block, seed=seed, progress=progress)
    info.rank, info.shift = P.rank, P.shift
    return P


def _iterate(apply_system, apply_inverse, B, tol, max_iter, info, progress):
    """Independent PCG recursions on the columns of ``B``, sharing each product."""
    norms = np.linalg.norm(B, axis=0)
    norms[norms == 0] = 1.0
    alpha = np.zeros_like(B)
    R = B.copy()
    Z = apply_inverse(R)
    P = Z.copy()
    rz = np.einsum("ij,ij->j", R, Z)
    active = np.linalg.norm(R, axis=0) / norms > tol
    with phase(progress, "pcg", total=max_iter, unit="iterations") as bar:
        while active.any() and info.iterations < max_iter:
            AP = apply_system(P)
            curvature = np.einsum("ij,ij->j", P, AP)
            step = np.where(active, rz / np.where(curvature > 0, curvature, np.inf), 0.0)
            alpha += step * P
            R -= step * AP
            residual = np.linalg.norm(R, axis=0) / norms
            info.iterations += 1
            info.residuals.append(float(residual.max()))
            bar.advance()
            active &= (residual > tol) & (curvature > 0)
            if not active.any():
                break
            Z = apply_inverse(R)
            rz_next = np.einsum("ij,ij->j", R, Z)
            beta = np.where(active, rz_next / np.where(rz > 0, rz, np.inf), 0.0)
            P = Z + beta * P
            rz = rz_next
    info.converged = bool(info.residuals and info.residuals[-1] <= tol) or not info.residuals
    return alpha
