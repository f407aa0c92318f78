"""Small measurement helpers the dynamic checks share: poll the IPVS tables, keepalived's worst case,
the client's answers. Pure apart from the orchestrator calls they are given."""
from __future__ import annotations

import time
from collections import Counter

# keepalived's defaults (keepalived.conf(5)): delay_loop 60 s; checker connect_timeout 5 s, retry 1,
# delay_before_retry 1 s.
KEEPALIVED_DEFAULTS = {"delay_loop": 60.0, "connect_timeout": 5.0, "retry": 1, "delay_before_retry": 1.0}


def wait_ipvs(orch, pods, ok, timeout: float, interval: float = 0.0):
    """Read the tables of `pods` until ok(read) holds; (read, True) or (last read, False) at timeout.
    `read.t` is the target time at the end of the read: a delay measured with it is an upper bound."""
    end = time.monotonic() + timeout
    while True:
        read = orch.read_ipvs(pods)
        if ok(read):
            return read, True
        if time.monotonic() > end:
            return read, False
        if interval:
            time.sleep(interval)


def every_pod_has(read, pods, want: set) -> bool:
    """Every virtual service of every pod has exactly the real servers `want`."""
    return all(read.tables.get(p) and all(rs == want for rs in read.tables[p].values()) for p in pods)


def mismatches(read, pods, want: set) -> list[str]:
    out = []
    for p in pods:
        vss = read.tables.get(p)
        if not vss:
            out.append(f"{p}: no virtual service")
            continue
        for vs, rs in sorted(vss.items()):
            if rs != want:
                out.append(f"{p} {vs}: missing {sorted(want - rs)}, extra {sorted(rs - want)}")
    return out


def health_check_worst_case(config, address: str, port: int) -> tuple[float, str]:
    """keepalived's worst-case detection time for real server address:port, and how it was computed:
    delay_loop + connect_timeout + retry x (delay_before_retry + connect_timeout)."""
    d = dict(KEEPALIVED_DEFAULTS)
    for vs in config.virtual_servers:
        for rs in getattr(vs, "real_servers", ()):
            if rs.address == address and (rs.port in (None, port)):
                if vs.delay_loop is not None:
                    d["delay_loop"] = vs.delay_loop
                if rs.checkers:
                    c = rs.checkers[0]
                    for k in ("connect_timeout", "retry", "delay_before_retry"):
                        if getattr(c, k) is not None:
                            d[k] = getattr(c, k)
                break
    worst = d["delay_loop"] + d["connect_timeout"] + d["retry"] * (d["delay_before_retry"] + d["connect_timeout"])
    how = (f"delay_loop {d['delay_loop']:g} + connect_timeout {d['connect_timeout']:g} + retry {d['retry']:g} "
           f"x (delay_before_retry {d['delay_before_retry']:g} + connect_timeout {d['connect_timeout']:g})")
    return worst, how


def shares(requests) -> dict[str, float]:
    """{answer: share of the successful requests} (each web pod answers its pod IP)."""
    got = Counter(r.answer for r in requests if r.ok)
    total = sum(got.values())
    return {a: n / total for a, n in sorted(got.items())} if total else {}


def failures_between(requests, start: float, end: float) -> int:
    return sum(1 for r in requests if start <= r.t <= end and not r.ok)
