"""Gram matrices in blocks, under a memory budget.

:func:`gram_blocks` yields ``(rows, cols, block)`` for streaming consumers;
:func:`gram` writes every block into an output (a NumPy array, an
``np.memmap``, a CuPy array, or a tile storage of :mod:`kernelfit.linalg`);
:func:`kernel_matvec` computes ``K(X, Z) @ V`` without ever holding ``K``.
In the symmetric case (``Y is None``) each off-diagonal block is computed once.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .backend import backend_for, numpy_dtype
from .host_kernel_blocks import prepare_compiled_pass
from .kernels import make_kernel
from .memory import check_budget, parse_budget
from .tile_walk import tile_pairs, walk_tiles
from .validation import check_finite_rows, check_matrix, is_float_dtype

__all__ = [
    "block_size_for",
    "gram",
    "gram_blocks",
    "kernel_matvec",
    "prepare_data",
    "symmetric_matvec",
]

#: Largest block edge used by default; large enough for BLAS-3 efficiency.
MAX_BLOCK = 2048


def prepare_data(X, name: str = "X", dtype=None, backend=None):
    """Validate ``X`` (numeric, 2-D, finite) and move it to ``backend`` as float.

    Integer and boolean data become float64 unless ``dtype`` says otherwise.
    """
    X = check_matrix(X, name)
    backend = backend or backend_for(X)
    X = backend.asarray(X)
    target = dtype if dtype is not None else (X.dtype if is_float_dtype(X.dtype) else np.float64)
    X = backend.astype(X, backend.dtype(target))
    check_finite_rows(X, name)
    return X


def block_size_for(n: int, m: int, d: int, memory_budget=None, block_size=None) -> int:
    """Block edge for ``n x m`` blocks of ``d``-dimensional data within a budget.

    The working set of one block is about ``(5 b^2 + 4 b d)`` float64 numbers
    (the distance block, its temporaries, and the upcast inputs).
    """
    if block_size is not None:
        if int(block_size) < 1:
            raise ValueError(f"block_size must be >= 1; found {block_size}")
        return int(block_size)
    budget = parse_budget(memory_budget) if memory_budget is not None else 1 << 30
    words = budget / 8  # solve 5 b^2 + 4 b d = words for b
    b = int((-4 * d + math.sqrt(16 * d * d + 20 * words)) / 10)
    return max(1, min(MAX_BLOCK, max(n, m), b))


def gram_blocks(
    X,
    Y=None,
    kernel="gaussian",
    *,
    bandwidth=None,
    degree=3,
    gamma=None,
    coef0=1.0,
    dtype=None,
    device="auto",
    memory_budget=None,
    block_size=None,
    progress=None,
):
    """Yield the Gram matrix ``K(X, Y)`` block by block.

    Parameters
    ----------
    X : array of shape (n, d)
    Y : array of shape (m, d), optional
        ``None`` for the symmetric ``K(X, X)``, of which only blocks on or below
        the diagonal (``rows.start >= cols.start``) are yielded.
    kernel, bandwidth, degree, gamma, coef0
        See :func:`kernelfit.kernels.make_kernel`.
    dtype : dtype, optional
        Dtype of the blocks; defaults to that of ``X`` (float64 for integers).
    device : {"auto", "cpu", "cuda"} or Backend
        Where blocks are computed (CuPy arrays always stay on the GPU, other
        array-API arrays on their own device).
    memory_budget : int or str, optional
        Bounds the working set of one block.
    block_size : int, optional
        Block edge; overrides the budget-derived value.
    progress : callable, optional
        Progress callback (see :mod:`kernelfit.progress`), phase ``"gram"``.

    Yields
    ------
    rows, cols : slice
    block : array of shape (rows, cols)
    """
    pairs, compute = _block_kernel(X, Y, kernel, dict(bandwidth=bandwidth, degree=degree,
                                                      gamma=gamma, coef0=coef0),
                                   dtype=dtype, device=device, memory_budget=memory_budget,
                                   block_size=block_size)
    for pair in walk_tiles(pairs, progress, "gram", unit="blocks"):
        yield pair.rows, pair.cols, compute(pair)


def _block_kernel(X, Y, kernel, params, *, dtype, device, memory_budget, block_size):
    """``(pairs, compute)``: the blocks of ``K(X, Y)`` (lower blocks when ``Y`` is None)
    and ``compute(pair, out=None, copy_to=None)``, which evaluates one block, into ``out``
    if given, and a copy into ``copy_to`` (:class:`kernelfit.kernels.Kernel`)."""
    backend = backend_for(X, device)
    X = prepare_data(X, "X", dtype, backend)
    symmetric = Y is None
    Y = X if symmetric else prepare_data(Y, "Y", X.dtype, backend)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X and Y must have the same number of features; found X.shape={tuple(X.shape)} "
            f"and Y.shape={tuple(Y.shape)}"
        )
    k = make_kernel(kernel, **params, X=X)
    n, m, d = X.shape[0], Y.shape[0], X.shape[1]
    b = block_size_for(n, m, d, memory_budget, block_size)
    if backend.is_host and k.name == "gaussian":  # a large job loads the compiled pass
        prepare_compiled_pass(n * (n + 1) // 2 if symmetric else n * m)

    def compute(pair, out=None, copy_to=None):
        return k(X[pair.rows, ...], Y[pair.cols, ...], out=out, same=pair.diagonal,
                 copy_to=copy_to)

    return tile_pairs(n, b, None if symmetric else m), compute


def gram(
    X,
    Y=None,
    kernel="gaussian",
    *,
    bandwidth=None,
    degree=3,
    gamma=None,
    coef0=1.0,
    dtype=None,
    out=None,
    device="auto",
    memory_budget=None,
    block_size=None,
    progress=None,
):
    """Compute the Gram matrix ``K[i, j] = k(X[i], Y[j])`` in blocks.

    Parameters
    ----------
    X : array of shape (n, d)
    Y : array of shape (m, d), optional
        ``None`` for ``K(X, X)``: each off-diagonal block is computed once and
        mirrored, and the diagonal of the squared distances is exactly zero.
    kernel : {"gaussian", "laplacian", "linear", "polynomial"} or callable
    bandwidth : float, optional
        Kernel width ``sigma`` (gaussian, laplacian); median heuristic if None.
    degree, gamma, coef0 : float
        Polynomial kernel parameters.
    dtype : dtype, optional
        Output dtype; defaults to that of ``X`` (float64 for integer input).
        Distances are always computed in float64.
    out : array of shape (n, m) or tile storage, optional
        NumPy array, ``np.memmap``, CuPy array, or a
        :class:`kernelfit.linalg.TileStorage` (symmetric case only), written
        in place.
    device : {"auto", "cpu", "cuda"}
    memory_budget : int or str, optional
        Budget for the output (when allocated here) and the block working set.
    block_size : int, optional
        Block edge (defaults from the budget, at most 2048). A tile storage
        imposes its own tile size.
    progress : callable, optional
        Progress callback, phase ``"gram"``.

    Returns
    -------
    array of shape (n, m), or the tile storage passed as ``out``

    Raises
    ------
    MemoryBudgetError
        If an ``n x m`` output would exceed ``memory_budget``; raised before
        allocating.
    """
    X = check_matrix(X, "X")
    n = X.shape[0]
    m = n if Y is None else check_matrix(Y, "Y").shape[0]
    backend = device = backend_for(X, device)
    out_dtype = numpy_dtype(dtype) if dtype is not None else (
        numpy_dtype(X.dtype) if is_float_dtype(X.dtype) else np.float64)
    if out is None:
        check_budget(n * m * out_dtype.itemsize, backend.memory_budget(memory_budget),
                     f"a {n} x {m} Gram matrix on {backend.device}")
        out = backend.empty((n, m), out_dtype)
    is_tiles = hasattr(out, "write_block")
    if is_tiles:
        if Y is not None:
            raise ValueError("tile storage holds a symmetric K(X, X); pass Y=None")
        if out.n != n:
            raise ValueError(f"the tile storage is for n={out.n}; found X with n={n}")
        block_size = out.tile_size
    elif out is not None and tuple(out.shape) != (n, m):
        raise ValueError(f"out must have shape {(n, m)}; found {tuple(out.shape)}")
    pairs, compute = _block_kernel(
        X, Y, kernel, dict(bandwidth=bandwidth, degree=degree, gamma=gamma, coef0=coef0),
        dtype=dtype, device=device, memory_budget=memory_budget, block_size=block_size)
    for pair in walk_tiles(pairs, progress, "gram", unit="blocks"):
        if is_tiles:  # each block is computed straight into its tile where the storage allows
            out.fill_block(pair.i, pair.j, functools.partial(compute, pair))
            continue
        block = compute(pair)
        out[pair.rows, pair.cols] = block
        if Y is None and not pair.diagonal:
            out[pair.cols, pair.rows] = block.T
    return out


def kernel_matvec(
    X,
    Z,
    V,
    kernel="gaussian",
    *,
    bandwidth=None,
    degree=3,
    gamma=None,
    coef0=1.0,
    device="auto",
    memory_budget=None,
    block_size=None,
    progress=None,
    phase_name="matvec",
):
    """Compute ``K(X, Z) @ V`` in blocks, never holding ``K``.

    Parameters
    ----------
    X : array of shape (n, d)
    Z : array of shape (m, d)
    V : array of shape (m,) or (m, k)
    kernel, bandwidth, degree, gamma, coef0
        See :func:`kernelfit.kernels.make_kernel`.
    device, memory_budget, block_size, progress
        As in :func:`gram`.
    phase_name : str, default "matvec"
        Name of the progress phase (e.g. ``"predict"``).

    Returns
    -------
    array of shape (n,) or (n, k), float64
        Accumulated in float64 whatever the input dtype.
    """
    return _blocked_matvec(
        X, Z, V, kernel, dict(bandwidth=bandwidth, degree=degree, gamma=gamma, coef0=coef0),
        device=device, memory_budget=memory_budget, block_size=block_size, progress=progress,
        phase_name=phase_name,
    )


def symmetric_matvec(X, V, kernel="gaussian", *, bandwidth=None, degree=3, gamma=None,
                     coef0=1.0, device="auto", memory_budget=None, block_size=None,
                     progress=None, phase_name="matvec"):
    """Compute ``K(X, X) @ V`` in float64 from the lower blocks only (half the work of
    :func:`kernel_matvec`); used for residuals and refinement.

    Parameters
    ----------
    X : array of shape (n, d)
    V : array of shape (n,) or (n, k)
    kernel, bandwidth, degree, gamma, coef0, device, memory_budget, block_size
        As in :func:`gram`.
    progress : callable, optional
        Progress callback.
    phase_name : str, default "matvec"
        Name of the progress phase.

    Returns
    -------
    array of shape (n,) or (n, k), float64
    """
    return _blocked_matvec(
        X, None, V, kernel, dict(bandwidth=bandwidth, degree=degree, gamma=gamma, coef0=coef0),
        device=device, memory_budget=memory_budget, block_size=block_size, progress=progress,
        phase_name=phase_name,
    )


def _blocked_matvec(X, Z, V, kernel, params, *, device, memory_budget, block_size, progress,
                    phase_name):
    """``K(X, Z) @ V`` accumulated in float64 block by block; ``Z=None`` means
    ``K(X, X)`` from its lower blocks, each applied twice (as itself and transposed)."""
    backend = device = backend_for(X, device)
    symmetric = Z is None
    rows_of = check_matrix(X, "X") if symmetric else prepare_data(Z, "Z", None, backend)
    V = check_matrix(V, "V", ndim=2, allow_1d=True)
    if V.shape[0] != rows_of.shape[0]:
        name = "X" if symmetric else "Z"
        raise ValueError(
            f"V must have one row per row of {name}; found {name}.shape="
            f"{tuple(rows_of.shape)} and V.shape={tuple(V.shape)}"
        )
    V64 = backend.astype(backend.asarray(V), np.float64)
    vector = V64.ndim == 1
    if vector:
        V64 = V64[:, None]
    n = check_matrix(X, "X").shape[0]
    result = backend.zeros((n, V64.shape[1]), np.float64)
    blocks = gram_blocks(
        X, None if symmetric else rows_of, kernel, **params, dtype=np.float64, device=device,
        memory_budget=memory_budget, block_size=block_size,
        progress=_rename(progress, phase_name),
    )
    for rows, cols, block in blocks:
        result[rows, :] += block @ V64[cols, :]
        if symmetric and rows != cols:
            result[cols, :] += block.T @ V64[rows, :]
    return result[:, 0] if vector else result


def _rename(progress, name):
    if progress is None:
        return None

    def renamed(event):
        from dataclasses import replace

        progress(replace(event, phase=name))

    return renamed
