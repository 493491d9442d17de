"""Throughput of the random-convolution feature pipeline against the machine's GEMM rate.

For each filter count a :class:`kernelfit.features.RandomConvFeatures` (default
parameters, on the CPU) is fitted on the images, then three things are timed
separately, in the same run as a square GEMM that gives the machine's rate in the
feature dtype:

* encode: the features of all images for all filters, by the code path the
  streamed Gram uses (``encode_images`` with the fitted encoder over the whole
  filter set, into a preallocated array), in the GFLOP of ``encode_gflop``; on
  NumPy that is the compiled one-pass kernels, and the array path (the one CuPy
  runs, ``fused=False``) is timed beside it and must give the same features;
* gram: the Gram GEMMs alone on those features, ``Phi Phi^T`` as the symmetric
  training Gram computes it (the tiles on and below the diagonal, ``_add_tiles``),
  in the GFLOP of ``gram_gflop``;
* end to end: ``accumulate_feature_grams`` for the symmetric product (encoding,
  squared norms, Gram tiles, mirroring), in encode plus gram GFLOP.

Each rate is also given as a fraction of the GEMM rate. Every row checks that the
streamed Gram equals the Gram of the materialized features, computed independently
in float64, and stops if it does not. Prints a table and writes JSON (atomically).

    python bench/bench_randconv.py --n-images 2000 --filters 256 1024 \\
        --out bench/results/randconv-throughput.json
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from kernelfit.features import RandomConvFeatures
from kernelfit.features.conv_features import default_n_jobs, encode_images
from kernelfit.features.conv_gram import (
    GRAM_TILE,
    _add_tiles,
    accumulate_feature_grams,
    encode_gflop,
    gram_gflop,
)
from kernelfit.features.conv_layout import POOLINGS
from kernelfit.memory import parse_budget
from kernelfit.phase_rates import gemm_rate
from kernelfit.provenance import environment
from kernelfit.results_io import write_json
from kernelfit.tables import format_table

#: Largest relative difference accepted between the streamed and the reference Gram.
GRAM_TOLERANCE = {"float32": 1e-4, "float64": 1e-10}


def load_images(source, n):
    """``n`` uint8 images of shape (32, 32, 3) and a name for them.

    Parameters
    ----------
    source : {"cifar10", "synthetic"}
        ``n`` CIFAR-10 training images drawn without replacement (seed 0; the
        data set is found through ``$KERNELFIT_DATA`` and never downloaded; its
        images are stored by class, so a prefix would hold one class), or
        uniform random pixels (seed 0).
    n : int
        Number of images.

    Returns
    -------
    images : ndarray of uint8, shape (n, 32, 32, 3)
    name : str
    """
    if source == "synthetic":
        rng = np.random.default_rng(0)
        return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), "synthetic"
    from kernelfit.datasets import load_cifar10

    data = load_cifar10(download=False)
    if n > data.X_train.shape[0]:
        raise ValueError(f"--n-images {n} exceeds the {data.X_train.shape[0]} training images")
    chosen = np.sort(np.random.default_rng(0).permutation(data.X_train.shape[0])[:n])
    return data.X_train[chosen], data.display_name


def best_seconds(fn, repeats, prepare=None):
    """Best wall-clock seconds of ``fn()`` over ``repeats`` calls, and its last result.

    Parameters
    ----------
    fn : callable
        Timed, without arguments.
    repeats : int
        Number of calls.
    prepare : callable, optional
        Called, untimed, before each call (e.g. to zero an output).

    Returns
    -------
    seconds : float
    result : object
    """
    best, result = np.inf, None
    for _ in range(repeats):
        if prepare is not None:
            prepare()
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def rate(seconds, gflop, gemm_gflops):
    """Seconds, GFLOP, GFLOP/s and the fraction of the GEMM rate, as a dict."""
    gflops = gflop / seconds
    return {"seconds": seconds, "gflop": gflop, "gflops": gflops,
            "fraction_of_gemm": gflops / gemm_gflops}


def measure(images, n_filters, dtype, n_jobs, repeats, gemm_gflops,
            n_whitening_patches=100_000, pooling="grid"):
    """One row: fit, then time the encoding, the Gram GEMMs and the streamed Gram.

    Parameters
    ----------
    images : ndarray of shape (n, H, W, C)
        uint8 images.
    n_filters : int
        Random filters.
    dtype : {"float32", "float64"}
        Feature dtype.
    n_jobs : int or None
        Encoding threads (None: all usable CPUs).
    repeats : int
        Timed calls of each part; the best is kept.
    gemm_gflops : float
        The machine's GEMM rate in ``dtype``.
    n_whitening_patches : int, default 100000
        Patches sampled to fit the whitening (the estimator's default; smaller in tests).
    pooling : {"grid", "overlap2", "overlap3"}, default "grid"
        The pooling layout (:data:`kernelfit.features.conv_layout.POOLINGS`).

    Returns
    -------
    dict
        The row written to the JSON file.

    Raises
    ------
    RuntimeError
        If the streamed Gram differs from the Gram of the materialized features by more
        than ``GRAM_TOLERANCE[dtype]`` (relative to its largest entry).
    """
    model = RandomConvFeatures(n_filters=n_filters, dtype=dtype, n_jobs=n_jobs, device="cpu",
                               n_whitening_patches=n_whitening_patches, pooling=pooling)
    t0 = time.perf_counter()
    model.fit(images)
    fit_seconds = time.perf_counter() - t0
    backend, images, feature_dtype, jobs, make_encoder = model._setup(images)
    batch_size = model._batch_size(backend)
    n = images.shape[0]
    tile = min(GRAM_TILE, n)

    # (a) Encoding alone: all images, all filters, into a preallocated (touched) array.
    encoder = make_encoder(0, n_filters)
    F = np.zeros((n, encoder.n_features), dtype=feature_dtype)
    encode_seconds, _ = best_seconds(
        lambda: encode_images(encoder, images, F.reshape((n, n_filters, 2, -1)), backend,
                              n_jobs=jobs, batch_size=batch_size),
        repeats)
    array_encoder = make_encoder(0, n_filters, fused=False)
    F_array = np.zeros_like(F)
    array_seconds, _ = best_seconds(
        lambda: encode_images(array_encoder, images, F_array.reshape((n, n_filters, 2, -1)),
                              backend, n_jobs=jobs, batch_size=batch_size),
        repeats)
    path_difference = float(np.max(np.abs(F_array - F)) / np.max(np.abs(F)))
    if not path_difference <= GRAM_TOLERANCE[dtype]:
        raise RuntimeError(f"{n_filters} filters: the compiled encoder's features differ from "
                           f"the array path's by {path_difference:.2e} (relative), more than "
                           f"{GRAM_TOLERANCE[dtype]:g}")
    F_array = None  # the array path's copy is no longer needed

    # (b) The Gram GEMMs alone on those features (lower tiles, as the streamed Gram).
    G = np.zeros((n, n))
    gram_seconds, _ = best_seconds(
        lambda: _add_tiles(G, F, F, True, backend, tile, lambda gflop: None),
        repeats, prepare=lambda: G.fill(0.0))

    # (c) End to end: the streamed symmetric Gram; the chunks it used are recorded.
    chunks = []

    def recording_encoder(start, stop):
        chunks.append([start, stop])
        return make_encoder(start, stop)

    def streamed():
        chunks.clear()
        return accumulate_feature_grams(
            recording_encoder, n_filters, [images], [(0, 0)], backend=backend,
            dtype=feature_dtype, memory_budget=parse_budget(model.memory_budget), n_jobs=jobs,
            batch_size=batch_size)

    streamed_seconds, (result,) = best_seconds(streamed, repeats)

    # Check: the streamed Gram against the materialized features' Gram, in float64.
    reference = F.astype(np.float64) @ F.astype(np.float64).T  # distinct operands
    error = float(np.max(np.abs(result.gram - reference)) / np.max(np.abs(reference)))
    if not error <= GRAM_TOLERANCE[dtype]:
        raise RuntimeError(f"{n_filters} filters: the streamed Gram differs from the Gram of "
                           f"the materialized features by {error:.2e} (relative), more than "
                           f"{GRAM_TOLERANCE[dtype]:g}")

    encode = encode_gflop(encoder, n)
    gram = gram_gflop(n, n, encoder.n_features, True, tile)
    return {
        "n_filters": n_filters,
        "n_features": encoder.n_features,
        "n_images": n,
        "n_jobs": jobs,
        "batch_size": batch_size,
        "gram_tile": tile,
        "filter_chunks": chunks[1:],  # the first call is accumulate_feature_grams' probe
        "fit_seconds": fit_seconds,
        "encoder": "compiled" if encoder.fused else "array",
        "encode": rate(encode_seconds, encode, gemm_gflops),
        "encode_array_path": rate(array_seconds, encode, gemm_gflops),
        "encode_paths_relative_difference": path_difference,
        "gram": rate(gram_seconds, gram, gemm_gflops),
        "end_to_end": rate(streamed_seconds, encode + gram, gemm_gflops),
        "unaccounted_seconds": streamed_seconds - encode_seconds - gram_seconds,
        "gram_relative_error": error,
    }


def table(rows):
    """The printed table: one line per filter count."""
    lines = [("filters", "features", "fit s", "encode s", "GFLOP/s", "of GEMM",
              "array path s", "GFLOP/s", "of GEMM", "gram s", "GFLOP/s", "of GEMM",
              "end-to-end s", "GFLOP/s", "of GEMM", "gram rel. err")]
    for row in rows:
        cells = [str(row["n_filters"]), str(row["n_features"]), f"{row['fit_seconds']:.2f}"]
        for part in ("encode", "encode_array_path", "gram", "end_to_end"):
            cells += [f"{row[part]['seconds']:.3f}", f"{row[part]['gflops']:.1f}",
                      f"{100 * row[part]['fraction_of_gemm']:.1f}%"]
        cells.append(f"{row['gram_relative_error']:.1e}")
        lines.append(cells)
    return format_table(lines)


def main(argv=None):
    """Run the benchmark; ``argv`` defaults to the command line.

    Returns
    -------
    int
        Exit status (0).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=2000)
    parser.add_argument("--filters", type=int, nargs="+", default=[256, 1024],
                        help="filter counts, one row each")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="encoding threads (default: all usable CPUs)")
    parser.add_argument("--data", choices=["cifar10", "synthetic"], default="cifar10",
                        help="CIFAR-10 training images (via $KERNELFIT_DATA) or random pixels")
    parser.add_argument("--repeats", type=int, default=1,
                        help="timed calls of each part (the best is kept)")
    parser.add_argument("--gemm-size", type=int, default=2048,
                        help="edge of the square GEMM that measures the machine's rate")
    parser.add_argument("--gemm-repeats", type=int, default=3)
    parser.add_argument("--n-whitening-patches", type=int, default=100_000,
                        help="patches sampled to fit the whitening (the estimator's default)")
    parser.add_argument("--pooling", choices=sorted(POOLINGS), default="grid",
                        help="pooling layout (CIFAR-10's default in kernelfit: overlap3)")
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args(argv)
    if argv is None:
        command = " ".join(["python", *sys.argv])
    else:
        command = " ".join(["python", "bench/bench_randconv.py", *argv])

    images, data_name = load_images(args.data, args.n_images)
    gemm_gflops = gemm_rate(np.dtype(args.dtype), size=args.gemm_size,
                            repeats=args.gemm_repeats)
    print(f"{args.dtype} GEMM ({args.gemm_size}^3, best of {args.gemm_repeats}): "
          f"{gemm_gflops:.1f} GFLOP/s", flush=True)
    versions, machine = environment()
    record = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
              "machine": machine, "versions": versions, "data": data_name,
              "n_images": args.n_images, "dtype": args.dtype, "pooling": args.pooling,
              "n_jobs": default_n_jobs(args.n_jobs), "repeats": args.repeats,
              "n_whitening_patches": args.n_whitening_patches,
              "gemm": {"size": args.gemm_size, "repeats": args.gemm_repeats,
                       "gflops": gemm_gflops},
              "rows": []}
    for n_filters in args.filters:
        row = measure(images, n_filters, args.dtype, args.n_jobs, args.repeats, gemm_gflops,
                      args.n_whitening_patches, args.pooling)
        record["rows"].append(row)
        print(f"{n_filters} filters: encode {row['encode']['seconds']:.3f} s, gram "
              f"{row['gram']['seconds']:.3f} s, end to end {row['end_to_end']['seconds']:.3f} s, "
              f"Gram relative error {row['gram_relative_error']:.1e}", flush=True)
        if args.out:  # after every row: an interrupted run keeps what it finished
            write_json(record, args.out)
    print(table(record["rows"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
