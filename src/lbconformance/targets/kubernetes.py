"""The Kubernetes target: discover a portable-load-balancer deployment through the API.

`pytest --cluster KUBECONFIG [--context C] [--inventory FILE]`:
- LB pods by label selector, their containers by name (defaults match deploy/);
- each pod's node and node IP (InternalIP) and the node's podCIDR;
- each service's prefix from the exabgp container's PREFIX env, else from its exabgp config;
- each service's VIP and backend from its Ingress of class `ipvs`, its endpoints from EndpointSlices.

The result is an inventory in the usual schema (docs/inventory.md) with kubectl:// transports, merged
with the user's --inventory for what lives outside the cluster (router, reflector, node ssh). Its
optional `cluster:` mapping overrides the discovery defaults (ClusterOptions).

Also the disruptive helpers the dynamic checks use: `scaled()` (the scale subresource, restored in a
finalizer) and `ProbePods` (opt-in privileged host pods for node facts, always deleted).
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
import signal
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from lbconformance import yamlfile
from lbconformance.collect.kube import (
    IN_CLUSTER,
    ClusterError,
    KubeExecTransport,
    explain,
    load_client,
    use_client,
)
from lbconformance.collect.transport import TransportError
from lbconformance.targets.inventory import Inventory, load_inventory

MANAGED_BY = "app.kubernetes.io/managed-by=lbconformance"
PROBE_LABEL = "lbconformance.io/probe"
RUN_LABEL = "lbconformance.io/run-id"


@dataclass
class ClusterOptions:
    """Discovery settings; the inventory's `cluster:` mapping overrides any of them."""

    namespace: str = ""  # empty: every namespace
    lb_selector: str = "app.kubernetes.io/name=portable-lb,app.kubernetes.io/component=lb"
    service_label: str = "portable-lb.io/service"
    ipvs_container: str = "ipvs"
    exabgp_container: str = "exabgp"
    ingress_class: str = "ipvs"
    node_probes: bool = False  # node facts through privileged probe pods (when no node transport is given)
    probe_image: str = "nicolaka/netshoot:v0.13"
    probe_namespace: str = "default"
    probe_timeout: float = 120.0
    timeout: float = 10.0  # per API request

    @classmethod
    def from_doc(cls, doc: dict | None, path: str) -> ClusterOptions:
        doc = doc or {}
        known = {f.name: f.type for f in fields(cls)}
        for key in doc:
            if key not in known:
                raise yamlfile.InputError(path, yamlfile.line_of(doc, key), f"field cluster.{key}: unknown; "
                                          f"known: {', '.join(known)}")
        return cls(**dict(doc))


def _call(api, fn, verb: str, resource: str, namespace: str | None, *args, **kwargs):
    try:
        return fn(*args, _request_timeout=api.lbc_timeout, **kwargs)
    except Exception as e:
        raise explain(e, verb, resource, namespace, api) from None


# -- discovery ------------------------------------------------------------------------------------

def _env(container, name: str) -> str | None:
    for e in container.env or []:
        if e.name == name and e.value:
            return e.value
    return None


def _node_ip(node) -> str:
    addrs = {a.type: a.address for a in (node.status.addresses or [])}
    return addrs.get("InternalIP") or addrs.get("ExternalIP") or ""


def _exabgp_prefixes(api, namespace: str, pod: str, container: str) -> list[str]:
    """The prefixes a pod's exabgp config announces (its command line names the config)."""
    from lbconformance.parse import ParseError
    from lbconformance.parse.bgp import parse_exabgp_config

    t = KubeExecTransport(namespace, pod, container, api)
    script = ("set -- $(tr '\\0' ' ' < /proc/1/cmdline); for w; do case $w in *.conf|*.ini) c=$w;; esac; done; "
              '[ -n "$c" ] && cat "$c"')
    res = t.run(script, api.lbc_timeout)
    if res.rc != 0:
        return []
    try:
        return sorted({p for n in parse_exabgp_config(res.stdout, f"{pod}:exabgp.conf") for p, _ in n.routes})
    except ParseError:
        return []


def discover(api, opts: ClusterOptions) -> tuple[dict, dict[str, list[dict]]]:
    """(an inventory document without the outside devices, endpoints per service)."""
    from kubernetes import client

    core, net, disc = client.CoreV1Api(api), client.NetworkingV1Api(api), client.DiscoveryV1Api(api)
    ns = opts.namespace or None
    if ns:
        pods = _call(api, core.list_namespaced_pod, "list", "pods", ns, ns, label_selector=opts.lb_selector).items
    else:
        pods = _call(api, core.list_pod_for_all_namespaces, "list", "pods", None, label_selector=opts.lb_selector).items
    pods = [p for p in pods if p.status.phase == "Running" and p.status.pod_ip and not p.metadata.deletion_timestamp]
    if not pods:
        raise ClusterError(f"no running LB pods match {opts.lb_selector!r} in "
                           f"{'namespace ' + ns if ns else 'any namespace'} (set cluster.lb_selector)")
    nodes = _call(api, core.list_node, "list", "nodes", None).items
    inv: dict = {"services": [], "nodes": [], "lb_pods": []}
    pod_specs = inv["pod_specs"] = {}  # not an inventory field: the pod-spec.json facts
    for n in sorted(nodes, key=lambda n: n.metadata.name):
        entry = {"name": n.metadata.name, "address": _node_ip(n)}
        if n.spec.pod_cidr:
            entry["pod_cidr"] = n.spec.pod_cidr
        inv["nodes"].append(entry)
    services: dict[str, dict] = {}
    for p in sorted(pods, key=lambda p: p.metadata.name):
        md = p.metadata
        svc = (md.labels or {}).get(opts.service_label)
        if not svc:
            raise ClusterError(f"LB pod {md.namespace}/{md.name} has no {opts.service_label} label naming its service")
        names = {c.name: c for c in p.spec.containers}
        containers = {role: f"kubectl://{md.namespace}/{md.name}?container={cname}"
                      for role, cname in (("ipvs", opts.ipvs_container), ("exabgp", opts.exabgp_container))
                      if cname in names}
        pod_view = containers.get("ipvs") or f"kubectl://{md.namespace}/{md.name}"
        inv["lb_pods"].append({"name": md.name, "service": svc, "node": p.spec.node_name, "address": p.status.pod_ip,
                               "transport": pod_view, "containers": containers})
        pod_specs[md.name] = pod_spec(api, p)
        s = services.setdefault(svc, {"name": svc, "namespace": md.namespace, "prefixes": set()})
        exa = names.get(opts.exabgp_container)
        prefix = _env(exa, "PREFIX") if exa is not None else None
        if prefix:
            s["prefixes"].add(prefix)
    for name, s in services.items():
        if not s["prefixes"]:  # no PREFIX env: read the exabgp config of one of its pods
            pod = next(p for p in inv["lb_pods"] if p["service"] == name)
            if "exabgp" in pod["containers"]:
                s["prefixes"].update(_exabgp_prefixes(api, s["namespace"], pod["name"], opts.exabgp_container))
        if len(s["prefixes"]) != 1:
            found = ", ".join(sorted(s["prefixes"])) or "none"
            raise ClusterError(f"service {name}: expected one announced prefix (exabgp PREFIX env or config), "
                               f"found {found}")
    ingresses = _ingresses(api, net, ns, opts)
    endpoints: dict[str, list[dict]] = {}
    for name, s in sorted(services.items()):
        entry = {"name": name, "prefix": s["prefixes"].pop()}
        ing = _ingress_for(ingresses, name, opts)
        backend, port_name, vip = name, None, ""
        bns = s["namespace"]
        if ing is not None:
            bns = ing.metadata.namespace
            backend, port_name, port_number = _backend(ing)
            lb = (ing.status.load_balancer.ingress or []) if ing.status and ing.status.load_balancer else []
            vip = next((i.ip for i in lb if i.ip), "")
            entry["port"] = int(port_number) if port_number else 80
        if vip:
            entry["vip"] = vip
        inv["services"].append(entry)
        endpoints[name] = _endpoints(api, disc, bns, backend, port_name)
    return inv, endpoints


def pod_spec(api, pod) -> dict:
    """The parts of a pod's spec the CAP checks read (docs/snapshot.md `pod-spec.json`). Env, args and
    everything else stay out: they may hold secrets."""
    spec = api.sanitize_for_serialization(pod.spec) or {}
    out = {k: spec[k] for k in ("nodeName", "hostNetwork", "hostPID", "hostIPC") if k in spec}
    out["containers"] = [{k: c[k] for k in ("name", "image", "securityContext", "volumeMounts") if k in c}
                         for c in spec.get("containers") or []]
    out["volumes"] = [{k: v[k] for k in ("name", "hostPath") if k in v} for v in spec.get("volumes") or []]
    return out


def _ingresses(api, net, ns, opts):
    if ns:
        items = _call(api, net.list_namespaced_ingress, "list", "ingresses", ns, ns).items
    else:
        items = _call(api, net.list_ingress_for_all_namespaces, "list", "ingresses", None).items
    return [i for i in items if (i.spec.ingress_class_name or (i.metadata.annotations or {}).get(
        "kubernetes.io/ingress.class")) == opts.ingress_class]


def _ingress_for(ingresses, service: str, opts):
    for i in ingresses:
        if (i.metadata.labels or {}).get(opts.service_label) == service:
            return i
    return next((i for i in ingresses if i.metadata.name == service), None)


def _backend(ing) -> tuple[str, str | None, int | None]:
    """(backend Service name, port name, port number) of an Ingress: its default backend, else its first path."""
    b = ing.spec.default_backend
    if b is None:
        for rule in ing.spec.rules or []:
            for path in (rule.http.paths if rule.http else []):
                b = path.backend
                break
            if b is not None:
                break
    if b is None or b.service is None:
        return ing.metadata.name, None, None
    port = b.service.port
    return b.service.name, (port.name if port else None), (port.number if port else None)


def _endpoints(api, disc, namespace: str, service: str, port_name: str | None) -> list[dict]:
    """A Service's endpoints from its EndpointSlices: [{address, port, ready}] (docs/snapshot.md)."""
    slices = _call(api, disc.list_namespaced_endpoint_slice, "list", "endpointslices", namespace, namespace,
                   label_selector=f"kubernetes.io/service-name={service}").items
    seen: dict[tuple[str, int], dict] = {}
    for sl in slices:
        if sl.address_type not in ("IPv4", "IPv6"):
            continue
        ports = [p for p in sl.ports or [] if p.port]
        if port_name and any(p.name == port_name for p in ports):
            ports = [p for p in ports if p.name == port_name]
        for ep in sl.endpoints or []:
            # the API says: an unknown readiness is to be read as ready
            ready = True if ep.conditions is None or ep.conditions.ready is None else bool(ep.conditions.ready)
            for addr in ep.addresses or []:
                for p in ports:
                    seen.setdefault((addr, p.port), {"address": addr, "port": int(p.port), "ready": ready})
    return sorted(seen.values(), key=lambda e: (ipaddress.ip_address(e["address"]), e["port"]))


# -- the inventory: discovered, merged with the user's -------------------------------------------

def merge(found: dict, user: dict | None, opts: ClusterOptions, probe_uris: dict[str, str]) -> dict:
    """The run's inventory: what the cluster says, completed and overridden by the user's file."""
    user = dict(user or {})
    user.pop("cluster", None)
    inv = {"name": user.get("name", "cluster")}
    inv["pod_cidr"] = user.get("pod_cidr") or _covering([n.get("pod_cidr") for n in found["nodes"]])
    inv["overlay"] = user.get("overlay", "unknown")

    def by_name(items):
        return {i.get("name"): dict(i) for i in items or [] if isinstance(i, dict)}

    mine = by_name(user.get("services"))
    inv["services"] = [{**s, **mine.pop(s["name"], {})} for s in found["services"]] + list(mine.values())
    mine = by_name(user.get("nodes"))
    nodes = []
    for n in found["nodes"]:
        n = {**n, **mine.pop(n["name"], {})}
        if not n.get("transport") and n["name"] in probe_uris:
            n["transport"] = probe_uris[n["name"]]
        nodes.append(n)
    inv["nodes"] = nodes + list(mine.values())
    mine = by_name(user.get("lb_pods"))
    inv["lb_pods"] = [{**p, **mine.pop(p["name"], {})} for p in found["lb_pods"]]
    inv["reflectors"] = list(user.get("reflectors") or [])
    inv["routers"] = list(user.get("routers") or [])
    return inv


def _covering(cidrs) -> str:
    """The smallest network holding every node's podCIDR (when the user's inventory gives no pod_cidr)."""
    nets = [ipaddress.ip_network(c, strict=False) for c in cidrs if c]
    if not nets:
        raise ClusterError("no pod_cidr: the nodes have no spec.podCIDR; set pod_cidr in the --inventory file")
    net = nets[0]
    while not all(n.subnet_of(net) for n in nets):
        net = net.supernet()
    return str(net)


def _plain(obj):
    """yamlfile's Mapping/Sequence back to plain dicts and lists, for yaml.safe_dump."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def cluster_inventory(api, opts: ClusterOptions, user: dict | None, probe_uris=None,
                      found=None) -> tuple[Inventory, str, dict[str, list[dict]]]:
    found, endpoints = found or discover(api, opts)
    doc = _plain(merge(found, user, opts, probe_uris or {}))
    text = "# Discovered by lbconformance --cluster (targets/kubernetes.py), merged with the --inventory file\n"
    text += yaml.safe_dump(doc, sort_keys=False)
    return load_inventory("cluster-inventory.yaml", text), text, endpoints


def _user_inventory(path: str | None) -> tuple[dict | None, ClusterOptions]:
    if not path:
        return None, ClusterOptions()
    doc = yamlfile.load(path)
    if not isinstance(doc, dict):
        raise yamlfile.InputError(path, 1, "an inventory must be a YAML mapping (see docs/inventory.md)")
    cluster = doc.get("cluster")
    if cluster is not None and not isinstance(cluster, dict):
        raise yamlfile.InputError(path, yamlfile.line_of(doc, "cluster"), "field cluster: expected a mapping")
    return doc, ClusterOptions.from_doc(cluster, path)


def exec_preflight(api, inv: dict) -> None:
    """One exec into one LB pod, so that a missing pods/exec permission (or expired credentials) stops
    the run with one line instead of an error per fact."""
    pod = next((p for p in inv["lb_pods"] if p.get("transport")), None)
    if pod is None:
        return
    try:
        KubeExecTransport.from_uri(pod["transport"], api).run("true", api.lbc_timeout)
    except TransportError as e:
        if "(403 Forbidden)" in str(e) or "(401 Unauthorized)" in str(e):
            raise ClusterError(str(e).split(": ", 1)[1]) from None


def cluster_snapshot(kubeconfig: str, context: str | None, inventory_path: str | None, out: Path,
                     profile: str = "any", run_id: str = "", progress=None):
    """The plugin's entry for --cluster: discover, merge, (probe pods), collect, clean up."""
    from lbconformance.collect import collect

    user, opts = _user_inventory(inventory_path)
    api = load_client(kubeconfig, context, opts.timeout)
    use_client(api)
    found, endpoints = discover(api, opts)
    exec_preflight(api, found)
    user_nodes = {n.get("name"): n for n in (user or {}).get("nodes") or [] if isinstance(n, dict)}
    need_probe = [n["name"] for n in found["nodes"] if not user_nodes.get(n["name"], {}).get("transport")]
    with ProbePods(api, opts, run_id or "run") as probes:
        uris = probes.start(need_probe) if opts.node_probes and need_probe else {}
        inv, text, _ = cluster_inventory(api, opts, user, uris, (found, endpoints))
        specs = {(pod, "pod-spec.json"): json.dumps(spec, indent=1) + "\n"
                 for pod, spec in found["pod_specs"].items()}
        return collect(inv, text, Path(out), profile, progress=progress, endpoints=endpoints, extra_facts=specs,
                       target=f"cluster ({'in-cluster' if kubeconfig == IN_CLUSTER else api.lbc_where}): "
                              + inv.describe())


# -- probe pods -----------------------------------------------------------------------------------

class ProbePods:
    """Opt-in privileged pods, one per node (hostNetwork, hostPID, every taint tolerated), labelled with
    the run ID; always deleted on exit, and `lbconformance cleanup --cluster` removes leftovers."""

    def __init__(self, api, opts: ClusterOptions, run_id: str):
        self.api, self.opts, self.run_id = api, opts, run_id
        self.names: list[str] = []

    def manifest(self, node: str) -> dict:
        name = f"lbc-probe-{self.run_id}-{node}"[:63].rstrip("-.")
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": self.opts.probe_namespace,
                         "labels": {"app.kubernetes.io/managed-by": "lbconformance", PROBE_LABEL: "node",
                                    RUN_LABEL: self.run_id}},
            "spec": {"nodeName": node, "hostNetwork": True, "hostPID": True, "restartPolicy": "Never",
                     "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
                     "tolerations": [{"operator": "Exists"}],
                     "containers": [{"name": "probe", "image": self.opts.probe_image,
                                     "command": ["sleep", "3600"],
                                     "securityContext": {"privileged": True}}]},
        }

    def start(self, nodes: list[str]) -> dict[str, str]:
        """Create one probe pod per node and wait until they run: {node: kubectl:// URI}."""
        from kubernetes import client

        core, ns = client.CoreV1Api(self.api), self.opts.probe_namespace
        uris = {}
        for node in nodes:
            body = self.manifest(node)
            _call(self.api, core.create_namespaced_pod, "create", "pods", ns, ns, body)
            self.names.append(body["metadata"]["name"])
            uris[node] = f"kubectl://{ns}/{body['metadata']['name']}?container=probe"
        deadline = time.monotonic() + self.opts.probe_timeout
        waiting = set(self.names)
        while waiting:
            for name in sorted(waiting):
                pod = _call(self.api, core.read_namespaced_pod, "get", "pods", ns, name, ns)
                if pod.status.phase == "Running":
                    waiting.discard(name)
                elif pod.status.phase in ("Failed", "Succeeded"):
                    raise ClusterError(f"probe pod {ns}/{name} ended ({pod.status.phase}) before it ran")
            if waiting and time.monotonic() > deadline:
                raise ClusterError(f"probe pods not running after {self.opts.probe_timeout:g} s: "
                                   f"{', '.join(sorted(waiting))} (image {self.opts.probe_image})")
            if waiting:
                time.sleep(0.5)
        return uris

    def delete(self) -> None:
        """Delete this run's probe pods (by run-ID label, so a half-created set goes too)."""
        if not self.names:
            return
        removed = delete_probe_pods(self.api, self.opts.probe_namespace, self.run_id)
        self.names = [n for n in self.names if n not in removed]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.delete()
        return False


def delete_probe_pods(api, namespace: str | None, run_id: str | None = None) -> list[str]:
    """Delete probe pods (of one run, or all of them): the names deleted."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    selector = f"{MANAGED_BY},{PROBE_LABEL}" + (f",{RUN_LABEL}={run_id}" if run_id else "")
    if namespace:
        pods = _call(api, core.list_namespaced_pod, "list", "pods", namespace, namespace, label_selector=selector).items
    else:
        pods = _call(api, core.list_pod_for_all_namespaces, "list", "pods", None, label_selector=selector).items
    gone = []
    for p in pods:
        _call(api, core.delete_namespaced_pod, "delete", "pods", p.metadata.namespace, p.metadata.name,
              p.metadata.namespace, grace_period_seconds=0)
        gone.append(p.metadata.name)
    return gone


def cleanup_main(argv: list[str]) -> int:
    """`lbconformance cleanup --cluster KUBECONFIG [--context C] [--namespace NS]`: remove leftover probe pods."""
    import argparse

    ap = argparse.ArgumentParser(prog="lbconformance cleanup", description=cleanup_main.__doc__)
    ap.add_argument("--cluster", required=True, metavar="KUBECONFIG")
    ap.add_argument("--context")
    ap.add_argument("--namespace", help="only this namespace (default: every namespace)")
    a = ap.parse_args(argv)
    try:
        gone = delete_probe_pods(load_client(a.cluster, a.context), a.namespace)
    except ClusterError as e:
        print(f"lbconformance cleanup: {e}")
        return 6
    print(f"deleted {len(gone)} probe pod(s)" + (": " + ", ".join(gone) if gone else ""))
    return 0


# -- disruptive: the scale subresource, restored in a finalizer -----------------------------------

class RestoreFailed(RuntimeError):
    """The replicas of a scaled Deployment could not be restored: a person must act."""


@contextlib.contextmanager
def scaled(api, namespace: str, deployment: str, replicas: int, settle=None):
    """Scale a Deployment for the duration of the block, then restore the replicas it had.

    The restore runs in a finalizer, also on SIGINT and SIGTERM, is read back to verify it, and
    raises RestoreFailed (with the command to fix it by hand) when it does not hold."""
    from kubernetes import client

    apps = client.AppsV1Api(api)
    what = f"deployments/scale {namespace}/{deployment}"
    cur = _call(api, apps.read_namespaced_deployment_scale, "get", "deployments/scale", namespace,
                deployment, namespace)
    original = int(cur.spec.replicas or 0)
    restored = threading.Event()

    def restore():
        if restored.is_set():
            return
        restored.set()
        try:
            _call(api, apps.patch_namespaced_deployment_scale, "patch", "deployments/scale", namespace,
                  deployment, namespace, {"spec": {"replicas": original}})
            back = _call(api, apps.read_namespaced_deployment_scale, "get", "deployments/scale", namespace,
                         deployment, namespace)
            observed = back.spec.replicas
        except ClusterError as e:
            observed = f"unknown ({e})"
        if observed != original:
            raise RestoreFailed(f"{what}: replicas NOT restored: expected {original}, observed {observed}; "
                                f"fix by hand: kubectl -n {namespace} scale deployment/{deployment} "
                                f"--replicas={original}")

    previous = {}

    def on_signal(signum, frame):
        restore()
        handler = previous.get(signum)
        if callable(handler):
            handler(signum, frame)
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt
        else:
            raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        try:
            _call(api, apps.patch_namespaced_deployment_scale, "patch", "deployments/scale", namespace, deployment,
                  namespace, {"spec": {"replicas": int(replicas)}})
        except ClusterError:
            if deployment_scale(api, namespace, deployment) == original:
                restored.set()  # nothing changed, nothing to restore
            raise
        if settle is not None:
            settle()
        yield original
    finally:
        try:
            restore()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def deployment_scale(api, namespace: str, deployment: str) -> int:
    """The replicas a Deployment's scale subresource asks for."""
    from kubernetes import client

    s = _call(api, client.AppsV1Api(api).read_namespaced_deployment_scale, "get", "deployments/scale",
              namespace, deployment, namespace)
    return int(s.spec.replicas or 0)

