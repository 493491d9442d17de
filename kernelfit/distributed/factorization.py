"""The tiled Cholesky of ``K(X, X) + reg I`` as a Dask task graph, and its solves.

The graph is built from :func:`kernelfit.linalg.cholesky_graph`, the op list
the single-machine driver runs: tile ``(i, j)`` starts as a Gram task that
reads rows ``X_i`` and ``X_j`` from the worker's replica, and every op that
writes it makes a new version, key ``("tile-<run>", i, j, version)``, from the
latest versions of the tiles it updates and reads. Dask places each op where
most of its input bytes already are, frees a version as soon as its last
reader is done, spills tiles to worker disk under memory pressure, and after
the loss of a worker recomputes what was lost from its inputs. The client
holds futures only for the final factor tiles and never gathers them.
"""

from __future__ import annotations

import time
import uuid

import dask
import distributed
import numpy as np

from ..kernels import make_kernel
from ..linalg import cholesky_graph, default_tile_size
from ..progress import phase
from ..validation import check_nonnegative
from . import data as data_mod
from .cluster import check_task_memory, resolve_client, worker_memory_limits
from .placement import block_cyclic_owner
from .tile_tasks import TILE_TASKS, gram_tile
from .triangular import tiled_solve

__all__ = ["DistributedFactor", "cholesky_factor", "exact_solve", "factor_graph",
           "submit_cholesky"]


def factor_graph(name, nt, bounds, token, kernel, dtype, reg):
    """The task graph of the factorization.

    Parameters
    ----------
    name : str
        Key prefix of this run's tiles.
    nt : int
        Tiles per side.
    bounds : callable
        ``bounds(i) -> slice`` of global rows of tile ``i``.
    token : str
        Replica of ``X`` on the workers.
    kernel : Kernel
    dtype : numpy dtype
        Storage dtype of the tiles.
    reg : float
        Added to the diagonal of the Gram tiles.

    Returns
    -------
    graph : dict
        ``{key: task}`` in Dask's tuple form.
    final : dict
        ``{(i, j): key}`` of the last version of each lower tile (the factor ``L``).
    """
    graph = {}
    version = {}
    for i in range(nt):
        for j in range(i + 1):
            si, sj = bounds(i), bounds(j)
            shift = float(reg) if i == j else 0.0
            graph[(name, i, j, 0)] = (gram_tile, token, si.start, si.stop, sj.start, sj.stop,
                                      kernel, np.dtype(dtype).str, shift)
            version[i, j] = 0

    def latest(tile):
        return (name, *tile, version[tile])

    for op in cholesky_graph(nt, order="right"):
        inputs = [latest(op.writes), *(latest(tile) for tile in op.reads)]
        version[op.writes] += 1
        extra = (bounds(op.k).start, op.k, nt) if op.kind == "potrf" else ()
        graph[latest(op.writes)] = (TILE_TASKS[op.kind], *inputs, *extra)
    final = {tile: latest(tile) for tile in version}
    return graph, final


class DistributedFactor:
    """The Cholesky factor ``L`` of ``K(X, X) + reg I``, held as tiles by the workers.

    Made by :func:`submit_cholesky`; :meth:`wait` for it, :meth:`solve` with
    it, and :meth:`release` it (or use it as a context manager).

    Attributes
    ----------
    client : distributed.Client
    kernel : Kernel
    reg : float
    n, tile_size, nt : int
    dtype : numpy.dtype
    tiles : dict
        ``{(i, j): Future}`` of the factor tiles, ``i >= j``.
    task_count : int
        Tasks in the factorization graph (Gram tiles and tile ops).
    seconds : float
        Wall time from submission to the end of :meth:`wait`.
    """

    def __init__(self, client, kernel, reg, data, plugin, n, tile_size, tiles, dtype,
                 task_count):
        self.client, self.kernel, self.reg = client, kernel, reg
        self.data = data
        self._plugin = plugin
        self.n, self.tile_size = n, tile_size
        self.nt = -(-n // tile_size)
        self.tiles = tiles
        self.dtype = np.dtype(dtype)
        self.task_count = task_count
        self._submitted = time.perf_counter()
        self.seconds = None

    def bounds(self, i: int) -> slice:
        """Global rows of tile ``i``."""
        return slice(i * self.tile_size, min((i + 1) * self.tile_size, self.n))

    @property
    def nbytes(self) -> int:
        """Bytes of the factor tiles across the cluster."""
        sizes = [self.bounds(i).stop - self.bounds(i).start for i in range(self.nt)]
        return sum(sizes[i] * sizes[j] for i, j in self.tiles) * self.dtype.itemsize

    def wait(self, progress=None):
        """Block until every factor tile is computed.

        Parameters
        ----------
        progress : callable, optional
            Phase ``"cholesky"`` in factor tiles.

        Returns
        -------
        self

        Raises
        ------
        NotPositiveDefiniteError
            A pivot was not positive (raised by the worker, with its tile).
        """
        futures = list(self.tiles.values())
        with phase(progress, "cholesky", total=len(futures), unit="tiles") as bar:
            for future in distributed.as_completed(futures, loop=self.client.loop):
                if future.status == "error":
                    try:
                        future.result()  # raises the worker's exception
                    finally:
                        self.release()
                bar.advance()
        self.seconds = time.perf_counter() - self._submitted
        return self

    def solve(self, Y, progress=None):
        """Solve ``(K + reg I) A = Y`` with this factor, on the workers.

        Parameters
        ----------
        Y : array of shape (n,) or (n, c)
        progress : callable, optional
            Phase ``"solve"`` in tiles.

        Returns
        -------
        ndarray of shape (n,) or (n, c), float64
        """
        Y = np.asarray(Y, dtype=np.float64)
        if Y.shape[0] != self.n or Y.ndim not in (1, 2):
            raise ValueError(f"Y must have shape ({self.n},) or ({self.n}, c); "
                             f"found {Y.shape}")
        vector = Y.ndim == 1
        out = tiled_solve(self.client, self.tiles, self.bounds, self.nt,
                          Y[:, None] if vector else Y, progress=progress)
        return out[:, 0] if vector else out

    def release(self) -> None:
        """Drop the factor tiles and the data replica from the workers."""
        self.tiles = {}  # dropping the futures lets the scheduler forget the tiles
        if self._plugin is not None:
            data_mod.release(self.client, self._plugin)
            self._plugin = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def submit_cholesky(X, kernel="gaussian", *, reg=0.0, client=None, tile_size=None,
                    dtype=np.float64, bandwidth=None, placement="block-cyclic"):
    """Start the distributed factorization of ``K(X, X) + reg I``; returns at once.

    Parameters
    ----------
    X : array of shape (n, d), or path of a ``.npy`` file every worker can read
    kernel : str, Kernel or callable, default "gaussian"
    reg : float, default 0
    client : None, distributed.Client or str
        See :func:`~kernelfit.distributed.resolve_client`.
    tile_size : int, optional
        Tile edge (:func:`~kernelfit.linalg.default_tile_size`, at most 2048).
    dtype : {float64, float32}
        Storage of the tiles.
    bandwidth : float, optional
        Kernel width when ``kernel`` is a name (median heuristic if None).
    placement : {"block-cyclic", "scheduler"}, default "block-cyclic"
        Pin tile ``(i, j)`` and its updates to one worker of a 2-D
        block-cyclic grid (:mod:`~kernelfit.distributed.placement`; only
        factor tiles then travel), or let Dask's scheduler place every task.

    Returns
    -------
    DistributedFactor
        Not yet computed: call :meth:`DistributedFactor.wait`.

    Raises
    ------
    MemoryBudgetError
        A tile task would not fit in the smallest worker's memory limit;
        checked before anything is sent.
    """
    reg = check_nonnegative(reg, "reg")
    if placement not in ("block-cyclic", "scheduler"):
        raise ValueError(f"placement must be 'block-cyclic' or 'scheduler'; found {placement!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64; found {dtype}")
    client = resolve_client(client)
    source, n, d, x_dtype = data_mod.describe(X)
    kernel = make_kernel(kernel, bandwidth=bandwidth, X=data_mod.local_view(source))
    b = int(tile_size or default_tile_size(n))
    if b < 1:
        raise ValueError(f"tile_size must be >= 1; found {tile_size}")
    b = min(b, n)
    tile = b * b * dtype.itemsize
    # A tile op holds three tiles; a Gram tile needs ~5 b^2 float64 numbers of temporaries.
    per_task = max(3 * tile, 5 * b * b * 8 + 2 * b * d * 8)
    check_task_memory(client, n * d * x_dtype.itemsize, per_task,
                      f"the distributed Cholesky with {b} x {b} {dtype} tiles")
    handle, plugin = data_mod.install(client, source)
    nt = -(-n // b)

    def bounds(i):
        return slice(i * b, min((i + 1) * b, n))

    name = f"tile-{uuid.uuid4().hex[:12]}"
    graph, final = factor_graph(name, nt, bounds, handle.token, kernel, dtype, reg)
    keys = list(final.values())
    pinning = {} if placement == "scheduler" else {
        "workers": block_cyclic_owner(worker_memory_limits(client)),
        "allow_other_workers": True}
    try:
        with dask.annotate(**pinning):
            futures = client.get(graph, keys, sync=False)
    except BaseException:
        data_mod.release(client, plugin)
        raise
    tiles = dict(zip(final, futures, strict=True))
    return DistributedFactor(client, kernel, reg, handle, plugin, n, b, tiles, dtype,
                             len(graph))


def cholesky_factor(X, kernel="gaussian", *, progress=None, **options):
    """:func:`submit_cholesky`, then wait for it; see there for the parameters."""
    return submit_cholesky(X, kernel, **options).wait(progress)


def exact_solve(X, Y, kernel="gaussian", *, reg=0.0, client=None, tile_size=None,
                dtype=np.float64, bandwidth=None, progress=None):
    """Solve ``(K(X, X) + reg I) alpha = Y`` exactly on a Dask cluster.

    Parameters
    ----------
    X : array of shape (n, d), or path of a ``.npy`` file every worker can read
    Y : array of shape (n,) or (n, c)
    kernel, reg, client, tile_size, dtype, bandwidth
        As in :func:`submit_cholesky`.
    progress : callable, optional
        Phases ``"cholesky"`` and ``"solve"``.

    Returns
    -------
    alpha : ndarray of shape (n,) or (n, c), float64
        Only this ``n x c`` array comes back to the client.
    """
    n = data_mod.describe(X)[1]
    if np.ndim(Y) not in (1, 2) or np.shape(Y)[0] != n:
        raise ValueError(f"Y must have shape ({n},) or ({n}, c); found {np.shape(Y)}")
    factor = cholesky_factor(X, kernel, reg=reg, client=client, tile_size=tile_size,
                             dtype=dtype, bandwidth=bandwidth, progress=progress)
    with factor:
        return factor.solve(Y, progress=progress)
