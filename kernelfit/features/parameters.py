"""Checks of feature-map constructor parameters (counts and dtypes), with clear messages."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["check_count", "check_float_dtype"]


def check_count(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` as int after checking it is an integer >= ``minimum``.

    Raises
    ------
    ValueError
        If ``value`` is not an integer (bools excluded) or is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or int(value) != value or (
        value < minimum
    ):
        raise ValueError(f"{name} must be an integer >= {minimum}; found {value!r}")
    return int(value)


def check_float_dtype(dtype) -> np.dtype:
    """Return ``np.dtype(dtype)`` after checking it is float32 or float64.

    Raises
    ------
    ValueError
        For any other dtype.
    """
    if str(dtype) not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64'; found {dtype!r}")
    return np.dtype(str(dtype))
