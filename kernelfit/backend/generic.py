"""The generic backend: any array-API namespace on any of its devices.

:class:`Backend` is the base of every backend. It owns one namespace ``xp``
and one device, and every operation that is not plain ``xp`` math: array
creation on its device, dtype casts, host <-> device copies, synchronization,
the free memory that budgets device allocations, and the tile operations of
the tiled Cholesky. The generic versions here use only the array API, so they
run on PyTorch, on array-api-strict (which emulates several devices on the
CPU, refusing to mix them) and on anything else that follows the standard.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ..phase_clock import timed_phase

__all__ = ["Backend", "NotPositiveDefiniteError", "numpy_dtype"]


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
    """Array namespace, device and the non-standard operations of one device.

    Parameters
    ----------
    xp : module
        An array-API namespace (``array_api_compat.array_namespace`` of an array).
    array_device : object, optional
        The namespace's device object arrays are created on (``x.device``);
        None for the namespace's default device.

    Notes
    -----
    All tile operations work on 2-D arrays of this backend, with the
    lower-triangular convention ``A = L L^T``; they return their result, which
    is the updated input where the backend can work in place.
    """

    #: Short name for reports ("numpy", "cupy" or "array-api").
    name = "array-api"
    #: True when arrays live in host memory as NumPy arrays (no copies to make).
    is_host = False
    #: Largest tile edge of the tiled Cholesky on this device.
    max_tile = 2048
    #: What ``dtype="auto"`` solves in (see :func:`kernelfit.backend.resolve_precision`).
    default_precision = "float64"

    def __init__(self, xp, array_device=None):
        self.xp = xp
        self.array_device = array_device

    @property
    def device(self) -> str:
        """The device in words (``"cpu"``, ``"cuda"`` or the namespace's device)."""
        return "cpu" if self.array_device is None else str(self.array_device)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, device={self.device})"

    # -- arrays on this device -------------------------------------------------
    def _on_device(self) -> dict:
        return {} if self.array_device is None else {"device": self.array_device}

    def asarray(self, a, dtype=None):
        """``a`` as an array of this backend on its device (no copy when it is one).

        A host array (NumPy, list) is copied to the device explicitly here.
        """
        dtype = self.dtype(dtype) if dtype is not None else None
        if isinstance(a, np.ndarray) and dtype is None:
            dtype = self.dtype(a.dtype)
        return self.xp.asarray(a, dtype=dtype, **self._on_device())

    def to_numpy(self, a) -> np.ndarray:
        """Copy ``a`` to a NumPy array on the host (the only device -> host path)."""
        if isinstance(a, np.ndarray):
            return a
        info = getattr(self.xp, "__array_namespace_info__", None)
        if info is not None and hasattr(a, "to_device"):
            default = info().default_device()
            if a.device != default:
                a = a.to_device(default)
        return np.from_dlpack(a)

    def dtype(self, name):
        """The namespace's dtype for a NumPy dtype or name (namespace dtypes pass through)."""
        try:
            return getattr(self.xp, np.dtype(name).name)
        except TypeError:
            return name

    def astype(self, a, dtype):
        """``a`` cast to ``dtype`` (no copy when it already has it)."""
        dtype = self.dtype(dtype)
        return a if a.dtype == dtype else self.xp.astype(a, dtype)

    def empty(self, shape, dtype, fortran: bool = False):
        """Uninitialised array; ``fortran=True`` gives column-major where supported."""
        return self.xp.empty(shape, dtype=self.dtype(dtype), **self._on_device())

    def zeros(self, shape, dtype):
        """Array of zeros on this device."""
        return self.xp.zeros(shape, dtype=self.dtype(dtype), **self._on_device())

    def arange(self, n: int):
        """``0, 1, ..., n - 1`` on this device."""
        return self.xp.arange(n, **self._on_device())

    def copy(self, a, fortran: bool = False):
        """A writable copy of ``a`` (column-major where supported and asked for)."""
        return self.xp.asarray(a, copy=True)

    def concat(self, arrays, axis: int = 0):
        """Join arrays along ``axis``."""
        return self.xp.concat(arrays, axis=axis)

    def subtract(self, target, value):
        """``target - value``, in place where the backend allows (returns the result)."""
        return target - value

    def add_to_diagonal(self, a, value: float):
        """``a + value * I`` for a square ``a`` (in place where the backend allows)."""
        eye = self.xp.eye(a.shape[0], dtype=a.dtype, **self._on_device())
        return a + value * eye

    def synchronize(self) -> None:
        """Wait for queued device work (a no-op where work runs synchronously)."""

    @contextmanager
    def timed(self, timings: dict, name: str):
        """Add the seconds of the ``with`` block to ``timings[name]``, between device syncs.

        The device is synchronized before the clock starts (earlier queued work is
        not counted) and before it stops (the block's queued work is), so GPU
        phase times are those of the work itself, not of its submission. The CPU
        seconds go where :func:`kernelfit.phase_clock.timed_phase` puts them.
        """
        with timed_phase(timings, name, self.synchronize):
            yield

    def free_memory(self) -> int:
        """Bytes free for new arrays on this device (host RAM for host-memory devices)."""
        from ..memory import available_memory

        return available_memory()

    def memory_budget(self, budget=None) -> int:
        """A memory budget in bytes for allocations on this device.

        ``None`` gives :data:`kernelfit.memory.DEFAULT_FRACTION` of
        :meth:`free_memory`; other values as :func:`kernelfit.memory.parse_budget`.
        """
        from ..memory import DEFAULT_FRACTION, parse_budget

        if budget is None:
            return int(DEFAULT_FRACTION * self.free_memory())
        return parse_budget(budget)

    # -- tile operations (generic, array-API only) --------------------------
    def potrf(self, a, offset: int = 0):
        """Lower Cholesky factor of the SPD tile ``a``; returns it (may be a new array)."""
        xp = self.xp
        try:
            L = xp.linalg.cholesky(a)
        except (np.linalg.LinAlgError, RuntimeError) as exc:  # torch raises a RuntimeError
            raise NotPositiveDefiniteError(f"matrix is not positive definite: {exc}",
                                           offset) from exc
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

    def gemm_acc(self, C, A, B, *, trans_a: bool = False, alpha: float = 1.0):
        """Return ``C + alpha * op(A) @ B``, ``op(A) = A.T`` when ``trans_a`` (in place where
        the backend allows: always use the returned array). ``A`` and ``B`` may have
        another float dtype than ``C``; the product is in ``C``'s."""
        xp = self.xp
        A, B = self.astype(A, C.dtype), self.astype(B, C.dtype)
        return C + alpha * ((xp.linalg.matrix_transpose(A) if trans_a else A) @ B)

    def streamed_gemm_acc(self, C, A, B, *, trans_a: bool = False, alpha: float = 1.0):
        """:meth:`gemm_acc` for a ``B`` of a few columns, in a sequence of such products
        (the host reads ``A`` once, without BLAS's packing)."""
        return self.gemm_acc(C, A, B, trans_a=trans_a, alpha=alpha)

    def symmetric_gemm_acc(self, C_rows, C_cols, A, B_rows, B_cols):
        """Return ``(C_rows + A @ B_cols, C_cols + A.T @ B_rows)``: an off-diagonal tile
        ``A`` of a symmetric matrix applied as itself and as its mirror (in place
        where the backend allows; the host reads ``A`` once)."""
        return (self.gemm_acc(C_rows, A, B_cols),
                self.gemm_acc(C_cols, A, B_rows, trans_a=True))

    def syrk(self, C, A):
        """Return ``C - A @ A.T`` (only the lower triangle is meaningful)."""
        return self.gemm_nt(C, A, A, -1.0)
