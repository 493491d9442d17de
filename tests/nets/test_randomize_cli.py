"""``kernelfit randomize``: options, end-to-end runs on a slice of MNIST, errors."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernelfit.cli import randomize
from kernelfit.experiment_records import DEFAULT_BANDWIDTH

MNIST = Path(os.environ.get("KERNELFIT_DATA", "/nonexistent")) / "mnist"
needs_mnist = pytest.mark.skipif(not MNIST.is_dir(), reason="MNIST files not available")


def _parse(*argv):
    parser = argparse.ArgumentParser()
    randomize.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["randomize", *argv])


def test_register_adds_the_options():
    args = _parse("table1", "--model", "mlp1x512,alexnet", "--p", "0,0.5", "--seeds", "1,2",
                  "--n-train", "all", "--kernel", "--quiet")
    assert args.func is randomize.run
    assert args.experiment == "table1" and args.model == ["mlp1x512", "alexnet"]
    assert args.p == [0.0, 0.5] and args.seeds == [1, 2] and args.n_train == "all"
    assert args.kernel == "gaussian" and args.quiet
    assert _parse().experiment == "noise" and _parse().kernel is None
    with pytest.raises(SystemExit):
        _parse("--p", "zero")


@pytest.mark.nets
@needs_mnist
def test_single_run_on_mnist(tmp_path, capsys):
    pytest.importorskip("torch")
    args = _parse("single", "--dataset", "mnist", "--corruption", "random_labels",
                  "--n-train", "128", "--n-test", "100", "--epochs", "2", "--device", "cpu",
                  "--out", str(tmp_path), "--quiet")
    assert randomize.run(args) == 0
    printed = capsys.readouterr().out
    assert "random_labels" in printed and "train acc (%)" in printed
    record = json.loads((tmp_path / "single-mnist-mlp1x512.json").read_text())
    assert record["runs"][0]["epochs_run"] == 2
    assert record["dataset"]["n_train"] == 128
    assert (tmp_path / "single-mnist-mlp1x512.md").is_file()
    assert not (tmp_path / "checkpoints").exists()  # results written: nothing to resume


@needs_mnist
def test_kernel_sweep_on_mnist(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    args = _parse("--kernel", "--dataset", "mnist", "--p", "0,1", "--n-train", "200",
                  "--n-test", "100", "--device", "cpu", "--out", str(tmp_path), "--quiet")
    assert randomize.run(args) == 0
    assert "RKHS norm" in capsys.readouterr().out
    record = json.loads((tmp_path / "kernel-noise-mnist-gaussian.json").read_text())
    assert [run["train_error"] for run in record["runs"]] == [0.0, 0.0]
    assert record["kernel"]["bandwidth"] == DEFAULT_BANDWIDTH["mnist"]
    assert (tmp_path / "kernel-noise-mnist-gaussian.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.nets
@pytest.mark.skipif(not (MNIST.parent / "cifar10-jpeg.tar").is_file(), reason="no CIFAR-10")
def test_mlp_fits_2000_random_cifar_labels_with_cli_defaults(tmp_path):
    """The CPU default of ``single``: about a minute on two cores."""
    pytest.importorskip("torch")
    args = _parse("single", "--device", "cpu", "--out", str(tmp_path), "--quiet")
    assert randomize.run(args) == 0
    record = json.loads((tmp_path / "single-cifar10-mlp1x512.json").read_text())
    run = record["runs"][0]
    assert record["dataset"]["n_train"] == 2000
    assert run["corruption"] == "random_labels" and run["convergence_step"] is not None
    assert run["train_accuracy"] >= 0.999 and run["test_accuracy"] < 0.2


def test_bad_arguments_are_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        randomize.run(_parse("single", "--model", "resnet", "--out", str(tmp_path)))
    with pytest.raises(ValueError, match="--kernel runs the noise sweep"):
        randomize.run(_parse("table1", "--kernel", "--out", str(tmp_path)))


def test_main_reports_errors_with_exit_code(tmp_path):
    """Through the console entry point: a bad p is a one-line error, exit code 1, before
    any data is looked for (an empty data folder, no download)."""
    code = ("import sys; from kernelfit.cli import main; "
            f"sys.exit(main(['randomize', '--kernel', '--p', '1.5', '--n-train', '20', "
            f"'--dataset', 'mnist', '--out', {str(tmp_path / 'out')!r}, '--data-dir', "
            f"{str(tmp_path)!r}, '--no-download', '--quiet']))")
    env = {**os.environ, "KERNELFIT_DATA": str(tmp_path / "empty")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 1, proc.stderr
    assert "p must be in [0, 1]; found 1.5" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_plain_import_does_not_load_torch():
    code = ("import sys, kernelfit, kernelfit.nets, kernelfit.cli.randomize; "
            "from kernelfit.nets import corrupt, fit_relu_interpolant, run_kernel_label_noise; "
            "import kernelfit.nets.corruptions, kernelfit.nets.expressivity; "
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


@pytest.mark.nets
def test_checkpoints_stay_until_the_results_are_written(tmp_path, monkeypatch):
    """An interrupted experiment keeps its runs' checkpoints (to resume); a finished one
    deletes them, since its JSON holds everything they did."""
    pytest.importorskip("torch")
    import numpy as np

    from kernelfit.nets import experiment_data

    rng = np.random.default_rng(0)
    data = experiment_data.ExperimentData(
        rng.integers(0, 256, (32, 28, 28), dtype=np.uint8), rng.integers(0, 10, 32),
        rng.integers(0, 256, (16, 28, 28), dtype=np.uint8), rng.integers(0, 10, 16),
        "mnist", "MNIST", full_n_train=32)
    monkeypatch.setattr(experiment_data, "load_experiment_data", lambda *a, **k: data)
    argv = ("single", "--dataset", "mnist", "--seeds", "0,1", "--epochs", "1", "--device",
            "cpu", "--batch-size", "16", "--out", str(tmp_path), "--quiet")
    real_report = randomize._report

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(randomize, "_report", interrupted)
    with pytest.raises(KeyboardInterrupt):
        randomize.run(_parse(*argv))
    kept = sorted(p.name for p in (tmp_path / "checkpoints").rglob("*.pt"))
    assert len(kept) == 2 and all(name.startswith("mlp1x512-random_labels-") for name in kept)
    monkeypatch.setattr(randomize, "_report", real_report)
    assert randomize.run(_parse(*argv)) == 0
    assert (tmp_path / "single-mnist-mlp1x512.json").is_file()
    assert not (tmp_path / "checkpoints").exists()


def test_randomize_says_where_the_data_came_from_and_speaks_cli(tmp_path, monkeypatch,
                                                                capsys):
    from kernelfit.cli import main

    monkeypatch.setenv("KERNELFIT_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("KERNELFIT_CACHE", str(tmp_path / "cache"))
    assert main(["randomize", "--kernel", "--dataset", "mnist", "--data-dir", str(tmp_path),
                 "--no-download", "--out", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Downloading was disabled (--no-download)." in err and "download=False" not in err


@needs_mnist
def test_randomize_names_its_data_source(tmp_path, capsys):
    args = _parse("--kernel", "--dataset", "mnist", "--p", "0", "--n-train", "50",
                  "--n-test", "20", "--device", "cpu", "--out", str(tmp_path), "--quiet")
    assert randomize.run(args) == 0
    assert f"MNIST from {MNIST} ($KERNELFIT_DATA; verified)" in capsys.readouterr().err


@pytest.mark.parametrize("option, split, size", [("--n-train", "training", 32),
                                                 ("--n-test", "test", 16)])
def test_a_subset_larger_than_the_data_set_is_an_error(option, split, size, monkeypatch,
                                                        capsys, tmp_path):
    import numpy as np

    from kernelfit.cli import main
    from kernelfit.nets import experiment_data

    rng = np.random.default_rng(0)
    data = experiment_data.ExperimentData(
        rng.integers(0, 256, (32, 28, 28), dtype=np.uint8), rng.integers(0, 10, 32),
        rng.integers(0, 256, (16, 28, 28), dtype=np.uint8), rng.integers(0, 10, 16),
        "mnist", "MNIST", full_n_train=32)
    monkeypatch.setattr(experiment_data, "load_experiment_data", lambda *a, **k: data)
    assert main(["randomize", "--kernel", "--dataset", "mnist", option, str(size + 1),
                 "--out", str(tmp_path), "--quiet"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"kernelfit randomize: error: {option} must be at most the size of the MNIST {split} "
        f"set, {size:,} images (or 'all'); found {size + 1:,}")
