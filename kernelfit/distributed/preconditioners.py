"""Low-rank preconditioners for the matrix-free solver: Nyström and RPCholesky.

Both build ``K ~ F F^T`` with ``F`` of shape ``(n, r)`` from ``r`` columns of
``K`` at chosen pivots ``S``:

.. math::

    F = K(X, X_S)\\, K_{SS}^{+1/2},

the columns computed on the workers as row-block tasks (``n x s`` numbers come
back per step, ``n x r`` in all, held by the client). The Nyström choice
draws ``S`` uniformly at once; randomly pivoted Cholesky (RPCholesky) draws
``s`` pivots at a time with probability proportional to the diagonal of the
current residual ``K - F F^T`` and updates ``F`` and that diagonal, which finds
the directions a uniform draw misses. The preconditioner is

.. math::

    P = F F^T + \\mu I, \\qquad
    P^{-1} v = \\frac{1}{\\mu}\\Big(v - F (\\mu I + F^T F)^{-1} F^T v\\Big)

(Woodbury), with ``mu = reg`` when ``reg > 0`` and otherwise the mean of the
residual diagonal ``tr(K - F F^T) / n``. All products with ``F`` run in row
chunks (no single large BLAS call).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from ..progress import phase
from .data import submit
from .tile_tasks import kernel_columns, kernel_diagonal

__all__ = ["LowRankPreconditioner", "nystrom_preconditioner", "rpcholesky_preconditioner"]

_CHUNK = 4096


class LowRankPreconditioner:
    """``P = F F^T + mu I``, applied with the Woodbury identity.

    Parameters
    ----------
    factor : ndarray of shape (n, r)
    shift : float
        ``mu > 0``.
    pivots : ndarray of int
        The columns of ``K`` that built ``factor``.
    residual_trace : float
        ``tr(K - F F^T)``, how much of ``K`` the factor misses.
    """

    def __init__(self, factor, shift, pivots, residual_trace):
        if not shift > 0:
            raise ValueError(f"the preconditioner shift must be > 0; found {shift}")
        self.factor, self.shift = factor, float(shift)
        self.pivots, self.residual_trace = pivots, float(residual_trace)
        r = factor.shape[1]
        inner = np.zeros((r, r))
        for start in range(0, factor.shape[0], _CHUNK):
            part = factor[start : start + _CHUNK]
            inner += part.T @ part.copy()  # distinct operands: no SYRK on one array
        inner[np.diag_indices(r)] += self.shift
        self._inner = scipy.linalg.cho_factor(inner, lower=True)

    @property
    def rank(self) -> int:
        """Columns of ``F``."""
        return self.factor.shape[1]

    def __call__(self, R):
        """``P^{-1} R`` for ``R`` of shape (n, c)."""
        F = self.factor
        if F.shape[1] == 0:
            return R / self.shift
        FtR = sum(F[s : s + _CHUNK].T @ R[s : s + _CHUNK] for s in range(0, F.shape[0], _CHUNK))
        W = scipy.linalg.cho_solve(self._inner, FtR)
        out = np.array(R, dtype=np.float64)
        for s in range(0, F.shape[0], _CHUNK):
            out[s : s + _CHUNK] -= F[s : s + _CHUNK] @ W
        out /= self.shift
        return out


def _row_tasks(client, data, block, function, *args):
    n = data.n
    futures = [submit(client, function, data.token, s, min(s + block, n), *args)
               for s in range(0, n, block)]
    return np.concatenate([f.result() for f in futures], axis=0)


def _columns(client, data, points, kernel, block):
    """``K(X, P)`` (n x len(P)), computed on the workers."""
    return _row_tasks(client, data, block, kernel_columns, np.asarray(points), kernel)


def _orthogonal_update(G, S):
    """``G H^{+1/2}`` with ``H = G[S]`` (symmetrized), dropping numerically null directions."""
    H = G[S]
    H = 0.5 * (H + H.T)
    w, U = np.linalg.eigh(H)
    keep = w > max(w.max(initial=0.0), 0.0) * len(S) * np.finfo(np.float64).eps
    if not keep.any():
        return np.zeros((G.shape[0], 0))
    transform = U[:, keep] / np.sqrt(w[keep])
    out = np.empty((G.shape[0], int(keep.sum())))
    for s in range(0, G.shape[0], _CHUNK):
        out[s : s + _CHUNK] = G[s : s + _CHUNK] @ transform
    return out


def _shift(reg, residual_trace, trace, n):
    if reg > 0:
        return float(reg)
    return max(residual_trace / n, np.finfo(np.float64).eps * trace / n, np.finfo(float).tiny)


def _finish(F, pivots, diag, trace, reg, n):
    residual = float(np.clip(diag, 0.0, None).sum())
    return LowRankPreconditioner(F, _shift(reg, residual, trace, n), np.asarray(pivots),
                                 residual)


def nystrom_preconditioner(client, data, points_of, kernel, rank, *, reg=0.0, block=2048,
                           seed=0):
    """Nyström preconditioner from ``rank`` uniformly drawn columns.

    Parameters
    ----------
    client : distributed.Client
    data : ReplicatedData
        Replica of ``X`` on the workers.
    points_of : callable
        ``points_of(indices) -> X[indices]`` on the client.
    kernel : Kernel
    rank : int
    reg : float, default 0
    block : int, default 2048
        Row block of the column tasks.
    seed : int, default 0

    Returns
    -------
    LowRankPreconditioner
    """
    n = data.n
    S = np.sort(np.random.default_rng(seed).choice(n, size=min(rank, n), replace=False))
    diag = _row_tasks(client, data, block, kernel_diagonal, kernel)
    trace = float(diag.sum())
    F = _orthogonal_update(_columns(client, data, points_of(S), kernel, block), S)
    diag -= np.einsum("ij,ij->i", F, F)
    return _finish(F, S, diag, trace, reg, n)


def rpcholesky_preconditioner(client, data, points_of, kernel, rank, *, reg=0.0, block=2048,
                              step=None, seed=0, progress=None):
    """Randomly pivoted Cholesky preconditioner of rank at most ``rank``.

    Pivots are drawn ``step`` at a time (default ``max(1, rank // 10)``) with
    probability proportional to the residual diagonal; the draw stops early
    when the residual trace vanishes. Parameters are those of
    :func:`nystrom_preconditioner`, plus ``progress`` (phase
    ``"preconditioner"``, in columns).

    Returns
    -------
    LowRankPreconditioner
    """
    n = data.n
    rank = min(int(rank), n)
    step = int(step or max(1, rank // 10))
    rng = np.random.default_rng(seed)
    diag = _row_tasks(client, data, block, kernel_diagonal, kernel)
    trace = float(diag.sum())
    F = np.zeros((n, rank))
    pivots, k = [], 0
    with phase(progress, "preconditioner", total=rank, unit="columns") as bar:
        while k < rank:
            weights = np.clip(diag, 0.0, None)
            total = weights.sum()
            available = int(np.count_nonzero(weights))
            if total <= np.finfo(np.float64).eps * trace or available == 0:
                break
            S = np.sort(rng.choice(n, size=min(step, rank - k, available), replace=False,
                                   p=weights / total))
            G = _columns(client, data, points_of(S), kernel, block)
            for s in range(0, n, _CHUNK):
                G[s : s + _CHUNK] -= F[s : s + _CHUNK, :k] @ F[S, :k].T
            new = _orthogonal_update(G, S)
            if new.shape[1] == 0:
                break
            F[:, k : k + new.shape[1]] = new
            diag -= np.einsum("ij,ij->i", new, new)
            k += new.shape[1]
            pivots.extend(S.tolist())
            bar.advance(new.shape[1])
    return _finish(F[:, :k], pivots, diag, trace, reg, n)
