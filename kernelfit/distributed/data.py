"""The training data, replicated on every worker for the length of a run.

Gram tiles and matrix-free products need rows ``X_i`` and ``X_j`` together,
so each worker keeps a replica of ``X`` (``n x d``, small next to the ``n^2 / 2``
numbers of ``K``) and tasks name row ranges instead of carrying data. The
replica is installed by a :class:`distributed.WorkerPlugin`, which the
scheduler also sends to every worker that joins later -- a worker restarted
after a crash gets the data back, so a task lost with it can be recomputed
from its inputs alone. (Data placed with ``client.scatter`` has no lineage:
lost with a worker, it cannot be recomputed, and Dask's memory manager drops
extra replicas of it.)

``X`` is either an array, sent to each worker once through the scheduler, or
the path of a ``.npy`` file on storage every worker can read, which each
worker memory-maps (for data sets too large to pass through the client).
"""

from __future__ import annotations

import os
import threading
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import distributed
import numpy as np

from ..validation import check_finite_rows, check_matrix

__all__ = [
    "ReplicaPlugin",
    "ReplicatedData",
    "describe",
    "embedded",
    "local_view",
    "replicated_data",
    "rows",
    "submit",
]

_REPLICAS: dict[str, tuple[np.ndarray, set]] = {}
_LOCK = threading.Lock()


class ReplicaPlugin(distributed.WorkerPlugin):
    """Installs the array (or memory-maps the ``.npy`` file) ``source`` on a worker."""

    def __init__(self, token: str, source):
        self.token = token
        self.source = source
        self.name = f"kernelfit-data-{token}"

    def setup(self, worker):
        with _LOCK:
            if self.token not in _REPLICAS:
                data = self.source
                if isinstance(data, str):
                    data = np.load(data, mmap_mode="r")  # .npy data are 64-byte aligned
                elif not data.flags.aligned:  # unpickled at an odd offset of a frame
                    data = np.array(data)
                _REPLICAS[self.token] = (data, set())
            _REPLICAS[self.token][1].add(worker.address)

    def teardown(self, worker):
        with _LOCK:
            entry = _REPLICAS.get(self.token)
            if entry is not None:
                entry[1].discard(worker.address)
                if not entry[1]:
                    del _REPLICAS[self.token]


def rows(token: str, start: int, stop: int, dtype=None) -> np.ndarray:
    """Rows ``start:stop`` of the replica ``token`` on this worker (called inside tasks)."""
    entry = _REPLICAS.get(token)
    if entry is None:
        raise RuntimeError(
            f"worker has no replica of data {token}; expected it from the kernelfit data "
            "plugin (was the run's data released before its tasks finished?)"
        )
    block = np.asarray(entry[0][start:stop])
    return block if dtype is None or block.dtype == dtype else block.astype(dtype)


@dataclass(frozen=True)
class ReplicatedData:
    """A handle on data replicated to the workers: what tasks need to find it.

    Attributes
    ----------
    token : str
        Key of the replica on each worker.
    n, d : int
        Shape of ``X``.
    dtype : numpy.dtype
    """

    token: str
    n: int
    d: int
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        """Bytes of one replica."""
        return self.n * self.d * self.dtype.itemsize


def describe(X):
    """``(source, n, d, dtype)`` of an array or a ``.npy`` path, checking the array."""
    if isinstance(X, (str, os.PathLike)):
        path = os.fspath(X)
        header = np.load(path, mmap_mode="r")
        if header.ndim != 2 or header.dtype not in (np.float32, np.float64):
            raise ValueError(
                f"the data file {path} must hold a 2-D float32 or float64 array; found "
                f"shape {header.shape} and dtype {header.dtype}"
            )
        return os.path.abspath(path), header.shape[0], header.shape[1], header.dtype
    X = check_matrix(X, "X")
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    check_finite_rows(X, "X")
    return np.ascontiguousarray(X), X.shape[0], X.shape[1], X.dtype


def local_view(source):
    """The data on the client: the array itself, or the ``.npy`` file memory-mapped."""
    return np.load(source, mmap_mode="r") if isinstance(source, str) else source


@contextmanager
def replicated_data(client, X):
    """Replicate ``X`` (array or ``.npy`` path) on every worker while the block runs.

    Yields
    ------
    ReplicatedData
    """
    handle, plugin = install(client, X)
    try:
        yield handle
    finally:
        release(client, plugin)


def install(client, X):
    """Register the replica plugin; returns ``(ReplicatedData, plugin name)``."""
    source, n, d, dtype = describe(X)
    token = uuid.uuid4().hex
    plugin = ReplicaPlugin(token, source)
    client.register_plugin(plugin, name=plugin.name)
    return ReplicatedData(token, int(n), int(d), np.dtype(dtype)), plugin.name


def release(client, plugin_name: str) -> None:
    """Unregister a replica plugin (each worker drops its copy)."""
    if client.status == "running":
        client.unregister_worker_plugin(plugin_name)


def _identity(value):
    return value


def submit(client, function, *args):
    """``client.submit(function, *args)`` with array arguments carried in the task itself.

    The scheduler keeps the arguments, so it can rerun the task elsewhere if
    the worker holding its result is lost; Dask's warning about large graphs
    is silenced because carrying the data is the point.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        return client.submit(function, *args, pure=False)


def embedded(client, value):
    """A future holding ``value``, recomputable from its task (unlike ``client.scatter``).

    Used for right-hand sides and iterates, which survive the loss of the
    worker holding them.
    """
    return submit(client, _identity, value)
