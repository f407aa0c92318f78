"""The seed's controller (§5.2, Fig 5.2–5.3): keep keepalived's IPVS config equal to a service's endpoints.

It renders `ipvs.conf` (which includes `ipvs.d/*.conf`) and one `ipvs.d/<service>.conf` in the form of
Fig 5.3, and sends SIGHUP to keepalived only when the text changed. Every reload is logged.
The endpoint source is pluggable: a JSON file in the lab, EndpointSlices on Kubernetes.

Run: `python3 -m lbconformance.controller --service web1 --fwmark 1 --endpoints FILE --config-dir DIR
--keepalived-pidfile FILE`.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lbconformance.models import ConfigRealServer, ConfigVirtualServer, HealthChecker, KeepalivedConfig
from lbconformance.parse.keepalived import render_keepalived

HEADER = "! rendered by the lbconformance controller\n"
UTHRESHOLD = 20000  # Fig 5.3
DELAY_LOOP = 5
CONNECT_TIMEOUT = 5


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    ready: bool = True


class EndpointSource(Protocol):
    """Where a service's endpoints come from."""

    def read(self) -> list[Endpoint]: ...


class FileEndpoints:
    """A JSON list of {address, port, ready} (the lab's `scale-web` writes it)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def mark(self):
        """Changes whenever the file is replaced or rewritten."""
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def read(self) -> list[Endpoint]:
        data = json.loads(self.path.read_text())
        return [Endpoint(str(e["address"]), int(e["port"]), bool(e.get("ready", True))) for e in data]


def render_service(fwmark: int, endpoints: list[Endpoint]) -> str:
    """One service's virtual_server block, Fig 5.3: fwmark, lc, NAT, weight 1, uthreshold, TCP_CHECK.

    `protocol` is left out of the fwmark block: keepalived ignores it there and `keepalived -t` warns."""
    real = tuple(ConfigRealServer(
        address=e.address, port=e.port, weight=1, uthreshold=UTHRESHOLD,
        checkers=(HealthChecker(kind="TCP_CHECK", connect_timeout=CONNECT_TIMEOUT, connect_port=e.port),))
        for e in sorted(set(endpoints), key=lambda e: (tuple(int(x) for x in e.address.split(".")), e.port))
        if e.ready)
    vs = ConfigVirtualServer(fwmark=fwmark, delay_loop=DELAY_LOOP, lb_algo="lc", lb_kind="NAT", real_servers=real)
    return HEADER + render_keepalived(KeepalivedConfig(virtual_servers=(vs,)))


MAIN_CONFIG = HEADER + "include ipvs.d/*.conf\n"


class Controller:
    """Write the config when the endpoints change, then SIGHUP keepalived."""

    def __init__(self, service: str, fwmark: int, source: EndpointSource, config_dir: str | Path,
                 keepalived_pidfile: str | Path, log=print):
        self.service, self.fwmark, self.source = service, fwmark, source
        self.dir, self.pidfile, self.log = Path(config_dir), Path(keepalived_pidfile), log
        self.reloads = 0

    @property
    def service_file(self) -> Path:
        return self.dir / "ipvs.d" / f"{self.service}.conf"

    def write_if_changed(self) -> bool:
        """Render; True when a file's text changed (and was replaced atomically)."""
        changed = False
        (self.dir / "ipvs.d").mkdir(parents=True, exist_ok=True)
        for path, text in ((self.dir / "ipvs.conf", MAIN_CONFIG),
                           (self.service_file, render_service(self.fwmark, self.source.read()))):
            try:
                if path.read_text() == text:
                    continue
            except FileNotFoundError:
                pass
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text)
            os.replace(tmp, path)
            changed = True
        return changed

    def sync_once(self) -> bool:
        """One pass: True when keepalived was told to reload."""
        if not self.write_if_changed():
            return False
        try:
            pid = int(self.pidfile.read_text().split()[0])
            os.kill(pid, signal.SIGHUP)
        except (FileNotFoundError, ValueError, IndexError, ProcessLookupError) as e:
            self.log(f"controller {self.service}: config written, keepalived not signalled ({e})")
            return False
        self.reloads += 1
        n = self.service_file.read_text().count("real_server ")
        self.log(f"controller {self.service}: reload #{self.reloads}: SIGHUP keepalived pid {pid}, "
                 f"{n} real servers")
        return True

    def run(self, interval: float = 0.5, resync: float = 30.0) -> None:
        """Watch the source: sync when it changed (cheap stat), and every `resync` seconds anyway."""
        seen, last = None, 0.0
        while True:
            now = time.monotonic()
            mark = self.source.mark() if hasattr(self.source, "mark") else now
            if mark != seen or now - last >= resync:
                try:
                    self.sync_once()
                    seen, last = mark, now
                except (OSError, ValueError, KeyError) as e:  # a half-written or bad endpoints file: retry
                    self.log(f"controller {self.service}: cannot sync: {e}")
            time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lbconformance.controller", description=__doc__.splitlines()[0])
    ap.add_argument("--service", required=True)
    ap.add_argument("--fwmark", type=int, required=True)
    ap.add_argument("--endpoints", required=True, help="JSON endpoints file")
    ap.add_argument("--config-dir", required=True)
    ap.add_argument("--keepalived-pidfile", required=True)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--once", action="store_true", help="render once, no signal (before keepalived starts)")
    a = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)

    c = Controller(a.service, a.fwmark, FileEndpoints(a.endpoints), a.config_dir, a.keepalived_pidfile, log)
    if a.once:
        c.write_if_changed()
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    c.run(a.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
