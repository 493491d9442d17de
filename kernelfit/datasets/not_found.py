"""The message of :class:`~.errors.DatasetNotFoundError`: what to put where.

It lists the accepted files, every directory searched in order, how to point
the loaders elsewhere (argument, environment variable, cache), incomplete sets
that were seen, and what downloading tried.
"""

from __future__ import annotations

import os
from pathlib import Path

from .locations import CACHE_ENV, DATA_ENV, user_cache_dir

__all__ = ["DOWNLOAD_DISABLED", "command_line_wording", "not_found_message"]

#: The line saying downloads were off, in the words of the Python API.
DOWNLOAD_DISABLED = "Downloading was disabled (download=False)."

#: Python-API phrases of the message and what the command line calls them.
_CLI_WORDS = {
    DOWNLOAD_DISABLED: "Downloading was disabled (--no-download).",
    "data_dir=... (the CLI's --data-dir)": "--data-dir",
}


def not_found_message(
    display_name: str,
    accepted: list[str],
    arrangement: str,
    searched: list[Path],
    partial: list[str],
    attempts: list[str],
    download: bool,
) -> str:
    """Build the not-found message.

    Parameters
    ----------
    display_name : str
        Data-set name for people, e.g. ``"MNIST"``.
    accepted : list of str
        Accepted files or folders, one per line of the message.
    arrangement : str
        How they must be arranged (e.g. "all four in one directory").
    searched : list of Path
        Directories searched, in order.
    partial : list of str
        Incomplete or skipped sets that were seen.
    attempts : list of str
        Download attempts and their errors.
    download : bool
        Whether downloading was allowed.

    Returns
    -------
    str
    """
    env_value = os.environ.get(DATA_ENV)
    env_state = f"set to {env_value!r}" if env_value else "unset"
    lines = [
        f"{display_name} was not found. Provide one of the following ({arrangement}):",
        *(f"    {name}" for name in accepted),
        "in one of the directories searched, in this order:",
        *(f"    {directory}" for directory in searched),
        "Point the loader at your copy with data_dir=... (the CLI's --data-dir) or the "
        f"{DATA_ENV} environment variable (now {env_state}), or put the files in the "
        f"cache directory {user_cache_dir()} (override with {CACHE_ENV}).",
    ]
    if partial:
        lines += ["Incomplete or skipped copies:", *(f"    {note}" for note in partial)]
    if not download:
        lines.append(DOWNLOAD_DISABLED)
    elif attempts:
        lines += ["Download attempts failed (offline?):", *(f"    {a}" for a in attempts)]
    return "\n".join(lines)


def command_line_wording(message: str) -> str:
    """``message`` with the Python API's names replaced by the CLI's options.

    Parameters
    ----------
    message : str
        A message built by :func:`not_found_message`.

    Returns
    -------
    str
        The same message as a command-line user should read it (``--no-download``,
        ``--data-dir``).
    """
    for python_words, cli_words in _CLI_WORDS.items():
        message = message.replace(python_words, cli_words)
    return message
