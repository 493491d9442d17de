"""The kernelfit command, run as a subprocess on a small subset of the real MNIST."""

import json
import os
import subprocess
import sys
from importlib.resources import files

import pytest

from kernelfit.cli import build_parser, main
from kernelfit.model_selection import AUTO_BANDWIDTH_FACTORS

DATA = os.environ.get("KERNELFIT_DATA")
needs_mnist = pytest.mark.skipif(
    not DATA or not os.path.isdir(os.path.join(DATA, "mnist")),
    reason="real MNIST not found (set KERNELFIT_DATA)",
)


def kernelfit(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "kernelfit.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ})


@needs_mnist
def test_mnist_subset_end_to_end_json_matches_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    out = tmp_path / "run.json"
    # mixed: --dtype auto would pick float64 at this size, with no refinement bar
    proc = kernelfit("mnist", "--n-train", "1500", "--n-test", "500", "--dtype", "mixed",
                     "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    for label in ("train error", "test error", "RKHS norm", "relative residual",
                  "time: cholesky", "peak memory"):
        assert label in proc.stdout
    for bar in ("load", "gram", "cholesky", "solve", "refine", "predict"):  # a bar per phase
        assert f"{bar}:" in proc.stderr
    record = json.loads(out.read_text())
    schema = json.loads(files("kernelfit.schemas").joinpath("experiment.schema.json").read_text())
    jsonschema.validate(record, schema)
    assert record["train_error"] == 0.0
    assert record["test_error"] < 0.15  # 1,500 points already beat chance by far
    assert record["relative_residual"] < 1e-8
    assert record["dataset"]["verified"] is True
    assert record["n_train"] == 1500 and record["n_features"] == 784
    assert 0 < record["peak_anonymous_bytes"] <= record["peak_rss_bytes"]
    assert "RSS; anonymous" in proc.stdout
    # CPU seconds per phase, the mixed solve split into its products and corrections
    phases = record["cpu"]["phases"]
    assert {"load", "gram", "cholesky", "solve", "refinement", "corrections",
            "predict"} <= set(phases)
    assert phases["cholesky"]["user_seconds"] > 0
    assert "; CPU " in proc.stdout.split("time: gram")[1].splitlines()[0]


@needs_mnist
def test_quiet_run_prints_no_bars_and_auto_bandwidth_uses_training_data(tmp_path):
    out = tmp_path / "run.json"
    proc = kernelfit("mnist", "--n-train", "1200", "--n-test", "200", "--bandwidth", "auto",
                     "--quiet", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cholesky:" not in proc.stderr
    record = json.loads(out.read_text())
    assert len(record["config"]["bandwidth_search"]) == len(AUTO_BANDWIDTH_FACTORS)
    assert record["bandwidth"] == pytest.approx(float(min(
        record["config"]["bandwidth_search"],
        key=lambda b: (record["config"]["bandwidth_search"][b], -float(b)))))


def test_bad_bandwidth_is_a_clear_error():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["mnist", "--bandwidth", "wide"])


def test_reg_is_a_number_or_auto(capsys):
    parse = build_parser().parse_args
    assert parse(["cifar10", "--features", "randconv", "--reg", "auto"]).reg == "auto"
    assert parse(["mnist", "--reg", "0.01"]).reg == 0.01
    with pytest.raises(SystemExit):
        parse(["mnist", "--reg", "wide"])
    assert "argument --reg: must be a number or 'auto'; found 'wide'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(["cifar10", "--help"])
    assert "'auto' picks it on a held-out part of the training set" in " ".join(
        capsys.readouterr().out.split())


def test_reg_auto_needs_a_streamed_feature_map(capsys):
    assert main(["mnist", "--reg", "auto", "--quiet"]) == 1  # refused before loading
    err = capsys.readouterr().err
    assert "reg='auto' (held-out choice) is supported for the streamed feature maps " \
        "('randconv',) only; features='none'" in err


def test_results_table_shows_the_chosen_reg():
    from types import SimpleNamespace

    from kernelfit.cli.experiment_cmd import render

    result = SimpleNamespace(
        timings={"solve": 1.0}, dataset={"name": "CIFAR-10"}, n_train=10, n_test=5,
        n_features=8, bandwidth=None, train_error=0.0, test_error=0.5, rkhs_norm=1.0,
        relative_residual=1e-12, solver="cholesky", storage="packed", peak_rss_bytes=1,
        peak_anonymous_bytes=None,
        config={"kernel": "linear", "reg": "auto", "reg_chosen": 0.01, "dtype": "float64"})
    assert "linear, reg auto -> 0.01" in render(result)  # no bandwidth for linear
    result.config.update(reg=0.5, reg_chosen=None)
    assert "reg 0.5" in render(result)
    assert "anonymous" not in render(result)  # not measured: not claimed
    result.peak_anonymous_bytes = 2**30
    assert "anonymous 1.07 GB" in render(result)
    assert "CPU time" not in render(result)  # not measured: no row
    result.cpu = {"user_seconds": 12.25, "system_seconds": 3.5, "minor_faults": 10}
    assert "12.2 s in kernelfit and its libraries, 3.5 s in the operating system" \
        in render(result)
    assert "; CPU" not in render(result)  # no split by phase recorded: none shown
    result.cpu["phases"] = {"solve": {"user_seconds": 2.04, "system_seconds": 0.26,
                                         "minor_faults": 3}}
    lines = render(result).splitlines()
    assert any(line.startswith("time: solve") and line.endswith("; CPU 2.0 s + OS 0.3 s")
               for line in lines)


def test_missing_data_lists_what_to_put_where(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERNELFIT_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("KERNELFIT_CACHE", str(tmp_path / "cache"))
    code = main(["mnist", "--data-dir", str(tmp_path), "--quiet", "--n-train", "10",
                 "--no-download"])
    err = capsys.readouterr().err
    assert code == 1
    assert "train-images-idx3-ubyte" in err


def test_negative_reg_is_rejected_before_any_data_is_read(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERNELFIT_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("KERNELFIT_CACHE", str(tmp_path / "cache"))
    code = main(["mnist", "--reg", "-1", "--data-dir", str(tmp_path), "--no-download",
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "reg must be a non-negative number or 'auto'" in err and "-1" in err
    assert "train-images-idx3-ubyte" not in err  # refused before looking for the data


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "mnist" in capsys.readouterr().out


@needs_mnist
def test_out_of_core_run_gives_the_packed_answer_and_leaves_no_tiles(tmp_path):
    records = {}
    for storage in ("packed", "out-of-core"):
        out = tmp_path / f"{storage}.json"
        proc = kernelfit("mnist", "--n-train", "900", "--n-test", "300", "--dtype", "float64",
                         "--tile-size", "128", "--storage", storage, "--scratch-dir",
                         str(tmp_path / "scratch"), "--quiet", "--json", str(out))
        assert proc.returncode == 0, proc.stderr[-3000:]
        records[storage] = json.loads(out.read_text())
    assert records["packed"]["storage"] == "packed"
    assert records["out-of-core"]["storage"].startswith("out-of-core (")
    assert "storage: out-of-core" in proc.stdout or "out-of-core" in proc.stdout
    for key in ("test_error", "train_error"):
        assert records["out-of-core"][key] == records["packed"][key]
    assert records["out-of-core"]["rkhs_norm"] == pytest.approx(records["packed"]["rkhs_norm"],
                                                                rel=1e-10)
    assert os.listdir(tmp_path / "scratch") == []


def test_out_of_core_storage_is_refused_for_streamed_features(capsys):
    code = main(["cifar10", "--features", "randconv", "--storage", "out-of-core", "--quiet"])
    assert code == 1
    assert "storage='out-of-core' is for the local solver; features='randconv' keeps its " \
        "tiles in memory" in capsys.readouterr().err


def test_a_refinement_that_did_not_converge_says_so_in_the_table():
    from kernelfit.cli.experiment_cmd import _refinement_rows

    rows = _refinement_rows({"iterations": 1, "residuals_from": "stored kernel",
                             "stop_reason": "not_contracting", "tol": 1e-13})
    assert rows == [("refinement", "1 correction, residuals from the stored kernel; DID NOT "
                     "CONVERGE: the float32 factor is too inaccurate for this K, so this is "
                     "not a solution; rerun with --dtype float64")]


def test_a_refinement_cut_far_from_a_solution_also_says_it_did_not_converge():
    from kernelfit.cli.experiment_cmd import _refinement_rows

    (row,) = _refinement_rows({"iterations": 10, "residuals_from": "stored kernel",
                               "stop_reason": "max_iter", "tol": 1e-13,
                               "residuals": [0.5, 2e-6]})
    assert "DID NOT CONVERGE" in row[1]
    (row,) = _refinement_rows({"iterations": 10, "residuals_from": "stored kernel",
                               "stop_reason": "max_iter", "tol": 1e-13,
                               "residuals": [0.5, 2e-12]})
    assert "stopped at the most corrections allowed" in row[1]
