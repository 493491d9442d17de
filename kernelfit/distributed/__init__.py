"""Exact and matrix-free kernel solves on a Dask cluster (the ``dask`` extra).

The same algorithms as the single-machine path, run as ``dask.distributed``
tasks; kernelfit brings no scheduler of its own.

* Exact: :func:`submit_cholesky` / :func:`cholesky_factor` turn the op list of
  :func:`kernelfit.linalg.cholesky_graph` into a task graph whose Gram tiles
  are computed on the workers and whose tiles stay in worker memory (spilling
  to worker disk under Dask's memory manager); :meth:`DistributedFactor.solve`
  runs the tiled triangular solves there too, and the client only gathers the
  ``n x c`` solution. :func:`exact_solve` does both.
* Matrix-free: :func:`pcg_solve`, preconditioned conjugate gradients with
  ``K @ V`` computed on the workers from the data alone and a rank-``r``
  Nyström or randomly pivoted Cholesky preconditioner.
* :func:`dask_kernel_matvec` (predictions), :func:`resolve_client`
  (``Client``, ``"tcp://host:8786"`` or ``"local:N"``), :func:`transfer_totals`
  and :func:`transfer_delta` (bytes sent between workers and spilled).

Importing :mod:`kernelfit` never imports Dask; this package imports it on
first use of one of its names.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DistributedFactor": "factorization",
    "cholesky_factor": "factorization",
    "exact_solve": "factorization",
    "submit_cholesky": "factorization",
    "dask_kernel_matvec": "matvec",
    "PCGConvergenceWarning": "pcg",
    "PCGInfo": "pcg",
    "pcg_solve": "pcg",
    "LowRankPreconditioner": "preconditioners",
    "nystrom_preconditioner": "preconditioners",
    "rpcholesky_preconditioner": "preconditioners",
    "check_task_memory": "cluster",
    "close_clients": "cluster",
    "resolve_client": "cluster",
    "worker_memory_limits": "cluster",
    "transfer_delta": "metrics",
    "transfer_totals": "metrics",
}

__all__ = sorted(_EXPORTS)

_INSTALL_HINT = "kernelfit.distributed needs the dask extra: pip install 'kernelfit[dask]'"


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kernelfit.distributed' has no attribute {name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
    except ModuleNotFoundError as exc:
        if exc.name in ("dask", "distributed"):
            raise ModuleNotFoundError(f"{_INSTALL_HINT} ({exc})", name=exc.name) from exc
        raise
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
