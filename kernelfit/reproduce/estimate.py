"""Expected duration of each reproduction step, from rates measured on this machine.

The model counts the flops of each phase and divides by the GEMM rate
measured at start-up (:func:`kernelfit.phase_rates.gemm_rate`, float32 and
float64), with factors for what is not GEMM:

* Gram and matrix-free products, ``n^2 d`` flops (symmetric) or ``2 n m d``,
  at the float64 rate whatever the storage dtype (distances are formed in
  float64), x :data:`ELEMENTWISE` (distances and ``exp`` cost about a quarter
  to a half of a GEMM more; ``bench/bench_kernel_block.py``);
* Cholesky, ``n^3 / 3`` flops at 95% of GEMM (``bench/bench_cholesky.py``);
* mixed precision, :data:`REFINEMENT_PASSES` products with the copy of ``K``
  kept in RAM or on disk and two float32 triangular solves, each pass reading
  about ``8 n^2`` bytes at :data:`STORED_PASS_BYTES_PER_SECOND` (the streamed
  random-conv steps: per ridge term, the held-out choice and reg 0);
* Gabor features, :data:`GABOR_SECONDS_PER_IMAGE`; random-conv features, the
  flops of their encoding and of their streamed training and cross Grams as
  :mod:`kernelfit.features.conv_gram` counts them (2.38e6 GFLOP for 32,000
  filters on CIFAR-10), at :data:`STREAMED_GRAM_SGEMM_FRACTION` of the measured
  float32 GEMM rate, less the filters a Gram checkpoint already holds;
* network training, the CPU reference runs under ``bench/results/randomize``
  scaled by the number of images.

It is a planning figure, printed before ``--full`` starts, not a benchmark.
"""

from __future__ import annotations

__all__ = ["estimate_seconds", "measure_rates", "randconv_gflop"]

ELEMENTWISE = 1.3
REFINEMENT_PASSES = 6
STORED_PASS_BYTES_PER_SECOND = 4e9
GABOR_SECONDS_PER_IMAGE = 2.5e-3
GABOR_DIM = 6223
#: Random-conv features and Gram, end to end, as a fraction of the float32 GEMM rate:
#: about 160 GFLOP/s on a 2-core AMD EPYC whose SGEMM measures about 211 GFLOP/s, in
#: the 32,000-filter CIFAR-10 run (issue 15), whose encoding ran the array path at about
#: 60% of SGEMM. The compiled encoder runs at about 85% (``bench/results/randconv-
#: throughput-overlap3.json`` at 2,000 images, the Gram GEMMs at 100%); the estimate keeps
#: the measured run's figure until a full run measures the new one. The 50,000-image run
#: also adds each Gram tile into packed storage and writes a 7.2 GB checkpoint after
#: every filter chunk.
STREAMED_GRAM_SGEMM_FRACTION = 0.76
FULL_SIZES = {"mnist": (60000, 10000), "fashion-mnist": (60000, 10000), "cifar10": (50000, 10000)}
PIXELS = {"mnist": 784, "fashion-mnist": 784, "cifar10": 3072}
#: Seconds of the CPU reference runs (bench/results/randomize) at their sizes.
NETS_SECONDS = {"table1": (37.0, 2000), "curves": (65.0, 500), "noise": (29.0, 500),
                "alexnet": (900.0, 256)}


def measure_rates() -> dict:
    """GFLOP/s of float32 and float64 GEMM on this machine (about two seconds)."""
    from ..phase_rates import gemm_rate

    return {"float32": gemm_rate("float32", size=2048), "float64": gemm_rate("float64",
                                                                                size=2048)}


def randconv_gflop(config, n: int, m: int) -> float:
    """GFLOP of the random-conv features and Gram of ``config`` (encoding of ``n + m``
    images, the symmetric ``n x n`` training Gram's lower tiles, the ``m x n`` cross
    Gram), counted by :mod:`kernelfit.features.conv_gram` from the feature map's
    parameters (the data set's defaults, then ``feature_params``)."""
    from types import SimpleNamespace

    from ..experiment_setup import IMAGE_SETS, configured_feature_map
    from ..features.conv_gram import GRAM_TILE, encode_gflop, gram_gflop
    from ..features.conv_layout import pooling_regions
    from ..features.patches import patch_grid

    p = configured_feature_map(config).get_params()
    height, width, channels = IMAGE_SETS[config.dataset][2]
    rows, cols = patch_grid(height, width, p["patch_size"], p["stride"])
    encoder = SimpleNamespace(patch_size=p["patch_size"], image_shape=(height, width, channels),
                              rows=rows, cols=cols, n_filters=int(p["n_filters"]))
    features = 2 * int(p["n_filters"]) * pooling_regions(
        height, width, p["patch_size"], p["stride"], p["pooling_grid"], p["pooling"])
    tile = min(int(config.tile_size or GRAM_TILE), n)
    return (encode_gflop(encoder, n + m) + gram_gflop(n, n, features, True, tile)
            + gram_gflop(m, n, features, False, tile))


def estimate_seconds(step, rates: dict, filters_ready: int = 0) -> float:
    """Expected wall time of ``step`` in seconds (see the module docstring).

    Parameters
    ----------
    step : Step
    rates : dict
        From :func:`measure_rates`.
    filters_ready : int, default 0
        Random-conv filters whose Gram the step restores instead of computing (a
        checkpoint, or an earlier step of the same Gram).
    """
    if step.config is None:
        return _nets_seconds(step)
    c = step.config
    full_n, full_m = FULL_SIZES.get(c.dataset, (60000, 10000))
    n, m = c.n_train or full_n, c.n_test or full_m
    solve_rate = rates["float64" if c.dtype == "float64" else "float32"] * 1e9
    r64 = rates["float64"] * 1e9
    streamed = c.features == "randconv"
    seconds = 0.0
    if c.features == "gabor":
        d = GABOR_DIM
        seconds += (n + m) * GABOR_SECONDS_PER_IMAGE
        if c.bandwidth == "auto":  # seven fits on at most 10,000 points
            k = min(n, 10000)
            seconds += 7 * (k * k * d * ELEMENTWISE / r64 + k**3 / 3 / solve_rate)
    elif not streamed:
        d = PIXELS.get(c.dataset, 784)
    if streamed:  # encoding and linear Grams of float32 features, streamed
        from ..experiment_setup import configured_feature_map

        filters = int(configured_feature_map(c).get_params()["n_filters"])
        left = 1.0 - min(int(filters_ready), filters) / filters
        seconds += left * randconv_gflop(c, n, m) * 1e9 / (
            STREAMED_GRAM_SGEMM_FRACTION * rates["float32"] * 1e9)
    else:  # distances are formed in float64 whatever the storage dtype
        seconds += n * n * d * ELEMENTWISE / r64
    # reg="auto" on streamed features also solves reg = 0 from the same Gram
    solves = 2 if streamed and c.reg == "auto" else 1
    seconds += solves * n**3 / 3 / (0.95 * solve_rate)  # the factorizations
    if c.reg == "auto":  # one float64 factorization per ridge value, on <= 10,000 points
        seconds += 6 * min(n, 10000) ** 3 / 3 / (0.95 * r64)
    if c.dtype == "mixed":
        seconds += solves * REFINEMENT_PASSES * 8 * n * n / STORED_PASS_BYTES_PER_SECOND
    if not streamed:  # (randconv predicts from its cross Gram)
        seconds += 2 * n * m * d * ELEMENTWISE / r64  # predictions
    return seconds


def _nets_seconds(step) -> float:
    argv = list(step.argv)
    if "--kernel" in argv:
        n = int(argv[argv.index("--n-train") + 1])
        return 2 * n**3 / 3 / 50e9 + 5.0
    key = "alexnet" if "alexnet" in argv else argv[1]
    seconds, n_ref = NETS_SECONDS.get(key, (60.0, 1000))
    n = int(argv[argv.index("--n-train") + 1]) if "--n-train" in argv else n_ref
    epochs = int(argv[argv.index("--epochs") + 1]) if "--epochs" in argv else 60
    return seconds * n / n_ref * min(1.0, epochs / 60)
