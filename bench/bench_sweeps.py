"""The refinement's two sweeps against the memory bandwidth, and against NumPy's matmul.

Each step of mixed-precision refinement streams two packed matrices with ``c``
right-hand sides (10 for MNIST's one-hot targets):

* product: ``K @ V`` with the kept float64 ``K`` (each off-diagonal tile applied as
  itself and transposed), :func:`kernelfit.linalg.tile_matvec.tile_symmetric_matvec`,
  once with two BLAS GEMMs per tile and once with the compiled one-pass products
  (:mod:`kernelfit.backend.skinny_products`; kernelfit picks them from
  ``STREAMED_PRODUCT_BYTES`` of tiles on, for both sweeps, which this program overrides
  both ways);
* correction: ``L^{-T} L^{-1} R`` with the float32 factor (two triangular sweeps),
  :func:`kernelfit.linalg.cholesky_solve`, likewise with BLAS and with the compiled
  products for the off-diagonal tiles.

Otherwise both call one BLAS for every tile operation (``Backend.gemm_acc``: SciPy's,
like the factorization). The reference does the same sweeps with NumPy's ``@`` for the tile
products (and SciPy's TRSM for the diagonal tiles), as kernelfit did before: NumPy and
SciPy each bundle their own OpenBLAS, and alternating between them leaves one library's
threads spinning against the other's. Each method runs its repeats in a row, twice,
alternating with the other's (A B A B); each row gives the best time, the rate in GB of
the stored matrix per second, its ratio to the copy bandwidth measured in the same run,
and checks that both methods agree. Prints a table and writes JSON.

    OPENBLAS_THREAD_TIMEOUT=16 python bench/bench_sweeps.py --n 12000 24000 \
        --out bench/results/sweeps-compiled-12k-24k.json

(This program imports NumPy before kernelfit, so NumPy's OpenBLAS would keep its
default spinning: the variable sets kernelfit's value for both BLAS libraries, see
:data:`kernelfit.BLAS_THREAD_TIMEOUT`.)
"""

from __future__ import annotations

import argparse
import sys
import time
from unittest import mock

import numpy as np

from kernelfit.backend import host_backend
from kernelfit.linalg import PackedStorage, cholesky_solve, tile_matvec
from kernelfit.linalg.tile_matvec import tile_symmetric_matvec
from kernelfit.phase_rates import memory_bandwidth
from kernelfit.provenance import save_run
from kernelfit.tables import format_table


def sweep_matrices(n: int, rng, tile_size=None):
    """A symmetric ``K`` in packed float64 tiles and a float32 lower factor ``L`` (a
    well-conditioned one: the sweeps' speed does not depend on the values)."""
    K = PackedStorage(n, tile_size, dtype=np.float64)
    L = PackedStorage(n, K.tile_size, np.float32)
    for i in range(K.nt):
        for j in range(i + 1):
            tile = rng.random(K.tile(i, j).shape) / n
            if i == j:
                tile = np.tril(tile) + np.tril(tile, -1).T + np.eye(tile.shape[0])
            K.store(i, j, tile)
            L.store(i, j, np.tril(tile) if i == j else tile)
    return K, L


def numpy_product(K, V):
    """``K @ V`` with NumPy's ``@`` per tile (the reference)."""
    out = np.zeros(V.shape)
    for i in range(K.nt):
        rows = K.bounds(i)
        for j in range(i + 1):
            cols = K.bounds(j)
            tile = K.tile(i, j)
            out[rows] += tile @ V[cols]
            if i != j:
                out[cols] += tile.T @ V[rows]
    return out


def numpy_correction(L, R):
    """``L^{-T} L^{-1} R`` in float32: NumPy's ``@`` per tile, SciPy's TRSM on the diagonal."""
    backend = host_backend()
    Z = R
    for transpose in (False, True):
        blocks = [None] * L.nt
        for i in (range(L.nt - 1, -1, -1) if transpose else range(L.nt)):
            rhs = np.array(Z[L.bounds(i)], order="F")
            for k in (range(i + 1, L.nt) if transpose else range(i)):
                tile = L.tile(k, i).T if transpose else L.tile(i, k)
                rhs -= tile @ blocks[k]
            blocks[i] = backend.trsm_left_lower(L.tile(i, i), rhs, trans=transpose)
        Z = np.concatenate(blocks)
    return Z


def product_with(K, V, *, streamed: bool):
    """:func:`tile_symmetric_matvec` with BLAS (two GEMMs per off-diagonal tile) or the
    compiled one-pass products, whatever the size of ``K``."""
    threshold = 0 if streamed else float("inf")
    with mock.patch.object(tile_matvec, "STREAMED_PRODUCT_BYTES", threshold):
        return tile_symmetric_matvec(K, V)


def correction_with(L, R, *, streamed: bool):
    """:func:`cholesky_solve` in float32 with BLAS or the compiled products in its
    sweeps (the diagonal tiles' TRSM is BLAS's either way), whatever the size of ``L``."""
    threshold = 0 if streamed else float("inf")
    with mock.patch.object(tile_matvec, "STREAMED_PRODUCT_BYTES", threshold):
        return cholesky_solve(L, R, dtype=np.float32)


def best_seconds(fn, repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t0)
    return seconds


def sweep_rows(n: int, columns: int, repeats: int, copy_gbs: float, rng,
               tile_size=None) -> list[dict]:
    K, L = sweep_matrices(n, rng, tile_size)
    V = rng.standard_normal((n, columns))
    R = V.astype(np.float32)
    product_gb = PackedStorage.nbytes_for(n, K.tile_size, np.float64)
    correction_gb = 2 * PackedStorage.nbytes_for(n, L.tile_size, np.float32)
    cases = [
        ("product, float64 K, BLAS", product_gb,
         lambda: product_with(K, V, streamed=False), lambda: numpy_product(K, V), 1e-12),
        ("product, float64 K, compiled", product_gb,
         lambda: product_with(K, V, streamed=True), lambda: numpy_product(K, V), 1e-12),
        ("correction, float32 L, BLAS", correction_gb,
         lambda: correction_with(L, R, streamed=False), lambda: numpy_correction(L, R), 1e-4),
        ("correction, float32 L, compiled", correction_gb,
         lambda: correction_with(L, R, streamed=True), lambda: numpy_correction(L, R), 1e-4),
    ]
    rows = []
    for name, nbytes, ours, reference, tol in cases:
        a, b = ours(), reference()
        difference = float(np.abs(a - b).max() / np.abs(b).max())
        if not difference <= tol:
            raise SystemExit(f"{name}: kernelfit and the reference differ by {difference:.1e}")
        times = {"kernelfit": [], "reference": []}
        for _ in range(2):  # A B A B, each a run of repeats: a method's first call after
            # the other's also pays for the other library's spinning threads
            times["kernelfit"] += best_seconds(ours, repeats)
            times["reference"] += best_seconds(reference, repeats)
        best = {k: min(v) for k, v in times.items()}
        rows.append({"sweep": name, "n": n, "columns": columns, "gb": nbytes / 1e9,
                     "seconds": times, "kernelfit_gbs": nbytes / best["kernelfit"] / 1e9,
                     "reference_gbs": nbytes / best["reference"] / 1e9,
                     "speedup": best["reference"] / best["kernelfit"],
                     "over_copy_floor": copy_gbs / (nbytes / best["kernelfit"] / 1e9),
                     "max_relative_difference": difference})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[12000], help="matrix orders")
    parser.add_argument("--columns", type=int, default=10, help="right-hand sides")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tile-size", type=int, default=None,
                        help="tile edge (default: kernelfit's for n)")
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    copy_gbs = memory_bandwidth()["copy"]
    rows = [row for n in args.n for row in sweep_rows(n, args.columns, args.repeats,
                                                      copy_gbs, rng, args.tile_size)]
    print(format_table(
        [[r["sweep"], r["n"], f"{r['gb']:.2f}", f"{r['kernelfit_gbs']:.1f}",
          f"{r['reference_gbs']:.1f}", f"{r['speedup']:.2f}x", f"{r['over_copy_floor']:.2f}x",
          f"{r['max_relative_difference']:.1e}"] for r in rows],
        ["sweep", "n", "GB", "kernelfit GB/s", "NumPy-@ GB/s", "speedup",
         f"over copy {copy_gbs:.1f} GB/s", "max rel. diff"]))
    save_run(args.out, copy_gbs=copy_gbs, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
