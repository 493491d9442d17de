"""The solve benchmark on a chosen device: floor from that device's GEMM rate,
kernelfit's residual computed on the device and copied to the host explicitly."""

from __future__ import annotations

import numpy as np
import pytest

from kernelfit import benchmarks
from kernelfit.cli import main


def test_gemm_rate_on_an_emulated_device():
    xps = pytest.importorskip("array_api_strict")
    from kernelfit.backend import Backend

    backend = Backend(xps, xps.Device("device1"))
    rate = benchmarks.gemm_rate(np.float64, size=64, repeats=1, device=backend)
    assert np.isfinite(rate) and rate > 0


def test_solve_benchmark_rows_name_the_device_and_budget():
    rows = benchmarks.solve_benchmark([300], ["float64"], source="synthetic", sklearn=False,
                                      timeout=300, device="cpu", memory_budget="1GiB")
    (row,) = rows
    assert row["device"] == "cpu" and row["memory_budget"] == "1GiB"
    assert row["kernelfit"]["status"] == "ok", row["kernelfit"]
    assert row["kernelfit"]["relative_residual"] < 1e-8
    assert row["floor_seconds"] == pytest.approx((300**3 / 3 + 300**2 * 784)
                                                 / row["gemm_gflops"] / 1e9)


def test_a_budget_below_the_tiles_is_reported_by_the_child():
    result = benchmarks._run_child("kernelfit", 300, "float64", "synthetic", 300, "cpu", "10KB")
    assert result["status"].startswith("failed")
    assert "budget" in result["stderr"]


def test_bench_solve_takes_device_and_memory_budget(tmp_path, monkeypatch):
    calls = {}

    def fake(sizes, dtypes, **kwargs):
        calls.update(kwargs)
        return []

    monkeypatch.setattr(benchmarks, "solve_benchmark", fake)
    code = main(["bench", "solve", "--n", "100", "--no-sklearn", "--device", "cpu",
                 "--memory-budget", "2GiB", "--json", str(tmp_path / "solve.json")])
    assert code == 0
    assert calls["device"] == "cpu" and calls["memory_budget"] == "2GiB"


@pytest.mark.gpu
def test_solve_benchmark_on_the_gpu():
    """float64 rows used to raise TypeError (NumPy Y minus a CuPy product)."""
    (row,) = benchmarks.solve_benchmark([2000], ["float64"], source="synthetic", sklearn=False,
                                        timeout=600, device="cuda")
    assert row["kernelfit"]["status"] == "ok", row["kernelfit"]
    assert row["kernelfit"]["relative_residual"] < 1e-9
    assert row["gemm_gflops"] > 1000  # cuBLAS DGEMM on a data-centre GPU
