"""The data-set commands' arguments and output, on a tiny synthetic MNIST (no real data).

``kernelfit.datasets.load_mnist`` is replaced by a loader of 40 random training and
20 test images, so the whole command runs in a fraction of a second.
"""

import json
import os
import stat

import numpy as np
import pytest

import kernelfit.datasets
from kernelfit.cli import build_parser, main
from kernelfit.datasets.records import Dataset, DataSource

N_TRAIN, N_TEST = 40, 20


@pytest.fixture
def tiny_mnist(monkeypatch, tmp_path):
    """Serve a tiny random MNIST look-alike; records the loaders' calls."""
    calls = []

    def load(data_dir=None, progress=None, download=True):
        calls.append(data_dir)
        rng = np.random.default_rng(0)
        return Dataset(
            "mnist", "MNIST",
            rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, N_TRAIN).astype(np.int64),
            rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, N_TEST).astype(np.int64),
            tuple(str(k) for k in range(10)),
            DataSource("idx", str(tmp_path / "mnist-copy"), True, "KERNELFIT_DATA"),
        )

    monkeypatch.setattr(kernelfit.datasets, "load_mnist", load)
    return calls


@pytest.mark.parametrize("option", ["--n-train", "--n-test", "--tile-size", "--filters"])
@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_sizes_below_one_are_refused_by_the_parser(option, value, capsys, tiny_mnist):
    with pytest.raises(SystemExit) as stop:
        main(["mnist", option, value, "--quiet"])
    assert stop.value.code == 2
    assert f"argument {option}: must be a whole number >= 1; found '{value}'" in \
        capsys.readouterr().err
    assert tiny_mnist == []  # nothing was loaded


@pytest.mark.parametrize("option, size", [("--n-train", N_TRAIN), ("--n-test", N_TEST)])
def test_a_subset_larger_than_the_data_set_is_an_error_with_its_size(option, size, capsys,
                                                                     tiny_mnist):
    assert main(["mnist", option, str(size + 1), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    split = "training" if option == "--n-train" else "test"
    assert err == (f"kernelfit mnist: error: {option[2:].replace('-', '_')} must be at most the "
                   f"size of the MNIST {split} set, {size:,} images (omit it to use them all); "
                   f"found {size + 1:,}")


def test_filters_without_randconv_is_an_error(capsys, tiny_mnist):
    assert main(["mnist", "--filters", "8", "--quiet"]) == 1
    assert capsys.readouterr().err.strip() == (
        "kernelfit mnist: error: --filters sets the number of random-convolution filters and "
        "needs --features randconv; found --features none")
    assert tiny_mnist == []


def test_pooling_without_randconv_is_an_error(capsys, tiny_mnist):
    assert main(["mnist", "--pooling", "overlap3", "--quiet"]) == 1
    assert capsys.readouterr().err.strip() == (
        "kernelfit mnist: error: --pooling sets the random-convolution pooling layout and "
        "needs --features randconv; found --features none")
    assert tiny_mnist == []


def test_an_unknown_pooling_is_refused_while_parsing(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["cifar10", "--features", "randconv", "--pooling", "max"])
    assert "argument --pooling: invalid choice: 'max' (choose from" in capsys.readouterr().err


def test_the_pooling_choices_are_the_feature_maps():
    from kernelfit.cli.experiment_cmd import POOLINGS
    from kernelfit.features.random_conv import POOLINGS as LAYOUTS

    assert sorted(POOLINGS) == sorted(LAYOUTS)


def test_library_refuses_impossible_sizes_before_loading(tiny_mnist):
    from kernelfit.experiments import ExperimentConfig, run_experiment

    for kwargs, message in [
        ({"tile_size": 0}, "tile_size must be a whole number >= 1; found 0"),
        ({"n_train": -1}, "n_train must be a whole number >= 1; found -1"),
        ({"n_test": 2.5}, "n_test must be a whole number >= 1; found 2.5"),
        ({"features": "randconv", "feature_params": {"n_filters": 0}},
         "n_filters must be a whole number >= 1; found 0"),
        ({"seed": -1}, "seed must be a whole number >= 0; found -1"),
        ({"memory_budget": "0GB"}, "memory_budget must be > 0 bytes; found '0GB'"),
        ({"feature_params": {"n_filters": 8}},
         "n_filters (--filters) is the number of random-convolution filters and needs "
         "features='randconv' (--features randconv); found features='none'"),
    ]:
        with pytest.raises(ValueError) as info:
            run_experiment(ExperimentConfig(**kwargs))
        assert str(info.value) == message
    assert tiny_mnist == []


def test_a_missing_data_dir_is_an_error(tmp_path, capsys, tiny_mnist):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(SystemExit):
        main(["mnist", "--data-dir", str(missing), "--quiet"])
    assert f"argument --data-dir: must be an existing directory; '{missing}' does not exist" \
        in capsys.readouterr().err
    assert tiny_mnist == []


def test_no_download_message_uses_the_command_line_options(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERNELFIT_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("KERNELFIT_CACHE", str(tmp_path / "cache"))
    assert main(["mnist", "--data-dir", str(tmp_path), "--quiet", "--no-download"]) == 1
    err = capsys.readouterr().err
    assert "Downloading was disabled (--no-download)." in err
    assert "--data-dir or the KERNELFIT_DATA environment variable" in err
    assert "download=False" not in err and "data_dir=" not in err


def test_a_run_says_where_the_data_came_from_and_rounds_the_bandwidth(tmp_path, capsys,
                                                                      tiny_mnist):
    out = tmp_path / "run.json"
    assert main(["mnist", "--bandwidth", "3.14159265", "--dtype", "float64", "--quiet",
                 "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert f"data from          {tmp_path / 'mnist-copy'} ($KERNELFIT_DATA; verified)" in table
    assert "gaussian, bandwidth 3.142, reg 0\n" in table
    assert "3.14159265" not in table
    assert json.loads(out.read_text())["bandwidth"] == pytest.approx(3.14159265)


def test_json_results_respect_the_umask(tmp_path, tiny_mnist):
    out = tmp_path / "run.json"
    old = os.umask(0o022)
    try:
        assert main(["mnist", "--kernel", "linear", "--dtype", "float64", "--quiet",
                     "--json", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_linear_kernel_prints_no_bandwidth(capsys, tiny_mnist):
    assert main(["mnist", "--kernel", "linear", "--dtype", "float64", "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "linear, reg 0" in table and "None" not in table


def _help(argv, capsys) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("dataset, n_train", [("mnist", "60,000"), ("cifar10", "50,000")])
def test_every_data_set_option_is_described(dataset, n_train, capsys):
    text = _help([dataset], capsys)
    for phrase in ("kernel k(x, x') (default: gaussian)", f"(default: all {n_train})",
                   "(default: 0)", "'auto' (default) uses a CUDA GPU",
                   "edge of the square tiles", "or dwt (discrete wavelet transform)"):
        assert phrase in text, phrase


def test_datasets_command_is_described_and_refuses_a_missing_data_dir(tmp_path, capsys):
    text = _help(["datasets"], capsys)
    assert "whether its files match the published checksums" in text
    with pytest.raises(SystemExit):
        main(["datasets", "--data-dir", str(tmp_path / "typo")])
    assert "argument --data-dir: must be an existing directory" in capsys.readouterr().err


def test_result_file_for_reproduce_is_written_without_announcing_it(tmp_path, capsys,
                                                                   tiny_mnist):
    out = tmp_path / ".step.partial.json"
    assert main(["mnist", "--kernel", "linear", "--dtype", "float64", "--quiet",
                 "--result-file", str(out)]) == 0
    assert json.loads(out.read_text())["n_train"] == N_TRAIN
    assert "partial" not in capsys.readouterr().err


def test_bench_solve_options_have_descriptions_and_defaults(capsys):
    text = _help(["bench", "solve"], capsys)
    for phrase in ("training-set sizes to time (default: [5000, 10000, 20000, 40000, 60000])",
                   "(default: ['mixed', 'float64'])", "(default: mnist)",
                   "skip scikit-learn's KernelRidge",
                   "(default: bench/results/solve.json)", "against the floor"):
        assert phrase in text, phrase


def test_randomize_help_shows_no_rest_markup(capsys):
    text = _help(["randomize"], capsys)
    assert "``" not in text and "* " not in text
    assert "single -- train one model on one corruption" in text


@pytest.mark.parametrize("argv, message", [
    (["mnist", "--seed", "-1"], "argument --seed: must be a whole number >= 0; found '-1'"),
    (["bench", "solve", "--n", "0"], "argument --n: must be a whole number >= 1; found '0'"),
    (["randomize", "--epochs", "0"], "argument --epochs: must be a whole number >= 1; "
                                     "found '0'"),
    (["randomize", "--seeds", "0,-1"], "argument --seeds: expected whole numbers >= 0 "
                                       "separated by commas; found '0,-1'"),
    (["randomize", "--n-train", "-5"], "argument --n-train: expected a whole number >= 1 "
                                       "or 'all'; found '-5'"),
    (["randomize", "--batch-size", "0"], "argument --batch-size: must be a whole number >= 1"),
])
def test_other_impossible_values_stop_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("text", ["1", "1.5", "-0.1", "nan", "inf", "half"])
def test_an_impossible_dropout_is_refused_while_parsing(text, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["randomize", "table1", "--dropout", text])
    assert f"argument --dropout: must be a number in [0, 1); found '{text}'" in (
        capsys.readouterr().err)


def test_every_option_has_help():
    import argparse

    missing = []

    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*prefix, name])
            elif action.option_strings and action.help is None:
                missing.append(" ".join([*prefix, *action.option_strings]))

    walk(build_parser(), [])
    assert missing == []
