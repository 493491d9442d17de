"""Tiled Cholesky against SciPy's potrf and the machine's GEMM rate, in one run.

For each dtype and n, in the same process and run:

* GEMM: the best of three ``C = A B`` at 4096^3 (the machine's BLAS-3 ceiling);
* kernelfit: ``tiled_cholesky`` on packed lower tiles of a Gaussian Gram matrix;
* SciPy: ``scipy.linalg.lapack.?potrf`` on the same matrix, in a subprocess so
  that a crash (the bundled OpenBLAS segfaults on large calls here) is
  reported as a crash instead of ending the benchmark.

GFLOP/s count ``n^3 / 3`` for a Cholesky. Prints a table and writes JSON.

    python bench/bench_cholesky.py --sizes 4000 8000 16000 24000 \
        --out bench/results/cholesky.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

from kernelfit.gram_builder import gram
from kernelfit.linalg import PackedStorage, tiled_cholesky
from kernelfit.phase_rates import gemm_rate
from kernelfit.provenance import environment
from kernelfit.results_io import write_json

SCIPY_SNIPPET = """
import sys, time, json, numpy as np
from scipy.linalg import lapack
from kernelfit.gram_builder import gram
n, dtype = int(sys.argv[1]), sys.argv[2]
X = np.random.default_rng(0).random((n, 32))
K = gram(X, kernel="gaussian", bandwidth=2.0, dtype=dtype)
K[np.diag_indices(n)] += 1e-2
K = np.asfortranarray(K)
potrf = lapack.spotrf if dtype == "float32" else lapack.dpotrf
t0 = time.perf_counter()
_, info = potrf(K, lower=1, overwrite_a=1, clean=0)
print(json.dumps({"seconds": time.perf_counter() - t0, "info": int(info)}))
"""


def kernelfit_cholesky(n, dtype, tile_size=None) -> dict:
    X = np.random.default_rng(0).random((n, 32))
    storage = PackedStorage(n, tile_size, dtype)
    gram(X, kernel="gaussian", bandwidth=2.0, dtype=dtype, out=storage)
    storage.add_to_diagonal(1e-2)
    t0 = time.perf_counter()
    tiled_cholesky(storage)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "gflops": n**3 / 3 / seconds / 1e9, "tile": storage.tile_size}


def scipy_cholesky(n, dtype) -> dict:
    proc = subprocess.run([sys.executable, "-c", SCIPY_SNIPPET, str(n), dtype],
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        return {"status": f"crashed (exit {proc.returncode})", "gflops": None}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"status": "ok", "seconds": out["seconds"], "gflops": n**3 / 3 / out["seconds"] / 1e9}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000, 8000, 16000, 24000])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--tile-size", type=int, default=None)
    parser.add_argument("--no-scipy", action="store_true")
    parser.add_argument("--out", default="bench/results/cholesky.json")
    args = parser.parse_args(argv)
    rows = []
    for dtype in args.dtypes:
        for n in args.sizes:
            rate = gemm_rate(dtype)
            ours = kernelfit_cholesky(n, dtype, args.tile_size)
            ref = {"status": "skipped", "gflops": None} if args.no_scipy else scipy_cholesky(
                n, dtype)
            rate = max(rate, gemm_rate(dtype))  # GEMM before and after, best of both
            row = {"n": n, "dtype": dtype, "gemm_gflops": rate, "kernelfit": ours,
                   "scipy_potrf": ref, "fraction_of_gemm": ours["gflops"] / rate}
            rows.append(row)
            scipy_text = f"{ref['gflops']:.1f}" if ref["gflops"] else ref["status"]
            print(f"{dtype:8s} n={n:6d}  GEMM {rate:6.1f}  kernelfit {ours['gflops']:6.1f} "
                  f"({100 * row['fraction_of_gemm']:.0f}% of GEMM, tile {ours['tile']}, "
                  f"{ours['seconds']:.1f} s)  scipy potrf {scipy_text}", flush=True)
    versions, machine = environment()
    record = {"command": " ".join(["python", *sys.argv]), "rows": rows, "versions": versions,
              "machine": machine, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    write_json(record, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
