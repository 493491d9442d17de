"""What JPEG artefacts cost the random-conv kernel fit on CIFAR-10 (JPEG re-encoding).

Our CIFAR-10 is itself a JPEG re-encoding (quality about 75, 4:2:0 chroma) and the
originals are out of reach, so the cost of its artefacts is measured the other way
round: every image goes through **one more** JPEG round trip (Pillow, 4:2:0 chroma) at
each of ``--qualities``, and the held-out error of the same fit is compared with that of
the images as given. The slope of error against the mean absolute pixel change says
how much artefacts of that size cost.

Everything else is :mod:`randconv_study`'s held-out protocol, reused from it: a seeded
split of the **training** images (the test set is never used), the feature map fitted
on the fit images, the linear Gram of fit + held-out streamed once per quality
(:meth:`kernelfit.features.RandomConvFeatures.accumulate_gram`), Gaussian kernels at
``--bandwidth-factors`` times the median, and ``sigma`` and ``reg`` chosen jointly.
Two figures per quality: the interpolant at the median (``reg = 0``, ``sigma`` = the
median) and the best ``(kernel, reg)`` of the grid. Every finished quality is written to
the JSON at once; a rerun skips the qualities already there (and refuses a JSON of
another setting, filter count, split or grid).

    KERNELFIT_DATA=../shared/data python bench/randconv_jpeg_effect.py \\
        --out bench/results/randconv-jpeg-effect.json \\
        --plot bench/results/randconv-jpeg-effect.png
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time

import numpy as np
from randconv_settings import SCREEN
from randconv_study import feature_params, gram_and_scores, load_split, log

from kernelfit.features import DATASET_DEFAULTS
from kernelfit.provenance import save_run
from kernelfit.results_io import json_ready
from kernelfit.tables import format_table

#: Pillow's ``subsampling`` value of each chroma layout.
CHROMA_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}

#: ``--setting`` names: today's ``kernelfit cifar10 --features randconv`` parameters
#: (the feature registry's, less the filter count), or a setting of randconv_study.
SETTINGS = {"cifar10-defaults": {k: v for k, v in DATASET_DEFAULTS[("randconv", "cifar10")]
                                 .items() if k != "n_filters"},
            **dict(SCREEN)}

AS_GIVEN = "as given"


def jpeg_round_trip(images, quality, chroma="4:2:0"):
    """Encode every image as JPEG with Pillow and decode it again.

    Parameters
    ----------
    images : ndarray of uint8, shape (H, W, 3) or (n, H, W, 3)
        RGB images.
    quality : int
        JPEG quality, 1 ... 100.
    chroma : {"4:2:0", "4:2:2", "4:4:4"}, default "4:2:0"
        Chroma subsampling of the encoding (4:2:0: the colour planes at half the
        resolution in both directions, as in our CIFAR-10 files).

    Returns
    -------
    ndarray of uint8, same shape as ``images``
        The decoded pixels.
    """
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)):
        raise TypeError(f"quality must be an int in 1..100; found {type(quality).__name__} "
                        f"{quality!r}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be an int in 1..100; found {quality}")
    if chroma not in CHROMA_SUBSAMPLING:
        raise ValueError(f"chroma must be one of {list(CHROMA_SUBSAMPLING)}; found {chroma!r}")
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8; found dtype {images.dtype}")
    if images.ndim not in (3, 4) or images.shape[-1] != 3:
        raise ValueError(f"images must have shape (H, W, 3) or (n, H, W, 3); found "
                         f"{images.shape}")
    from PIL import Image

    flat = np.ascontiguousarray(images.reshape(-1, *images.shape[-3:]))
    decoded = np.empty_like(flat)
    for i, image in enumerate(flat):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality),
                                    subsampling=CHROMA_SUBSAMPLING[chroma])
        buffer.seek(0)
        with Image.open(buffer) as encoded:
            decoded[i] = np.asarray(encoded.convert("RGB"))
    return decoded.reshape(images.shape)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--qualities", type=int, nargs="+", default=[95, 75, 50, 25],
                        help="JPEG qualities of the extra round trip (default 95 75 50 25); "
                        "the images as given are always run too, as the baseline")
    parser.add_argument("--setting", default="cifar10-defaults", choices=list(SETTINGS),
                        help="feature setting: cifar10-defaults (kernelfit's CIFAR-10 "
                        "random-conv parameters) or a setting of randconv_study.py")
    parser.add_argument("--filters", type=int, default=1000, help="random filters (1000)")
    parser.add_argument("--n-fit", type=int, default=10000, help="fitted images (10000)")
    parser.add_argument("--n-val", type=int, default=5000, help="held-out images (5000)")
    parser.add_argument("--bandwidth-factors", type=float, nargs="+",
                        default=[0.5, 1, 2, 4, 8, 16],
                        help="Gaussian sigma as multiples of the median (0.5 ... 16; 1 is "
                        "always added, for the interpolant at the median)")
    parser.add_argument("--regs", type=float, nargs="+",
                        default=[0, 1e-4, 1e-3, 1e-2, 1e-1, 1],
                        help="ridge terms, times the kernel's mean diagonal (0 ... 1; 0 is "
                        "always added)")
    parser.add_argument("--seed", type=int, default=0, help="split and filter seed (0)")
    parser.add_argument("--memory-budget", default=None, help="budget of the feature map")
    parser.add_argument("--out", required=True, help="JSON file (read back to resume)")
    parser.add_argument("--plot", default=None, help="PNG of held-out error against quality")
    args = parser.parse_args(argv)
    if min(args.qualities) < 1 or max(args.qualities) > 100:
        parser.error(f"--qualities must lie in 1..100; found {args.qualities}")
    if args.n_fit < 10 or args.n_val < 10:
        parser.error(f"--n-fit and --n-val must be at least 10; found {args.n_fit}, "
                     f"{args.n_val}")
    if args.filters < 1:
        parser.error(f"--filters must be at least 1; found {args.filters}")
    if min(args.bandwidth_factors) <= 0 or min(args.regs) < 0:
        parser.error(f"--bandwidth-factors must be > 0 and --regs >= 0; found "
                     f"{args.bandwidth_factors} and {args.regs}")
    args.qualities = sorted(set(args.qualities), reverse=True)
    args.bandwidth_factors = sorted({*args.bandwidth_factors, 1.0})
    args.regs = sorted({*args.regs, 0.0})
    return args


def study_config(args):
    """Everything a quality's result depends on besides the quality (JSON values)."""
    params = feature_params(SETTINGS[args.setting], args.filters, args.n_fit, args.seed,
                            args.memory_budget)
    return json_ready({"chroma": "4:2:0", "setting": args.setting, "params": params,
                       "n_fit": args.n_fit, "n_val": args.n_val, "seed": args.seed,
                       "bandwidth_factors": args.bandwidth_factors, "regs": args.regs})


def run_quality(quality, given, labels, args, entries):
    """Held-out errors of the fit on the images after one more round trip at ``quality``
    (None: the images as given); stored in ``entries`` under its label."""
    params = study_config(args)["params"]
    key = AS_GIVEN if quality is None else f"quality {quality}"
    if key in entries:
        log(f"{key}: already done, skipped")
        return entries[key]
    log(f"{key}: {args.setting}, {args.filters} filters")
    start = time.perf_counter()
    images = given if quality is None else jpeg_round_trip(given, quality)
    change = np.abs(images.astype(np.int16) - given.astype(np.int16))
    encoded = time.perf_counter()
    n_features, median, rows, seconds = gram_and_scores(params, images, labels, args)
    scored = [r for r in rows if r["val_error"] is not None]
    interpolant = next((r for r in scored if r["kernel"] == "gaussian x1" and r["reg"] == 0),
                       None)
    entries[key] = {
        "quality": quality, "mean_abs_change": float(change.mean()),
        "max_abs_change": int(change.max()), "n_features": n_features,
        "median_bandwidth": median, "interpolant": interpolant,
        "best": min(scored, key=lambda r: (r["val_error"], -r["reg"])), "rows": rows,
        "seconds": {"round_trip": encoded - start, **seconds},
    }
    log(f"{key}: best {100 * entries[key]['best']['val_error']:.2f}%; "
        f"{time.perf_counter() - start:.0f} s")
    return entries[key]


def ordered(entries):
    """Entries from the images as given to the lowest quality."""
    return sorted(entries.values(), key=lambda e: -101 if e["quality"] is None else -e["quality"])


def slopes(entries):
    """Least-squares slope of held-out error (percentage points) per grey level of mean
    absolute pixel change, for the interpolant and the best fit (None below 2 points)."""
    result = {}
    for which in ("interpolant", "best"):
        points = [(e["mean_abs_change"], 100 * e[which]["val_error"])
                  for e in entries.values() if e[which] is not None]
        changes = {x for x, _ in points}
        result[which] = (float(np.polyfit(*np.array(points).T, 1)[0])
                         if len(changes) >= 2 else None)
    return result


def format_slopes(slopes):
    """``interpolant +0.69, best +0.70 percentage points`` (``-`` where there is none)."""
    return ", ".join(f"{which} {'-' if slope is None else f'{slope:+.2f}'}"
                     for which, slope in slopes.items()) + " percentage points"


def config_differences(stored, current):
    """``name (in the file X, now Y)`` for each setting or feature parameter that differs."""
    def flat(config):
        return {**{k: v for k, v in config.items() if k != "params"}, **config.get("params", {})}

    old, new = flat(stored), flat(current)
    return [f"{key} (in the file {old.get(key)!r}, now {new.get(key)!r})"
            for key in sorted({*old, *new}) if old.get(key) != new.get(key)]


def print_table(entries):
    def percent(row):
        return "-" if row is None else f"{100 * row['val_error']:.2f}%"

    rows = [[e["quality"] or AS_GIVEN, f"{e['mean_abs_change']:.2f}", percent(e["interpolant"]),
             percent(e["best"]), e["best"]["kernel"], f"{e['best']['reg']:g}",
             f"{sum(e['seconds'].values()):.0f}"] for e in ordered(entries)]
    print("\n" + format_table(rows, ["quality", "mean |change|", "interpolant (median, reg 0)",
                                     "best", "best kernel", "best reg", "seconds"]))


def draw(results, path):
    """Left: held-out error against the extra round trip's quality (the images as given
    as horizontal lines). Right: the same errors against the mean pixel change, with the
    fitted slopes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def spread(error):  # one binomial standard error, in percentage points
        return 100 * np.sqrt(error * (1 - error) / results["n_val"])

    entries = ordered(results["qualities"])
    given = next((e for e in entries if e["quality"] is None), None)
    trips = [e for e in entries if e["quality"] is not None]
    fig, (by_quality, by_change) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    styles = {"interpolant": ("tab:gray", "interpolant (sigma = median, reg = 0)"),
              "best": ("tab:blue", "best (sigma, reg) jointly")}
    for which, (color, label) in styles.items():
        kept = [e for e in trips if e[which] is not None]
        by_quality.errorbar([e["quality"] for e in kept],
                            [100 * e[which]["val_error"] for e in kept],
                            [spread(e[which]["val_error"]) for e in kept], fmt="-o",
                            color=color, capsize=3, label=f"{label}, one more round trip")
        if given is not None and given[which] is not None:
            by_quality.axhline(100 * given[which]["val_error"], color=color, ls=":",
                               label=f"{label}, as given")
        kept = [e for e in entries if e[which] is not None]
        slope = results["slopes"][which]
        by_change.errorbar([e["mean_abs_change"] for e in kept],
                           [100 * e[which]["val_error"] for e in kept],
                           [spread(e[which]["val_error"]) for e in kept], fmt="o", color=color,
                           capsize=3, label=label if slope is None
                           else f"{label}: {slope:+.2f} pp per level")
        for e in (e for e in kept if e["quality"] is not None):
            by_change.annotate(e["quality"], (e["mean_abs_change"],
                               100 * e[which]["val_error"]), textcoords="offset points",
                               xytext=(6, 4), fontsize=7, color=color)
        if slope is not None:
            fit = np.polyfit([e["mean_abs_change"] for e in kept],
                             [100 * e[which]["val_error"] for e in kept], 1)
            xs = np.array([0, max(e["mean_abs_change"] for e in kept)])
            by_change.plot(xs, np.polyval(fit, xs), "--", color=color, lw=1)
        if given is not None and given[which] is not None:
            by_change.plot(0, 100 * given[which]["val_error"], "*", ms=14, color=color,
                           mec="black", label="as given" if which == "best" else None)
    by_quality.invert_xaxis()
    by_quality.set_xlabel("JPEG quality of the extra round trip (4:2:0 chroma)")
    by_change.set_xlabel("mean absolute pixel change from the images as given (grey levels)")
    for axes in (by_quality, by_change):
        axes.set_ylabel("held-out error (%), bars: one binomial standard error")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    fig.suptitle(f"CIFAR-10 (JPEG re-encoding), random-conv features ({results['setting']}, "
                 f"{results['filters']:,} filters): {results['n_fit']:,} fitted, "
                 f"{results['n_val']:,} held-out training images", fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    entries = {}
    if os.path.exists(args.out):
        with open(args.out) as handle:
            earlier = json.load(handle)
        differing = config_differences(earlier.get("config") or {}, study_config(args))
        if differing:
            raise SystemExit(f"{args.out} holds a run of another configuration: "
                             f"{'; '.join(differing)}; give another --out to keep both")
        entries = earlier["qualities"]
    given, labels, data_name = load_split(args.n_fit, args.n_val, args.seed)
    fields = {"data": data_name, "config": study_config(args), "setting": args.setting,
              "filters": args.filters, "n_fit": args.n_fit, "n_val": args.n_val,
              "qualities": entries}
    for quality in [None, *args.qualities]:
        run_quality(quality, given, labels, args, entries)
        results = save_run(args.out, **fields, slopes=slopes(entries))
    print_table(entries)
    print(f"held-out error per grey level of mean pixel change: {format_slopes(results['slopes'])}")
    if args.plot:
        draw(results, args.plot)
        print(f"plot: {args.plot}")
    return results


if __name__ == "__main__":
    main()
