"""``kernelfit datasets``: what data is present, where, and whether it verified."""

from __future__ import annotations

import json
import sys

from ..tables import format_table
from .argument_types import existing_dir

__all__ = ["register"]


def register(sub) -> None:
    """Add the ``datasets`` sub-command."""
    p = sub.add_parser(
        "datasets", help="show which data sets are present and verified",
        description="List MNIST, Fashion-MNIST and CIFAR-10: whether a complete copy was "
        "found, its format and path, and whether its files match the published checksums. "
        "Looks in --data-dir, then $KERNELFIT_DATA, then the kernelfit cache; downloads "
        "nothing.",
    )
    p.add_argument("--data-dir", type=existing_dir, default=None, metavar="DIR",
                   help="directory searched first (default: $KERNELFIT_DATA, then the cache)")
    p.add_argument("--no-verify", action="store_true", help="skip checksum verification")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    """Print one row per known data set."""
    from ..datasets import dataset_status

    records = dataset_status(args.data_dir, verify=not args.no_verify)
    failed = [r.name for r in records if r.failed]
    status = 1 if failed else 0  # a copy that would be refused when loaded
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2))
        return status
    rows = []
    for r in records:
        verified = {True: "yes", False: "NO", None: "-"}[r.verified]
        rows.append((r.name, "yes" if r.present else "no", r.format or "-", verified,
                     r.path or "-"))
    print(format_table(rows, headers=("data set", "present", "format", "verified", "path")))
    for r in records:
        for note in r.notes:
            print(f"  {r.name}: {note}")
    if failed:
        print(f"kernelfit datasets: {', '.join(failed)} failed verification (see above); "
              "replace the files named with good copies", file=sys.stderr)
    return status
