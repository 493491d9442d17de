r"""``dtype="auto"`` on the CPU: mixed precision where it pays on this machine, else float64.

Both precisions build the same Gram (distances in float64), so ``d`` drops out. Mixed
precision saves part of the factorization and pays for refinement: ``q`` float64
products with the kept ``K`` (its lower tiles, each off-diagonal one read as itself and
transposed: :math:`8 n^2` bytes) and ``q`` pairs of float32 triangular sweeps
(:math:`4 n^2` bytes), all memory-bound. With the float64
and float32 GEMM rates :math:`R_{64}, R_{32}` and the rate :math:`S` of such a sweep,
measured here,

.. math::

    \text{saving} = \frac{n^3}{3}\Big(\frac{1}{R_{64}} - \frac{1}{R_{32}}\Big), \qquad
    \text{cost} = \frac{12\, q\, n^2}{S},

and mixed is chosen when the saving is larger. A caller that measures the residual
(the experiments) passes ``d``: float64 then pays one more product from the data,
:math:`n^2 d / R_{64}`, which mixed precision gets free from its last refinement
residual, and that is added to the saving. ``q = 4`` is what the refinement takes
to the default tolerance on MNIST (``kernelfit bench solve``: 3 corrections and 4
products at n = 8,000). Below :data:`SMALL_FLOPS` of factorization the rates are not
measured (that would cost about what the choice can save) and float64 is chosen.
On a GPU ``auto`` stays the device's default (float64).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

import numpy as np

__all__ = ["PrecisionChoice", "choose_precision", "measured_rates", "sweep_rate"]

#: Factorizations of fewer flops (n < about 3,100) are solved in float64 without measuring.
SMALL_FLOPS = 1e10
#: Float64 products (and float32 sweep pairs) the refinement is assumed to take.
REFINEMENT_PRODUCTS = 4


@dataclass(frozen=True)
class PrecisionChoice:
    """What ``dtype="auto"`` resolved to, and why (one line for reports).

    Attributes
    ----------
    precision : {"float64", "mixed"}
    reason : str
    """

    precision: str
    reason: str


def sweep_rate(size: int = 2048, columns: int = 10, repeats: int = 3) -> float:
    """GB/s of a float64 ``size x size`` tile applied to ``columns`` right-hand sides
    (the memory-bound product of the refinement and the triangular sweeps) by the same
    call the sweeps make (the host backend's in-place ``gemm_acc``), best of ``repeats``
    after one warm-up call."""
    from .backend import host_backend

    backend = host_backend()
    rng = np.random.default_rng(2)
    tile = np.asfortranarray(rng.random((size, size)))
    V = np.asfortranarray(rng.random((size, columns)))
    C = np.zeros((size, columns), order="F")
    backend.gemm_acc(C, tile, V)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        backend.gemm_acc(C, tile, V)
        best = min(best, time.perf_counter() - t0)
    return tile.nbytes / best / 1e9


@cache
def measured_rates() -> dict:
    """GEMM rates (float64, float32, 2048-edge) and the sweep rate on the host, measured
    once per process."""
    from .phase_rates import gemm_rate

    return {"gemm_float64_gflops": gemm_rate(np.float64, 2048, 2, "cpu"),
            "gemm_float32_gflops": gemm_rate(np.float32, 2048, 2, "cpu"),
            "sweep_gbs": sweep_rate()}


def choose_precision(n: int, backend, d: int | None = None,
                     rates: dict | None = None) -> PrecisionChoice:
    """Resolve ``dtype="auto"`` for ``n`` training points on ``backend``.

    Parameters
    ----------
    n : int
    backend : Backend
        A backend whose ``default_precision`` is not ``"mixed"`` (a GPU) keeps it.
    d : int, optional
        Features, when the caller will measure the residual ``K alpha`` (see above).
    rates : dict, optional
        ``gemm_float64_gflops``, ``gemm_float32_gflops`` and ``sweep_gbs``; measured
        (:func:`measured_rates`) when needed and not given.

    Returns
    -------
    PrecisionChoice
    """
    if n < 1 or (d is not None and d < 1):
        raise ValueError(f"n and d must be >= 1; found n={n}, d={d}")
    if backend.default_precision != "mixed":
        return PrecisionChoice(backend.default_precision,
                               f"the default on {backend.device}")
    if n**3 / 3 < SMALL_FLOPS:
        return PrecisionChoice("float64", f"n = {n:,}: the factorization is too small for "
                                          "refinement to pay")
    rates = measured_rates() if rates is None else rates
    r64, r32 = rates["gemm_float64_gflops"] * 1e9, rates["gemm_float32_gflops"] * 1e9
    saving = n**3 / 3 * (1 / r64 - 1 / r32) + (n * n * d / r64 if d else 0.0)
    cost = 12.0 * REFINEMENT_PRODUCTS * n * n / (rates["sweep_gbs"] * 1e9)
    precision = "mixed" if saving > cost else "float64"
    return PrecisionChoice(precision, (
        f"mixed saves {saving:.2g} s "
        f"({'factorization and residual' if d else 'factorization'}), refinement costs "
        f"{cost:.2g} s "
        f"(GEMM {rates['gemm_float64_gflops']:.0f} / {rates['gemm_float32_gflops']:.0f} "
        f"GFLOP/s, sweeps {rates['sweep_gbs']:.1f} GB/s, measured)"))
