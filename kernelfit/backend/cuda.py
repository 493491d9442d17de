"""The CUDA backend: CuPy arrays, cuBLAS and cuSOLVER called in place on column-major tiles.

Tiles of the tiled Cholesky are column-major (Fortran order), the layout
cuBLAS and cuSOLVER use, so every tile operation here writes into its tile:

* ``potrf``: ``cusolverDn<t>potrf`` on the tile (one workspace per call);
* ``trsm``: ``cublas<t>trsm`` (left or right side) on the right-hand side;
* ``gemm_nt``: ``cupy.cublas.gemm`` with ``out=`` the tile and ``beta=1``;
* ``syrk``: ``cupy.cublas.syrk`` on the lower triangle (half the flops of a GEMM).

A tile that is not column-major (a view of a C-ordered array) falls back to
a copy, so results are right whatever the layout; the Cholesky drivers never
pass one. CuPy is imported here and in :func:`kernelfit.backend.cuda_available`
only, and only when a CUDA backend is asked for.
"""

from __future__ import annotations

import numpy as np

from .generic import Backend, NotPositiveDefiniteError

__all__ = ["CupyBackend"]

#: Tile edge on a GPU: large enough that each cuBLAS call keeps the device
#: busy (a 2048 tile is ~17 GFLOP per GEMM, milliseconds on an H100), small
#: enough that a 60,000 float64 Gram has several panels for progress reports.
GPU_TILE = 8192


class CupyBackend(Backend):
    """CuPy arrays on the current CUDA device, with in-place cuBLAS/cuSOLVER tile operations."""

    name = "cupy"
    max_tile = GPU_TILE
    #: FP64 tensor cores (H100/H200: ~67 TFLOP/s, as fast as FP32 without tensor cores)
    #: leave mixed precision nothing to gain and its refinement passes to pay.
    default_precision = "float64"

    def __init__(self):
        import cupy

        super().__init__(cupy)

    @property
    def device(self) -> str:
        return "cuda"

    def asarray(self, a, dtype=None):
        return self.xp.asarray(a, dtype=dtype)  # a NumPy array is copied host -> device

    def to_numpy(self, a) -> np.ndarray:
        return self.xp.asnumpy(a)

    def dtype(self, name):
        return np.dtype(name)

    def astype(self, a, dtype):
        return a if a.dtype == dtype else a.astype(dtype)

    def empty(self, shape, dtype, fortran: bool = False):
        return self.xp.empty(shape, dtype=dtype, order="F" if fortran else "C")

    def zeros(self, shape, dtype):
        return self.xp.zeros(shape, dtype=dtype)

    def arange(self, n: int):
        return self.xp.arange(n)

    def copy(self, a, fortran: bool = False):
        return self.xp.array(a, order="F" if fortran else "K")

    def concat(self, arrays, axis: int = 0):
        return self.xp.concatenate(arrays, axis=axis)

    def subtract(self, target, value):
        target -= value
        return target

    def add_to_diagonal(self, a, value: float):
        idx = self.arange(a.shape[0])
        a[idx, idx] += value
        return a

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()

    def free_memory(self) -> int:
        """Free bytes on the current device plus what CuPy's pool holds unused."""
        free, _total = self.xp.cuda.Device().mem_info
        return int(free + self.xp.get_default_memory_pool().free_bytes())

    # -- tile operations ----------------------------------------------------
    @staticmethod
    def _prefix(a) -> str:
        prefix = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}.get(np.dtype(a.dtype))
        if prefix is None:
            raise TypeError(f"tile operations need float32 or float64; found {a.dtype}")
        return prefix

    def potrf(self, a, offset: int = 0):
        from cupy.cuda import device
        from cupy_backends.cuda.libs import cublas, cusolver

        xp = self.xp
        prefix = self._prefix(a)
        work_tile = a if a.flags.f_contiguous else xp.array(a, order="F")
        n = work_tile.shape[0]
        handle = device.get_cusolver_handle()
        lower = cublas.CUBLAS_FILL_MODE_LOWER
        lwork = getattr(cusolver, prefix + "potrf_bufferSize")(
            handle, lower, n, work_tile.data.ptr, n)
        workspace = xp.empty(max(1, lwork), dtype=a.dtype)
        info = xp.zeros(1, dtype=np.int32)
        getattr(cusolver, prefix + "potrf")(handle, lower, n, work_tile.data.ptr, n,
                                             workspace.data.ptr, lwork, info.data.ptr)
        pivot = int(info[0])  # one small device -> host read per panel
        if pivot > 0:
            raise NotPositiveDefiniteError(
                f"matrix is not positive definite (pivot {offset + pivot - 1} is not positive)",
                offset + pivot - 1)
        if not bool(xp.isfinite(xp.diagonal(work_tile)).all()):
            raise NotPositiveDefiniteError("Cholesky factor contains NaN or infinity", offset)
        work_tile[...] = xp.tril(work_tile)  # the upper triangle still holds A
        if work_tile is not a:
            a[...] = work_tile
        return a

    def _trsm(self, side, trans, L, B):
        """``B := inv(op(L)) B`` (left) or ``B inv(op(L))`` (right), in place on F-ordered B."""
        from cupy.cuda import device
        from cupy_backends.cuda.libs import cublas

        xp = self.xp
        prefix = self._prefix(B)
        L = L if L.flags.f_contiguous and L.dtype == B.dtype else xp.array(L, B.dtype, order="F")
        target = B if B.flags.f_contiguous else xp.array(B, order="F")
        m, n = target.shape
        one = np.array(1.0, dtype=B.dtype)
        getattr(cublas, prefix + "trsm")(
            device.get_cublas_handle(),
            cublas.CUBLAS_SIDE_LEFT if side == "left" else cublas.CUBLAS_SIDE_RIGHT,
            cublas.CUBLAS_FILL_MODE_LOWER,
            cublas.CUBLAS_OP_T if trans else cublas.CUBLAS_OP_N,
            cublas.CUBLAS_DIAG_NON_UNIT,
            m, n, one.ctypes.data, L.data.ptr, L.shape[0], target.data.ptr, m)
        if target is not B:
            B[...] = target
        return B

    def trsm_right_lower_t(self, L, B):
        return self._trsm("right", True, L, B)

    def trsm_left_lower(self, L, B, trans: bool = False):
        return self._trsm("left", trans, L, B)

    def gemm_nt(self, C, A, B, alpha: float = -1.0):
        from cupy import cublas

        return cublas.gemm("N", "T", A, B, out=C, alpha=alpha, beta=1.0)

    def gemm_acc(self, C, A, B, *, trans_a: bool = False, alpha: float = 1.0):
        from cupy import cublas

        A, B = self.astype(A, C.dtype), self.astype(B, C.dtype)
        return cublas.gemm("T" if trans_a else "N", "N", A, B, out=C, alpha=alpha, beta=1.0)

    def syrk(self, C, A):
        from cupy import cublas

        if not hasattr(cublas, "syrk"):  # CuPy < 13: a full GEMM
            return self.gemm_nt(C, A, A, -1.0)
        return cublas.syrk("N", A, out=C, alpha=-1.0, beta=1.0, lower=True)
