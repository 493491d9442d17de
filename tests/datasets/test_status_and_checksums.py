"""dataset_status, the checksum table and the digest memory."""

import json

import pytest

from kernelfit.datasets import KNOWN_CHECKSUMS, Checksum, dataset_status, digests
from kernelfit.datasets.checksums import checksum_table, verify_file
from kernelfit.datasets.digests import file_digest

from .tiny_data import (
    sha256,
    tiny_cifar_batches,
    tiny_idx_arrays,
    write_binary_batches,
    write_idx_files,
    write_python_tarball,
)


def by_name(records):
    return {record.name: record for record in records}


def test_status_of_an_empty_setup(tmp_path):
    records = dataset_status(tmp_path)
    assert [r.name for r in records] == ["mnist", "fashion-mnist", "cifar10"]
    assert not any(r.present for r in records)
    assert all(r.verified is None and r.path is None for r in records)
    assert str(tmp_path / "mnist") in records[0].notes[-1]
    json.dumps([r.to_dict() for r in records])


def test_status_reports_found_copies_and_verification(tmp_path):
    write_idx_files(tmp_path / "mnist", tiny_idx_arrays(), gz=True)
    write_idx_files(tmp_path / "fashion-mnist", tiny_idx_arrays(seed=1), gz=False)
    write_binary_batches(tmp_path / "cifar10", tiny_cifar_batches())
    status = by_name(dataset_status(tmp_path))
    mnist = status["mnist"]
    assert mnist.present and mnist.format == "idx" and mnist.origin == "data_dir"
    assert mnist.path == str(tmp_path / "mnist")
    assert mnist.verified is False
    assert any("checksum mismatch: expected sha256:ba891046" in n for n in mnist.notes)
    fashion = status["fashion-mnist"]
    assert fashion.present and fashion.verified is False
    assert any("no published checksum" in n for n in fashion.notes)
    cifar = status["cifar10"]
    assert cifar.format == "cifar-binary-batches" and cifar.verified is False
    unverified = by_name(dataset_status(tmp_path, verify=False))
    assert unverified["mnist"].present and unverified["mnist"].verified is None


def test_checksum_table_overrides_and_removals():
    table = checksum_table("cifar10", {"cifar10-jpeg.tar": None,
                                       "extra": Checksum("md5", "0" * 32)})
    assert "cifar10-jpeg.tar" not in table and "extra" in table
    assert "cifar10-jpeg.tar" in KNOWN_CHECKSUMS["cifar10"]  # the published table is untouched
    with pytest.raises(TypeError):
        KNOWN_CHECKSUMS["cifar10"]["x"] = None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sha1", "0" * 40), "algorithm must be one of"),
        (("md5", "0" * 31), "32 lower-case hex"),
        (("sha256", "0" * 64, "gz"), "of must be 'file' or 'content'"),
    ],
)
def test_checksum_validation(args, message):
    with pytest.raises(ValueError, match=message):
        Checksum(*args)


def test_digests_are_remembered_until_the_file_changes(tmp_path, monkeypatch, isolated_locations):
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 3_000_000)
    expected = sha256(path.read_bytes())
    events = []
    assert file_digest(path, "sha256", progress=events.append) == expected
    assert events[-1].phase == "verify big.bin" and events[-1].done == 3_000_000
    assert (isolated_locations / "digests.json").is_file()

    def fail(*args, **kwargs):
        raise AssertionError("rehashed")

    monkeypatch.setattr(digests, "hash_stream", fail)
    assert file_digest(path, "sha256") == expected
    verify_file(path, Checksum("sha256", expected))
    path.write_bytes(b"y" * 3_000_001)
    with pytest.raises(AssertionError, match="rehashed"):
        file_digest(path, "sha256")
    monkeypatch.undo()


def test_digest_of_gzip_content(tmp_path):
    import gzip

    path = tmp_path / "a.gz"
    path.write_bytes(gzip.compress(b"hello"))
    assert file_digest(path, "sha256", "content") == sha256(b"hello")
    assert file_digest(path, "sha256", "file") == sha256(path.read_bytes())


def test_status_fails_only_copies_that_would_be_refused(tmp_path):
    write_idx_files(tmp_path / "mnist", tiny_idx_arrays(), gz=True)  # not MNIST's content
    write_idx_files(tmp_path / "fashion-mnist", tiny_idx_arrays(seed=1), gz=True)
    write_python_tarball(tmp_path / "cifar10" / "cifar-10-python.tar.gz", tiny_cifar_batches())
    status = by_name(dataset_status(tmp_path))
    assert status["mnist"].failed and status["cifar10"].failed
    assert any("checksum mismatch for" in n and "cifar-10-python.tar.gz" in n
               for n in status["cifar10"].notes)
    fashion = status["fashion-mnist"]  # a re-compressed .gz loads, unverified
    assert fashion.verified is False and not fashion.failed
    assert any("is not the published file" in n for n in fashion.notes)
    assert [r["failed"] for r in (s.to_dict() for s in status.values())] == [True, False, True]
    assert not any(r.failed for r in dataset_status(tmp_path, verify=False))
