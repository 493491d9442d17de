"""Exact solves, fallbacks, and minimum-norm tools."""

from .exact import METHODS, SolveInfo, SolverFallbackWarning, factorize, solve
from .interpolants import Interpolant, forced_labels_interpolant, random_centers_interpolant
from .min_norm import MinNormResult, SGDResult, min_norm, rkhs_norm, sgd_linear
from .mixed import RefinementInfo, refine_solution

__all__ = [
    "METHODS",
    "Interpolant",
    "MinNormResult",
    "RefinementInfo",
    "SGDResult",
    "SolveInfo",
    "SolverFallbackWarning",
    "factorize",
    "forced_labels_interpolant",
    "min_norm",
    "random_centers_interpolant",
    "refine_solution",
    "rkhs_norm",
    "sgd_linear",
    "solve",
]
