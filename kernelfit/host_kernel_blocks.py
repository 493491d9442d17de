"""The NumPy fast path of the gaussian and laplacian kernel blocks (host arrays only).

After its GEMM the gaussian block finishes in place, chunk by cache-sized chunk of
rows: the distance terms, the clamp, the ``exp`` and any float32 cast all run on a
chunk while it is in cache, and a diagonal block computes only its lower half. The
laplacian uses SciPy's ``cdist``. Both split the rows over a few threads (NumPy
ufuncs and ``cdist`` release the GIL). :mod:`kernelfit.kernels` calls these for
NumPy inputs; other array libraries use its generic ``xp`` code.
"""

from __future__ import annotations

from functools import cache
from itertools import pairwise

import numpy as np

from .host_threads import element_threads, run_shares
from .numba_loading import import_compiled

__all__ = ["COMPILED_PASS_ENTRIES", "gaussian_block_numpy", "laplacian_block_numpy",
           "prepare_compiled_pass"]

#: Float64 entries in one row chunk of a block (512 KiB): the passes over a
#: chunk run in the core's L2 cache instead of streaming the whole block.
_CHUNK_ENTRIES = 1 << 16

#: Kernel jobs of at least this many entries (a Gram's lower half, or a cross-kernel
#: product) load the compiled distance pass of :mod:`kernelfit.block_pass_kernels`:
#: loading Numba costs about 0.4 s once per process, which smaller jobs do not repay.
#: It is the size (2 GiB of float64) from which the tile sweeps load theirs.
COMPILED_PASS_ENTRIES = 1 << 28

#: Whether the blocks use the compiled distance pass (set by :func:`prepare_compiled_pass`).
_use_compiled_pass = False


@cache
def _compiled_pass():
    """:func:`kernelfit.block_pass_kernels.gaussian_exponents`, or ``None`` (with a
    warning, once) when Numba cannot load it."""
    kernels = import_compiled("kernelfit.block_pass_kernels",
                              "compiled distance pass is unavailable", "NumPy's passes")
    return None if kernels is None else kernels.gaussian_exponents


def prepare_compiled_pass(entries: int) -> bool:
    """Load the compiled distance pass before a large job.

    :func:`kernelfit.gram`, :func:`kernelfit.gram_blocks` and
    :func:`kernelfit.kernel_matvec` call this before their first block. From
    :data:`COMPILED_PASS_ENTRIES` entries on, the pass is loaded, and every later
    gaussian block of the process uses it (its results are those of the NumPy passes,
    to the bit). Other callers of the kernel blocks (e.g. the Dask workers) keep the
    NumPy passes unless an earlier job in the same process loaded it.

    Parameters
    ----------
    entries : int
        Kernel entries the job computes (a Gram's lower half, or ``n m``).

    Returns
    -------
    bool
        Whether the gaussian blocks now use the compiled pass.
    """
    global _use_compiled_pass
    if not _use_compiled_pass and entries >= COMPILED_PASS_ENTRIES:
        _use_compiled_pass = _compiled_pass() is not None
    return _use_compiled_pass


def gaussian_block_numpy(X, Z, same, gamma, out=None, copy_to=None):
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

    ``copy_to`` (same shape and layout as ``out``, e.g. the float32 tile of a
    mixed-precision factor beside the float64 ``K`` it keeps) also receives each
    finished chunk, cast while it is in cache, on the chunk threads: its pages are
    first touched by both threads and the block is not read again.
    """
    if out is not None and out.flags.f_contiguous and not out.flags.c_contiguous:
        gaussian_block_numpy(Z, X, same, gamma, out=out.T,
                             copy_to=None if copy_to is None else copy_to.T)
        return out
    X64 = np.ascontiguousarray(X, dtype=np.float64)
    # A distinct operand, as in _inner64 (never one array on both sides of a GEMM).
    Z64 = X64.copy() if same else np.ascontiguousarray(Z, dtype=np.float64)
    shape = (X64.shape[0], Z64.shape[0])
    rows_ok = out is not None and out.ndim == 2 and out.strides[1] == out.itemsize
    in_place = rows_ok and out.dtype == np.float64
    K = out if in_place else np.empty(shape)
    cast_into = out if rows_ok and out.dtype == np.float32 else None
    late_copy = copy_to is not None and (copy_to.ndim != 2 or copy_to.shape != shape
                                         or copy_to.strides[1] != copy_to.itemsize
                                         or cast_into is not None)
    chunk_copy = None if late_copy else copy_to
    x_term = gamma * np.einsum("ij,ij->i", X64, X64)
    z_term = x_term if same else gamma * np.einsum("ij,ij->i", Z64, Z64)
    if same:
        _fill_symmetric(X64, Z64, x_term, gamma, K, cast_into, chunk_copy)
    else:
        _fill_block(X64, Z64, x_term, z_term, gamma, K, cast_into, chunk_copy)
    if out is not None and not in_place and cast_into is None:
        out[...] = K
    if late_copy:  # a layout the chunks cannot write: one copy of the finished block
        copy_to[...] = out if out is not None else K
    return K if out is None or in_place else out


#: A diagonal block is filled as row strips of about this many rows (one strip, the
#: whole block, up to 1.5 times this edge).
_DIAGONAL_STRIP = 256


def _fill_symmetric(X64, Z64, x_term, gamma, K, cast_into=None, copy_to=None):
    """A diagonal block (``Z64`` a copy of ``X64``): its lower half computed as row
    strips, the upper half mirrored, the diagonal set to exactly 1.

    Strip ``s`` is one GEMM of its rows against every column up to the end of its
    own square, so the GEMMs do about ``1/2 + strip/2n`` of the full block's work,
    in calls a few hundred rows tall (faster here than recursive halving, whose
    GEMMs shrink to the leaves). Outside the strips' own squares the block is
    exactly symmetric.
    """
    n = K.shape[0]
    targets = [K if cast_into is None else cast_into, *([] if copy_to is None else [copy_to])]
    strips = max(1, round(n / _DIAGONAL_STRIP))
    bounds = [n * s // strips for s in range(strips + 1)]

    def part_of(array, index):
        return None if array is None else array[index]

    for start, stop in pairwise(bounds):
        part = slice(start, stop), slice(0, stop)
        _fill_block(X64[start:stop], Z64[:stop], x_term[start:stop], x_term[:stop], gamma,
                    K[part], part_of(cast_into, part), part_of(copy_to, part))
    for target in targets:
        for start, stop in pairwise(bounds[1:]):
            target[:start, start:stop] = target[start:stop, :start].T
        np.fill_diagonal(target, 1.0)


def _fill_block(X64, Z64, x_term, z_term, gamma, K, cast_into=None, copy_to=None):
    """``K = exp(min(2 gamma X Z^T - x_term - z_term, 0))``: one GEMM into ``K``, then
    the passes on L2-sized row chunks, each chunk also cast into ``cast_into`` (in
    place of ``K``) or copied into ``copy_to`` (beside it) if given."""
    np.matmul(X64, Z64.T, out=K)
    x_col, z_row = x_term[:, None], z_term[None, :]
    exponents = _compiled_pass() if _use_compiled_pass else None

    def finish(rows):
        chunk = K[rows]
        if exponents is not None:  # the same arithmetic in one pass
            exponents(chunk, 2.0 * gamma, x_term[rows], z_term)
        else:
            chunk *= 2.0 * gamma
            chunk -= x_col[rows]
            chunk -= z_row
            np.minimum(chunk, 0.0, out=chunk)  # squared distances clamped at 0
        if cast_into is None:
            np.exp(chunk, out=chunk)
            if copy_to is not None:
                copy_to[rows] = chunk
        else:
            np.exp(chunk, out=cast_into[rows], casting="same_kind")

    _run_on_row_chunks(finish, K.shape)


def laplacian_block_numpy(X, Z, scale):
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

    def share(_, start, stop):
        for first in range(start, stop, step):
            fn(slice(first, min(first + step, stop)))

    run_shares(share, n_rows, min(_element_threads(), -(-n_rows // step)))


#: Threads for the passes (a module name, so that tests can vary it).
_element_threads = element_threads
