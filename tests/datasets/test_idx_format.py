"""The IDX parser and writer, on bytes the tests build themselves."""

import gzip
import struct

import numpy as np
import pytest

from kernelfit.datasets.compression import read_content
from kernelfit.datasets.errors import DatasetFormatError
from kernelfit.datasets.idx_format import encode_idx, parse_idx, write_idx_gz


def test_round_trip_images_and_labels():
    images = np.arange(2 * 28 * 28, dtype=np.int64).astype(np.uint8).reshape(2, 28, 28)
    labels = np.array([3, 7], dtype=np.uint8)
    blob = encode_idx(images)
    assert blob[:16] == struct.pack(">IIII", 0x803, 2, 28, 28)
    np.testing.assert_array_equal(parse_idx(blob, ndim=3, source="x"), images)
    np.testing.assert_array_equal(parse_idx(encode_idx(labels), ndim=1, source="y"), labels)


def test_parsed_array_is_writable_copy():
    out = parse_idx(encode_idx(np.zeros(3, np.uint8)), ndim=1, source="y")
    out[0] = 1  # must not raise (frombuffer alone would be read-only)


def test_wrong_magic_number_names_file_and_values():
    blob = encode_idx(np.zeros(3, np.uint8))  # labels (0x801) read as images
    with pytest.raises(DatasetFormatError, match=r"f\.idx: wrong magic number: expected "
                       r"0x00000803 \(2051.*found 0x00000801 \(2049\)"):
        parse_idx(blob, ndim=3, source="f.idx")


def test_doubly_compressed_data_get_a_hint():
    blob = gzip.compress(encode_idx(np.zeros(3, np.uint8)))
    with pytest.raises(DatasetFormatError, match="look gzip-compressed"):
        parse_idx(blob, ndim=1, source="f")


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x00\x00", r"expected at least a 4-byte magic number, found 2 bytes"),
        (struct.pack(">II", 0x803, 5), r"truncated IDX header: expected 16 bytes, found 8"),
        (encode_idx(np.zeros((2, 28, 28), np.uint8))[:-1],
         r"truncated file: .*shape \(2, 28, 28\).*1,568 data bytes.*found 1,567"),
        (encode_idx(np.zeros((2, 28, 28), np.uint8)) + b"\x00",
         r"1 unexpected trailing bytes"),
    ],
)
def test_truncated_or_padded_files_are_refused(blob, message):
    with pytest.raises(DatasetFormatError, match=message):
        parse_idx(blob, ndim=3, source="f")


def test_encode_refuses_non_uint8():
    with pytest.raises(TypeError, match="uint8"):
        encode_idx(np.zeros(3, np.int64))


def test_write_idx_gz_is_atomic_and_readable(tmp_path):
    labels = np.array([1, 2, 3], np.uint8)
    path = write_idx_gz(labels, tmp_path / "sub" / "train-labels-idx1-ubyte.gz")
    assert read_content(path) == encode_idx(labels)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_truncated_gzip_stream_is_reported(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(encode_idx(np.zeros(1000, np.uint8)))[:-20])
    with pytest.raises(DatasetFormatError, match=r"t10k-labels-idx1-ubyte\.gz: truncated gzip"):
        read_content(path)
