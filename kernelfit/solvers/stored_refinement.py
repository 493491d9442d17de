r"""Iterative refinement against a stored kernel matrix (no data to recompute ``K`` from).

:func:`kernelfit.solvers.refine_solution` forms residuals matrix-free from the
data. When ``K`` came from features that were streamed and discarded (random
convolutions with hundreds of thousands of features), a packed copy of ``K``
is kept instead, and

.. math::

    r_t = y - (K_s + \mathrm{reg}\, I)\,\alpha_t, \qquad
    \alpha_{t+1} = \alpha_t + L^{-T} L^{-1} r_t,

with :math:`K_s` the *stored* matrix (e.g. float32) applied in float64 by
:func:`kernelfit.linalg.tile_matvec.tile_symmetric_matvec`. The result solves
the system of the stored matrix to float64 accuracy; how far :math:`K_s` is from
the exact kernel (its own rounding) is not part of the residual.
"""

from __future__ import annotations

from ..linalg.tile_matvec import tile_symmetric_matvec
from .mixed import refine

__all__ = ["refine_with_stored_kernel"]


def refine_with_stored_kernel(factor, kernel, Y, *, reg=0.0, tol=None, max_iter=10,
                              min_gain=2.0, progress=None):
    """Solve ``(K + reg I) alpha = Y`` for a stored ``K``, refining a low-precision factor.

    Parameters
    ----------
    factor : TileStorage
        Holds the Cholesky factor of ``K + reg I`` (e.g. float32).
    kernel : TileStorage
        Holds the lower tiles of ``K`` itself, diagonal tiles exactly symmetric.
    Y : array of shape (n,) or (n, c)
    reg : float, default 0
    tol, max_iter, min_gain
        As in :func:`kernelfit.solvers.refine_solution`.
    progress : callable, optional
        Progress callback (phases ``solve`` and ``refine``).

    Returns
    -------
    alpha : ndarray of shape (n,) or (n, c), float64
    info : RefinementInfo
        ``final_residual`` gives ``K alpha = Y - r - reg alpha`` without another
        pass over ``K``.
    """
    def matvec(alpha):
        return tile_symmetric_matvec(kernel, alpha, progress=progress, phase_name="refine")

    alpha, info = refine(factor, Y, matvec, reg=reg, tol=tol, max_iter=max_iter,
                         min_gain=min_gain, progress=progress)
    info.residuals_from = "stored kernel"
    return alpha, info
