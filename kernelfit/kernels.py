"""Kernel functions: each computes one block ``k(X_i, Z_j)`` into an output.

No tiling and no I/O here: :mod:`kernelfit.gram_builder` owns blocking and memory.
Squared distances are formed in float64 for every input dtype (the block is
upcast), so float32 data loses nothing in the ``||x||^2 + ||z||^2 - 2 x.z``
cancellation, and diagonal blocks of a symmetric Gram matrix get exact zeros.

NumPy blocks of the gaussian and laplacian kernels take a fast path: after its
GEMM the gaussian finishes in place, chunk by cache-sized chunk of rows (the
distance terms, the clamp, the ``exp`` and any float32 cast all run on a chunk
while it is in cache), and computes only the lower half of a diagonal block;
the laplacian uses SciPy's ``cdist``. Both split the rows over a few threads (NumPy
ufuncs and ``cdist`` release the GIL).
Other array libraries use the generic ``xp`` code.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as device_of

from .median_heuristic import bandwidth_from_squared_distances, median_sample
from .validation import check_positive

__all__ = ["KERNELS", "Kernel", "make_kernel", "median_bandwidth"]


@dataclass(frozen=True)
class Kernel:
    """A positive-definite kernel evaluated block by block.

    Parameters
    ----------
    name : {"gaussian", "laplacian", "linear", "polynomial", "callable"}
        Kernel family.
    bandwidth : float, optional
        ``sigma`` for the gaussian ``exp(-||x-y||^2 / (2 sigma^2))`` and the
        laplacian ``exp(-||x-y||_1 / sigma)``.
    degree, gamma, coef0 : float
        Polynomial kernel ``(gamma <x, y> + coef0) ** degree``; ``gamma=None``
        means ``1 / n_features``.
    function : callable, optional
        For ``name="callable"``: ``function(X_block, Z_block) -> block``.
    """

    name: str
    bandwidth: float | None = None
    degree: float = 3
    gamma: float | None = None
    coef0: float = 1.0
    function: Callable | None = None

    @property
    def flops_per_entry_per_feature(self) -> float:
        """Approximate flops per Gram entry and input dimension (for GFLOP/s reports)."""
        return 2.0 if self.name != "laplacian" else 3.0

    def __call__(self, X, Z, out=None, *, same: bool = False):
        """Evaluate ``k(X, Z)``.

        Parameters
        ----------
        X : array of shape (n, d)
        Z : array of shape (m, d)
        out : array of shape (n, m), optional
            Written in place (its dtype is kept) and returned.
        same : bool, default False
            ``X`` and ``Z`` are the same rows (a diagonal block): the diagonal
            of the squared distances is set to exactly zero.

        Returns
        -------
        array of shape (n, m)
        """
        xp = array_namespace(X, Z)
        if out is not None and tuple(out.shape) != (X.shape[0], Z.shape[0]):
            raise ValueError(f"out must have shape {(X.shape[0], Z.shape[0])}; "
                             f"found {tuple(out.shape)}")
        if self.name == "callable":
            block = xp.asarray(self.function(X, Z))
            if tuple(block.shape) != (X.shape[0], Z.shape[0]):
                raise ValueError(
                    f"the kernel callable returned shape {tuple(block.shape)}; "
                    f"expected {(X.shape[0], Z.shape[0])}"
                )
        else:
            block = _BLOCK_FUNCTIONS[self.name](self, xp, X, Z, same, out=out)
        if out is None:
            return xp.astype(block, X.dtype) if block.dtype != X.dtype else block
        if block is not out:  # the block function could not write into out itself
            out[...] = block if block.dtype == out.dtype else xp.astype(block, out.dtype)
        return out


def _as64(xp, A):
    return A if A.dtype == xp.float64 else xp.astype(A, xp.float64)


def _inner64(xp, X, Z, same: bool):
    X64 = _as64(xp, X)
    # A distinct operand avoids BLAS SYRK on one array, which crashes OpenBLAS
    # on this class of machine for large shapes (see README: known hazards).
    Z64 = xp.asarray(X64, copy=True) if same else _as64(xp, Z)
    return X64, Z64, X64 @ xp.linalg.matrix_transpose(Z64)


def _sqdist(xp, X, Z, same: bool):
    X64, Z64, D = _inner64(xp, X, Z, same)
    xn = xp.sum(X64 * X64, axis=1)
    zn = xn if same else xp.sum(Z64 * Z64, axis=1)
    D *= -2.0
    D += xn[:, None]
    D += zn[None, :]
    D = xp.clip(D, 0.0, None)
    if same:
        n = D.shape[0]
        D = xp.where(xp.eye(n, dtype=xp.bool, device=device_of(D)), xp.zeros_like(D), D)
    return D


# Block functions take ``out`` (may be None) and either fill and return it or
# return a new block, which Kernel.__call__ then copies into ``out``.


def _gaussian(kernel, xp, X, Z, same, out=None):
    gamma = 0.5 / kernel.bandwidth**2
    if all(isinstance(a, np.ndarray) for a in (X, Z)) and (out is None
                                                           or isinstance(out, np.ndarray)):
        return _gaussian_numpy(X, Z, same, gamma, out=out)
    return xp.exp(_sqdist(xp, X, Z, same) * -gamma)


def _laplacian(kernel, xp, X, Z, same, out=None):
    if isinstance(X, np.ndarray) and isinstance(Z, np.ndarray):
        return _laplacian_numpy(X, Z, 1.0 / kernel.bandwidth)
    X64, Z64 = _as64(xp, X), _as64(xp, Z)
    D = xp.zeros((X.shape[0], Z.shape[0]), dtype=xp.float64)
    step = max(1, (1 << 22) // max(1, X.shape[0] * Z.shape[0]))
    for start in range(0, X.shape[1], step):
        cols = slice(start, min(start + step, X.shape[1]))  # in bounds (array API)
        D += xp.sum(xp.abs(X64[:, None, cols] - Z64[None, :, cols]), axis=2)
    return xp.exp(D * (-1.0 / kernel.bandwidth))


def _linear(kernel, xp, X, Z, same, out=None):
    return _inner64(xp, X, Z, same)[2]


def _polynomial(kernel, xp, X, Z, same, out=None):
    gamma = kernel.gamma if kernel.gamma is not None else 1.0 / X.shape[1]
    return (gamma * _inner64(xp, X, Z, same)[2] + kernel.coef0) ** kernel.degree


# -- NumPy fast path -----------------------------------------------------------

#: Float64 entries in one row chunk of a block (512 KiB): the passes over a
#: chunk run in the core's L2 cache instead of streaming the whole block.
_CHUNK_ENTRIES = 1 << 16

#: Most threads for the elementwise passes (they are memory- and exp-bound).
_MAX_THREADS = 8


def _gaussian_numpy(X, Z, same, gamma, out=None):
    """``exp(-gamma * max(||x||^2 + ||z||^2 - 2 x.z, 0))`` for NumPy blocks, in float64.

    After the GEMM, the scale, norms, clamp and ``exp`` run in place on row
    chunks. The GEMM is NumPy's, as is the ``K @ V`` that consumes the block: a
    second BLAS library (SciPy's) would leave its threads spinning against
    them. ``same`` sets the diagonal to exactly 1 (zero distance) and computes
    only the lower half of the block (:func:`_fill_symmetric`), mirroring it.

    A float64 ``out`` with unit column stride receives the GEMM itself (no
    temporary, no copy); a column-major ``out`` (a Cholesky tile) is filled as
    the row-major transpose ``K(Z, X)``, so every pass runs along contiguous
    memory. A float32 ``out`` receives each finished chunk, cast while it is
    in cache; other outputs get a cast copy.
    """
    if out is not None and out.flags.f_contiguous and not out.flags.c_contiguous:
        _gaussian_numpy(Z, X, same, gamma, out=out.T)
        return out
    X64 = np.ascontiguousarray(X, dtype=np.float64)
    # A distinct operand, as in _inner64 (never one array on both sides of a GEMM).
    Z64 = X64.copy() if same else np.ascontiguousarray(Z, dtype=np.float64)
    shape = (X64.shape[0], Z64.shape[0])
    rows_ok = out is not None and out.ndim == 2 and out.strides[1] == out.itemsize
    in_place = rows_ok and out.dtype == np.float64
    K = out if in_place else np.empty(shape)
    cast_into = out if rows_ok and out.dtype == np.float32 else None
    x_term = gamma * np.einsum("ij,ij->i", X64, X64)
    z_term = x_term if same else gamma * np.einsum("ij,ij->i", Z64, Z64)
    if same:
        _fill_symmetric(X64, Z64, x_term, gamma, K, cast_into)
    else:
        _fill_block(X64, Z64, x_term, z_term, gamma, K, cast_into)
    if out is None or in_place or cast_into is not None:
        return K if out is None or in_place else out
    out[...] = K
    return out


#: Diagonal blocks up to this edge are computed whole; larger ones are split in two.
_DIAGONAL_LEAF = 512


def _fill_symmetric(X64, Z64, x_term, gamma, K, cast_into=None):
    """A diagonal block (``Z64`` a copy of ``X64``): its lower half computed by
    recursive halving (the two diagonal quarters, one full off-diagonal quarter),
    the upper half mirrored, the diagonal set to exactly 1; about ``1/2 + leaf/2n``
    of the full block's GEMM work."""
    n = K.shape[0]
    if n <= _DIAGONAL_LEAF:
        _fill_block(X64, Z64, x_term, x_term, gamma, K, cast_into)
        target = K if cast_into is None else cast_into
        np.fill_diagonal(target, 1.0)
        return
    h = n // 2
    lower = slice(h, n), slice(0, h)
    for part in (slice(0, h), slice(h, n)):
        _fill_symmetric(X64[part], Z64[part], x_term[part], gamma, K[part, part],
                        None if cast_into is None else cast_into[part, part])
    _fill_block(X64[h:], Z64[:h], x_term[h:], x_term[:h], gamma, K[lower],
                None if cast_into is None else cast_into[lower])
    target = K if cast_into is None else cast_into
    target[:h, h:] = target[lower].T


def _fill_block(X64, Z64, x_term, z_term, gamma, K, cast_into=None):
    """``K = exp(min(2 gamma X Z^T - x_term - z_term, 0))``: one GEMM into ``K``, then
    the passes on L2-sized row chunks, each chunk also cast into ``cast_into`` if given."""
    np.matmul(X64, Z64.T, out=K)
    x_col, z_row = x_term[:, None], z_term[None, :]

    def finish(rows):
        chunk = K[rows]
        chunk *= 2.0 * gamma
        chunk -= x_col[rows]
        chunk -= z_row
        np.minimum(chunk, 0.0, out=chunk)  # squared distances clamped at 0
        if cast_into is None:
            np.exp(chunk, out=chunk)
        else:
            np.exp(chunk, out=cast_into[rows], casting="same_kind")

    _run_on_row_chunks(finish, K.shape)


def _laplacian_numpy(X, Z, scale):
    """``exp(-scale * ||x - z||_1)`` for NumPy blocks: SciPy's ``cdist`` on row chunks."""
    from scipy.spatial.distance import cdist

    X64 = np.ascontiguousarray(X, dtype=np.float64)
    Z64 = np.ascontiguousarray(Z, dtype=np.float64)
    K = np.empty((X64.shape[0], Z64.shape[0]), dtype=np.float64)

    def fill(rows):
        chunk = K[rows]
        cdist(X64[rows], Z64, "cityblock", out=chunk)
        chunk *= -scale
        np.exp(chunk, out=chunk)

    _run_on_row_chunks(fill, K.shape)
    return K


def _run_on_row_chunks(fn, shape):
    """Call ``fn(rows)`` for row slices of about :data:`_CHUNK_ENTRIES` entries,
    with the rows split into one contiguous share per element thread."""
    n_rows, n_cols = shape
    step = max(1, _CHUNK_ENTRIES // max(1, n_cols))
    shares = max(1, min(_element_threads(), -(-n_rows // step)))
    bounds = [n_rows * i // shares for i in range(shares + 1)]

    def share(i):
        for start in range(bounds[i], bounds[i + 1], step):
            fn(slice(start, min(start + step, bounds[i + 1])))

    if shares == 1:
        share(0)
    else:
        list(_pool().map(share, range(shares)))  # re-raises a worker's exception


@cache
def _element_threads() -> int:
    """CPUs this process may use, capped by ``OMP_NUM_THREADS`` or
    ``OPENBLAS_NUM_THREADS`` when set (Dask workers set them to 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    limits = [cpus, _MAX_THREADS]
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            limits.append(int(value))
    return max(1, min(limits))


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_element_threads(), thread_name_prefix="kernelfit-block")


if hasattr(os, "register_at_fork"):  # a forked child gets a new pool, not dead threads
    os.register_at_fork(after_in_child=_pool.cache_clear)


_BLOCK_FUNCTIONS = {
    "gaussian": _gaussian,
    "laplacian": _laplacian,
    "linear": _linear,
    "polynomial": _polynomial,
}

KERNELS = (*_BLOCK_FUNCTIONS, "callable")


def median_bandwidth(X, sample: int = 1000, seed: int = 0) -> float:
    """Median heuristic: the median pairwise Euclidean distance over a sample, over sqrt(2).

    Deterministic for a given ``seed`` (see :mod:`kernelfit.median_heuristic`). Used
    when ``bandwidth=None``. The sample (at most ``sample`` rows, never all of a
    larger ``X``) is taken on ``X``'s device and copied to the host explicitly.
    """
    from .backend import backend_for

    backend = backend_for(X)
    index = median_sample(X.shape[0], sample, seed)
    rows = X if index.size == X.shape[0] else backend.xp.take(X, backend.asarray(index), axis=0)
    S = np.asarray(backend.to_numpy(rows), dtype=np.float64)
    return bandwidth_from_squared_distances(_sqdist(np, S, S, True))


def make_kernel(kernel="gaussian", *, bandwidth=None, degree=3, gamma=None, coef0=1.0, X=None):
    """Build a :class:`Kernel` from a name or callable, validating its parameters.

    Parameters
    ----------
    kernel : str, Kernel or callable, default "gaussian"
        One of :data:`KERNELS`, an existing :class:`Kernel`, or a function
        ``f(X_block, Z_block) -> block``.
    bandwidth : float, optional
        Required > 0 for gaussian and laplacian. ``None`` uses
        :func:`median_bandwidth` on ``X``.
    degree, gamma, coef0 : float
        Polynomial kernel parameters.
    X : array, optional
        Data for the median heuristic.

    Returns
    -------
    Kernel

    Raises
    ------
    ValueError
        Unknown kernel name or ``bandwidth <= 0``.
    """
    if isinstance(kernel, Kernel):
        return kernel
    if callable(kernel):
        return Kernel("callable", function=kernel)
    if kernel not in _BLOCK_FUNCTIONS:
        raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS} or a callable")
    if kernel in ("gaussian", "laplacian"):
        if bandwidth is None:
            if X is None:
                raise ValueError(f"the {kernel} kernel needs a bandwidth (or data for a default)")
            bandwidth = median_bandwidth(X)
        bandwidth = check_positive(bandwidth, "bandwidth")
    if kernel == "polynomial":
        if gamma is not None:
            gamma = check_positive(gamma, "gamma")
        if not isinstance(degree, numbers.Real) or degree <= 0:
            raise ValueError(f"degree must be > 0; found {degree!r}")
    return Kernel(kernel, bandwidth=bandwidth, degree=degree, gamma=gamma, coef0=float(coef0))
