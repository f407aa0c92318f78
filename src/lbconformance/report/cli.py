"""`lbconformance report DIR [DIR ...]`: re-render every format of saved runs, with no target."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lbconformance.report.render import FORMATS, render_run
from lbconformance.report.results import EXIT_USAGE, read_results, verdict


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="lbconformance report",
                                 description="Re-render junit.xml, report.html and summary.md from a run "
                                             "folder's results.json (reports/<UTC>-<run id>/).")
    ap.add_argument("dirs", nargs="+", metavar="DIR", help="a run folder holding results.json")
    ap.add_argument("--exit-code", action="store_true",
                    help="exit with the verdict's code (0 PASS, 1 FAIL, 6 INCOMPLETE) instead of 0")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else EXIT_USAGE
    worst = 0
    for d in args.dirs:
        run = Path(d)
        if not (run / "results.json").is_file():
            print(f"lbconformance report: {run}: no results.json (not a run folder)", file=sys.stderr)
            return EXIT_USAGE
        try:
            render_run(run)
            _, results = read_results(run)
        except (ValueError, KeyError, TypeError) as e:
            print(f"lbconformance report: {run}/results.json: unreadable: {e}", file=sys.stderr)
            return EXIT_USAGE
        v = verdict(results)
        print(f"{run}: {v}: " + ", ".join(str(run / f) for f in FORMATS))
        from lbconformance.report.results import EXIT_CODES

        worst = max(worst, EXIT_CODES[v])
    return worst if args.exit_code else 0
