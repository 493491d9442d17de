"""Scratch directories on disk: who owns them, and removing those left by ended runs.

kernelfit writes two kinds of scratch directory: ``kernelfit-kernel-<pid>-*``
(the float64 copy of ``K`` that mixed precision refines against) and
``kernelfit-tiles-<fingerprint>`` (out-of-core tiles, which a run under an
explicit ``scratch_dir`` can resume). Each holds an ``owner.json`` marker naming
the process that uses it (pid and host) and whether the user asked to keep it
for a resumed run.

A directory whose owner has ended is *stale* and may be removed, unless it is
*kept* (resumable tiles under a ``scratch_dir`` the user chose). A directory
without a marker (written by an older kernelfit, or being created this very
moment) is *unowned*; a directory of another host is *elsewhere*. Neither is
removed automatically.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..results_io import write_json

__all__ = ["OWNER_FILE", "SCRATCH_PREFIXES", "ScratchDir", "allocated_bytes", "claim_scratch_dir",
           "find_scratch_dirs", "new_scratch_dir", "remove_stale_scratch_dirs"]

#: Name prefixes of the directories kernelfit creates for scratch data.
SCRATCH_PREFIXES = ("kernelfit-kernel-", "kernelfit-tiles-")
#: The marker file naming a scratch directory's owner.
OWNER_FILE = "owner.json"


@dataclass(frozen=True)
class ScratchDir:
    """One scratch directory found on disk.

    Attributes
    ----------
    path : Path
    state : {"running", "stale", "kept", "unowned", "elsewhere"}
        ``running``: its owner process is alive; ``stale``: its owner has ended;
        ``kept``: its owner has ended but it holds resumable tiles the user asked
        to keep; ``unowned``: no marker; ``elsewhere``: owned by another host.
    pid : int or None
        Owner process id (None without a marker).
    nbytes : int
        Disk space it takes (allocated blocks).
    """

    path: Path
    state: str
    pid: int | None
    nbytes: int


def new_scratch_dir(parent, prefix: str = "kernelfit-kernel-") -> str:
    """Create a scratch directory under ``parent`` named after this process, and claim it.

    Parameters
    ----------
    parent : str or path
        Existing directory to create it in.
    prefix : str, default "kernelfit-kernel-"
        Start of the name; the process id follows (``kernelfit-kernel-1234-abcd``).

    Returns
    -------
    str
        The new directory.
    """
    directory = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent)
    claim_scratch_dir(directory, keep=False)
    return directory


def claim_scratch_dir(directory, *, keep: bool) -> None:
    """Write (atomically) the marker saying this process owns ``directory``.

    Parameters
    ----------
    directory : str or path
        An existing scratch directory.
    keep : bool
        The directory holds resumable data the user asked to keep after the
        owner ends (out-of-core tiles under an explicit ``scratch_dir``).
    """
    marker = {"pid": os.getpid(), "host": socket.gethostname(), "keep": bool(keep)}
    path = os.path.join(os.fspath(directory), OWNER_FILE)
    write_json(marker, path)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def allocated_bytes(path) -> int:
    """Bytes of disk allocated to the files under ``path`` (sparse files count what they use).

    Parameters
    ----------
    path : str or path
        A file or directory; a missing one counts 0.

    Returns
    -------
    int
    """
    path = Path(path)
    try:
        if not path.is_dir():
            return path.stat().st_blocks * 512
    except OSError:
        return 0
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):  # removed meanwhile
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def _state(directory: Path) -> tuple[str, int | None]:
    try:
        with open(directory / OWNER_FILE, encoding="utf-8") as handle:
            marker = json.load(handle)
        pid = int(marker["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return "unowned", None
    if marker.get("host") != socket.gethostname():
        return "elsewhere", pid
    if _process_alive(pid):
        return "running", pid
    return ("kept" if marker.get("keep") else "stale"), pid


def find_scratch_dirs(parents=None) -> list[ScratchDir]:
    """The kernelfit scratch directories directly under each of ``parents``.

    Parameters
    ----------
    parents : iterable of str or path, optional
        Directories to look in (missing ones and None entries are skipped); the
        system temporary directory by default.

    Returns
    -------
    list of ScratchDir
        Sorted by path, each listed once.
    """
    parents = [tempfile.gettempdir()] if parents is None else parents
    found: dict[Path, ScratchDir] = {}
    for parent in parents:
        if parent is None:
            continue
        try:
            entries = list(os.scandir(parent))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.startswith(SCRATCH_PREFIXES) or not entry.is_dir(
                    follow_symlinks=False):
                continue
            path = Path(entry.path).resolve()
            if path not in found:
                state, pid = _state(path)
                found[path] = ScratchDir(path, state, pid, allocated_bytes(path))
    return [found[p] for p in sorted(found)]


def remove_stale_scratch_dirs(parents=None, states=("stale",)) -> list[ScratchDir]:
    """Delete the scratch directories under ``parents`` in one of ``states``.

    Parameters
    ----------
    parents : iterable of str or path, optional
        As for :func:`find_scratch_dirs`.
    states : tuple of str, default ("stale",)
        Which directories to delete; ``"running"`` is never deleted.

    Returns
    -------
    list of ScratchDir
        The directories deleted.
    """
    if "running" in states:
        raise ValueError(f"states must not include 'running' (in use); found {states!r}")
    removed = []
    for scratch in find_scratch_dirs(parents):
        if scratch.state in states:
            shutil.rmtree(scratch.path, ignore_errors=True)
            if not scratch.path.exists():
                removed.append(scratch)
    return removed
