"""The solve benchmark: kernelfit against scikit-learn and the machine's floor, in one run.

For each n (MNIST subsets, or synthetic data beyond 60,000) it measures, in
the same run so that ratios are fair on a noisy machine:

(a) kernelfit: Gram into packed tiles, tiled Cholesky, solve (or refinement),
    residual; time, GFLOP/s and peak RSS per phase, in a child process;
(b) scikit-learn ``KernelRidge(kernel="rbf")`` with the same gamma and a
    negligible alpha, in a child process: a crash is reported as a crash,
    and a size that cannot fit as the memory it would need;
(c) the floor ``(n^3 / 3 + n^2 d) / R_gemm`` with ``R_gemm`` measured here,
    on the device the solve runs on (cuBLAS on a GPU, with a synchronization
    around the timer), for the row's dtype (SGEMM for float32 and mixed) and
    for float64, the exact solve's floor against which every row is also compared.

Where both run at the same n, ``mixed_over_float64`` is mixed's time over float64's.
Each row's ``phases`` give every phase's work, rate and floor
(:mod:`kernelfit.phase_rates`), with the copy bandwidth measured at the start of the run.
Each fit records its CPU seconds and the operating system's share (page faults of fresh
memory). With ``warm=True`` the child fits a second time, on memory the process has
already touched: ``kernelfit["warm"]`` and the row's ``warm_over_floor`` and
``warm_phases`` separate the code's own distance from the floor from the cost of fresh
memory, which on a virtual machine can be a large part of a first fit.

``kernelfit bench solve`` and ``bench/bench_solve.py`` are its faces.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

from .memory_usage import AnonymousPeak, ProcessCpu, peak_rss
from .phase_clock import cpu_by_phase
from .phase_rates import gemm_rate, memory_bandwidth, phase_rows
from .provenance import blas_thread_timeout

__all__ = ["solve_benchmark"]

BANDWIDTH = 5.0
SKLEARN_ALPHA = 1e-10


def _data(n: int, source: str):
    if source == "mnist" and n <= 60000:
        from .datasets import load_mnist

        d = load_mnist()
        X = d.X_train[:n].reshape(n, -1).astype(np.float64) / 255
        return X, d.y_train[:n]
    rng = np.random.default_rng(0)
    return rng.random((n, 784)) * 0.3, rng.integers(0, 10, n)


def _fit_once(X, y, dtype, backend, memory_budget):
    """One timed fit: the classifier, its wall time, anonymous peak and CPU times."""
    from .estimators import KernelClassifier

    backend.synchronize()
    t0 = time.perf_counter()
    with AnonymousPeak() as anon, ProcessCpu() as cpu, cpu_by_phase() as phases:
        clf = KernelClassifier(bandwidth=BANDWIDTH, dtype=dtype, device=backend.device,
                               memory_budget=memory_budget).fit(X, y)
    backend.synchronize()
    return clf, time.perf_counter() - t0, anon, {**cpu.to_dict(), "phases": phases}


def _child_kernelfit(n, dtype, source, device="cpu", memory_budget=None, warm=False) -> dict:
    from .backend import resolve_device
    from .solvers import KernelGramSource, encode_targets, measure_solution

    backend = resolve_device(device)
    X, y = _data(n, source)
    X = X.astype(np.float64 if dtype == "float64" else np.float32)
    clf, total, anon, cpu = _fit_once(X, y, dtype, backend, memory_budget)
    warm_fit = None
    if warm:  # again, on pages this process has touched (and freed) once already
        again, seconds, _, warm_cpu = _fit_once(X, y, dtype, backend, memory_budget)
        warm_fit = {"seconds": seconds, "timings": dict(again.timings_),
                    "cpu": warm_cpu,
                    "refinement": None if dtype != "mixed" else again.refinement_.to_dict()}
        del again
    # Mixed: K alpha from the last refinement residual; else one float64 product on the
    # device (the pipeline copies the n x c result to the host explicitly).
    solution = measure_solution(clf.solution_, KernelGramSource(X, clf.kernel_, device=backend),
                                encode_targets(y)[1])
    resid = solution.relative_residual
    t = dict(clf.timings_)
    if "residual" in solution.timings:  # float64: one product, timed for the phase table
        t["residual"] = solution.timings["residual"]
    return {"seconds": total, "timings": t, "relative_residual": resid,
            "gram_gflops": n * n * X.shape[1] / t["gram"] / 1e9,
            "cholesky_gflops": n**3 / 3 / t["cholesky"] / 1e9, "peak_rss": peak_rss(),
            "peak_anon_rss": anon.peak, "cpu": cpu, "resumed_panels": clf.resumed_panels_,
            "blas_thread_timeout": blas_thread_timeout(),
            "solver": clf.solver_, "storage": clf.storage_,
            "n_features": int(X.shape[1]),
            "refinement": None if dtype != "mixed" else clf.refinement_.to_dict(),
            "warm": warm_fit}


def _child_sklearn(n, dtype, source) -> dict:
    from sklearn.kernel_ridge import KernelRidge

    X, y = _data(n, source)
    Y = np.eye(10)[y]
    t0 = time.perf_counter()
    with ProcessCpu() as cpu:
        model = KernelRidge(kernel="rbf", gamma=1 / (2 * BANDWIDTH**2), alpha=SKLEARN_ALPHA)
        model.fit(X, Y)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_rss": peak_rss(), "cpu": cpu.to_dict()}


def _run_child(kind, n, dtype, source, timeout, device="cpu", memory_budget=None,
               warm=False) -> dict:
    cmd = [sys.executable, "-m", "kernelfit.benchmarks", kind, str(n), dtype, source, device,
           str(memory_budget or ""), "warm" if warm else ""]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"timed out after {timeout} s"}
    if proc.returncode != 0:
        sig = -proc.returncode if proc.returncode < 0 else None
        what = f"crashed (signal {sig})" if sig else f"failed (exit {proc.returncode})"
        return {"status": what, "stderr": proc.stderr[-500:]}
    return {"status": "ok", **json.loads(proc.stdout.strip().splitlines()[-1])}


def sklearn_bytes_needed(n: int, d: int = 784) -> int:
    """Memory KernelRidge needs: K and LAPACK's copy in float64, plus the data."""
    return 2 * n * n * 8 + n * d * 8


def solve_benchmark(sizes, dtypes=("mixed", "float64"), *, source="mnist", sklearn=True,
                    timeout=7200, report=None, device="cpu", memory_budget=None,
                    warm=False) -> list[dict]:
    """Run the benchmark; returns one row per (n, dtype).

    Parameters
    ----------
    sizes : sequence of int
    dtypes : sequence of {"mixed", "float64", "float32"}
    source : {"mnist", "synthetic"}
        MNIST subsets (synthetic data beyond 60,000).
    sklearn : bool, default True
        Also run scikit-learn's KernelRidge (once per n, in float64).
    timeout : float
        Seconds allowed per child process.
    report : callable, optional
        Called with each finished row (the CLI prints it).
    device : {"cpu", "cuda", "auto"}, default "cpu"
        Where kernelfit solves and where the GEMM rate of the floor is measured.
    memory_budget : int or str, optional
        Passed to kernelfit (default: a share of the free memory of the device).
    warm : bool, default False
        Fit a second time in the same child and report it as ``warm`` (see above).
    """
    from .backend import resolve_device
    from .memory import available_memory

    device = resolve_device(device).device  # resolved once; the children get "cpu" / "cuda"
    bandwidth = memory_bandwidth()  # the floor of the sweeps, measured in this run

    rows = []
    for n in sizes:
        sk = None
        if sklearn:
            need = sklearn_bytes_needed(n)
            if need > 0.9 * available_memory():
                sk = {"status": "cannot run here", "bytes_needed": need}
            else:
                sk = _run_child("sklearn", n, "float64", source, timeout)
        flops = n**3 / 3 + n * n * 784
        by_dtype = {}
        for dtype in dtypes:
            rate = gemm_rate(np.float64 if dtype == "float64" else np.float32, device=device)
            rate64 = rate if dtype == "float64" else gemm_rate(np.float64, device=device)
            ours = _run_child("kernelfit", n, dtype, source, timeout, device, memory_budget,
                              warm)
            row = {"n": n, "dtype": dtype, "device": device, "memory_budget": memory_budget,
                   "gemm_gflops": rate, "floor_seconds": flops / rate / 1e9,
                   "float64_gemm_gflops": rate64, "float64_floor_seconds": flops / rate64 / 1e9,
                   "copy_gbs": bandwidth["copy"], "triad_gbs": bandwidth["triad"],
                   "kernelfit": ours, "sklearn": sk}
            if ours.get("status") == "ok":
                row["phases"] = _phases(row, ours, dtype, rate, rate64)
                row["time_over_floor"] = ours["seconds"] / row["floor_seconds"]
                row["time_over_float64_floor"] = ours["seconds"] / row["float64_floor_seconds"]
                if ours.get("warm"):
                    warm_run = {**ours, "timings": ours["warm"]["timings"],
                                "refinement": ours["warm"]["refinement"],
                                "cpu": ours["warm"]["cpu"]}
                    row["warm_phases"] = _phases(row, warm_run, dtype, rate, rate64)
                    row["warm_over_floor"] = ours["warm"]["seconds"] / row["floor_seconds"]
                if sk and sk.get("status") == "ok":
                    row["speedup_vs_sklearn"] = sk["seconds"] / ours["seconds"]
                    row["memory_vs_sklearn"] = ours["peak_rss"] / sk["peak_rss"]
                by_dtype[dtype] = row
            if {"mixed", "float64"} <= by_dtype.keys():  # both done: the mixed-precision ratio
                ratio = (by_dtype["mixed"]["kernelfit"]["seconds"]
                         / by_dtype["float64"]["kernelfit"]["seconds"])
                by_dtype["mixed"]["mixed_over_float64"] = by_dtype["float64"][
                    "mixed_over_float64"] = ratio
            rows.append(row)
            if report is not None:
                report(row)
    return rows


def _phases(row, ours, dtype, rate, rate64) -> list[dict]:
    """The per-phase table of one kernelfit child (:func:`kernelfit.phase_rates.phase_rows`)."""

    floors = {"gemm_float64_gflops": rate64, "gemm_float32_gflops": rate,
              "copy_gbs": row["copy_gbs"], "triad_gbs": row["triad_gbs"]}
    return phase_rows(ours["timings"], floors, n=row["n"], d=ours["n_features"],
                      factor_dtype="float64" if dtype == "float64" else "float32",
                      refinement=ours["refinement"], cpu=(ours.get("cpu") or {}).get("phases"))


# Child process: python -m kernelfit.benchmarks KIND N DTYPE SOURCE DEVICE BUDGET
if __name__ == "__main__":
    kind, n, dtype, source = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    child = {"kernelfit": _child_kernelfit, "sklearn": _child_sklearn}[kind]
    options = (sys.argv[5], sys.argv[6] or None, sys.argv[7] == "warm") \
        if kind == "kernelfit" else ()
    print(json.dumps(child(n, dtype, source, *options)))
