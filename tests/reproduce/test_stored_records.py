"""Stored results are reused only when they hold what the step would compute now (the
effective feature-map parameters included), and one random-conv run fills both of the
paper's random-conv rows."""

import json
from dataclasses import replace

import numpy as np
import pytest

import kernelfit.datasets
from kernelfit.datasets.records import Dataset, DataSource
from kernelfit.experiments import ExperimentConfig, run_experiment
from kernelfit.features import DATASET_DEFAULTS
from kernelfit.reproduce import ResultStore, plan, run_reproduction
from kernelfit.reproduce.paper import PAPER_KERNEL
from kernelfit.reproduce.report import write_report
from kernelfit.reproduce.runner import Reproduction

RANDCONV = ExperimentConfig(dataset="cifar10", features="randconv", reg="auto", n_train=40,
                            n_test=12, feature_params={"n_filters": 6}, dtype="float64",
                            device="cpu")
GABOR = ExperimentConfig(dataset="mnist", features="gabor", bandwidth=30.0, n_train=40,
                         n_test=12, dtype="float64", device="cpu")


def tiny(name, shape):
    rng = np.random.default_rng(5)
    return Dataset(name, name.upper(), rng.integers(0, 256, (40, *shape), dtype=np.uint8),
                   rng.integers(0, 3, 40).astype(np.int64),
                   rng.integers(0, 256, (12, *shape), dtype=np.uint8),
                   rng.integers(0, 3, 12).astype(np.int64), tuple(str(k) for k in range(10)),
                   DataSource("idx", "-", False, "tests"))


@pytest.fixture(scope="module")
def records():
    """JSON records of one tiny random-conv run (reg auto) and one tiny Gabor run."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernelfit.datasets, "load_cifar10",
                      lambda **kw: tiny("cifar10", (32, 32, 3)))
        patch.setattr(kernelfit.datasets, "load_mnist", lambda **kw: tiny("mnist", (28, 28)))
        return {name: json.loads(json.dumps(run_experiment(config).to_dict()))
                for name, config in (("randconv", RANDCONV), ("gabor", GABOR))}


def randconv_step():
    """The plan's random-conv step, at the tiny run's sizes."""
    step = next(s for s in plan("smoke", "cpu") if s.name == "cifar10-randconv")
    return replace(step, config=RANDCONV)


def stored(tmp_path, step, record):
    store = ResultStore(tmp_path)
    store.save(step, record)
    return store


def test_a_record_of_the_current_feature_map_is_reused(records, tmp_path):
    step = randconv_step()
    store = stored(tmp_path, step, records["randconv"])
    assert store.load(step) is not None and store.mismatch(step) is None
    # how the map ran (device, memory, threads) does not change what it computed
    params = {**records["randconv"]["feature_map"]["params"], "device": "cuda",
              "memory_budget": 123, "n_jobs": 7}
    store = stored(tmp_path, step, {**records["randconv"], "feature_map": {
        "name": "randconv", "params": params}})
    assert store.load(step) is not None


def test_a_record_made_under_other_defaults_is_not_reused(records, tmp_path, monkeypatch):
    step = randconv_step()
    store = stored(tmp_path, step, records["randconv"])
    old = DATASET_DEFAULTS[("randconv", "cifar10")]
    monkeypatch.setitem(DATASET_DEFAULTS, ("randconv", "cifar10"), {**old, "alpha": 0.5})
    assert store.load(step) is None
    assert store.mismatch(step) == (
        f"its feature map differs from what the current defaults give (alpha: recorded "
        f"{old['alpha']!r}, now 0.5)")


def test_a_record_with_another_feature_map_is_refused_with_each_difference(records,
                                                                          tmp_path):
    step = randconv_step()
    record = records["randconv"]
    params = {**record["feature_map"]["params"], "pooling": "grid", "whitening_epsilon": 0.1}
    store = stored(tmp_path, step, {**record, "feature_map": {"name": "randconv",
                                                                "params": params}})
    assert store.load(step) is None
    why = store.mismatch(step)
    expected = DATASET_DEFAULTS[("randconv", "cifar10")]
    assert f"pooling: recorded 'grid', now {expected['pooling']!r}" in why
    assert f"whitening_epsilon: recorded 0.1, now {expected['whitening_epsilon']!r}" in why
    store = stored(tmp_path, step, {**record, "feature_map": "randconv"})
    assert store.mismatch(step) == ("its feature map differs from what the current defaults "
                                    "give (feature_map must be a record with a name and "
                                    "params; found 'randconv')")


def test_an_old_random_conv_record_without_effective_parameters_is_rerun(records, tmp_path):
    step = randconv_step()
    old = {k: v for k, v in records["randconv"].items() if k != "feature_map"}
    store = stored(tmp_path, step, old)
    assert store.load(step) is None
    assert "does not record the effective parameters of its 'randconv' feature map" in \
        store.mismatch(step)


def test_an_old_gabor_record_is_still_reused_but_a_different_gabor_map_is_not(records,
                                                                             tmp_path):
    step = replace(next(s for s in plan("smoke", "cpu") if s.name == "mnist-gabor"),
                   config=GABOR)
    record = records["gabor"]
    old = {k: v for k, v in record.items() if k != "feature_map"}
    assert stored(tmp_path, step, old).load(step) is not None  # Gabor defaults never changed
    store = stored(tmp_path, step, record)
    assert store.load(step) is not None
    params = {**record["feature_map"]["params"], "n_scales": 2}
    store = stored(tmp_path, step, {**record, "feature_map": {"name": "gabor",
                                                                "params": params}})
    assert store.load(step) is None
    assert "n_scales: recorded 2, now 3" in store.mismatch(step)


def test_a_record_of_another_configuration_says_which_field(records, tmp_path):
    step = randconv_step()
    store = stored(tmp_path, step, records["randconv"])
    other = replace(step, config=replace(RANDCONV, feature_params={"n_filters": 7}))
    assert store.load(other) is None
    assert store.mismatch(other) == ("its configuration differs (feature_params: recorded "
                                     "{'n_filters': 6}, the step has {'n_filters': 7})")


def test_the_runner_says_why_a_stored_result_is_not_reused(records, tmp_path, monkeypatch):
    import kernelfit.reproduce.runner as runner

    step = randconv_step()
    stored(tmp_path, step, {k: v for k, v in records["randconv"].items()
                            if k != "feature_map"})
    monkeypatch.setattr(runner, "plan", lambda mode, device, on_gpu: [step])
    lines = []
    result = run_reproduction("smoke", tmp_path, device="cpu", report_only=True,
                              echo=lines.append)
    assert result.reused == [] and result.skipped == [step.name]
    assert any(line.startswith("cifar10-randconv: the stored result is not reused: it does "
                               "not record the effective parameters") for line in lines)
    report = (tmp_path / "REPORT.md").read_text()
    assert "`cifar10-randconv`: skipped: not run yet (--report-only); the stored result is " \
        "not reused: it does not record" in report


def row(report, label):
    return next(line for line in report.splitlines() if line.startswith(f"| {label} |"))


def test_one_random_conv_run_fills_the_interpolant_and_the_l2_rows(records, tmp_path):
    step = randconv_step()
    record = records["randconv"]
    store = stored(tmp_path, step, record)
    report = write_report(store, [step], "smoke", Reproduction(out=tmp_path)).read_text()
    zero, l2 = PAPER_KERNEL["cifar10-randconv"], PAPER_KERNEL["cifar10-randconv-l2"]
    interpolant, ridge = row(report, zero.label), row(report, l2.label)
    assert f"| {100 * zero.test_error:.2f}% | **" \
        f"{100 * record['unregularized']['test_error']:.2f}%** |" in interpolant
    assert f"| {100 * l2.test_error:.2f}% | **{100 * record['test_error']:.2f}%** |" in ridge
    assert f"{record['unregularized']['rkhs_norm']:.1f}" in interpolant
    assert "reg 0;" in interpolant
    assert f"reg auto -> {record['config']['reg_chosen']:g};" in ridge
    pooling = DATASET_DEFAULTS[("randconv", "cifar10")]["pooling"]
    assert f"pooling {pooling}" in interpolant and f"pooling {pooling}" in ridge
    # each row's time: the shared phases plus its own solve
    timings = record["timings"]
    own0 = sum(v for k, v in timings.items() if k.startswith("reg 0: "))
    shared = sum(v for k, v in timings.items()
                 if not k.startswith("reg 0: ") and f"reg 0: {k}" not in timings)
    assert f"| {shared + own0:,.0f} s |" in interpolant
    assert f"| {sum(timings.values()) - own0:,.0f} s |" in ridge


def test_a_record_without_the_reg_0_fit_leaves_the_interpolant_row_empty(records,
                                                                         tmp_path):
    step = randconv_step()
    store = stored(tmp_path, step, {**records["randconv"], "unregularized": None})
    report = write_report(store, [step], "smoke", Reproduction(out=tmp_path)).read_text()
    assert "| no unregularized fit in the record |" in row(
        report, PAPER_KERNEL["cifar10-randconv"].label)
    assert "**" in row(report, PAPER_KERNEL["cifar10-randconv-l2"].label)


@pytest.mark.parametrize("mode", ["smoke", "quick", "full"])
def test_every_paper_row_has_one_step_and_random_conv_runs_once(mode):
    steps = [s for s in plan(mode) if s.group == "headline"]
    rows = [r for s in steps for r, _ in s.rows()]
    assert sorted(set(PAPER_KERNEL) & set(rows)) == sorted(PAPER_KERNEL)
    assert len(rows) == len(set(rows))
    gaussian = [s for s in steps if s.config.features == "randconv"
                and s.config.kernel == "gaussian"]
    assert len(gaussian) == 1 and gaussian[0].config.reg == "auto"
