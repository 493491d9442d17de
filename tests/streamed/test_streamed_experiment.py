"""Streamed experiments: the reg = 0 fit beside ``reg="auto"``, checkpoints, early refusals."""

import json
from importlib.resources import files

import numpy as np
import pytest

import kernelfit.datasets
from kernelfit.cli import main
from kernelfit.cli.experiment_cmd import render
from kernelfit.datasets.records import Dataset, DataSource
from kernelfit.experiments import ExperimentConfig, run_experiment
from kernelfit.memory import MemoryBudgetError

TINY = {"n_filters": 24, "n_whitening_patches": 3000, "n_standardize_images": 40,
        "n_jobs": 1, "device": "cpu", "pooling": "grid"}


def tiny_cifar(tmp_path=None):
    rng = np.random.default_rng(9)
    return Dataset(
        "cifar10", "CIFAR-10", rng.integers(0, 256, (60, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 3, 60).astype(np.int64),
        rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 3, 20).astype(np.int64), tuple(str(k) for k in range(10)),
        DataSource("jpeg", "-", False, "tests"))


@pytest.fixture
def loads(monkeypatch):
    """Serve the tiny CIFAR-10 look-alike; counts the loads."""
    calls = []

    def load(data_dir=None, progress=None, download=True):
        calls.append(data_dir)
        return tiny_cifar()

    monkeypatch.setattr(kernelfit.datasets, "load_cifar10", load)
    return calls


def config(**changes):
    return ExperimentConfig(**{**dict(dataset="cifar10", features="randconv", n_train=60,
                                      n_test=20, feature_params=TINY, dtype="float64",
                                      device="cpu"),
                               **changes})


def test_auto_reg_reports_the_interpolant_from_the_same_gram(loads, monkeypatch):
    jsonschema = pytest.importorskip("jsonschema")
    import kernelfit.features.random_conv as random_conv

    grams = []
    accumulate = random_conv.RandomConvFeatures.accumulate_train_test_grams
    monkeypatch.setattr(random_conv.RandomConvFeatures, "accumulate_train_test_grams",
                        lambda self, *a, **k: grams.append(1) or accumulate(self, *a, **k))
    result = run_experiment(config(reg="auto"))
    assert len(grams) == 1  # one streamed Gram for both fits
    alone = run_experiment(config(reg=0.0))
    assert alone.unregularized is None
    zero = result.unregularized
    assert zero["reg"] == 0.0
    for key in ("train_error", "test_error", "rkhs_norm", "relative_residual"):
        assert zero[key] == pytest.approx(getattr(alone, key), rel=1e-6, abs=1e-13)
    assert result.config["reg_chosen"] in {float(k) for k in result.config["reg_search"]}
    assert {"reg 0: cholesky", "reg 0: solve", "reg 0: predict"} <= set(result.timings)
    assert "reg 0: features+gram" not in result.timings
    schema = json.loads(files("kernelfit.schemas").joinpath("experiment.schema.json")
                        .read_text())
    record = json.loads(json.dumps(result.to_dict()))
    jsonschema.validate(record, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**record, "unregularized": {**zero, "test_error": 2.0}}, schema)
    # (a small run in a long test process may reuse touched memory: no fault at all)
    assert record["cpu"]["user_seconds"] > 0 and record["cpu"]["minor_faults"] >= 0
    # CPU seconds per phase under the names of the timings: the chosen fit's phases, the
    # interpolant's as "reg 0: ...", within the run's totals.
    phases = record["cpu"]["phases"]
    assert {"load", "features+gram", "kernel", "cholesky", "solve", "predict",
            "reg 0: cholesky", "reg 0: solve", "reg 0: predict"} <= set(phases)
    assert set(phases) <= set(result.timings)
    for field in ("user_seconds", "system_seconds", "minor_faults"):
        assert sum(p[field] for p in phases.values()) <= record["cpu"][field] + 1e-6
    with pytest.raises(jsonschema.ValidationError):
        bad = {**phases["cholesky"], "system_seconds": -1}
        jsonschema.validate({**record, "cpu": {**record["cpu"], "phases": {"cholesky": bad}}},
                            schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**record, "cpu": {**record["cpu"], "system_seconds": -1}}, schema)
    table = render(result)
    assert "in the operating system" in table
    assert "time: cholesky" in table and "; CPU " in table.split("time: cholesky")[1]
    assert f"{100 * zero['test_error']:.2f}%" in table.split("reg 0: train / test error")[1]
    assert "reg 0: RKHS norm" in table and "reg 0: relative residual" in table


def test_a_checkpointed_experiment_resumes_from_the_saved_gram(loads, tmp_path):
    first = run_experiment(config(checkpoint_dir=str(tmp_path)))
    again = run_experiment(config(checkpoint_dir=str(tmp_path)))
    assert (first.resumed_filters, again.resumed_filters) == (0, TINY["n_filters"])
    assert again.test_error == first.test_error
    assert again.rkhs_norm == pytest.approx(first.rkhs_norm, rel=1e-12)
    assert "resumed filters" in render(again) and "resumed filters" not in render(first)


@pytest.mark.parametrize(("changes", "error", "match"), [
    ({"feature_params": {**TINY, "n_filters": 10**9}}, MemoryBudgetError,
     r"1,000,000,000 filters: fitted filters and statistics .* more than the memory budget"),
    ({"feature_params": {**TINY, "patch_size": 40}}, ValueError,
     r"patch_size=40 is larger than the images \(32 x 32\); expected patch_size <= 32"),
    ({"features": "gabor", "feature_params": {}, "checkpoint_dir": "somewhere"}, ValueError,
     r"checkpoint_dir \(--checkpoint-dir\) checkpoints the streamed Gram .* features='gabor'"),
])
def test_refused_before_loading(loads, changes, error, match):
    with pytest.raises(error, match=match):
        run_experiment(config(**changes))
    assert loads == []


def test_filters_the_budget_cannot_hold_are_refused_by_the_cli_before_loading(loads, capsys):
    assert main(["cifar10", "--features", "randconv", "--filters", "2000000",
                 "--n-train", "1000", "--n-test", "100", "--memory-budget", "1GiB",
                 "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("kernelfit cifar10: error: the streamed exact solve of 1000 training "
                          "and 100 test points") and "2,000,000 filters" in err
    assert "\n" not in err and loads == []


def test_a_checkpoint_of_another_configuration_is_a_one_line_cli_error(loads, capsys,
                                                                        tmp_path):
    run_experiment(config(checkpoint_dir=str(tmp_path)))
    loads.clear()
    assert main(["cifar10", "--features", "randconv", "--filters", "16", "--pooling", "grid",
                 "--n-train", "60", "--n-test", "20", "--dtype", "float64",
                 "--checkpoint-dir", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"kernelfit cifar10: error: the checkpoint in {tmp_path} was written "
                          "for another configuration: ")
    assert "n_filters (checkpoint 24, now 16)" in err and "\n" not in err


def test_checkpoint_dir_without_randconv_is_a_cli_error(loads, capsys, tmp_path):
    assert main(["cifar10", "--checkpoint-dir", str(tmp_path), "--quiet"]) == 1
    assert capsys.readouterr().err.strip() == (
        "kernelfit cifar10: error: --checkpoint-dir checkpoints the streamed random-convolution "
        "Gram and needs --features randconv; found --features none")
    assert loads == [] and list(tmp_path.iterdir()) == []

