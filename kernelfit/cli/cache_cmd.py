"""``kernelfit cache``: show, and on request delete, what kernelfit keeps on disk.

That is the data cache (downloads, decoded images, remembered digests) and the
scratch directories of runs: a kept float64 ``K`` or out-of-core tiles.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile

from ..tables import format_table

__all__ = ["register"]

#: What ``--clean`` deletes, by choice.
CLEAN_CHOICES = ("scratch", "data", "all")
#: Scratch states ``--clean scratch`` deletes (never a running one's, nor another host's).
CLEANABLE = ("stale", "kept", "unowned")


def register(sub) -> None:
    """Add the ``cache`` sub-command."""
    p = sub.add_parser(
        "cache", help="show (and clean) the data cache and scratch directories, with sizes",
        description="List what kernelfit keeps on disk: the data cache ($KERNELFIT_CACHE, "
        "else $XDG_CACHE_HOME/kernelfit, else ~/.cache/kernelfit) and the scratch "
        "directories of runs in the system temporary directory (and --scratch-dir), with "
        "their sizes and whether the run that owns them is still going. Runs remove "
        "stale scratch directories when they start, except resumable tiles under a "
        "--scratch-dir; --clean deletes those too.",
    )
    p.add_argument("--scratch-dir", default=None, metavar="DIR",
                   help="also look in DIR (a --scratch-dir given to earlier runs)")
    p.add_argument("--clean", nargs="?", const="all", choices=CLEAN_CHOICES, default=None,
                   help="delete the scratch directories of runs that are not running "
                   "('scratch'), the data cache ('data') or both ('all', the default)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    """List the cache and the scratch directories; delete them with ``--clean``."""
    from ..datasets.locations import user_cache_dir
    from ..linalg.scratch import allocated_bytes, find_scratch_dirs
    from ..memory import format_bytes

    cache = user_cache_dir()
    parents = [tempfile.gettempdir(), args.scratch_dir]
    entries = sorted(cache.iterdir()) if cache.is_dir() else []
    data = {"path": str(cache), "nbytes": allocated_bytes(cache),
            "entries": {e.name: allocated_bytes(e) for e in entries}}
    scratch = find_scratch_dirs(parents)
    removed = []
    if args.clean in ("scratch", "all"):
        for s in scratch:
            if s.state in CLEANABLE:
                shutil.rmtree(s.path, ignore_errors=True)
                if not s.path.exists():
                    removed.append(str(s.path))
    if args.clean in ("data", "all") and cache.is_dir():
        shutil.rmtree(cache, ignore_errors=True)
        if not cache.exists():
            removed.append(str(cache))
    if args.json:
        print(json.dumps({"data_cache": data, "scratch": [
            {"path": str(s.path), "state": s.state, "pid": s.pid, "nbytes": s.nbytes}
            for s in scratch], "removed": removed}, indent=2))
        return 0
    print(f"data cache: {cache} ({format_bytes(data['nbytes'])})")
    for name, size in data["entries"].items():
        print(f"  {name}: {format_bytes(size)}")
    where = ", ".join(str(p) for p in parents if p is not None)
    if scratch:
        print(f"scratch directories in {where}:")
        rows = [(str(s.path), _describe(s), format_bytes(s.nbytes)) for s in scratch]
        print(format_table(rows, headers=("path", "state", "size")))
    else:
        print(f"scratch directories in {where}: none")
    for path in removed:
        print(f"removed {path}", file=sys.stderr)
    if args.clean is None and any(s.state in CLEANABLE for s in scratch):
        print("delete those not running with: kernelfit cache --clean scratch")
    return 0


def _describe(scratch) -> str:
    return {
        "running": f"in use by process {scratch.pid}",
        "stale": f"left by process {scratch.pid}, which ended",
        "kept": f"resumable, left by process {scratch.pid}",
        "unowned": "no owner recorded (an older kernelfit)",
        "elsewhere": f"owned by process {scratch.pid} on another host",
    }[scratch.state]
