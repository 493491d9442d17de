"""The solve benchmark's bookkeeping: child processes, floors, ratios, crash reports."""

import functools

import numpy as np
import pytest

from kernelfit import benchmarks
from kernelfit.cli.bench_cmd import format_phases, format_row


@pytest.fixture
def small_gemm(monkeypatch):
    monkeypatch.setattr(benchmarks, "gemm_rate",
                        functools.partial(benchmarks.gemm_rate, size=256, repeats=1))


def test_rows_compare_kernelfit_sklearn_and_both_floors(small_gemm):
    rows = benchmarks.solve_benchmark([300], ("mixed", "float64"), source="synthetic")
    assert [r["dtype"] for r in rows] == ["mixed", "float64"]
    mixed, f64 = rows
    for row in rows:
        ours = row["kernelfit"]
        assert ours["status"] == "ok", ours
        assert ours["relative_residual"] < 1e-10
        assert 0 < ours["peak_anon_rss"] <= ours["peak_rss"]
        assert ours["resumed_panels"] == 0
        assert row["time_over_floor"] == pytest.approx(ours["seconds"] / row["floor_seconds"])
        flops = 300**3 / 3 + 300**2 * 784
        assert row["float64_floor_seconds"] == pytest.approx(
            flops / row["float64_gemm_gflops"] / 1e9)
        assert row["sklearn"]["status"] == "ok"
        assert row["speedup_vs_sklearn"] == pytest.approx(
            row["sklearn"]["seconds"] / ours["seconds"])
        assert "mixed/float64" in format_row(row)
        for run in (ours, row["sklearn"]):  # both fits record their CPU and the OS's share
            assert run["cpu"]["user_seconds"] > 0 and run["cpu"]["system_seconds"] >= 0
            assert run["cpu"]["minor_faults"] >= 0  # none if it reused touched memory
        assert format_row(row).count(" CPU-s") == 2
    assert mixed["kernelfit"]["refinement"]["residuals_from"] == "stored kernel"
    assert f64["kernelfit"]["refinement"] is None
    for row, phases in ((mixed, ["gram", "cholesky", "refinement", "solve"]),
                        (f64, ["gram", "cholesky", "solve", "residual"])):
        assert [p["phase"] for p in row["phases"]] == phases
        assert row["copy_gbs"] > 0 and np.isfinite(row["copy_gbs"])
        for phase in row["phases"]:
            assert phase["rate"] == pytest.approx(phase["work"] / phase["seconds"])
            # the fit's CPU seconds per phase (the residual is measured after the fit)
            if phase["phase"] != "residual":
                assert phase["user_seconds"] >= 0 and phase["system_seconds"] >= 0
        assert len(format_phases(row)) == len(phases) + 1
        assert "+ OS" in format_phases(row)[1]  # the gram line
    assert mixed["phases"][1]["floor_rate"] == mixed["gemm_gflops"]  # the SGEMM rate
    assert mixed["mixed_over_float64"] == f64["mixed_over_float64"] == pytest.approx(
        mixed["kernelfit"]["seconds"] / f64["kernelfit"]["seconds"])


def test_a_warm_fit_is_timed_in_the_same_child_after_the_first(small_gemm):
    rows = benchmarks.solve_benchmark([300], ("float64", "mixed"), source="synthetic",
                                      sklearn=False, warm=True)
    for row in rows:
        warm = row["kernelfit"]["warm"]
        assert warm["seconds"] > 0 and warm["cpu"]["user_seconds"] > 0
        assert set(warm["timings"]) >= {"gram", "cholesky", "solve"}
        assert "residual" not in warm["timings"]  # measured once, on the first fit
        assert row["warm_over_floor"] == pytest.approx(warm["seconds"] / row["floor_seconds"])
        assert [p["phase"] for p in row["warm_phases"]] == [
            p["phase"] for p in row["phases"] if p["phase"] != "residual"]
        if row["dtype"] == "mixed":  # the warm fit's own refinement, not the first one's
            assert warm["refinement"] != row["kernelfit"]["refinement"]
            refinement = next(p for p in row["warm_phases"] if p["phase"] == "refinement")
            assert refinement["seconds"] == pytest.approx(
                warm["refinement"]["product_seconds"], rel=1e-9)
        else:
            assert warm["refinement"] is None
        assert f"; warm {warm['seconds']:.1f} s" in format_row(row)
        assert "    warm fit (memory touched before):" in format_phases(row)
    cold = benchmarks.solve_benchmark([300], ("float64",), source="synthetic", sklearn=False)
    assert cold[0]["kernelfit"]["warm"] is None and "warm_phases" not in cold[0]
    assert "warm" not in format_row(cold[0])


def test_sklearn_that_cannot_fit_is_reported_with_the_memory_it_needs(small_gemm, monkeypatch):
    import kernelfit.memory

    monkeypatch.setattr(kernelfit.memory, "available_memory", lambda: 10**6)
    rows = benchmarks.solve_benchmark([200], ("float64",), source="synthetic")
    sk = rows[0]["sklearn"]
    assert sk == {"status": "cannot run here",
                  "bytes_needed": benchmarks.sklearn_bytes_needed(200)}
    assert sk["bytes_needed"] == 2 * 200 * 200 * 8 + 200 * 784 * 8
    assert "sklearn cannot run: needs" in format_row(rows[0])
    assert "speedup_vs_sklearn" not in rows[0]


def test_a_failing_child_is_reported_not_raised():
    result = benchmarks._run_child("no-such-kind", 10, "float64", "synthetic", timeout=60)
    assert result["status"] == "failed (exit 1)"
    assert "KeyError" in result["stderr"]


def test_gemm_rate_is_positive_and_finite():
    rate = benchmarks.gemm_rate(np.float64, size=128, repeats=1)
    assert np.isfinite(rate) and rate > 0
