"""`kernelfit reproduce`: the reduced (smoke) run end to end, reuse, failures, estimates."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from importlib.resources import files

import numpy as np
import pytest

from kernelfit.cli import build_parser, main
from kernelfit.experiments import ExperimentConfig
from kernelfit.reproduce import ResultStore, experiment_command, plan, run_reproduction
from kernelfit.reproduce.estimate import estimate_seconds

RATES = {"float32": 180.0, "float64": 85.0}

DATA = os.environ.get("KERNELFIT_DATA")
HAS_MNIST = bool(DATA) and os.path.isdir(os.path.join(DATA, "mnist"))
HAS_CIFAR = bool(DATA) and os.path.isfile(os.path.join(DATA, "cifar10-jpeg.tar"))
needs_mnist = pytest.mark.skipif(not HAS_MNIST, reason="real MNIST not found (set KERNELFIT_DATA)")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    if not (HAS_MNIST and HAS_CIFAR):
        pytest.skip("real MNIST and CIFAR-10 not found (set KERNELFIT_DATA to a folder holding "
                    "mnist/ and cifar10-jpeg.tar)")
    out = tmp_path_factory.mktemp("reproduce")
    status = main(["reproduce", "--smoke", "--out", str(out), "--quiet", "--device", "cpu"])
    return out, status


def test_smoke_run_writes_a_report_whose_images_exist_and_parse(smoke):
    from matplotlib.image import imread

    out, status = smoke
    assert status == 0
    report = (out / "REPORT.md").read_text()
    for heading in ("## Kernel results", "## Minimum norm", "## Plots", "## Networks",
                    "## Commands", "## Machine and versions"):
        assert heading in report
    rows = {}
    for label in ("MNIST, Gaussian kernel on pixels", "CIFAR-10, random-conv features",
                  "CIFAR-10, random-conv features + l2"):
        rows[label] = next(line for line in report.splitlines()
                           if line.startswith(f"| {label} |"))
        assert "not run" not in rows[label] and "no unregularized" not in rows[label]
    # one run, two rows: the chosen reg, and the reg 0 fit of the same Gram
    assert re.search(r"reg auto -> [\d.e+-]+;", rows["CIFAR-10, random-conv features + l2"])
    assert "; reg 0;" in rows["CIFAR-10, random-conv features"]
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert {"plots/error-vs-n.png", "plots/norm-vs-n.png",
            "nets/kernel-noise-mnist-gaussian.png"} <= set(images)
    for image in images:
        pixels = imread(out / image)
        assert pixels.ndim == 3 and min(pixels.shape[:2]) > 100
        assert np.ptp(pixels) > 0  # not a blank canvas


def test_smoke_run_keeps_no_checkpoints_and_no_working_files(smoke):
    """Network checkpoints go once each experiment's results are written (they made up
    most of a quick run's 374 MB); the steps' working JSON files are gone too."""
    out, status = smoke
    assert status == 0
    assert not list(out.rglob("*.pt"))
    assert not list(out.rglob(".*.partial.json"))
    assert not (out / "checkpoints").exists()  # the random-conv Gram's, once both ran


def test_smoke_results_match_the_experiment_schema_and_carry_their_command(smoke):
    jsonschema = pytest.importorskip("jsonschema")
    out, _ = smoke
    schema = json.loads(files("kernelfit.schemas").joinpath("experiment.schema.json").read_text())
    records = sorted((out / "results").glob("*.json"))
    assert len(records) == len([s for s in plan("smoke") if s.config is not None])
    for path in records:
        record = json.loads(path.read_text())
        jsonschema.validate({k: v for k, v in record.items()
                             if k not in ("command", "step", "wall_seconds")}, schema)
        assert record["command"].startswith(f"kernelfit {record['config']['dataset']} ")
        if record["config"]["reg"] == 0:
            assert record["train_error"] == 0.0  # the unregularized rows interpolate
        if record["config"]["features"] == "randconv" and \
                record["config"]["kernel"] == "gaussian":
            assert record["unregularized"]["train_error"] == 0.0  # so does its reg 0 fit
            assert record["feature_map"]["params"]["n_filters"] == \
                record["config"]["feature_params"]["n_filters"]


def test_rerun_reuses_every_stored_result(smoke, capsys):
    out, _ = smoke
    before = {p: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    result = run_reproduction("smoke", out, device="cpu", quiet=True, echo=print)
    assert result.ran == [] and not result.failed
    assert len(result.reused) == len(plan("smoke"))
    assert {p: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")} == before
    assert "0 steps to run" in capsys.readouterr().out


def test_a_record_with_another_configuration_is_not_reused(smoke, tmp_path):
    out, _ = smoke
    step = next(s for s in plan("smoke", "cpu") if s.name == "mnist-gaussian")
    store = ResultStore(out)
    assert store.load(step) is not None
    other = replace(step, config=replace(step.config, bandwidth=7.0))
    assert store.load(other) is None
    # where the data came from does not change the result
    assert store.load(replace(step, config=replace(step.config, data_dir="/elsewhere"))) \
        is not None


def test_the_l2_row_chooses_its_reg_on_held_out_training_data(smoke):
    step = next(s for s in plan("full") if s.name == "cifar10-randconv")
    assert step.config.reg == "auto"
    assert " --reg auto " in experiment_command(step.config)
    out, _ = smoke
    record = json.loads((out / "results" / "cifar10-randconv.json").read_text())
    assert record["config"]["reg"] == "auto"  # as configured, so the record is reused
    search = {float(k): v for k, v in record["config"]["reg_search"].items()}
    assert record["config"]["reg_chosen"] == min(search, key=lambda r: (search[r], r))
    assert record["unregularized"]["reg"] == 0.0  # the interpolant row, same Gram
    smoke_step = next(s for s in plan("smoke", "cpu") if s.name == "cifar10-randconv")
    store = ResultStore(out)
    assert store.load(smoke_step) is not None
    assert store.load(replace(smoke_step, config=replace(smoke_step.config, reg=0.1))) is None
    # where its Gram checkpoint was kept does not change the result
    assert record["config"]["checkpoint_dir"].endswith("cifar10-randconv-8-n200-m200")
    assert store.load(replace(smoke_step, config=replace(smoke_step.config,
                                                         checkpoint_dir="/elsewhere")))


@needs_mnist
def test_a_separate_cli_json_is_picked_up(tmp_path):
    step = next(s for s in plan("smoke") if s.name == "mnist-gaussian")
    argv = experiment_command(step.config).split()[1:]
    json_path = tmp_path / "results" / "mnist-gaussian.json"
    assert main([*argv, "--json", str(json_path), "--quiet"]) == 0
    assert ResultStore(tmp_path).load(step) is not None


@pytest.mark.parametrize("mode", ["smoke", "quick", "full"])
def test_experiment_command_parses_back_to_the_same_configuration(mode):
    for step in plan(mode):
        if step.config is None:
            continue
        args = build_parser().parse_args(experiment_command(step.config).split()[1:])
        c = step.config
        assert (args.dataset, args.kernel, args.reg, args.features, args.n_train, args.n_test,
                args.dtype) == (c.dataset, c.kernel, c.reg, c.features, c.n_train, c.n_test,
                                c.dtype)
        assert args.bandwidth == c.bandwidth
        assert args.filters == c.feature_params.get("n_filters")


@needs_mnist
def test_a_failing_step_is_reported_and_the_others_are_kept(tmp_path, monkeypatch):
    import kernelfit.reproduce.runner as runner

    good = next(s for s in plan("smoke") if s.name == "sweep-mnist-gaussian-100")
    bad = replace(good, name="broken", config=replace(good.config, dataset="imagenet"))
    monkeypatch.setattr(runner, "plan", lambda mode, device, on_gpu: [bad, good])
    result = run_reproduction("smoke", tmp_path, device="cpu", quiet=True, echo=lambda s: None)
    assert "kernelfit imagenet" in result.failed["broken"]
    assert "exited with status 2" in result.failed["broken"]  # argparse refused it
    assert result.ran == ["sweep-mnist-gaussian-100"]
    assert (tmp_path / "results" / "sweep-mnist-gaussian-100.json").exists()
    assert "`broken`: failed: RuntimeError: kernelfit imagenet" in (
        tmp_path / "REPORT.md").read_text()
    assert not list((tmp_path / "results").glob(".*.partial.json"))  # nothing half-written


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        plan("huge")


def test_full_run_states_its_expected_duration_before_starting(tmp_path, capsys):
    assert main(["reproduce", "--full", "--dry-run", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    hours = re.search(r"expected about ([\d.]+) (h|min)", text)
    assert hours, text
    assert not list((tmp_path / "results").glob("*.json"))  # nothing ran


def test_estimates_grow_with_the_problem():
    base = plan("full")[0]
    small = estimate_seconds(replace(base, config=ExperimentConfig(n_train=10000)), RATES)
    large = estimate_seconds(replace(base, config=ExperimentConfig(n_train=40000)), RATES)
    # the n^3 factorization takes over: four times n costs more than sixteen times the time
    assert large > 16 * small > 0
    mixed = estimate_seconds(replace(base, config=ExperimentConfig(dtype="mixed")), RATES)
    single = estimate_seconds(replace(base, config=ExperimentConfig(dtype="float32")), RATES)
    assert mixed > single


@needs_mnist
def test_report_only_runs_nothing_and_lists_what_is_missing(tmp_path):
    step = next(s for s in plan("smoke", "cpu") if s.name == "sweep-mnist-gaussian-100")
    assert main([*experiment_command(step.config).split()[1:], "--json",
                 str(tmp_path / "results" / f"{step.name}.json"), "--quiet"]) == 0
    result = run_reproduction("smoke", tmp_path, device="cpu", report_only=True,
                              echo=lambda s: None)
    assert result.ran == [] and result.reused == [step.name]
    report = (tmp_path / "REPORT.md").read_text()
    assert "`mnist-gaussian`: skipped: not run yet (--report-only)" in report
    assert "| MNIST, Gaussian kernel on pixels | 1.20% | not run |" in report


def test_an_unwritable_output_folder_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["reproduce", "--smoke", "--out", str(blocker / "out"), "--report-only"]) == 1
    err = capsys.readouterr().err
    assert "kernelfit reproduce: error:" in err and str(blocker) in err
