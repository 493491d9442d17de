"""Confirm the random-convolution study's finalists on 40,000 fitted / 10,000 held-out images.

The study (``randconv_study.py``) chose its settings on 10,000 fitted and 5,000
held-out training images. This program reruns its finalists at the size the issue
asks for, still on **training images only**: the same seeded permutation holds out
the first ``--n-val`` and fits the next ``--n-fit``; the test set is never loaded.

At this size the study's dense float64 grid does not fit in memory (a 50,000-image
float64 Gram is 20 GB), so each setting runs through the library's streamed solver,
:func:`kernelfit.streamed.solve_streamed_regs`, with the held-out images in the place
of the test set: one packed float32 Gram per setting, checkpointed under
``--checkpoint-root``, then for every bandwidth (multiples of the median of the
fitted images) one mixed-precision Cholesky per ``reg``. The bandwidths after the
first restore the Gram from the checkpoint instead of recomputing it.

Each finished (setting, bandwidth) is written to the JSON at once; a rerun with the
same configuration skips it, so a killed run resumes where it stopped. A solve whose
mixed-precision refinement did not converge (relative residual above
:data:`kernelfit.solvers.mixed.NOT_CONTRACTING`: a float32 factor too inaccurate for an
ill-conditioned ``K``, at a wide bandwidth without ridge) is recorded with its residual
but is not a solution: the tables mark it and the choice of the best skips it. A solve
that fails outright (a float32 Cholesky that finds ``K`` not positive definite, and no
room for the dense fallback) is recorded as a failure, and the other ridge terms of that
bandwidth are then solved one at a time.

    KERNELFIT_DATA=../shared/data python bench/randconv_confirm.py \\
        --out bench/results/randconv-confirm-40k.json \\
        --checkpoint-root /tmp/randconv-confirm --plot bench/results/randconv-confirm-40k.png
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

import numpy as np
from randconv_settings import SCREEN
from randconv_study import (
    check_split_and_grid,
    feature_params,
    finish_results,
    log,
    start_results,
)

from kernelfit.backend import NotPositiveDefiniteError
from kernelfit.features import RandomConvFeatures
from kernelfit.memory import MemoryBudgetError
from kernelfit.progress import TqdmProgress, progress_lines_ended
from kernelfit.results_io import write_json
from kernelfit.solvers.mixed import NOT_CONTRACTING
from kernelfit.streamed import solve_streamed_regs

#: A solve that fails (a float32 Cholesky of a K that is not numerically positive
#: definite, whose dense fallback then exceeds the memory budget) is a result to record.
SOLVE_FAILURES = (NotPositiveDefiniteError, MemoryBudgetError)

#: The study's finalists: today's defaults and the settings they replaced.
FINALISTS = ("overlap3+alpha=1+zca_eps=1", "baseline")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", nargs="+", default=list(FINALISTS),
                        help=f"study settings to confirm (default: {' '.join(FINALISTS)})")
    parser.add_argument("--filters", type=int, default=1000, help="random filters (1000)")
    parser.add_argument("--n-fit", type=int, default=40000, help="fitted images (40000)")
    parser.add_argument("--n-val", type=int, default=10000, help="held-out images (10000)")
    parser.add_argument("--bandwidth-factors", type=float, nargs="+", default=[1, 2, 4],
                        help="Gaussian sigma as multiples of the median (1 2 4)")
    parser.add_argument("--regs", type=float, nargs="+", default=[0, 1e-3, 1e-2, 1e-1],
                        help="ridge terms (the Gaussian's diagonal is 1; 0 1e-3 1e-2 1e-1)")
    parser.add_argument("--seed", type=int, default=0, help="split and filter seed (0)")
    parser.add_argument("--memory-budget", default=None, help="budget of the streamed solve")
    parser.add_argument("--checkpoint-root", required=True,
                        help="parent of one Gram checkpoint per setting")
    parser.add_argument("--keep-checkpoints", action="store_true",
                        help="keep each setting's checkpoint after its last bandwidth")
    parser.add_argument("--out", required=True, help="JSON file (read back to resume)")
    parser.add_argument("--plot", default=None, help="PNG of held-out error per setting")
    args = parser.parse_args(argv)
    known = dict(SCREEN)
    unknown = [name for name in args.settings if name not in known]
    if unknown:
        parser.error(f"--settings must be names of the study's screen; unknown: {unknown}")
    check_split_and_grid(parser, args)
    if args.filters < 1:
        parser.error(f"--filters must be at least 1; found {args.filters}")
    return args


def run_bandwidth(name, factor, median, images, labels, args, checkpoint_dir, progress):
    """One bandwidth of one setting: every ``reg`` from one kernel; returns rows and the
    median bandwidth (computed by the first, median-bandwidth call)."""
    params = feature_params(dict(SCREEN)[name], args.filters, args.n_fit, args.seed, None)
    params.pop("memory_budget")
    feature_map = RandomConvFeatures(**params, device="cpu")
    fit, val = slice(0, args.n_fit), slice(args.n_fit, None)
    bandwidth = None if median is None else factor * median

    def solve(regs):
        return solve_streamed_regs(
            feature_map, images[fit], labels[fit], images[val], regs=tuple(regs),
            kernel="gaussian", bandwidth=bandwidth, dtype="mixed",
            memory_budget=args.memory_budget, checkpoint_dir=checkpoint_dir,
            progress=progress)

    start = time.perf_counter()
    try:
        outcomes = list(zip(args.regs, solve(args.regs), strict=True))
    except SOLVE_FAILURES as failure:
        # One solve failed and took the others with it: solve each reg alone, so that
        # the rest count and the failed one is recorded as a failure, not a result.
        log(f"  {name} x{factor:g}: {type(failure).__name__}; solving each reg alone")
        outcomes = []
        for reg in args.regs:
            try:
                outcomes.append((reg, solve([reg])[0]))
            except SOLVE_FAILURES as alone:
                outcomes.append((reg, alone))
    seconds = time.perf_counter() - start
    rows = []
    for reg, solution in outcomes:
        row = {"kernel": f"gaussian x{factor:g}", "reg": reg}
        if isinstance(solution, Exception):
            rows.append({**row, "bandwidth": bandwidth, "val_error": None, "rkhs_norm": None,
                         "relative_residual": None,
                         "failure": f"{type(solution).__name__}: {solution}"})
            log(f"  {name} x{factor:g} reg {reg:g}: failed ({rows[-1]['failure']})")
            continue
        predicted = solution.predict(solution.test_scores)
        rows.append({
            **row, "bandwidth": solution.bandwidth,
            "val_error": float(np.mean(predicted != labels[val])),
            "rkhs_norm": solution.rkhs_norm,
            "relative_residual": solution.relative_residual,
            "resumed_filters": solution.resumed_filters, "timings": solution.timings})
        log(f"  {name} x{factor:g} reg {reg:g}: held-out "
            f"{100 * rows[-1]['val_error']:.2f}%, residual {solution.relative_residual:.1e}")
    solved_bandwidth = next((r["bandwidth"] for r in rows if r["val_error"] is not None), None)
    if solved_bandwidth is None:
        raise SystemExit(f"{name} x{factor:g}: every solve failed ({rows[0]['failure']})")
    return rows, solved_bandwidth, seconds


def confirm_setting(name, images, labels, args, results, progress):
    params = feature_params(dict(SCREEN)[name], args.filters, args.n_fit, args.seed, None)
    config = {"params": params, "n_fit": args.n_fit, "n_val": args.n_val, "seed": args.seed,
              "regs": args.regs}
    entry = results["settings"].get(name)
    if entry is None or entry["config"] != config:
        entry = {"name": name, "changes": dict(SCREEN)[name], "config": config,
                 "median_bandwidth": None, "by_factor": {}}
        results["settings"][name] = entry
    checkpoint_dir = os.path.join(args.checkpoint_root, name.replace("=", "-"))
    # The median first: the other bandwidths are multiples of it.
    factors = sorted(args.bandwidth_factors, key=lambda f: f != 1)
    if 1 not in factors:
        factors = [1.0, *factors]
    for factor in factors:
        key = f"{factor:g}"
        if key in entry["by_factor"]:
            log(f"{name} x{factor:g}: already done, skipped")
            continue
        log(f"{name} x{factor:g}: {args.n_fit:,} fitted, {args.n_val:,} held out")
        rows, bandwidth, seconds = run_bandwidth(name, factor, entry["median_bandwidth"],
                                                 images, labels, args, checkpoint_dir,
                                                 progress)
        if entry["median_bandwidth"] is None:
            entry["median_bandwidth"] = bandwidth
        entry["by_factor"][key] = {"rows": rows, "seconds": seconds}
        write_json(results, args.out)
    if not args.keep_checkpoints:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return entry


def solved(row) -> bool:
    """The solve ran and converged: its residual is that of a solution."""
    return row["relative_residual"] is not None and row["relative_residual"] <= NOT_CONTRACTING


def summary_rows(results):
    """Per setting: the best held-out error, and the best at ``reg = 0`` (solved rows)."""
    table = []
    for entry in results["settings"].values():
        rows = [r for f in entry["by_factor"].values() for r in f["rows"] if solved(r)]
        if not rows:
            continue
        best = min(rows, key=lambda r: (r["val_error"], -r["reg"]))
        unreg = min((r for r in rows if r["reg"] == 0), key=lambda r: r["val_error"],
                    default=None)
        table.append({"setting": entry["name"], "best": best, "best_unregularized": unreg})
    return table


def print_table(results):
    print(f"\n{'setting':<28} {'kernel':>14} {'reg':>7} {'held-out':>9} "
          f"{'residual':>9} {'RKHS norm':>10}")
    for entry in results["settings"].values():
        for f in entry["by_factor"].values():
            for r in f["rows"]:
                error = (f"{100 * r['val_error']:>8.2f}%" if solved(r)
                         else f"{'failed' if 'failure' in r else 'unsolved':>9}")
                residual = ("-" if r["relative_residual"] is None
                            else f"{r['relative_residual']:.1e}")
                norm = "-" if r["rkhs_norm"] is None else f"{r['rkhs_norm']:.1f}"
                print(f"{entry['name']:<28} {r['kernel']:>14} {r['reg']:>7g} {error} "
                      f"{residual:>9} {norm:>10}")
    print(f"\n{'setting':<28} {'best held-out':>24} {'best at reg 0':>22}")
    for row in summary_rows(results):
        best, unreg = row["best"], row["best_unregularized"]
        reg0 = "-" if unreg is None else f"{100 * unreg['val_error']:>6.2f}% ({unreg['kernel']})"
        print(f"{row['setting']:<28} {100 * best['val_error']:>6.2f}% "
              f"({best['kernel']}, {best['reg']:g}) {reg0}")


def draw(results, path):
    """Held-out error against the ridge term, one line per (setting, bandwidth)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    # reg 0 (the interpolant) drawn at a tenth of the smallest positive reg, labelled "0".
    positive = [r["reg"] for e in results["settings"].values() for f in e["by_factor"].values()
                for r in f["rows"] if r["reg"] > 0]
    floor = min(positive, default=1e-3) / 10
    ticks = set()
    for entry, style in zip(results["settings"].values(), ("-", "--", ":", "-."), strict=False):
        for f in entry["by_factor"].values():
            rows = sorted((r for r in f["rows"] if solved(r)), key=lambda r: r["reg"])
            if not rows:
                continue
            x = [r["reg"] or floor for r in rows]
            ticks.update(x)
            ax.plot(x, [100 * r["val_error"] for r in rows], style, marker="o",
                    label=f"{entry['name']}, {rows[0]['kernel']}")
    ax.set_xscale("log")
    ax.set_xticks(sorted(ticks), ["0" if t == floor else f"{t:g}" for t in sorted(ticks)])
    ax.minorticks_off()
    ax.set_xlabel("reg (0: the interpolant; fits that did not converge are left out)")
    ax.set_ylabel("held-out error (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"Random-conv finalists, {results['n_fit']:,} fitted / {results['n_val']:,} "
                 "held-out training images", fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    results, images, labels = start_results(args, "bench/randconv_confirm.py", argv)
    results["filters"] = args.filters
    progress = TqdmProgress(interval=60.0)
    with progress_lines_ended():
        for name in args.settings:
            confirm_setting(name, images, labels, args, results, progress)
    results["summary"] = summary_rows(results)
    finish_results(results, args, print_table, draw)


if __name__ == "__main__":
    main()
