r"""Finite-sample expressivity (Theorem 1 of Zhang et al.), constructively.

For ``n`` distinct points :math:`x_1, \dots, x_n \in \mathbb{R}^d` and any real
labels :math:`y_i`, the depth-2 ReLU network

.. math:: c(x) = \sum_{j=1}^n w_j \max(\langle a, x\rangle - b_j, 0)

with :math:`2n + d` weights :math:`a \in \mathbb{R}^d`, :math:`b, w \in \mathbb{R}^n`
satisfies :math:`c(x_i) = y_i` for all ``i``.

Construction. Pick ``a`` so that the projections :math:`z_i = \langle a, x_i\rangle`
are distinct (we take the unit direction, among several random ones, whose
sorted projections have the largest smallest gap), sort them
:math:`z_1 < \dots < z_n`, and interleave the thresholds:
:math:`b_1 < z_1` and :math:`b_i = z_{i-1} + \theta (z_i - z_{i-1})` with
:math:`0 < \theta < 1`. Then :math:`A_{ij} = \max(z_i - b_j, 0)` vanishes for
:math:`j > i` and is positive for :math:`j \le i`: ``A`` is lower triangular with
diagonal :math:`z_i - b_i = (1-\theta)(z_i - z_{i-1}) > 0`, and :math:`Aw = y` has
one solution.

The O(n) recurrence. ``c`` is piecewise linear in :math:`t = \langle a, x\rangle`
with slope :math:`s_k = \sum_{j \le k} w_j` between :math:`b_k` and
:math:`b_{k+1}`. Going from :math:`z_{i-1}` to :math:`z_i` crosses the kink
:math:`b_i`, so

.. math::

    y_i - y_{i-1} = s_{i-1}(b_i - z_{i-1}) + s_i (z_i - b_i),
    \qquad s_1 = y_1 / (z_1 - b_1),

which gives every slope :math:`s_i` from the previous one, and
:math:`w_i = s_i - s_{i-1}`. This is forward substitution on ``A`` written in
differences: nothing of size ``n x n`` is formed. A rounding error in
:math:`s_{i-1}` enters :math:`s_i` multiplied by :math:`\theta / (1 - \theta)`, so
:math:`\theta < 1/2` (default 1/4) damps it geometrically; with
:math:`\theta = 1/2` errors would persist without decay.

Weights grow like the inverse of the smallest gap: that gap and the smallest
diagonal entry of ``A`` are reported with the fit. This module needs only
NumPy; :meth:`ReluInterpolant.to_torch` builds the equivalent ``nn.Module``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from ..validation import check_finite_rows, check_matrix, check_same_rows

__all__ = ["ReluInterpolant", "fit_relu_interpolant"]


@dataclass
class ReluInterpolant:
    """The network :math:`c(x) = \\sum_j w_j \\max(\\langle a, x\\rangle - b_j, 0)`.

    Attributes
    ----------
    a : ndarray, shape (d,)
        Projection direction (unit length).
    b : ndarray, shape (n,)
        Thresholds, increasing.
    w : ndarray, shape (n,)
        Output weights.
    min_gap : float
        Smallest gap between consecutive sorted projections of the training points.
    min_diagonal : float
        Smallest diagonal entry of the lower-triangular system matrix ``A``.
    max_abs_weight : float
        Largest ``|w_j|`` (grows like ``1 / min_gap``).
    max_abs_residual : float
        Largest ``|c(x_i) - y_i|`` over the checked training points, evaluated
        with the network's own formula (:meth:`evaluate_dense`).
    residual_rows_checked : int
        How many training points that check covered (all, or a random sample).
    """

    a: np.ndarray
    b: np.ndarray
    w: np.ndarray
    min_gap: float
    min_diagonal: float
    max_abs_weight: float = np.nan
    max_abs_residual: float = np.nan
    residual_rows_checked: int = 0

    @property
    def n_parameters(self) -> int:
        """``2n + d``."""
        return 2 * self.b.shape[0] + self.a.shape[0]

    def to_dict(self) -> dict:
        """JSON-ready diagnostics of the fit (sizes and numerical quality; no arrays)."""
        return {"n": int(self.b.shape[0]), "d": int(self.a.shape[0]),
                "n_parameters": self.n_parameters, "min_gap": self.min_gap,
                "min_diagonal": self.min_diagonal, "max_abs_weight": self.max_abs_weight,
                "max_abs_residual": self.max_abs_residual,
                "residual_rows_checked": self.residual_rows_checked}

    def __call__(self, X) -> np.ndarray:
        """Evaluate ``c`` at the rows of ``X`` in O((n + m) log n), via the piecewise-linear form.

        ``c(t) = c(b_k) + s_k (t - b_k)`` on the segment ``b_k <= t < b_{k+1}``,
        with ``s = cumsum(w)`` and the kink values accumulated segment by
        segment; the same function as :meth:`evaluate_dense`, without its
        O(n m) cost or its cancellation between large terms.
        """
        t = self._project(X)
        slopes = np.cumsum(self.w)
        kink_values = np.concatenate([[0.0], np.cumsum(slopes[:-1] * np.diff(self.b))])
        k = np.searchsorted(self.b, t, side="right") - 1
        inside = k >= 0
        out = np.zeros_like(t)
        out[inside] = kink_values[k[inside]] + slopes[k[inside]] * (t[inside] - self.b[k[inside]])
        return out

    def evaluate_dense(self, X, block_rows: int | None = None) -> np.ndarray:
        """Evaluate the network literally, ``max(X a - b, 0) @ w``, in row blocks.

        Parameters
        ----------
        X : array, shape (m, d)
        block_rows : int, optional
            Rows per block; by default about 32 MiB of temporaries per block.
        """
        t = self._project(X)
        n = self.b.shape[0]
        step = block_rows or max(1, (1 << 22) // n)
        out = np.empty_like(t)
        for start in range(0, t.shape[0], step):
            block = t[start : start + step, None] - self.b[None, :]
            out[start : start + step] = np.maximum(block, 0.0) @ self.w
        return out

    def _project(self, X) -> np.ndarray:
        X = check_matrix(X, "X", allow_1d=self.a.shape[0] == 1)
        X = np.asarray(X, dtype=np.float64).reshape(X.shape[0], -1)
        if X.shape[1] != self.a.shape[0]:
            raise ValueError(f"X must have {self.a.shape[0]} columns; found shape {X.shape}")
        return X @ self.a

    def to_torch(self, dtype=None):
        """The network as a ``torch.nn.Module`` (float64 by default; float32 loses the fit)."""
        from .relu_interpolant_module import ReluInterpolantModule

        return ReluInterpolantModule(self.a, self.b, self.w, dtype=dtype)


def _best_direction(X: np.ndarray, n_directions: int, rng) -> tuple[np.ndarray, np.ndarray, float]:
    """The unit direction among ``n_directions`` random ones with the largest smallest gap."""
    d = X.shape[1]
    candidates = rng.standard_normal((d, n_directions))
    candidates /= np.linalg.norm(candidates, axis=0, keepdims=True)
    best = (None, None, -1.0)
    for start in range(0, n_directions, 8):
        Z = X @ candidates[:, start : start + 8]
        Z.sort(axis=0)
        gaps = np.diff(Z, axis=0).min(axis=0) if X.shape[0] > 1 else np.full(Z.shape[1], np.inf)
        j = int(np.argmax(gaps))
        if gaps[j] > best[2]:
            a = candidates[:, start + j]
            best = (a, X @ a, float(gaps[j]))
    return best


def _duplicate_error(X: np.ndarray, z: np.ndarray) -> ValueError:
    order = np.argsort(z, kind="stable")
    zs = z[order]
    i = int(np.flatnonzero(np.diff(zs) <= 0)[0])
    p, q = sorted((int(order[i]), int(order[i + 1])))
    if np.array_equal(X[p], X[q]):
        return ValueError(
            f"the points must be distinct; found rows {p} and {q} equal (remove duplicates, "
            "which can only be fitted if their labels agree)"
        )
    return ValueError(
        f"no direction separated rows {p} and {q} (distance {np.linalg.norm(X[p] - X[q]):.3g}); "
        "they are distinct but too close for float64 projections; increase n_directions"
    )


def fit_relu_interpolant(
    X,
    y,
    *,
    n_directions: int = 16,
    theta: float = 0.25,
    seed: int = 0,
    check_rows: int | None = 2000,
) -> ReluInterpolant:
    """Build the Theorem 1 network that reproduces the labels ``y`` at the points ``X``.

    Parameters
    ----------
    X : array, shape (n, d) or (n,)
        Distinct points (a 1-D array means ``d = 1``).
    y : array, shape (n,)
        Real labels.
    n_directions : int, default 16
        Random unit directions tried for ``a``; the one whose sorted
        projections have the largest smallest gap is kept (``d = 1`` needs only one).
    theta : float, default 0.25
        Where each threshold sits between consecutive projections, in (0, 1);
        values below 1/2 damp rounding errors in the recurrence.
    seed : int, default 0
        Seed of the random directions and of the residual sample.
    check_rows : int or None, default 2000
        Evaluate the network literally at this many random training points
        (None: all of them, O(n^2)) and report the largest residual.

    Returns
    -------
    ReluInterpolant

    Raises
    ------
    ValueError
        Shapes that do not match, non-finite values, duplicate points, or
        parameters out of range.
    """
    X = check_matrix(X, "X", allow_1d=True)
    X = np.asarray(X, dtype=np.float64)
    X = X[:, None] if X.ndim == 1 else X
    y = np.asarray(check_matrix(y, "y", ndim=1), dtype=np.float64)
    check_same_rows(X, y, "X", "y")
    check_finite_rows(X, "X")
    check_finite_rows(y, "y")
    if not isinstance(n_directions, (int, np.integer)) or n_directions < 1:
        raise ValueError(f"n_directions must be a positive integer; found {n_directions!r}")
    if not 0.0 < theta < 1.0:
        raise ValueError(f"theta must be in (0, 1); found {theta!r}")
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    a, z, min_gap = _best_direction(X, 1 if X.shape[1] == 1 else n_directions, rng)
    if min_gap <= 0:
        raise _duplicate_error(X, z)

    order = np.argsort(z)
    zs, ys = z[order], y[order]
    gaps = np.diff(zs)
    span = zs[-1] - zs[0] if n > 1 else max(1.0, abs(zs[0]))
    b = np.empty(n)
    b[0] = zs[0] - span
    b[1:] = zs[:-1] + theta * gaps
    diagonal = zs - b  # z_i - b_i > 0
    # The recurrence of the module docstring. Since b_i - z_{i-1} = theta * gap and
    # z_i - b_i = (1 - theta) * gap, it reads s_i = u_i - r s_{i-1} with the constant
    # r = theta / (1 - theta): a first-order linear filter, run in O(n) by lfilter.
    u = np.diff(ys, prepend=0.0) / diagonal
    slopes = lfilter([1.0], [1.0, theta / (1.0 - theta)], u)
    w = np.diff(slopes, prepend=0.0)

    net = ReluInterpolant(a, b, w, float(min_gap) if n > 1 else np.inf, float(diagonal.min()))
    net.max_abs_weight = float(np.abs(w).max())
    rows = np.arange(n) if check_rows is None or check_rows >= n else (
        rng.choice(n, size=check_rows, replace=False))
    if len(rows):
        net.max_abs_residual = float(np.abs(net.evaluate_dense(X[rows]) - y[rows]).max())
    net.residual_rows_checked = len(rows)
    return net
