r"""Products with a symmetric matrix stored as lower tiles, accumulated in float64.

:func:`tile_symmetric_matvec` computes :math:`A V` from the lower tiles of a
:class:`~kernelfit.linalg.TileStorage` (each off-diagonal tile applied as itself
and transposed, in one pass on the host when ``A`` is large), with float64
arithmetic, so a float32 ``A`` costs no ``n x n`` copy. It gives residuals and
iterative refinement against a *stored* kernel matrix when the data that
defined it are gone (streamed random-convolution features).
:func:`copy_tiles` duplicates a storage (e.g. to keep ``K`` next to its factor).
"""

from __future__ import annotations

import numpy as np

from ..progress import phase
from .storage import PackedStorage

__all__ = ["STREAMED_PRODUCT_BYTES", "copy_tiles", "tile_symmetric_matvec",
           "uses_streamed_products"]

#: Lower tiles of at least this many bytes are applied by the compiled one-pass
#: products (``backend.symmetric_gemm_acc`` and ``streamed_gemm_acc``, here and in the
#: triangular sweeps of :mod:`kernelfit.linalg.triangular`), smaller ones by BLAS. On
#: the host they read a tile of ``K`` once at about 14 GB/s against 7.5-8 GB/s for two
#: BLAS GEMMs, and sweep a float32 factor at 11-11.6 GB/s against 9
#: (``bench/bench_sweeps.py``), but loading the compiled code costs about 0.4 s once
#: per process: a refinement repays that from about 2 GB of tiles (n near 23,000 in
#: float64).
STREAMED_PRODUCT_BYTES = 2 << 30


def uses_streamed_products(storage) -> bool:
    """Whether the sweeps over ``storage`` use the compiled one-pass products: from
    :data:`STREAMED_PRODUCT_BYTES` of lower tiles on."""
    return storage.n ** 2 * storage.dtype.itemsize // 2 >= STREAMED_PRODUCT_BYTES


def tile_symmetric_matvec(storage, V, *, progress=None, phase_name="matvec") -> np.ndarray:
    """``A @ V`` in float64 for the symmetric ``A`` whose lower tiles ``storage`` holds.

    Diagonal tiles are used whole, so they must be exactly symmetric (see
    :meth:`kernelfit.linalg.symmetric_view.SymmetricTileView.symmetrize_diagonal`).

    Parameters
    ----------
    storage : TileStorage
        Lower tiles of ``A`` (not a Cholesky factor).
    V : array of shape (n,) or (n, c)
    progress : callable, optional
        Progress callback; phase ``phase_name`` in tiles.
    phase_name : str, default "matvec"

    Returns
    -------
    ndarray of shape (n,) or (n, c), float64
        On the host.

    Raises
    ------
    ValueError
        If ``V`` does not have ``n`` rows.
    """
    backend = storage.backend
    V64 = np.asarray(backend.to_numpy(V), dtype=np.float64)
    if V64.ndim not in (1, 2) or V64.shape[0] != storage.n:
        raise ValueError(f"V must have shape ({storage.n},) or ({storage.n}, c); found "
                         f"{V64.shape}")
    vector = V64.ndim == 1
    V2 = V64[:, None] if vector else V64
    # One column-major block of V and of the result per tile row, so that every tile is
    # applied in place (C += op(T) V), an off-diagonal tile as itself and transposed: in
    # one pass over it for a large matrix on the host (kernelfit.backend.skinny_products).
    streamed = uses_streamed_products(storage)
    parts = [backend.copy(backend.asarray(V2[storage.bounds(i)]), fortran=True)
             for i in range(storage.nt)]
    sums = [backend.copy(backend.zeros(part.shape, np.float64), fortran=True)
            for part in parts]
    with phase(progress, phase_name, total=storage.nt * (storage.nt + 1) // 2,
               unit="tiles") as bar:
        for i in range(storage.nt):
            for j in range(i + 1):
                tile = storage.tile(i, j)  # the product upcasts (compiled: per entry)
                if i == j:
                    sums[i] = (backend.streamed_gemm_acc if streamed else backend.gemm_acc)(
                        sums[i], tile, parts[i])
                elif streamed:
                    sums[i], sums[j] = backend.symmetric_gemm_acc(sums[i], sums[j], tile,
                                                                  parts[i], parts[j])
                else:
                    sums[i] = backend.gemm_acc(sums[i], tile, parts[j])
                    sums[j] = backend.gemm_acc(sums[j], tile, parts[i], trans_a=True)
                bar.advance()
    out = backend.to_numpy(backend.concat(sums, axis=0))
    return out[:, 0] if vector else out


def copy_tiles(storage, *, memory_budget=None) -> PackedStorage:
    """A packed copy of the lower tiles of ``storage`` (same tile size, dtype and backend).

    Parameters
    ----------
    storage : TileStorage
    memory_budget : int or str, optional
        Checked before the copy is allocated.

    Returns
    -------
    PackedStorage
    """
    copy = PackedStorage(storage.n, storage.tile_size, storage.dtype, storage.backend,
                         memory_budget)
    for i in range(storage.nt):
        for j in range(i + 1):
            copy.write_block(i, j, storage.tile(i, j))
    return copy
