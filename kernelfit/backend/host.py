"""The host backend: NumPy arrays with SciPy's BLAS/LAPACK on column-major tiles."""

from __future__ import annotations

import numpy as np

from .generic import Backend, NotPositiveDefiniteError
from .skinny_products import skinny_gemm_acc, symmetric_gemm_acc

__all__ = ["NumpyBackend"]


class NumpyBackend(Backend):
    """NumPy arrays with SciPy's BLAS/LAPACK on F-ordered tiles (in place, no copies)."""

    name = "numpy"
    is_host = True
    #: A float32 factor refined to float64 accuracy: SGEMM runs about twice DGEMM here.
    default_precision = "mixed"

    def __init__(self):
        super().__init__(np)
        from scipy.linalg import blas, lapack

        self._blas, self._lapack = blas, lapack

    def asarray(self, a, dtype=None):
        if not isinstance(a, np.ndarray) and hasattr(a, "__array_namespace__"):
            from . import to_numpy

            a = to_numpy(a)  # an explicit device -> host copy (CuPy, torch)
        return np.asarray(a, dtype=dtype)

    def to_numpy(self, a) -> np.ndarray:
        return np.asarray(a)

    def dtype(self, name):
        return np.dtype(name)

    def astype(self, a, dtype):
        return a if a.dtype == dtype else a.astype(dtype)

    def empty(self, shape, dtype, fortran: bool = False):
        return np.empty(shape, dtype=dtype, order="F" if fortran else "C")

    def zeros(self, shape, dtype):
        return np.zeros(shape, dtype=dtype)

    def arange(self, n: int):
        return np.arange(n)

    def copy(self, a, fortran: bool = False):
        return np.array(a, order="F" if fortran else "K")

    def concat(self, arrays, axis: int = 0):
        return np.concatenate(arrays, axis=axis)

    def subtract(self, target, value):
        target -= value
        return target

    def add_to_diagonal(self, a, value: float):
        idx = self.arange(a.shape[0])
        a[idx, idx] += value
        return a

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

    def gemm_acc(self, C, A, B, *, trans_a: bool = False, alpha: float = 1.0):
        # SciPy's BLAS, like every other tile operation here: alternating calls into
        # NumPy's and SciPy's OpenBLAS leaves one library's threads spinning against the
        # other's (the float32 triangular sweeps ran at half speed).
        fn = self._fn(self._blas, "gemm", C)
        return fn(alpha, self.astype(A, C.dtype), self.astype(B, C.dtype), 1.0, C,
                  trans_a=int(trans_a), overwrite_c=1)

    def streamed_gemm_acc(self, C, A, B, *, trans_a: bool = False, alpha: float = 1.0):
        # One compiled pass over A for a few columns (BLAS would repack A first), for a
        # sequence of such products with no BLAS call between them: OpenBLAS's threads
        # spin for a while after each call (kernelfit.BLAS_THREAD_TIMEOUT), against the
        # compiled kernel's threads.
        if skinny_gemm_acc(C, A, B, trans_a=trans_a, alpha=alpha):
            return C
        return self.gemm_acc(C, A, B, trans_a=trans_a, alpha=alpha)

    def symmetric_gemm_acc(self, C_rows, C_cols, A, B_rows, B_cols):
        if symmetric_gemm_acc(C_rows, C_cols, A, B_rows, B_cols):
            return C_rows, C_cols
        return super().symmetric_gemm_acc(C_rows, C_cols, A, B_rows, B_cols)

    def syrk(self, C, A):
        fn = self._fn(self._blas, "syrk", C)
        return fn(-1.0, A, beta=1.0, c=C, lower=1, overwrite_c=1)
