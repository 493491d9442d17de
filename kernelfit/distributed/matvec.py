"""Kernel products ``K @ V`` on the workers, computed from the data alone.

``K`` is never stored: each task computes one row block ``K(X_i, X) @ V`` by
looping over column blocks of the worker's replica of ``X``, so a product
costs ``2 n^2 d`` kernel flops and moves only ``V`` to the workers and the
``n x c`` result back. Used by the matrix-free solver, the mixed-precision
refinement of the estimator, and predictions.
"""

from __future__ import annotations

import numpy as np

from ..gram_builder import MAX_BLOCK
from ..kernels import make_kernel
from ..progress import phase
from ..validation import check_matrix
from . import data as data_mod
from .cluster import resolve_client
from .tile_tasks import kernel_query_matvec, kernel_rows_matvec

__all__ = ["SymmetricKernelOperator", "dask_kernel_matvec"]


class SymmetricKernelOperator:
    """``V -> K(X, X) @ V`` as row-block tasks on data already replicated.

    Parameters
    ----------
    client : distributed.Client
    data : ReplicatedData
        The replica of ``X``.
    kernel : Kernel
    block_size : int, optional
        Row and column block edge (at most 2048).
    """

    def __init__(self, client, data, kernel, block_size=None):
        self.client, self.data, self.kernel = client, data, kernel
        self.block = int(block_size or min(MAX_BLOCK, data.n))
        self.calls = 0

    def __call__(self, V, progress=None, phase_name="matvec"):
        """``K @ V`` for ``V`` of shape (n, c); returns float64 of shape (n, c)."""
        V = np.asarray(V, np.float64)
        if V.ndim != 2 or V.shape[0] != self.data.n:
            raise ValueError(f"V must have shape ({self.data.n}, c); found {V.shape}")
        shared = data_mod.embedded(self.client, V)
        n, b = self.data.n, self.block
        futures = [
            self.client.submit(kernel_rows_matvec, self.data.token, start, min(start + b, n), b,
                               self.kernel, shared, pure=False)
            for start in range(0, n, b)
        ]
        out = _gather_rows(futures, progress, phase_name)
        self.calls += 1
        return out


def _gather_rows(futures, progress, phase_name):
    with phase(progress, phase_name, total=len(futures), unit="blocks") as bar:
        blocks = []
        for future in futures:
            blocks.append(future.result())
            bar.advance()
    return np.concatenate(blocks, axis=0)


def dask_kernel_matvec(Q, X, V, kernel="gaussian", *, client=None, bandwidth=None,
                       block_size=None, progress=None, phase_name="predict"):
    """Compute ``K(Q, X) @ V`` on a Dask cluster (predictions of a fitted model).

    Parameters
    ----------
    Q : array of shape (m, d)
        Query points, sent in row blocks to the tasks.
    X : array of shape (n, d), or path of a ``.npy`` file every worker can read
        Training points, replicated on the workers for the call.
    V : array of shape (n,) or (n, c)
    kernel : str, Kernel or callable
    client : None, distributed.Client or str
    bandwidth : float, optional
    block_size : int, optional
        Row block of ``Q`` and column block of ``X`` (at most 2048).
    progress : callable, optional
    phase_name : str, default "predict"

    Returns
    -------
    ndarray of shape (m,) or (m, c), float64
    """
    client = resolve_client(client)
    Q = check_matrix(Q, "Q")
    V = np.asarray(V, np.float64)
    vector = V.ndim == 1
    V2 = V[:, None] if vector else V
    source, n, d, _ = data_mod.describe(X)
    if Q.ndim != 2 or Q.shape[1] != d or V2.shape[0] != n:
        raise ValueError(
            f"expected Q of shape (m, {d}) and V with {n} rows; found Q.shape={Q.shape} "
            f"and V.shape={V.shape}"
        )
    kernel = make_kernel(kernel, bandwidth=bandwidth, X=data_mod.local_view(source))
    b = int(block_size or min(MAX_BLOCK, n))
    with data_mod.replicated_data(client, source) as data:
        shared = data_mod.embedded(client, V2)
        futures = [
            data_mod.submit(client, kernel_query_matvec, data.token, Q[start : start + b], b,
                            kernel, shared)
            for start in range(0, Q.shape[0], b)
        ]
        out = _gather_rows(futures, progress, phase_name)
    return out[:, 0] if vector else out
