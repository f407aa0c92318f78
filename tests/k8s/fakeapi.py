"""A local stand-in for the Kubernetes API server, for the self-tests of the --cluster target.

Plain HTTP on 127.0.0.1 (a thread of the test process). It serves objects in the real API's shape
(lists, single objects, watch event streams, Status objects for 401/403/404), the deployments/scale
subresource (GET, PATCH), pod create/delete, and exec over the real WebSocket channel protocol
`v4.channel.k8s.io` (RFC 6455 handshake and framing written here; channel byte 1 stdout, 2 stderr,
3 the Status with the exit code). The cluster is built from a complete snapshot fixture: its
inventory gives the pods, nodes, ingresses and EndpointSlices, and exec answers the collectors'
batch scripts with the snapshot's raw outputs (FixtureShell).
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import shlex
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
V4 = "v4.channel.k8s.io"
LB_NS, INFRA_NS = "lb", "infra"
LB_LABELS = {"app.kubernetes.io/name": "portable-lb", "app.kubernetes.io/component": "lb"}
SERVICE_LABEL = "portable-lb.io/service"
FRAME = 16 * 1024  # exec output is cut into frames of this size, as a kubelet does


def status(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "details": details or {}, "code": code}


class FixtureShell:
    """Answers the collectors' batch scripts (collect/batch.py) with a snapshot's raw outputs."""

    def __init__(self, root: Path, host: str, container: str | None):
        self.root, self.host, self.container = Path(root), host, container
        self.dir = self.root / "hosts" / host

    def run(self, command: list[str]) -> tuple[bytes, bytes, int]:
        text = command[-1] if command else ""
        # one frame per fact: echo BEGIN, the command (under `timeout ... sh -c CMD`, or a plain
        # `( CMD\n)` subshell), echo RC; read by the marker lines, not by the command's syntax
        frames = re.findall(r"^echo '(@@lbc-[0-9a-f]+) BEGIN (.+?)'\n(.*?)\necho; echo '\1 RC \2' \$rc$",
                            text, re.M | re.S)
        if not frames:
            return self.plain(text)
        out = []
        for marker, name, line in frames:
            stdout, stderr, rc = self.fact(name, self.command_of(line))
            out.append(f"{marker} BEGIN {name}\n{stdout}\n{marker} RC {name} {rc}\n{stderr}\n{marker} END {name}\n")
        return "".join(out).encode(), b"", 0

    @staticmethod
    def command_of(line: str) -> str:
        line = line.rsplit(' 2>"$err"; rc=$?', 1)[0]
        if line.startswith("timeout "):
            return shlex.split(line)[6]  # timeout -k 2 T sh -c CMD
        return line.removeprefix("( ").removesuffix("\n)")

    def plain(self, text: str) -> tuple[bytes, bytes, int]:
        body = text.split("export LBC_PID; ", 1)[-1].strip()
        if body == "true":
            return b"", b"", 0
        if body.startswith("exit "):
            return b"", b"", int(body.split()[1])
        if body.startswith("sleep "):  # a hung command, for the exec timeout
            time.sleep(float(body.split()[1]))
            return b"", b"", 0
        return b"", f"sh: not answered by the fake: {body[:80]}\n".encode(), 127

    def _file(self, name: str) -> Path | None:
        for p in ([self.dir / self.container / name] if self.container else []) + [self.dir / name]:
            if p.is_file():
                return p
        return None

    def fact(self, name: str, cmd: str) -> tuple[str, str, int]:
        if name == "cmdline":
            return self.cmdline()
        if name in ("ls", "rx-queues"):  # directory listings under files/
            if name == "ls":
                dirs = shlex.split(re.search(r"for d in (.*?); do", cmd).group(1))
                found = [f"{d.rstrip('/')}/{p.name}" for d in dirs
                         if (self.dir / "files" / d.lstrip("/")).is_dir()
                         for p in sorted((self.dir / "files" / d.lstrip("/")).iterdir()) if p.is_file()]
            else:
                nic = re.search(r"/sys/class/net/(\S+?)/queues", cmd).group(1)
                base = self.dir / "files" / "sys" / "class" / "net" / nic / "queues"
                found = [f"/sys/class/net/{nic}/queues/{p.name}" for p in sorted(base.glob("rx-*"))] if base.is_dir() else []
            return "".join(f + "\n" for f in found), "", 0
        path = self._file(name)
        if path is None:
            what = name[len("files"):] if name.startswith("files/") else cmd
            return "", f"{what}: not recorded in {self.root.name}", 1
        return path.read_text(), "", 0

    def cmdline(self) -> tuple[str, str, int]:
        def line(fact):
            p = self.dir / fact
            return p.read_text().strip() if p.is_file() else ""
        if self.container == "exabgp":
            return f"/usr/bin/python3 /usr/sbin/exabgp {line('exabgp-config-path.txt')}\n", "", 0
        if self.container == "ipvs":
            return f"keepalived --dont-fork --log-console -f {line('keepalived-config-path.txt')}\n", "", 0
        if line("gobgpd-config-path.txt"):
            return f"gobgpd -f {line('gobgpd-config-path.txt')} -p\n", "", 0
        return "", "no such process", 1


class Cluster:
    """The API objects, built from a complete snapshot's inventory, and what the tests change."""

    def __init__(self, fixture: Path, token: str = "s3cr3t-bearer-token-for-tests"):
        self.fixture = Path(fixture)
        self.token = token
        self.deny: set[tuple[str, str]] = set()  # (verb, resource) answered 403
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        inv = yaml.safe_load((self.fixture / "inventory.yaml").read_text())
        self.pods: dict[tuple[str, str], dict] = {}
        self.nodes = [self._node(n) for n in inv["nodes"]]
        services = {s["name"]: s for s in inv["services"]}
        for p in inv["lb_pods"]:
            node = next(n for n in inv["nodes"] if n["name"] == p["node"])
            self._add(self._lb_pod(p, services[p["service"]], node))
        for r in inv.get("reflectors", []) + inv.get("routers", []):
            self._add(self._plain_pod(INFRA_NS, r["name"], "node105", r["address"], {"app": r["name"]}))
        self._add(self._plain_pod(LB_NS, "web1-5d8f7c9b4-x2x9z", "node105", "172.16.105.10", {"app": "web1"}))
        self.ingresses = [self._ingress(s) for s in inv["services"]]
        self.slices = [self._slice(s) for s in inv["services"]]
        self.scales = {(LB_NS, f"lb-{s['name']}"): len([p for p in inv["lb_pods"] if p["service"] == s["name"]])
                       for s in inv["services"]}
        self.frame = FRAME  # exec output frame size

    # -- objects in the API's shape --------------------------------------------------------------
    @staticmethod
    def _meta(name, ns=None, labels=None, **extra):
        md = {"name": name, "uid": hashlib.md5(f"{ns}/{name}".encode()).hexdigest(), "resourceVersion": "1",
              "creationTimestamp": "2026-11-26T00:00:00Z", "labels": labels or {}}
        if ns:
            md["namespace"] = ns
        md.update(extra)
        return md

    def _node(self, n):
        return {"metadata": self._meta(n["name"], labels={"kubernetes.io/hostname": n["name"]}),
                "spec": {"podCIDR": n["pod_cidr"], "podCIDRs": [n["pod_cidr"]]},
                "status": {"addresses": [{"type": "InternalIP", "address": n["address"]},
                                         {"type": "Hostname", "address": n["name"]}],
                           "conditions": [{"type": "Ready", "status": "True"}]}}

    def _lb_pod(self, p, svc, node):
        field = lambda path: {"valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}  # noqa: E731
        labels = dict(LB_LABELS, **{SERVICE_LABEL: svc["name"], "pod-template-hash": "6f7d9c8b5"})
        return {"metadata": self._meta(p["name"], LB_NS, labels,
                                       ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                         "name": f"lb-{svc['name']}-6f7d9c8b5", "uid": "x"}]),
                "spec": {"nodeName": node["name"], "containers": [
                    {"name": "ipvs", "image": "portable-lb/ipvs:2.2.7",
                     "securityContext": {"capabilities": {"add": ["NET_ADMIN", "SYS_MODULE"]}},
                     "volumeMounts": [{"name": "modules", "mountPath": "/lib/modules", "readOnly": True}]},
                    {"name": "exabgp", "image": "portable-lb/exabgp:4.2.21",
                     "securityContext": {"capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN"]}},
                     "env": [{"name": "POD_IP", **field("status.podIP")}, {"name": "NODE_IP", **field("status.hostIP")},
                             {"name": "PREFIX", "value": svc["prefix"]}],
                     "volumeMounts": [{"name": "node-netns", "mountPath": "/var/run/netns/node", "readOnly": True}]}],
                    "volumes": [{"name": "modules", "hostPath": {"path": "/lib/modules", "type": "Directory"}},
                                {"name": "node-netns", "hostPath": {"path": "/proc/1/ns/net", "type": "File"}}]},
                "status": {"phase": "Running", "podIP": p["address"], "hostIP": node["address"],
                           "podIPs": [{"ip": p["address"]}]}}

    def _plain_pod(self, ns, name, node, ip, labels):
        return {"metadata": self._meta(name, ns, labels),
                "spec": {"nodeName": node, "containers": [{"name": "main", "image": "debian:bookworm"}]},
                "status": {"phase": "Running", "podIP": ip}}

    def _ingress(self, s):
        return {"metadata": self._meta(s["name"], LB_NS, {SERVICE_LABEL: s["name"]}),
                "spec": {"ingressClassName": "ipvs",
                         "defaultBackend": {"service": {"name": s["name"], "port": {"number": s.get("port", 80)}}}},
                "status": {"loadBalancer": {"ingress": [{"ip": s["vip"]}]}}}

    def _slice(self, s):
        eps = json.loads((self.fixture / "services" / s["name"] / "endpoints.json").read_text())
        return {"metadata": self._meta(f"{s['name']}-7xk2p", LB_NS, {"kubernetes.io/service-name": s["name"],
                                       "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}),
                "addressType": "IPv4",
                "ports": [{"name": "", "port": eps[0]["port"] if eps else 80, "protocol": "TCP"}],
                "endpoints": [{"addresses": [e["address"]], "conditions": {"ready": e["ready"]}} for e in eps]}

    def _add(self, pod):
        self.pods[(pod["metadata"]["namespace"], pod["metadata"]["name"])] = pod

    def host_of(self, ns: str, name: str) -> str | None:
        pod = self.pods.get((ns, name))
        if pod is None:
            return None
        if pod["metadata"]["labels"].get("lbconformance.io/probe"):
            return pod["spec"]["nodeName"]
        return name


def _selected(obj, selector: str | None) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for term in filter(None, (selector or "").split(",")):
        if "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.rstrip("=")) != v:
                return False
        elif term not in labels:
            return False
    return True


ROUTES = [  # (method, pattern, handler name)
    ("GET", r"/api/v1/pods", "list_pods"),
    ("GET", r"/api/v1/namespaces/(?P<ns>[^/]+)/pods", "list_pods"),
    ("POST", r"/api/v1/namespaces/(?P<ns>[^/]+)/pods", "create_pod"),
    ("GET", r"/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)", "get_pod"),
    ("DELETE", r"/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)", "delete_pod"),
    ("GET", r"/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)/exec", "exec"),
    ("GET", r"/api/v1/nodes", "list_nodes"),
    ("GET", r"/apis/discovery.k8s.io/v1/namespaces/(?P<ns>[^/]+)/endpointslices", "list_slices"),
    ("GET", r"/apis/discovery.k8s.io/v1/endpointslices", "list_slices"),
    ("GET", r"/apis/networking.k8s.io/v1/ingresses", "list_ingresses"),
    ("GET", r"/apis/networking.k8s.io/v1/namespaces/(?P<ns>[^/]+)/ingresses", "list_ingresses"),
    ("GET", r"/apis/apps/v1/namespaces/(?P<ns>[^/]+)/deployments/(?P<name>[^/]+)/scale", "get_scale"),
    ("PATCH", r"/apis/apps/v1/namespaces/(?P<ns>[^/]+)/deployments/(?P<name>[^/]+)/scale", "patch_scale"),
]
RESOURCE = {"list_pods": ("list", "pods"), "create_pod": ("create", "pods"), "get_pod": ("get", "pods"),
            "delete_pod": ("delete", "pods"), "exec": ("create", "pods/exec"), "list_nodes": ("list", "nodes"),
            "list_slices": ("list", "endpointslices"), "list_ingresses": ("list", "ingresses"),
            "get_scale": ("get", "deployments/scale"), "patch_scale": ("patch", "deployments/scale")}
GROUP = {"endpointslices": "discovery.k8s.io", "ingresses": "networking.k8s.io", "deployments/scale": "apps"}
KIND = {"list_pods": "PodList", "list_nodes": "NodeList", "list_slices": "EndpointSliceList",
        "list_ingresses": "IngressList"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cluster: Cluster

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")

    def do_PATCH(self):
        self.route("PATCH")

    def route(self, method):
        u = urlsplit(self.path)
        self.query = parse_qs(u.query)
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        found = [(name, match) for m, pattern, name in ROUTES
                 if m == method and (match := re.fullmatch(pattern, u.path))]
        if not found:
            return self.send_json(404, status(404, "NotFound", f"the server could not find {u.path}"))
        name, match = found[0]
        c = self.cluster
        verb, resource = RESOURCE[name]
        if name.startswith("list") and self.query.get("watch", ["false"])[0] in ("true", "1"):
            verb = "watch"
        with c.lock:
            c.requests.append((verb, resource))
        if self.headers.get("Authorization") != f"Bearer {c.token}":
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        kw = match.groupdict()
        if (verb, resource) in c.deny:
            ns = kw.get("ns")
            group = GROUP.get(resource, "")
            where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
            msg = (f'{resource.split("/")[0]} "{kw.get("name", "")}" is forbidden: User "system:serviceaccount:'
                   f'lbc:suite" cannot {verb} resource "{resource}" in API group "{group}"{where}')
            return self.send_json(403, status(403, "Forbidden", msg, {"kind": resource.split("/")[0]}))
        getattr(self, name)(**kw)

    # -- plumbing --------------------------------------------------------------------------------
    def send_json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_list(self, name, items):
        items = [copy.deepcopy(i) for i in items if _selected(i, self.query.get("labelSelector", [None])[0])]
        if self.query.get("watch", ["false"])[0] in ("true", "1"):  # one ADDED event per object, then the end
            data = b"".join(json.dumps({"type": "ADDED", "object": i}).encode() + b"\n" for i in items)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        api = {"list_slices": "discovery.k8s.io/v1", "list_ingresses": "networking.k8s.io/v1"}.get(name, "v1")
        self.send_json(200, {"kind": KIND[name], "apiVersion": api, "metadata": {"resourceVersion": "1000"},
                             "items": items})

    # -- handlers --------------------------------------------------------------------------------
    def list_pods(self, ns=None):
        self.send_list("list_pods", [p for (n, _), p in sorted(self.cluster.pods.items()) if ns in (None, n)])

    def list_nodes(self):
        self.send_list("list_nodes", self.cluster.nodes)

    def list_slices(self, ns=None):
        self.send_list("list_slices", [s for s in self.cluster.slices if ns in (None, s["metadata"]["namespace"])])

    def list_ingresses(self, ns=None):
        self.send_list("list_ingresses", [i for i in self.cluster.ingresses if ns in (None, i["metadata"]["namespace"])])

    def get_pod(self, ns, name):
        c = self.cluster
        with c.lock:
            pod = c.pods.get((ns, name))
            if pod is None:
                return self.send_json(404, status(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"}))
            if pod["status"]["phase"] == "Pending":  # the next read finds it running
                pod["status"]["phase"] = "Running"
                pod = copy.deepcopy(pod)
                pod["status"]["phase"] = "Pending"
        self.send_json(200, pod)

    def create_pod(self, ns):
        pod = json.loads(self.body)
        md = pod.setdefault("metadata", {})
        md.update(namespace=ns, uid=hashlib.md5(md["name"].encode()).hexdigest(), resourceVersion="1")
        pod["status"] = {"phase": "Pending"}
        with self.cluster.lock:
            if (ns, md["name"]) in self.cluster.pods:
                return self.send_json(409, status(409, "AlreadyExists", f'pods "{md["name"]}" already exists'))
            self.cluster.pods[(ns, md["name"])] = pod
        self.send_json(201, pod)

    def delete_pod(self, ns, name):
        with self.cluster.lock:
            pod = self.cluster.pods.pop((ns, name), None)
        if pod is None:
            return self.send_json(404, status(404, "NotFound", f'pods "{name}" not found'))
        self.send_json(200, pod)

    def _scale(self, ns, name):
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": self.cluster._meta(name, ns),
                "spec": {"replicas": self.cluster.scales[(ns, name)]},
                "status": {"replicas": self.cluster.scales[(ns, name)], "selector": "app=lb"}}

    def get_scale(self, ns, name):
        if (ns, name) not in self.cluster.scales:
            return self.send_json(404, status(404, "NotFound", f'deployments.apps "{name}" not found'))
        self.send_json(200, self._scale(ns, name))

    def patch_scale(self, ns, name):
        if (ns, name) not in self.cluster.scales:
            return self.send_json(404, status(404, "NotFound", f'deployments.apps "{name}" not found'))
        patch = json.loads(self.body)
        with self.cluster.lock:
            self.cluster.scales[(ns, name)] = int(patch["spec"]["replicas"])
        self.send_json(200, self._scale(ns, name))

    # -- exec over WebSocket, v4.channel.k8s.io --------------------------------------------------
    def exec(self, ns, name):
        c = self.cluster
        host = c.host_of(ns, name)
        if host is None:
            return self.send_json(404, status(404, "NotFound", f'pods "{name}" not found'))
        key = self.headers.get("Sec-WebSocket-Key")
        offered = [p.strip() for p in (self.headers.get("Sec-WebSocket-Protocol") or "").split(",")]
        if self.headers.get("Upgrade", "").lower() != "websocket" or not key or V4 not in offered:
            return self.send_json(400, status(400, "BadRequest", "exec needs a WebSocket upgrade offering " + V4))
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("Sec-WebSocket-Protocol", V4)
        self.end_headers()
        self.wfile.flush()
        container = self.query.get("container", [None])[0]
        shell = FixtureShell(c.fixture, host, container if container in ("ipvs", "exabgp") else None)
        stdout, stderr, rc = shell.run(self.query.get("command", []))
        try:
            self.ws_answer(stdout, stderr, rc)
        except OSError:  # the client gave up (its exec timeout)
            pass
        self.close_connection = True

    def ws_answer(self, stdout: bytes, stderr: bytes, rc: int):
        c = self.cluster
        for channel, data in ((1, stdout), (2, stderr)):
            for i in range(0, len(data), c.frame):
                self.ws_send(bytes([channel]) + data[i:i + c.frame])
        if rc == 0:
            st = {"metadata": {}, "status": "Success"}
        else:
            st = {"metadata": {}, "status": "Failure",
                  "message": f"command terminated with non-zero exit code: error executing command, exit code {rc}",
                  "reason": "NonZeroExitCode",
                  "details": {"causes": [{"reason": "ExitCode", "message": str(rc)}]}}
        self.ws_send(bytes([3]) + json.dumps(st).encode())
        self.ws_send(struct.pack("!H", 1000), opcode=0x8)
        self.connection.settimeout(2)
        try:  # the client's close frame
            self.rfile.read(2)
        except (OSError, socket.timeout):
            pass

    def ws_send(self, payload: bytes, opcode: int = 0x2):
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([n])
        elif n < 1 << 16:
            head += bytes([126]) + struct.pack("!H", n)
        else:
            head += bytes([127]) + struct.pack("!Q", n)
        self.wfile.write(head + payload)
        self.wfile.flush()


class FakeApiServer:
    """The fake API server on 127.0.0.1 (a thread of this process): start(), url, kubeconfig(), stop()."""

    def __init__(self, fixture: Path, token: str = "s3cr3t-bearer-token-for-tests"):
        self.cluster = Cluster(fixture, token)
        handler = type("BoundHandler", (Handler,), {"cluster": self.cluster})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FakeApiServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def kubeconfig(self, path: Path, token: str | None = None, context: str = "fake") -> Path:
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": context,
               "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
               "users": [{"name": "suite", "user": {"token": token or self.cluster.token}}],
               "contexts": [{"name": context, "context": {"cluster": "fake", "user": "suite"}}]}
        path.write_text(yaml.safe_dump(doc))
        return path
