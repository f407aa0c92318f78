"""One round trip per host: many commands in one shell script, their outputs kept separable.

Each fact is framed by marker lines carrying a per-run random token, its exit code and its stderr,
so one command's output can never be mistaken for another's.

A fact that talks to a daemon or the network (`bounded`, the default) runs under its own `timeout`.
A kernel-local read (`bounded=False`: /proc and /sys files, ip, ipvsadm, iptables-save) runs in a plain
subshell: on a slow host (the lab VM under TCG) `timeout` + `sh` cost about 0.4 s per fact. Those are
still bounded by the whole batch's timeout; if one hangs, it and the facts after it are reported as
errors.
"""
from __future__ import annotations

import secrets
import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    """A named fact and the shell command that produces it (run with `sh -c`)."""

    name: str
    command: str
    bounded: bool = True


@dataclass(frozen=True)
class Output:
    name: str
    command: str
    rc: int
    stdout: str
    stderr: str


def script(facts: list[Fact], timeout: float, token: str | None = None) -> tuple[str, str]:
    """The batch script and its token. Each command is bounded by `timeout`."""
    token = token or secrets.token_hex(8)
    m = f"@@lbc-{token}"
    lines = ["err=$(mktemp 2>/dev/null || echo /tmp/lbc-err.$$)"]
    for f in facts:
        lines += [
            f"echo '{m} BEGIN {f.name}'",
            (f"timeout -k 2 {timeout:g} sh -c {shlex.quote(f.command)} 2>\"$err\"; rc=$?" if f.bounded
             else f"( {f.command}\n) 2>\"$err\"; rc=$?"),
            f"echo; echo '{m} RC {f.name}' $rc",
            # shell builtins only: no process per fact for its stderr
            f"while IFS= read -r l || [ -n \"$l\" ]; do printf '%s\\n' \"$l\"; done < \"$err\"; echo; echo '{m} END {f.name}'",
        ]
    lines.append('rm -f "$err"')
    return "\n".join(lines) + "\n", token


class BatchError(Exception):
    pass


def split(stdout: str, facts: list[Fact], token: str) -> dict[str, Output]:
    """Cut a batch's stdout back into one Output per fact. A fact whose frame is missing (the
    script died early) is absent from the result."""
    m = f"@@lbc-{token}"
    by_name = {f.name: f for f in facts}
    out: dict[str, Output] = {}
    lines = stdout.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith(f"{m} BEGIN "):
            i += 1
            continue
        name = line[len(f"{m} BEGIN "):]
        body, j = [], i + 1
        while j < len(lines) and not lines[j].startswith(f"{m} RC {name} "):
            body.append(lines[j])
            j += 1
        if j >= len(lines):
            break
        rc = int(lines[j].rsplit(" ", 1)[1])
        err, k = [], j + 1
        while k < len(lines) and lines[k] != f"{m} END {name}":
            err.append(lines[k])
            k += 1
        # We echo one newline before each marker, so joining the lines gives back the exact text.
        out[name] = Output(name, by_name[name].command if name in by_name else "", rc,
                           "\n".join(body), "\n".join(err))
        i = k + 1
    return out
