"""The distributed exact solve against the single-machine one, on the same problem.

In one run, on pixel-like data (``n x d`` uniform in [0, 1], Gaussian kernel,
10 right-hand sides, a small ridge):

* local: the estimator's path, Gram into packed lower tiles, ``tiled_cholesky``
  and ``cholesky_solve`` in this process (BLAS on every core);
* dask: :func:`kernelfit.distributed.cholesky_factor` and
  :meth:`~kernelfit.distributed.DistributedFactor.solve` on a LocalCluster of
  ``--workers`` single-threaded worker processes with ``--memory-limit`` each;
  tiles beyond Dask's spill threshold go to the workers' disks.

Reported: wall time of each phase, the ratio dask / local, the task count,
bytes sent between workers and bytes spilled (the workers' own counters),
and the largest difference between the two solutions. Prints a table and
writes JSON. The demonstration of the issue (6.4 GB of tiles on workers
holding 3 GiB each):

    python bench/bench_distributed.py --n 40000 --workers 4 --memory-limit 3GiB \
        --out bench/results/distributed-40000.json

``--skip-local`` omits the single-machine run (it needs the n^2 / 2 tiles in
this process's memory).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from kernelfit.gram_builder import gram
from kernelfit.kernels import make_kernel
from kernelfit.linalg import PackedStorage, cholesky_solve, default_tile_size, tiled_cholesky
from kernelfit.memory import format_bytes
from kernelfit.provenance import environment
from kernelfit.results_io import write_json


def problem(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    Y = np.eye(10)[rng.integers(0, 10, n)]
    return X, Y


def local_run(X, Y, kernel, reg, tile, dtype) -> tuple[np.ndarray, dict]:
    t0 = time.perf_counter()
    storage = PackedStorage(X.shape[0], tile, dtype, "cpu")
    gram(X, kernel=kernel, dtype=dtype, out=storage, device="cpu")
    storage.add_to_diagonal(reg)
    t1 = time.perf_counter()
    tiled_cholesky(storage)
    t2 = time.perf_counter()
    alpha = cholesky_solve(storage, Y)
    t3 = time.perf_counter()
    storage.close()
    return alpha, {"gram": t1 - t0, "cholesky": t2 - t1, "solve": t3 - t2, "total": t3 - t0}


def dask_run(X, Y, kernel, reg, tile, dtype, args) -> tuple[np.ndarray, dict]:
    import distributed

    from kernelfit.distributed import cholesky_factor, transfer_totals
    from kernelfit.distributed.metrics import transfer_delta

    spill_dir = args.spill_dir or tempfile.mkdtemp(prefix="kernelfit-dask-")
    cluster = distributed.LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True,
        memory_limit=args.memory_limit, local_directory=spill_dir, dashboard_address=":0",
    )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        before = transfer_totals(client)
        t0 = time.perf_counter()
        factor = cholesky_factor(X, kernel, reg=reg, client=client, tile_size=tile, dtype=dtype,
                                 placement=args.placement)
        t1 = time.perf_counter()
        peak = transfer_totals(client)
        with factor:
            alpha = factor.solve(Y)
            t2 = time.perf_counter()
            tasks, nbytes = factor.task_count, factor.nbytes
        moved = transfer_delta(before, transfer_totals(client))
        moved_factor = transfer_delta(before, peak)
    finally:
        client.close()
        cluster.close()
        if args.spill_dir is None:  # a temporary spill directory of ours: leave nothing behind
            shutil.rmtree(spill_dir, ignore_errors=True)
    info = {
        "gram+cholesky": t1 - t0, "solve": t2 - t1, "total": t2 - t0,
        "tasks": tasks, "factor_bytes": nbytes,
        "sent_bytes_factorization": moved_factor["sent_bytes"],
        "sent_bytes_total": moved["sent_bytes"], "transfers": moved["sent_count"],
        "spilled_bytes": moved["spilled_bytes"],
        "worker_memory_at_end_of_factorization": {
            w: c["memory_bytes"] for w, c in peak["workers"].items()},
    }
    return alpha, info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8000)
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="3GiB")
    parser.add_argument("--tile-size", type=int, default=None)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--reg", type=float, default=1e-6)
    parser.add_argument("--placement", choices=["block-cyclic", "scheduler"],
                        default="block-cyclic")
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--spill-dir", default=None, help="workers' local directory")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    X, Y = problem(args.n, args.d)
    kernel = make_kernel("gaussian", X=X)  # median heuristic
    tile = args.tile_size or default_tile_size(args.n)
    dtype = np.dtype(args.dtype)
    local_alpha, local = (None, None)
    if not args.skip_local:
        local_alpha, local = local_run(X, Y, kernel, args.reg, tile, dtype)
        gc.collect()
    alpha, dask = dask_run(X, Y, kernel, args.reg, tile, dtype, args)
    diff = (float(np.abs(alpha - local_alpha).max() / np.abs(local_alpha).max())
            if local_alpha is not None else None)
    # Each factor tile is sent to `fanout` other workers on average (updated tiles that
    # move count too): the calibration of the traffic model in docs/scaling.md.
    fanout = dask["sent_bytes_factorization"] / dask["factor_bytes"]
    rate = dask["tasks"] / dask["gram+cholesky"]
    rows = [
        ("problem", f"n={args.n}, d={args.d}, {args.dtype}, tile {tile}, "
                    f"{format_bytes(dask['factor_bytes'])} of lower tiles"),
        ("cluster", f"{args.workers} workers x 1 thread, memory_limit {args.memory_limit}, "
                    f"{args.placement} placement"),
    ]
    if local:
        rows.append(("local: gram + cholesky", f"{local['gram'] + local['cholesky']:.1f} s"))
        rows.append(("local: solve", f"{local['solve']:.1f} s"))
    rows += [
        ("dask: gram + cholesky", f"{dask['gram+cholesky']:.1f} s"),
        ("dask: solve", f"{dask['solve']:.1f} s"),
        ("dask / local (total)", f"{dask['total'] / local['total']:.2f}x" if local else "-"),
        ("tasks", f"{dask['tasks']:,} ({rate:.0f} per second)"),
        ("sent between workers", format_bytes(dask["sent_bytes_total"])),
        ("  of which factorization", format_bytes(dask["sent_bytes_factorization"])),
        ("  fan-out (factorization bytes / factor bytes)", f"{fanout:.2f}"),
        ("spilled to disk", format_bytes(dask["spilled_bytes"])),
        ("max |alpha_dask - alpha_local| / max |alpha|", f"{diff:.1e}" if diff is not None
         else "-"),
    ]
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    versions, machine = environment()
    record = {"command": " ".join(["python", *sys.argv]), "n": args.n, "d": args.d,
              "dtype": args.dtype, "tile": tile, "workers": args.workers,
              "memory_limit": args.memory_limit, "placement": args.placement,
              "local": local, "dask": dask,
              "ratio": dask["total"] / local["total"] if local else None,
              "relative_difference": diff, "fanout": fanout, "tasks_per_second": rate,
              "load_average": os.getloadavg(), "versions": versions, "machine": machine,
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    out = args.out or f"bench/results/distributed-{args.n}.json"
    write_json(record, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
