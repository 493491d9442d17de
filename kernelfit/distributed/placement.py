"""Where the tiles of the factorization live: a 2-D block-cyclic owner map.

Left to itself, Dask runs a tile update where most of its input bytes are;
for ``A_ij -= L_ik L_jk^T`` that is often the worker holding both factor
tiles, so the trailing matrix migrates and every tile crosses the network
several times per factorization. Pinning tile ``(i, j)`` -- its Gram task and
every update of it -- to worker ``grid[i mod p][j mod q]`` of a ``p x q`` grid
(ScaLAPACK's layout) moves only factor tiles: each ``L_ik`` goes to the owners
of row ``i`` and column ``i`` of the trailing matrix, at most ``p + q - 2``
other workers. The restriction is loose: if the owner is gone (a killed
worker), the scheduler runs the task elsewhere.
"""

from __future__ import annotations

import math

__all__ = ["block_cyclic_owner", "process_grid"]


def process_grid(workers: int) -> tuple[int, int]:
    """``(p, q)`` with ``p * q = workers`` and ``p <= q`` as close as possible."""
    if workers < 1:
        raise ValueError(f"need at least one worker; found {workers}")
    p = max(d for d in range(1, math.isqrt(workers) + 1) if workers % d == 0)
    return p, workers // p


def block_cyclic_owner(addresses):
    """A function ``key -> [address]`` for the tile keys ``(name, i, j, version)``.

    Parameters
    ----------
    addresses : sequence of str
        Worker addresses (sorted here, so the map does not depend on their order).

    Returns
    -------
    callable
        Picklable by value (Dask calls it on the scheduler for each key).
    """
    ordered = sorted(addresses)
    p, q = process_grid(len(ordered))
    grid = tuple(tuple(ordered[r * q : (r + 1) * q]) for r in range(p))
    return lambda key, grid=grid, p=p, q=q: [grid[key[1] % p][key[2] % q]]
