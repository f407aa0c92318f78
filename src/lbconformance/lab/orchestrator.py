"""The Orchestrator (dynamic/orchestrator.py) for the reference lab: ReferenceLab plus commands in the VM.

Every time it returns is the VM's wall clock (`date +%s.%N` or time.time() in the guest): the scale
events of deploy.py, the router watcher (it runs in the router netns), the IPVS reads and the client's
requests are all stamped there, so a delay never mixes the host's clock with the guest's.
"""
from __future__ import annotations

import json
import shlex
import subprocess
import threading
import time

from lbconformance.dynamic.orchestrator import IpvsRead, Request, ScaleEvent, WebScale
from lbconformance.dynamic.watch import RouterWatch
from lbconformance.lab import topology as t
from lbconformance.lab.errors import LabError
from lbconformance.lab.reference import GUEST_PY, ReferenceLab
from lbconformance.lab.vm import LabVM, remote_command
from lbconformance.parse import ParseError, parse_gobgp_neighbors, parse_ipvsadm

WATCHER = "/lab/lbconformance/dynamic/router_watch.py"   # the 9p share of src/
GUEST_PYTHON = "/usr/bin/python3"                         # Debian's, with python3-pyroute2
RESTORE_TIMEOUT = 180.0

# Place one service's LB pods on exactly these nodes, with deploy.py's own functions (deploy.py's
# scale-lb adds the first free node and removes the highest one, which cannot put every placement back).
# Prints {state, events} like `deploy scale-lb`; holds deploy's lock like every placement change.
PLACE_LB = """
import json, sys, time
from lbconformance.lab import deploy as d, topology as t
svc = t.service(sys.argv[1])
want = [int(x) for x in sys.argv[2].split(",") if x]
with d.deploy_lock():
    state = d.load_state()
    nodes = state["lb"].setdefault(svc.name, [])
    events = []
    for n in sorted(set(nodes) - set(want), reverse=True):
        nodes.remove(n)
        d.save_state(state)
        ev = {"pod": t.lb_pod_name(svc, n), "node": t.node_ip(n), "action": "stop", "requested": time.time()}
        d.stop_lb(svc, n)
        ev["stopped"] = time.time()
        events.append(ev)
    for n in sorted(set(want) - set(nodes)):
        ev = {"pod": t.lb_pod_name(svc, n), "node": t.node_ip(n), "action": "start", "requested": time.time()}
        d.start_lb(svc, n)
        ev["running"] = time.time()
        events.append(ev)
        nodes.append(n)
        d.save_state(state)
    print(json.dumps({"state": state, "events": events}))
"""


def _web_dir(name: str) -> str:
    return f"{t.VAR}/web/{name}"


def _pod_pidfile(pod: str, container: str) -> str:
    return f"{t.RUN}/pods/{pod}/{container}.pid"


class _Stream:
    """A long-running command in the VM over the ssh master connection; our own ssh PID, its stdout
    read line by line in a thread. Closing stdin (then terminating our ssh) ends it in the guest."""

    def __init__(self, vm: LabVM, cmd: str, host: str | None, on_line, lifetime: float = 3600):
        argv = vm.ssh_argv()
        argv = argv[:-1] + ["-o", "ControlMaster=no", argv[-1], remote_command(cmd, host, lifetime)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.stderr = ""
        self._reader = threading.Thread(target=self._read, args=(on_line,), daemon=True)
        self._reader.start()

    def _read(self, on_line):
        for line in self.proc.stdout:
            on_line(line)

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.terminate()  # our ssh client, by its PID
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        self.stderr = self.proc.stderr.read() if self.proc.stderr else ""


class LabWatch:
    """A running router watcher: `.watch` is its RouterWatch. Use as a context manager."""

    def __init__(self, vm: LabVM, prefixes, ready_timeout: float = 90):
        self.watch = RouterWatch(prefixes)
        cmd = f"exec {GUEST_PYTHON} {WATCHER} " + " ".join(shlex.quote(p) for p in prefixes)
        self._stream = _Stream(vm, cmd, t.ROUTER[0], self.watch.feed)
        if not self.watch.ready.wait(ready_timeout):
            self.close()
            raise LabError("watch", f"the router watcher did not start within {ready_timeout:g} s: "
                                    f"{self._stream.stderr.strip()[-400:]}")

    def close(self) -> None:
        self._stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LabLoad:
    """The client requesting the VIP over fresh connections, every `interval` s, until stop()."""

    def __init__(self, vm: LabVM, vip: str, port: int, interval: float):
        self.requests: list[Request] = []
        url = f"http://{vip}:{port}/"
        loop = ("while :; do ts=$(date +%s.%N); if r=$(curl -s -m 1 -H 'Connection: close' " + shlex.quote(url)
                + "); then echo \"$ts ok $r\"; else echo \"$ts fail curl-exit-$?\"; fi; sleep " + f"{interval:g}; done")
        self._stream = _Stream(vm, loop, "client", self._line, lifetime=1800)

    def _line(self, line: str) -> None:
        parts = line.split()
        if len(parts) >= 2:
            try:
                self.requests.append(Request(float(parts[0]), parts[1] == "ok", " ".join(parts[2:])))
            except ValueError:
                pass

    def stop(self) -> list[Request]:
        self._stream.close()
        return list(self.requests)


class LabOrchestrator:
    """Drives the reference lab (a running `lbconformance lab up`)."""

    name = "reference lab"

    def __init__(self, vm: LabVM | None = None):
        self.vm = vm or LabVM(progress=lambda msg: None)
        self.lab = ReferenceLab(self.vm)
        self.stopped_web: set[tuple[str, int]] = set()
        self.frozen: set[str] = set()   # LB pods whose exabgp is SIGSTOPped

    # -- basics ---------------------------------------------------------------------------------------
    def sh(self, cmd: str, host: str | None = None, timeout: float = 60, check: bool = True) -> str:
        res = self.vm.run(cmd, host=host, timeout=timeout)
        if check and res.rc != 0:
            raise LabError("orchestrator", f"`{cmd}`{' in ' + host if host else ''} exited {res.rc}: "
                                           f"{(res.stderr.strip() or res.stdout.strip())[-400:]}")
        return res.stdout

    def run(self, host: str, cmd: str, timeout: float = 60) -> tuple[int, str, str]:
        res = self.vm.run(cmd, host=host or None, timeout=timeout)
        return res.rc, res.stdout, res.stderr

    def now(self) -> float:
        return float(self.sh("date +%s.%N").strip())

    def _state(self) -> dict:
        return self.lab.state()

    # -- LB pods --------------------------------------------------------------------------------------
    def lb_nodes(self, service: str) -> list[str]:
        return [t.node_ip(n) for n in sorted(self._state().get("lb", {}).get(service, []))]

    def lb_count(self, service: str) -> int:
        return len(self._state().get("lb", {}).get(service, []))

    def max_lb(self, service: str) -> int:
        return len(t.NODE_IDS)

    def lb_pods(self, service: str) -> dict[str, str]:
        svc = t.service(service)
        return {t.lb_pod_name(svc, n): t.node_ip(n) for n in sorted(self._state().get("lb", {}).get(service, []))}

    def scale_lb(self, service: str, count: int) -> list[ScaleEvent]:
        out = self.lab.scale_lb(service, count)
        return [ScaleEvent(e["pod"], e["node"], e["action"], e["requested"], e.get("running"), e.get("stopped"))
                for e in out["events"]]

    def place_lb(self, service: str, nodes) -> list[ScaleEvent]:
        """Run the service's LB pods on exactly these node ids (stops first, then starts)."""
        out = self.sh(f"PYTHONPATH=/lab python3 -c {shlex.quote(PLACE_LB)} {shlex.quote(service)} "
                      f"{','.join(str(n) for n in sorted(nodes))}", timeout=600)
        doc = json.loads(out)
        self.lab.write_inventory(doc["state"])
        return [ScaleEvent(e["pod"], e["node"], e["action"], e["requested"], e.get("running"), e.get("stopped"))
                for e in doc["events"]]

    def remove_lb(self, service: str, node: str) -> list[ScaleEvent]:
        """Delete the service's LB pod on node (an address), gracefully."""
        have = self._state().get("lb", {}).get(service, [])
        return self.place_lb(service, [n for n in have if t.node_ip(n) != node])

    def add_lb(self, service: str, node: str) -> list[ScaleEvent]:
        have = self._state().get("lb", {}).get(service, [])
        return self.place_lb(service, sorted(set(have) | {n for n in t.NODE_IDS if t.node_ip(n) == node}))

    def crash_lb(self, service: str, node: str) -> float:
        """Freeze the pod's exabgp (SIGSTOP): its TCP session stays open, so only the reflector's hold
        timer can withdraw the routes. Returns the VM time just before the signal."""
        svc = t.service(service)
        n = next(m for m in t.NODE_IDS if t.node_ip(m) == node)
        pod = t.lb_pod_name(svc, n)
        self.frozen.add(pod)
        out = self.sh(f"date +%s.%N; kill -STOP $(cat {_pod_pidfile(pod, 'exabgp')})")
        return float(out.split()[0])

    def thaw_lb(self, pod: str) -> None:
        """Let a frozen exabgp run again; it finds its session gone and reconnects."""
        self.sh(f"kill -CONT $(cat {_pod_pidfile(pod, 'exabgp')})", check=False)
        self.frozen.discard(pod)

    def hold_time(self, pod_address: str) -> int | None:
        out = self.sh("gobgp neighbor -j", host=t.REFLECTOR[0], check=False, timeout=30)
        try:
            peers = parse_gobgp_neighbors(out, "rr: gobgp neighbor -j")
        except ParseError:
            return None
        return next((p.hold_time for p in peers if p.neighbor_address == pod_address), None)

    # -- web pods -------------------------------------------------------------------------------------
    def web_count(self, service: str) -> int:
        return int(self._state().get("web", {}).get(service, 0))

    def web_servers(self, service: str) -> list[str]:
        svc = t.service(service)
        return [f"{t.web_pod(svc, k)[2]}:{svc.port}" for k in range(self.web_count(service))]

    def scale_web(self, service: str, count: int) -> WebScale:
        svc = t.service(service)
        eps = f"{t.ENDPOINTS_DIR}/{svc.name}.json"
        out = self.sh(f"date +%s.%N; {GUEST_PY} scale-web {shlex.quote(service)} {int(count)} >/dev/null; "
                      f"date +%s.%N; date -r {eps} +%s.%N", timeout=300)
        requested, done, written = (float(x) for x in out.split()[:3])
        return WebScale(requested, max(written, requested), frozenset(self.web_servers(service)))

    def stop_web_server(self, service: str, k: int) -> float:
        """Stop nginx in web pod k (its endpoint stays ready); the VM time of the stop."""
        name = t.web_pod(t.service(service), k)[0]
        self.stopped_web.add((service, k))
        out = self.sh(f"date +%s.%N; kill -TERM $(cat {_web_dir(name)}/nginx.pid)")
        return float(out.split()[0])

    def start_web_server(self, service: str, k: int) -> float:
        name = t.web_pod(t.service(service), k)[0]
        d = _web_dir(name)
        out = self.sh(f"for i in $(seq 50); do [ -e {d}/nginx.pid ] || break; sleep 0.1; done; date +%s.%N; "
                      f"ip netns exec {name} nginx -e {d}/error.log -c {d}/nginx.conf")
        self.stopped_web.discard((service, k))
        return float(out.split()[0])

    # -- IPVS -----------------------------------------------------------------------------------------
    def read_ipvs(self, pods) -> IpvsRead:
        pods = list(pods)
        script = "; ".join(f"echo '=== {p}'; ip netns exec {p} ipvsadm -Ln" for p in pods) + "; echo '=== .'; date +%s.%N"
        out = self.sh(script, timeout=60, check=False)
        tables: dict = {}
        chunks = out.split("=== ")
        for chunk in chunks[1:]:
            head, _, body = chunk.partition("\n")
            if head.strip() in pods:
                tables[head.strip()] = _real_servers(body, head.strip())
        return IpvsRead(float(chunks[-1].split("\n", 1)[1].split()[0]), tables)

    def ipvs_real_servers(self, pod: str) -> dict[str, set]:
        return self.read_ipvs([pod]).tables.get(pod, {})

    # -- probes ---------------------------------------------------------------------------------------
    def watch_router(self, prefixes) -> LabWatch:
        return LabWatch(self.vm, list(prefixes))

    def client_load(self, vip: str, interval: float = 0.2, port: int = 80) -> LabLoad:
        return LabLoad(self.vm, vip, port, interval)

    def fetch(self, vip: str, requests: int, port: int = 80) -> list[Request]:
        url = shlex.quote(f"http://{vip}:{port}/")
        loop = (f"for i in $(seq {int(requests)}); do ts=$(date +%s.%N); if r=$(curl -s -m 2 -H 'Connection: close' "
                f"{url}); then echo \"$ts ok $r\"; else echo \"$ts fail curl-exit-$?\"; fi; done")
        out = self.sh(loop, host="client", timeout=30 + 3 * requests, check=False)
        reqs = []
        for line in out.splitlines():
            p = line.split()
            if len(p) >= 2:
                reqs.append(Request(float(p[0]), p[1] == "ok", " ".join(p[2:])))
        return reqs

    # -- the restore finalizer's three parts (dynamic/trial.py) ---------------------------------------
    def capture(self) -> dict:
        st = self._state()
        if not st.get("up"):
            raise LabError("orchestrator", "the lab deployment is not up (run `lbconformance lab up`)")
        return {"lb": {s: sorted(v) for s, v in st.get("lb", {}).items()}, "web": dict(st.get("web", {})),
                "healthy": not self.lab.health()}

    def restore(self, original: dict) -> None:
        for pod in sorted(self.frozen):
            self.thaw_lb(pod)
        for service, k in sorted(self.stopped_web):
            self.start_web_server(service, k)
        st = self._state()   # one read: each deploy call costs a guest python start
        for service, count in original["web"].items():
            if int(st.get("web", {}).get(service, 0)) != count:
                self.lab.scale_web(service, count)
        for service, nodes in original["lb"].items():
            if sorted(st.get("lb", {}).get(service, [])) != nodes:
                self.place_lb(service, nodes)

    def verify(self, original: dict, timeout: float = RESTORE_TIMEOUT) -> list[str]:
        end = time.monotonic() + timeout
        problems: list[str] = []
        while True:
            st = self._state()
            now = {"lb": {s: sorted(v) for s, v in st.get("lb", {}).items()}, "web": dict(st.get("web", {}))}
            problems = []
            if now["lb"] != original["lb"] or now["web"] != original["web"]:
                problems.append(f"placement {now}, expected {{'lb': {original['lb']}, 'web': {original['web']}}}")
            if self.frozen or self.stopped_web:
                problems.append(f"still stopped: exabgp {sorted(self.frozen)}, nginx {sorted(self.stopped_web)}")
            if original.get("healthy"):
                problems += [f"health: {p}" for p in self.lab.health()]
            if not problems or time.monotonic() > end:
                return problems
            time.sleep(2)


def _real_servers(text: str, pod: str) -> dict[str, set]:
    """{virtual service ("TCP 10.1.1.1:80", "FWM 1"): {"ip:port", ...}} from `ipvsadm -Ln`."""
    try:
        table = parse_ipvsadm(text, f"{pod}: ipvsadm -Ln")
    except ParseError:
        return {}
    out = {}
    for vs in table.services:
        key = f"FWM {vs.fwmark}" if vs.fwmark is not None else f"{vs.protocol} {vs.address}:{vs.port}"
        out[key] = {f"{rs.address}:{rs.port}" for rs in vs.real_servers}
    return out
