"""Exact solves, fallbacks, the one solve pipeline, and minimum-norm tools."""

from .exact import METHODS, SolveInfo, SolverFallbackWarning, factorize, solve
from .gram_sources import KernelGramSource, StoredGramSource
from .interpolants import Interpolant, forced_labels_interpolant, random_centers_interpolant
from .min_norm import MinNormResult, SGDResult, min_norm, rkhs_norm, sgd_linear
from .mixed import MixedPrecisionWarning, RefinementInfo, refine_solution
from .pipeline import Solution, measure_solution, solution_metrics, solve_kernel_system
from .targets import decode_scores, encode_targets, one_hot

__all__ = [
    "METHODS",
    "Interpolant",
    "KernelGramSource",
    "MinNormResult",
    "MixedPrecisionWarning",
    "RefinementInfo",
    "SGDResult",
    "Solution",
    "SolveInfo",
    "SolverFallbackWarning",
    "StoredGramSource",
    "decode_scores",
    "encode_targets",
    "factorize",
    "forced_labels_interpolant",
    "measure_solution",
    "min_norm",
    "one_hot",
    "random_centers_interpolant",
    "refine_solution",
    "rkhs_norm",
    "sgd_linear",
    "solution_metrics",
    "solve",
    "solve_kernel_system",
]
