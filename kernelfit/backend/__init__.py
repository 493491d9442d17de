"""Where arrays live and how the few non-standard operations run on them.

``device="auto" | "cpu" | "cuda"`` is resolved once per public call by
:func:`resolve_device`. Arrays of another array-API library (PyTorch,
array-api-strict) get a generic backend through :func:`backend_for`. A backend
gives the array namespace ``xp`` and a small table of tile operations used by
the tiled Cholesky: ``potrf``, ``trsm_right_lower_t``, ``trsm_left_lower``,
``gemm_nt`` and ``syrk``. CuPy is imported here and nowhere else.
"""

from __future__ import annotations

import warnings
from functools import cache, lru_cache

import numpy as np

__all__ = [
    "Backend",
    "NotPositiveDefiniteError",
    "backend_for",
    "cuda_available",
    "numpy_dtype",
    "resolve_device",
    "to_numpy",
]

_GPU_HINT = (
    "install the gpu extra (pip install 'kernelfit[gpu]', which brings CuPy for CUDA 12) "
    "on a machine with an NVIDIA GPU"
)


def numpy_dtype(dtype) -> np.dtype:
    """The NumPy dtype of any array library's dtype (``torch.float32``,
    ``array_api_strict.float64``, ...)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(str(dtype).rsplit(".", 1)[-1])


class NotPositiveDefiniteError(np.linalg.LinAlgError):
    """A Cholesky factorization met a non-positive pivot.

    Attributes
    ----------
    index : int or None
        Global index of the failing pivot, when known.
    """

    def __init__(self, message: str, index: int | None = None):
        super().__init__(message)
        self.index = index


class Backend:
    """Array namespace plus the tile operations of one device.

    All tile operations work in place on 2-D arrays of this backend, with the
    lower-triangular convention ``A = L L^T``.
    """

    name = "array-api"
    device = "cpu"

    def __init__(self, xp):
        self.xp = xp

    # -- arrays --------------------------------------------------------------
    def asarray(self, a, dtype=None):
        """Convert ``a`` to an array of this backend (no copy when possible)."""
        return self.xp.asarray(a, dtype=dtype) if dtype is not None else self.xp.asarray(a)

    def empty(self, shape, dtype, fortran: bool = False):
        """Uninitialised array; ``fortran=True`` gives column-major where supported."""
        return self.xp.empty(shape, dtype=dtype)

    def to_numpy(self, a) -> np.ndarray:
        """Copy ``a`` to a NumPy array on the host."""
        return np.from_dlpack(a) if not isinstance(a, np.ndarray) else a

    def dtype(self, name):
        """The namespace's dtype for a NumPy dtype or name (namespace dtypes pass through)."""
        try:
            return getattr(self.xp, np.dtype(name).name)
        except TypeError:
            return name

    def synchronize(self) -> None:
        """Wait for queued device work (no-op on the CPU)."""

    # -- tile operations (generic, array-API only) --------------------------
    def potrf(self, a, offset: int = 0):
        """Lower Cholesky factor of the SPD tile ``a``; returns it (may be a new array)."""
        xp = self.xp
        L = xp.linalg.cholesky(a)
        if not bool(xp.all(xp.isfinite(xp.linalg.diagonal(L)))):
            raise NotPositiveDefiniteError("matrix is not positive definite", offset)
        return L

    def trsm_right_lower_t(self, L, B):
        """Return ``B @ inv(L).T`` for lower-triangular ``L``."""
        xp = self.xp
        return xp.linalg.matrix_transpose(xp.linalg.solve(L, xp.linalg.matrix_transpose(B)))

    def trsm_left_lower(self, L, B, trans: bool = False):
        """Return ``inv(L) @ B`` (or ``inv(L).T @ B`` when ``trans``)."""
        xp = self.xp
        A = xp.linalg.matrix_transpose(L) if trans else L
        return xp.linalg.solve(A, B)

    def gemm_nt(self, C, A, B, alpha: float = -1.0):
        """Return ``C + alpha * A @ B.T`` (in place where the backend allows)."""
        xp = self.xp
        return C + alpha * (A @ xp.linalg.matrix_transpose(B))

    def syrk(self, C, A):
        """Return ``C - A @ A.T`` (only the lower triangle is meaningful)."""
        return self.gemm_nt(C, A, A, -1.0)


class NumpyBackend(Backend):
    """NumPy arrays with SciPy's BLAS/LAPACK on F-ordered tiles (in place, no copies)."""

    name = "numpy"

    def __init__(self):
        super().__init__(np)
        from scipy.linalg import blas, lapack

        self._blas, self._lapack = blas, lapack

    def empty(self, shape, dtype, fortran: bool = False):
        return np.empty(shape, dtype=dtype, order="F" if fortran else "C")

    def to_numpy(self, a) -> np.ndarray:
        return np.asarray(a)

    def dtype(self, name):
        return np.dtype(name)

    def _fn(self, kind, name, a):
        prefix = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}.get(a.dtype)
        if prefix is None:
            raise TypeError(f"tile operations need float32 or float64; found {a.dtype}")
        return getattr(kind, prefix + name)

    def potrf(self, a, offset: int = 0):
        L, info = self._fn(self._lapack, "potrf", a)(a, lower=1, overwrite_a=1, clean=1)
        if info == 0 and not np.isfinite(L.diagonal()).all():
            raise NotPositiveDefiniteError("Cholesky factor contains NaN or infinity", offset)
        if info != 0:
            raise NotPositiveDefiniteError(
                f"matrix is not positive definite (pivot {offset + info - 1} is not positive)",
                offset + info - 1 if info > 0 else None,
            )
        return L

    def trsm_right_lower_t(self, L, B):
        fn = self._fn(self._blas, "trsm", B)
        return fn(1.0, L, B, side=1, lower=1, trans_a=1, overwrite_b=1)

    def trsm_left_lower(self, L, B, trans: bool = False):
        fn = self._fn(self._blas, "trsm", B)
        return fn(1.0, L, B, side=0, lower=1, trans_a=int(trans), overwrite_b=1)

    def gemm_nt(self, C, A, B, alpha: float = -1.0):
        fn = self._fn(self._blas, "gemm", C)
        return fn(alpha, A, B, 1.0, C, trans_b=1, overwrite_c=1)

    def syrk(self, C, A):
        fn = self._fn(self._blas, "syrk", C)
        return fn(-1.0, A, beta=1.0, c=C, lower=1, overwrite_c=1)


class CupyBackend(Backend):
    """CuPy arrays with cuBLAS/cuSOLVER; factorizations are checked for NaN."""

    name = "cupy"
    device = "cuda"

    def __init__(self):
        import cupy

        super().__init__(cupy)

    def empty(self, shape, dtype, fortran: bool = False):
        return self.xp.empty(shape, dtype=dtype, order="F" if fortran else "C")

    def to_numpy(self, a) -> np.ndarray:
        return self.xp.asnumpy(a)

    def dtype(self, name):
        return np.dtype(name)

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()

    def potrf(self, a, offset: int = 0):
        import cupyx

        with cupyx.errstate(linalg="raise"):
            try:
                L = self.xp.linalg.cholesky(a)
            except np.linalg.LinAlgError as exc:
                raise NotPositiveDefiniteError(f"not positive definite: {exc}", offset) from exc
        if not bool(self.xp.isfinite(L.diagonal()).all()):
            raise NotPositiveDefiniteError("Cholesky factor contains NaN or infinity", offset)
        return L

    def trsm_right_lower_t(self, L, B):
        from cupyx.scipy.linalg import solve_triangular

        return solve_triangular(L, B.T, lower=True).T

    def trsm_left_lower(self, L, B, trans: bool = False):
        from cupyx.scipy.linalg import solve_triangular

        return solve_triangular(L, B, lower=True, trans=1 if trans else 0)

    def gemm_nt(self, C, A, B, alpha: float = -1.0):
        C -= (-alpha) * (A @ B.T) if alpha != -1.0 else A @ B.T
        return C

    def syrk(self, C, A):
        return self.gemm_nt(C, A, A, -1.0)


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
    return CupyBackend() if name == "cupy" else NumpyBackend()


_warned_auto = False


def resolve_device(device: str = "auto") -> Backend:
    """Resolve ``device`` to a backend, once per public call.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        ``"auto"`` uses the GPU when CuPy and a CUDA device are present and
        otherwise the CPU (warning once); ``"cuda"`` requires them.

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
    if device not in ("auto", "cpu", "cuda"):
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


def to_numpy(a) -> np.ndarray:
    """Host NumPy copy of an array of any supported library (no copy for NumPy)."""
    if isinstance(a, np.ndarray):
        return a
    if type(a).__module__.split(".")[0] == "cupy":
        return a.get()
    return np.from_dlpack(a) if hasattr(a, "__dlpack__") else np.asarray(a)


def backend_for(X, device: str = "auto") -> Backend:
    """Backend for the array ``X``: CuPy arrays stay on the GPU, other array-API
    arrays (torch, array-api-strict) get the generic backend, NumPy arrays and
    lists follow ``device``."""
    if isinstance(X, np.ndarray) or not hasattr(X, "__array_namespace__"):
        return resolve_device(device)
    module = type(X).__module__.split(".")[0]
    if module == "cupy":
        if device == "cpu":
            raise RuntimeError("X is a CuPy (GPU) array but device='cpu' was requested")
        return _backend("cupy")
    from array_api_compat import array_namespace

    return Backend(array_namespace(X))
