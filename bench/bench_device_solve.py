"""The exact MNIST solve on one device, timed phase by phase between device synchronizations.

Phases: ``load`` (host data), ``to_device`` (the training and test images),
``gram`` (the Gaussian Gram straight into packed lower tiles on the device),
``cholesky`` (the tiled factorization, in place), ``solve`` (the two triangular
sweeps), ``residual`` (``K alpha`` from the data, in float64) and ``predict``
(the test set). Every timer starts and stops after ``backend.synchronize()``,
so queued GPU work is counted in the phase that queued it. The device's GEMM
rate, measured in the same run, gives the floor ``(n^3 / 3 + n^2 d) / R``.
Prints one line per phase and writes JSON.

    python bench/bench_device_solve.py --n 60000 --device cuda --json $OUT/solve60k.json
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from kernelfit.backend import resolve_device
from kernelfit.gram_builder import gram, kernel_matvec, symmetric_matvec
from kernelfit.kernels import make_kernel
from kernelfit.linalg import PackedStorage, cholesky_solve, tiled_cholesky
from kernelfit.memory import format_bytes
from kernelfit.phase_rates import gemm_rate
from kernelfit.provenance import environment
from kernelfit.results_io import write_json

BANDWIDTH = 5.25  # the MNIST default (docs/cli.md)


def load(n: int, source: str):
    """Training and test rows in [0, 1], labels; synthetic when MNIST is absent."""
    if source == "mnist":
        from kernelfit.datasets import load_mnist

        d = load_mnist()
        Xtr = d.X_train[:n].reshape(n, -1) / 255.0
        Xte = d.X_test.reshape(len(d.X_test), -1) / 255.0
        return Xtr, d.y_train[:n], Xte, d.y_test
    rng = np.random.default_rng(0)
    m = max(1, n // 6)
    return (rng.random((n, 784)) * 0.3, rng.integers(0, 10, n),
            rng.random((m, 784)) * 0.3, rng.integers(0, 10, m))


def run(n: int, device: str, source: str, dtype: str, tile_size=None,
        memory_budget=None, gemm_size: int = 4096) -> dict:
    backend = resolve_device(device)
    timings: dict[str, float] = {}

    def timed(name, fn):
        backend.synchronize()
        t0 = time.perf_counter()
        result = fn()
        backend.synchronize()
        timings[name] = time.perf_counter() - t0
        print(f"{name:10s} {timings[name]:8.2f} s", flush=True)
        return result

    Xtr, ytr, Xte, yte = timed("load", lambda: load(n, source))
    free_before = backend.free_memory()
    Xd, Xtd = timed("to_device", lambda: (backend.asarray(Xtr.astype(dtype)),
                                          backend.asarray(Xte.astype(dtype))))
    classes = np.unique(ytr)
    Y = (ytr[:, None] == classes[None, :]).astype(np.float64)
    kernel = make_kernel("gaussian", bandwidth=BANDWIDTH)
    storage = PackedStorage(n, tile_size, dtype, backend, memory_budget)
    timed("gram", lambda: gram(Xd, kernel=kernel, out=storage))
    timed("cholesky", lambda: tiled_cholesky(storage))
    alpha = timed("solve", lambda: cholesky_solve(storage, backend.asarray(Y)))
    storage.close()
    KA = timed("residual", lambda: backend.to_numpy(symmetric_matvec(Xd, alpha, kernel,
                                                                      device=backend)))
    scores = timed("predict", lambda: backend.to_numpy(kernel_matvec(Xtd, Xd, alpha, kernel,
                                                                     device=backend)))
    rate = gemm_rate(np.dtype(dtype), size=gemm_size, device=backend)
    flops = n**3 / 3 + n * n * Xtr.shape[1]
    compute = sum(timings[k] for k in ("gram", "cholesky", "solve"))
    return {
        "n": n, "device": backend.device, "dtype": dtype, "data": source,
        "tile_size": storage.tile_size, "bandwidth": BANDWIDTH,
        "timings": timings, "seconds_gram_to_solve": compute,
        "seconds_end_to_end": sum(timings.values()),
        "gemm_gflops": rate, "floor_seconds": flops / rate / 1e9,
        "time_over_floor": compute / (flops / rate / 1e9),
        "cholesky_gflops": n**3 / 3 / timings["cholesky"] / 1e9,
        "relative_residual": float(np.linalg.norm(KA - Y) / np.linalg.norm(Y)),
        "test_error": float(np.mean(classes[np.argmax(scores, axis=1)] != yte)),
        "device_free_bytes_before": free_before,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=60000)
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cuda")
    parser.add_argument("--data", choices=["mnist", "synthetic"], default="mnist")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--tile-size", type=int, default=None)
    parser.add_argument("--memory-budget", default=None)
    parser.add_argument("--gemm-size", type=int, default=4096,
                        help="edge of the square GEMM whose rate gives the floor")
    parser.add_argument("--json", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    result = run(args.n, args.device, args.data, args.dtype, args.tile_size, args.memory_budget,
                 args.gemm_size)
    print(f"n={result['n']} {result['dtype']} on {result['device']}: gram->solve "
          f"{result['seconds_gram_to_solve']:.2f} s ({result['time_over_floor']:.2f}x floor, "
          f"GEMM {result['gemm_gflops']:.0f} GF/s, Cholesky {result['cholesky_gflops']:.0f} "
          f"GF/s), residual {result['relative_residual']:.1e}, test error "
          f"{100 * result['test_error']:.2f}%, device memory free "
          f"{format_bytes(result['device_free_bytes_before'])}")
    if args.json:
        versions, machine = environment()
        write_json({"command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M"),
                    "result": result, "versions": versions, "machine": machine}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
