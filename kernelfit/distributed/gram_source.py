"""The Dask tile graph as a Gram source of :func:`kernelfit.solvers.solve_kernel_system`.

``open`` submits the factorization graph
(:func:`~kernelfit.distributed.factorization.submit_cholesky`: Gram tiles
computed on the workers, then the tiled Cholesky), so the pipeline's
``cholesky`` phase covers both. Solves and refinement products run on the workers;
only ``n x c`` arrays travel. There is no dense fallback: a pivot that is not
positive raises :class:`~kernelfit.backend.NotPositiveDefiniteError`.
"""

from __future__ import annotations

import numpy as np

from .cluster import resolve_client
from .factorization import submit_cholesky
from .matvec import SymmetricKernelOperator, dask_kernel_matvec

__all__ = ["DaskGramSource"]


def _columns(operator):
    """``operator`` (which takes (n, c) arrays) applied to (n,) or (n, c)."""
    def apply(V):
        V = np.asarray(V, np.float64)
        return operator(V[:, None])[:, 0] if V.ndim == 1 else operator(V)
    return apply


class _DaskSystem:
    """A submitted distributed factorization, seen as an opened system."""

    fill_phase = None
    resumed_panels = 0
    description = "dask tiles"
    residuals_from = "data"

    def __init__(self, factor):
        self.factor = factor

    def synchronize(self):
        """Nothing to wait for: :meth:`factorize` returns when every tile is computed."""

    def factorize(self, progress=None):
        self.factor.wait(progress)

    def solve(self, Y, progress=None):
        return self.factor.solve(Y, progress=progress)

    def correction(self, R, progress=None):
        """A float64 solve with the (possibly float32) factor tiles, on the workers."""
        return self.factor.solve(R, progress=progress)

    def refine_product(self, progress=None):
        factor = self.factor
        operator = SymmetricKernelOperator(factor.client, factor.data, factor.kernel,
                                           factor.tile_size)
        return _columns(lambda V: operator(V, progress, "refine"))

    def release(self, finished):
        self.factor.release()


class DaskGramSource:
    """``K(X, X)`` computed tile by tile on a Dask cluster.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    kernel : Kernel
    client : None, distributed.Client or str
        See :func:`~kernelfit.distributed.resolve_client`.
    tile_size : int, optional
    """

    fallback_budget = None

    def __init__(self, X, kernel, *, client=None, tile_size=None):
        self.X, self.kernel, self.tile_size = X, kernel, tile_size
        self.client = resolve_client(client)

    @property
    def n(self) -> int:
        return len(self.X)

    def open(self, reg, dtype, *, mixed=False, progress=None):
        """Submit the graph of the Gram tiles of ``K + reg I`` and their Cholesky."""
        return _DaskSystem(submit_cholesky(self.X, self.kernel, reg=reg, client=self.client,
                                           dtype=dtype, tile_size=self.tile_size))

    def kernel_product(self, progress=None, phase_name="matvec"):
        """``V -> K @ V`` in float64 on the workers, from the data."""
        def product(V):
            return np.asarray(dask_kernel_matvec(self.X, self.X, V, self.kernel,
                                                 client=self.client, progress=progress,
                                                 phase_name=phase_name))
        return product

    def dense_kernel(self, exc):
        """None: the distributed path keeps no dense ``K``; re-raises ``exc``."""
        raise exc
