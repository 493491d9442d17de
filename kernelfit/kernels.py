"""Kernel functions: each computes one block ``k(X_i, Z_j)`` into an output.

No tiling and no I/O here: :mod:`kernelfit.gram_builder` owns blocking and memory.
Squared distances are formed in float64 for every input dtype (the block is
upcast), so float32 data loses nothing in the ``||x||^2 + ||z||^2 - 2 x.z``
cancellation, and diagonal blocks of a symmetric Gram matrix get exact zeros.

NumPy blocks of the gaussian and laplacian kernels take the fast path of
:mod:`kernelfit.host_kernel_blocks`; other array libraries use the generic ``xp``
code here.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as device_of

from .host_kernel_blocks import gaussian_block_numpy, laplacian_block_numpy
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

    def __call__(self, X, Z, out=None, *, same: bool = False, copy_to=None):
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
        copy_to : array of shape (n, m), optional
            Also receives the block, in its own dtype (e.g. the float32 tile of a
            mixed-precision factor beside a kept float64 ``K``); the NumPy gaussian
            writes it chunk by chunk while each chunk is in cache.

        Returns
        -------
        array of shape (n, m)
        """
        xp = array_namespace(X, Z)
        for name, array in (("out", out), ("copy_to", copy_to)):
            if array is not None and tuple(array.shape) != (X.shape[0], Z.shape[0]):
                raise ValueError(f"{name} must have shape {(X.shape[0], Z.shape[0])}; "
                                 f"found {tuple(array.shape)}")
        if self.name == "callable":
            block = xp.asarray(self.function(X, Z))
            if tuple(block.shape) != (X.shape[0], Z.shape[0]):
                raise ValueError(
                    f"the kernel callable returned shape {tuple(block.shape)}; "
                    f"expected {(X.shape[0], Z.shape[0])}"
                )
        elif (self.name == "gaussian" and out is not None and copy_to is not None
              and _numpy_block(X, Z, out, copy_to)):  # copy_to filled chunk by chunk
            return gaussian_block_numpy(X, Z, same, 0.5 / self.bandwidth**2, out=out,
                                        copy_to=copy_to)
        else:
            block = _BLOCK_FUNCTIONS[self.name](self, xp, X, Z, same, out=out)
        if out is None:
            block = xp.astype(block, X.dtype) if block.dtype != X.dtype else block
        elif block is not out:  # the block function could not write into out itself
            out[...] = block if block.dtype == out.dtype else xp.astype(block, out.dtype)
            block = out
        if copy_to is not None:
            copy_to[...] = block if block.dtype == copy_to.dtype else xp.astype(block,
                                                                               copy_to.dtype)
        return block


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


def _numpy_block(*arrays) -> bool:
    """All given arrays (None skipped) are NumPy arrays: the host fast path applies."""
    return all(a is None or isinstance(a, np.ndarray) for a in arrays)


def _gaussian(kernel, xp, X, Z, same, out=None):
    gamma = 0.5 / kernel.bandwidth**2
    if _numpy_block(X, Z, out):
        return gaussian_block_numpy(X, Z, same, gamma, out=out)
    return xp.exp(_sqdist(xp, X, Z, same) * -gamma)


def _laplacian(kernel, xp, X, Z, same, out=None):
    if isinstance(X, np.ndarray) and isinstance(Z, np.ndarray):
        return laplacian_block_numpy(X, Z, 1.0 / kernel.bandwidth)
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
