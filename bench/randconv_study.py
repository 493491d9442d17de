"""Which random-convolution settings make the exact kernel fit generalize on CIFAR-10.

A study on **held-out training images only** (the test set is never loaded into the
computation): a seeded permutation of the 50,000 training images holds out the first
``--n-val`` and fits the next ``--n-fit``. For every feature setting, the linear Gram
``Phi Phi^T`` of all ``n-fit + n-val`` images is streamed once
(:meth:`kernelfit.features.RandomConvFeatures.accumulate_gram`, the feature map fitted
on the fit images only). Every kernel of the grid is formed from it:

* Gaussian, ``sigma`` = ``--bandwidth-factors`` times the median heuristic of the fit
  images;
* linear (the Gram itself);

and for each kernel, every ``reg`` of ``--regs`` (times the kernel's mean diagonal: 1
for the Gaussian) is one float64 Cholesky of the fit block, scored by its
classification error on the held-out images. ``sigma`` and ``reg`` are chosen
jointly. A kernel whose Cholesky fails (``reg = 0`` at a wide bandwidth) is recorded
as not positive definite, not replaced by a least-squares answer.

Settings (``--stage screen``) vary one choice of today's defaults at a time: pooling
(quadrants, 2 x 2 windows of 14 / stride 13, 3 x 3 windows of 15 / stride 6), the ZCA
epsilon, the threshold alpha, the feature standardization (2,000 images, all fit
images, off) and the filter kind. ``--stage combine`` takes the best value of each
choice (only where it beat the defaults) into one setting (the contrast-normalization
settings, which move two parameters together, are screened but not combined); ``--stage
curve`` runs that setting at more filters. Every finished setting is written to the
JSON at once, and a rerun skips the settings already there with the same configuration:
a killed study resumes where it stopped.

    KERNELFIT_DATA=../shared/data python bench/randconv_study.py \\
        --out bench/results/randconv-study.json --plot bench/results/randconv-study.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
from randconv_settings import BASELINE, FACTORS, SCREEN

from kernelfit.features import (
    RandomConvFeatures,
    gaussian_gram_from_linear,
    median_bandwidth_from_gram,
)
from kernelfit.results_io import write_json
from kernelfit.solvers import solve
from kernelfit.solvers.targets import one_hot


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", nargs="+", default=["screen", "combine", "curve"],
                        choices=["screen", "combine", "curve"],
                        help="stages to run, in order (default: all three)")
    parser.add_argument("--only", nargs="+", default=None,
                        help="screen only these setting names (default: all)")
    parser.add_argument("--filters", type=int, default=1000,
                        help="filters of the screened settings (default 1000)")
    parser.add_argument("--curve-filters", type=int, nargs="+", default=[4000, 16000],
                        help="filter counts of the curve stage (default 4000 16000)")
    parser.add_argument("--curve-setting", default=None,
                        help="screened setting the curve stage scales up (default: combined)")
    parser.add_argument("--n-fit", type=int, default=10000, help="fitted images (10000)")
    parser.add_argument("--n-val", type=int, default=5000, help="held-out images (5000)")
    parser.add_argument("--bandwidth-factors", type=float, nargs="+",
                        default=[0.5, 1, 2, 4, 8, 16],
                        help="Gaussian sigma as multiples of the median (0.5 ... 16)")
    parser.add_argument("--regs", type=float, nargs="+",
                        default=[0, 1e-4, 1e-3, 1e-2, 1e-1, 1],
                        help="ridge terms, times the kernel's mean diagonal (0 ... 1)")
    parser.add_argument("--seed", type=int, default=0, help="split and filter seed (0)")
    parser.add_argument("--memory-budget", default=None, help="budget of the feature map")
    parser.add_argument("--out", required=True, help="JSON file (read back to resume)")
    parser.add_argument("--plot", default=None, help="PNG of error against filters")
    args = parser.parse_args(argv)
    check_split_and_grid(parser, args)
    if args.filters < 1 or min(args.curve_filters) < 1:
        parser.error(f"--filters and --curve-filters must be at least 1; found {args.filters} "
                     f"and {args.curve_filters}")
    return args


def check_split_and_grid(parser, args) -> None:
    """Refuse a split smaller than 10 images a side, a bandwidth factor <= 0, a reg < 0."""
    if args.n_fit < 10 or args.n_val < 10:
        parser.error(f"--n-fit and --n-val must be at least 10; found {args.n_fit}, "
                     f"{args.n_val}")
    if min(args.bandwidth_factors) <= 0 or min(args.regs) < 0:
        parser.error(f"--bandwidth-factors must be > 0 and --regs >= 0; found "
                     f"{args.bandwidth_factors} and {args.regs}")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_split(n_fit, n_val, seed):
    """Fit and held-out training images and labels (the test set is not used)."""
    from kernelfit.datasets import load_cifar10

    data = load_cifar10(download=False)
    n = data.X_train.shape[0]
    if n_fit + n_val > n:
        raise SystemExit(f"--n-fit + --n-val = {n_fit + n_val} exceeds the {n} training "
                         "images")
    order = np.random.default_rng(seed).permutation(n)
    val, fit = order[:n_val], order[n_val : n_val + n_fit]
    images = data.X_train[np.concatenate([fit, val])]
    labels = np.asarray(data.y_train)[np.concatenate([fit, val])]
    return images, labels, data.display_name


def feature_params(changes, n_filters, n_fit, seed, memory_budget):
    params = {**BASELINE, **changes}
    if params["n_standardize_images"] is None:
        params["n_standardize_images"] = n_fit
    return {**params, "n_filters": int(n_filters), "random_state": seed,
            "memory_budget": memory_budget}


def score_grid(G, norms, labels, n_fit, factors, regs):
    """Held-out error for every (kernel, reg) from the linear Gram of fit + held-out."""
    fit, val = slice(0, n_fit), slice(n_fit, None)
    classes, y = np.unique(labels, return_inverse=True)
    targets = one_hot(labels[fit], classes)
    median = median_bandwidth_from_gram(G[fit, fit], norms[fit])
    kernels = [("linear", None)] + [(f"gaussian x{f:g}", f * median) for f in factors]
    rows = []
    for name, sigma in kernels:
        if sigma is None:
            K_fit, K_val = np.array(G[fit, fit]), np.array(G[val, fit])
        else:
            K_fit = gaussian_gram_from_linear(G[fit, fit], norms[fit], None, bandwidth=sigma,
                                              out=np.empty((n_fit, n_fit)))
            K_val = gaussian_gram_from_linear(G[val, fit], norms[val], norms[fit],
                                              bandwidth=sigma,
                                              out=np.empty((G.shape[0] - n_fit, n_fit)))
        scale = float(np.mean(np.diag(K_fit)))
        for reg in regs:
            start = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    alpha = solve(np.array(K_fit), targets, reg * scale, method="cholesky",
                                  overwrite=True)
                error = float(np.mean(np.argmax(K_val @ alpha, axis=1) != y[val]))
                norm = float(np.sqrt(np.sum(alpha * (K_fit @ alpha))))
            except Exception as failure:  # a failed factorization is a result, not a crash
                error, norm = None, None
                log(f"  {name} reg {reg:g}: {type(failure).__name__}: {failure}")
            rows.append({"kernel": name, "bandwidth": sigma, "reg": reg,
                         "reg_absolute": reg * scale, "val_error": error, "rkhs_norm": norm,
                         "seconds": time.perf_counter() - start})
        best = min((r for r in rows if r["kernel"] == name and r["val_error"] is not None),
                   key=lambda r: r["val_error"], default=None)
        if best is not None:
            log(f"  {name:>16}: best {100 * best['val_error']:.2f}% at reg {best['reg']:g}")
    return median, rows


def run_setting(name, changes, n_filters, images, labels, args, results):
    params = feature_params(changes, n_filters, args.n_fit, args.seed, args.memory_budget)
    config = {"params": params, "n_fit": args.n_fit, "n_val": args.n_val, "seed": args.seed,
              "bandwidth_factors": args.bandwidth_factors, "regs": args.regs}
    key = f"{name} @ {n_filters}"
    if key in results["settings"] and results["settings"][key]["config"] == config:
        log(f"{key}: already done, skipped")
        return results["settings"][key]
    log(f"{key}: features {json.dumps(changes)}")
    start = time.perf_counter()
    n_features, median, rows, seconds = gram_and_scores(params, images, labels, args)
    scored = [r for r in rows if r["val_error"] is not None]
    best = min(scored, key=lambda r: (r["val_error"], -r["reg"]))
    unregularized = [r for r in scored if r["reg"] == 0 and r["kernel"] != "linear"]
    entry = {
        "name": name, "n_filters": n_filters, "changes": changes, "config": config,
        "command": results.get("command"),
        "n_features": n_features, "median_bandwidth": median, "best": best,
        "best_unregularized": min(unregularized, key=lambda r: r["val_error"], default=None),
        "rows": rows, "seconds": seconds,
    }
    results["settings"][key] = entry
    write_json(results, args.out)
    log(f"{key}: best {100 * best['val_error']:.2f}% ({best['kernel']}, reg {best['reg']:g}); "
        f"{time.perf_counter() - start:.0f} s")
    return entry


def gram_and_scores(params, images, labels, args):
    """Fit the feature map on the fitted images, stream the linear Gram of all of them
    once and score the (kernel, reg) grid (:func:`score_grid`).

    Returns the feature count, the median bandwidth, the grid's rows and the seconds of
    the three steps (``fit``, ``gram``, ``solves``)."""
    start = time.perf_counter()
    feature_map = RandomConvFeatures(**params, device="cpu").fit(images[: args.n_fit])
    fitted = time.perf_counter()
    G, norms, _ = feature_map.accumulate_gram(images)
    gram_done = time.perf_counter()
    median, rows = score_grid(G, norms, labels, args.n_fit, args.bandwidth_factors, args.regs)
    seconds = {"fit": fitted - start, "gram": gram_done - fitted,
               "solves": time.perf_counter() - gram_done}
    return int(feature_map.n_features_out_), median, rows, seconds


def combined_changes(results, n_filters):
    """Best value of each screened choice, where it beat the defaults."""
    screened = {e["name"]: e for e in results["settings"].values()
                if e["n_filters"] == n_filters and e["name"] != "combined"}
    if "baseline" not in screened:
        raise SystemExit("the combine stage needs the screened baseline first")
    base = screened["baseline"]["best"]["val_error"]
    changes = {}
    for factor in FACTORS:
        options = [e for e in screened.values()
                   if any(k == factor or (factor == "standardize" and k.startswith("n_stand"))
                          for k in e["changes"])]
        winner = min(options, key=lambda e: e["best"]["val_error"], default=None)
        if winner is not None and winner["best"]["val_error"] < base:
            changes.update(winner["changes"])
    return changes


def print_table(results):
    print(f"\n{'setting':<28} {'filters':>7} {'features':>8} {'best val error':>14} "
          f"{'kernel':>16} {'reg':>7} {'best at reg 0':>13}")
    base = {e["n_filters"]: e["best"]["val_error"] for e in results["settings"].values()
            if e["name"] == "baseline"}
    for entry in results["settings"].values():
        best, unreg = entry["best"], entry["best_unregularized"]
        delta = ""
        if entry["n_filters"] in base and entry["name"] != "baseline":
            delta = f" ({100 * (best['val_error'] - base[entry['n_filters']]):+.2f})"
        reg0 = "-" if unreg is None else f"{100 * unreg['val_error']:.2f}%"
        print(f"{entry['name']:<28} {entry['n_filters']:>7} {entry['n_features']:>8} "
              f"{100 * best['val_error']:>7.2f}%{delta:<7} {best['kernel']:>16} "
              f"{best['reg']:>7g} {reg0:>13}")


def draw(results, path):
    """Left: each screened setting's best held-out error, at reg 0 and over the reg grid.
    Right: held-out error against filters for the settings run at several counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = list(results["settings"].values())
    screen = min((e["n_filters"] for e in entries), default=0)
    screened = sorted((e for e in entries if e["n_filters"] == screen),
                      key=lambda e: e["best"]["val_error"], reverse=True)
    # At least 4 inches tall, so that a short screen leaves the curve readable.
    fig, (bars, curve) = plt.subplots(1, 2, figsize=(12, max(4.0, 1.2 + 0.32 * len(screened))),
                                      gridspec_kw={"width_ratios": [3, 2]},
                                      layout="constrained")
    rows = np.arange(len(screened))
    unreg = [100 * e["best_unregularized"]["val_error"] if e["best_unregularized"] else np.nan
             for e in screened]
    bars.barh(rows + 0.2, unreg, height=0.4, color="tab:gray", label="reg = 0 (interpolant)")
    bars.barh(rows - 0.2, [100 * e["best"]["val_error"] for e in screened], height=0.4,
              color="tab:blue", label="best (sigma, reg) jointly")
    bars.set_yticks(rows, [e["name"] for e in screened], fontsize=8)
    low = np.nanmin([*unreg, *(100 * e["best"]["val_error"] for e in screened)])
    bars.set_xlim(left=max(0.0, low - 3))
    bars.set_xlabel(f"held-out error (%), {screen:,} filters")
    bars.grid(axis="x", alpha=0.3)
    bars.legend(fontsize=8, loc="lower right")
    by_name = {}
    for entry in entries:
        by_name.setdefault(entry["name"], []).append(entry)
    drawn = 0
    for name, group in sorted(by_name.items()):
        if len(group) < 2:
            continue
        group.sort(key=lambda e: e["n_filters"])
        x = [e["n_filters"] for e in group]
        best = [100 * e["best"]["val_error"] for e in group]
        unreg = [100 * e["best_unregularized"]["val_error"] for e in group]
        curve.plot(x, best, "-o", label=f"{name}, best (sigma, reg)")
        curve.plot(x, unreg, "--o", label=f"{name}, reg = 0")
        for xs, values in ((x, best), (x, unreg)):
            for filters, value in zip(xs, values, strict=True):
                curve.annotate(f"{value:.2f}", (filters, value), textcoords="offset points",
                               xytext=(0, 6), ha="center", fontsize=7)
        drawn += 1
    if drawn:
        curve.set_xscale("log")
        curve.margins(x=0.15, y=0.25)
        curve.legend(fontsize=7, loc="upper right")
    else:
        curve.text(0.5, 0.5, "no setting run at more than one filter count yet",
                   ha="center", va="center", transform=curve.transAxes, fontsize=9)
    curve.set_xlabel("random filters")
    curve.set_ylabel("held-out error (%)")
    curve.grid(alpha=0.3)
    fig.suptitle(f"Random-conv features on CIFAR-10: {results['n_fit']:,} fitted, "
                 f"{results['n_val']:,} held-out training images (test set unused)",
                 fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def start_results(args, program, argv):
    """The results so far (read back from ``args.out`` to resume), with this run's data
    name, split sizes and command; and the split's images and labels."""
    results = {"settings": {}}
    if os.path.exists(args.out):
        with open(args.out) as handle:
            results = json.load(handle)
    images, labels, data_name = load_split(args.n_fit, args.n_val, args.seed)
    results.update({"data": data_name, "n_fit": args.n_fit, "n_val": args.n_val,
                    "command": " ".join(["python", program, *argv])})
    return results, images, labels


def finish_results(results, args, print_table, draw):
    """Write the JSON, print the table, draw the plot when ``--plot`` asks for one."""
    write_json(results, args.out)
    print_table(results)
    if args.plot:
        draw(results, args.plot)
        print(f"plot: {args.plot}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    results, images, labels = start_results(args, "bench/randconv_study.py", argv)
    if "screen" in args.stage:
        for name, changes in SCREEN:
            if args.only is None or name in args.only:
                run_setting(name, changes, args.filters, images, labels, args, results)
    if "combine" in args.stage:
        changes = combined_changes(results, args.filters)
        results["combined_changes"] = changes
        run_setting("combined", changes, args.filters, images, labels, args, results)
    if "curve" in args.stage:
        name, changes = "combined", None
        if args.curve_setting is not None:
            name, changes = args.curve_setting, dict(SCREEN).get(args.curve_setting)
            if changes is None:
                raise SystemExit(f"--curve-setting must be one of {[n for n, _ in SCREEN]}; "
                                 f"found {args.curve_setting!r}")
        else:
            changes = results.get("combined_changes") or combined_changes(results,
                                                                          args.filters)
        for n_filters in args.curve_filters:
            run_setting(name, changes, n_filters, images, labels, args, results)
    finish_results(results, args, print_table, draw)


if __name__ == "__main__":
    main()
