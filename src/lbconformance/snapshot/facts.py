"""Parsed facts of a snapshot: the one place that joins the snapshot's raw files to the parsers.

Checks ask for typed models (an LB pod's IPVS table, a router's FIB...); each accessor reads the
raw fact, parses it with its source path named, and caches the result.
"""
from __future__ import annotations

import json

from lbconformance import parse
from lbconformance.models import CpuMask, KeepalivedConfig, Route
from lbconformance.parse.probes import parse_probes
from lbconformance.snapshot import MissingFact, Snapshot


class Facts:
    def __init__(self, snapshot: Snapshot):
        self.snap = snapshot
        self._cache: dict = {}

    # -- plumbing -----------------------------------------------------------------------------
    def _parsed(self, host: str, name: str, parser, *args):
        key = (host, name, parser)
        if key not in self._cache:
            text = self.snap.text(host, name)
            self._cache[key] = parser(text, self.snap.evidence(host, name), *args)
        return self._cache[key]

    def where(self, host: str, name: str) -> str:
        """`host: path` for failure messages."""
        return f"{host}: {self.snap.evidence(host, name)}"

    def file(self, host: str, path: str) -> str:
        """A host file copied verbatim under files/."""
        return self.snap.text(host, "files" + path)

    def file_name(self, path: str) -> str:
        return "files" + path

    def config_path(self, host: str, name: str) -> str:
        return self.snap.text(host, name).strip()

    # -- LB pod -------------------------------------------------------------------------------
    def proc_status(self, pod: str, container: str):
        return self._parsed(pod, f"{container}/proc-status", parse.parse_proc_status)

    def mountinfo(self, pod: str, container: str):
        return self._parsed(pod, f"{container}/mountinfo", parse.parse_mountinfo)

    def keepalived(self, pod: str) -> KeepalivedConfig:
        """The keepalived config with includes resolved against the snapshot's files/ tree."""
        key = (pod, "keepalived")
        if key not in self._cache:
            main = self.config_path(pod, "keepalived-config-path.txt")
            root = self.snap.path(pod, "files")

            def read(pattern: str):
                rel = pattern.lstrip("/")
                return sorted((("/" + str(p.relative_to(root))), p.read_text()) for p in root.glob(rel) if p.is_file())

            self._cache[key] = parse.parse_keepalived(self.file(pod, main), main, read)
        return self._cache[key]

    def ipvs_table(self, pod: str):
        """`ipvsadm -Ln`, or the seed's `ipvsadm -L` (Fig 5.4) when only that was recorded."""
        return self._parsed(pod, self.ipvs_name(pod), parse.parse_ipvsadm)

    def ipvs_name(self, pod: str) -> str:
        return "ipvsadm-L.txt" if self.snap.has(pod, "ipvsadm-L.txt") and not self.snap.has(pod, "ipvsadm-Ln.txt") \
            else "ipvsadm-Ln.txt"

    def ipvs_thresholds(self, pod: str):
        return self._parsed(pod, "ipvsadm-Ln-thresholds.txt", parse.parse_ipvsadm)

    def probes(self, pod: str) -> dict[tuple[str, int], bool]:
        return self._parsed(pod, "real-server-probes.txt", parse_probes)

    def iptables(self, host: str):
        return self._parsed(host, "iptables-save.txt", parse.parse_iptables_save)

    def sysctl(self, host: str) -> dict[str, str]:
        return self._parsed(host, "sysctl.txt", parse.parse_sysctl)

    def local_routes(self, pod: str) -> tuple[Route, ...]:
        return self._parsed(pod, "ip-route-local.json", parse.parse_ip_route_json)

    def exabgp(self, pod: str):
        path = self.config_path(pod, "exabgp-config-path.txt")
        return self._parsed(pod, self.file_name(path), parse.parse_exabgp_config)

    def links(self, host: str) -> list[dict]:
        text = self.snap.text(host, "ip-link.json")
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise parse.ParseError(self.snap.evidence(host, "ip-link.json"), e.lineno, e.msg) from None

    def uname_r(self, host: str) -> str:
        return self.snap.text(host, "uname-r.txt").strip()

    def lib_modules(self, pod: str) -> list[str]:
        return self.snap.text(pod, "ipvs/lib-modules.txt").split()

    # -- node ---------------------------------------------------------------------------------
    def routes(self, host: str) -> tuple[Route, ...]:
        """The main table, from `ip -j route` or (the seed's form) plain `ip route`."""
        if self.snap.has(host, "ip-route.json") or not self.snap.has(host, "ip-route.txt"):
            routes = self._parsed(host, "ip-route.json", parse.parse_ip_route_json)
        else:
            routes = self._parsed(host, "ip-route.txt", parse.parse_ip_route)
        if any(r.nhid is not None and not r.nexthops and r.gateway is None for r in routes):
            objects = self._parsed(host, "ip-nexthop.json", parse.parse_ip_nexthop_json)
            try:
                routes = tuple(parse.expand_nhid(r, objects) for r in routes)
            except KeyError as e:
                raise parse.ParseError(self.snap.evidence(host, "ip-nexthop.json"), None,
                                       f"a route points at nexthop id {e} that ip -j nexthop does not list") from None
        return routes

    def route_name(self, host: str) -> str:
        return "ip-route.json" if self.snap.has(host, "ip-route.json") or not self.snap.has(host, "ip-route.txt") \
            else "ip-route.txt"

    def modules(self, host: str) -> set[str]:
        return {ln.split()[0] for ln in self.snap.text(host, "proc-modules.txt").splitlines() if ln.strip()}

    def interrupts(self, host: str):
        return self._parsed(host, "proc-interrupts.txt", parse.parse_interrupts)

    def driver(self, host: str):
        return self._parsed(host, "ethtool-i.txt", parse.parse_ethtool_driver)

    def channels(self, host: str):
        return self._parsed(host, "ethtool-l.txt", parse.parse_ethtool_channels)

    def cpus(self, host: str) -> int:
        name = self.file_name("/sys/devices/system/cpu/online")
        return len(self._parsed(host, name, parse.parse_cpu_list).cpus)

    def rps_masks(self, host: str, nic: str) -> dict[str, CpuMask]:
        """rx queue name -> rps_cpus mask."""
        base = self.snap.path(host, f"files/sys/class/net/{nic}/queues")
        if not base.is_dir():
            raise MissingFact(host, f"files/sys/class/net/{nic}/queues/rx-*/rps_cpus", base)
        out = {}
        for q in sorted(base.glob("rx-*/rps_cpus")):
            name = f"files/sys/class/net/{nic}/queues/{q.parent.name}/rps_cpus"
            out[q.parent.name] = self._parsed(host, name, parse.parse_cpu_mask)
        return out

    def irq_affinity(self, host: str, irq: str) -> CpuMask:
        return self._parsed(host, f"files/proc/irq/{irq}/smp_affinity", parse.parse_cpu_mask)

    # -- BGP speakers -------------------------------------------------------------------------
    def bgp_peers(self, host: str, flavour: str = "gobgp"):
        if flavour == "frr":
            return self._parsed(host, "frr-bgp-neighbors.json", parse.parse_frr_bgp_neighbors)
        return self._parsed(host, "gobgp-neighbor.json", parse.parse_gobgp_neighbors)

    def bgp_paths(self, host: str, flavour: str = "gobgp"):
        if flavour == "frr":
            return self._parsed(host, "frr-bgp-ipv4.json", parse.parse_frr_bgp_routes)
        return self._parsed(host, "gobgp-global-rib.json", parse.parse_gobgp_rib)

    def peers_name(self, flavour: str) -> str:
        return "frr-bgp-neighbors.json" if flavour == "frr" else "gobgp-neighbor.json"

    def paths_name(self, flavour: str) -> str:
        return "frr-bgp-ipv4.json" if flavour == "frr" else "gobgp-global-rib.json"

    def gobgpd_config(self, host: str):
        path = self.config_path(host, "gobgpd-config-path.txt")
        return self._parsed(host, self.file_name(path), parse.parse_gobgpd_config)

    # -- services -----------------------------------------------------------------------------
    def endpoints(self, service: str) -> set[tuple[str, int]]:
        """Ready endpoints of a service as (address, port)."""
        host = f"services/{service}"
        text = self.snap.text(host, "endpoints.json")
        try:
            doc = json.loads(text)
            return {(e["address"], int(e["port"])) for e in doc if e.get("ready", True)}
        except json.JSONDecodeError as e:
            raise parse.ParseError(self.snap.evidence(host, "endpoints.json"), e.lineno, e.msg) from None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise parse.ParseError(self.snap.evidence(host, "endpoints.json"), None,
                                   f"expected a list of {{address, port, ready}}: {e!r}") from None
