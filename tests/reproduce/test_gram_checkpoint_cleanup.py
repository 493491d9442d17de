"""`kernelfit reproduce` deletes a random-conv Gram checkpoint once its steps have their
results: only a checkpoint, only its own files, never one a run holds, never a link's
target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernelfit.reproduce import plan
from kernelfit.reproduce.gram_checkpoints import discard_finished, with_gram_checkpoints
from kernelfit.reproduce.runner import _discard_checkpoints
from kernelfit.streamed.checkpoint import GramCheckpoint


class Store:
    """A result store in which the steps named in ``stored`` have their results."""

    def __init__(self, root: Path, stored=("cifar10-randconv", "cifar10-randconv-linear")):
        self.root, self.stored = root, set(stored)

    def load(self, step):
        return {"step": step.name} if step.name in self.stored else None


@pytest.fixture
def setup(tmp_path):
    store = Store(tmp_path / "out")
    steps = [s for s in plan("smoke", "cpu") if s.name.startswith("cifar10-randconv")]
    steps = with_gram_checkpoints(steps, store.root / "checkpoints")
    directory = Path(steps[0].config.checkpoint_dir)
    assert Path(steps[1].config.checkpoint_dir) == directory  # one Gram, one checkpoint
    return store, steps, directory


def make_checkpoint(directory: Path) -> GramCheckpoint:
    """A checkpoint as a run leaves it: manifest, fitted map, one state (its lock held)."""
    checkpoint = GramCheckpoint(directory, {"n_filters": 8})
    (directory / "fitted.npz").write_bytes(b"fitted")
    (directory / "gram-000000004.bin").write_bytes(b"state")
    return checkpoint


def test_a_finished_checkpoint_is_deleted_with_the_empty_default_folder(setup):
    store, steps, directory = setup
    make_checkpoint(directory).close()
    assert discard_finished(steps, store) == [
        f"removed the Gram checkpoint {directory}: every step that uses it has its result"]
    assert not directory.exists() and not directory.parent.exists()
    assert store.root.exists()


def test_a_checkpoint_is_kept_while_a_step_lacks_its_result(setup):
    store, steps, directory = setup
    make_checkpoint(directory).close()
    store.stored.discard("cifar10-randconv-linear")
    assert discard_finished(steps, store) == []
    assert (directory / "gram-000000004.bin").exists()


def test_a_checkpoint_another_run_holds_is_kept(setup):
    store, steps, directory = setup
    running = make_checkpoint(directory)  # e.g. a step's command rerun by hand
    try:
        assert discard_finished(steps, store) == [
            f"kept the Gram checkpoint {directory}: another run is using it"]
        assert (directory / "gram-000000004.bin").read_bytes() == b"state"
    finally:
        running.close()
    assert discard_finished(steps, store)[0].startswith("removed the Gram checkpoint")
    assert not directory.exists()


def test_files_a_checkpoint_does_not_write_keep_the_directory_and_are_named(setup):
    store, steps, directory = setup
    make_checkpoint(directory).close()
    (directory / "notes.txt").write_text("mine")
    (directory / "plots").mkdir()
    assert discard_finished(steps, store) == [
        f"kept {directory}: every step that uses it has its result, but it also holds "
        "notes.txt, plots, which a Gram checkpoint does not write"]
    assert (directory / "notes.txt").read_text() == "mine"
    assert (directory / "gram-000000004.bin").exists()  # nothing deleted in part


def test_a_directory_that_is_no_checkpoint_is_left_alone(setup):
    store, steps, directory = setup
    directory.mkdir(parents=True)
    (directory / "gram-000000004.bin").write_bytes(b"someone else's")
    assert discard_finished(steps, store) == [
        f"kept {directory}: expected a Gram checkpoint there, found no readable manifest.json"]
    assert sorted(p.name for p in directory.iterdir()) == ["gram-000000004.bin"]


def test_a_link_is_removed_and_its_target_kept(setup, tmp_path):
    store, steps, directory = setup
    target = tmp_path / "cli-run"
    make_checkpoint(target).close()
    directory.parent.mkdir(parents=True)
    directory.symlink_to(target, target_is_directory=True)
    assert discard_finished(steps, store) == [
        f"removed the link {directory} to the Gram checkpoint {target.resolve()} (the "
        "checkpoint itself is kept): every step that uses it has its result"]
    assert not directory.is_symlink() and not directory.exists()
    assert json.loads((target / "manifest.json").read_text())["config"] == {"n_filters": 8}
    assert (target / "gram-000000004.bin").exists()


def test_the_runner_says_each_line_once(setup):
    store, steps, directory = setup
    make_checkpoint(directory).close()
    (directory / "notes.txt").write_text("mine")
    said, lines = set(), []
    for _ in range(3):  # after each step and at the end of the run
        _discard_checkpoints(steps, store, lines.append, said)
    assert len(lines) == 1 and lines[0].startswith(f"kept {directory}")
