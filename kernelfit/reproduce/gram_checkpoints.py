"""The streamed-Gram checkpoints of the random-conv steps: where, shared by whom, how big.

A random-conv step runs ``kernelfit cifar10 --features randconv ... --checkpoint-dir
ROOT/NAME`` (:mod:`kernelfit.streamed.checkpoint`), so a stopped reproduction resumes
its Gram after the last filter chunk saved instead of from the start:

* ``ROOT`` is ``DIR/checkpoints`` by default (``DIR`` the reproduction folder), or
  ``kernelfit reproduce --checkpoint-dir ROOT``;
* ``NAME`` (:func:`gram_checkpoint_name`) is made of what defines the Gram (data set,
  filters, feature parameters asked for, sizes, seed, float64 storage), never the
  kernel or the ridge term, which the checkpoint does not record either
  (:func:`~kernelfit.streamed.checkpoint.gram_configuration`). Steps with the same
  Gram therefore share one directory: the Gaussian step accumulates the Gram, the
  linear-kernel step after it restores the finished Gram and only solves. A
  checkpoint placed there (moved, or linked, from a ``kernelfit cifar10
  --checkpoint-dir`` run of the same configuration) is adopted the same way.

As with the networks' checkpoints (``DIR/nets/checkpoints``), a directory is deleted
once every step that uses it has its result stored (:func:`discard_finished`); until
then it is kept, a failed step included. A link is removed, never what it points to;
a directory only when it holds a Gram checkpoint that no run has locked, and only the
checkpoint's own files (anything else in it keeps it).

A state file holds the training Gram's lower tiles, the cross Gram and the norms
(:func:`~kernelfit.streamed.gram_bytes.state_file_bytes`: 7.2 GB at 32,000 filters
on CIFAR-10); while a chunk is saved the new state is written before the previous
one is deleted, so the disk must hold two (:func:`disk_needed`).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

from ..memory import format_bytes

__all__ = ["CHECKPOINTS", "discard_finished", "disk_needed", "disk_shortfalls",
           "filters_ready", "gram_checkpoint_name", "state_bytes", "with_gram_checkpoints"]

#: The default folder of the checkpoints inside the reproduction folder.
CHECKPOINTS = "checkpoints"


def gram_checkpoint_name(config) -> str | None:
    """The checkpoint directory name of a streamed-feature step; None for other steps.

    Two configurations get the same name when their Grams are the same: the kernel,
    ``reg``, ``bandwidth`` and ``dtype`` (but float64 storage) are not in it.
    """
    from ..experiment_setup import STREAMED_FEATURES

    if config is None or config.features not in STREAMED_FEATURES:
        return None
    params = dict(config.feature_params)
    parts = [config.dataset, config.features, str(params.pop("n_filters", "default"))]
    parts += [f"{key}-{params[key]}" for key in sorted(params)]
    for label, value in (("n", config.n_train), ("m", config.n_test),
                         ("seed", config.seed or None), ("tile", config.tile_size)):
        if value is not None:
            parts.append(f"{label}{value}")
    if config.dtype == "float64":
        parts.append("float64")
    return re.sub(r"[^A-Za-z0-9._-]", "_", "-".join(parts))


def with_gram_checkpoints(steps, root) -> list:
    """``steps`` with each streamed-feature step's ``checkpoint_dir`` set to ``root/NAME``."""
    out = []
    for step in steps:
        name = gram_checkpoint_name(step.config)
        if name is not None:
            step = replace(step, config=replace(step.config,
                                                checkpoint_dir=str(Path(root) / name)))
        out.append(step)
    return out


def _groups(steps) -> dict:
    """``{checkpoint directory: [steps using it]}``, in plan order."""
    groups = {}
    for step in steps:
        if step.config is not None and step.config.checkpoint_dir is not None:
            groups.setdefault(Path(step.config.checkpoint_dir), []).append(step)
    return groups


def _manifest(directory: Path) -> dict:
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _n_filters(config) -> int:
    from ..experiment_setup import configured_feature_map

    return int(configured_feature_map(config).get_params()["n_filters"])


def filters_ready(todo) -> dict:
    """Filters of each step's Gram that it will not compute: those of a checkpoint of its
    filter count in its directory, or all of them for a step after another one that
    accumulates the same Gram in this run. ``{step name: filters}``."""
    ready = {}
    for directory, group in _groups(todo).items():
        total = _n_filters(group[0].config)
        manifest = _manifest(directory)
        done = manifest.get("filters_done", 0) if manifest.get("config", {}).get(
            "n_filters") == total else 0
        ready[group[0].name] = min(int(done), total)
        ready.update({step.name: total for step in group[1:]})
    return ready


def state_bytes(config) -> tuple[int, int]:
    """``(state, fitted)``: bytes of one Gram state file of ``config`` and an upper bound
    on its fitted feature map's file."""
    import numpy as np

    from ..experiment_setup import IMAGE_SETS, configured_feature_map
    from ..features.conv_gram import GRAM_TILE
    from ..features.conv_layout import filter_memory
    from ..streamed.gram_bytes import state_file_bytes

    full_n, full_m, shape = IMAGE_SETS[config.dataset]
    n, m = config.n_train or full_n, config.n_test or full_m
    fitted, _ = filter_memory(configured_feature_map(config), shape, 1)
    itemsize = np.dtype(np.float64 if config.dtype == "float64" else np.float32).itemsize
    tile = min(int(config.tile_size or GRAM_TILE), n)
    return state_file_bytes(n, m, tile, itemsize), fitted


def _bytes_in(directory: Path) -> int:
    if not directory.is_dir():
        return 0
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())


def disk_needed(config) -> int:
    """Bytes of disk the checkpoint of ``config`` still needs at its peak (two states and
    the fitted map while a chunk is saved, less what its directory already holds); 0 when
    the directory holds a finished Gram of its filter count."""
    directory = Path(config.checkpoint_dir)
    manifest = _manifest(directory)
    total = _n_filters(config)
    if manifest.get("config", {}).get("n_filters") == total and \
            manifest.get("filters_done", 0) >= total:
        return 0
    state, fitted = state_bytes(config)
    return max(0, 2 * state + fitted - _bytes_in(directory))


def _free_bytes(directory: Path) -> int:
    """Free bytes on the file system that ``directory`` is (or will be created) on."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return shutil.disk_usage(existing).free


def disk_shortfalls(todo, echo) -> dict:
    """Check the disk of each checkpoint the steps to run will write; say what each needs.

    Returns
    -------
    dict
        ``{step name: why it cannot run}`` for the steps of a checkpoint whose disk
        lacks room (the run skips them).
    """
    refused = {}
    for directory, group in _groups(todo).items():
        need, free = disk_needed(group[0].config), _free_bytes(directory)
        if need == 0:
            echo(f"Gram checkpoint {directory}: holds the finished Gram; no disk needed")
            continue
        state, _ = state_bytes(group[0].config)
        echo(f"Gram checkpoint {directory}: {format_bytes(state)} a state, up to "
             f"{format_bytes(need)} more disk while a chunk is saved; "
             f"{format_bytes(free)} free")
        if need > free:
            why = (f"its Gram checkpoint in {directory} needs {format_bytes(need)} of disk, "
                   f"{format_bytes(free)} free; free some, or give kernelfit reproduce "
                   "--checkpoint-dir on a larger disk")
            refused.update({step.name: why for step in group})
    return refused


def discard_finished(steps, store) -> list[str]:
    """Delete each checkpoint whose steps all have a stored result; one line per checkpoint
    removed or kept.

    A link is removed and its target kept. A directory is deleted only when it holds a
    Gram checkpoint and no run holds its lock, and then only the checkpoint's own files:
    a directory with other files in it is kept, saying which. The default
    ``DIR/checkpoints`` folder goes too when left empty.
    """
    lines = []
    for directory, group in _groups(steps).items():
        if not (directory.is_symlink() or directory.exists()):
            continue
        if any(store.load(step) is None for step in group):
            continue
        if directory.is_symlink():
            target = directory.resolve()
            directory.unlink()
            lines.append(f"removed the link {directory} to the Gram checkpoint {target} "
                         "(the checkpoint itself is kept): every step that uses it has its "
                         "result")
        else:
            lines.append(_delete_checkpoint(directory))
        if directory.parent == store.root / CHECKPOINTS:
            with contextlib.suppress(OSError):  # other checkpoints are still there
                directory.parent.rmdir()
    return lines


def _is_checkpoint_file(name: str) -> bool:
    """A file that :class:`~kernelfit.streamed.checkpoint.GramCheckpoint` writes."""
    from ..streamed.checkpoint import FITTED, LOCK, MANIFEST

    return (name in (MANIFEST, LOCK, FITTED)
            or (name.startswith("gram-") and name.endswith(".bin"))
            or (name.startswith(".") and name.endswith(".tmp")))


def _delete_checkpoint(directory: Path) -> str:
    """Delete the Gram checkpoint in ``directory`` under its lock; what was done."""
    import fcntl

    if "config" not in _manifest(directory):
        return (f"kept {directory}: expected a Gram checkpoint there, found no readable "
                "manifest.json")
    with open(directory / "lock", "a+") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return f"kept the Gram checkpoint {directory}: another run is using it"
        others = sorted(p.name for p in directory.iterdir()
                        if not (_is_checkpoint_file(p.name) and (p.is_file() or p.is_symlink())))
        if others:
            return (f"kept {directory}: every step that uses it has its result, but it also "
                    f"holds {', '.join(others)}, which a Gram checkpoint does not write")
        try:
            for path in directory.iterdir():
                path.unlink()
            directory.rmdir()
        except OSError as exc:
            return f"could not delete the Gram checkpoint {directory}: {exc}"
    return f"removed the Gram checkpoint {directory}: every step that uses it has its result"
