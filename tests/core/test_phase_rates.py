"""Per-phase work, rates and floors (kernelfit.phase_rates)."""

import math

import numpy as np
import pytest

from kernelfit import backend as backend_package
from kernelfit.phase_rates import (
    format_phase_rows,
    gemm_rate,
    measure_floors,
    memory_bandwidth,
    phase_rows,
)

FLOORS = {"gemm_float64_gflops": 50.0, "gemm_float32_gflops": 100.0, "copy_gbs": 10.0,
          "triad_gbs": 12.0}


def test_measured_floors_are_positive_and_finite():
    floors = measure_floors("cpu", gemm_size=128, stream_bytes=1 << 20, repeats=1)
    for key in ("gemm_float64_gflops", "gemm_float32_gflops", "copy_gbs", "triad_gbs"):
        assert math.isfinite(floors[key]) and floors[key] > 0, key


def test_gemm_rate_runs_until_its_least_time_and_keeps_the_best_call(monkeypatch):
    """Calls that a burst of other work slows do not set the rate: the fastest does."""
    host = backend_package.resolve_device("cpu")
    calls = []
    gemm = host.gemm_nt

    def counted(C, A, B):
        calls.append(None)
        gemm(C, A, B)

    monkeypatch.setattr(host, "gemm_nt", counted)
    rate = gemm_rate(np.float64, size=32, repeats=2, min_seconds=0.05)
    assert len(calls) > 3  # the warm-up, two repeats, and more until 0.05 s were timed
    assert math.isfinite(rate) and rate > 0
    calls.clear()
    gemm_rate(np.float64, size=32, repeats=2)
    assert len(calls) == 3


@pytest.mark.parametrize(("size", "repeats", "min_seconds"),
                         [(0, 1, 0.0), (16, 0, 0.0), (16, 1, -1.0), (16, 1, math.inf),
                          (16, 1, math.nan)])
def test_gemm_rate_rejects_impossible_measurements(size, repeats, min_seconds):
    with pytest.raises(ValueError, match=f"found {size}, {repeats}, {min_seconds}"):
        gemm_rate(np.float64, size=size, repeats=repeats, min_seconds=min_seconds)


@pytest.mark.parametrize(("nbytes", "repeats"), [(0, 1), (1 << 20, 0)])
def test_bandwidth_rejects_empty_measurements(nbytes, repeats):
    with pytest.raises(ValueError, match=f"found {nbytes}, {repeats}"):
        memory_bandwidth(nbytes, repeats)


def test_float64_rows_rate_is_work_over_time():
    n, d, m = 3000, 784, 500
    timings = {"load": 9.0, "gram": 2.0, "cholesky": 4.0, "solve": 0.5, "residual": 1.5,
               "predict": 0.25}
    rows = {r["phase"]: r for r in phase_rows(timings, FLOORS, n=n, d=d, n_test=m)}
    assert list(rows) == ["gram", "cholesky", "solve", "residual", "predict"]  # no "load"
    expected = {"gram": n * n * d / 1e9, "cholesky": n**3 / 3 / 1e9, "solve": n * n * 8 / 1e9,
                "residual": n * n * d / 1e9, "predict": 2 * m * n * d / 1e9}
    for phase, row in rows.items():
        assert row["work"] == pytest.approx(expected[phase])
        assert row["seconds"] == timings[phase]
        assert row["rate"] == pytest.approx(row["work"] / row["seconds"])
        assert row["over_floor"] == pytest.approx(row["floor_rate"] / row["rate"])
    assert rows["cholesky"]["floor_rate"] == FLOORS["gemm_float64_gflops"]
    assert rows["solve"]["unit"] == "GB" and rows["solve"]["floor_rate"] == FLOORS["copy_gbs"]


def test_a_precomputed_test_kernel_makes_predict_a_read_of_it():
    # The streamed features form the test kernel with the Gram: predict reads m x n
    # entries once (found in a 10,000-image run: counted as 2 m n d flops it showed
    # 14,876 GFLOP/s).
    n, d, m = 10000, 18000, 10000
    rows = {r["phase"]: r for r in phase_rows({"predict": 0.24}, FLOORS, n=n, d=d, n_test=m,
                                              test_kernel_itemsize=4)}
    assert rows["predict"]["unit"] == "GB"
    assert rows["predict"]["work"] == pytest.approx(m * n * 4 / 1e9)
    assert rows["predict"]["floor_rate"] == FLOORS["copy_gbs"]


@pytest.mark.parametrize("source", ["stored kernel", "data"])
def test_mixed_rows_split_refinement_from_corrections(source):
    n, d = 2000, 100
    refinement = {"iterations": 3, "residuals": [1e-3, 1e-6, 1e-9, 1e-13],
                  "residuals_from": source, "product_seconds": 0.8, "correction_seconds": 0.3}
    timings = {"gram": 1.0, "cholesky": 2.0, "solve": 1.2}
    rows = {r["phase"]: r for r in phase_rows(timings, FLOORS, n=n, d=d,
                                              factor_dtype="float32", refinement=refinement)}
    assert rows["cholesky"]["floor_rate"] == FLOORS["gemm_float32_gflops"]
    assert rows["solve"]["seconds"] == 0.3
    assert rows["solve"]["work"] == pytest.approx(4 * n * n * 4 / 1e9)  # 4 pairs of sweeps
    refine = rows["refinement"]
    assert refine["seconds"] == 0.8
    if source == "stored kernel":
        assert refine["unit"] == "GB" and refine["work"] == pytest.approx(4 * 4 * n * n / 1e9)
    else:
        assert refine["unit"] == "GFLOP" and refine["work"] == pytest.approx(4 * n * n * d / 1e9)
    assert refine["rate"] == pytest.approx(refine["work"] / 0.8)


def test_a_phase_timed_at_zero_has_no_rate():
    rows = phase_rows({"solve": 0.0}, FLOORS, n=10, d=2)
    assert rows[0]["rate"] is None and rows[0]["over_floor"] is None
    assert "-" in format_phase_rows(rows)[1]


def test_formatted_lines_show_every_phase():
    rows = phase_rows({"gram": 1.0, "solve": 0.5}, FLOORS, n=1000, d=10)
    lines = format_phase_rows(rows)
    assert len(lines) == 3 and lines[1].startswith("gram") and "GFLOP/s" in lines[1]
    assert "GB/s" in lines[2] and "copy bandwidth" in lines[2]
    assert np.isclose(float(lines[1].split()[1]), 0.01)


def test_a_mixed_fit_times_its_products_and_corrections(rng):
    from kernelfit import KernelRegressor

    X, y = rng.random((300, 5)), rng.random(300)
    model = KernelRegressor(bandwidth=1.0, reg=1e-3, dtype="mixed", device="cpu").fit(X, y)
    info = model.refinement_.to_dict()
    assert info["product_seconds"] > 0 and info["correction_seconds"] > 0
    assert info["product_seconds"] + info["correction_seconds"] <= model.timings_["solve"]
    rows = {r["phase"]: r for r in phase_rows(model.timings_, FLOORS, n=300, d=5,
                                              factor_dtype="float32", refinement=info)}
    assert {"gram", "cholesky", "refinement", "solve"} <= set(rows)
    assert rows["refinement"]["seconds"] == info["product_seconds"]


def test_rows_carry_each_phases_cpu_seconds_where_recorded():
    refinement = {"iterations": 1, "residuals": [1e-3, 1e-13], "residuals_from": "stored kernel",
                  "product_seconds": 0.4, "correction_seconds": 0.2}
    cpu = {"gram": {"user_seconds": 1.5, "system_seconds": 0.25, "minor_faults": 9},
           "refinement": {"user_seconds": 0.7, "system_seconds": 0.0, "minor_faults": 0},
           "corrections": {"user_seconds": 0.3, "system_seconds": 0.05, "minor_faults": 0}}
    timings = {"gram": 1.0, "cholesky": 2.0, "solve": 0.7}
    rows = {r["phase"]: r for r in phase_rows(timings, FLOORS, n=500, d=10,
                                              factor_dtype="float32", refinement=refinement,
                                              cpu=cpu)}
    assert (rows["gram"]["user_seconds"], rows["gram"]["system_seconds"]) == (1.5, 0.25)
    assert rows["solve"]["system_seconds"] == 0.05  # a mixed solve row is its corrections
    assert rows["refinement"]["user_seconds"] == 0.7
    assert rows["cholesky"]["system_seconds"] is None  # not recorded: not shown
    lines = format_phase_rows(list(rows.values()))
    assert lines[1].startswith("gram") and lines[1].endswith("; CPU 1.5 s + OS 0.2 s")
    assert "; CPU" not in next(line for line in lines if line.startswith("cholesky"))
    assert "user_seconds" not in phase_rows(timings, FLOORS, n=500, d=10)[0]
