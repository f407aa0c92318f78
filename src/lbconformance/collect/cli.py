"""`lbconformance collect --lab|--inventory FILE -o DIR`: save a live target as a snapshot."""
from __future__ import annotations

import argparse
import sys

from lbconformance.collect import collect_snapshot
from lbconformance.yamlfile import InputError

EXIT_USAGE = 4


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="lbconformance collect",
                                 description="Collect a live target into a snapshot folder (docs/snapshot.md).")
    target = ap.add_mutually_exclusive_group(required=True)
    target.add_argument("--lab", action="store_true", help="the running reference lab")
    target.add_argument("--inventory", metavar="FILE", help="a deployment described by an inventory")
    ap.add_argument("-o", "--output", metavar="DIR", required=True, help="snapshot folder to write")
    ap.add_argument("--profile", default="any", choices=("any", "bcm5720", "x550"))
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return EXIT_USAGE if e.code else 0
    try:
        snap = collect_snapshot("lab" if args.lab else "inventory", args.inventory, args.output, args.profile,
                                progress=print)
    except InputError as e:
        print(f"lbconformance collect: {e}", file=sys.stderr)
        return EXIT_USAGE
    failed = len(snap.errors)
    print(f"snapshot written to {snap.root}" + (f" ({failed} facts could not be collected; see meta.json errors)"
                                                 if failed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
