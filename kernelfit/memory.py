"""Memory budgets: parsing, defaults, and refusing before allocating.

Anything O(n^2) in kernelfit takes a ``memory_budget`` (bytes, or a string
such as ``"8GiB"``), computes what it needs first, and raises
:class:`MemoryBudgetError` with both numbers when the need exceeds the budget.
"""

from __future__ import annotations

import re

__all__ = ["MemoryBudgetError", "available_memory", "check_budget", "format_bytes", "parse_budget"]

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
}

#: Fraction of the currently available memory used when no budget is given.
DEFAULT_FRACTION = 0.8


class MemoryBudgetError(MemoryError):
    """An allocation was refused because it would exceed the memory budget."""


def available_memory() -> int:
    """Bytes of host memory available now (``psutil.virtual_memory().available``)."""
    import psutil

    return int(psutil.virtual_memory().available)


def parse_budget(budget) -> int:
    """Return a memory budget in bytes.

    Parameters
    ----------
    budget : int, float, str or None
        Bytes as a number, a string with a unit (``"512MB"``, ``"8GiB"``, ``"16g"``),
        or None for ``DEFAULT_FRACTION`` of the memory available now.

    Returns
    -------
    int
        The budget in bytes.

    Raises
    ------
    ValueError
        If the string cannot be parsed or the budget is not positive.
    TypeError
        If ``budget`` has an unsupported type.
    """
    if budget is None:
        return int(DEFAULT_FRACTION * available_memory())
    if isinstance(budget, bool):
        raise TypeError(f"memory_budget must be bytes or a string like '8GiB'; found {budget!r}")
    if isinstance(budget, (int, float)):
        value = float(budget)
    elif isinstance(budget, str):
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", budget)
        if match is None or match.group(2).lower() not in _UNITS:
            raise ValueError(
                f"could not parse memory_budget {budget!r}; expected a number of bytes "
                "or a number with a unit (B, KB, MB, GB, KiB, MiB, GiB, ...)"
            )
        value = float(match.group(1)) * _UNITS[match.group(2).lower()]
    else:
        raise TypeError(
            f"memory_budget must be bytes or a string like '8GiB'; found {type(budget).__name__}"
        )
    if not value > 0:
        raise ValueError(f"memory_budget must be > 0 bytes; found {budget!r}")
    return int(value)


def format_bytes(nbytes: float) -> str:
    """Format a byte count for people, e.g. ``14.4 GB (13.4 GiB)``."""
    nbytes = float(nbytes)
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= size:
            gib = nbytes / 2**30
            return f"{nbytes / size:.3g} {unit} ({gib:.3g} GiB)" if size >= 1e9 else (
                f"{nbytes / size:.3g} {unit}"
            )
    return f"{int(nbytes)} B"


#: What a refusal suggests when its caller knows no better way out.
DEFAULT_BUDGET_ADVICE = "raise the memory budget (--memory-budget) or reduce the problem size"


def check_budget(needed: int, budget: int, what: str, advice: str | None = None) -> None:
    """Raise :class:`MemoryBudgetError` if ``needed`` bytes exceed ``budget``.

    Parameters
    ----------
    needed : int
        Bytes the operation would allocate.
    budget : int
        Bytes allowed.
    what : str
        What would be allocated, for the message.
    advice : str, optional
        What the user can do about it, ending the message (by default:
        :data:`DEFAULT_BUDGET_ADVICE`).
    """
    if needed > budget:
        raise MemoryBudgetError(
            f"{what} needs {format_bytes(needed)} ({int(needed):,} bytes), more than the memory "
            f"budget of {format_bytes(budget)} ({int(budget):,} bytes); "
            f"{advice or DEFAULT_BUDGET_ADVICE}"
        )
