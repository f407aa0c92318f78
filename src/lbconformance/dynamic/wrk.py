"""wrk (the seed's benchmark tool, §6.1.1): the command line, its Lua hooks, and a parser of its output.

wrk is closed-loop: each connection sends its next request when the previous response arrived, so a
latency CDF is at fixed concurrency, not at the seed's constant offered load (Fig 6.5).

The Lua `done` hook prints the exact summary and the latency percentiles 1..99, 99.9 (`lbc-cdf` lines);
with `timeseries=True` a `response` hook prints per-thread counts per second (`lbc-ts SECOND COUNT`), so
throughput over time can be drawn while the LB count changes (Fig 7.4). Pure: no I/O.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

CDF_POINTS = tuple(range(1, 100)) + (99.9,)

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("lbc-summary requests=%d duration_us=%.0f connect=%d read=%d write=%d status=%d timeout=%d\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
  for _, p in ipairs({POINTS}) do
    io.write(string.format("lbc-cdf %g %.0f\\n", p, latency:percentile(p)))
  end
end
""".replace("POINTS", ", ".join(f"{p:g}" for p in CDF_POINTS))

_TIMESERIES = """
local lbc_sec, lbc_n = nil, 0
response = function(status, headers, body)
  local now = os.time()
  if lbc_sec == nil then lbc_sec = now end
  if now ~= lbc_sec then
    io.write(string.format("lbc-ts %d %d\\n", lbc_sec, lbc_n))
    io.flush()
    lbc_sec, lbc_n = now, 0
  end
  lbc_n = lbc_n + 1
end
"""


def lua_script(timeseries: bool = False) -> str:
    return (_TIMESERIES if timeseries else "") + _DONE


def command(url: str, threads: int, connections: int, duration_s: float, script_path: str,
            timeout_s: float = 5.0) -> str:
    """The wrk command line (as in the seed's Table 6.1: -t threads, -c connections, -d duration)."""
    return (f"wrk -t{int(threads)} -c{int(connections)} -d{max(1, round(duration_s))}s --timeout {timeout_s:g}s "
            f"--latency -s {shlex.quote(script_path)} {shlex.quote(url)}")


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    rps: float                                     # requests / duration (wrk's Requests/sec)
    latency: dict = field(default_factory=dict)    # percentile -> seconds (50, 75, 90, 99, and the CDF's)
    errors: dict = field(default_factory=dict)     # connect/read/write/timeout/status -> count
    non2xx: int = 0
    timeseries: dict = field(default_factory=dict)  # unix second -> responses (all threads)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values()) + self.non2xx

    def cdf(self) -> list[tuple[float, float]]:
        """(latency ms, fraction <= it) for the Lua percentiles."""
        return [(self.latency[p] * 1000, p / 100) for p in sorted(self.latency) if p in CDF_POINTS]

    def series(self, drop_edges: bool = True) -> list[tuple[int, int]]:
        """(second, responses) sorted; the first and last (partial) seconds dropped."""
        pts = sorted(self.timeseries.items())
        return pts[1:-1] if drop_edges and len(pts) > 2 else pts

    def describe(self) -> str:
        lat = ", ".join(f"p{p:g} {self.latency[p] * 1000:.1f} ms" for p in (50, 90, 99) if p in self.latency)
        errs = f"; errors {self.error_count}" if self.error_count else ""
        return f"{self.rps:.0f} req/s ({self.requests} in {self.duration_s:.2f} s; {lat}{errs})"


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE = {"": 1, "B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}


def _seconds(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse(text: str, where: str = "wrk") -> WrkResult:
    """Parse wrk's output (with or without the Lua lines). Raises ValueError naming `where` and the line."""
    requests = duration = rps = None
    latency: dict = {}
    errors: dict = {}
    non2xx = 0
    ts: dict = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        try:
            if line.startswith("lbc-summary "):
                kv = dict(p.split("=", 1) for p in line.split()[1:])
                requests = int(kv["requests"])
                duration = int(kv["duration_us"]) / 1e6
                errors = {k: int(kv[k]) for k in ("connect", "read", "write", "timeout")}
                non2xx = max(non2xx, int(kv["status"]))
            elif line.startswith("lbc-cdf "):
                _, p, us = line.split()
                latency[float(p) if "." in p else int(p)] = int(us) / 1e6
            elif line.startswith("lbc-ts "):
                _, sec, cnt = line.split()
                ts[int(sec)] = ts.get(int(sec), 0) + int(cnt)
            elif m := re.fullmatch(r"(\d+(?:\.\d+)?)%\s+([\d.]+(?:us|ms|s|m|h))", line):
                latency.setdefault(int(float(m.group(1))), _seconds(m.group(2)))
            elif m := re.match(r"(\d+) requests in ([\d.]+(?:us|ms|s|m|h)),", line):
                if requests is None:
                    requests, duration = int(m.group(1)), _seconds(m.group(2))
            elif m := re.fullmatch(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", line):
                if not errors:
                    errors = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True))
            elif m := re.fullmatch(r"Non-2xx or 3xx responses: (\d+)", line):
                non2xx = max(non2xx, int(m.group(1)))
            elif m := re.fullmatch(r"Requests/sec:\s+([\d.]+)", line):
                rps = float(m.group(1))
        except (ValueError, KeyError) as e:
            raise ValueError(f"{where}: line {n}: cannot read {line!r}: {e}") from None
    if requests is None or not duration:
        raise ValueError(f"{where}: no 'N requests in T' summary in wrk's output: {text.strip()[-300:]!r}")
    if rps is None or requests:  # wrk rounds Requests/sec to 2 decimals; the exact ratio is better
        rps = requests / duration
    return WrkResult(requests, duration, rps, latency, errors, non2xx, ts)
