"""The ``kernelfit`` command line: parse, show progress, print tables.

Each sub-command lives in its own module with a ``register(subparsers)``
function; the numerics live in the library.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["build_parser", "main"]

_COMMAND_MODULES = ("experiment_cmd", "datasets_cmd", "cache_cmd", "bench_cmd", "randomize",
                    "reproduce_cmd")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available sub-command registered."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="kernelfit",
        description="Exact kernel regression: solve K alpha = y on a laptop, a workstation "
        "or a GPU, and reproduce Zhang et al. (Section 5).",
    )
    parser.add_argument("--version", action="version", version=f"kernelfit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"{__name__}.{name}"):
                continue  # sub-command not shipped in this build
            raise
        module.register(sub)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``kernelfit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from ..progress import progress_lines_ended
    from .interrupts import Interrupted, signals_as_interrupts
    from .warning_lines import warnings_as_lines

    try:
        # bars are finished before any message below, which then starts its own line
        with signals_as_interrupts(), warnings_as_lines(args.command), progress_lines_ended():
            if args.command != "cache":
                _remove_stale_scratch(getattr(args, "scratch_dir", None))
            return int(args.func(args) or 0)
    except Interrupted as stop:
        print(f"interrupted ({stop})", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, MemoryError, RuntimeError) as exc:
        print(f"kernelfit {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _remove_stale_scratch(scratch_dir) -> None:
    """Delete scratch directories left by kernelfit runs that ended (see ``kernelfit cache``)."""
    import tempfile

    from ..linalg.scratch import remove_stale_scratch_dirs
    from ..memory import format_bytes

    removed = remove_stale_scratch_dirs([tempfile.gettempdir(), scratch_dir])
    if removed:
        total = format_bytes(sum(r.nbytes for r in removed))
        print(f"kernelfit: removed {len(removed)} scratch director"
              f"{'y' if len(removed) == 1 else 'ies'} ({total}) left by runs that ended: "
              f"{', '.join(str(r.path) for r in removed)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
