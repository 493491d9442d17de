"""Scratch directories: an interrupted fit keeps out-of-core tiles only under a chosen
scratch_dir; ownership markers and the states found on disk."""

import json
import os
import socket
import tempfile

import numpy as np
import pytest

import kernelfit as kf
from kernelfit.linalg.scratch import (
    OWNER_FILE,
    claim_scratch_dir,
    find_scratch_dirs,
    new_scratch_dir,
    remove_stale_scratch_dirs,
)

N, D, TILE = 300, 6, 50  # 6 tile columns
PACKED_BYTES = 21 * TILE * TILE * 8  # float64 lower tiles
WORKING_SET = 2 * N * TILE * 8  # two tile columns


def problem():
    rng = np.random.default_rng(7)
    return rng.random((N, D)), rng.standard_normal((N, 2))


def model(**kwargs):
    return kf.KernelRegressor(bandwidth=0.8, reg=1e-8, tile_size=TILE, **kwargs)


def _interrupt_during(phase_name):
    """A progress callback that raises KeyboardInterrupt once ``phase_name`` has begun."""

    def callback(event):
        if event.phase.startswith(phase_name) and event.done > 0:
            raise KeyboardInterrupt

    return callback


@pytest.mark.parametrize("phase_name", ["gram", "cholesky"])
def test_an_interrupted_fit_keeps_tiles_only_under_a_chosen_scratch_dir(
        tmp_path, monkeypatch, phase_name):
    X, Y = problem()
    system_tmp, chosen = tmp_path / "tmp", tmp_path / "chosen"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    with pytest.raises(KeyboardInterrupt):
        model(storage="out-of-core", progress=_interrupt_during(phase_name)).fit(X, Y)
    assert os.listdir(system_tmp) == []  # nothing to resume from in the system temp dir
    with pytest.raises(KeyboardInterrupt):
        model(storage="out-of-core", scratch_dir=chosen,
              progress=_interrupt_during(phase_name)).fit(X, Y)
    [kept] = os.listdir(chosen)
    assert kept.startswith("kernelfit-tiles-")
    marker = json.loads((chosen / kept / OWNER_FILE).read_text())
    assert marker == {"pid": os.getpid(), "host": socket.gethostname(), "keep": True}


def test_an_interrupted_mixed_fit_removes_its_kept_kernel(tmp_path, monkeypatch):
    X, Y = problem()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    budget = PACKED_BYTES // 2 + WORKING_SET  # the float64 K goes to disk
    with pytest.raises(KeyboardInterrupt):
        model(dtype="mixed", memory_budget=budget, keep_kernel="disk",
              progress=_interrupt_during("cholesky")).fit(X, Y)
    assert os.listdir(tmp_path) == []


def test_a_new_scratch_dir_is_named_after_and_owned_by_this_process(tmp_path):
    directory = new_scratch_dir(tmp_path, "kernelfit-kernel-")
    assert os.path.basename(directory).startswith(f"kernelfit-kernel-{os.getpid()}-")
    [found] = find_scratch_dirs([tmp_path])
    assert (found.state, found.pid) == ("running", os.getpid())


def _ended_pid():
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_states_of_directories_found_on_disk(tmp_path):
    def make(name, marker):
        path = tmp_path / name
        path.mkdir()
        (path / "tiles.bin").write_bytes(b"x" * 8192)
        if marker is not None:
            (path / OWNER_FILE).write_text(json.dumps(marker))
        return path

    host, ended = socket.gethostname(), _ended_pid()
    make("kernelfit-kernel-1-a", {"pid": ended, "host": host, "keep": False})
    make("kernelfit-tiles-b", {"pid": ended, "host": host, "keep": True})
    make("kernelfit-tiles-c", {"pid": ended, "host": "another-host", "keep": False})
    make("kernelfit-kernel-d", None)
    make("kernelfit-kernel-e", {"pid": "garbled"})
    make("unrelated", {"pid": ended, "host": host, "keep": False})
    claim_scratch_dir(make("kernelfit-tiles-f", None), keep=True)
    found = {s.path.name: s for s in find_scratch_dirs([tmp_path, tmp_path, None])}
    assert {name: s.state for name, s in found.items()} == {
        "kernelfit-kernel-1-a": "stale", "kernelfit-tiles-b": "kept",
        "kernelfit-tiles-c": "elsewhere", "kernelfit-kernel-d": "unowned",
        "kernelfit-kernel-e": "unowned", "kernelfit-tiles-f": "running"}
    assert all(s.nbytes >= 8192 for s in found.values())
    removed = remove_stale_scratch_dirs([tmp_path])
    assert [s.path.name for s in removed] == ["kernelfit-kernel-1-a"]
    assert sorted(os.listdir(tmp_path)) == sorted(set(found) - {"kernelfit-kernel-1-a"}
                                                  | {"unrelated"})
    with pytest.raises(ValueError, match="must not include 'running'"):
        remove_stale_scratch_dirs([tmp_path], states=("stale", "running"))
