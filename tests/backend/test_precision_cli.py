"""``kernelfit mnist`` resolves ``--dtype auto`` (the default) per device and records it."""

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


def test_default_dtype_is_mixed_on_the_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(kernelfit.datasets, "load_mnist", tiny_mnist)
    out = tmp_path / "run.json"
    assert main(["mnist", "--device", "cpu", "--bandwidth", "5", "--quiet",
                 "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["config"]["dtype"] == "mixed"
    assert record["solver"] == "mixed"


def test_planned_commands_name_every_dtype_but_auto():
    assert "--dtype mixed" in experiment_command(ExperimentConfig("mnist", dtype="mixed"))
    assert "--dtype" not in experiment_command(ExperimentConfig("mnist", dtype="auto"))
