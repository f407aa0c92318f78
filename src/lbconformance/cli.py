"""The `lbconformance` console script: dispatches to the rooms that own each command."""
from __future__ import annotations

import sys

USAGE = """usage: lbconformance COMMAND [ARGS]

commands:
  lab ...        the reference lab (up, down, status, ssh, ...)
  collect ...    collect a snapshot from a live target
  report DIR     re-render every report format from a saved run
  cleanup --cluster KUBECONFIG [--context C] [--namespace NS]
                 delete probe pods a Kubernetes run left behind
"""

EXIT_USAGE = 4


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else EXIT_USAGE
    command, rest = argv[0], argv[1:]
    if command == "lab":
        from lbconformance.lab.cli import main as lab_main

        return lab_main(rest)
    if command == "collect":
        from lbconformance.collect.cli import main as collect_main

        return collect_main(rest)
    if command == "report":
        from lbconformance.report.cli import main as report_main

        return report_main(rest)
    if command == "cleanup":
        from lbconformance.targets.kubernetes import cleanup_main

        return cleanup_main(rest)
    print(f"lbconformance: unknown command {command!r}\n{USAGE}", end="", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
