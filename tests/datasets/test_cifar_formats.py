"""load_cifar10 on tiny copies of each CIFAR-10 batch format."""

import json
import pickle

import numpy as np
import pytest

from kernelfit.datasets import (
    ChecksumError,
    DatasetFormatError,
    DatasetNotFoundError,
    UnsafePickleError,
    cifar_batches,
    load_cifar10,
)
from kernelfit.datasets.checksums import Checksum

from .test_restricted_pickle import RunsShell
from .tiny_data import (
    expected_cifar,
    tiny_cifar_batches,
    write_binary_batches,
    write_binary_tarball,
    write_python_batches,
    write_python_tarball,
)


def check(dataset, batches):
    X_train, y_train, X_test, y_test = expected_cifar(batches)
    np.testing.assert_array_equal(dataset.X_train, X_train)
    np.testing.assert_array_equal(dataset.y_train, y_train)
    np.testing.assert_array_equal(dataset.X_test, X_test)
    np.testing.assert_array_equal(dataset.y_test, y_test)
    assert dataset.X_train.shape == (15, 32, 32, 3)
    assert dataset.X_train.flags["C_CONTIGUOUS"]
    assert dataset.display_name == "CIFAR-10"
    assert dataset.classes[6] == "frog"
    json.dumps(dataset.to_dict())


def test_python_tarball_with_injected_md5(tmp_path):
    batches = tiny_cifar_batches()
    md5 = write_python_tarball(tmp_path / "cifar10" / "cifar-10-python.tar.gz", batches)
    dataset = load_cifar10(tmp_path, download=False, checksums={"cifar-10-python.tar.gz": md5})
    check(dataset, batches)
    assert dataset.source.kind == "cifar-python-tarball"
    assert dataset.source.verified
    assert dataset.source.checksums == {"cifar-10-python.tar.gz": str(md5)}


def test_hwc_layout_puts_the_red_plane_in_channel_0(tmp_path):
    batches = tiny_cifar_batches()
    data, _ = batches["data_batch_1"]
    md5 = write_python_tarball(tmp_path / "cifar-10-python.tar.gz", batches)
    dataset = load_cifar10(tmp_path, download=False, checksums={"cifar-10-python.tar.gz": md5})
    np.testing.assert_array_equal(dataset.X_train[0, 0, :, 0], data[0, :32])  # red, row 0
    np.testing.assert_array_equal(dataset.X_train[0, 1, :, 2], data[0, 2048 + 32:2048 + 64])


def test_tarball_checksum_mismatch_unpickles_nothing(tmp_path, monkeypatch):
    batches = tiny_cifar_batches()
    write_python_tarball(tmp_path / "cifar-10-python.tar.gz", batches)
    calls = []
    monkeypatch.setattr(cifar_batches, "load_numpy_pickle", lambda *a, **k: calls.append(a))
    with pytest.raises(ChecksumError, match=r"cifar-10-python\.tar\.gz \(file\): expected "
                       r"md5:c58f30108f718f92721af3b95e74349a, found md5:[0-9a-f]{32}"):
        load_cifar10(tmp_path, download=False)
    assert calls == []


def test_malicious_batch_in_a_verified_tarball_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({"data": RunsShell(f"touch {marker}"), "labels": []}, protocol=2)
    md5 = write_python_tarball(tmp_path / "cifar-10-python.tar.gz", tiny_cifar_batches(),
                               replace={"cifar-10-batches-py/data_batch_3": evil})
    with pytest.raises(UnsafePickleError, match=r"data_batch_3: refused to load global"):
        load_cifar10(tmp_path, download=False, checksums={"cifar-10-python.tar.gz": md5})
    assert not marker.exists()


def test_extracted_python_batches_verified_per_file(tmp_path):
    batches = tiny_cifar_batches()
    table = write_python_batches(tmp_path, batches)
    dataset = load_cifar10(tmp_path, download=False, checksums=table)
    check(dataset, batches)
    assert dataset.source.kind == "cifar-python-batches"
    assert dataset.source.verified
    assert len(dataset.source.checksums) == 6


def test_extracted_batch_without_checksum_is_not_unpickled(tmp_path):
    table = write_python_batches(tmp_path, tiny_cifar_batches())
    table["cifar-10-batches-py/test_batch"] = None
    with pytest.raises(ChecksumError, match=r"test_batch: no checksum is known for this pickle"):
        load_cifar10(tmp_path, download=False, checksums=table)


def test_extracted_batch_with_published_checksum_mismatch(tmp_path):
    write_python_batches(tmp_path, tiny_cifar_batches())
    with pytest.raises(ChecksumError, match=r"data_batch_1 \(file\): expected "
                       r"md5:c99cafc152244af753f735de768cd75f"):
        load_cifar10(tmp_path, download=False)


def test_python_batch_with_mismatched_counts(tmp_path):
    batches = tiny_cifar_batches()
    batches["data_batch_2"] = (batches["data_batch_2"][0], [1, 2])
    table = write_python_batches(tmp_path, batches)
    with pytest.raises(DatasetFormatError, match=r"data_batch_2: mismatched counts: 3 images"):
        load_cifar10(tmp_path, download=False, checksums=table)


def test_binary_batches_load_unverified(tmp_path):
    batches = tiny_cifar_batches()
    write_binary_batches(tmp_path / "cifar10", batches)
    dataset = load_cifar10(tmp_path, download=False)
    check(dataset, batches)
    assert dataset.source.kind == "cifar-binary-batches"
    assert not dataset.source.verified
    assert "structure checked only" in dataset.source.notes[0]


def test_binary_tarball_with_injected_md5(tmp_path):
    batches = tiny_cifar_batches()
    md5 = write_binary_tarball(tmp_path / "cifar-10-binary.tar.gz", batches)
    dataset = load_cifar10(tmp_path, download=False, checksums={"cifar-10-binary.tar.gz": md5})
    check(dataset, batches)
    assert dataset.source.verified


def test_binary_tarball_published_size_is_checked_first(tmp_path):
    write_binary_tarball(tmp_path / "cifar-10-binary.tar.gz", tiny_cifar_batches())
    with pytest.raises(ChecksumError, match=r"expected 170,052,171 bytes \(md5:c32a1d4a"):
        load_cifar10(tmp_path, download=False)


def test_truncated_binary_batch(tmp_path):
    folder = write_binary_batches(tmp_path, tiny_cifar_batches())
    path = folder / "data_batch_4.bin"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetFormatError, match=r"data_batch_4\.bin: truncated or malformed "
                       r"batch: expected a positive multiple of 3073 bytes.*found 9,209 bytes"):
        load_cifar10(tmp_path, download=False)


def test_binary_label_out_of_range(tmp_path):
    batches = tiny_cifar_batches()
    batches["test_batch"] = (batches["test_batch"][0], [0, 10, 1])
    write_binary_batches(tmp_path, batches)
    with pytest.raises(DatasetFormatError, match=r"test_batch\.bin: labels must lie in 0\.\.9"):
        load_cifar10(tmp_path, download=False)


def test_preference_order_within_a_directory(tmp_path):
    batches = tiny_cifar_batches()
    write_binary_batches(tmp_path, batches)
    md5 = write_python_tarball(tmp_path / "cifar-10-python.tar.gz", batches)
    dataset = load_cifar10(tmp_path, download=False, checksums={"cifar-10-python.tar.gz": md5})
    assert dataset.source.kind == "cifar-python-tarball"  # verified beats unverified


def test_missing_cifar_lists_formats_and_incomplete_copies(tmp_path):
    folder = write_binary_batches(tmp_path, tiny_cifar_batches())
    (folder / "test_batch.bin").unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load_cifar10(tmp_path, download=False)
    message = str(info.value)
    for name in ("cifar-10-python.tar.gz", "cifar-10-binary.tar.gz", "cifar10-jpeg.tar",
                 "cifar-10-batches-py/", "data_batch_5.bin", "train/<class>/*.png|jpg"):
        assert name in message
    assert f"{folder} lacks test_batch.bin" in message
    assert f"    {tmp_path / 'cifar10'}\n" in message


def test_checksum_overrides_must_be_checksums(tmp_path):
    with pytest.raises(TypeError, match="must be a Checksum or None; found str"):
        load_cifar10(tmp_path, download=False, checksums={"cifar10-jpeg.tar": "abc"})
    with pytest.raises(ValueError, match="64 lower-case hex characters"):
        Checksum("sha256", "ABC")
