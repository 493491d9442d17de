r"""The one solve pipeline: a Gram source in, a solution record out.

:func:`solve_kernel_system` solves :math:`(K + \mathrm{reg}\, I)\,\alpha = Y` for a
*Gram source*, anything that opens the tiles of ``K + reg I`` and applies ``K`` in
float64 (:mod:`kernelfit.solvers.gram_sources`: data plus a kernel, tiles already
built from streamed features; :mod:`kernelfit.distributed.gram_source`: a Dask tile
graph). Whatever the source, the phases are the same:

1. fill the tiles (phase ``gram``, when the source builds them here);
2. the tiled Cholesky (``cholesky``); a pivot that is not positive falls back to LU,
   then least squares, on a dense float64 ``K`` (``solver="auto"``, with a
   :class:`~kernelfit.solvers.SolverFallbackWarning`);
3. the float64 solve, or for ``dtype="mixed"`` a float32 factor refined in float64
   by :func:`kernelfit.solvers.mixed.refine` (``solve``);
4. the metrics (:func:`solution_metrics`): ``K alpha`` (free from the last
   refinement residual, else one float64 product, phase ``residual``), the relative
   residual :math:`\|K\alpha + \mathrm{reg}\,\alpha - Y\| / \|Y\|` and the RKHS norm
   :math:`\sqrt{\alpha^T K \alpha}`.

The estimators, the streamed random features, Dask, the label-noise runs and the
experiments all call it; none factors, refines or measures on its own.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..backend import NotPositiveDefiniteError, to_numpy
from ..phase_clock import Stopwatch, timed_phase
from ..validation import check_nonnegative
from .exact import SolverFallbackWarning, solve_general
from .mixed import RefinementInfo, refine

__all__ = ["PIPELINE_SOLVERS", "Solution", "measure_solution", "solution_metrics",
           "solve_kernel_system", "storage_precision"]

#: Accepted ``solver`` values: Cholesky with a fallback, Cholesky only, or a dense
#: LU / least-squares solve of the source's float64 ``K``.
PIPELINE_SOLVERS = ("auto", "cholesky", "lu", "lstsq")


@dataclass
class Solution:
    """What :func:`solve_kernel_system` computed.

    Attributes
    ----------
    alpha : ndarray of shape (n,) or (n, c), float64
    K_alpha : ndarray like ``alpha``, or None
        ``K @ alpha`` in float64; None when it was not measured
        (``residual=False`` and no refinement).
    relative_residual : float or None
        ``||K alpha + reg alpha - Y|| / ||Y||``; None with ``K_alpha``.
    rkhs_norm : float
        ``sqrt(alpha^T K alpha)`` summed over columns; without ``K_alpha`` from
        ``alpha^T Y - reg ||alpha||^2`` (exact for an exact solve).
    reg : float
    solver : str
        ``"cholesky"``, ``"mixed"``, ``"lu"`` or ``"lstsq"``: what produced ``alpha``.
    storage : str
        Where the tiles lived (the source's description).
    refinement : RefinementInfo or None
        Only for ``dtype="mixed"``.
    resumed_panels : int
        Factorized panels found on disk and not redone (out-of-core resume).
    timings : dict
        Seconds per phase: ``gram`` (sources that build tiles here), ``cholesky``,
        ``solve``, ``residual`` (when measured by a product).
    """

    alpha: np.ndarray
    K_alpha: np.ndarray | None
    relative_residual: float | None
    rkhs_norm: float
    reg: float
    solver: str
    storage: str
    refinement: RefinementInfo | None = None
    resumed_panels: int = 0
    timings: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-ready figures (no arrays): residual, norm, solver, refinement, timings."""
        return {
            "n": int(self.alpha.shape[0]),
            "relative_residual": self.relative_residual, "rkhs_norm": self.rkhs_norm,
            "reg": self.reg, "solver": self.solver, "storage": self.storage,
            "resumed_panels": self.resumed_panels,
            "refinement": None if self.refinement is None else self.refinement.to_dict(),
            "timings": {k: float(v) for k, v in self.timings.items()},
        }


def storage_precision(dtype) -> tuple[np.dtype, bool]:
    """The tile dtype and whether the solve is mixed precision.

    Parameters
    ----------
    dtype : {None, "float32", "float64", "mixed"} or numpy float dtype
        None is float64; ``"mixed"`` is a float32 factor refined in float64.

    Returns
    -------
    storage_dtype : numpy.dtype
    mixed : bool

    Raises
    ------
    ValueError
        Any other value.
    """
    mixed = isinstance(dtype, str) and dtype == "mixed"
    try:
        storage = np.dtype(np.float32 if mixed else (dtype or np.float64))
    except TypeError:
        storage = None
    if storage not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32, float64 or 'mixed'; found {dtype!r}")
    return storage, mixed


def solution_metrics(Y, alpha, reg, K_alpha=None) -> tuple[float | None, float]:
    """The relative residual and the RKHS norm of a solution of ``(K + reg I) alpha = Y``.

    Parameters
    ----------
    Y : array of shape (n,) or (n, c)
    alpha : array like ``Y``
    reg : float
    K_alpha : array like ``Y``, optional
        ``K @ alpha`` in float64.

    Returns
    -------
    relative_residual : float or None
        ``||K alpha + reg alpha - Y|| / ||Y||``; None without ``K_alpha``.
    rkhs_norm : float
        ``sqrt(max(alpha^T K alpha, 0))`` summed over columns; without ``K_alpha``,
        ``alpha^T K alpha = alpha^T Y - reg ||alpha||^2`` (the system solved exactly).
    """
    Y = np.asarray(Y, np.float64)
    alpha = np.asarray(alpha, np.float64).reshape(Y.shape)
    if K_alpha is None:
        square = float(np.sum(alpha * Y) - reg * np.sum(alpha * alpha))
        return None, float(np.sqrt(max(square, 0.0)))
    K_alpha = np.asarray(K_alpha, np.float64).reshape(Y.shape)
    y_norm = float(np.linalg.norm(Y)) or 1.0
    residual = float(np.linalg.norm(K_alpha + reg * alpha - Y) / y_norm)
    return residual, float(np.sqrt(max(float(np.sum(alpha * K_alpha)), 0.0)))


def measure_solution(solution: Solution, source, Y, *, progress=None) -> Solution:
    """Fill ``K_alpha``, the residual and the RKHS norm with one float64 product by ``K``.

    Parameters
    ----------
    solution : Solution
        From :func:`solve_kernel_system`, e.g. an estimator's ``solution_``; changed
        in place. Nothing is computed when ``K_alpha`` is already known.
    source : Gram source
        Applies ``K`` (``source.kernel_product``), e.g. from the data.
    Y : array of shape (n,) or (n, c)
        The right-hand side that was solved.
    progress : callable, optional
        Phase ``residual``.

    Returns
    -------
    Solution
        The same record, with ``timings["residual"]`` when a product was computed.
    """
    if solution.K_alpha is None:
        with timed_phase(solution.timings, "residual"):
            product = source.kernel_product(progress=progress, phase_name="residual")
            solution.K_alpha = np.asarray(product(solution.alpha), np.float64)
    solution.relative_residual, solution.rkhs_norm = solution_metrics(
        Y, solution.alpha, solution.reg, solution.K_alpha)
    return solution


def solve_kernel_system(source, Y, *, reg=0.0, dtype="float64", solver="auto",
                        residual=True, progress=None) -> Solution:
    """Solve ``(K + reg I) alpha = Y`` for a Gram source; see the module docstring.

    Parameters
    ----------
    source : Gram source
        :class:`~kernelfit.solvers.gram_sources.KernelGramSource`,
        :class:`~kernelfit.solvers.gram_sources.StoredGramSource` or
        :class:`~kernelfit.distributed.gram_source.DaskGramSource`. It owns the
        storage, tile size, memory budget and device.
    Y : ndarray of shape (n,) or (n, c)
        Right-hand sides, on the host (only ``n x c`` arrays cross to the device).
    reg : float, default 0
        Added to the diagonal; 0 gives the interpolant.
    dtype : {"float64", "float32", "mixed"} or numpy float dtype, default "float64"
        Tile dtype; ``"mixed"`` factors in float32 and refines in float64.
    solver : {"auto", "cholesky", "lu", "lstsq"}, default "auto"
        ``"auto"``: Cholesky, then LU or least squares on a dense float64 ``K`` with a
        warning; ``"cholesky"``: raise :class:`~kernelfit.backend.NotPositiveDefiniteError`
        instead; ``"lu"``, ``"lstsq"``: the dense solve directly.
    residual : bool, default True
        Measure ``K alpha`` (one float64 product unless the refinement gave it);
        False leaves ``K_alpha`` and ``relative_residual`` None when not free.
    progress : callable, optional
        Phases of the source and of ``cholesky``, ``solve``, ``refine``, ``residual``.

    Returns
    -------
    Solution

    Raises
    ------
    ValueError
        A bad ``dtype``, ``solver`` or ``reg``, or ``Y`` with a row count other than ``n``.
    NotPositiveDefiniteError
        With ``solver="cholesky"``, or a source with no dense fallback.
    MemoryBudgetError
        From the source, before it allocates.
    """
    storage_dtype, mixed = storage_precision(dtype)
    reg = check_nonnegative(reg, "reg")
    if solver not in PIPELINE_SOLVERS:
        raise ValueError(f"solver must be one of {PIPELINE_SOLVERS}; found {solver!r}")
    Y = np.asarray(Y, np.float64)
    if Y.ndim not in (1, 2) or Y.shape[0] != source.n:
        raise ValueError(f"Y must have shape ({source.n},) or ({source.n}, c); found {Y.shape}")
    timings, refinement = {}, None
    watch = Stopwatch()
    system = source.open(reg, storage_dtype, mixed=mixed, progress=progress)
    if system.fill_phase is not None:
        system.synchronize()  # every phase time is taken after the device has finished
        watch.lap(timings, system.fill_phase)
    finished = False
    try:
        try:
            if solver in ("lu", "lstsq"):
                raise NotPositiveDefiniteError(f"solver={solver!r} requested")
            system.factorize(progress)
            system.synchronize()
            watch.lap(timings, "cholesky")
            if mixed:
                alpha, refinement = refine(system.correction, Y, system.refine_product(progress),
                                           reg=reg, progress=progress)
                refinement.residuals_from = system.residuals_from
                method = "mixed"
            else:
                alpha, method = system.solve(Y, progress), "cholesky"
        except NotPositiveDefiniteError as exc:
            system.release(finished=True)  # a failed factor is no use to a resumed run
            if solver == "cholesky":
                raise
            alpha, method = _dense_fallback(source, Y, reg, solver, exc)
        finished = True
    finally:
        # Out-of-core tiles are deleted once no longer needed; an interrupted run keeps
        # them for the next one to resume.
        system.release(finished=finished)
    watch.lap(timings, "solve")  # alpha is on the host: the device is done
    alpha = np.asarray(alpha, np.float64)
    K_alpha = None
    if refinement is not None:  # the last refinement residual gives K alpha for free
        K_alpha = Y - refinement.final_residual.reshape(Y.shape) - reg * alpha
    solution = Solution(alpha=alpha, K_alpha=K_alpha, relative_residual=None, rkhs_norm=0.0,
                        reg=float(reg), solver=method, storage=system.description,
                        refinement=refinement, resumed_panels=system.resumed_panels,
                        timings=timings)
    if residual:
        return measure_solution(solution, source, Y, progress=progress)
    solution.relative_residual, solution.rkhs_norm = solution_metrics(Y, alpha, reg, K_alpha)
    return solution


def _dense_fallback(source, Y, reg, solver, exc):
    """LU (then least squares) on the source's dense float64 ``K``, on the host (LAPACK)."""
    K = source.dense_kernel(exc)
    if solver == "auto":
        warnings.warn(f"the kernel matrix is not numerically positive definite ({exc}); "
                      "solving by LU", SolverFallbackWarning, stacklevel=4)
    alpha, info = solve_general(K, Y, reg, "lstsq" if solver == "lstsq" else "lu_or_lstsq",
                                memory_budget=source.fallback_budget)
    return to_numpy(alpha), info.method  # on K's device: copied back explicitly
