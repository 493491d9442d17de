"""Image trees (directory and tar, PNG and JPEG) and the decoded-array cache."""

import io

import numpy as np
import pytest
from PIL import Image

from kernelfit.datasets import DatasetFormatError, image_tree, load_cifar10
from kernelfit.datasets.image_tree import read_image_tree

from .tiny_data import (
    expected_tree,
    image_tree_members,
    write_image_tar,
    write_image_tree,
)


def test_png_directory_is_exact_and_ordered(tmp_path):
    members = image_tree_members("png")
    write_image_tree(tmp_path / "cifar10", members)
    dataset = load_cifar10(tmp_path, download=False)
    for split in ("train", "test"):
        X, y = expected_tree(members, split)
        np.testing.assert_array_equal(getattr(dataset, f"X_{split}"), X)
        np.testing.assert_array_equal(getattr(dataset, f"y_{split}"), y)
    assert dataset.source.kind == "image-tree-dir"
    assert not dataset.source.verified
    assert dataset.display_name == "CIFAR-10 (image tree)"
    assert any("ordered by class" in note for note in dataset.source.notes)


def test_jpeg_tar_with_injected_sha256_is_reported_as_re_encoding(tmp_path):
    members = image_tree_members("jpg")
    sha = write_image_tar(tmp_path / "cifar10-jpeg.tar", members)
    events = []
    dataset = load_cifar10(tmp_path, download=False, checksums={"cifar10-jpeg.tar": sha},
                           progress=events.append)
    assert dataset.display_name == "CIFAR-10 (JPEG re-encoding)"
    assert dataset.source.verified
    assert dataset.source.checksums == {"cifar10-jpeg.tar": str(sha)}
    assert "not bit-identical" in dataset.source.notes[0]
    assert dataset.X_train.shape == (20, 32, 32, 3)
    np.testing.assert_array_equal(dataset.y_train, np.repeat(np.arange(10), 2))
    # Decoded values are what Pillow gives for each file.
    first = sorted(n for n in members if n.startswith("train/airplane/"))[0]
    blob = io.BytesIO()
    Image.fromarray(members[first]).save(blob, format="JPEG")
    np.testing.assert_array_equal(dataset.X_train[0], np.asarray(Image.open(blob)))
    decode = [e for e in events if e.phase == "decode"]
    assert decode[-1].finished and decode[-1].done == decode[-1].total == 30
    assert any(e.phase == "read cifar10-jpeg.tar" for e in events)


def test_png_tar_under_a_leading_folder(tmp_path):
    members = image_tree_members("png", per_split=(1, 1))
    write_image_tar(tmp_path / "cifar10-images.tar",
                    {f"./cifar10/{name}": pixels for name, pixels in members.items()})
    dataset = load_cifar10(tmp_path, download=False)
    np.testing.assert_array_equal(dataset.X_test, expected_tree(members, "test")[0])
    assert dataset.source.kind == "image-tree-tar"
    assert not dataset.source.verified


def test_jpeg_tar_checksum_mismatch(tmp_path):
    write_image_tar(tmp_path / "cifar10-jpeg.tar", image_tree_members("jpg", per_split=(1, 1)))
    with pytest.raises(ValueError, match=r"cifar10-jpeg\.tar: expected 92,692,480 bytes"):
        load_cifar10(tmp_path, download=False)


def test_decoded_arrays_are_cached(tmp_path, monkeypatch, isolated_locations):
    members = image_tree_members("png", per_split=(1, 1))
    write_image_tar(tmp_path / "cifar10-images.tar", members)
    first = read_image_tree(tmp_path / "cifar10-images.tar")
    assert not first.from_cache
    assert len(list((isolated_locations / "decoded").glob("*.npz"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(image_tree, "decode_images", fail)
    second = read_image_tree(tmp_path / "cifar10-images.tar")
    assert second.from_cache
    np.testing.assert_array_equal(second.X_train, first.X_train)
    assert second.classes == first.classes and second.suffixes == (".png",)


def test_damaged_cache_entry_is_ignored(tmp_path, isolated_locations):
    write_image_tree(tmp_path, image_tree_members("png", per_split=(1, 1)))
    first = read_image_tree(tmp_path)
    (entry,) = (isolated_locations / "decoded").glob("*.npz")
    entry.write_bytes(b"not a zip file")
    again = read_image_tree(tmp_path)
    assert not again.from_cache
    np.testing.assert_array_equal(again.X_train, first.X_train)


def test_decoding_in_worker_processes_matches(tmp_path):
    members = image_tree_members("png", per_split=(1, 1))
    write_image_tree(tmp_path, members)
    serial = read_image_tree(tmp_path, use_cache=False)
    parallel = read_image_tree(tmp_path, use_cache=False, workers=2)
    np.testing.assert_array_equal(serial.X_train, parallel.X_train)


def test_wrong_image_size_names_the_file(tmp_path):
    members = image_tree_members("png", per_split=(1, 1))
    members["train/cat/000.png"] = members["train/cat/000.png"][:16, :16]
    write_image_tree(tmp_path, members)
    with pytest.raises(DatasetFormatError, match=r"train/cat/000\.png: expected a 32x32 image, "
                       r"found 16x16"):
        load_cifar10(tmp_path, download=False)


def test_undecodable_image_names_the_file(tmp_path):
    write_image_tree(tmp_path, image_tree_members("png", per_split=(1, 1)))
    (tmp_path / "test" / "dog" / "000.png").write_bytes(b"garbage")
    with pytest.raises(DatasetFormatError, match=r"test/dog/000\.png: cannot decode image"):
        load_cifar10(tmp_path, download=False)


def test_class_folders_must_agree_and_be_cifars(tmp_path):
    members = image_tree_members("png", per_split=(1, 1))
    write_image_tree(tmp_path / "a", {k: v for k, v in members.items() if k != "test/cat/000.png"})
    with pytest.raises(DatasetFormatError, match=r"only in train/: \['cat'\], only in test/: \[\]"):
        load_cifar10(tmp_path / "a", download=False)
    write_image_tree(tmp_path / "b", image_tree_members("png", (1, 1), classes=("x", "y")))
    with pytest.raises(DatasetFormatError, match=r"expected the 10 CIFAR-10 class folders .*"
                       r"found x, y"):
        load_cifar10(tmp_path / "b", download=False)


def test_empty_class_folder_is_refused(tmp_path):
    members = image_tree_members("png", per_split=(1, 1))
    write_image_tree(tmp_path, {k: v for k, v in members.items() if k != "test/cat/000.png"})
    (tmp_path / "test" / "cat").mkdir()
    with pytest.raises(DatasetFormatError, match=r"found none in test/cat"):
        load_cifar10(tmp_path, download=False)


def test_truncated_tar_is_reported(tmp_path):
    write_image_tar(tmp_path / "cifar10-images.tar", image_tree_members("png", (1, 1)))
    path = tmp_path / "cifar10-images.tar"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DatasetFormatError, match=r"cifar10-images\.tar: unreadable or truncated"):
        load_cifar10(tmp_path, download=False)
