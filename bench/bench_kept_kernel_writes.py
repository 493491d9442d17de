"""The Gram phase of a mixed-precision fit whose float64 ``K`` is kept on disk: writes from
the computing threads against writes from a background thread.

Mixed precision keeps a float64 copy of ``K`` for the refinement's residuals. When it
does not fit in RAM beside the float32 factor (MNIST's 60,000 points: 14.4 GB) it is
kept in a file, filled in the same pass as the factor's tiles
(:class:`kernelfit.linalg.storage_choice.TeeTiles`). Two ways to fill it:

* ``direct``: each block is computed straight into the file's memory map (kernelfit
  before :mod:`kernelfit.linalg.tile_writer`);
* ``background``: each block is computed into a reusable buffer and written by a
  thread (:class:`kernelfit.linalg.tile_writer.BackgroundTileWriter`).

Past the kernel's dirty-page limit (``vm.dirty_ratio``) the thread that dirties pages
is paused until the disk catches up: in ``direct`` mode that is the BLAS threads. Each
mode runs ``--repeats`` times, alternating (A B A B), each in a fresh scratch
directory, with the disk synced before it starts. A row gives the Gram phase's wall
seconds, its CPU seconds (program and operating system), the dirty and writeback
bytes when it ended, and the seconds ``sync`` then took to write what was left (in a
fit that writing overlaps the factorization). Both modes' tiles are checked to be
identical. The data are random (the time does not depend on the values). Prints a
table and writes JSON.

    python bench/bench_kept_kernel_writes.py --n 40000 --out bench/results/kept-kernel-writes.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

import kernelfit as kf
from kernelfit.linalg import OutOfCoreStorage, PackedStorage
from kernelfit.linalg.storage_choice import TeeTiles
from kernelfit.linalg.tile_writer import BackgroundTileWriter
from kernelfit.phase_clock import Stopwatch, cpu_by_phase
from kernelfit.provenance import save_run
from kernelfit.tables import format_table

MODES = ("direct", "background")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=40000, help="points (40000)")
    parser.add_argument("--d", type=int, default=784, help="features (784, MNIST's)")
    parser.add_argument("--tile-size", type=int, default=None, help="tile edge (default)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each mode (2)")
    parser.add_argument("--scratch-dir", default=None,
                        help="parent of the kept K (the system temporary directory)")
    parser.add_argument("--out", default=None, help="JSON file")
    args = parser.parse_args(argv)
    if args.n < 2 or args.d < 1 or args.repeats < 1:
        parser.error(f"--n must be at least 2, --d and --repeats at least 1; found {args.n}, "
                     f"{args.d}, {args.repeats}")
    return args


def meminfo_bytes(*fields) -> dict:
    """``/proc/meminfo`` fields in bytes (None where there is no such file)."""
    try:
        with open("/proc/meminfo") as handle:
            lines = dict(line.split(":", 1) for line in handle)
    except OSError:
        return dict.fromkeys(fields)
    return {f: int(lines[f].split()[0]) * 1024 for f in fields}


def fill(mode, X, bandwidth, tile_size, parent):
    """One Gram phase: the kept float64 K on disk and the float32 factor tiles.

    Returns the row and a checksum of both storages."""
    directory = tempfile.mkdtemp(prefix="kernelfit-bench-kept-", dir=parent)
    try:
        kept = OutOfCoreStorage(X.shape[0], directory, tile_size=tile_size)
        factor = PackedStorage(X.shape[0], kept.tile_size, np.float32)
        os.sync()  # nothing of an earlier run left to write
        timings = {}
        with cpu_by_phase() as cpu:
            watch = Stopwatch()
            if mode == "background":
                with BackgroundTileWriter(kept) as writer:
                    kf.gram(X, kernel="gaussian", bandwidth=bandwidth, dtype=np.float64,
                            out=TeeTiles(kept, factor, writer=writer))
            else:
                kf.gram(X, kernel="gaussian", bandwidth=bandwidth, dtype=np.float64,
                        out=TeeTiles(kept, factor))
            watch.lap(timings, "gram")
        pages = meminfo_bytes("Dirty", "Writeback")
        start = time.perf_counter()
        os.sync()
        synced = time.perf_counter() - start
        checksum = [float(sum(np.sum(s.tile(i, j), dtype=np.float64)
                              for i in range(s.nt) for j in range(i + 1)))
                    for s in (kept, factor)]
        kept.close()
        row = {"mode": mode, "seconds": timings["gram"], **cpu["gram"],
               "dirty_bytes": pages["Dirty"], "writeback_bytes": pages["Writeback"],
               "sync_seconds": synced, "kept_bytes": kept.nbytes}
        return row, checksum
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.d))
    bandwidth = float(np.sqrt(args.d))  # about the median distance of such points
    rows, checksums = [], {}
    for repeat in range(args.repeats):
        for mode in MODES:
            row, checksum = fill(mode, X, bandwidth, args.tile_size, args.scratch_dir)
            rows.append({"repeat": repeat, **row})
            checksums.setdefault(mode, checksum)
            if checksum != checksums[MODES[0]]:
                raise SystemExit(f"the {mode} tiles differ from the {MODES[0]} tiles: "
                                 f"checksums {checksum} and {checksums[MODES[0]]}")
            print(f"{mode:>10} run {repeat + 1}: {row['seconds']:.1f} s", flush=True)
    best = {m: min(r["seconds"] for r in rows if r["mode"] == m) for m in MODES}
    gb = rows[0]["kept_bytes"] / 1e9
    print(format_table([
        (f"{r['mode']} {r['repeat'] + 1}",
         f"{r['seconds']:.1f} s; CPU {r['user_seconds']:.1f} s + OS "
         f"{r['system_seconds']:.1f} s; dirty {r['dirty_bytes'] / 1e9:.2f} GB, writeback "
         f"{r['writeback_bytes'] / 1e9:.2f} GB at the end; sync {r['sync_seconds']:.1f} s")
        for r in rows] + [
        ("kept K", f"{gb:.2f} GB float64 on disk (n = {args.n:,}, d = {args.d})"),
        ("direct / background", f"{best['direct'] / best['background']:.2f}x (best of "
                                f"{args.repeats} each)")]))
    save_run(args.out, n=args.n, d=args.d, rows=rows,
             ratio_direct_over_background=best["direct"] / best["background"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
