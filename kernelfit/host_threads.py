"""The host's worker threads for element-wise and streaming passes (NumPy, Numba).

NumPy ufuncs, SciPy's ``cdist`` and kernelfit's Numba kernels release the GIL,
so a few Python threads keep every core busy on work that BLAS does not do: the
kernel blocks' elementwise passes and the skinny tile products. One pool serves
them all (:func:`thread_pool`), sized by :func:`element_threads`.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache

__all__ = ["MAX_THREADS", "element_threads", "run_shares", "thread_pool"]

#: Most threads for the passes (they are memory- and exp-bound).
MAX_THREADS = 8


@cache
def element_threads() -> int:
    """CPUs this process may use, capped by ``OMP_NUM_THREADS`` or
    ``OPENBLAS_NUM_THREADS`` when set (Dask workers set them to 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    limits = [cpus, MAX_THREADS]
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            limits.append(int(value))
    return max(1, min(limits))


@cache
def thread_pool() -> ThreadPoolExecutor:
    """The shared pool of :func:`element_threads` workers."""
    return ThreadPoolExecutor(element_threads(), thread_name_prefix="kernelfit-block")


if hasattr(os, "register_at_fork"):  # a forked child gets a new pool, not dead threads
    os.register_at_fork(after_in_child=thread_pool.cache_clear)


_IN_POOL = threading.local()


def _in_pool(fn, *args):
    _IN_POOL.active = True
    try:
        return fn(*args)
    finally:
        _IN_POOL.active = False


def run_shares(fn, total: int, shares: int) -> None:
    """Call ``fn(index, start, stop)`` for ``shares`` contiguous shares of ``range(total)``,
    on the pool when there is more than one (a worker's exception is re-raised).

    Called from one of the pool's own workers it runs the shares in that worker, one
    after the other: waiting there for the pool could wait forever.
    """
    shares = max(1, min(shares, total))
    bounds = [total * i // shares for i in range(shares + 1)]
    if shares == 1 or getattr(_IN_POOL, "active", False):
        for i in range(shares):
            fn(i, bounds[i], bounds[i + 1])
        return
    list(thread_pool().map(lambda i: _in_pool(fn, i, bounds[i], bounds[i + 1]),
                           range(shares)))
