"""Finding the Dask client, and checking worker memory before anything is submitted.

:func:`resolve_client` turns what a user passes (``None``, a ``Client``, a
scheduler address, or ``"local:N"`` / ``"local:N:MEMORY"``) into a client,
starting a :class:`distributed.LocalCluster` of ``N`` single-threaded worker
processes for the ``local`` form. :func:`check_task_memory` refuses, before
submitting, a task that could not run inside the smallest worker's
``memory_limit``, and gives both numbers.
"""

from __future__ import annotations

import atexit
import re
import threading

import dask
import distributed

from ..memory import MemoryBudgetError, format_bytes, parse_budget

__all__ = ["check_task_memory", "close_clients", "resolve_client", "worker_memory_limits"]

_LOCAL = re.compile(r"local:(\d+)(?::(.+))?")
_CLIENTS: dict[str, distributed.Client] = {}
_LOCK = threading.Lock()


def resolve_client(client=None) -> distributed.Client:
    """The Dask client to run on.

    Parameters
    ----------
    client : None, distributed.Client or str
        ``None``: the current default client (``distributed.get_client()``).
        A ``Client``: used as is. ``"local:N"`` or ``"local:N:MEMORY"``: a
        :class:`~distributed.LocalCluster` of ``N`` worker processes with one
        thread each (and ``MEMORY`` per worker, e.g. ``"3GiB"``), started once
        per process and reused. Any other string: the address of a running
        scheduler (``"tcp://host:8786"``), connected once and reused.

    Returns
    -------
    distributed.Client

    Raises
    ------
    RuntimeError
        ``None`` and no client exists.
    ValueError
        A malformed ``"local:..."`` specification.
    TypeError
        Anything else.
    """
    if isinstance(client, distributed.Client):
        return client
    if client is None:
        try:
            return distributed.get_client()
        except ValueError:
            raise RuntimeError(
                "the dask backend needs a cluster: pass client=distributed.Client(...), a "
                "scheduler address such as 'tcp://host:8786', or 'local:N'; found no client"
            ) from None
    if not isinstance(client, str):
        raise TypeError(
            "client must be None, a distributed.Client, a scheduler address or 'local:N'; "
            f"found {type(client).__name__}"
        )
    with _LOCK:
        existing = _CLIENTS.get(client)
        if existing is not None and existing.status == "running":
            return existing
        _CLIENTS[client] = _start_local(client) if client.startswith("local") else (
            distributed.Client(client, set_as_default=False))
        return _CLIENTS[client]


def _start_local(spec: str) -> distributed.Client:
    match = _LOCAL.fullmatch(spec)
    if match is None or int(match.group(1)) < 1:
        raise ValueError(
            f"a local cluster is written 'local:N' or 'local:N:MEMORY' with N >= 1 workers "
            f"(e.g. 'local:4:3GiB'); found {spec!r}"
        )
    memory = match.group(2)
    cluster = distributed.LocalCluster(
        n_workers=int(match.group(1)), threads_per_worker=1, processes=True,
        memory_limit=parse_budget(memory) if memory else "auto", dashboard_address=":0",
    )
    return distributed.Client(cluster, set_as_default=False)


def close_clients() -> None:
    """Close the clients (and local clusters) started by :func:`resolve_client`."""
    with _LOCK:
        for client in _CLIENTS.values():
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()
        _CLIENTS.clear()


atexit.register(close_clients)


def worker_memory_limits(client) -> dict[str, tuple[int | None, int]]:
    """``{address: (memory_limit in bytes or None when unlimited, threads)}`` per worker."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return {
        address: (int(info["memory_limit"]) or None, int(info["nthreads"]))
        for address, info in workers.items()
    }


def check_task_memory(client, resident: int, per_task: int, what: str) -> None:
    """Refuse work whose tasks could not run within the workers' memory limits.

    A worker holds ``resident`` bytes for the whole run (the data replica) and
    runs up to ``nthreads`` tasks of ``per_task`` bytes each at once. Dask
    pauses a worker at the ``distributed.worker.memory.pause`` fraction of its
    ``memory_limit`` (0.8 by default), so that is the bound checked here.

    Parameters
    ----------
    client : distributed.Client
    resident : int
        Bytes every worker keeps while the run lasts.
    per_task : int
        Working set of the largest task.
    what : str
        What the task is, for the message.

    Raises
    ------
    MemoryBudgetError
        With the bytes needed and the smallest worker's limit.
    RuntimeError
        The cluster has no workers.
    """
    limits = worker_memory_limits(client)
    if not limits:
        raise RuntimeError("the Dask cluster has no workers; expected at least one, found 0")
    pause = dask.config.get("distributed.worker.memory.pause", 0.8) or 1.0
    for address, (limit, threads) in sorted(limits.items(), key=lambda kv: kv[1][0] or 0):
        if limit is None:
            continue
        needed = resident + threads * per_task
        usable = int(pause * limit)
        if needed > usable:
            raise MemoryBudgetError(
                f"{what} needs {format_bytes(needed)} ({needed:,} bytes) on each worker "
                f"({format_bytes(resident)} resident + {threads} thread(s) x "
                f"{format_bytes(per_task)} per task), but worker {address} has a memory_limit "
                f"of {format_bytes(limit)} ({limit:,} bytes), of which {pause:.0%} "
                f"({usable:,} bytes) is usable before Dask pauses it; use a smaller tile_size "
                "or workers with more memory"
            )
