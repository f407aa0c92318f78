"""The inventory: the roles of a deployment (LB pods, nodes, reflectors, routers, services).

The schema is documented in docs/inventory.md; the lab and real deployments both use it.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from lbconformance import yamlfile
from lbconformance.yamlfile import InputError
from lbconformance.yamlfile import field as get

TRANSPORT_SCHEMES = ("ssh", "paramiko", "local", "docker", "podman", "kubectl", "lab", "netns")
ROUTER_FLAVOURS = ("frr", "gobgp")
OVERLAY_MODES = ("host-gw", "vxlan", "udp", "unknown")


@dataclass(frozen=True)
class Service:
    """A load-balanced service: the prefix its LB pods announce, and its virtual service."""

    name: str
    prefix: str
    vip: str
    port: int = 80
    endpoints_file: str = ""  # a JSON list of {address, port, ready} (docs/snapshot.md)
    endpoints_transport: str = ""  # where that file is read


@dataclass(frozen=True)
class Node:
    name: str
    address: str
    transport: str
    bridge: str = "docker0"
    pod_cidr: str = ""
    nic: str = "eth0"


@dataclass(frozen=True)
class LbPod:
    """One load-balancer pod: an ipvs container and an exabgp container on one node."""

    name: str
    service: str
    node: str
    address: str
    transport: str
    containers: dict[str, str] = field(default_factory=dict)  # container name -> transport URI
    interface: str = "eth0"


@dataclass(frozen=True)
class Reflector:
    name: str
    address: str
    transport: str
    software: str = "gobgp"
    config: str = ""  # gobgpd's config file; found from its command line when empty


@dataclass(frozen=True)
class Router:
    name: str
    address: str
    transport: str
    flavour: str = "frr"
    vtysh: str = ""  # the vtysh command (e.g. with --vty_socket), for flavour frr


@dataclass(frozen=True)
class Inventory:
    name: str
    pod_cidr: str
    overlay: str
    services: tuple[Service, ...]
    nodes: tuple[Node, ...]
    lb_pods: tuple[LbPod, ...]
    reflectors: tuple[Reflector, ...]
    routers: tuple[Router, ...]
    source: str = ""

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def lb_nodes(self) -> tuple[Node, ...]:
        """Nodes that run at least one LB pod."""
        used = {p.node for p in self.lb_pods}
        return tuple(n for n in self.nodes if n.name in used)

    def pods_of(self, service: str) -> tuple[LbPod, ...]:
        return tuple(p for p in self.lb_pods if p.service == service)

    def hosts(self) -> list[tuple[str, str]]:
        """Every (host name, role) the collectors visit."""
        return ([(n.name, "node") for n in self.nodes] + [(p.name, "lb_pod") for p in self.lb_pods]
                + [(r.name, "reflector") for r in self.reflectors] + [(r.name, "router") for r in self.routers])

    def describe(self) -> str:
        """A one-line description without secrets (names and counts only)."""
        return (f"{self.name}: {len(self.services)} services, {len(self.lb_pods)} LB pods, "
                f"{len(self.nodes)} nodes, {len(self.reflectors)} reflectors, {len(self.routers)} routers")


def _address(path, node, key, where, network=False, required=True):
    value = get(path, node, key, str, required=required, where=where)
    if value is None:
        return ""
    try:
        (ipaddress.ip_network if network else ipaddress.ip_address)(value)
    except ValueError:
        kind = "a network (a.b.c.d/len)" if network else "an IP address"
        raise InputError(path, yamlfile.line_of(node, key), f"field {where}.{key}: {value!r} is not {kind}") from None
    return value


def _transport(path, node, key, where, required=True):
    value = get(path, node, key, str, required=required, where=where)
    if value is None:
        return ""
    scheme = urlsplit(value).scheme
    if scheme not in TRANSPORT_SCHEMES:
        raise InputError(path, yamlfile.line_of(node, key),
                         f"field {where}.{key}: transport {value!r} must start with one of "
                         + ", ".join(s + "://" for s in TRANSPORT_SCHEMES))
    return value


def _items(path, doc, key, required=True):
    items = get(path, doc, key, list, required=required, default=[])
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(path, yamlfile.line_of(items), f"{key}[{i}]: expected a mapping")
    return items


def load_inventory(path: str | Path, text: str | None = None) -> Inventory:
    """Load and validate an inventory; every error names the file, line and field."""
    doc = yamlfile.load(path, text)
    if not isinstance(doc, dict):
        raise InputError(path, 1, "an inventory must be a YAML mapping (see docs/inventory.md)")
    pod_cidr = _address(path, doc, "pod_cidr", "inventory", network=True)
    overlay = get(path, doc, "overlay", str, required=False, default="unknown")
    if overlay not in OVERLAY_MODES:
        raise InputError(path, yamlfile.line_of(doc, "overlay"), f"field overlay: must be one of {OVERLAY_MODES}")
    services = []
    for i, s in enumerate(_items(path, doc, "services")):
        w = f"services[{i}]"
        services.append(Service(name=get(path, s, "name", str, where=w), prefix=_address(path, s, "prefix", w, True),
                                vip=_address(path, s, "vip", w, required=False), port=get(path, s, "port", int, False, 80, w),
                                endpoints_file=get(path, s, "endpoints_file", str, False, "", w),
                                endpoints_transport=_transport(path, s, "endpoints_transport", w, required=False)))
    nodes = []
    for i, n in enumerate(_items(path, doc, "nodes")):
        w = f"nodes[{i}]"
        nodes.append(Node(name=get(path, n, "name", str, where=w), address=_address(path, n, "address", w),
                          transport=_transport(path, n, "transport", w, required=False),
                          bridge=get(path, n, "bridge", str, False, "docker0", w),
                          pod_cidr=get(path, n, "pod_cidr", str, False, "", w),
                          nic=get(path, n, "nic", str, False, "eth0", w)))
    service_names = {s.name for s in services}
    node_names = {n.name for n in nodes}
    pods = []
    for i, p in enumerate(_items(path, doc, "lb_pods", required=False)):
        w = f"lb_pods[{i}]"
        svc = get(path, p, "service", str, where=w)
        if svc not in service_names:
            raise InputError(path, yamlfile.line_of(p, "service"), f"field {w}.service: unknown service {svc!r}")
        nd = get(path, p, "node", str, where=w)
        if nd not in node_names:
            raise InputError(path, yamlfile.line_of(p, "node"), f"field {w}.node: unknown node {nd!r}")
        containers = get(path, p, "containers", dict, False, {}, w)
        for cname in containers:
            _transport(path, containers, cname, f"{w}.containers")
        pods.append(LbPod(name=get(path, p, "name", str, where=w), service=svc, node=nd,
                          address=_address(path, p, "address", w, required=False),
                          transport=_transport(path, p, "transport", w, required=False),
                          containers=dict(containers), interface=get(path, p, "interface", str, False, "eth0", w)))
    reflectors = []
    for i, r in enumerate(_items(path, doc, "reflectors")):
        w = f"reflectors[{i}]"
        reflectors.append(Reflector(name=get(path, r, "name", str, where=w), address=_address(path, r, "address", w),
                                    transport=_transport(path, r, "transport", w, required=False),
                                    software=get(path, r, "software", str, False, "gobgp", w),
                                    config=get(path, r, "config", str, False, "", w)))
    routers = []
    for i, r in enumerate(_items(path, doc, "routers")):
        w = f"routers[{i}]"
        flavour = get(path, r, "flavour", str, False, "frr", w)
        if flavour not in ROUTER_FLAVOURS:
            raise InputError(path, yamlfile.line_of(r, "flavour"), f"field {w}.flavour: must be one of {ROUTER_FLAVOURS}")
        routers.append(Router(name=get(path, r, "name", str, where=w), address=_address(path, r, "address", w),
                              transport=_transport(path, r, "transport", w, required=False), flavour=flavour,
                              vtysh=get(path, r, "vtysh", str, False, "", w)))
    names = [h for h in [n.name for n in nodes] + [p.name for p in pods] + [r.name for r in reflectors]
             + [r.name for r in routers]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(path, 1, f"host names must be unique; repeated: {', '.join(dupes)}")
    return Inventory(name=get(path, doc, "name", str, False, Path(path).stem), pod_cidr=pod_cidr, overlay=overlay,
                     services=tuple(services), nodes=tuple(nodes), lb_pods=tuple(pods),
                     reflectors=tuple(reflectors), routers=tuple(routers), source=str(path))
