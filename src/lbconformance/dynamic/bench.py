"""The data-plane benchmarks' actions on a live target, over the Orchestrator's `run(host, cmd)` only:
wrk from the client, tc shaping of an LB pod's veth, a capture of its eth0, and the two comparison LB
flavours (iptables DNAT, nginx proxy) next to IPVS in the same LB pod.

Every change is recorded, `cleanup()` removes all of them (newest first) and `leftovers()` says what is
still there: the benchmark suite runs both in a finalizer. Hosts are network namespaces of the target
(the LB pod's name, its node's name, "client"); a pod's veth peer is found from eth0's iflink.

This module never imports lab, collect or targets (import-linter).
"""
from __future__ import annotations

import base64
import re
import shlex
import time
from dataclasses import dataclass, field

from lbconformance.dynamic import wrk
from lbconformance.dynamic.bandwidth import PerRequest, per_request, read_pcap

WORK = "/tmp/lbc-bench"          # on the target (the VM's root mount namespace, seen from every netns)
CHAIN, POST_CHAIN = "LBCBENCH", "LBCBENCHPOST"
DNAT_PORT, NGINX_PORT = 8081, 8082
BURST = 1600       # htb burst and cburst, bytes: one full frame; at most this much above the rate per run


class BenchError(RuntimeError):
    pass


@dataclass
class Shaped:
    pod: str
    node_host: str
    peer: str          # the veth peer's name in the node netns
    rate_bps: float


@dataclass
class Bench:
    orch: object                     # dynamic.orchestrator.Orchestrator
    client: str = "client"
    shaped: dict = field(default_factory=dict)          # pod -> Shaped
    flavours: list = field(default_factory=list)        # (kind, pod, vip)
    captures: list = field(default_factory=list)        # pods with a running tcpdump
    background: list = field(default_factory=list)      # PIDs (session leaders) of background wrk runs

    # -- plumbing --------------------------------------------------------------------------------------
    def sh(self, host: str | None, cmd: str, timeout: float = 60, check: bool = True) -> str:
        rc, out, err = self.orch.run(host or "", cmd, timeout=timeout)
        if check and rc != 0:
            raise BenchError(f"`{cmd}`{' in ' + host if host else ''} exited {rc}: {(err.strip() or out.strip())[-400:]}")
        return out

    def write(self, path: str, text: str) -> None:
        self.sh(None, f"mkdir -p {WORK} && cat > {shlex.quote(path)} <<'LBC_EOF'\n{text}LBC_EOF\n")

    # -- wrk -------------------------------------------------------------------------------------------
    def wrk(self, url: str, connections: int = 32, duration_s: float = 5, threads: int = 2,
            timeseries: bool = False) -> wrk.WrkResult:
        script = f"{WORK}/wrk-{'ts' if timeseries else 'cdf'}.lua"
        self.write(script, wrk.lua_script(timeseries))
        cmd = wrk.command(url, threads, connections, duration_s, script)
        out = self.sh(self.client, cmd, timeout=duration_s + 60)
        return wrk.parse(out, where=f"{self.client}: {cmd}")

    def wrk_background(self, url: str, connections: int, duration_s: float, threads: int = 2) -> str:
        """Start wrk (per-second counts) detached; `wrk_collect(path)` reads its output when it is done."""
        script = f"{WORK}/wrk-ts.lua"
        self.write(script, wrk.lua_script(True))
        out = f"{WORK}/wrk-bg.out"
        cmd = wrk.command(url, threads, connections, duration_s, script)
        pid = self.sh(self.client, f"rm -f {out}; setsid sh -c "
                                   f"{shlex.quote(cmd + f' > {out} 2>&1; echo lbc-exit $? >> {out}')} "
                                   "</dev/null >/dev/null 2>&1 & echo $!").strip()
        if pid.isdigit():
            self.background.append(int(pid))
        return out

    def wrk_stop(self) -> None:
        """SIGINT to our background wrk runs' process groups: wrk stops and still prints its summary (and
        runs `done`). `kill -INT -PGID`: dash's kill takes no `--` ("Illegal number: -")."""
        for pid in self.background:
            self.sh(None, f"kill -INT -{pid} 2>/dev/null; true", check=False)

    def wrk_collect(self, path: str, timeout: float = 120) -> wrk.WrkResult:
        end = time.monotonic() + timeout
        while True:
            out = self.sh(None, f"cat {path} 2>/dev/null || true")
            if "lbc-exit" in out or "lbc-cdf 99.9 " in out or time.monotonic() > end:
                self.background.clear()
                return wrk.parse(out, where=f"{self.client}: background wrk ({path})")
            time.sleep(2)

    # -- the LB pod's link -----------------------------------------------------------------------------
    def peer_of(self, pod: str, node_host: str) -> str:
        """The node-side name of the pod's eth0 veth (its iflink in the node netns)."""
        idx = self.sh(pod, "cat /sys/class/net/eth0/iflink").strip()
        for line in self.sh(node_host, "ip -o link show").splitlines():
            m = re.match(r"(\d+):\s+([^:@\s]+)", line)
            if m and m.group(1) == idx:
                return m.group(2)
        raise BenchError(f"{pod}: no interface with ifindex {idx} (eth0's peer) in {node_host}")

    def mac(self, pod: str) -> str:
        return self.sh(pod, "cat /sys/class/net/eth0/address").strip()

    def shape(self, pod: str, node_host: str, rate_bps: float) -> Shaped:
        """htb at `rate_bps` on both directions of the pod's veth: egress of eth0 (what the pod sends) and
        egress of the node-side peer (what the pod receives). tc counts skb bytes (no L1 overhead)."""
        peer = self.peer_of(pod, node_host)
        s = Shaped(pod, node_host, peer, rate_bps)
        self.shaped[pod] = s
        rate = f"{int(rate_bps)}bit"
        for host, dev in ((pod, "eth0"), (node_host, peer)):
            self.sh(host, f"tc qdisc del dev {dev} root 2>/dev/null; tc qdisc add dev {dev} root handle 1: htb default 10 && "
                          f"tc class add dev {dev} parent 1: classid 1:10 htb rate {rate} ceil {rate} "
                          f"burst {BURST} cburst {BURST} && tc qdisc add dev {dev} parent 1:10 handle 10: pfifo limit 1000")
        return s

    def unshape(self, pod: str) -> None:
        s = self.shaped.pop(pod, None)
        if s is None:
            return
        for host, dev in ((s.pod, "eth0"), (s.node_host, s.peer)):
            self.sh(host, f"tc qdisc del dev {dev} root 2>/dev/null || true", check=False)

    def tc_sent(self, pod: str) -> tuple[int, int]:
        """(bytes, packets) the htb on the pod's eth0 has sent: tc's own count."""
        out = self.sh(pod, "tc -s qdisc show dev eth0")
        m = re.search(r"qdisc htb 1:.*?Sent (\d+) bytes (\d+) pkt", out, re.S)
        if not m:
            raise BenchError(f"{pod}: no htb 1: on eth0: {out.strip()[:200]}")
        return int(m.group(1)), int(m.group(2))

    # -- capture ---------------------------------------------------------------------------------------
    def capture_start(self, pod: str, max_frames: int = 200000) -> str:
        path = f"{WORK}/{pod}.pcap"
        self.sh(None, f"mkdir -p {WORK} && rm -f {path} {path}.pid")
        self.sh(pod, f"setsid tcpdump -Z root -i eth0 -n -s 96 -c {max_frames} -U -w {path} </dev/null "
                     f">{WORK}/{pod}.tcpdump.log 2>&1 & echo $! > {path}.pid; sleep 1")
        self.captures.append(pod)
        return path

    def capture_stop(self, pod: str, lb_mac: str) -> PerRequest:
        path = f"{WORK}/{pod}.pcap"
        self.sh(None, f"kill -INT $(cat {path}.pid) 2>/dev/null; for i in $(seq 50); do "
                      f"kill -0 $(cat {path}.pid) 2>/dev/null || break; sleep 0.1; done", check=False)
        if pod in self.captures:
            self.captures.remove(pod)
        blob = base64.b64decode(self.sh(None, f"base64 -w0 {path}", timeout=120))
        self.sh(None, f"rm -f {path} {path}.pid", check=False)
        return per_request(read_pcap(blob), lb_mac)

    # -- comparison flavours in one LB pod -------------------------------------------------------------
    def add_dnat(self, pod: str, vip: str, backends: list[str]) -> str:
        """iptables DNAT on VIP:8081 over `backends` ("ip:port"), equal random shares, masqueraded."""
        self.flavours.append(("dnat", pod, vip))
        rules = [f"iptables -t nat -N {CHAIN}", f"iptables -t nat -N {POST_CHAIN}",
                 f"iptables -t nat -A PREROUTING -d {vip} -p tcp --dport {DNAT_PORT} -j {CHAIN}",
                 f"iptables -t nat -A POSTROUTING -j {POST_CHAIN}",
                 f"iptables -t nat -A {POST_CHAIN} -m conntrack --ctstate DNAT --ctorigdst {vip} "
                 f"--ctorigdstport {DNAT_PORT} -j MASQUERADE"]
        for i, b in enumerate(backends):
            left = len(backends) - i
            stat = f"-m statistic --mode random --probability {1 / left:.6f} " if left > 1 else ""
            rules.append(f"iptables -t nat -A {CHAIN} -p tcp {stat}-j DNAT --to-destination {b}")
        self.sh(pod, " && ".join(rules))
        return f"http://{vip}:{DNAT_PORT}/"

    def add_nginx(self, pod: str, vip: str, backends: list[str]) -> str:
        """nginx as a reverse proxy on VIP:8082 (upstream keepalive), as the seed's nginx LB."""
        self.flavours.append(("nginx", pod, vip))
        d = f"{WORK}/nginx-{pod}"
        ups = "".join(f"  server {b};\n" for b in backends)
        conf = (f"daemon on;\nworker_processes auto;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n"
                "events { worker_connections 4096; }\n"
                f"http {{\n access_log off;\n keepalive_requests 100;\n upstream web {{\n{ups}  keepalive 64;\n }}\n"
                f" server {{\n  listen {vip}:{NGINX_PORT};\n  location / {{ proxy_pass http://web; "
                "proxy_http_version 1.1; proxy_set_header Connection \"\"; }\n }\n}\n")
        self.sh(None, f"mkdir -p {d}")
        self.write(f"{d}/nginx.conf", conf)
        self.sh(pod, f"nginx -e {d}/error.log -c {d}/nginx.conf")
        return f"http://{vip}:{NGINX_PORT}/"

    def remove_flavour(self, kind: str, pod: str, vip: str) -> None:
        if kind == "dnat":
            self.sh(pod, f"iptables -t nat -D PREROUTING -d {vip} -p tcp --dport {DNAT_PORT} -j {CHAIN} 2>/dev/null; "
                         f"iptables -t nat -D POSTROUTING -j {POST_CHAIN} 2>/dev/null; "
                         f"iptables -t nat -F {CHAIN} 2>/dev/null; iptables -t nat -X {CHAIN} 2>/dev/null; "
                         f"iptables -t nat -F {POST_CHAIN} 2>/dev/null; iptables -t nat -X {POST_CHAIN} 2>/dev/null; true",
                    check=False)
        elif kind == "nginx":
            d = f"{WORK}/nginx-{pod}"
            self.sh(None, f"[ -e {d}/nginx.pid ] && kill -QUIT $(cat {d}/nginx.pid); for i in $(seq 50); do "
                          f"[ -e {d}/nginx.pid ] || break; sleep 0.1; done; true", check=False)
        if (kind, pod, vip) in self.flavours:
            self.flavours.remove((kind, pod, vip))

    # -- the finalizer ---------------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Remove every change this object made, newest first; never raises for a change already gone."""
        for pid in self.background:   # our own background wrk: its session, by the PID we started
            self.sh(None, f"kill -TERM -{pid} 2>/dev/null; true", check=False)
        self.background.clear()
        for pod in list(self.captures):
            self.sh(None, f"kill -INT $(cat {WORK}/{pod}.pcap.pid) 2>/dev/null; true", check=False)
            self.captures.remove(pod)
        for kind, pod, vip in reversed(list(self.flavours)):
            self.remove_flavour(kind, pod, vip)
        for pod in list(self.shaped):
            self.unshape(pod)
        self.sh(None, f"rm -rf {WORK}", check=False)

    def leftovers(self, pods: dict) -> list[str]:
        """What of ours is still on the target: qdiscs on the LB pods' veths (either end), our iptables
        chains, our nginx, tcpdump or wrk. `pods`: {pod: node host}."""
        found = []
        for pod, node_host in pods.items():
            rc, out, _ = self.orch.run(pod, "tc qdisc show dev eth0; iptables -t nat -S", timeout=30)
            if rc == 0 and ("htb" in out or CHAIN in out):
                found.append(f"{pod}: {' '.join(x for x in ('htb' if 'htb' in out else '', CHAIN if CHAIN in out else '') if x)} still there")
            try:
                peer = self.peer_of(pod, node_host)
            except BenchError:
                continue
            rc, out, _ = self.orch.run(node_host, f"tc qdisc show dev {peer}", timeout=30)
            if rc == 0 and "htb" in out:
                found.append(f"{node_host}: htb still on {peer} ({pod}'s peer)")
        rc, out, _ = self.orch.run("", f"pgrep -af 'wrk -t|tcpdump -Z root -i eth0 -n -s 96|{WORK}/nginx' || true", timeout=30)
        found += [f"process still running: {line.strip()}" for line in out.splitlines()
                  if line.strip() and "pgrep" not in line]
        return found
