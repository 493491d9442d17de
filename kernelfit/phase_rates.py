r"""Every phase of a solve against its own floor on this machine, measured in the same run.

A phase either does arithmetic (the Gram, the factorization, a matrix-free product,
predict: its floor is the GEMM rate) or streams a matrix through memory (triangular
sweeps, products with a stored ``K``: its floor is the memory bandwidth).
:func:`measure_floors` measures both rates where the solve ran;
:func:`phase_rows` turns a run's phase times into rows of

* ``work``: the flops (GFLOP) or bytes (GB) the phase must move at least;
* ``rate = work / seconds``;
* ``floor_rate``: the GEMM rate (float64 for the Gram and products, whose distances
  are formed in float64; the factor's dtype for the Cholesky) or the copy bandwidth;
* ``over_floor = seconds / (work / floor_rate)``: 1 is the machine's limit.

The work model, for ``n`` training points of ``d`` features, ``c`` right-hand sides
and a factor of ``s`` bytes per entry:

.. math::

    \text{gram}: n^2 d, \quad \text{cholesky}: n^3 / 3, \quad
    \text{solve}: p\, n^2 s \ \text{bytes}, \quad
    \text{refinement}: q\, n^2 d \ \text{or}\ q\, 4 n^2 \ \text{bytes}, \quad
    \text{predict}: 2\, m\, n\, d,

with ``p`` pairs of triangular sweeps (one for a float64 solve, one per correction
in mixed precision), ``q`` float64 products by ``K`` (matrix-free from the data, or
reading the lower half of a kept float64 ``K``) and ``m`` test points.
"""

from __future__ import annotations

import math
import time

import numpy as np

__all__ = ["format_phase_rows", "gemm_rate", "measure_floors", "memory_bandwidth",
           "phase_rows"]


def gemm_rate(dtype, size=4096, repeats=3, device="cpu", min_seconds=0.0) -> float:
    """Best GFLOP/s of a square ``size^3`` GEMM between distinct arrays on ``device``.

    The GEMM is the backend's in-place tile update ``C -= A B^T`` (BLAS on the
    CPU, cuBLAS on a GPU), timed between two device synchronizations; one
    untimed call first warms the library up. It runs ``repeats`` times, and more
    until the timed calls add up to ``min_seconds``: the best of many is what the
    machine can do, where a short burst of other work (e.g. the operating system
    reclaiming a large file just deleted) slows a few calls.
    """
    from .backend import resolve_device

    if not (size >= 1 and repeats >= 1 and 0.0 <= min_seconds < math.inf):
        raise ValueError(f"size and repeats must be >= 1 and min_seconds finite and >= 0; "
                         f"found {size}, {repeats}, {min_seconds}")
    backend = resolve_device(device)
    rng = np.random.default_rng(1)

    def operand():
        host = np.asfortranarray(rng.random((size, size)).astype(dtype))
        return backend.copy(backend.asarray(host), fortran=True)

    A, B, C = operand(), operand(), operand()
    backend.gemm_nt(C, A, B)
    best, spent, calls = np.inf, 0.0, 0
    while calls < repeats or spent < min_seconds:
        backend.synchronize()
        t0 = time.perf_counter()
        backend.gemm_nt(C, A, B)
        backend.synchronize()
        seconds = time.perf_counter() - t0
        best, spent, calls = min(best, seconds), spent + seconds, calls + 1
    return 2 * size**3 / best / 1e9


def memory_bandwidth(nbytes: int = 64 << 20, repeats: int = 3) -> dict:
    """Best host memory bandwidth of a STREAM-like copy and triad, in GB/s.

    Parameters
    ----------
    nbytes : int, default 64 MiB
        Size of each float64 array (beyond the last-level cache for a fair figure).
    repeats : int, default 3

    Returns
    -------
    dict
        ``{"copy": GB/s, "triad": GB/s}``, counting the bytes read and written
        (``b = a``: 2 arrays; ``a = b + s c``: 3 arrays).
    """
    if nbytes < 8 or repeats < 1:
        raise ValueError(f"nbytes must be >= 8 and repeats >= 1; found {nbytes}, {repeats}")
    count = nbytes // 8
    a, b, c = np.ones(count), np.full(count, 2.0), np.full(count, 0.5)
    best = {"copy": math.inf, "triad": math.inf}
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best["copy"] = min(best["copy"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        np.multiply(c, 3.0, out=a)
        a += b
        best["triad"] = min(best["triad"], time.perf_counter() - t0)
    # The triad above makes two passes (4 array-sized transfers) for STREAM's one (3).
    return {"copy": 2 * count * 8 / best["copy"] / 1e9,
            "triad": 4 * count * 8 / best["triad"] / 1e9}


def measure_floors(device="cpu", gemm_size: int = 2048, stream_bytes: int = 64 << 20,
                   repeats: int = 3, gemm_seconds: float = 0.0) -> dict:
    """The rates the phases are compared with, measured now.

    Parameters
    ----------
    device : {"cpu", "cuda", "auto"} or Backend
        Where the GEMM rates are measured (:func:`gemm_rate`).
        The bandwidth is the host's.
    gemm_size : int, default 2048
        Edge of the square GEMMs (the tile size of the tiled Cholesky).
    stream_bytes : int, default 64 MiB
        Array size of the bandwidth measurement.
    repeats : int, default 3
    gemm_seconds : float, default 0.0
        Least time each GEMM rate is measured for (the best call counts,
        :func:`gemm_rate`).

    Returns
    -------
    dict
        ``gemm_float64_gflops``, ``gemm_float32_gflops``, ``copy_gbs``, ``triad_gbs``,
        ``gemm_size``, ``stream_bytes``.
    """

    bandwidth = memory_bandwidth(stream_bytes, repeats)
    return {"gemm_float64_gflops": gemm_rate(np.float64, gemm_size, repeats, device,
                                             gemm_seconds),
            "gemm_float32_gflops": gemm_rate(np.float32, gemm_size, repeats, device,
                                             gemm_seconds),
            "copy_gbs": bandwidth["copy"], "triad_gbs": bandwidth["triad"],
            "gemm_size": int(gemm_size), "stream_bytes": int(stream_bytes)}


def phase_rows(timings: dict, floors: dict, *, n: int, d: int, factor_dtype="float64",
               refinement: dict | None = None, n_test: int = 0,
               test_kernel_itemsize: int | None = None, cpu: dict | None = None) -> list[dict]:
    """One row per timed phase: its work, rate and floor (see the module docstring).

    Parameters
    ----------
    timings : dict
        Seconds per phase (``gram``, ``cholesky``, ``solve``, ``residual``,
        ``predict``); other keys are ignored.
    floors : dict
        From :func:`measure_floors`.
    n, d : int
        Training points and features.
    factor_dtype : {"float64", "float32"}
        The Cholesky factor's dtype (float32 for mixed precision).
    refinement : dict, optional
        :meth:`kernelfit.solvers.RefinementInfo.to_dict` of a mixed-precision solve:
        its products become the ``refinement`` row and its corrections the ``solve`` row.
    n_test : int, default 0
        Test points (the ``predict`` row).
    test_kernel_itemsize : int, optional
        When the test-versus-training kernel was formed before ``predict`` (the
        streamed features, whose ``predict`` multiplies it by ``alpha``): its itemsize.
        ``predict`` is then ``n_test * n`` entries read at the copy bandwidth, not a
        GEMM over ``d`` features.
    cpu : dict, optional
        CPU seconds per phase (:func:`kernelfit.phase_clock.cpu_by_phase`): each row
        gets its phase's ``user_seconds`` and ``system_seconds`` (a mixed solve's
        ``corrections`` for its ``solve`` row).

    Returns
    -------
    list of dict
        ``phase, unit ("GFLOP" or "GB"), work, seconds, rate, floor, floor_rate,
        over_floor`` (``rate`` and ``over_floor`` None for a phase timed at 0 s), and
        with ``cpu`` ``user_seconds`` and ``system_seconds`` (None where not recorded).
    """
    itemsize = np.dtype(factor_dtype).itemsize
    gemm64 = ("float64 GEMM", floors["gemm_float64_gflops"])
    gemm_factor = (f"{np.dtype(factor_dtype).name} GEMM",
                   floors[f"gemm_{np.dtype(factor_dtype).name}_gflops"])
    copy = ("copy bandwidth", floors["copy_gbs"])
    flops_product = ("GFLOP", n * n * d / 1e9, gemm64)  # one symmetric product from data
    work = {"gram": ("GFLOP", n * n * d / 1e9, gemm64),
            "cholesky": ("GFLOP", n**3 / 3 / 1e9, gemm_factor),
            "solve": ("GB", n * n * itemsize / 1e9, copy),
            "residual": flops_product,
            "predict": ("GFLOP", 2.0 * n_test * n * d / 1e9, gemm64)}
    if test_kernel_itemsize is not None:
        work["predict"] = ("GB", n_test * n * int(test_kernel_itemsize) / 1e9, copy)
    seconds = {k: float(v) for k, v in timings.items() if k in work}
    if refinement is not None and "solve" in seconds:
        corrections = refinement["iterations"] + 1
        products = len(refinement.get("residuals") or ()) or corrections
        seconds["refinement"] = float(refinement.get("product_seconds", 0.0))
        seconds["solve"] = float(refinement.get("correction_seconds", seconds["solve"]))
        work["solve"] = ("GB", corrections * n * n * itemsize / 1e9, copy)
        work["refinement"] = (("GB", products * 4.0 * n * n / 1e9, copy)
                              if refinement.get("residuals_from") == "stored kernel"
                              else ("GFLOP", products * n * n * d / 1e9, gemm64))
    rows = []
    for phase in ("gram", "cholesky", "refinement", "solve", "residual", "predict"):
        if phase not in seconds:
            continue
        unit, amount, (floor, floor_rate) = work[phase]
        t = seconds[phase]
        rate = amount / t if t > 0 else None
        rows.append({"phase": phase, "unit": unit, "work": amount, "seconds": t, "rate": rate,
                     "floor": floor, "floor_rate": float(floor_rate),
                     "over_floor": None if rate is None else float(floor_rate) / rate})
        if cpu is not None:
            name = "corrections" if phase == "solve" and refinement is not None else phase
            used = cpu.get(name) or {}
            rows[-1].update(user_seconds=used.get("user_seconds"),
                            system_seconds=used.get("system_seconds"))
    return rows


def format_phase_rows(rows: list[dict]) -> list[str]:
    """Aligned text lines: phase, work, seconds, rate, floor and time over floor, then
    the phase's CPU seconds (program + operating system) where they were recorded."""
    lines = [f"{'phase':<11s}{'work':>14s}{'seconds':>9s}{'rate':>14s}   floor"]
    for row in rows:
        per = "GFLOP/s" if row["unit"] == "GFLOP" else "GB/s"
        rate = "-" if row["rate"] is None else f"{row['rate']:.1f} {per}"
        over = "" if row["over_floor"] is None else f" ({row['over_floor']:.2f}x floor)"
        cpu = ("" if row.get("system_seconds") is None else
               f"; CPU {row['user_seconds']:.1f} s + OS {row['system_seconds']:.1f} s")
        lines.append(f"{row['phase']:<11s}{row['work']:>8.2f} {row['unit']:<5s}"
                     f"{row['seconds']:>9.2f}{rate:>14s}   {row['floor']} "
                     f"{row['floor_rate']:.1f} {per}{over}{cpu}")
    return lines
