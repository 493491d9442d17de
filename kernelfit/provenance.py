"""Provenance of a result: the versions of the software and a description of the machine.

Every result record (experiments, ``kernelfit bench``, the bench programs, the
reproduction report) carries :func:`environment`'s two dicts.
"""

from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np

__all__ = ["environment", "run_record", "save_run"]


def run_record(**fields) -> dict:
    """What a bench program writes: the command that ran, the date, :func:`environment`'s
    versions and machine, then ``fields`` (e.g. ``rows=...``).

    Returns
    -------
    dict
        ``{"command": "python <argv>", "date": ..., "versions": ..., "machine": ...,
        **fields}``, JSON-ready when ``fields`` are.
    """
    versions, machine = environment()
    return {"command": " ".join(["python", *sys.argv]),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "versions": versions,
            "machine": machine, **fields}


def blas_thread_timeout() -> str:
    """``OPENBLAS_THREAD_TIMEOUT`` as this process's BLAS read it (see
    :data:`kernelfit.BLAS_THREAD_TIMEOUT`), with a note when NumPy's OpenBLAS had
    loaded before kernelfit set it."""
    import kernelfit

    value = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "OpenBLAS default")
    return value + (" (NumPy loaded first: its OpenBLAS kept the default)"
                    if kernelfit.BLAS_LOADED_FIRST else "")


def environment() -> tuple[dict, dict]:
    """Versions of Python, NumPy, SciPy and the BLAS, and a description of the machine.

    Returns
    -------
    versions : dict
        ``kernelfit``, ``python``, ``numpy``, ``scipy`` and ``blas`` (one dict per BLAS
        loaded: ``internal_api``, ``version``, ``num_threads``, ``architecture``).
    machine : dict
        ``cpu`` (the model name where ``/proc/cpuinfo`` gives it), ``cores``,
        ``platform``, and ``gpu`` (the device name) when CUDA is available.
    """
    import scipy
    from threadpoolctl import threadpool_info

    from . import __version__

    blas = [
        {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
        for info in threadpool_info()
    ]
    versions = {"kernelfit": __version__, "python": platform.python_version(),
                "numpy": np.__version__, "scipy": scipy.__version__, "blas": blas,
                "blas_thread_timeout": blas_thread_timeout()}
    machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
               "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if "model name" in ln), None)
        machine["cpu"] = model or machine["cpu"]
    except OSError:
        pass
    from .backend import cuda_available

    if cuda_available():
        import cupy

        machine["gpu"] = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    return versions, machine


def save_run(path, **fields) -> dict:
    """:func:`run_record` of ``fields``, written atomically to ``path`` (if given) with a
    line that says where; returns the record."""
    from .results_io import write_json

    record = run_record(**fields)
    if path:
        write_json(record, path)
        print(f"wrote {path}")
    return record
