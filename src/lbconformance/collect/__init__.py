"""Collectors: run commands on hosts through transports and fill a snapshot (docs/snapshot.md).

Collection happens once per run, before any check; hosts are visited concurrently.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lbconformance.collect import roles
from lbconformance.collect.transport import TransportError, transport_for
from lbconformance.snapshot import Snapshot
from lbconformance.snapshot.writer import SnapshotWriter
from lbconformance.targets.inventory import Inventory, load_inventory

DEFAULT_TIMEOUT = 20.0
LAB_TIMEOUT = 90.0


def collect(inventory: Inventory, inventory_text: str, out: Path, profile: str = "any", lab_vm=None,
            timeout: float = DEFAULT_TIMEOUT, workers: int = 8, progress=None,
            endpoints: dict[str, list[dict]] | None = None, target: str | None = None,
            extra_facts: dict[tuple[str, str], str] | None = None) -> Snapshot:
    """Visit every host of the inventory and write a snapshot to `out`. `endpoints` gives services'
    endpoints the orchestrator already told (Kubernetes EndpointSlices), instead of an endpoints file;
    `extra_facts` ({(host, name): text}) facts it told too (Kubernetes pod specs)."""
    t0 = time.monotonic()
    writer = SnapshotWriter(out)
    for (host_name, fact_name), text in (extra_facts or {}).items():
        writer.fact(host_name, fact_name, text)

    def host(name, uri, prefix=""):
        h = roles.Host(name, None, writer, timeout, prefix)
        if not uri:
            h.unreachable = f"no transport for {name} in the inventory"
        else:
            try:
                h.transport = transport_for(uri, lab_vm)
            except TransportError as e:
                h.unreachable = f"host unreachable: {e}"
        return h

    jobs = []
    for pod in inventory.lb_pods:
        svc = inventory.service(pod.service)
        jobs.append(lambda pod=pod, svc=svc: roles.collect_lb_pod(
            pod, svc, host(pod.name, pod.transport), host(pod.name, pod.containers.get("ipvs", ""), "ipvs/"),
            host(pod.name, pod.containers.get("exabgp", ""), "exabgp/")))
    for node in inventory.nodes:
        jobs.append(lambda node=node: roles.collect_node(node, host(node.name, node.transport)))
    for rr in inventory.reflectors:
        jobs.append(lambda rr=rr: roles.collect_reflector(rr, host(rr.name, rr.transport)))
    for router in inventory.routers:
        jobs.append(lambda router=router: roles.collect_router(router, host(router.name, router.transport)))
    for svc in inventory.services:
        if endpoints is not None and svc.name in endpoints:
            writer.fact(f"services/{svc.name}", "endpoints.json", json.dumps(endpoints[svc.name], indent=1) + "\n")
        elif svc.endpoints_file:
            jobs.append(lambda svc=svc: roles.collect_endpoints(svc, host(f"services/{svc.name}", svc.endpoints_transport)))
        else:
            writer.error(f"services/{svc.name}", "endpoints.json", "the inventory names no endpoints source")
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for f in [pool.submit(j) for j in jobs]:
            f.result()
    elapsed = time.monotonic() - t0
    writer.finish(inventory_text, profile, target or inventory.describe(),
                  {"collection_seconds": round(elapsed, 3), "hosts": len(inventory.hosts())})
    if progress:
        progress(f"collected {len(inventory.hosts())} hosts in {elapsed:.1f} s"
                 + (f", {len(writer.errors)} facts failed" if writer.errors else ""))
    return Snapshot(out)


def collect_snapshot(kind: str, inventory_path: str | None, out: Path, profile: str = "any", progress=None) -> Snapshot:
    """The plugin's entry: --lab reads the lab's own inventory, --inventory a user's file."""
    lab_vm = None
    if kind == "lab":
        from lbconformance.targets.lab import lab_target

        lab_vm, inventory_path = lab_target()
    elif inventory_path is None:
        raise ValueError("--inventory needs a file")
    inv = load_inventory(inventory_path)
    if lab_vm is None and any(uri.startswith("lab://") for uri in _uris(inv)):
        from lbconformance.targets.lab import lab_target

        lab_vm, _ = lab_target()
    # The lab VM runs under TCG emulation, often beside other work: a Go or Python CLI can take tens
    # of seconds to start there, so its commands get more time.
    timeout = LAB_TIMEOUT if lab_vm is not None else DEFAULT_TIMEOUT
    return collect(inv, Path(inventory_path).read_text(), Path(out), profile, lab_vm=lab_vm, progress=progress,
                   timeout=timeout)


def _uris(inv: Inventory):
    for n in inv.nodes:
        yield n.transport
    for p in inv.lb_pods:
        yield p.transport
        yield from p.containers.values()
    for r in list(inv.reflectors) + list(inv.routers):
        yield r.transport
    for s in inv.services:
        yield s.endpoints_transport
