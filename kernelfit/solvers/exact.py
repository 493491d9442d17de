"""Exact solves of ``(K + reg I) alpha = Y``: tiled Cholesky first, then fallbacks.

``method="auto"`` factorizes with the tiled Cholesky. If a pivot is not
positive it warns and uses LU; if LU finds the matrix numerically singular
it warns and returns the least-squares minimum-norm solution.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..backend import NotPositiveDefiniteError, backend_for, numpy_dtype
from ..linalg import DenseStorage, PackedStorage, TileStorage, cholesky_solve, tiled_cholesky
from ..memory import check_budget, parse_budget
from ..validation import check_finite_rows, check_matrix, check_nonnegative

__all__ = ["METHODS", "SolveInfo", "SolverFallbackWarning", "factorize", "solve", "solve_general"]

METHODS = ("auto", "cholesky", "lu", "lstsq")


class SolverFallbackWarning(UserWarning):
    """The requested factorization failed and a more general one was used."""


@dataclass
class SolveInfo:
    """How a system was solved (``solve(..., return_info=True)``).

    Attributes
    ----------
    method : str
        ``"cholesky"``, ``"lu"`` or ``"lstsq"``: the method that produced the answer.
    storage : str
        ``"dense"`` or ``"packed"`` (the Cholesky's tile storage), ``"dense"`` otherwise.
    failed : list of str
        Methods tried first that failed, with the reason.
    """

    method: str
    storage: str
    failed: list


def _check_system(K, Y, reg, method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; found {method!r}")
    reg = check_nonnegative(reg, "reg")
    n = K.n if isinstance(K, TileStorage) else check_matrix(K, "K").shape[0]
    if not isinstance(K, TileStorage) and K.shape[0] != K.shape[1]:
        raise ValueError(f"K must be square; found shape {tuple(K.shape)}")
    Y = check_matrix(Y, "Y", allow_1d=True)
    if Y.shape[0] != n:
        raise ValueError(
            f"Y must have one row per row of K; found K of order {n} and Y.shape={tuple(Y.shape)}"
        )
    check_finite_rows(Y, "Y")
    return reg, Y


def factorize(K, reg=0.0, *, overwrite=False, tile_size=None, memory_budget=None, progress=None):
    """Cholesky factor of ``K + reg I`` in tile storage.

    Parameters
    ----------
    K : array of shape (n, n) or TileStorage
        Symmetric positive-definite matrix (only its lower triangle is read).
        A tile storage is always factorized in place.
    reg : float, default 0
        Added to the diagonal.
    overwrite : bool, default False
        Factorize a dense ``K`` in place (no second ``n x n`` copy). Otherwise
        ``K`` is copied into packed lower tiles (``n^2 / 2`` numbers).
    tile_size : int, optional
        Tile edge (2048 by default).
    memory_budget : int or str, optional
        Checked before the packed copy is allocated.
    progress : callable, optional
        Progress callback (phases ``"copy"`` and ``"cholesky"``).

    Returns
    -------
    TileStorage
        Its lower tiles hold ``L``.
    """
    if isinstance(K, TileStorage):
        storage = K
    elif overwrite:
        storage = DenseStorage(K, tile_size)
    else:
        backend = backend_for(K)
        dtype = numpy_dtype(K.dtype)
        dtype = dtype if dtype in (np.float32, np.float64) else np.float64
        storage = PackedStorage(K.shape[0], tile_size, dtype, backend, memory_budget)
        for i in range(storage.nt):
            for j in range(i + 1):
                storage.write_block(i, j, K[storage.bounds(i), storage.bounds(j)])
    if reg:
        storage.add_to_diagonal(reg)
    return tiled_cholesky(storage, progress=progress)


def solve(
    K,
    Y,
    reg=0.0,
    method="auto",
    overwrite=False,
    *,
    tile_size=None,
    memory_budget=None,
    progress=None,
    return_info=False,
):
    """Solve ``(K + reg I) alpha = Y`` exactly.

    Parameters
    ----------
    K : array of shape (n, n) or TileStorage
        Symmetric (positive semi-definite) kernel matrix; only its lower
        triangle is used by the Cholesky. A :class:`~kernelfit.linalg.TileStorage`
        (e.g. filled by :func:`kernelfit.gram`) is factorized in place.
    Y : array of shape (n,) or (n, c)
        One or many right-hand sides.
    reg : float, default 0
        Ridge term added to the diagonal; 0 gives the interpolant.
    method : {"auto", "cholesky", "lu", "lstsq"}, default "auto"
        ``"auto"``: Cholesky; on a non-positive pivot LU with a
        :class:`SolverFallbackWarning`; on a singular matrix least squares
        (minimum norm) with a warning.
    overwrite : bool, default False
        Factorize a dense ``K`` in place, with no second ``n x n`` copy. If the
        Cholesky then fails, ``K`` is destroyed and no fallback is possible:
        a :class:`~kernelfit.backend.NotPositiveDefiniteError` is raised.
    tile_size : int, optional
        Tile edge for the Cholesky.
    memory_budget : int or str, optional
        Budget for copies made here; refused before allocating.
    progress : callable, optional
        Progress callback (phases ``"cholesky"``, ``"solve"``).
    return_info : bool, default False
        Also return a :class:`SolveInfo`.

    Returns
    -------
    alpha : ndarray of shape (n,) or (n, c), float64
    info : SolveInfo
        Only when ``return_info`` is True.
    """
    reg, Y = _check_system(K, Y, reg, method)
    failed = []
    if method in ("auto", "cholesky"):
        is_storage = isinstance(K, TileStorage)
        if not is_storage and not overwrite:
            check_finite_rows(K, "K")
        try:
            storage = factorize(K, reg, overwrite=overwrite, tile_size=tile_size,
                                memory_budget=memory_budget, progress=progress)
        except NotPositiveDefiniteError as exc:
            if method == "cholesky" or overwrite or is_storage:
                if overwrite or is_storage:
                    raise NotPositiveDefiniteError(
                        f"{exc}; K was factorized in place and is now overwritten, so no "
                        "fallback is possible: retry with overwrite=False, a dense K, or reg > 0",
                        exc.index,
                    ) from exc
                raise
            failed.append(f"cholesky: {exc}")
            warnings.warn(f"Cholesky failed ({exc}); falling back to LU", SolverFallbackWarning,
                          stacklevel=2)
        else:
            B = storage.backend.asarray(Y)
            alpha = cholesky_solve(storage, B, progress=progress)
            info = SolveInfo("cholesky", storage.kind, failed)
            return (alpha, info) if return_info else alpha
    alpha, info = solve_general(K, Y, reg, "lstsq" if method == "lstsq" else "lu_or_lstsq",
                                memory_budget=memory_budget, failed=failed)
    if method == "lu" and info.method != "lu":
        raise np.linalg.LinAlgError(info.failed[-1])
    return (alpha, info) if return_info else alpha


def solve_general(K, Y, reg=0.0, method="lu_or_lstsq", *, memory_budget=None, failed=None):
    """LU, then least squares if singular, on a dense float64 host copy of ``K + reg I``.

    This fallback runs on the host (SciPy's LAPACK): ``K`` and ``Y`` are copied
    from their device explicitly through the backend, and ``alpha`` is copied
    back to ``K``'s device.

    Parameters
    ----------
    K : array of shape (n, n)
    Y : array of shape (n,) or (n, c)
    reg : float, default 0
    method : {"lu_or_lstsq", "lstsq"}
        ``"lu_or_lstsq"`` warns with :class:`SolverFallbackWarning` before
        falling back to the least-squares minimum-norm solution.
    memory_budget : int or str, optional
        Checked before the ``n x n`` float64 copy.
    failed : list, optional
        Reasons of earlier failures, carried into the returned info.

    Returns
    -------
    alpha : array of shape (n,) or (n, c), float64, on ``K``'s device
    info : SolveInfo
    """
    failed = [] if failed is None else failed
    if isinstance(K, TileStorage):
        raise ValueError("LU and least squares need a dense K, not a tile storage")
    n = K.shape[0]
    check_budget(n * n * 8, parse_budget(memory_budget), f"a dense {n} x {n} float64 copy for LU")
    backend = backend_for(K)
    A = np.array(backend.to_numpy(K), dtype=np.float64)
    A[np.diag_indices(n)] += reg
    B = np.asarray(backend.to_numpy(Y) if hasattr(Y, "__array_namespace__") else Y, np.float64)

    def on_device(alpha):
        return backend.asarray(alpha)

    if method == "lu_or_lstsq":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            lu, piv = scipy.linalg.lu_factor(A, check_finite=False)
        u = np.abs(np.diag(lu))
        if u.min() > n * np.finfo(np.float64).eps * u.max():
            alpha = scipy.linalg.lu_solve((lu, piv), B, check_finite=False)
            return on_device(alpha), SolveInfo("lu", "dense", failed)
        ratio = u.min() / u.max()
        reason = f"lu: matrix is numerically singular (min |U_ii| / max |U_ii| = {ratio:.2e})"
        failed.append(reason)
        warnings.warn(f"{reason}; returning the least-squares minimum-norm solution",
                      SolverFallbackWarning, stacklevel=3)
        A = np.array(backend.to_numpy(K), dtype=np.float64)
        A[np.diag_indices(n)] += reg
    alpha = scipy.linalg.lstsq(A, B, check_finite=False, lapack_driver="gelsd")[0]
    return on_device(alpha), SolveInfo("lstsq", "dense", failed)
