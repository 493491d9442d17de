"""The BLAS-spin benchmark (bench/bench_blas_spin.py): each child runs under the setting
its row names, and the summary is the best of the rounds."""

import json
import os

import pytest

import kernelfit
from kernelfit import benchmarks


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("bench_blas_spin")


def test_children_run_under_each_setting_and_the_variable_is_restored(bench, monkeypatch):
    # Real child solves; the parent's floor measurements (a 4096^3 GEMM) are not the point.
    monkeypatch.setattr(benchmarks, "gemm_rate", lambda *a, **k: 1.0)
    monkeypatch.setattr(benchmarks, "memory_bandwidth", lambda: {"copy": 1.0, "triad": 1.0})
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "7")
    runs = bench.spin_runs([150], ["float64"], "synthetic", rounds=1)
    assert [(r["setting"], r["child_blas_thread_timeout"]) for r in runs] == [
        ("OpenBLAS default", "28"), ("kernelfit", kernelfit.BLAS_THREAD_TIMEOUT)]
    assert all(r["seconds"] > 0 and "cholesky" in r["timings"] for r in runs)
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "7"


def test_summary_takes_each_phase_at_its_best_and_the_ratio(bench, tmp_path, monkeypatch,
                                                            capsys):
    fake = {("OpenBLAS default", 0): 3.0, ("kernelfit", 0): 2.5,
            ("OpenBLAS default", 1): 2.8, ("kernelfit", 1): 2.0}
    calls = []

    def solve_benchmark(sizes, dtypes, *, source, sklearn):
        calls.append(os.environ["OPENBLAS_THREAD_TIMEOUT"])
        setting = next(s for s, v in bench.SETTINGS.items() if v == calls[-1])
        seconds = fake[setting, (len(calls) - 1) // 2]
        return [{"n": sizes[0], "dtype": dtypes[0],
                 "kernelfit": {"status": "ok", "seconds": seconds,
                               "timings": {"gram": seconds / 2, "cholesky": seconds / 4}}}]

    monkeypatch.setattr(bench, "solve_benchmark", solve_benchmark)
    out = tmp_path / "spin.json"
    assert bench.main(["--n", "100", "--dtype", "mixed", "--rounds", "2",
                       "--out", str(out)]) == 0
    assert calls == ["28", kernelfit.BLAS_THREAD_TIMEOUT] * 2
    rows = {r["setting"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["OpenBLAS default"]["seconds"] == 2.8
    assert rows["kernelfit"]["seconds"] == 2.0
    assert rows["kernelfit"]["timings"] == {"gram": 1.0, "cholesky": 0.5}
    assert rows["kernelfit"]["default_over_this"] == pytest.approx(1.4)
    assert "1.40x" in capsys.readouterr().out


def test_a_failed_child_stops_the_run(bench, monkeypatch):
    monkeypatch.setattr(bench, "solve_benchmark", lambda *a, **k: [
        {"n": 100, "dtype": "mixed", "kernelfit": {"status": "failed", "error": "boom"}}])
    with pytest.raises(SystemExit, match="n=100 mixed: the solve failed"):
        bench.spin_runs([100], ["mixed"], "synthetic", rounds=1)


@pytest.mark.parametrize("argv", [["--rounds", "0"], ["--n", "-5"], ["--n", "many"]])
def test_impossible_sizes_are_refused_before_any_work(bench, argv, monkeypatch, capsys):
    monkeypatch.setattr(bench, "solve_benchmark", lambda *a, **k: pytest.fail("ran"))
    with pytest.raises(SystemExit):
        bench.main(argv)
    assert "must be a whole number >= 1; found" in capsys.readouterr().err
