"""Where arrays live and how the few non-standard operations run on them.

``device="auto" | "cpu" | "cuda"`` is resolved once per public call by
:func:`resolve_device` into a :class:`Backend`, which is what the layers below
receive (never a device string). Arrays of another array-API library (PyTorch,
array-api-strict) get a generic backend on their own device through
:func:`backend_for`. A backend owns the array namespace ``xp``, array
creation on its device, casts, host <-> device copies, synchronization, the
free memory budgets come from, and the tile operations of the tiled Cholesky:
``potrf``, ``trsm_right_lower_t``, ``trsm_left_lower``, ``gemm_nt``, ``syrk``.

* :mod:`.generic` -- any array-API namespace, on any of its devices;
* :mod:`.host` -- NumPy with SciPy's BLAS/LAPACK;
* :mod:`.cuda` -- CuPy with cuBLAS/cuSOLVER. CuPy is imported there (and in
  :func:`cuda_available`) and nowhere else.
"""

from __future__ import annotations

import warnings
from functools import cache, lru_cache

import numpy as np

from .generic import Backend, NotPositiveDefiniteError, numpy_dtype

__all__ = [
    "Backend",
    "NotPositiveDefiniteError",
    "backend_for",
    "cuda_available",
    "host_backend",
    "numpy_dtype",
    "resolve_device",
    "resolve_precision",
    "to_numpy",
]

_GPU_HINT = (
    "install CuPy for the machine's CUDA (pip install 'kernelfit[gpu-cuda12]' or "
    "'kernelfit[gpu-cuda13]', or keep a preinstalled cupy) on a machine with an NVIDIA GPU"
)

#: The device names a public entry point accepts.
DEVICES = ("auto", "cpu", "cuda")


@lru_cache(maxsize=1)
def cuda_available() -> bool:
    """True if CuPy imports and sees at least one CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@cache
def _backend(name: str) -> Backend:
    if name == "cupy":
        from .cuda import CupyBackend

        return CupyBackend()
    from .host import NumpyBackend

    return NumpyBackend()


def host_backend() -> Backend:
    """The NumPy backend, for code that runs on the host by design (Dask workers,
    out-of-core tiles); no device is resolved and nothing is warned."""
    return _backend("numpy")


_warned_auto = False


def resolve_device(device="auto") -> Backend:
    """Resolve ``device`` to a backend, once per public call.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"} or Backend
        ``"auto"`` uses the GPU when CuPy and a CUDA device are present and
        otherwise the CPU (warning once when CuPy is installed); ``"cuda"``
        requires them. A :class:`Backend` (already resolved) is returned as is.

    Returns
    -------
    Backend

    Raises
    ------
    RuntimeError
        ``device="cuda"`` without CuPy or a GPU.
    ValueError
        An unknown device name.
    """
    global _warned_auto
    if isinstance(device, Backend):
        return device
    if device not in DEVICES:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda'; found {device!r}")
    if device == "cpu":
        return _backend("numpy")
    if cuda_available():
        return _backend("cupy")
    if device == "cuda":
        raise RuntimeError(f"device='cuda' was requested but no CUDA GPU is usable; {_GPU_HINT}")
    if not _warned_auto and _cupy_importable():
        warnings.warn("CuPy is installed but no CUDA device was found; using the CPU", stacklevel=3)
        _warned_auto = True
    return _backend("numpy")


def _cupy_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("cupy") is not None


def _library(a) -> str:
    return type(a).__module__.split(".")[0]


def to_numpy(a) -> np.ndarray:
    """Host NumPy copy of an array of any supported library (no copy for NumPy).

    An explicit device -> host copy: CuPy arrays through ``.get()``, arrays on
    a non-default device of another namespace moved to its default device first.
    """
    if isinstance(a, np.ndarray):
        return a
    if _library(a) == "cupy":
        return a.get()
    if not hasattr(a, "__array_namespace__"):
        return np.asarray(a)
    return Backend(a.__array_namespace__()).to_numpy(a)


def backend_for(X, device="auto") -> Backend:
    """Backend for the array ``X``.

    CuPy arrays stay on the GPU; other array-API arrays (torch,
    array-api-strict) get the generic backend on ``X``'s own device; NumPy
    arrays and lists follow ``device``. A :class:`Backend` passed as ``device``
    (resolved by the caller) is returned as is.
    """
    if isinstance(device, Backend):
        return device
    if isinstance(X, np.ndarray) or not hasattr(X, "__array_namespace__"):
        return resolve_device(device)
    if _library(X) == "cupy":
        if device == "cpu":
            raise RuntimeError("X is a CuPy (GPU) array but device='cpu' was requested")
        return _backend("cupy")
    from array_api_compat import array_namespace
    from array_api_compat import device as device_of

    return Backend(array_namespace(X), device_of(X))


#: The precisions a solve accepts; "auto" is the device's default.
PRECISIONS = ("auto", "float64", "float32", "mixed")


def resolve_precision(precision, backend: Backend) -> str:
    """The precision a solve runs in on ``backend``.

    Parameters
    ----------
    precision : {"auto", "float64", "float32", "mixed"}
        ``"auto"`` gives ``backend.default_precision``: ``"mixed"`` on the CPU
        (a float32 factor refined to float64 accuracy; SGEMM is about twice as
        fast as DGEMM) and ``"float64"`` on a GPU (FP64 tensor cores run about
        as fast as FP32, so refinement would only add passes).
    backend : Backend

    Returns
    -------
    str
        One of ``"float64"``, ``"float32"``, ``"mixed"``.

    Raises
    ------
    ValueError
        An unknown precision.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}; "
                         f"found {precision!r}")
    return backend.default_precision if precision == "auto" else precision
