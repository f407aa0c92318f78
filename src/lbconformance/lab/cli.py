"""`lbconformance lab up | down | status | ssh [HOST] -- CMD`."""
from __future__ import annotations

import json
import os
import sys

from lbconformance.lab.errors import LabError

USAGE = """usage: lbconformance lab COMMAND

  up [--rebuild] [--bare]  build the image if needed (cached), boot the VM, wait for ssh, then build the
                           reference deployment (design.md §5) and write the inventory for `pytest --lab`;
                           idempotent. --bare: the VM only
  down                     stop the VM by its PID and verify nothing is left behind
  status [--json]          whether the VM runs: PID, ssh port, qemu RSS, uptime, kernel; then the
                           deployment: hosts, daemons, BGP sessions at rr, the router's ECMP routes, IPVS tables
  scale-lb SERVICE N       run N LB pods of SERVICE (name or prefix, e.g. 10.1.1.0/24), one per node
  scale-web SERVICE N      run N web pods of SERVICE; the controller updates IPVS from the endpoints
  health                   the lab's own health probe (exit 1 and one line per problem when unhealthy)
  faults                   list the faults: name, the requirement it breaks, target, cascades
  fault NAME               apply a fault (a realistic misconfiguration or failure)
  heal                     undo every applied fault and wait for the health probe
  ssh [HOST] [-- CMD...]   run CMD in the VM (in network namespace HOST if given) over the persistent
                           connection; CMD words are joined like ssh does, so quote shell operators:
                             lbconformance lab ssh -- 'modprobe ip_vs && cat /proc/net/ip_vs'
                           without CMD: an interactive shell

environment: LBCONFORMANCE_STATE (state folder), LBCONFORMANCE_CACHE (cache, default ~/.cache/lbconformance)
"""

EXIT_USAGE = 4


def _progress(msg: str) -> None:
    print(f"[lab] {msg}", flush=True)


def main(argv: list[str]) -> int:
    from lbconformance.lab.reference import ReferenceLab
    from lbconformance.lab.vm import LabVM

    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if argv else EXIT_USAGE
    cmd, rest = argv[0], argv[1:]
    vm = LabVM(progress=_progress)
    try:
        if cmd == "up":
            if not set(rest) <= {"--rebuild", "--bare"}:
                return _usage(f"lab up: unexpected arguments {rest}")
            vm.up(rebuild="--rebuild" in rest)
            if "--bare" not in rest:
                _progress("deployment: building the reference topology (design.md §5)")
                out = ReferenceLab(vm).up()
                _progress(f"deployment: ready in {out['seconds']:.1f} s; inventory {ReferenceLab(vm).inventory_path}")
            return 0
        if cmd in ("scale-lb", "scale-web"):
            if len(rest) != 2 or not rest[1].isdigit():
                return _usage(f"lab {cmd}: SERVICE N")
            lab = ReferenceLab(vm)
            state = lab.scale_lb(rest[0], int(rest[1])) if cmd == "scale-lb" else lab.scale_web(rest[0], int(rest[1]))
            print(json.dumps(state))
            return 0
        if cmd == "faults":
            return _faults()
        if cmd == "fault":
            if len(rest) != 1:
                return _usage("lab fault NAME (see `lbconformance lab faults`)")
            from lbconformance.lab.faults import BY_NAME

            if rest[0] not in BY_NAME:
                return _usage(f"lab fault: unknown fault {rest[0]!r}; `lbconformance lab faults` lists them")
            print(json.dumps(ReferenceLab(vm).apply_fault(rest[0])))
            return 0
        if cmd == "heal":
            print(json.dumps(ReferenceLab(vm).heal()))
            return 0
        if cmd == "health":
            found = ReferenceLab(vm).health()
            print("\n".join(found) if found else "healthy")
            return 1 if found else 0
        if cmd == "down":
            if rest:
                return _usage(f"lab down: unexpected arguments {rest}")
            vm.down()
            return 0
        if cmd == "status":
            return _status(vm, as_json="--json" in rest)
        if cmd == "ssh":
            return _ssh(vm, rest)
        return _usage(f"lab: unknown command {cmd!r}")
    except LabError as e:
        print(e.format(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130


def _faults() -> int:
    from lbconformance.lab.faults import FAULTS

    for f in FAULTS:
        kind = "dynamic" if f.dynamic else "static"
        print(f"{f.name:<30} {f.requirement:<12} {kind:<8} {f.target:<18} {f.summary}")
        for req, why in f.cascades.items():
            print(f"{'':<30}   cascade {req}: {why}")
    return 0


def _usage(msg: str) -> int:
    print(f"{msg}\n{USAGE}", end="", file=sys.stderr)
    return EXIT_USAGE


def _status(vm, as_json: bool) -> int:
    st = vm.status()
    if as_json:
        print(json.dumps(st, indent=2))
    elif not st["running"]:
        print(f"lab: not running (state {st['state']})")
    else:
        print(f"lab: running\n  pid      {st['pid']}\n  ssh      127.0.0.1:{st['port']}\n"
              f"  qemu rss {st['rss_mb']} MB\n  uptime   {st['uptime_s']:.0f} s\n"
              f"  kernel   {st.get('kernel', '? ' + st.get('ssh_error', ''))}\n  image    {st['image']}")
        from lbconformance.lab.reference import ReferenceLab

        print(ReferenceLab(vm).status(), end="")
    return 0 if st["running"] else 3


def _ssh(vm, rest: list[str]) -> int:
    if "--" in rest:
        i = rest.index("--")
        head, words = rest[:i], rest[i + 1:]
    else:
        head, words = rest[:1], rest[1:]
        if words:
            return _usage("lab ssh: put `--` before the command")
    if len(head) > 1:
        return _usage(f"lab ssh: at most one HOST, got {head}")
    host = head[0] if head else None
    if not words:  # interactive shell
        argv = vm.ssh_argv()
        argv = argv[:-1] + ["-t", argv[-1]]
        if host:
            argv.append(f"ip netns exec {host} bash -l")
        os.execvp(argv[0], argv)
    res = vm.run(" ".join(words), host=host, timeout=float(os.environ.get("LBCONFORMANCE_SSH_TIMEOUT", "600")))
    sys.stdout.write(res.stdout)
    sys.stderr.write(res.stderr)
    return res.rc
