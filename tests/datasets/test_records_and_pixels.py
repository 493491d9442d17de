"""Dataset / DataSource records, load_dataset and as_float."""

import json

import numpy as np
import pytest

from kernelfit.datasets import Dataset, DataSource, as_float, load_dataset

SOURCE = DataSource("idx", "/data/mnist", True, "data_dir", {"a.gz": "sha256:00"}, ("note",))


def make(**changes):
    fields = dict(
        name="mnist", display_name="MNIST",
        X_train=np.zeros((3, 28, 28), np.uint8), y_train=np.array([0, 1, 9]),
        X_test=np.zeros((2, 28, 28), np.uint8), y_test=np.array([2, 3]),
        classes=tuple("0123456789"), source=SOURCE,
    )
    fields.update(changes)
    return Dataset(**fields)


def test_source_round_trips_through_json():
    record = json.loads(json.dumps(SOURCE.to_dict()))
    assert DataSource.from_dict(record) == SOURCE
    assert hash(SOURCE) == hash(DataSource.from_dict(record))


def test_dataset_to_dict_has_no_arrays():
    record = make().to_dict()
    assert record["n_train"] == 3 and record["image_shape"] == [28, 28]
    assert record["source"]["checksums"] == {"a.gz": "sha256:00"}
    assert len(json.dumps(record)) < 1000


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"X_train": np.zeros((3, 28, 28), np.float32)}, TypeError, "X_train must be a uint8"),
        ({"y_test": np.array([2, 3], np.int32)}, TypeError, "y_test must be a 1-D int64"),
        ({"y_train": np.array([0, 1])}, ValueError, r"same number of rows; found \(3, 28, 28\)"),
        ({"X_test": np.zeros((2, 32, 32), np.uint8)}, ValueError,
         r"X_test images must have shape \(28, 28\)"),
        ({"y_test": np.array([2, 10])}, ValueError, r"labels must lie in 0\.\.9; found 2\.\.10"),
    ],
)
def test_dataset_refuses_inconsistent_arrays(changes, error, message):
    with pytest.raises(error, match=message):
        make(**changes)


def test_dataset_is_frozen():
    with pytest.raises(AttributeError):
        make().name = "other"


def test_as_float_scales_and_flattens():
    X = np.array([[[0, 255], [51, 102]]], np.uint8)
    out = as_float(X)
    assert out.dtype == np.float32 and out.shape == (1, 4)
    np.testing.assert_allclose(out, [[0, 1, 0.2, 0.4]], rtol=1e-7)
    colour = np.arange(2 * 32 * 32 * 3).astype(np.uint8).reshape(2, 32, 32, 3)
    out64 = as_float(colour, np.float64)
    assert out64.shape == (2, 3072) and out64.dtype == np.float64
    np.testing.assert_array_equal(out64, colour.reshape(2, -1) / 255.0)
    assert out64.min() >= 0 and out64.max() <= 1


@pytest.mark.parametrize(
    ("X", "dtype", "error", "message"),
    [
        (np.zeros((2, 3), np.float32), np.float32, TypeError, "uint8 ndarray.*found float32"),
        (np.zeros((2, 3), np.uint8), np.int32, TypeError, "floating type.*found int32"),
        (np.zeros(3, np.uint8), np.float32, ValueError, r"shape \(n, \.\.\.\); found shape \(3,\)"),
    ],
)
def test_as_float_errors(X, dtype, error, message):
    with pytest.raises(error, match=message):
        as_float(X, dtype)


def test_load_dataset_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"unknown data set 'svhn'; expected one of \['cifar10'"):
        load_dataset("svhn")
    with pytest.raises(FileNotFoundError, match="CIFAR-10 was not found"):
        load_dataset("cifar10", tmp_path, download=False)
