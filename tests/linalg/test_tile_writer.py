"""Tiles written by a background thread: the same file as direct writes, failures surfaced."""

import os

import numpy as np
import pytest

import kernelfit as kf
from kernelfit.linalg import OutOfCoreStorage, PackedStorage
from kernelfit.linalg.storage_choice import TeeTiles
from kernelfit.linalg.tile_writer import BackgroundTileWriter

N, TILE = 230, 40  # 6 tile columns, the last one short


def data():
    return np.random.default_rng(1).random((N, 7))


def reference():
    return kf.gram(data(), kernel="gaussian", bandwidth=0.8)


@pytest.mark.parametrize("depth", [1, 3])
def test_a_gram_teed_through_the_writer_equals_numpy_in_both_storages(tmp_path, depth):
    kept = OutOfCoreStorage(N, tmp_path / "k", tile_size=TILE)
    factor = PackedStorage(N, TILE, np.float32)
    with BackgroundTileWriter(kept, depth=depth) as writer:
        kf.gram(data(), kernel="gaussian", bandwidth=0.8, dtype=np.float64,
                out=TeeTiles(kept, factor, writer=writer))
    # Bit for bit what the same blocks give in RAM; to rounding what one dense call gives.
    lower = np.tril(kf.gram(data(), kernel="gaussian", bandwidth=0.8,
                            out=PackedStorage(N, TILE, np.float64)).to_dense(lower_only=True))
    np.testing.assert_allclose(lower, np.tril(reference()), rtol=0, atol=1e-14)
    np.testing.assert_array_equal(np.tril(kept.to_dense(lower_only=True)), lower)
    np.testing.assert_array_equal(np.tril(factor.to_dense(lower_only=True)),
                                  lower.astype(np.float32))
    # the bytes on disk, read without the memory map
    raw = np.fromfile(tmp_path / "k" / "tiles.bin", dtype=np.float64)
    last = kept.tile_shape(kept.nt - 1, kept.nt - 1)
    offset = kept.tile_offset(kept.nt - 1, kept.nt - 1) // 8
    tile = raw[offset: offset + last[0] * last[1]].reshape(last, order="F")
    np.testing.assert_array_equal(np.tril(tile), lower[-last[0]:, -last[1]:])
    kept.close()


def test_a_failed_write_is_raised_on_leaving_and_does_not_hang(tmp_path, monkeypatch):
    kept = OutOfCoreStorage(N, tmp_path / "k", tile_size=TILE)
    read_only = os.open(tmp_path / "k" / "tiles.bin", os.O_RDONLY)
    monkeypatch.setattr(kept, "write_fd", lambda: read_only)  # every pwrite fails
    factor = PackedStorage(N, TILE, np.float32)
    failed = r"writing a tile to .* failed: .*Bad file descriptor"
    with pytest.raises(RuntimeError, match=failed), \
            BackgroundTileWriter(kept, depth=1) as writer:
        kf.gram(data(), kernel="gaussian", bandwidth=0.8, dtype=np.float64,
                out=TeeTiles(kept, factor, writer=writer))
    os.close(read_only)
    kept.close()


def test_a_failure_after_the_last_tile_is_raised_when_the_block_ends(tmp_path, monkeypatch):
    kept = OutOfCoreStorage(N, tmp_path / "k", tile_size=TILE)
    read_only = os.open(tmp_path / "k" / "tiles.bin", os.O_RDONLY)
    monkeypatch.setattr(kept, "write_fd", lambda: read_only)
    with pytest.raises(RuntimeError, match=r"failed: .*Bad file descriptor"), \
            BackgroundTileWriter(kept) as writer:
        tile = writer.buffer(0, 0)
        tile[...] = 1.0
        writer.submit(0, 0, tile)
    os.close(read_only)
    kept.close()


def test_only_its_own_buffers_in_the_tiles_shape_are_accepted(tmp_path):
    kept = OutOfCoreStorage(N, tmp_path / "k", tile_size=TILE)
    with BackgroundTileWriter(kept, depth=2) as writer:
        with pytest.raises(ValueError, match=r"must be the column-major \(40, 40\) buffer that "
                                             r"buffer\(0, 0\) gave; found shape \(40, 40\)"):
            writer.submit(0, 0, np.zeros((TILE, TILE), order="F"))
        tile = writer.buffer(5, 0)  # the short last row of tiles
        assert tile.shape == (30, 40) and tile.flags.f_contiguous
        with pytest.raises(ValueError, match=r"\(30, 40\) buffer .* found shape \(40, 30\)"):
            writer.submit(5, 0, tile.T)
        tile[...] = 2.0
        writer.submit(5, 0, tile)
    np.testing.assert_array_equal(kept.tile(5, 0), np.full((30, 40), 2.0))
    kept.close()


def test_the_writer_needs_a_buffer_and_writes_only_the_first_tee_target(tmp_path):
    kept = OutOfCoreStorage(N, tmp_path / "k", tile_size=TILE)
    with pytest.raises(ValueError, match="depth must be at least 1 buffer; found 0"):
        BackgroundTileWriter(kept, depth=0)
    factor = PackedStorage(N, TILE, np.float32)
    with pytest.raises(ValueError, match="the background writer must write the first tee"):
        TeeTiles(factor, kept, writer=BackgroundTileWriter(kept))
    kept.close()
