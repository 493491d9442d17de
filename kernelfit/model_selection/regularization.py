r"""The ridge term chosen on a held-out part of the training set (``reg="auto"``).

:func:`select_reg_from_gram` fits the held-out split of the bandwidth choice
(:func:`~kernelfit.model_selection.held_out_split`: the same seeded permutation,
at most 10,000 fitted and 2,000 held-out *training* images) once per ridge value
``reg_scale(kernel, sq_norms) * g`` for ``g`` in :func:`reg_grid` (:data:`REG_GRID`,
without 0 for the linear kernel), with the kernel at the bandwidth in use, and keeps
the value with the lowest held-out classification error (ties: the smaller ridge).
The test set is never seen.

Solver: one float64 Cholesky of ``K_fit + reg I`` per value
(:func:`kernelfit.solvers.solve`, LU or least squares if it fails), not one symmetric
eigendecomposition shared by all values. For the six values of :data:`REG_GRID` the
Choleskys cost ``6 k^3 / 3 = 2 k^3`` flops, all in level-3 BLAS, while ``eigh`` costs
about ``4/3 k^3`` for the tridiagonal reduction (half of it level-2 BLAS, memory
bound) plus ``2 k^3`` to form the eigenvectors: more time at ``k = 10,000`` for the
same memory (``K_fit`` and one ``k x k`` factor), and the fitted problems are then
solved exactly as the bandwidth search and the final solve solve theirs (a
near-singular ``reg = 0`` block falls back the same way instead of needing a
pseudo-inverse cut-off of its own).
"""

from __future__ import annotations

import numpy as np

from ..progress import phase
from .held_out import check_held_out_budget, held_out_blocks, held_out_error, held_out_split

__all__ = ["REG_GRID", "reg_grid", "reg_scale", "select_reg_from_gram"]

#: Ridge values tried by ``reg="auto"``, relative to the kernel's scale
#: (:func:`reg_scale`: 1 for the Gaussian, whose diagonal is 1; the mean diagonal
#: ``mean ||phi_i||^2`` of the training Gram for the linear kernel). 0 is the
#: interpolant; 1 doubles the diagonal.
REG_GRID = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def reg_grid(kernel: str) -> tuple:
    """The relative ridge values ``reg="auto"`` tries for ``kernel``.

    :data:`REG_GRID` for the Gaussian; its positive values for the linear kernel,
    whose training Gram is singular on standardized random-conv features (the features
    of the images that gave the standardization statistics sum to zero, and the rank
    is at most the number of features): ``reg = 0`` is then ill-posed on the whole
    training set even where the fitted block of the held-out split is not.
    """
    return REG_GRID if kernel == "gaussian" else tuple(g for g in REG_GRID if g > 0)


def reg_scale(kernel: str, sq_norms) -> float:
    """The unit of :data:`REG_GRID` for ``kernel``: its mean diagonal on the training set.

    Parameters
    ----------
    kernel : {"gaussian", "linear"}
    sq_norms : ndarray of shape (n,)
        ``||phi_i||^2`` of the training images (the linear Gram's diagonal).

    Returns
    -------
    float
        1 for the Gaussian (unit diagonal); ``mean ||phi_i||^2`` for the linear kernel,
        so that the grid means the same fraction of the diagonal for both.
    """
    if kernel == "gaussian":
        return 1.0
    return float(np.mean(np.asarray(sq_norms, dtype=np.float64)))


def select_reg_from_gram(view, sq_norms, y, *, kernel="gaussian", bandwidth=None,
                         grid=None, seed=0, n_fit=10000, n_val=2000,
                         memory_budget: int, progress=None):
    """Pick the ridge term with the lowest error on a held-out part of the training set.

    Parameters
    ----------
    view : SymmetricTileView
        The training linear Gram ``Phi Phi^T`` (before any kernel is formed in place).
    sq_norms : ndarray of shape (n,)
        ``||phi_i||^2``.
    y : ndarray of shape (n,)
        Training labels.
    kernel : {"gaussian", "linear"}, default "gaussian"
    bandwidth : float, optional
        ``sigma`` of the Gaussian (the one the final solve uses).
    grid : sequence of float, optional
        Ridge values in units of :func:`reg_scale`; :func:`reg_grid` by default.
    seed, n_fit, n_val : int
        The held-out split, as for the bandwidth choice.
    memory_budget : int
        Bytes for the gathered sub-Grams, their float64 kernels and one packed factor.
    progress : callable, optional
        Progress callback, phase ``"reg"`` (one step per grid value).

    Returns
    -------
    best : float
        The chosen ridge term, absolute (added to the diagonal as is).
    errors : dict of float to float
        Held-out error of each absolute ridge term, in grid order.

    Raises
    ------
    ValueError
        If the fitted part holds fewer than 2 classes.
    MemoryBudgetError
        If the held-out problem does not fit in ``memory_budget``.
    """
    split = held_out_split(y, seed=seed, n_fit=n_fit, n_val=n_val, what="the ridge search")
    check_held_out_budget(split, np.dtype(view.dtype).itemsize, memory_budget,
                          "the held-out ridge choice")
    K_fit, K_val = held_out_blocks(view, sq_norms, split, kernel=kernel, bandwidth=bandwidth)
    scale = reg_scale(kernel, sq_norms)
    errors = {}
    grid = reg_grid(kernel) if grid is None else grid
    with phase(progress, "reg", total=len(grid), unit="fits") as bar:
        for g in grid:
            reg = float(scale * g)
            errors[reg] = held_out_error(K_fit, K_val, split, reg)
            bar.advance()
    best = min(errors, key=lambda r: (errors[r], r))
    return best, errors
