"""Warnings as one clean line each on the command line (no file names, no source lines).

The library warns with :func:`warnings.warn` as usual; only the ``kernelfit``
command changes how warnings are shown, for as long as a sub-command runs.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager

__all__ = ["format_warning", "warnings_as_lines"]


def format_warning(command: str, message, category) -> str:
    """``"kernelfit mnist: warning: <message> (<Category>)"``, on one line."""
    text = " ".join(str(message).split())
    name = getattr(category, "__name__", "Warning")
    kind = "" if name in ("UserWarning", "Warning") else f" ({name})"
    return f"kernelfit {command}: warning: {text}{kind}"


@contextmanager
def warnings_as_lines(command: str):
    """Show warnings raised inside the block as :func:`format_warning` lines on stderr.

    Lines go through ``tqdm.write`` so that an open progress bar is redrawn below
    them instead of being cut in two.
    """
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        from tqdm import tqdm

        tqdm.write(format_warning(command, message, category),
                   file=file if file is not None else sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous
