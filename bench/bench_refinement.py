"""Fewer refinement sweeps? Iterative refinement against conjugate gradients, on MNIST.

Mixed precision solves ``K alpha = Y`` with a float32 Cholesky factor ``L`` of ``K``
and float64 residuals; each step costs one product with the kept float64 ``K`` and one
correction ``(L L^T)^{-1} R`` (two float32 triangular sweeps). kernelfit runs classical
iterative refinement (:func:`kernelfit.solvers.mixed.refine`). The candidate is
conjugate gradients preconditioned by the same factor, one CG per target column
(flexible: the float32 correction is not exactly a fixed linear map), started from the
same first correction. Both use kernelfit's own product and correction on the same
tiles and stop at the same tolerance (:func:`kernelfit.solvers.mixed.default_tol`).
Each refinement step's product gives its true residual; a CG step's product does not
(CG updates its residual recursively), so CG needs one more product at the end to
report a true residual. Its true residual is also computed after every step, for the
table only: those diagnostic products are not counted.

For each training-set size (an MNIST subset, pixels in [0, 1], the CLI's bandwidth) the
table gives the products by ``K`` each method needed, the relative residuals of every
step and the best residual reached, and the time. Prints a table and writes JSON.

    python bench/bench_refinement.py --n 8000 16000 --out bench/results/refinement-ir-vs-cg.json
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from kernelfit.datasets import as_float, load_mnist
from kernelfit.experiment_records import DEFAULT_BANDWIDTH
from kernelfit.gram_builder import gram
from kernelfit.linalg import PackedStorage, tiled_cholesky
from kernelfit.linalg.tile_matvec import copy_tiles, tile_symmetric_matvec
from kernelfit.provenance import save_run
from kernelfit.solvers.mixed import default_tol, refine, tile_correction
from kernelfit.tables import format_table


def system(n: int, seed: int = 0):
    """The kept float64 ``K`` and the float32 factor of an MNIST subset, and its targets."""
    data = load_mnist(download=False)
    rows = np.random.default_rng(seed).choice(len(data.y_train), n, replace=False)
    X = as_float(data.X_train[rows], np.float64)
    Y = np.eye(10)[data.y_train[rows]]
    K = gram(X, bandwidth=DEFAULT_BANDWIDTH["mnist"], dtype=np.float64,
             out=PackedStorage(n, dtype=np.float64))
    factor = PackedStorage(n, K.tile_size, np.float32)
    for i in range(K.nt):
        for j in range(i + 1):
            factor.store(i, j, K.tile(i, j))
    tiled_cholesky(factor)
    return copy_tiles(K), factor, Y


def conjugate_gradients(product, correction, Y, tol, max_steps=12):
    """Flexible preconditioned CG, all columns at once; returns the true relative residual
    after each step (diagnostic products, not counted) and the products CG itself made
    up to its last step, plus one to report the final true residual."""
    y_norm = np.linalg.norm(Y)
    alpha = correction(Y)
    R = Y - product(alpha)
    history = [float(np.linalg.norm(R) / y_norm)]
    Z = correction(R)
    P = Z.copy()
    rz = np.sum(R * Z, axis=0)
    products = 1
    for _ in range(max_steps):
        if history[-1] <= tol:
            break
        Q = product(P)
        step = rz / np.sum(P * Q, axis=0)
        alpha += step * P
        R_new = R - step * Q
        products += 1
        history.append(float(np.linalg.norm(Y - product(alpha)) / y_norm))
        Z_new = correction(R_new)
        beta = np.sum(R_new * (Z_new - Z), axis=0) / rz  # Polak-Ribiere (flexible)
        rz = np.sum(R_new * Z_new, axis=0)
        P = Z_new + beta * P
        R, Z = R_new, Z_new
    return history, products + 1


def compare(n: int) -> dict:
    K, factor, Y = system(n)
    tol = default_tol(n)
    correct = tile_correction(factor)

    def product(V):
        return tile_symmetric_matvec(K, V)

    t0 = time.perf_counter()
    _, info = refine(factor, Y, product)  # as kernelfit runs it
    ir_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    cg_history, cg_products = conjugate_gradients(product, lambda R: correct(R), Y, tol)
    cg_seconds = time.perf_counter() - t0
    return {"n": n, "tol": tol,
            "iterative_refinement": {"residuals": info.residuals,
                                     "products": len(info.residuals),
                                     "products_to_tol": _first_below(info.residuals, tol),
                                     "seconds": ir_seconds},
            "cg": {"residuals": cg_history, "products": cg_products,
                   "products_to_tol": _first_below(cg_history, tol, final=1),
                   "seconds": cg_seconds}}


def _first_below(history, tol, final=0):
    """Products needed to reach ``tol`` (None if never): one per step, and ``final`` more
    to know the true residual."""
    for step, value in enumerate(history):
        if value <= tol:
            return 1 + step + final
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[8000, 16000])
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args(argv)
    rows = [compare(n) for n in args.n]
    table = []
    for row in rows:
        for name in ("iterative_refinement", "cg"):
            r = row[name]
            steps = " ".join(f"{x:.0e}" for x in r["residuals"])
            table.append([row["n"], name, f"{row['tol']:.1e}", r["products_to_tol"] or "never",
                          f"{min(r['residuals']):.2e}", steps, f"{r['seconds']:.1f}"])
    print(format_table(table, ["n", "method", "tol", "products to tol", "best residual",
                               "residual per step", "seconds"]))
    save_run(args.out, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
