"""The real MNIST and the CIFAR-10 JPEG re-encoding (skipped when the shared data are absent)."""

import gzip
import shutil
import time

import numpy as np
import pytest

from kernelfit.datasets import (
    DatasetNotFoundError,
    dataset_status,
    image_tree,
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
)

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_full_mnist_loads_and_verifies(shared_data):
    dataset = load_mnist(shared_data, download=False)
    assert dataset.X_train.shape == (60000, 28, 28) and dataset.X_train.dtype == np.uint8
    assert dataset.X_test.shape == (10000, 28, 28)
    assert np.bincount(dataset.y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(dataset.y_test).tolist() == MNIST_TEST_COUNTS
    assert dataset.source.verified and dataset.source.kind == "idx"
    assert dataset.source.checksums["train-images-idx3-ubyte"] == (
        "sha256:ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    )


def test_mnist_found_through_the_environment_variable(shared_data, monkeypatch):
    monkeypatch.setenv("KERNELFIT_DATA", str(shared_data))
    assert load_mnist(download=False).source.origin == "KERNELFIT_DATA"


def test_mnist_files_are_not_taken_for_fashion_mnist(shared_data):
    with pytest.raises(DatasetNotFoundError, match="holds MNIST, not Fashion-MNIST; skipped"):
        load_fashion_mnist(shared_data / "mnist", download=False)


def test_status_of_the_shared_data(shared_data):
    status = {r.name: r for r in dataset_status(shared_data)}
    assert status["mnist"].verified is True
    assert status["cifar10"].format == "image-tree-tar" and status["cifar10"].verified is True
    assert "JPEG re-encoding" in status["cifar10"].notes[-1]


def test_cifar_jpeg_tar_loads_then_comes_from_the_cache(shared_data, monkeypatch, tmp_path):
    start = time.perf_counter()
    dataset = load_cifar10(shared_data, download=False)
    first = time.perf_counter() - start
    assert dataset.display_name == "CIFAR-10 (JPEG re-encoding)"
    assert dataset.source.verified and dataset.source.kind == "image-tree-tar"
    assert dataset.X_train.shape == (50000, 32, 32, 3)
    assert dataset.X_test.shape == (10000, 32, 32, 3)
    assert np.bincount(dataset.y_train).tolist() == [5000] * 10
    assert np.bincount(dataset.y_test).tolist() == [1000] * 10
    means = dataset.X_train.reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(means, [125.27, 122.93, 113.86], atol=0.01)

    def fail(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(image_tree, "decode_images", fail)
    start = time.perf_counter()
    again = load_cifar10(shared_data, download=False)
    assert time.perf_counter() - start < first / 3
    np.testing.assert_array_equal(again.X_test, dataset.X_test)
    # Copied under another name it has no published checksum, but the same cache entry.
    shutil.copy(shared_data / "cifar10-jpeg.tar", tmp_path / "cifar10-images.tar")
    copy = load_cifar10(tmp_path, download=False)
    assert copy.source.kind == "image-tree-tar" and not copy.source.verified
    assert copy.display_name == "CIFAR-10 (JPEG re-encoding)"


def test_a_recompressed_copy_of_the_real_mnist_verifies(shared_data, tmp_path):
    for path in (shared_data / "mnist").glob("*.gz"):
        recompressed = gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1)
        assert recompressed != path.read_bytes()
        (tmp_path / path.name).write_bytes(recompressed)
    dataset = load_mnist(tmp_path, download=False)
    assert dataset.source.verified and dataset.X_train.shape == (60000, 28, 28)
