"""Training checkpoints written atomically, so an interrupted run can resume.

A checkpoint is written to a temporary file in the target's folder, flushed to
disk, and moved over the target with :func:`os.replace`; a crash mid-write
leaves the previous checkpoint intact.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..results_io import atomic_file

__all__ = ["load_checkpoint", "save_checkpoint"]


def save_checkpoint(state: dict, path) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists and dicts) to ``path`` atomically.

    Parameters
    ----------
    state : dict
        What :func:`torch.save` can store and ``torch.load(weights_only=True)`` can read.
    path : str or os.PathLike
        Target file; its folder is created when missing.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    with atomic_file(path, "wb") as handle:
        torch.save(state, handle)
    return Path(path)


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (no arbitrary code is unpickled).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    RuntimeError
        The file is not a readable checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise RuntimeError(f"could not read the checkpoint {path}: {exc}") from exc
