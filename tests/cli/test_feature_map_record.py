"""The result JSON records the feature map actually used: every parameter after the data
set's and the class's defaults, beside the ``feature_params`` that were asked for."""

import json
from importlib.resources import files

import numpy as np
import pytest

import kernelfit.datasets
from kernelfit.cli import main
from kernelfit.datasets.records import Dataset, DataSource
from kernelfit.features import DATASET_DEFAULTS, GaborTransform, RandomConvFeatures
from kernelfit.features.feature_map_records import RUNTIME_PARAMS, feature_map_record


def tiny(name, shape, n_train=40, n_test=12):
    rng = np.random.default_rng(3)
    return Dataset(name, name.upper(), rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
                   rng.integers(0, 3, n_train).astype(np.int64),
                   rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
                   rng.integers(0, 3, n_test).astype(np.int64),
                   tuple(str(k) for k in range(10)), DataSource("idx", "-", False, "tests"))


@pytest.fixture
def tiny_data(monkeypatch):
    """Small random look-alikes of CIFAR-10 and MNIST in place of the real loaders."""
    def loader(name, shape):
        return lambda data_dir=None, progress=None, download=True: tiny(name, shape)

    monkeypatch.setattr(kernelfit.datasets, "load_cifar10", loader("cifar10", (32, 32, 3)))
    monkeypatch.setattr(kernelfit.datasets, "load_mnist", loader("mnist", (28, 28)))


def run_cli(tmp_path, *argv):
    out = tmp_path / "run.json"
    # The tiny data's sizes: the memory check made before loading then plans for them,
    # not for the full data set (whose plan depends on this machine's free memory).
    assert main([*argv, "--n-train", "40", "--n-test", "12", "--dtype", "float64",
                 "--device", "cpu", "--quiet", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(files("kernelfit.schemas").joinpath("experiment.schema.json")
                        .read_text())
    jsonschema.validate(record, schema)
    return record


def defining(params):
    return {k: v for k, v in params.items() if k not in RUNTIME_PARAMS}


def test_randconv_json_records_the_cifar10_defaults_it_ran_with(tiny_data, tmp_path):
    record = run_cli(tmp_path, "cifar10", "--features", "randconv", "--filters", "6",
                     "--reg", "auto")
    assert record["config"]["feature_params"] == {"n_filters": 6}  # what was asked
    # What ran: the class's defaults, then CIFAR-10's, then the filter count.
    expected = {**RandomConvFeatures().get_params(), **DATASET_DEFAULTS[("randconv", "cifar10")],
                "n_filters": 6}
    fmap = record["feature_map"]
    assert fmap["name"] == "randconv"
    assert defining(fmap["params"]) == defining(
        {k: v for k, v in expected.items() if k != "progress"})
    assert fmap["params"]["pooling"] != RandomConvFeatures().pooling  # a data-set default
    assert fmap["params"]["device"] == "cpu"  # the run's device, recorded
    # overlap3 pools 3 x 3 regions, two signs: 18 features per filter
    assert record["n_features"] == 18 * 6


def test_an_explicit_pooling_wins_over_the_data_set_default(tiny_data, tmp_path):
    record = run_cli(tmp_path, "cifar10", "--features", "randconv", "--filters", "4",
                     "--pooling", "grid")
    assert record["feature_map"]["params"]["pooling"] == "grid"
    assert record["feature_map"]["params"]["alpha"] == \
        DATASET_DEFAULTS[("randconv", "cifar10")]["alpha"]
    assert record["config"]["feature_params"] == {"n_filters": 4, "pooling": "grid"}


def test_gabor_json_records_every_parameter_of_the_transform(tiny_data, tmp_path):
    record = run_cli(tmp_path, "mnist", "--features", "gabor", "--bandwidth", "30")
    assert record["config"]["feature_params"] == {}
    expected = {**GaborTransform().get_params(), **DATASET_DEFAULTS[("gabor", "mnist")]}
    assert record["feature_map"]["name"] == "gabor"
    assert defining(record["feature_map"]["params"]) == defining(
        {k: v for k, v in expected.items() if k != "progress"})


def test_pixels_record_no_feature_map(tiny_data, tmp_path):
    assert run_cli(tmp_path, "mnist")["feature_map"] is None


def test_the_record_is_json_whatever_the_parameter_types():
    fmap = RandomConvFeatures(n_filters=np.int64(5), dtype=np.float64, image_shape=(32, 32, 3),
                              alpha=np.float32(0.5), progress=print)
    record = feature_map_record(fmap)
    assert json.loads(json.dumps(record)) == record
    params = record["params"]
    assert params["n_filters"] == 5 and params["dtype"] == "float64"
    assert params["image_shape"] == [32, 32, 3] and params["alpha"] == 0.5
    assert "progress" not in params
    assert set(params) == set(fmap.get_params()) - {"progress"}


def test_a_map_outside_the_registry_is_refused():
    from sklearn.preprocessing import StandardScaler

    with pytest.raises(TypeError, match=r"feature_map must be one of \[.*'RandomConvFeatures'"
                                        r".*\]; found StandardScaler"):
        feature_map_record(StandardScaler())


def test_the_run_seed_draws_the_random_filters(tiny_data, tmp_path):
    """``--seed`` reaches the filters (its help says it seeds the random features), and
    two seeds give different features, hence different fits."""
    runs = {seed: run_cli(tmp_path, "cifar10", "--features", "randconv", "--filters", "6",
                          "--seed", str(seed)) for seed in (0, 5)}
    assert runs[0]["feature_map"]["params"]["random_state"] == 0
    assert runs[5]["feature_map"]["params"]["random_state"] == 5
    assert runs[0]["rkhs_norm"] != runs[5]["rkhs_norm"]
