"""The reproduction runner's own lines: final file names, no empty parentheses."""

import json

from kernelfit.experiments import ExperimentConfig
from kernelfit.reproduce import runner
from kernelfit.reproduce.plan import Step
from kernelfit.reproduce.store import ResultStore


def test_an_experiment_step_reads_its_working_file_and_leaves_none(tmp_path, monkeypatch):
    seen = {}

    def child(argv):
        assert "--json" not in argv  # a --json run would announce the working file
        path = argv[argv.index("--result-file") + 1]
        seen["path"] = path
        with open(path, "w") as f:
            json.dump({"test_error": 0.25, "peak_rss_bytes": 2**20}, f)
        return 0

    monkeypatch.setattr(runner, "run_child", child)
    store = ResultStore(tmp_path)
    step = Step("mnist-gaussian", "MNIST", "headline", ExperimentConfig(n_train=10, n_test=5))
    record = runner._run_experiment(step, store, None, False, True)
    assert record["test_error"] == 0.25 and record["own_process"] is True
    assert ".partial.json" in seen["path"]
    assert not list((tmp_path / "results").glob(".*partial*"))


def test_step_summary_has_no_empty_parentheses():
    assert runner._step_summary({"outputs": ["nets/table1.json"]}) == ""
    assert runner._step_summary({"test_error": 0.0123, "peak_rss_bytes": 1_500_000_000}) == \
        " (test error 1.23%, peak 1.5 GB (1.4 GiB))"
