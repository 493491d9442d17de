"""Input checks shared by the public entry points.

Every message says what was expected and what was found. ValueError is used for
values and shapes, TypeError for types, as in scikit-learn.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "check_count",
    "check_finite_rows",
    "check_matrix",
    "check_nonnegative",
    "check_positive",
    "check_same_rows",
    "is_float_dtype",
]


def _is_numeric_dtype(dtype) -> bool:
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        # Non-NumPy dtypes (CuPy shares NumPy's; torch and array-api-strict do not).
        name = str(dtype)
        return any(s in name for s in ("float", "int", "uint", "bool"))
    return kind in "biuf"


def check_matrix(X, name: str = "X", *, ndim: int = 2, allow_1d: bool = False):
    """Check that ``X`` is a real numeric array of the expected rank, without copying it.

    Parameters
    ----------
    X : array-like
        NumPy, CuPy or other array-API array, or a nested list.
    name : str
        Name used in error messages.
    ndim : int, default 2
        Required number of dimensions.
    allow_1d : bool, default False
        Accept a 1-D array as well (returned unchanged).

    Returns
    -------
    array
        ``X`` itself if it is an array object, else ``np.asarray(X)``.

    Raises
    ------
    TypeError
        If the data are not real numbers (strings, objects, complex).
    ValueError
        If the number of dimensions is wrong or the array is empty.
    """
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        try:
            X = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a numeric array; could not convert it: {exc}") from exc
    if not _is_numeric_dtype(X.dtype):
        raise TypeError(f"{name} must contain real numbers; found dtype {X.dtype}")
    if X.ndim != ndim and not (allow_1d and X.ndim == 1):
        want = f"{ndim}-D" + (" or 1-D" if allow_1d else "")
        raise ValueError(f"{name} must be a {want} array; found shape {tuple(X.shape)}")
    if 0 in tuple(X.shape):
        raise ValueError(f"{name} must not be empty; found shape {tuple(X.shape)}")
    return X


def check_finite_rows(X, name: str = "X") -> None:
    """Raise ValueError naming the first row of ``X`` that holds a NaN or an infinity.

    Works on any array with ``isfinite`` in its namespace; large arrays are
    scanned in row chunks so no full boolean copy is made.
    """
    from array_api_compat import array_namespace

    xp = array_namespace(X)
    if X.dtype in (getattr(xp, "bool", None),) or not is_float_dtype(X.dtype):
        return  # integers cannot hold NaN or inf
    n = X.shape[0]
    step = max(1, (1 << 24) // max(1, _row_size(X)))
    for start in range(0, n, step):
        chunk = X[start : min(start + step, n), ...]
        ok = xp.isfinite(chunk)
        if chunk.ndim > 1:
            ok = xp.all(xp.reshape(ok, (chunk.shape[0], -1)), axis=1)
        if not bool(xp.all(ok)):
            bad = int(np.flatnonzero(~_to_numpy(ok))[0]) + start
            raise ValueError(
                f"{name} contains NaN or infinity; the first bad row is {bad} "
                f"(of {n}); remove or impute non-finite values"
            )


def _row_size(X) -> int:
    size = 1
    for s in tuple(X.shape)[1:]:
        size *= int(s)
    return size


def is_float_dtype(dtype) -> bool:
    """Whether ``dtype`` (NumPy, CuPy or another array library's) is a real floating type."""
    try:
        return np.dtype(dtype).kind == "f"
    except TypeError:
        return "float" in str(dtype)


def _to_numpy(a):
    """Host copy of the mask of one bad chunk (an error path), through the backend."""
    from .backend import to_numpy

    return to_numpy(a)


def check_same_rows(X, Y, x_name: str = "X", y_name: str = "y") -> None:
    """Raise ValueError giving both shapes when ``X`` and ``Y`` differ in row count."""
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of rows; "
            f"found {x_name}.shape={tuple(X.shape)} and {y_name}.shape={tuple(Y.shape)}"
        )


def check_positive(value, name: str) -> float:
    """Return ``value`` as float after checking it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; found {type(value).__name__}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be > 0; found {value!r}")
    return float(value)


def check_nonnegative(value, name: str) -> float:
    """Return ``value`` as float after checking it is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; found {type(value).__name__}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be >= 0; found {value!r}")
    return float(value)


def check_count(value, name: str):
    """Return ``value`` unchanged when it is None or a whole number >= 1 (a size, a count).

    Raises
    ------
    ValueError
        For anything else (zero, negatives, fractions, booleans), naming ``name``.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1; found {value!r}")
    return value
