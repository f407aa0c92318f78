"""The reference deployment inside the lab VM (design.md §5), built from real parts with local commands.

Runs in the VM: `PYTHONPATH=/lab python3 -m lbconformance.lab.deploy COMMAND`. Hosts are network
namespaces; a container is a process with its own mount namespace (private /run, /lib/modules
read-only), capability bounding and effective sets, in its pod's network namespace. Every PID we start
goes in a pidfile under /run/lbc; stopping kills those PIDs only.

Commands: up | state | scale-lb SERVICE N | scale-web SERVICE N | status | health | down
"""
from __future__ import annotations

import fcntl
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from lbconformance.controller import Controller, FileEndpoints
from lbconformance.lab import topology as t
from lbconformance.models import BgpPeer
from lbconformance.parse import (
    ParseError,
    expand_nhid,
    parse_gobgp_neighbors,
    parse_ip_nexthop_json,
    parse_ip_route_json,
    parse_ipvsadm,
)

STATE = Path(t.RUN) / "state.json"
LOCK = Path(t.RUN) / "deploy.lock"
IPVS_CAPS = "net_admin,sys_module"
EXABGP_CAPS = "net_admin,sys_admin"
READY_TIMEOUT = 300.0


class DeployError(Exception):
    pass


# -- commands ---------------------------------------------------------------------------------------

def sh(cmd: str, check: bool = True, timeout: float = 60) -> str:
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise DeployError(f"`{cmd}` exited {p.returncode}: {p.stderr.strip()[-400:]}")
    return p.stdout


def nsx(host: str, cmd: str) -> str:
    return f"ip netns exec {shlex.quote(host)} {cmd}"


def write(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def spawn(argv: list[str], pidfile: str | Path, log: str | Path, env: dict | None = None) -> int:
    """Start a long-running process in its own session; record its PID."""
    Path(pidfile).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, env={**os.environ, **(env or {})})
    write(pidfile, f"{p.pid}\n")
    return p.pid


def pid_of(pidfile: str | Path) -> int | None:
    try:
        pid = int(Path(pidfile).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_pid(pidfile: str | Path, grace: float = 5.0) -> None:
    """SIGTERM the PID in pidfile (ours), SIGKILL after grace; remove the pidfile."""
    pid = pid_of(pidfile)
    if pid:
        os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + grace
        while alive(pid) and time.monotonic() < end:
            time.sleep(0.05)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    Path(pidfile).unlink(missing_ok=True)


# -- state ------------------------------------------------------------------------------------------

def load_state() -> dict:
    try:
        return json.loads(STATE.read_text())
    except FileNotFoundError:
        return {}


def save_state(state: dict) -> None:
    write(STATE, json.dumps(state, indent=1, sort_keys=True) + "\n")


@contextmanager
def deploy_lock():
    """One placement change at a time, and no state read in the middle of one. A host-side client
    killed mid-change (Ctrl-C) leaves its guest command running to the end; whoever comes next (the
    restore finalizer) waits for it here instead of acting on a placement that is about to change."""
    os.makedirs(t.RUN, exist_ok=True)
    with open(LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


# -- the base network -------------------------------------------------------------------------------

def veth_host(host: str, address: str, bridge: str = "lbnet") -> None:
    """A namespace with eth0 on a bridge of the VM's root namespace."""
    peer = f"v-{host}"[:15]
    sh(f"ip netns add {host} && ip link add {peer} type veth peer name eth0 netns {host} && "
       f"ip link set {peer} master {bridge} up && "
       + nsx(host, f"sh -c 'ip link set lo up && ip addr add {address}/24 dev eth0 && ip link set eth0 up && "
                   "sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0'"))


def node_masquerade_rules(n: int) -> list[str]:
    """Flannel-style masquerade (seed §4.4.1): the overlay and overlay-aware hosts see pod IPs."""
    return [
        f"-s {t.POD_CIDR} -d {t.POD_CIDR} -j RETURN",
        f"-s {t.POD_CIDR} -m iprange --dst-range {t.node_ip(t.NODE_IDS[0])}-{t.node_ip(t.NODE_IDS[-1])} -j RETURN",
        f"-s {t.POD_CIDR} -d {t.REFLECTOR[1]}/32 -j RETURN",
        f"-s {t.POD_CIDR} ! -d 224.0.0.0/4 -j MASQUERADE",
    ]


def base() -> None:
    sh("modprobe ip_vs; modprobe ip_vs_lc; modprobe xt_ipvs; true")
    for d in (t.RUN, t.VAR, t.ENDPOINTS_DIR, t.CONTAINER_ENDPOINTS, "/etc/gobgp"):
        os.makedirs(d, exist_ok=True)
    sh("ip link add lbnet type bridge && ip link set lbnet up")
    for n in t.NODE_IDS:
        node = t.node_name(n)
        veth_host(node, t.node_ip(n))
        others = " && ".join(f"ip route add {t.node_pod_cidr(m)} via {t.node_ip(m)}" for m in t.NODE_IDS if m != n)
        rules = " && ".join(f"iptables -t nat -A POSTROUTING {r}" for r in node_masquerade_rules(n))
        sh(nsx(node, f"sh -c 'ip link add {t.BRIDGE} type bridge && ip addr add {t.node_gateway(n)}/24 dev {t.BRIDGE} && "
                     f"ip link set {t.BRIDGE} up && sysctl -qw net.ipv4.ip_forward=1 && {others} && "
                     f"ip route add default via {t.ROUTER[1]} && {rules} && "
                     "echo 3 > /sys/class/net/eth0/queues/rx-0/rps_cpus'"))
    rr, rr_ip = t.REFLECTOR
    veth_host(rr, rr_ip)
    sh(nsx(rr, "sh -c '" + " && ".join(f"ip route add {t.node_pod_cidr(n)} via {t.node_ip(n)}" for n in t.NODE_IDS) + "'"))
    router, router_ip = t.ROUTER
    veth_host(router, router_ip)
    gw, client_ip = t.CLIENT_NET
    sh("ip netns add client && ip link add eth1 netns router type veth peer name eth0 netns client")
    sh(nsx(router, f"sh -c 'ip addr add {gw}/24 dev eth1 && ip link set eth1 up && sysctl -qw net.ipv4.ip_forward=1 "
                   "net.ipv4.fib_multipath_hash_policy=1'"))
    sh(nsx("client", f"sh -c 'ip link set lo up && ip addr add {client_ip}/24 dev eth0 && ip link set eth0 up && "
                     f"ip route add default via {gw}'"))
    start_reflector()
    start_router()


def gobgpd_config() -> str:
    """Appendix .3: dynamic neighbors over the pod CIDR; the router a route-reflector client with add-paths."""
    rr_ip, router_ip = t.REFLECTOR[1], t.ROUTER[1]
    return f"""[global.config]
  as = {t.AS_NUMBER}
  router-id = "{rr_ip}"

[global.use-multiple-paths.config]
  enabled = true

[[peer-groups]]
  [peer-groups.config]
    peer-group-name = "k8s"
    peer-as = {t.AS_NUMBER}
  [[peer-groups.afi-safis]]
    [peer-groups.afi-safis.config]
      afi-safi-name = "ipv4-unicast"

[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = "{t.POD_CIDR}"
    peer-group = "k8s"

[[neighbors]]
  [neighbors.config]
    neighbor-address = "{router_ip}"
    peer-as = {t.AS_NUMBER}
  [neighbors.route-reflector.config]
    route-reflector-client = true
    route-reflector-cluster-id = "{rr_ip}"
  [neighbors.add-paths.config]
    send-max = 255
    receive = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
"""


def start_reflector(config: str | None = None) -> None:
    write(t.GOBGPD_CONFIG, config or gobgpd_config())
    d = f"{t.RUN}/rr"
    os.makedirs(d, exist_ok=True)
    spawn(["ip", "netns", "exec", "rr", "gobgpd", "-f", t.GOBGPD_CONFIG, "-t", "toml"],
          f"{d}/gobgpd.pid", f"{d}/gobgpd.log")


def frr_configs() -> tuple[str, str]:
    router_ip = t.ROUTER[1]
    zebra = "hostname router\n"
    bgpd = (f"hostname router\nrouter bgp {t.AS_NUMBER}\n bgp router-id {router_ip}\n no bgp ebgp-requires-policy\n"
            f" neighbor {t.REFLECTOR[1]} remote-as {t.AS_NUMBER}\n neighbor {t.REFLECTOR[1]} timers 3 9\n"
            " address-family ipv4 unicast\n  maximum-paths ibgp 16\n exit-address-family\n")
    return zebra, bgpd


def start_router() -> None:
    run, etc = t.FRR_RUN, f"{t.VAR}/frr"
    zebra, bgpd = frr_configs()
    write(f"{etc}/zebra.conf", zebra)
    write(f"{etc}/bgpd.conf", bgpd)
    os.makedirs(run, exist_ok=True)
    sh(f"chown frr:frr {run} && chmod 755 {run}")
    common = f"-d -u frr -g frr -z {run}/zserv.api --vty_socket {run} -P 0"
    sh(nsx("router", f"/usr/lib/frr/zebra {common} -f {etc}/zebra.conf -i {run}/zebra.pid --log file:{run}/zebra.log"))
    for _ in range(100):
        if os.path.exists(f"{run}/zserv.api"):
            break
        time.sleep(0.1)
    sh(nsx("router", f"/usr/lib/frr/bgpd {common} -f {etc}/bgpd.conf -i {run}/bgpd.pid -l {t.ROUTER[1]} "
                     f"--log file:{run}/bgpd.log"))


# -- pods -------------------------------------------------------------------------------------------

def pod_netns(pod: str, node: int, address: str, node_if: str) -> None:
    """A pod network namespace: eth0 on the node's bridge, default route via the node.

    The lab gives a recreated pod its old IP, on a new veth with a new MAC. eth0 announces itself with
    a gratuitous ARP once it is up (as CNI's bridge plugin does), or the node and the pods on its bridge
    send to the old MAC until their neighbour entries time out: seconds of lost SYNs. (arp_notify's ARP
    at link-up can race the bridge port coming up and was lost in the lab.)"""
    nodens = t.node_name(node)
    sh(f"ip netns add {pod} && ip link add {node_if} netns {nodens} type veth peer name eth0 netns {pod}")
    sh(nsx(nodens, f"ip link set {node_if} master {t.BRIDGE} up"))
    sh(nsx(pod, f"sh -c 'ip link set lo up && ip addr add {address}/24 dev eth0 && ip link set eth0 up && "
                f"ip route add default via {t.node_gateway(node)} && sysctl -qw net.ipv4.ip_forward=1 "
                "net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0'"))
    sh(nsx(pod, f"python3 -c {shlex.quote(GRATUITOUS_ARP)} eth0 {address}"))


# A gratuitous ARP (an ARP request for our own address) from an interface: argv ifname, IPv4 address.
GRATUITOUS_ARP = """
import socket, sys
ifname, ip = sys.argv[1], socket.inet_aton(sys.argv[2])
mac = bytes.fromhex(open(f"/sys/class/net/{ifname}/address").read().strip().replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
s.send(b"\\xff" * 6 + mac + b"\\x08\\x06" + b"\\x00\\x01\\x08\\x00\\x06\\x04\\x00\\x01" + mac + ip + bytes(6) + ip)
"""


def web_nginx_conf(name: str) -> str:
    d = f"{t.VAR}/web/{name}"
    return (f"daemon on;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n"
            "events { worker_connections 1024; }\n"
            "http {\n access_log off;\n keepalive_requests 100;\n"
            " server {\n  listen 80;\n  location / { default_type text/plain; return 200 \"$server_addr\\n\"; }\n }\n}\n")


def start_web(svc: t.Service, k: int) -> None:
    name, n, ip = t.web_pod(svc, k)
    pod_netns(name, n, ip, f"w{svc.index}-{k}")
    d = f"{t.VAR}/web/{name}"
    write(f"{d}/nginx.conf", web_nginx_conf(name))
    sh(nsx(name, f"nginx -e {d}/error.log -c {d}/nginx.conf"))


def stop_web(svc: t.Service, k: int) -> None:
    name, _, _ = t.web_pod(svc, k)
    stop_pid(f"{t.VAR}/web/{name}/nginx.pid")
    sh(f"ip netns del {name}", check=False)


def write_endpoints(svc: t.Service, count: int) -> None:
    eps = [{"address": t.web_pod(svc, k)[2], "port": svc.port, "ready": True} for k in range(count)]
    write(f"{t.ENDPOINTS_DIR}/{svc.name}.json", json.dumps(eps, indent=1) + "\n")


def fault_flag(name: str) -> str | None:
    """A lab fault's setting that pods started while it is applied pick up (faults.py)."""
    try:
        return Path(f"{t.RUN}/fault-flags/{name}").read_text().strip()
    except OSError:
        return None


def exabgp_conf(svc: t.Service, n: int, pod_ip: str) -> str:
    hold = fault_flag("hold-time") or t.HOLD_TIME
    return (f"neighbor {t.REFLECTOR[1]} {{\n    description \"reflector\";\n    router-id {pod_ip};\n"
            f"    local-address {pod_ip};\n    local-as {t.AS_NUMBER};\n    peer-as {t.AS_NUMBER};\n"
            f"    hold-time {hold};\n    static {{\n        route {svc.prefix} next-hop {t.node_ip(n)};\n"
            "    }\n}\n")


def caps_argv(caps: str | None) -> list[str]:
    """setpriv: the container's bounding and inheritable sets (root keeps exactly these effective);
    None = privileged (every capability)."""
    if caps is None:
        return []
    spec = "-all," + ",".join(f"+{c}" for c in caps.split(","))
    return ["setpriv", f"--bounding-set={spec}", f"--inh-caps={spec}", "--"]


def container(pod: str, name: str, mounts: str, entry: str, caps: str | None, env: dict | None = None,
              after_run: str = "") -> int:
    """A container: a new mount namespace (mounts, then a private /run, then after_run), the pod's netns,
    the capability sets, then `entry`, which ends by exec'ing the main process: the recorded PID is it."""
    run = f"{t.RUN}/pods/{pod}"
    drop = " ".join(caps_argv(caps))
    script = (f"set -e\n{mounts}\nmount -t tmpfs -o nosuid,nodev,mode=755 tmpfs /run\n{after_run}\n"
              f'exec {drop} sh -c "$LBC_ENTRY"\n')
    return spawn(["unshare", "-m", "--propagation", "private", "nsenter", f"--net=/run/netns/{pod}", "--",
                  "sh", "-c", script], f"{run}/{name}.pid", f"{run}/{name}.log",
                 env={"LBC_ENTRY": entry, **(env or {})})


def ipvs_container(svc: t.Service, pod: str, caps: str | None = IPVS_CAPS) -> int:
    var = f"{t.VAR}/pods/{pod}"
    mounts = (f"mount --bind /lib/modules /lib/modules\nmount -o remount,bind,ro /lib/modules\n"
              f"mount --bind {var}/keepalived /etc/keepalived\n"
              f"mount --bind {t.ENDPOINTS_DIR} {t.CONTAINER_ENDPOINTS}\nmount -o remount,bind,ro {t.CONTAINER_ENDPOINTS}")
    entry = ("set -e; modprobe ip_vs; modprobe ip_vs_lc; modprobe xt_ipvs; sysctl -qw net.ipv4.vs.conntrack=1; "
             f"iptables -t mangle -C PREROUTING {mark_rule(svc)} 2>/dev/null || iptables -t mangle -A PREROUTING {mark_rule(svc)}; "
             f"iptables -t nat -C POSTROUTING {masq_rule(svc)} 2>/dev/null || iptables -t nat -A POSTROUTING {masq_rule(svc)}; "
             "exec keepalived -n -l -C -f /etc/keepalived/ipvs.conf -p /run/keepalived.pid -c /run/checkers.pid")
    return container(pod, "ipvs", mounts, entry, caps, env={"PYTHONPATH": "/lab"})


def mark_rule(svc: t.Service) -> str:
    return f"-d {svc.prefix} -p tcp -m tcp --dport {svc.port} -j MARK --set-xmark 0x{svc.fwmark:x}/0xffffffff"


def masq_rule(svc: t.Service) -> str:
    return f"-m ipvs --vaddr {svc.prefix} -j MASQUERADE"


def controller_argv(svc: t.Service) -> list[str]:
    return ["python3", "-m", "lbconformance.controller", "--service", svc.name, "--fwmark", str(svc.fwmark),
            "--endpoints", f"{t.CONTAINER_ENDPOINTS}/{svc.name}.json", "--config-dir", "/etc/keepalived",
            "--keepalived-pidfile", "/run/keepalived.pid"]


def start_controller(svc: t.Service, pod: str, caps: str = IPVS_CAPS) -> int:
    """The controller runs in the ipvs container (its mount and network namespaces, its capabilities)."""
    run = f"{t.RUN}/pods/{pod}"
    keepalived = pid_of(f"{run}/ipvs.pid")
    if not keepalived:
        raise DeployError(f"{pod}: the ipvs container is not running (no live PID in {run}/ipvs.pid)")
    return spawn(["nsenter", "-t", str(keepalived), "-m", "-n", "--", *caps_argv(caps), *controller_argv(svc)],
                 f"{run}/controller.pid", f"{run}/controller.log", env={"PYTHONPATH": "/lab"})


def exabgp_container(svc: t.Service, pod: str, n: int, caps: str | None = EXABGP_CAPS, delay: float = 0) -> int:
    """Fig 5.5: install `<prefix> dev docker0` in the node's netns (its netns file is mounted at
    /run/netns/node), `local <prefix> dev eth0` in the pod, then run exabgp. The node's neighbour
    entries for the prefix's addresses (VIP -> an earlier pod's MAC) are flushed with the route."""
    var = f"{t.VAR}/pods/{pod}"
    mounts = (f"mount --bind {var}/exabgp /etc/exabgp\n: > {var}/nodens\n"
              f"mount --bind /run/netns/{t.node_name(n)} {var}/nodens")
    after_run = f"mkdir -p /run/netns\n: > /run/netns/node\nmount --bind {var}/nodens /run/netns/node\numount {var}/nodens"
    entry = ("set -e; "
             f"nsenter --net=/run/netns/node ip route replace {svc.prefix} dev {t.BRIDGE} "
             "|| echo 'exabgp container: cannot install the node route' >&2; "
             f"nsenter --net=/run/netns/node ip neigh flush to {svc.prefix} dev {t.BRIDGE} || true; "
             f"ip route replace local {svc.prefix} dev eth0 table local; "
             + (f"sleep {delay}; " if delay else "")
             + "exec env exabgp.daemon.user=root exabgp.daemon.daemonize=false exabgp.log.destination=stdout "
               "exabgp.api.cli=false exabgp /etc/exabgp/exabgp.conf")
    return container(pod, "exabgp", mounts, entry, caps, after_run=after_run)


def start_lb(svc: t.Service, n: int, pod: str | None = None, ipvs_caps: str | None = IPVS_CAPS,
             exabgp_caps: str | None = EXABGP_CAPS, exabgp_delay: float = 0, wait: bool = True) -> str:
    pod = pod or t.lb_pod_name(svc, n)
    exabgp_delay = exabgp_delay or float(fault_flag("exabgp-delay") or 0)
    ip = t.lb_pod_ip(svc, n) if pod == t.lb_pod_name(svc, n) else t.second_lb_pod_ip(svc, n)
    pod_netns(pod, n, ip, f"lb{svc.index}" if pod == t.lb_pod_name(svc, n) else f"lb{svc.index}b")
    var = f"{t.VAR}/pods/{pod}"
    os.makedirs(f"{var}/keepalived/ipvs.d", exist_ok=True)
    # the first render happens before keepalived starts (an init step), so keepalived never starts empty
    Controller(svc.name, svc.fwmark, FileEndpoints(f"{t.ENDPOINTS_DIR}/{svc.name}.json"), f"{var}/keepalived",
               "/nonexistent").write_if_changed()
    write(f"{var}/exabgp/exabgp.conf", exabgp_conf(svc, n, ip))
    ipvs_container(svc, pod, ipvs_caps)
    exabgp_container(svc, pod, n, exabgp_caps, exabgp_delay)
    if wait:
        finish_lb(svc, pod)
    return pod


def finish_lb(svc: t.Service, pod: str) -> None:
    """Once keepalived runs, start the controller in its container."""
    var = f"{t.VAR}/pods/{pod}"
    wait_for(lambda: os.path.exists(f"{var}/keepalived/ipvs.d/{svc.name}.conf") and _keepalived_ready(pod),
             60, f"{pod}: keepalived did not start (see {t.RUN}/pods/{pod}/ipvs.log)")
    start_controller(svc, pod)


def restart_ipvs(svc: t.Service, n: int, caps: str | None = IPVS_CAPS, pod: str | None = None) -> None:
    """Recreate the ipvs container (and its controller) with other capabilities, as a changed pod spec would."""
    pod = pod or t.lb_pod_name(svc, n)
    run = f"{t.RUN}/pods/{pod}"
    stop_pid(f"{run}/controller.pid")
    stop_pid(f"{run}/ipvs.pid")
    ipvs_container(svc, pod, caps)
    finish_lb(svc, pod)


def restart_exabgp(svc: t.Service, n: int, caps: str | None = EXABGP_CAPS, delay: float = 0,
                   pod: str | None = None) -> None:
    pod = pod or t.lb_pod_name(svc, n)
    stop_pid(f"{t.RUN}/pods/{pod}/exabgp.pid")
    exabgp_container(svc, pod, n, caps, delay)


def _keepalived_ready(pod: str) -> bool:
    pid = pid_of(f"{t.RUN}/pods/{pod}/ipvs.pid")
    if not pid:
        raise DeployError(f"{pod}: the ipvs container exited: " + _tail(f"{t.RUN}/pods/{pod}/ipvs.log"))
    try:
        return os.readlink(f"/proc/{pid}/exe").endswith("keepalived")
    except OSError:
        return False


def stop_lb(svc: t.Service, n: int, pod: str | None = None) -> None:
    pod = pod or t.lb_pod_name(svc, n)
    run = f"{t.RUN}/pods/{pod}"
    if fault_flag("vanish"):  # the pod disappears without a word: no NOTIFICATION, no FIN
        sh(nsx(pod, "iptables -I OUTPUT -j DROP"), check=False)
    for c in ("controller", "exabgp", "ipvs"):
        stop_pid(f"{run}/{c}.pid")
    sh(f"ip netns del {pod}", check=False)
    state = load_state()
    if n not in state.get("lb", {}).get(svc.name, []) or pod != t.lb_pod_name(svc, n):
        sh(nsx(t.node_name(n), f"ip route del {svc.prefix} dev {t.BRIDGE}"), check=False)


def _tail(path: str, n: int = 5) -> str:
    try:
        return " | ".join(Path(path).read_text().strip().splitlines()[-n:])
    except OSError:
        return "(no log)"


def wait_for(pred, timeout: float, message: str, interval: float = 0.2) -> None:
    end = time.monotonic() + timeout
    while True:
        if pred():
            return
        if time.monotonic() > end:
            raise DeployError(message)
        time.sleep(interval)


# -- operator commands ------------------------------------------------------------------------------

def up() -> dict:
    state = load_state()
    if state.get("up"):
        return state
    base()
    state = {"up": True, "lb": {}, "web": {}}
    for svc in t.SERVICES:
        for k in range(svc.web_pods):
            start_web(svc, k)
        write_endpoints(svc, svc.web_pods)
        state["web"][svc.name] = svc.web_pods
    save_state(state)
    started = []
    for svc in t.SERVICES:  # all pods start together; each gets its controller once keepalived runs
        for n in svc.lb_nodes:
            started.append((svc, start_lb(svc, n, wait=False)))
            state["lb"].setdefault(svc.name, []).append(n)
            save_state(state)
    for svc, pod in started:
        finish_lb(svc, pod)
    wait_ready()
    return state


def scale_lb(name: str, count: int) -> dict:
    """{state, events}: one event per pod started or stopped, with VM wall-clock times (time.time()):
    `requested`, and `running` (both containers' main processes run) or `stopped` (all its processes gone)."""
    svc = t.service(name)
    if not 0 <= count <= len(t.NODE_IDS):
        raise DeployError(f"scale-lb {svc.name} {count}: between 0 and {len(t.NODE_IDS)} (one LB pod per node)")
    state = load_state()
    nodes = state["lb"].setdefault(svc.name, [])
    events = []
    while len(nodes) < count:
        n = next(m for m in t.NODE_IDS if m not in nodes)
        ev = {"pod": t.lb_pod_name(svc, n), "node": t.node_ip(n), "action": "start", "requested": time.time()}
        start_lb(svc, n)
        ev["running"] = time.time()
        events.append(ev)
        nodes.append(n)
        save_state(state)
    while len(nodes) > count:
        n = max(nodes)
        nodes.remove(n)
        save_state(state)
        ev = {"pod": t.lb_pod_name(svc, n), "node": t.node_ip(n), "action": "stop", "requested": time.time()}
        stop_lb(svc, n)
        ev["stopped"] = time.time()
        events.append(ev)
    return {"state": state, "events": events}


def scale_web(name: str, count: int) -> dict:
    svc = t.service(name)
    if not 0 <= count <= 40:
        raise DeployError(f"scale-web {svc.name} {count}: between 0 and 40")
    state = load_state()
    have = state["web"].get(svc.name, 0)
    for k in range(have, count):
        start_web(svc, k)
    if count < have:
        write_endpoints(svc, count)  # endpoints first: the controller stops sending traffic before pods go
        for k in range(count, have):
            stop_web(svc, k)
    write_endpoints(svc, count)
    state["web"][svc.name] = count
    save_state(state)
    return state


def down() -> None:
    """Stop every process and remove every namespace and bridge the deployment made."""
    state = load_state()
    for svc in t.SERVICES:
        for n in list(state.get("lb", {}).get(svc.name, [])):
            stop_lb(svc, n)
        for k in range(state.get("web", {}).get(svc.name, 0)):
            stop_web(svc, k)
    # and whatever else a pidfile names (a pod whose start failed half-way)
    for pidfile in sorted(Path(t.RUN).glob("pods/*/*.pid")) + sorted(Path(t.VAR).glob("web/*/nginx.pid")):
        stop_pid(pidfile)
    stop_pid(f"{t.RUN}/rr/gobgpd.pid")
    for d in ("bgpd", "zebra"):
        stop_pid(f"{t.FRR_RUN}/{d}.pid")
    for ns in sh("ip netns list", check=False).split("\n"):
        if ns.strip():
            sh(f"ip netns del {ns.split()[0]}", check=False)
    sh("ip link del lbnet", check=False)
    STATE.unlink(missing_ok=True)


# -- observation --------------------------------------------------------------------------------------

def rr_sessions() -> list[BgpPeer]:
    """rr's sessions, through gobgp's CLI (which can time out under load: then [])."""
    out = sh(nsx("rr", "gobgp neighbor -j"), check=False, timeout=30)
    try:
        return list(parse_gobgp_neighbors(out, "rr: gobgp neighbor -j"))
    except ParseError:
        return []


def established(peers: list[BgpPeer]) -> list[str]:
    return [p.neighbor_address for p in peers if p.state == "Established"]


def router_next_hops() -> dict[str, set[str]]:
    """{prefix: next-hop gateways} from the router's kernel FIB (nhid groups expanded)."""
    try:
        routes = parse_ip_route_json(sh(nsx("router", "ip -j route show proto bgp"), check=False) or "[]", "router")
        objects = parse_ip_nexthop_json(sh(nsx("router", "ip -j nexthop"), check=False) or "[]", "router")
    except ParseError:
        return {}
    out: dict[str, set[str]] = {}
    for r in routes:
        try:
            r = expand_nhid(r, objects)
        except KeyError:  # a group replaced between the two reads: the next poll sees it
            pass
        out[r.dst] = {h.gateway for h in r.paths if h.gateway}
    return out


def ipvs_real_servers(pod: str) -> set[str]:
    """`address:port` of every real server in the pod's IPVS table."""
    try:
        table = parse_ipvsadm(sh(nsx(pod, "ipvsadm -Ln"), check=False), f"{pod}: ipvsadm -Ln")
    except ParseError:
        return set()
    return {f"{r.address}:{r.port}" for vs in table.services for r in vs.real_servers}


def problems(curl: bool = True) -> list[str]:
    """The lab's own health probe: what differs from a healthy deployment of the current state."""
    state = load_state()
    if not state.get("up"):
        return ["the deployment is not up"]
    out = []
    want_peers = {t.lb_pod_ip(s, n) for s in t.SERVICES for n in state["lb"].get(s.name, [])}
    got_peers = set(established(rr_sessions())) - {t.ROUTER[1]}
    if got_peers != want_peers:
        out.append(f"rr: Established pod sessions {sorted(got_peers)}, expected {sorted(want_peers)}")
    hops = router_next_hops()
    for s in t.SERVICES:
        want = {t.node_ip(n) for n in state["lb"].get(s.name, [])}
        if hops.get(s.prefix, set()) != want:
            out.append(f"router: {s.prefix} next hops {sorted(hops.get(s.prefix, set()))}, expected {sorted(want)}")
        eps = {f"{t.web_pod(s, k)[2]}:{s.port}" for k in range(state["web"].get(s.name, 0))}
        for n in state["lb"].get(s.name, []):
            pod = t.lb_pod_name(s, n)
            real = ipvs_real_servers(pod)
            if real != eps:
                out.append(f"{pod}: IPVS real servers {sorted(real)}, expected {sorted(eps)}")
        if curl and state["lb"].get(s.name) and eps:
            # Up to 3 rounds of 4 requests per web pod, answers pooled: a real server keepalived has just
            # re-added has no connections yet, so lc sends it every new connection until it catches up
            # and the other pods can stay silent for a round (seen after healing web-pod-firewalled).
            want_ips = {e.split(":")[0] for e in eps}
            seen: set[str] = set()
            for _ in range(3):
                seen |= curl_backends(s.vip, 4 * len(eps))
                if want_ips <= seen:
                    break
            if seen != want_ips:
                out.append(f"client: curl http://{s.vip}/ reached {sorted(seen)}, expected every web pod {sorted(want_ips)}")
    return out


def curl_backends(vip: str, requests: int) -> set[str]:
    """The web pods that answered `requests` fresh connections from the client (each answers its pod IP)."""
    cmd = " ".join(["curl -s -m 2 -H 'Connection: close'", *[f"http://{vip}/"] * requests])
    out = sh(nsx("client", cmd), check=False, timeout=10 + 3 * requests)
    return {ln.strip() for ln in out.splitlines() if ln.strip()}


def wait_ready(timeout: float = READY_TIMEOUT) -> None:
    end = time.monotonic() + timeout
    last: list[str] = []
    while time.monotonic() < end:
        last = problems(curl=False)
        if not last:
            break
        time.sleep(0.5)
    else:
        raise DeployError("not ready after %.0f s: %s" % (timeout, "; ".join(last)))
    last = problems(curl=True)
    if last:
        raise DeployError("ready but traffic fails: " + "; ".join(last))


def status() -> str:
    state = load_state()
    lines = [f"deployment: {'up' if state.get('up') else 'down'}"]
    if not state.get("up"):
        return "\n".join(lines)
    lines.append("hosts: " + " ".join(sorted(ln.split()[0] for ln in sh("ip netns list").splitlines() if ln.strip())))
    daemons = {"rr/gobgpd": f"{t.RUN}/rr/gobgpd.pid", "router/zebra": f"{t.FRR_RUN}/zebra.pid",
               "router/bgpd": f"{t.FRR_RUN}/bgpd.pid"}
    for s in t.SERVICES:
        for n in state["lb"].get(s.name, []):
            pod = t.lb_pod_name(s, n)
            for c in ("ipvs", "controller", "exabgp"):
                daemons[f"{pod}/{c}"] = f"{t.RUN}/pods/{pod}/{c}.pid"
    lines.append("daemons:")
    lines += [f"  {k:<32} {'pid ' + str(pid_of(v)) if pid_of(v) else 'NOT RUNNING'}" for k, v in daemons.items()]
    lines.append("rr sessions (Established): " + ", ".join(sorted(established(rr_sessions()))))
    lines.append("router ECMP routes:")
    lines += [f"  {p} via {', '.join(sorted(h))}" for p, h in sorted(router_next_hops().items())]
    for s in t.SERVICES:
        for n in state["lb"].get(s.name, []):
            pod = t.lb_pod_name(s, n)
            lines.append(f"{pod} IPVS:")
            lines += ["  " + ln for ln in sh(nsx(pod, "ipvsadm -Ln"), check=False).splitlines()[3:]]
    return "\n".join(lines)


LOCKED = {"up", "state", "scale-lb", "scale-web", "down"}


def main(argv: list[str]) -> int:
    cmd, args = (argv[0], argv[1:]) if argv else ("", [])
    if cmd in LOCKED:
        with deploy_lock():
            return _command(cmd, args)
    return _command(cmd, args)


def _command(cmd: str, args: list[str]) -> int:
    try:
        if cmd == "up":
            t0 = time.monotonic()
            up()
            print(json.dumps({"state": load_state(), "seconds": round(time.monotonic() - t0, 2)}))
        elif cmd == "state":
            print(json.dumps(load_state()))
        elif cmd == "scale-lb" and len(args) == 2:
            print(json.dumps(scale_lb(args[0], int(args[1]))))
        elif cmd == "scale-web" and len(args) == 2:
            print(json.dumps(scale_web(args[0], int(args[1]))))
        elif cmd == "status":
            print(status())
        elif cmd == "health":
            found = problems()
            print("\n".join(found) if found else "healthy")
            return 1 if found else 0
        elif cmd == "wait-ready":
            wait_ready(float(args[0]) if args else READY_TIMEOUT)
        elif cmd == "down":
            down()
        else:
            print(__doc__, file=sys.stderr)
            return 4
    except (DeployError, KeyError) as e:
        print(f"lab deploy {cmd}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
