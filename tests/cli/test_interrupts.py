"""Every exit cleans up: SIGTERM and SIGHUP act like Ctrl-C, stale scratch is removed at
start, and ``kernelfit cache`` shows and cleans what is kept on disk."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from kernelfit.cli import main
from kernelfit.cli.interrupts import Interrupted, signals_as_interrupts
from kernelfit.datasets.idx_datasets import IDX_FILES
from kernelfit.datasets.idx_format import encode_idx
from kernelfit.linalg.scratch import (
    OWNER_FILE,
    allocated_bytes,
)
from kernelfit.memory import format_bytes


def _fake_fashion_mnist(directory, n_train, n_test=50):
    """Raw Fashion-MNIST-shaped IDX files (raw files load without a published checksum)."""
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder = directory / "fashion-mnist"
    folder.mkdir(parents=True)
    for role, array in arrays.items():
        (folder / IDX_FILES[role]).write_bytes(encode_idx(array))


def _ended_pid() -> int:
    """The id of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _stale_dir(parent, name, *, keep=False, pid=None):
    path = parent / name
    path.mkdir()
    (path / "tiles.bin").write_bytes(b"\0" * 10_000)
    if pid is not False:
        marker = {"pid": pid or _ended_pid(), "host": socket.gethostname(), "keep": keep}
        (path / OWNER_FILE).write_text(json.dumps(marker))
    return path


@pytest.mark.parametrize("options, prefix", [
    (["--storage", "out-of-core", "--dtype", "float64"], "kernelfit-tiles-"),
    (["--dtype", "mixed", "--memory-budget", "150MB", "--tile-size", "500"],
     "kernelfit-kernel-"),
])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_a_run_leaves_no_scratch(tmp_path, options, prefix, sig):
    data, scratch = tmp_path / "data", tmp_path / "tmp"
    scratch.mkdir()
    _fake_fashion_mnist(data, 6000)
    env = {**os.environ, "TMPDIR": str(scratch), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kernelfit.cli", "fashion-mnist", "--data-dir", str(data),
         "--device", "cpu", "--quiet", *options], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (made := [p for p in scratch.glob(f"{prefix}*/{OWNER_FILE}")]):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no scratch directory appeared"
        time.sleep(0.01)
    assert json.loads(made[0].read_text())["pid"] == proc.pid
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert f"interrupted ({signal.Signals(sig).name})" in err
    assert list(scratch.iterdir()) == []


def test_signals_raise_interrupted_and_the_old_handlers_come_back():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as caught, signals_as_interrupts():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler runs at the next bytecode
    assert caught.value.signum == signal.SIGTERM and isinstance(caught.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_command_removes_stale_scratch_but_keeps_live_kept_and_unowned(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stale = _stale_dir(tmp_path, "kernelfit-kernel-1-abc")
    stale_tiles = _stale_dir(tmp_path, "kernelfit-tiles-0123")
    live = _stale_dir(tmp_path, "kernelfit-kernel-2-abc", pid=os.getpid())
    unowned = _stale_dir(tmp_path, "kernelfit-kernel-old", pid=False)
    kept = _stale_dir(tmp_path, "kernelfit-tiles-4567", keep=True)
    other = _stale_dir(tmp_path, "not-kernelfit")
    assert main(["datasets", "--json", "--no-verify"]) == 0
    err = capsys.readouterr().err
    assert not stale.exists() and not stale_tiles.exists()
    assert "removed 2 scratch directories" in err and str(stale) in err
    assert live.exists() and unowned.exists() and kept.exists() and other.exists()


def test_cache_lists_sizes_and_cleans(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    cache = tmp_path / "cache"
    monkeypatch.setenv("KERNELFIT_CACHE", str(cache))
    (cache / "mnist").mkdir(parents=True)
    (cache / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(os.urandom(50_000))
    stale = _stale_dir(tmp_path, "kernelfit-kernel-1-abc")
    live = _stale_dir(tmp_path, "kernelfit-kernel-2-abc", pid=os.getpid())
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert f"data cache: {cache} ({format_bytes(allocated_bytes(cache))})" in out
    assert f"  mnist: {format_bytes(allocated_bytes(cache / 'mnist'))}" in out
    assert str(stale) in out and "which ended" in out
    assert f"in use by process {os.getpid()}" in out
    assert stale.exists()  # listing deletes nothing
    assert main(["cache", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    states = {s["path"]: s["state"] for s in record["scratch"]}
    assert states == {str(stale.resolve()): "stale", str(live.resolve()): "running"}
    assert record["data_cache"]["entries"]["mnist"] >= 50_000
    assert main(["cache", "--clean", "scratch"]) == 0
    assert not stale.exists() and live.exists() and cache.exists()
    assert main(["cache", "--clean"]) == 0
    assert not cache.exists() and live.exists()

