"""``kernelfit bench solve``: the solve benchmark (see :mod:`kernelfit.benchmarks`)."""

from __future__ import annotations

import argparse
import time

from ..memory import format_bytes
from .argument_types import count

__all__ = ["format_phases", "format_row", "register"]


def register(sub) -> None:
    """Add ``bench`` with its ``solve`` benchmark."""
    p = sub.add_parser("bench", help="benchmarks (prints a table, writes JSON)")
    which = p.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    s = which.add_parser(
        "solve", help="exact solve: kernelfit vs scikit-learn vs the floor",
        description="For each n, time kernelfit's exact solve (Gram, tiled Cholesky, solve "
        "or refinement, residual) and scikit-learn's KernelRidge, each in a child process, "
        "against the floor (n^3/3 + n^2 d) / GEMM rate measured in the same run. Prints one "
        "row per (n, dtype) as it finishes and writes them all as JSON.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument("--n", type=count, nargs="+", default=[5000, 10000, 20000, 40000, 60000],
                   metavar="N", help="training-set sizes to time")
    s.add_argument("--dtype", nargs="+", default=["mixed", "float64"],
                   choices=["mixed", "float64", "float32"],
                   help="kernelfit precisions to time at each n ('mixed': float32 factor "
                   "refined to float64 accuracy)")
    s.add_argument("--data", choices=["mnist", "synthetic"], default="mnist",
                   help="MNIST subsets (synthetic data beyond 60,000), or synthetic data")
    s.add_argument("--no-sklearn", action="store_true",
                   help="skip scikit-learn's KernelRidge")
    s.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                   help="where kernelfit solves and the floor's GEMM rate is measured")
    s.add_argument("--memory-budget", default=None, metavar="BYTES",
                   help="kernelfit's memory budget, e.g. 100GiB (default: a share of the "
                   "device's free memory)")
    s.add_argument("--warm", action="store_true",
                   help="fit kernelfit a second time in the same process and report that "
                   "fit too: memory the process already touched costs no fresh page faults, "
                   "so the two times separate the code's distance from the floor from the "
                   "cost of fresh memory")
    s.add_argument("--json", default="bench/results/solve.json", metavar="PATH",
                   help="where the rows, versions and machine are written")
    s.set_defaults(func=run)


def format_row(row) -> str:
    """One printed line per benchmark row."""
    ours, sk = row["kernelfit"], row["sklearn"] or {}
    if ours.get("status") != "ok":
        text = f"kernelfit {ours.get('status')}"
    else:
        t = ours["timings"]
        ratio = (f"; mixed/float64 {row['mixed_over_float64']:.2f}"
                 if "mixed_over_float64" in row else "")
        text = (f"kernelfit {ours['seconds']:7.1f} s ({row['time_over_floor']:.2f}x floor, "
                f"{row['time_over_float64_floor']:.2f}x float64 floor{ratio}; gram "
                f"{t['gram']:.1f} s, chol {t['cholesky']:.1f} s = {ours['cholesky_gflops']:.0f} "
                f"GF/s) resid {ours['relative_residual']:.1e} peak "
                f"{format_bytes(ours['peak_rss'])}")
        if ours.get("storage", "packed") != "packed":
            text += f" ({ours['storage']}; anonymous peak {format_bytes(ours['peak_anon_rss'])})"
        text += _system_time(ours)
        if ours.get("warm"):
            text += (f"; warm {ours['warm']['seconds']:.1f} s ({row['warm_over_floor']:.2f}x "
                     f"floor{_system_time(ours['warm'])})")
    if sk.get("status") == "ok":
        sk_text = (f"sklearn {sk['seconds']:.1f} s peak {format_bytes(sk['peak_rss'])}"
                   f"{_system_time(sk)}")
    elif "bytes_needed" in sk:
        sk_text = f"sklearn cannot run: needs {format_bytes(sk['bytes_needed'])}"
    else:
        sk_text = f"sklearn {sk.get('status', 'skipped')}"
    return (f"n={row['n']:6d} {row['dtype']:7s} GEMM {row['gemm_gflops']:5.0f} GF/s floor "
            f"{row['floor_seconds']:7.1f} s | {text} | {sk_text}")


def _system_time(run) -> str:
    """``; OS 1.2 CPU-s`` when the run recorded its CPU times: the operating system's share
    (page faults of fresh memory), which no phase's floor includes."""
    cpu = run.get("cpu")
    return "" if not cpu else f"; OS {cpu['system_seconds']:.1f} CPU-s"


def format_phases(row) -> list[str]:
    """The row's per-phase table (work, rate, floor), indented under its line."""
    from ..phase_rates import format_phase_rows

    if not row.get("phases"):
        return []
    lines = ["    " + line for line in format_phase_rows(row["phases"])]
    if row.get("warm_phases"):
        lines += ["    warm fit (memory touched before):"]
        lines += ["    " + line for line in format_phase_rows(row["warm_phases"])]
    return lines


def _print_row(row) -> None:
    print("\n".join([format_row(row), *format_phases(row)]), flush=True)


def run(args) -> int:
    """Run the benchmark, print each row as it finishes, write JSON."""
    import sys

    from ..benchmarks import solve_benchmark
    from ..provenance import environment
    from ..results_io import write_json

    rows = solve_benchmark(args.n, args.dtype, source=args.data, sklearn=not args.no_sklearn,
                           device=args.device, memory_budget=args.memory_budget,
                           warm=args.warm, report=_print_row)
    versions, machine = environment()
    write_json({
        "command": "kernelfit " + " ".join(sys.argv[1:]), "date": time.strftime("%Y-%m-%d %H:%M"),
        "rows": rows, "versions": versions, "machine": machine,
    }, args.json)
    print(f"wrote {args.json}", file=sys.stderr)
    return 0
