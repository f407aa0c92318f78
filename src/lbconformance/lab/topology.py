"""The reference deployment of design.md §5, as data: names and addresses of every lab host.

Pure (no I/O): the VM side (`deploy.py`) builds it, the host side writes the inventory from it.
"""
from __future__ import annotations

from dataclasses import dataclass

AS_NUMBER = 65021
NODE_NET = "10.0.0.0/24"
POD_CIDR = "172.16.0.0/16"
REFLECTOR = ("rr", "10.0.0.109")
ROUTER = ("router", "10.0.0.110")
CLIENT_NET = ("10.0.100.1", "10.0.100.2")  # router eth1, client eth0: a network that knows nothing of the overlay
NODE_IDS = (105, 106, 107, 108)
BRIDGE = "docker0"
# exabgp's hold time. The seed's value is 9 s, but under TCG on a loaded machine exabgp can miss its
# keepalives for that long and sessions flap; 30 s keeps the lab stable (crash failover is then bounded
# by 30 s, which ECMP-005 reads from the negotiated value).
HOLD_TIME = 30
RUN = "/run/lbc"              # pidfiles, logs, endpoints (VM root mount namespace)
VAR = "/var/lib/lbc"          # configs bind-mounted into containers
FRR_RUN = f"{RUN}/frr"
GOBGPD_CONFIG = "/etc/gobgp/gobgpd.conf"
ENDPOINTS_DIR = f"{RUN}/endpoints"
CONTAINER_ENDPOINTS = "/etc/lbc/endpoints"   # where the ipvs container sees ENDPOINTS_DIR


@dataclass(frozen=True)
class Service:
    name: str
    index: int        # 1, 2: the fwmark, and the last octet of LB pod IPs minus 1
    prefix: str
    vip: str
    lb_nodes: tuple[int, ...]   # the healthy baseline's LB pod placement
    web_pods: int               # the healthy baseline's web pod count
    port: int = 80

    @property
    def fwmark(self) -> int:
        return self.index


SERVICES = (
    Service("web1", 1, "10.1.1.0/24", "10.1.1.1", (105, 106, 107), 3),
    Service("web2", 2, "10.1.2.0/24", "10.1.2.1", (106, 107), 2),
)


def service(name_or_prefix: str) -> Service:
    for s in SERVICES:
        if name_or_prefix in (s.name, s.prefix):
            return s
    raise KeyError(f"unknown service {name_or_prefix!r}: the lab has "
                   + ", ".join(f"{s.name} ({s.prefix})" for s in SERVICES))


def node_name(n: int) -> str:
    return f"node{n}"


def node_ip(n: int) -> str:
    return f"10.0.0.{n}"


def node_pod_cidr(n: int) -> str:
    return f"172.16.{n}.0/24"


def node_gateway(n: int) -> str:
    return f"172.16.{n}.1"


def lb_pod_name(svc: Service, n: int) -> str:
    return f"lb-{svc.name}-{node_name(n)}"


def lb_pod_ip(svc: Service, n: int) -> str:
    return f"172.16.{n}.{1 + svc.index}"


def second_lb_pod_name(svc: Service, n: int) -> str:
    """A second LB pod of a service on one node: only a fault makes one (ROUTE-004)."""
    return f"lb-{svc.name}-{node_name(n)}b"


def second_lb_pod_ip(svc: Service, n: int) -> str:
    return f"172.16.{n}.{5 + svc.index}"


def web_pod(svc: Service, k: int) -> tuple[str, int, str]:
    """(name, node, IP) of the k-th web pod (0-based): spread over the nodes, 172.16.N.(10*index + round)."""
    n = NODE_IDS[k % len(NODE_IDS)]
    return f"{svc.name}-{k}", n, f"172.16.{n}.{10 * svc.index + k // len(NODE_IDS)}"


def inventory(lb_pods: dict[str, list[int]], second: dict[str, list[int]] | None = None) -> dict:
    """The framework's inventory (docs/inventory.md) for the given LB pod placement {service: [node ids]}
    (`second`: nodes that run a second LB pod of the service)."""
    pods = []
    for svc in SERVICES:
        placed = [(n, lb_pod_name(svc, n), lb_pod_ip(svc, n)) for n in sorted(lb_pods.get(svc.name, []))]
        placed += [(n, second_lb_pod_name(svc, n), second_lb_pod_ip(svc, n)) for n in sorted((second or {}).get(svc.name, []))]
        for n, name, ip in placed:
            pods.append({"name": name, "service": svc.name, "node": node_name(n), "address": ip,
                         "transport": f"lab://{name}",
                         "containers": {c: f"lab://{name}?container={c}" for c in ("ipvs", "exabgp")}})
    return {
        "name": "reference-lab",
        "pod_cidr": POD_CIDR,
        "overlay": "host-gw",
        "services": [{"name": s.name, "prefix": s.prefix, "vip": s.vip, "port": s.port,
                      "endpoints_file": f"{ENDPOINTS_DIR}/{s.name}.json", "endpoints_transport": "lab://"}
                     for s in SERVICES],
        "nodes": [{"name": node_name(n), "address": node_ip(n), "transport": f"lab://{node_name(n)}",
                   "bridge": BRIDGE, "pod_cidr": node_pod_cidr(n), "nic": "eth0"} for n in NODE_IDS],
        "lb_pods": pods,
        "reflectors": [{"name": REFLECTOR[0], "address": REFLECTOR[1], "transport": f"lab://{REFLECTOR[0]}",
                        "software": "gobgp", "config": GOBGPD_CONFIG}],
        "routers": [{"name": ROUTER[0], "address": ROUTER[1], "transport": f"lab://{ROUTER[0]}", "flavour": "frr",
                     "vtysh": f"vtysh --vty_socket {FRR_RUN}"}],
    }
