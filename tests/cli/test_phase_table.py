"""The per-phase rows of the CLI's end-of-run table."""

import math
from types import SimpleNamespace

from kernelfit.cli.experiment_cmd import _floors_for, render

FLOORS = {"gemm_float64_gflops": 40.0, "gemm_float32_gflops": 80.0, "copy_gbs": 10.0,
          "triad_gbs": 11.0}


def result_with(timings, solver="cholesky", dtype="float64", refinement=None, n=1000):
    config = {"kernel": "gaussian", "reg": 0.0, "dtype": dtype, "device": "cpu"}
    if refinement is not None:
        config["refinement"] = refinement
    return SimpleNamespace(
        timings=timings, dataset={"name": "MNIST"}, n_train=n, n_test=200, n_features=784,
        bandwidth=5.0, train_error=0.0, test_error=0.1, rkhs_norm=1.0,
        relative_residual=1e-12, solver=solver, storage="packed", peak_rss_bytes=1,
        peak_anonymous_bytes=None, config=config)


def phase_lines(table):
    return {line.split()[1]: line for line in table.splitlines() if "phase:" in line}


def test_float64_phases_with_their_floors():
    table = render(result_with({"load": 1.0, "gram": 0.5, "cholesky": 0.25, "solve": 0.01,
                                "residual": 0.5, "predict": 0.1}), floors=FLOORS)
    lines = phase_lines(table)
    assert list(lines) == ["gram", "cholesky", "solve", "residual", "predict"]
    gram = 1000**2 * 784 / 1e9
    assert f"{gram:.3g} GFLOP in 0.50 s = {gram / 0.5:.1f} GFLOP/s" in lines["gram"]
    assert f"({40.0 / (gram / 0.5):.2f}x floor)" in lines["gram"]
    assert "floor float64 GEMM 40.0 GFLOP/s" in lines["cholesky"]
    assert "GB in 0.01 s" in lines["solve"] and "copy bandwidth 10.0 GB/s" in lines["solve"]
    assert "phase:" not in render(result_with({"gram": 0.5}))  # no floors: no phase rows


def test_mixed_phases_split_refinement_and_use_the_float32_rate():
    refinement = {"iterations": 2, "residuals": [1e-4, 1e-8, 1e-13],
                  "residuals_from": "stored kernel", "product_seconds": 0.2,
                  "correction_seconds": 0.05}
    table = render(result_with({"gram": 0.5, "cholesky": 0.2, "solve": 0.3}, solver="mixed",
                               dtype="auto", refinement=refinement), floors=FLOORS)
    lines = phase_lines(table)
    assert list(lines) == ["gram", "cholesky", "refinement", "solve"]
    assert "float32 GEMM 80.0" in lines["cholesky"]
    assert "in 0.20 s" in lines["refinement"] and "in 0.05 s" in lines["solve"]


def test_floors_measured_for_a_small_run_are_positive():
    floors = _floors_for(result_with({}, n=100))
    assert floors["gemm_size"] == 256 and floors["stream_bytes"] == 1 << 20
    for key in ("gemm_float64_gflops", "gemm_float32_gflops", "copy_gbs", "triad_gbs"):
        assert math.isfinite(floors[key]) and floors[key] > 0


def test_the_refinement_row_says_how_many_corrections_and_why_they_stopped():
    refinement = {"iterations": 7, "residuals": [1e-4, 3e-13], "residuals_from": "stored kernel",
                  "product_seconds": 0.2, "correction_seconds": 0.05, "tol": 2.2e-13,
                  "stop_reason": "stalled"}
    table = render(result_with({"gram": 0.5}, solver="mixed", refinement=refinement))
    line = next(line for line in table.splitlines() if line.startswith("refinement"))
    assert "7 corrections, residuals from the stored kernel" in line
    assert "stalled at what float64 products with K resolve (tolerance 2.2e-13)" in line
    refinement.update(iterations=1, stop_reason="tolerance")
    table = render(result_with({"gram": 0.5}, solver="mixed", refinement=refinement))
    assert "1 correction, residuals from the stored kernel; reached the tolerance 2.2e-13" \
        in table
    assert "refinement" not in render(result_with({"gram": 0.5}))  # float64: no row
