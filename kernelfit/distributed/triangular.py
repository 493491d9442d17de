"""Tiled forward and backward substitution with a factor held by the workers.

With ``L`` in tiles and right-hand sides ``B`` in row blocks,

.. math::

    Z_i = L_{ii}^{-1}\\Big(B_i - \\sum_{k<i} L_{ik} Z_k\\Big), \\qquad
    A_i = L_{ii}^{-T}\\Big(Z_i - \\sum_{k>i} L_{ki}^{T} A_k\\Big).

Each product ``L_ik Z_k`` is a task placed with its tile (only the small
``b x c`` blocks move), and each diagonal solve subtracts its products in a
fixed order, so the answer does not depend on the number of workers. Only the
``n x c`` solution is gathered.
"""

from __future__ import annotations

import uuid

import numpy as np

from ..progress import phase
from .data import embedded
from .tile_tasks import diagonal_solve, tile_product

__all__ = ["tiled_solve"]


def tiled_solve(client, tiles, bounds, nt, B, progress=None):
    """Solve ``L L^T A = B`` with the factor tiles ``tiles`` on the workers.

    Parameters
    ----------
    client : distributed.Client
    tiles : dict
        ``{(i, j): Future}`` of the factor, ``i >= j``.
    bounds : callable
        ``bounds(i) -> slice`` of rows of tile ``i``.
    nt : int
    B : ndarray of shape (n, c), float64
    progress : callable, optional
        Phase ``"solve"``, in row blocks of the two sweeps.

    Returns
    -------
    ndarray of shape (n, c), float64
    """
    name = f"solve-{uuid.uuid4().hex[:12]}"
    rhs = [embedded(client, np.array(B[bounds(i)], order="F")) for i in range(nt)]
    graph = {}
    forward = {}
    for i in range(nt):
        products = []
        for k in range(i):
            key = (f"{name}-fwd-product", i, k)
            graph[key] = (tile_product, tiles[i, k], forward[k], False)
            products.append(key)
        forward[i] = (f"{name}-fwd", i)
        graph[forward[i]] = (diagonal_solve, tiles[i, i], rhs[i], False, *products)
    backward = {}
    for i in range(nt - 1, -1, -1):
        products = []
        for k in range(nt - 1, i, -1):
            key = (f"{name}-bwd-product", i, k)
            graph[key] = (tile_product, tiles[k, i], backward[k], True)
            products.append(key)
        backward[i] = (f"{name}-bwd", i)
        graph[backward[i]] = (diagonal_solve, tiles[i, i], forward[i], True, *products)
    keys = [backward[i] for i in range(nt)]
    futures = client.get(graph, keys, sync=False)
    with phase(progress, "solve", total=nt, unit="blocks") as bar:
        blocks = []
        for future in futures:
            blocks.append(future.result())
            bar.advance()
    return np.concatenate(blocks, axis=0)
