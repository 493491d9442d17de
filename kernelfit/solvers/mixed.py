"""Mixed precision: a float32 tiled Cholesky, corrected to float64 accuracy.

Iterative refinement: with the float32 factor ``L`` of ``K + reg I``,

.. math::

    r_t = y - (K + \\mathrm{reg}\\, I)\\,\\alpha_t, \\qquad
    \\alpha_{t+1} = \\alpha_t + L^{-T} L^{-1} r_t,

where the residual is computed in float64 (matrix-free from the data,
:func:`kernelfit.gram_builder.symmetric_matvec`, or from a stored float64
``K``, :mod:`kernelfit.solvers.stored_refinement`) and the correction
``L^{-T} L^{-1} r_t`` in the factor's own precision. The float32
factorization costs about half the float64 one; each refinement step costs
one float64 product with ``K`` and two float32 triangular sweeps.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..gram_builder import symmetric_matvec
from ..linalg import cholesky_solve
from ..phase_clock import Stopwatch

__all__ = ["MixedPrecisionWarning", "RefinementInfo", "default_tol", "refine", "refine_solution",
           "tile_correction"]


class MixedPrecisionWarning(UserWarning):
    """Mixed-precision refinement did not converge: the result is not a solution."""


@dataclass
class RefinementInfo:
    """Convergence record of :func:`refine_solution`.

    Attributes
    ----------
    iterations : int
        Corrections applied.
    residuals : list of float
        ``||y - (K + reg I) alpha_t|| / ||y||`` for ``t = 0, 1, ...``.
    converged : bool
        The last residual is below ``tol``.
    final_residual : ndarray
        The residual vector of the returned ``alpha`` (float64), from which the
        training predictions ``K alpha = y - r - reg alpha`` follow without
        another pass over ``K``.
    residuals_from : str
        What the float64 products by ``K`` were computed from: ``"data"``
        (matrix-free kernel blocks) or ``"stored kernel"`` (a kept copy of ``K``).
    tol : float
        The tolerance it ran with.
    stop_reason : str
        Why refinement stopped: ``"tolerance"`` (the residual is below ``tol``),
        ``"stalled"`` (it stopped falling: the accuracy the float64 product with ``K``
        and the factor allow; see :func:`refine`), ``"not_contracting"`` (it stopped
        falling far above that, at a residual over :data:`NOT_CONTRACTING`: the
        low-precision factor is too inaccurate for this ``K``, whose condition number
        is near or beyond the inverse of its precision, and ``alpha`` is not a
        solution) or ``"max_iter"``.
    product_seconds, correction_seconds : float
        Time in the float64 products by ``K`` (one per residual) and in the
        corrections (triangular solves with the factor, one more than
        ``iterations``), for the per-phase rates of :mod:`kernelfit.phase_rates`.
    """

    iterations: int = 0
    residuals: list = field(default_factory=list)
    converged: bool = False
    final_residual: np.ndarray | None = None
    residuals_from: str = "data"
    tol: float = 0.0
    stop_reason: str = ""
    product_seconds: float = 0.0
    correction_seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready record: iterations, residuals, converged, tol, stop_reason,
        residuals_from and the seconds of products and corrections (no vector)."""
        return {"iterations": int(self.iterations),
                "residuals": [float(r) for r in self.residuals],
                "converged": bool(self.converged), "tol": float(self.tol),
                "stop_reason": self.stop_reason,
                "residuals_from": self.residuals_from,
                "product_seconds": float(self.product_seconds),
                "correction_seconds": float(self.correction_seconds)}


#: Default stopping tolerance, as a multiple of ``sqrt(n) * eps(float64)``: the
#: float64 tiled Cholesky's own relative residuals measured here are 1.5 to 1.75
#: times that (``kernelfit bench solve``: 3.6e-14 at n = 12,000, 5.5e-14 at 20,000),
#: so refinement stops within a few times of the float64 solve instead of paying
#: for passes that only confirm stagnation.
TOL_FACTOR = 4.0


def default_tol(n: int) -> float:
    """Relative residual at which refinement stops by default: ``4 sqrt(n) eps``."""
    return float(TOL_FACTOR * np.sqrt(n) * np.finfo(np.float64).eps)


def refine_solution(storage, X, Y, kernel, *, reg=0.0, tol=None, max_iter=10,
                    min_gain=2.0, device="auto", progress=None):
    """Solve ``(K + reg I) alpha = Y`` to float64 accuracy with a low-precision factor.

    Parameters
    ----------
    storage : TileStorage
        Holds the (float32) Cholesky factor of ``K(X, X) + reg I``.
    X : array of shape (n, d)
        The data that defines ``K`` (for the float64 residuals).
    Y : array of shape (n,) or (n, c)
    kernel : Kernel
    reg : float, default 0
    tol : float, optional
        Stop when the relative residual falls below this; default
        :func:`default_tol` of ``n``.
    max_iter : int, default 10
        At most this many corrections.
    min_gain : float, default 2
        Stop when a correction reduces the residual by less than this factor
        (it has reached the accuracy the factor allows), or, near ``tol``, when the
        reduction collapses (:func:`_stop_reason`); ``info.stop_reason`` says which.
    device : {"auto", "cpu", "cuda"}
    progress : callable, optional
        Progress callback (phases ``solve`` and ``refine``).

    Returns
    -------
    alpha : ndarray of shape (n,) or (n, c), float64
    info : RefinementInfo
    """
    def matvec(alpha):
        return np.asarray(storage.backend.to_numpy(symmetric_matvec(
            X, alpha, kernel, device=device, progress=progress, phase_name="refine")))

    return refine(storage, Y, matvec, reg=reg, tol=tol, max_iter=max_iter, min_gain=min_gain,
                  progress=progress)


def tile_correction(factor):
    """``R -> L^{-T} L^{-1} R`` in the factor's own precision, returned in float64.

    Parameters
    ----------
    factor : TileStorage
        Holds the (low-precision) Cholesky factor ``L``.

    Returns
    -------
    callable
        ``correction(R, progress=None)`` for ``R`` of shape (n,) or (n, c) (NumPy).
    """
    backend = factor.backend

    def correction(R, progress=None):
        # Solved in the factor's own precision, as in classical mixed-precision
        # refinement: the factor's rounding limits each step anyway, and a
        # float32 sweep reads half the bytes and upcasts no tile. R is scaled to
        # unit size first so that float32 neither underflows nor overflows.
        scale = float(np.abs(R).max())
        if scale == 0.0:
            return np.zeros_like(R)
        rhs = backend.asarray((R / scale).astype(factor.dtype))
        step = cholesky_solve(factor, rhs, dtype=factor.dtype, progress=progress)
        return scale * np.asarray(backend.to_numpy(step), dtype=np.float64)

    return correction


def refine(factor, Y, matvec, *, reg=0.0, tol=None, max_iter=10, min_gain=2.0, progress=None):
    """Iterative refinement of ``(K + reg I) alpha = Y`` with any float64 product by ``K``.

    The one refinement loop of kernelfit: local tiles, a stored ``K`` and the
    Dask factor all run it.

    Parameters
    ----------
    factor : TileStorage or callable
        Holds the (low-precision) Cholesky factor of ``K + reg I``, or is a
        correction ``factor(R, progress=None)`` returning an approximate
        ``(K + reg I)^{-1} R`` in float64 (e.g. a solve on Dask workers).
    Y : array of shape (n,) or (n, c)
    matvec : callable
        ``matvec(alpha)`` returns ``K @ alpha`` in float64 (NumPy).
    reg, tol, max_iter, min_gain, progress
        As in :func:`refine_solution`.

    Returns
    -------
    alpha : ndarray of shape (n,) or (n, c), float64
    info : RefinementInfo
    """
    if callable(factor):
        correction = factor
        Y64 = np.asarray(Y, np.float64)
    else:
        correction = tile_correction(factor)
        backend = factor.backend
        Y64 = np.asarray(backend.to_numpy(Y) if not isinstance(Y, np.ndarray) else Y,
                         np.float64)
    y_norm = float(np.linalg.norm(Y64)) or 1.0
    tol = default_tol(Y64.shape[0]) if tol is None else tol

    info = RefinementInfo(tol=tol)
    gains = []  # residual reductions of the corrections so far
    # The two kinds of sweep as phases of their own (their CPU time too: kernelfit.phase_clock).
    parts = {}
    watch = Stopwatch()
    alpha = correction(Y64, progress)
    watch.lap(parts, "corrections")
    for it in range(max_iter + 1):
        R = Y64 - matvec(alpha) - reg * alpha
        watch.lap(parts, "refinement")
        res = float(np.linalg.norm(R)) / y_norm
        gain = info.residuals[-1] / res if info.residuals and res > 0 else np.inf
        info.residuals.append(res)
        info.final_residual = R
        info.stop_reason = _stop_reason(res, gain, gains, tol, min_gain, it == max_iter)
        if info.stop_reason:
            break
        if np.isfinite(gain):
            gains.append(gain)
        watch.restart()
        alpha += correction(R)
        watch.lap(parts, "corrections")
        info.iterations += 1
    info.converged = bool(info.residuals[-1] <= tol)
    info.product_seconds, info.correction_seconds = parts["refinement"], parts["corrections"]
    if not info.converged and not_a_solution(info.residuals[-1]):
        how = ("stopped falling" if info.stop_reason == "not_contracting"
               else f"was still falling slowly after {info.iterations} corrections")
        warnings.warn(
            f"mixed precision did not converge: the relative residual {how} at "
            f"{info.residuals[-1]:.1e}, so alpha is not a solution; the low-precision "
            f"factor is too inaccurate for this K (condition number near or beyond the "
            f"inverse of its precision); solve in float64 (dtype='float64', --dtype "
            f"float64) or add a ridge (reg > 0)", MixedPrecisionWarning, stacklevel=2)
    return alpha, info


#: A residual within this factor of ``tol`` whose reduction collapsed has stalled.
STALL_WINDOW = 10.0

#: A relative residual above this that stops falling is a failure, not a stall: every
#: float64 floor of a product with ``K`` is orders of magnitude below it.
NOT_CONTRACTING = 1e-6


def not_a_solution(residual: float) -> bool:
    """A relative residual no converged solve leaves: above :data:`NOT_CONTRACTING`, or
    not finite."""
    return not np.isfinite(residual) or residual > NOT_CONTRACTING


def _stop_reason(res, gain, gains, tol, min_gain, last) -> str:
    """Why refinement stops after a residual ``res`` that fell by ``gain`` ("" to go on).

    Each correction divides the residual by about the same factor until the residual
    reaches what the float64 product with ``K`` can resolve. It stalls there: the
    reduction drops below ``min_gain``, or, within :data:`STALL_WINDOW` of ``tol``,
    below the square root of the previous one (the steady reduction has collapsed, so
    the next correction would only confirm the floor).
    """
    if res <= tol:
        return "tolerance"
    if not np.isfinite(res) or (gain < min_gain and res > NOT_CONTRACTING):
        return "not_contracting"
    if gain < min_gain or (gains and res <= STALL_WINDOW * tol and gain < np.sqrt(gains[-1])):
        return "stalled"
    return "max_iter" if last else ""
