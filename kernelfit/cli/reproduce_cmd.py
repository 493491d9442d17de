"""``kernelfit reproduce``: every Section 5 experiment, then ``REPORT.md`` with plots."""

from __future__ import annotations

__all__ = ["register"]


def register(sub) -> None:
    """Add the ``reproduce`` sub-command."""
    p = sub.add_parser(
        "reproduce", help="re-run Section 5 of Zhang et al. and write a report",
        description="Run the paper's kernel experiments (MNIST pixels and Gabor, CIFAR-10 "
        "pixels and random-conv features with and without l2), the minimum-norm comparison "
        "and the networks' Table 1 and Figure 1 rows that the device can run, then write "
        "DIR/REPORT.md with tables and plots. Results already in DIR are reused when their "
        "configuration matches, so an interrupted run continues where it stopped.",
    )
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--quick", dest="mode", action="store_const", const="quick",
                       help="subsets; under 10 minutes on 2 CPU cores (the default)")
    scale.add_argument("--full", dest="mode", action="store_const", const="full",
                       help="the paper's sizes; prints its expected duration first (hours "
                       "on a CPU)")
    scale.add_argument("--smoke", dest="mode", action="store_const", const="smoke",
                       help="seconds-long pass through every code path (used by the tests)")
    p.add_argument("--out", default="reproduce", metavar="DIR",
                   help="folder for results, plots and REPORT.md (default ./reproduce)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where every step runs; 'auto' (default) uses a CUDA GPU when one "
                   "is found, else the CPU")
    p.add_argument("--dry-run", action="store_true",
                   help="print the steps and their expected durations, run nothing")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing; write REPORT.md from the results already in DIR")
    p.add_argument("--checkpoint-dir", default=None, metavar="PATH",
                   help="where the random-conv steps checkpoint their streamed Gram after "
                   "every filter chunk (default DIR/checkpoints; for --full's 32,000 filters "
                   "7.2 GB, twice that while a chunk is saved): a stopped run resumes "
                   "mid-Gram, the linear-kernel step reuses the Gaussian step's Gram, a "
                   "checkpoint of the same configuration placed there is adopted, and each "
                   "is deleted once the steps that use it have their results")
    p.add_argument("--data-dir", default=None, help="where the data set files are")
    p.add_argument("--no-download", action="store_true", help="never download data")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run, mode="quick")


def run(args) -> int:
    """Run the reproduction; exit status 1 when a step failed."""
    from ..reproduce import run_reproduction

    result = run_reproduction(
        args.mode, args.out, device=args.device, data_dir=args.data_dir,
        download=not args.no_download, quiet=args.quiet, dry_run=args.dry_run,
        report_only=args.report_only, checkpoint_dir=args.checkpoint_dir)
    return 1 if result.failed else 0
