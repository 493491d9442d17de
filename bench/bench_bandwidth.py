"""Choose the Gaussian bandwidth on MNIST (or CIFAR-10) from the training set alone.

The training images (60,000 for MNIST, 50,000 for CIFAR-10) are split once
(seed 0) into a fit part and a validation part; for each candidate ``sigma``
the exact interpolant is fitted on the fit part and scored on the validation
part. The test set is never read.

    python bench/bench_bandwidth.py --sigmas 4.5 5 5.25 5.5 6 \\
        --out bench/results/bandwidth-mnist.json
    python bench/bench_bandwidth.py --dataset cifar10 --n-fit 10000 --n-val 2000 \\
        --sigmas 3.27 4.58 6.55 --out bench/results/bandwidth-cifar10.json

Rows already present in ``--out`` for the same (data set, sigma, n_fit, n_val,
seed, dtype) are kept and not recomputed, so a grid can be extended one value at a
time; the table printed at the end covers every row in the file.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from kernelfit import KernelClassifier
from kernelfit.datasets import as_float, load_cifar10, load_mnist
from kernelfit.results_io import write_json
from kernelfit.tables import format_table

LOADERS = {"mnist": load_mnist, "cifar10": load_cifar10}


def split(n_total: int, n_fit: int, n_val: int, seed: int):
    """Disjoint fit / validation indices of the training set."""
    if n_fit + n_val > n_total:
        raise ValueError(f"n_fit + n_val = {n_fit + n_val} exceeds the {n_total} training images")
    order = np.random.default_rng(seed).permutation(n_total)
    return np.sort(order[:n_fit]), np.sort(order[n_total - n_val:])


def key(row: dict) -> tuple:
    return (row.get("dataset", "mnist"), row["bandwidth"], row["n_fit"], row["n_val"],
            row["seed"], row["dtype"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(LOADERS), default="mnist")
    parser.add_argument("--sigmas", type=float, nargs="+", required=True)
    parser.add_argument("--n-fit", type=int, default=50000)
    parser.add_argument("--n-val", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=["float32", "float64", "mixed"], default="mixed")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None, help="JSON file of rows (extended in place)")
    args = parser.parse_args(argv)

    rows = []
    if args.out and os.path.exists(args.out):
        with open(args.out) as f:
            rows = json.load(f)["rows"]
    done = {key(r) for r in rows}
    data = LOADERS[args.dataset](data_dir=args.data_dir)
    X = as_float(data.X_train).reshape(len(data.y_train), -1)
    fit, val = split(len(data.y_train), args.n_fit, args.n_val, args.seed)
    dtype = "mixed" if args.dtype == "mixed" else np.dtype(args.dtype)
    for sigma in args.sigmas:
        row = {"dataset": args.dataset, "bandwidth": sigma, "n_fit": args.n_fit,
               "n_val": args.n_val, "seed": args.seed, "dtype": args.dtype}
        if key(row) in done:
            continue
        start = time.perf_counter()
        clf = KernelClassifier(bandwidth=sigma, dtype=dtype).fit(X[fit], data.y_train[fit])
        errors = int(np.sum(clf.predict(X[val]) != data.y_train[val]))
        refinement = getattr(clf, "refinement_", None)
        row.update(val_errors=errors, val_error=errors / args.n_val,
                   rkhs_norm=float(np.linalg.norm(clf.rkhs_norm_)),
                   residual=refinement.residuals[-1] if refinement else None,
                   seconds=round(time.perf_counter() - start, 1),
                   timings={k: round(v, 1) for k, v in clf.timings_.items()})
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.out:  # after every row: an interrupted grid keeps what it finished
            write_json({
                "command": f"python bench/bench_bandwidth.py --dataset {args.dataset} "
                           f"--sigmas SIGMA ... --n-fit {args.n_fit} --n-val {args.n_val} "
                           f"--dtype {args.dtype}",
                "split": "training set only: fit = first n_fit, validation = last n_val of "
                         f"permutation(seed) of the {len(data.y_train):,} training images",
                "rows": rows}, args.out)
    table = [("sigma", "dtype", "n fit / val", "val errors", "val error", "RKHS norm", "time")]
    table += [(f"{r['bandwidth']:g}", r["dtype"], f"{r['n_fit']} / {r['n_val']}",
               str(r["val_errors"]), f"{100 * r['val_error']:.2f}%", f"{r['rkhs_norm']:.1f}",
               f"{r['seconds']:.0f} s") for r in sorted(rows, key=key)]
    print(format_table(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
