"""``kernelfit mnist`` resolves ``--dtype auto`` (the default) per device and problem, and
records it with its reason."""

from __future__ import annotations

import json

import numpy as np

import kernelfit.datasets
from kernelfit.cli import main
from kernelfit.datasets.records import Dataset, DataSource
from kernelfit.experiment_records import ExperimentConfig
from kernelfit.reproduce.plan import experiment_command


def tiny_mnist(data_dir=None, progress=None, download=True):
    rng = np.random.default_rng(0)
    return Dataset("mnist", "MNIST",
                   rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
                   rng.integers(0, 10, 40).astype(np.int64),
                   rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
                   rng.integers(0, 10, 20).astype(np.int64),
                   tuple(str(k) for k in range(10)),
                   DataSource("idx", "tiny", True, "KERNELFIT_DATA"))


def test_default_dtype_is_float64_for_a_small_cpu_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(kernelfit.datasets, "load_mnist", tiny_mnist)
    out = tmp_path / "run.json"
    assert main(["mnist", "--device", "cpu", "--bandwidth", "5", "--quiet",
                 "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["config"]["dtype"] == "float64" and record["solver"] == "cholesky"
    assert "n = 40" in record["config"]["dtype_choice"]
    assert "dtype auto         float64: n = 40" in capsys.readouterr().out


def test_default_dtype_is_mixed_on_the_cpu_where_the_rates_say_it_pays(tmp_path, monkeypatch):
    import kernelfit.precision_choice as precision_choice

    monkeypatch.setattr(kernelfit.datasets, "load_mnist", tiny_mnist)
    monkeypatch.setattr(precision_choice, "SMALL_FLOPS", 0)
    monkeypatch.setattr(precision_choice, "measured_rates", lambda: {
        "gemm_float64_gflops": 1.0, "gemm_float32_gflops": 2.0, "sweep_gbs": 1e6})
    out = tmp_path / "run.json"
    assert main(["mnist", "--device", "cpu", "--bandwidth", "5", "--quiet",
                 "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["config"]["dtype"] == "mixed" and record["solver"] == "mixed"
    assert "GEMM 1 / 2 GFLOP/s" in record["config"]["dtype_choice"]


def test_planned_commands_name_every_dtype_but_auto():
    assert "--dtype mixed" in experiment_command(ExperimentConfig("mnist", dtype="mixed"))
    assert "--dtype" not in experiment_command(ExperimentConfig("mnist", dtype="auto"))
