"""What the streamed solve returns, and the checks of its arguments.

:class:`StreamedSolution` is one solve's record; :func:`check_regs` and friends refuse
bad arguments of :func:`kernelfit.streamed.solve_streamed` before any work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..solvers.mixed import RefinementInfo
from ..solvers.targets import decode_scores

__all__ = ["DTYPES", "SHARED_PHASES", "STREAMED_KERNELS", "StreamedSolution", "check_bandwidth",
           "check_kernel", "check_reg", "check_regs"]

DTYPES = ("auto", "float32", "float64", "mixed")
#: Phases whose times every solve of one Gram shares (the rest are each solve's own).
SHARED_PHASES = ("features+gram", "bandwidth_search", "reg_search", "kernel")

#: Kernels formed from the accumulated feature Gram: the Gaussian of the distances it
#: gives, or the Gram itself.
STREAMED_KERNELS = ("gaussian", "linear")


@dataclass
class StreamedSolution:
    """What :func:`~kernelfit.streamed.solve_streamed` computed for one ridge term.

    Attributes
    ----------
    dual_coef : ndarray of shape (n,) or (n, n_classes), float64
    classes : ndarray
        Class labels; scores' columns follow them (one ±1 column for two classes).
    targets : ndarray
        The regression targets ``Y`` (±1 for two classes, one-hot otherwise).
    train_scores : ndarray
        ``K alpha`` with the stored ``K``.
    test_scores : ndarray
        ``K(test, train) alpha``.
    kernel : str
        ``"gaussian"`` or ``"linear"``.
    bandwidth : float or None
        None for the linear kernel.
    bandwidth_search : dict or None
        Validation error per candidate when ``bandwidth="auto"``.
    reg : float
        The ridge term used (the chosen one when ``reg="auto"``).
    reg_search : dict or None
        Validation error per absolute ridge term when ``reg="auto"``.
    relative_residual : float
        ``||K alpha + reg alpha - Y|| / ||Y||`` with the stored ``K``.
    rkhs_norm : float
        ``sqrt(alpha^T K alpha)`` (summed over classes).
    solver : str
        ``"cholesky"``, ``"mixed"``, or a fallback (``"lu"``, ``"lstsq"``).
    refinement : RefinementInfo or None
        Only for ``dtype="mixed"``.
    n_features : int
    timings : dict
        Seconds per phase. Shared by all the solves of one Gram
        (:data:`SHARED_PHASES`): ``features+gram``, ``bandwidth_search`` and
        ``reg_search`` (auto only), ``kernel``; this solve's own: ``copy K`` (solves
        after the first), ``cholesky``, ``solve``, ``residual`` (not mixed), ``predict``.
    resumed_filters : int
        Filters whose Gram contribution was read from a checkpoint, not computed.
    storage : str
        ``"packed"``, or ``"packed + copy of K on disk"`` when the kept ``K`` was on disk.
    cpu_phases : dict
        CPU seconds of this solve's own phases (:func:`kernelfit.phase_clock.cpu_by_phase`).
    """

    dual_coef: np.ndarray
    classes: np.ndarray
    targets: np.ndarray
    train_scores: np.ndarray
    test_scores: np.ndarray
    kernel: str
    bandwidth: float | None
    bandwidth_search: dict | None
    reg: float
    reg_search: dict | None
    relative_residual: float
    rkhs_norm: float
    solver: str
    refinement: RefinementInfo | None
    n_features: int
    timings: dict
    resumed_filters: int = 0
    storage: str = "packed"
    cpu_phases: dict = field(default_factory=dict)

    def predict(self, scores) -> np.ndarray:
        """Class labels from scores (sign for two classes, arg-max otherwise)."""
        return decode_scores(scores, self.classes)


def check_bandwidth(bandwidth, kernel):
    """None, ``"auto"`` or a positive float; None only for the linear kernel."""
    if kernel == "linear":
        if bandwidth is not None:
            raise ValueError(f"the linear kernel has no bandwidth; bandwidth must be None; found "
                             f"{bandwidth!r}")
        return None
    if bandwidth is None or (isinstance(bandwidth, str) and bandwidth == "auto"):
        return bandwidth
    if isinstance(bandwidth, (int, float, np.floating, np.integer)) and not isinstance(
            bandwidth, bool) and np.isfinite(bandwidth) and bandwidth > 0:
        return float(bandwidth)
    raise ValueError(f"bandwidth must be a positive number, None (median heuristic) or "
                     f"'auto' (held-out choice); found {bandwidth!r}")


def check_kernel(kernel):
    """One of :data:`STREAMED_KERNELS`."""
    if kernel not in STREAMED_KERNELS:
        raise ValueError(f"the streamed path forms its kernel from the feature Gram: kernel must "
                         f"be one of {STREAMED_KERNELS}; found {kernel!r}")
    return kernel


def check_reg(reg):
    """A non-negative float or ``"auto"``."""
    if isinstance(reg, str) and reg == "auto":
        return reg
    if isinstance(reg, (int, float, np.floating, np.integer)) and not isinstance(
            reg, bool) and np.isfinite(reg) and reg >= 0:
        return float(reg)
    raise ValueError(f"reg must be a non-negative number or 'auto' (held-out choice on the "
                     f"training set); found {reg!r}")


def check_regs(regs) -> tuple:
    """A non-empty sequence of ridge terms (:func:`check_reg`), ``"auto"`` at most once."""
    if isinstance(regs, (str, bytes)) or not hasattr(regs, "__len__") or len(regs) < 1:
        raise ValueError(f"regs must be a non-empty sequence of non-negative numbers or 'auto'; "
                         f"found {regs!r}")
    regs = tuple(check_reg(r) for r in regs)
    if regs.count("auto") > 1:
        raise ValueError(f"regs may hold 'auto' once (one held-out choice); found {regs!r}")
    return regs
