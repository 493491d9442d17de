"""One float64 kernel block: the straightforward NumPy code against kernelfit's, in one run.

The block is the inner loop of :func:`kernelfit.symmetric_matvec`, which mixed-precision
refinement calls once per step. For each case, in the same process and with the methods
interleaved (the machine may be loaded: compare the best of several repeats):

* reference: an in-file copy of the straightforward block (GEMM, then
  ``D *= -2; D += xn; D += zn``, ``clip``, a ``where`` on the diagonal, ``D * scale``,
  ``exp``: each a pass over the whole block, on one core);
* kernelfit: :class:`kernelfit.kernels.Kernel` as the Gram builder calls it, with
  NumPy's passes on cache-sized chunks;
* compiled (gaussian): the same with the compiled distance pass of
  :mod:`kernelfit.block_pass_kernels`, which jobs from
  :data:`~kernelfit.host_kernel_blocks.COMPILED_PASS_ENTRIES` entries on use;
* GEMM: ``X @ Z.T`` alone, the floor of a gaussian block;
* numexpr (when installed): the GEMM then one fused numexpr expression for the whole
  epilogue, the alternative to kernelfit's NumPy passes on cache-sized chunks.

Then :func:`kernelfit.symmetric_matvec` at ``n x d`` with ``k`` right-hand sides, once
with the reference block patched in and once as shipped. Last, the Gram phase: ``gram``
into packed float64 and float32 tiles at ``--gram-n x d``, as shipped, with the
compiled pass and with whole diagonal blocks (instead of row strips of their lower
half), against DGEMM on 2048-blocks with the same useful flops (``n^2 d``), all
interleaved on memory already touched (each storage's first fill, on fresh memory, is
timed apart); the rate ratio is taken per repeat. Prints a table and writes JSON.

    python bench/bench_kernel_block.py --out bench/results/kernel-block.json
"""

from __future__ import annotations

import argparse
import sys
import time
from unittest import mock

import numpy as np

from kernelfit import host_kernel_blocks, kernels
from kernelfit.backend import host_backend
from kernelfit.gram_builder import gram, symmetric_matvec
from kernelfit.linalg import PackedStorage
from kernelfit.provenance import save_run

BANDWIDTH = 5.0


# -- the straightforward implementation (kernelfit before the NumPy fast path) --------

def as64(A):
    """``A`` in float64, copied only when it is not already."""
    return A if A.dtype == np.float64 else A.astype(np.float64)


def reference_sqdist(X, Z, same):
    """Squared distances ``||x||^2 + ||z||^2 - 2 x.z`` in float64, one full pass per step."""
    X64, Z64 = as64(X), as64(Z)
    Z64 = X64.copy() if same else Z64  # distinct GEMM operands (never X @ X.T)
    D = X64 @ Z64.T
    xn = np.sum(X64 * X64, axis=1)
    zn = xn if same else np.sum(Z64 * Z64, axis=1)
    D *= -2.0
    D += xn[:, None]
    D += zn[None, :]
    D = np.clip(D, 0.0, None)
    if same:
        D = np.where(np.eye(D.shape[0], dtype=bool), np.zeros_like(D), D)
    return D


def reference_gaussian(kernel, xp, X, Z, same, out=None):
    """The gaussian block as ``kernels._BLOCK_FUNCTIONS`` expects it."""
    return np.exp(reference_sqdist(X, Z, same) * (-0.5 / kernel.bandwidth**2))


def reference_laplacian(kernel, xp, X, Z, same, out=None):
    """The laplacian block: ``|x - z|`` summed one feature slab at a time."""
    X64, Z64 = as64(X), as64(Z)
    D = np.zeros((X.shape[0], Z.shape[0]))
    step = max(1, (1 << 22) // max(1, X.shape[0] * Z.shape[0]))
    for start in range(0, X.shape[1], step):
        cols = slice(start, start + step)
        D += np.sum(np.abs(X64[:, None, cols] - Z64[None, :, cols]), axis=2)
    return np.exp(D * (-1.0 / kernel.bandwidth))


def numexpr_gaussian(X, Z, gamma):
    """The gaussian block with its epilogue as one numexpr expression, or None without numexpr."""
    try:
        import numexpr
    except ImportError:
        return None

    def block():
        K = X @ Z.T
        x_term = gamma * np.einsum("ij,ij->i", X, X)[:, None]
        z_term = gamma * np.einsum("ij,ij->i", Z, Z)[None, :]
        numexpr.evaluate("exp(minimum(s * K - x_term - z_term, 0.0))", out=K, local_dict=dict(
            K=K, s=2.0 * gamma, x_term=x_term, z_term=z_term))
        return K
    return block


REFERENCES = {"gaussian": reference_gaussian, "laplacian": reference_laplacian}


# -- timing ---------------------------------------------------------------------------

def interleaved(methods: dict, repeats: int) -> dict:
    """Seconds of each zero-argument callable, the methods taking turns in each repeat."""
    seconds = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - t0)
    return {name: {"best_ms": 1e3 * min(s), "median_ms": 1e3 * float(np.median(s))}
            for name, s in seconds.items()}


def block_case(name, n, d, same, repeats, rng) -> dict:
    """Reference vs kernelfit (vs GEMM for the gaussian) on one ``n x n x d`` block."""
    X = rng.random((n, d))
    Z = X if same else rng.random((n, d))
    kernel = kernels.make_kernel(name, bandwidth=BANDWIDTH)
    reference = REFERENCES[name]
    def with_pass(compiled):
        def run():
            with mock.patch.object(host_kernel_blocks, "_use_compiled_pass", compiled):
                return kernel(X, Z, same=same)
        return run

    methods = {
        "reference": lambda: reference(kernel, np, X, Z, same),
        "kernelfit": with_pass(False),
    }
    if name == "gaussian" and host_kernel_blocks._compiled_pass() is not None:
        methods["compiled"] = with_pass(True)
        if not np.array_equal(methods["compiled"](), methods["kernelfit"]()):
            raise RuntimeError("the compiled pass changed the block")
    if name == "gaussian":
        Zc = Z.copy()  # distinct operands, as in the kernels
        methods["gemm"] = lambda: X @ Zc.T
        numexpr_block = numexpr_gaussian(X, Zc, 0.5 / BANDWIDTH**2)
        if numexpr_block is not None:
            methods["numexpr"] = numexpr_block
    ref, new = methods["reference"](), methods["kernelfit"]()
    if same and not np.all(np.diagonal(new) == 1.0):
        raise RuntimeError("the diagonal of a same=True block is not exactly 1")
    row = {"case": f"{name}{' same' if same else ''} {n}x{n}x{d}", "kernel": name,
           "n": n, "d": d, "same": same,
           "max_relative_difference": float(np.max(np.abs(new - ref) / ref))}
    row.update(interleaved(methods, repeats))
    return row


def matvec_case(n, d, k, repeats, rng) -> dict:
    """``symmetric_matvec`` with the reference gaussian block patched in, and as shipped."""
    X = rng.random((n, d))
    V = rng.standard_normal((n, k))

    def run():
        return symmetric_matvec(X, V, "gaussian", bandwidth=BANDWIDTH, device="cpu")

    def run_reference():
        with mock.patch.dict(kernels._BLOCK_FUNCTIONS, gaussian=reference_gaussian):
            return run()

    ref, new = run_reference(), run()
    row = {"case": f"symmetric_matvec n={n} d={d} k={k}", "n": n, "d": d, "k": k,
           "max_relative_difference": float(np.max(np.abs(new - ref)) / np.max(np.abs(ref)))}
    row.update(interleaved({"reference": run_reference, "kernelfit": run}, repeats))
    return row


def gram_phase_case(n, d, repeats, rng) -> dict:
    """``gram`` into packed tiles (float64, float32; diagonal blocks in strips and whole;
    NumPy's passes and the compiled one) against DGEMM on 2048-blocks with the same
    useful flops, interleaved, on memory already touched; and the first fill of each
    storage, on fresh memory, timed apart."""
    X = rng.random((n, d))
    A, B = rng.random((2048, d)), rng.random((2048, d))
    gemm_calls = max(1, round(n * n / 2048**2))
    storages = {dtype: PackedStorage(n, 2048, dtype, host_backend())
                for dtype in (np.float64, np.float32)}

    def fill(dtype, strip, compiled=False):
        def run():
            with (mock.patch.object(host_kernel_blocks, "_DIAGONAL_STRIP", strip),
                  mock.patch.object(host_kernel_blocks, "_use_compiled_pass", compiled)):
                gram(X, kernel="gaussian", bandwidth=BANDWIDTH, dtype=dtype, out=storages[dtype])
        return run

    def gemm():
        for _ in range(gemm_calls):
            A @ B.T

    methods = {"gemm": gemm}
    for dtype, label in ((np.float64, "float64"), (np.float32, "float32")):
        methods[label] = fill(dtype, host_kernel_blocks._DIAGONAL_STRIP)
        methods[f"{label} whole diagonal"] = fill(dtype, n)
        if host_kernel_blocks._compiled_pass() is not None:
            methods[f"{label} compiled pass"] = fill(dtype, host_kernel_blocks._DIAGONAL_STRIP,
                                                     compiled=True)
    first_fill = {}  # each storage's first fill touches its fresh pages: timed apart
    for label in ("float64", "float32"):
        t0 = time.perf_counter()
        methods[label]()
        first_fill[f"{label} first fill, fresh memory"] = [time.perf_counter() - t0]
    seconds = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - t0)
    seconds.update(first_fill)
    work = {"gemm": 2.0 * 2048 * 2048 * d * gemm_calls}
    rows = []
    for name in seconds:
        if name == "gemm":
            continue
        rate = [n * n * d / t / 1e9 for t in seconds[name]]
        gemm_rate = [work["gemm"] / t / 1e9 for t in seconds["gemm"]]
        if name in first_fill:  # against the median DGEMM of the repeats
            gemm_rate = [float(np.median(gemm_rate))]
        ratio = [r / g for r, g in zip(rate, gemm_rate, strict=True)]
        rows.append({"case": f"gram {name} n={n} d={d}", "n": n, "d": d,
                     "gflops_best": max(rate), "gemm_gflops_best": max(gemm_rate),
                     "ratio_to_gemm_min": min(ratio),
                     "ratio_to_gemm_median": float(np.median(ratio)),
                     "ratio_to_gemm_max": max(ratio), "seconds": seconds[name]})
    return rows


def print_gram_row(row: dict) -> None:
    print(f"{row['case']:42s} {row['gflops_best']:8.1f} {row['gemm_gflops_best']:8.1f}   "
          f"{row['ratio_to_gemm_min']:.2f} / {row['ratio_to_gemm_median']:.2f} / "
          f"{row['ratio_to_gemm_max']:.2f}", flush=True)


def print_row(row: dict) -> None:
    gemm = f"{row['gemm']['best_ms']:9.1f}" if "gemm" in row else " " * 9
    speedup = row["reference"]["best_ms"] / row["kernelfit"]["best_ms"]
    numexpr_ms = f"{row['numexpr']['best_ms']:9.1f}" if "numexpr" in row else " " * 9
    compiled = f"{row['compiled']['best_ms']:9.1f}" if "compiled" in row else " " * 9
    print(f"{row['case']:38s} {row['reference']['best_ms']:10.1f} "
          f"{row['kernelfit']['best_ms']:10.1f} {speedup:8.2f}x {compiled} {gemm} {numexpr_ms}   "
          f"{row['max_relative_difference']:.1e}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", type=int, default=2048, help="gaussian block edge")
    parser.add_argument("--laplacian-block", type=int, default=512,
                        help="laplacian block edge (its reference is slow); 0 skips it")
    parser.add_argument("--d", type=int, default=784, help="features (MNIST: 784)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--matvec-n", type=int, default=8000, help="0 skips the matvec")
    parser.add_argument("--matvec-k", type=int, default=10)
    parser.add_argument("--matvec-repeats", type=int, default=3)
    parser.add_argument("--gram-n", type=int, default=8000, help="0 skips the Gram phase")
    parser.add_argument("--gram-repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'case (best of repeats, ms)':38s} {'reference':>10s} {'kernelfit':>10s} "
          f"{'speedup':>9s} {'compiled':>9s} {'GEMM':>9s} {'numexpr':>9s}   max rel. diff")
    rows = []
    cases = [("gaussian", args.block, False), ("gaussian", args.block, True)]
    if args.laplacian_block:
        cases.append(("laplacian", args.laplacian_block, False))
    for name, n, same in cases:
        rows.append(block_case(name, n, args.d, same, args.repeats, rng))
        print_row(rows[-1])
    if args.matvec_n:
        rows.append(matvec_case(args.matvec_n, args.d, args.matvec_k, args.matvec_repeats, rng))
        print_row(rows[-1])
    if args.gram_n:
        print(f"\n{'Gram phase (GFLOP/s, best)':42s} {'gram':>8s} {'DGEMM':>8s}   "
              "gram / DGEMM per repeat: min / median / max")
        for row in gram_phase_case(args.gram_n, args.d, args.gram_repeats, rng):
            rows.append(row)
            print_gram_row(row)
    save_run(args.out, rows=rows, element_threads=host_kernel_blocks._element_threads())
    return 0


if __name__ == "__main__":
    sys.exit(main())
