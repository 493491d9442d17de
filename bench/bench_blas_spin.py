"""kernelfit's solve with OpenBLAS's idle threads spinning for its default time and for
kernelfit's, in one run.

After each call OpenBLAS keeps its threads spinning for ``2^OPENBLAS_THREAD_TIMEOUT``
cycles (default 28, about 0.1 s) before they sleep. kernelfit alternates SciPy's and
NumPy's OpenBLAS (each with its own threads) with its own threaded passes, which then
share the cores with spinning threads. ``import kernelfit`` therefore sets the variable
to :data:`kernelfit.BLAS_THREAD_TIMEOUT` unless the user did. This program runs
``kernelfit bench solve``'s child processes (:func:`kernelfit.benchmarks.solve_benchmark`,
without scikit-learn) under both settings, alternating, and prints each phase's best
time over the rounds and the ratio of the totals. Writes JSON.

    python bench/bench_blas_spin.py --n 12000 --out bench/results/solve-12k-blas-spin.json
"""

from __future__ import annotations

import argparse
import os
import sys

import kernelfit
from kernelfit.benchmarks import solve_benchmark
from kernelfit.cli.argument_types import count
from kernelfit.provenance import save_run
from kernelfit.tables import format_table

#: The two settings: OpenBLAS's own default and kernelfit's.
SETTINGS = {"OpenBLAS default": "28", "kernelfit": kernelfit.BLAS_THREAD_TIMEOUT}


def spin_runs(sizes, dtypes, source: str, rounds: int) -> list[dict]:
    """One record per (round, setting, n, dtype): the child's seconds, phase timings and
    the variable it ran with."""
    runs = []
    before = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    try:
        for round_ in range(rounds):
            for setting, value in SETTINGS.items():
                os.environ["OPENBLAS_THREAD_TIMEOUT"] = value  # the children inherit it
                for row in solve_benchmark(sizes, dtypes, source=source, sklearn=False):
                    ours = row["kernelfit"]
                    if ours.get("status") != "ok":
                        raise SystemExit(f"n={row['n']} {row['dtype']}: the solve failed: "
                                         f"{ours}")
                    runs.append({"round": round_, "setting": setting,
                                 "OPENBLAS_THREAD_TIMEOUT": value, "n": row["n"],
                                 "dtype": row["dtype"], "seconds": ours["seconds"],
                                 "timings": ours["timings"],
                                 "child_blas_thread_timeout": ours.get("blas_thread_timeout")})
    finally:
        if before is None:
            os.environ.pop("OPENBLAS_THREAD_TIMEOUT", None)
        else:
            os.environ["OPENBLAS_THREAD_TIMEOUT"] = before
    return runs


def summary_rows(runs) -> list[dict]:
    """Per (n, dtype, setting): the best total and phase times over the rounds, and the
    default's best total over this setting's."""
    rows = []
    for key in dict.fromkeys((r["n"], r["dtype"]) for r in runs):
        best = {}
        for setting in SETTINGS:
            mine = [r for r in runs if (r["n"], r["dtype"]) == key and r["setting"] == setting]
            best[setting] = {"seconds": min(r["seconds"] for r in mine),
                             "timings": {phase: min(r["timings"][phase] for r in mine)
                                         for phase in mine[0]["timings"]}}
        default = best["OpenBLAS default"]["seconds"]
        for setting, b in best.items():
            rows.append({"n": key[0], "dtype": key[1], "setting": setting,
                         "value": SETTINGS[setting], **b,
                         "default_over_this": default / b["seconds"]})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=count, nargs="+", default=[12000])
    parser.add_argument("--dtype", nargs="+", default=["mixed", "float64"],
                        choices=["mixed", "float64", "float32"])
    parser.add_argument("--data", default="mnist", choices=["mnist", "synthetic"])
    parser.add_argument("--rounds", type=count, default=2,
                        help="alternations of the settings")
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args(argv)
    runs = spin_runs(args.n, args.dtype, args.data, args.rounds)
    rows = summary_rows(runs)
    phases = list(rows[0]["timings"])
    print(format_table(
        [[r["n"], r["dtype"], f"{r['setting']} ({r['value']})", f"{r['seconds']:.2f}",
          *[f"{r['timings'][p]:.2f}" for p in phases], f"{r['default_over_this']:.2f}x"]
         for r in rows],
        ["n", "dtype", "OPENBLAS_THREAD_TIMEOUT", "best s", *phases, "default / this"]))
    save_run(args.out, settings=SETTINGS, rounds=args.rounds, runs=runs, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
