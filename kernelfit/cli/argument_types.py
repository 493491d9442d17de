"""Argument types shared by the sub-commands: sizes, seeds and directories checked while
parsing, so that an impossible value stops the command before any work."""

from __future__ import annotations

import argparse
import os

__all__ = ["count", "existing_dir", "probability", "seed"]


def count(text: str) -> int:
    """A size or a count: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1; found {text!r}")
    return value


def probability(text: str) -> float:
    """A probability below one, such as a dropout rate: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value < 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1); found {text!r}")
    return value


def seed(text: str) -> int:
    """A random seed: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0; found {text!r}")
    return value


def existing_dir(text: str) -> str:
    """A directory that exists (``--data-dir``: a typo must not fall back elsewhere)."""
    if not os.path.isdir(os.path.expanduser(text)):
        what = "is not a directory" if os.path.exists(text) else "does not exist"
        raise argparse.ArgumentTypeError(f"must be an existing directory; {text!r} {what}")
    return text
