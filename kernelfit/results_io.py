"""Writing results atomically: JSON and text files. No numerics here.

The one writer of result files for the CLI, ``kernelfit reproduce``, the bench
programs and the network experiments.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["atomic_file", "json_ready", "write_json", "write_text"]


def json_ready(value):
    """Convert NumPy scalars and arrays, tuples and non-finite floats into JSON values.

    NaN and infinities become None, since JSON has no spelling for them.
    """
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@contextmanager
def atomic_file(path, mode: str = "w"):
    """Open a temporary file next to ``path``; on success move it over ``path``.

    The temporary file is created with the usual permissions (umask applied),
    flushed and synced before :func:`os.replace`, and removed on error, so
    ``path`` always holds either the old or the complete new content.

    Parameters
    ----------
    path : str or os.PathLike
        Target; its folder is created when missing.
    mode : {"w", "wb"}, default "w"
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x" + mode[1:], encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(text: str, path) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path) as handle:
        handle.write(text)
    return Path(path)


def write_json(data: dict, path) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    return write_text(json.dumps(json_ready(data), indent=2) + "\n", path)
