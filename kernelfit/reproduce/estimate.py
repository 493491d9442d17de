"""Expected duration of each reproduction step, from rates measured on this machine.

The model counts the flops of each phase and divides by the GEMM rate
measured at start-up (:func:`kernelfit.phase_rates.gemm_rate`, float32 and
float64), with factors for what is not GEMM:

* Gram and matrix-free products, ``n^2 d`` flops (symmetric) or ``2 n m d``,
  at the float64 rate whatever the storage dtype (distances are formed in
  float64), x :data:`ELEMENTWISE` (distances and ``exp`` cost about a quarter
  to a half of a GEMM more; ``bench/bench_kernel_block.py``);
* Cholesky, ``n^3 / 3`` flops at 95% of GEMM (``bench/bench_cholesky.py``);
* mixed precision, :data:`REFINEMENT_PASSES` products with the float64 copy of
  ``K`` kept in RAM or on disk and two float32 triangular solves, each pass
  reading about ``8 n^2`` bytes at :data:`STORED_PASS_BYTES_PER_SECOND`;
* Gabor features, :data:`GABOR_SECONDS_PER_IMAGE`; random-conv features,
  ``(n + m) * positions * patch_dim * filters * 2`` flops at
  :data:`CONV_GFLOPS` plus their ``8 filters``-dimensional linear Gram;
* network training, the CPU reference runs under ``bench/results/randomize``
  scaled by the number of images.

It is a planning figure, printed before ``--full`` starts, not a benchmark.
"""

from __future__ import annotations

__all__ = ["estimate_seconds", "measure_rates"]

ELEMENTWISE = 1.3
REFINEMENT_PASSES = 6
STORED_PASS_BYTES_PER_SECOND = 4e9
GABOR_SECONDS_PER_IMAGE = 2.5e-3
GABOR_DIM = 6223
CONV_GFLOPS = 40.0
CONV_POSITIONS = 27 * 27
PATCH_DIM = 6 * 6 * 3
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


def estimate_seconds(step, rates: dict) -> float:
    """Expected wall time of ``step`` in seconds (see the module docstring)."""
    if step.config is None:
        return _nets_seconds(step)
    c = step.config
    full_n, full_m = FULL_SIZES.get(c.dataset, (60000, 10000))
    n, m = c.n_train or full_n, c.n_test or full_m
    solve_rate = rates["float64" if c.dtype == "float64" else "float32"] * 1e9
    r64 = rates["float64"] * 1e9
    seconds = 0.0
    if c.features == "gabor":
        d = GABOR_DIM
        seconds += (n + m) * GABOR_SECONDS_PER_IMAGE
        if c.bandwidth == "auto":  # seven fits on at most 10,000 points
            k = min(n, 10000)
            seconds += 7 * (k * k * d * ELEMENTWISE / r64 + k**3 / 3 / solve_rate)
    elif c.features == "randconv":
        filters = int(c.feature_params.get("n_filters", 32000))
        d = 8 * filters
        seconds += (n + m) * CONV_POSITIONS * PATCH_DIM * filters * 2 / (CONV_GFLOPS * 1e9)
    else:
        d = PIXELS.get(c.dataset, 784)
    if c.features == "randconv":  # linear Gram of float32 features, streamed
        seconds += (n * n + 2 * n * m) * d / (rates["float32"] * 1e9)
    else:  # distances are formed in float64 whatever the storage dtype
        seconds += n * n * d * ELEMENTWISE / r64
    seconds += n**3 / 3 / (0.95 * solve_rate)  # the factorization
    if c.reg == "auto":  # one float64 factorization per ridge value, on <= 10,000 points
        seconds += 6 * min(n, 10000) ** 3 / 3 / (0.95 * r64)
        if c.features == "randconv":  # and the reg = 0 fit of the same Gram beside it
            seconds += n**3 / 3 / (0.95 * solve_rate)
    if c.dtype == "mixed" and c.features != "randconv":
        seconds += REFINEMENT_PASSES * 8 * n * n / STORED_PASS_BYTES_PER_SECOND
    if c.features != "randconv":  # (randconv predicts from its cross Gram)
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
