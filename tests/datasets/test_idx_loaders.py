"""load_mnist and load_fashion_mnist on tiny IDX files: formats, search order, failures."""

import gzip
import json

import numpy as np
import pytest

from kernelfit.datasets import (
    ChecksumError,
    DatasetFormatError,
    DatasetNotFoundError,
    load_fashion_mnist,
    load_mnist,
)
from kernelfit.datasets.idx_datasets import IDX_FILES
from kernelfit.datasets.idx_format import encode_idx

from .tiny_data import (
    gz_file_checksums,
    idx_content_checksums,
    tiny_idx_arrays,
    write_idx_files,
)

TRAIN_IMAGES = IDX_FILES["train_images"]
TRAIN_LABELS = IDX_FILES["train_labels"]
TEST_LABELS = IDX_FILES["test_labels"]


def check_arrays(dataset, arrays):
    np.testing.assert_array_equal(dataset.X_train, arrays[TRAIN_IMAGES])
    np.testing.assert_array_equal(dataset.y_train, arrays[TRAIN_LABELS])
    np.testing.assert_array_equal(dataset.X_test, arrays[IDX_FILES["test_images"]])
    np.testing.assert_array_equal(dataset.y_test, arrays[TEST_LABELS])
    assert dataset.X_train.dtype == np.uint8
    assert dataset.y_train.dtype == np.int64


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("subfolder", ["", "mnist"])
def test_mnist_loads_and_verifies(tmp_path, gz, subfolder):
    arrays = tiny_idx_arrays()
    write_idx_files(tmp_path / subfolder, arrays, gz=gz)
    checksums = idx_content_checksums(arrays)
    dataset = load_mnist(tmp_path, download=False, checksums=checksums)
    check_arrays(dataset, arrays)
    assert dataset.name == "mnist"
    assert dataset.source.verified
    assert dataset.source.kind == "idx"
    assert dataset.source.origin == "data_dir"
    assert dataset.source.path == str(tmp_path / subfolder)
    assert dataset.source.checksums == {name: str(c) for name, c in checksums.items()}
    json.dumps(dataset.to_dict())


def test_mixed_raw_and_gzip_files_in_one_folder(tmp_path):
    arrays = tiny_idx_arrays()
    paths = write_idx_files(tmp_path, arrays, gz=True)
    raw = tmp_path / TEST_LABELS
    raw.write_bytes(gzip.decompress(paths[TEST_LABELS].read_bytes()))
    paths[TEST_LABELS].unlink()
    dataset = load_mnist(tmp_path, download=False, checksums=idx_content_checksums(arrays))
    check_arrays(dataset, arrays)


def test_search_order_data_dir_then_env_then_cache(tmp_path, monkeypatch, isolated_locations):
    sets = {place: tiny_idx_arrays(seed=seed) for seed, place in enumerate(["arg", "env", "cache"])}
    write_idx_files(tmp_path / "arg", sets["arg"], gz=True)
    write_idx_files(tmp_path / "env" / "mnist", sets["env"], gz=True)
    write_idx_files(isolated_locations / "mnist", sets["cache"], gz=True)
    monkeypatch.setenv("KERNELFIT_DATA", str(tmp_path / "env"))
    checksums = {name: None for name in IDX_FILES.values()}

    def load(data_dir):
        return load_mnist(data_dir, download=False, checksums=checksums)

    dataset = load(tmp_path / "arg")
    assert dataset.source.origin == "data_dir"
    check_arrays(dataset, sets["arg"])
    dataset = load(None)
    assert dataset.source.origin == "KERNELFIT_DATA"
    check_arrays(dataset, sets["env"])
    monkeypatch.delenv("KERNELFIT_DATA")
    dataset = load(tmp_path / "empty")
    assert dataset.source.origin == "cache"
    check_arrays(dataset, sets["cache"])


def test_unverified_when_no_checksum_applies(tmp_path):
    arrays = tiny_idx_arrays()
    write_idx_files(tmp_path, arrays, gz=True)
    dataset = load_mnist(tmp_path, download=False, checksums={n: None for n in arrays})
    assert not dataset.source.verified
    assert "structure checked only" in dataset.source.notes[0]


def test_checksum_mismatch_names_file_expected_and_found(tmp_path):
    arrays = tiny_idx_arrays()
    checksums = idx_content_checksums(arrays)
    arrays[TRAIN_IMAGES][0, 0, 0] ^= 1
    write_idx_files(tmp_path, arrays, gz=True)
    found = idx_content_checksums(arrays)[TRAIN_IMAGES].digest
    with pytest.raises(
        ChecksumError,
        match=rf"checksum mismatch for .*{TRAIN_IMAGES}\.gz \(decompressed content\): "
        rf"expected sha256:{checksums[TRAIN_IMAGES].digest}, found sha256:{found}",
    ):
        load_mnist(tmp_path, download=False, checksums=checksums)


def test_published_mnist_checksums_reject_other_files(tmp_path):
    write_idx_files(tmp_path, tiny_idx_arrays(), gz=False)
    with pytest.raises(ChecksumError, match=r"(?s)expected 47,040,016 bytes \(sha256:ba891046.*\), "
                       r"found 4,720 bytes.*fashion-mnist/ folder"):
        load_mnist(tmp_path, download=False)


def test_every_bad_file_is_named(tmp_path):
    arrays = tiny_idx_arrays()
    checksums = idx_content_checksums(arrays)
    arrays[TRAIN_IMAGES][0, 0, 0] ^= 1
    arrays[TEST_LABELS][0] = (arrays[TEST_LABELS][0] + 1) % 10
    paths = write_idx_files(tmp_path, arrays, gz=True)
    with pytest.raises(ChecksumError) as caught:
        load_mnist(tmp_path, download=False, checksums=checksums)
    message = str(caught.value)
    assert message.startswith("2 files failed verification:\n")
    for name in (TRAIN_IMAGES, TEST_LABELS):
        assert f"checksum mismatch for {paths[name]} (decompressed content): expected " \
               f"{checksums[name]}" in message
    for name in (TRAIN_LABELS, IDX_FILES["test_images"]):
        assert name not in message  # the good ones are not blamed


def test_a_recompressed_mnist_copy_verifies(tmp_path):
    arrays = tiny_idx_arrays()
    checksums = idx_content_checksums(arrays)
    for name, array in arrays.items():  # another level, another header: other .gz bytes
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(encode_idx(array), compresslevel=1,
                                                            mtime=12345))
    dataset = load_mnist(tmp_path, download=False, checksums=checksums)
    check_arrays(dataset, arrays)
    assert dataset.source.verified


def test_wrong_magic_number_in_a_loaded_file(tmp_path):
    arrays = tiny_idx_arrays()
    paths = write_idx_files(tmp_path, arrays, gz=False)
    paths[TRAIN_LABELS].write_bytes(encode_idx(arrays[TRAIN_IMAGES]))
    with pytest.raises(DatasetFormatError, match=rf"{TRAIN_LABELS}: wrong magic number"):
        load_mnist(tmp_path, download=False, checksums={n: None for n in arrays})


def test_truncated_file_is_refused(tmp_path):
    arrays = tiny_idx_arrays()
    paths = write_idx_files(tmp_path, arrays, gz=False)
    blob = paths[TRAIN_IMAGES].read_bytes()
    paths[TRAIN_IMAGES].write_bytes(blob[:-100])
    with pytest.raises(DatasetFormatError, match=rf"{TRAIN_IMAGES}: truncated file"):
        load_mnist(tmp_path, download=False, checksums={n: None for n in arrays})


def test_mismatched_counts_are_refused(tmp_path):
    arrays = tiny_idx_arrays()
    arrays[TRAIN_LABELS] = arrays[TRAIN_LABELS][:-1]
    write_idx_files(tmp_path, arrays, gz=True)
    with pytest.raises(DatasetFormatError, match=r"mismatched counts: .* has 6 images but .* "
                       r"has 5 labels"):
        load_mnist(tmp_path, download=False, checksums={n: None for n in arrays})


def test_wrong_image_size_and_label_range_are_refused(tmp_path):
    arrays = tiny_idx_arrays()
    arrays[TRAIN_IMAGES] = arrays[TRAIN_IMAGES][:, :27, :]
    write_idx_files(tmp_path / "a", arrays, gz=True)
    with pytest.raises(DatasetFormatError, match=r"expected 28x28 images, found \(27, 28\)"):
        load_mnist(tmp_path / "a", download=False, checksums={n: None for n in arrays})
    arrays = tiny_idx_arrays()
    arrays[TEST_LABELS][0] = 10
    write_idx_files(tmp_path / "b", arrays, gz=True)
    with pytest.raises(DatasetFormatError, match=r"labels must lie in 0\.\.9; found a 10"):
        load_mnist(tmp_path / "b", download=False, checksums={n: None for n in arrays})


def test_missing_files_error_lists_files_directories_and_env(tmp_path):
    arrays = tiny_idx_arrays()
    paths = write_idx_files(tmp_path / "mnist", arrays, gz=True)
    paths[TEST_LABELS].unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(tmp_path, download=False)
    message = str(info.value)
    for name in IDX_FILES.values():
        assert f"{name}[.gz]" in message
    for directory in (tmp_path / "mnist", tmp_path, tmp_path / "cache" / "mnist"):
        assert f"    {directory}\n" in message
    assert "KERNELFIT_DATA environment variable (now unset)" in message
    assert "has only t10k-images-idx3-ubyte.gz, train-images" in message
    assert "download=False" in message
    assert isinstance(info.value, FileNotFoundError)


def test_data_dir_must_be_a_path():
    with pytest.raises(TypeError, match=r"data_dir must be a path .* found 3"):
        load_mnist(3, download=False)


def test_fashion_gz_verified_by_published_style_md5(tmp_path):
    arrays = tiny_idx_arrays(seed=5)
    paths = write_idx_files(tmp_path / "fashion-mnist", arrays, gz=True)
    dataset = load_fashion_mnist(tmp_path, download=False, checksums=gz_file_checksums(paths))
    check_arrays(dataset, arrays)
    assert dataset.source.verified
    assert dataset.display_name == "Fashion-MNIST"
    assert dataset.classes[0] == "T-shirt/top"
    assert dataset.source.checksums == {
        name: str(c) for name, c in gz_file_checksums(paths).items()
    }
    assert all(v.startswith("md5:") for v in dataset.source.checksums.values())


def test_fashion_raw_files_load_unverified(tmp_path):
    arrays = tiny_idx_arrays(seed=5)
    write_idx_files(tmp_path, arrays, gz=False)
    dataset = load_fashion_mnist(tmp_path, download=False)
    check_arrays(dataset, arrays)
    assert not dataset.source.verified
    assert "no published checksum" in dataset.source.notes[0]


def test_fashion_recompressed_gz_loads_unverified_like_a_raw_file(tmp_path):
    arrays = tiny_idx_arrays(seed=5)
    paths = write_idx_files(tmp_path, arrays, gz=True)
    dataset = load_fashion_mnist(tmp_path, download=False)
    check_arrays(dataset, arrays)
    assert not dataset.source.verified and dataset.source.checksums == {}
    notes = "\n".join(dataset.source.notes)
    found = gz_file_checksums(paths)[f"{TRAIN_IMAGES}.gz"]
    assert (f"{TRAIN_IMAGES}.gz is not the published file (expected "
            f"md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d, found {found})") in notes
    assert notes.count("checked for structure only") == 4
