"""An experiment's CPU seconds per phase are those of its own phases, not of the fits a
held-out search runs inside one of them."""

import numpy as np

import kernelfit.datasets
import kernelfit.experiments as experiments
from kernelfit.datasets.records import Dataset, DataSource
from kernelfit.experiments import ExperimentConfig, run_experiment
from kernelfit.phase_clock import timed_phase


def busy(seconds):
    import time

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_a_bandwidth_search_keeps_its_fits_phases_to_itself(monkeypatch):
    rng = np.random.default_rng(3)
    data = Dataset("mnist", "MNIST", rng.integers(0, 256, (80, 4, 4), dtype=np.uint8),
                   rng.integers(0, 3, 80), rng.integers(0, 256, (20, 4, 4), dtype=np.uint8),
                   rng.integers(0, 3, 20), ("0", "1", "2"),
                   DataSource("idx", "-", False, "tests"))
    monkeypatch.setattr(kernelfit.datasets, "load_mnist", lambda **kwargs: data)

    def search(X, y, kernel, grid, seed, progress=None):  # a search whose fits are slow
        with timed_phase({}, "cholesky"):
            busy(0.3)
        return grid[0], {str(g): 0.5 for g in grid}

    monkeypatch.setattr(experiments, "select_bandwidth", search)
    result = run_experiment(ExperimentConfig(dataset="mnist", bandwidth="auto",
                                             dtype="float64", device="cpu"))
    phases = result.cpu["phases"]
    assert phases["bandwidth_search"]["user_seconds"] >= 0.25  # the search's own CPU
    assert phases["cholesky"]["user_seconds"] < 0.2  # only the final 80-point factor
    assert set(phases) <= set(result.timings)
