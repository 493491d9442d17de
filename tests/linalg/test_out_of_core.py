"""Out-of-core tiles: same factor as SciPy, resumable after a crash, clear refusals."""

import json
import os
import shutil
from collections import namedtuple

import numpy as np
import pytest
import scipy.linalg

import kernelfit as kf
from kernelfit.linalg import (
    OutOfCoreStorage,
    PackedStorage,
    cholesky_graph,
    cholesky_solve,
    tiled_cholesky,
)
from kernelfit.memory import MemoryBudgetError

N, TILE = 230, 40  # 6 tile columns, the last one short


def data():
    return np.random.default_rng(0).random((N, 5))


def build(directory, **kwargs):
    st = OutOfCoreStorage(N, directory, tile_size=TILE, **kwargs)
    if not st.gram_done:
        kf.gram(data(), kernel="gaussian", bandwidth=0.7, out=st)
        st.add_to_diagonal(1e-6)
        st.mark_gram_done()
    return st


def reference():
    K = kf.gram(data(), kernel="gaussian", bandwidth=0.7) + 1e-6 * np.eye(N)
    return K, scipy.linalg.cholesky(K, lower=True)


def test_left_looking_graph_is_valid():
    done = set()
    for op in cholesky_graph(5, order="left"):
        for tile in op.reads:
            assert tile in done, f"{op} reads {tile} before it is finished"
        if op.kind in ("potrf", "trsm"):
            done.add(op.writes)


def test_out_of_core_factor_and_solve_match_scipy(tmp_path):
    K, L_ref = reference()
    st = tiled_cholesky(build(tmp_path))
    np.testing.assert_allclose(st.to_dense(lower_only=True), L_ref, atol=1e-10)
    assert st.panels_done == st.nt
    y = np.random.default_rng(1).standard_normal((N, 2))
    np.testing.assert_allclose(K @ cholesky_solve(st, y), y, atol=1e-6)


def test_packed_left_looking_matches_right_looking():
    right = PackedStorage(N, TILE)
    left = PackedStorage(N, TILE)
    left.preferred_order = "left"
    for st in (right, left):
        kf.gram(data(), kernel="gaussian", bandwidth=0.7, out=st)
        st.add_to_diagonal(1e-6)
        tiled_cholesky(st)
    np.testing.assert_allclose(left.to_dense(True), right.to_dense(True), atol=1e-12)


@pytest.mark.parametrize("crash_panel", [0, 3])
def test_resume_after_a_killed_run_gives_the_same_factor(tmp_path, run_python, crash_panel):
    full = tiled_cholesky(build(tmp_path / "full")).to_dense(lower_only=True)
    code = f"""
import os, sys
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_out_of_core import build
from kernelfit.linalg import tiled_cholesky
def crash(k):
    if k == {crash_panel}:
        os._exit(17)  # no cleanup, like a kill
tiled_cholesky(build({str(tmp_path / "crash")!r}), on_panel_done=crash)
"""
    result = run_python(code, timeout=120)
    assert result.returncode == 17, result.stderr
    manifest = json.loads((tmp_path / "crash" / "manifest.json").read_text())
    assert manifest["panels_done"] == crash_panel + 1  # claims nothing unfinished
    st = build(tmp_path / "crash", resume=True)
    assert st.gram_done and st.panels_done == crash_panel + 1
    tiled_cholesky(st, start_panel=st.panels_done)
    np.testing.assert_array_equal(st.to_dense(lower_only=True), full)


def test_crash_while_copying_a_panel_is_recovered_from_the_journal(tmp_path, monkeypatch):
    full = tiled_cholesky(build(tmp_path / "full")).to_dense(lower_only=True)
    st = build(tmp_path / "crash")
    original = OutOfCoreStorage._apply_journal

    def half_copy_then_die(self, k):
        if k == 2:
            self._view(k, k)[...] = -1.0  # part of the column overwritten, then killed
            raise SystemExit("killed")
        original(self, k)

    monkeypatch.setattr(OutOfCoreStorage, "_apply_journal", half_copy_then_die)
    with pytest.raises(SystemExit):
        tiled_cholesky(st)
    monkeypatch.setattr(OutOfCoreStorage, "_apply_journal", original)
    st2 = build(tmp_path / "crash", resume=True)
    assert st2.panels_done == 3  # the journalled panel 2 was re-applied on open
    tiled_cholesky(st2, start_panel=st2.panels_done)
    np.testing.assert_array_equal(st2.to_dense(lower_only=True), full)


def test_resume_refuses_a_different_problem(tmp_path):
    build(tmp_path, fingerprint="a")
    with pytest.raises(ValueError, match="cannot resume"):
        OutOfCoreStorage(N, tmp_path, tile_size=TILE, resume=True, fingerprint="b")


def test_budget_too_small_for_one_tile_column(tmp_path):
    with pytest.raises(MemoryBudgetError, match=r"working set.*needs .*budget of"):
        OutOfCoreStorage(N, tmp_path, tile_size=TILE, memory_budget=1000)
    assert not os.path.exists(tmp_path / "manifest.json")


def test_disk_full_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**6, 10**6 - 100, 100))
    with pytest.raises(OSError, match=r"need .* but .* has 100 B free"):
        OutOfCoreStorage(N, tmp_path / "d", tile_size=TILE)
    assert not (tmp_path / "d" / "tiles.bin").exists()


def test_unwritable_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError):
        OutOfCoreStorage(N, blocker / "tiles", tile_size=TILE)


def test_read_ahead_advises_each_applied_tile_in_order_within_the_lead(tmp_path, monkeypatch):
    from kernelfit.linalg import out_of_core

    monkeypatch.setattr(out_of_core, "PREFETCH_LEAD", 2)
    st = build(tmp_path)
    advised = []

    def record(fd, offset, size, advice):
        advised.append((st._panel, offset, size, st._consumed))

    monkeypatch.setattr(out_of_core.os, "posix_fadvise", record)
    tiled_cholesky(st)
    expected = [(k, st._offsets[i, j]) for k in range(st.nt) for j in range(k)
                for i in range(k, st.nt)]
    position = {key: n for n, key in enumerate(expected)}
    places = [position[(k, off)] for k, off, _, _ in advised]
    assert advised and places == sorted(places)  # in the order the panels apply them
    for k, off, size, consumed in advised:  # never more than PREFETCH_LEAD tiles ahead
        index_in_panel = position[(k, off)] - position[next(e for e in expected if e[0] == k)]
        assert consumed <= index_in_panel < consumed + 2
        assert size > 0
    _, L_ref = reference()
    np.testing.assert_allclose(st.to_dense(lower_only=True), L_ref, atol=1e-10)
