"""Lab faults: realistic misconfigurations and failures, one requirement each, and how to heal them.

The catalog (FAULTS) is data the host reads; apply/heal run in the VM
(`PYTHONPATH=/lab python3 -m lbconformance.lab.faults apply NAME | heal | applied`).
Applied faults are recorded in /run/lbc/faults.json, so `heal` undoes whatever was applied, newest
first, then checks the lab's own health probe.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lbconformance.lab import deploy as d
from lbconformance.lab import topology as t

APPLIED = Path(t.RUN) / "faults.json"
FLAGS = Path(t.RUN) / "fault-flags"


@dataclass(frozen=True)
class Fault:
    """`target`: the inventory host (or service) whose check of `requirement` must fail.
    `cascades`: other requirements that may fail too, with the reason. `exclusive`: the fault
    disturbs the whole lab, so the matrix applies it alone. `touches`: other hosts it changes (a pod
    whose exabgp it restarts, and that pod's node, whose route the restart re-installs): the matrix never
    puts two faults on one host in a wave."""

    name: str
    requirement: str
    target: str
    summary: str
    cascades: dict[str, str] = field(default_factory=dict)
    exclusive: bool = False
    touches: tuple[str, ...] = ()

    @property
    def hosts(self) -> set[str]:
        return {self.target, *self.touches}

    @property
    def dynamic(self) -> bool:
        return self.requirement in DYNAMIC


DYNAMIC = {"IPVS-009", "IPVS-010", "ECMP-004", "ECMP-005", "DATA-001"}
DATA = {"DATA-001": "traffic through this pod breaks"}
EXABGP_GONE = {"CAP-004": "the exabgp container's process is gone: its status cannot be read",
               "CAP-005": "the same, for the privilege check", "PEER-001": "its session is down",
               "PEER-005": "the router gets one path fewer", "PEER-007": "exabgp's config cannot be found",
               "ROUTE-003": "exabgp's config cannot be found", "ECMP-005": "the pod's path is already gone"}

SESSIONS_LOST = {"PEER-001": "the refused pods have no session", "PEER-005": "fewer paths reach the router",
                 "ECMP-001": "nodes whose pods are refused are no next hops", **DATA,
                 "ECMP-004": "refused pods cannot announce", "ECMP-005": "refused pods cannot announce"}
W1, W2 = t.SERVICES
P105, P106, P107 = (t.lb_pod_name(W1, n) for n in (105, 106, 107))
Q106, Q107 = (t.lb_pod_name(W2, n) for n in (106, 107))

FAULTS = (
    Fault("cap-sys-module-dropped", "CAP-001", P105, "the ipvs container restarted without CAP_SYS_MODULE"),
    Fault("lib-modules-unmounted", "CAP-002", P105, "/lib/modules unmounted inside the ipvs container"),
    Fault("ip-vs-blacklisted", "CAP-003", "node", "ip_vs cannot be loaded (modprobe blacklist); every ipvs "
          "container fails to start", exclusive=True, cascades={
              **{r: "the ipvs containers are down: their facts cannot be read" for r in
                 ("CAP-001", "CAP-002", "CAP-005", "IPVS-001", "IPVS-002", "IPVS-003", "IPVS-004", "IPVS-005",
                  "IPVS-006", "IPVS-007", "IPVS-008", "IPVS-009", "IPVS-010")}, **DATA}),
    Fault("exabgp-without-sys-admin", "CAP-004", P106, "the exabgp container restarted without CAP_SYS_ADMIN "
          "(it can no longer enter the node's netns)", touches=("node106",)),
    Fault("ipvs-privileged", "CAP-005", P107, "the ipvs container restarted privileged (every capability)"),
    Fault("keepalived-config-broken", "IPVS-001", P107, "an operator's ipvs.d file with an unclosed block",
          cascades={r: "the pod's config cannot be parsed, so it cannot be compared" for r in
                    ("IPVS-002", "IPVS-003", "IPVS-004", "IPVS-005", "IPVS-006", "IPVS-007")}),
    Fault("scheduler-changed", "IPVS-002", P105, "ipvsadm -E -s rr behind keepalived's back"),
    Fault("stale-real-server", "IPVS-004", P106, "a real server in the kernel that no config names",
          cascades={"IPVS-003": "the stale server has no configured weight to match"}),
    Fault("missing-real-server", "IPVS-004", P107, "a healthy configured real server deleted from the kernel"),
    Fault("weight-drift", "IPVS-003", Q106, "a kernel real server's weight drifted to 3"),
    Fault("threshold-drift", "IPVS-003", Q107, "a kernel real server's upper threshold drifted to 100"),
    Fault("real-server-without-checker", "IPVS-005", P105, "an operator's extra ipvs.d file with a real_server "
          "and no health checker"),
    Fault("controller-stopped", "IPVS-006", P106, "the controller stopped, then web1 scaled to 4 pods",
          cascades={**DATA, "IPVS-009": "the same stale pod"}),
    Fault("fwmark-rule-deleted", "IPVS-007", Q106, "the mangle MARK rule of the fwmark service deleted",
          cascades=DATA),
    Fault("masquerade-rule-deleted", "IPVS-008", Q107, "the -m ipvs MASQUERADE rule deleted", cascades=DATA),
    Fault("node-route-deleted", "ROUTE-001", "node106", "the node route <prefix> dev docker0 deleted",
          cascades=DATA),
    Fault("node-route-wrong-bridge", "ROUTE-001", "node107", "the node route put on another bridge (cni0)",
          cascades=DATA),
    Fault("pod-local-route-deleted", "ROUTE-002", P106, "the pod's local <prefix> dev eth0 route deleted",
          cascades=DATA),
    Fault("wrong-next-hop", "ROUTE-003", P107, "exabgp announces next-hop 10.0.0.108 (not its node)",
          cascades={"ECMP-001": "the router's next hops follow the announcement", **DATA}, touches=("node107",)),
    Fault("two-lb-pods-one-node", "ROUTE-004", "node105", "a second web1 LB pod on node105",
          cascades={"PEER-005": "the router gets 4 paths for 3 next hops"}),
    Fault("reflector-exemption-missing", "PEER-001", "node106", "node106's masquerade exemption for the reflector "
          "removed; its pods' sessions come SNATed from the node IP and are refused", exclusive=True, cascades={
              "ECMP-001": "node106 is no next hop any more", "PEER-005": "fewer paths reach the router",
              "ECMP-004": "node106's pods cannot announce", "ECMP-005": "node106's pods cannot announce"}),
    Fault("dynamic-prefix-covers-nodes", "PEER-002", "rr", "the reflector also accepts 10.0.0.0/24 and node106 "
          "lost its exemption: node106's pods collapse into one session from the node IP", exclusive=True,
          cascades=SESSIONS_LOST),
    Fault("dynamic-prefix-too-narrow", "PEER-003", "rr", "dynamic-neighbors prefix 172.16.105.0/24: pods on "
          "other nodes are refused", exclusive=True, cascades={
              **SESSIONS_LOST, "ECMP-003": "web2 has no LB pod on node105: its prefix reaches the router from no one"}),
    Fault("pod-peers-router", "PEER-004", "router", "lb-web1-node106's exabgp also peers with the router "
          "directly (SNATed, as its node)", cascades={"PEER-005": "the router gets an extra path"},
          touches=(P106, "node106")),
    Fault("add-paths-missing", "PEER-005", "router", "add-paths removed from the reflector's router neighbor",
          exclusive=True, cascades={"ECMP-001": "the router installs one next hop per prefix", **DATA,
                                    "ECMP-004": "scale events no longer change the next hops",
                                    "ECMP-005": "removals may not change the next hops"}),
    Fault("hold-time-zero", "PEER-006", "rr", "lb-web2-node107's exabgp asks hold time 0: no keepalives, "
          "a crash is never detected", touches=(Q107, "node107")),
    Fault("router-id-is-node-ip", "PEER-007", Q106, "lb-web2-node106's exabgp uses router-id = its node IP",
          touches=("node106",)),
    Fault("hash-policy-l3", "ECMP-002", "router", "net.ipv4.fib_multipath_hash_policy = 0 on the router"),
    Fault("exabgp-died", "ECMP-001", "web1", "the exabgp of lb-web1-node107 was killed", cascades=EXABGP_GONE,
          touches=(P107,)),
    Fault("service-filtered-at-router", "ECMP-003", "router", "a route-map on the router drops 10.1.2.0/24",
          cascades={"ECMP-001": "web2 has no route", "PEER-005": "web2's paths are filtered"}),
    Fault("rx-on-one-cpu", "RPS-001", "node105", "rps_cpus = 1 on node105's eth0 (no RSS): one CPU"),
    Fault("overlay-mtu-wrong", "OVERLAY-001", "node106", "lb-web1-node106's eth0 MTU 1450 on a host-gw overlay",
          touches=(P106,)),
    Fault("udp-backend", "OVERLAY-002", "node107", "a flannel0 tun device: the udp backend",
          cascades={"OVERLAY-001": "the backend found differs from the inventory's host-gw"}),
    Fault("web-pod-firewalled", "DATA-001", "web1", "web1-2 drops HTTP from the overlay (its health check "
          "fails too, so IPVS stays consistent)"),
    Fault("controllers-stopped", "IPVS-009", "web1", "every web1 controller stopped: scaling changes no IPVS table",
          cascades={"IPVS-006": "the configs go stale once the check scales", **DATA}),
    Fault("checker-always-up", "IPVS-010", "web1", "web1's health checks replaced by MISC_CHECK /bin/true",
          cascades={"IPVS-009": "the controllers are stopped to keep the edit",
                    "IPVS-006": "the controllers are stopped to keep the edit"}),
    Fault("slow-convergence", "ECMP-004", "web1", "new LB pods start exabgp 15 s late (beyond the SLA)",
          cascades={"ECMP-005": "the scale-up before each removal is slow too"}),
    Fault("no-graceful-withdraw", "ECMP-005", "web1", "LB pods vanish without closing their session, with "
          "hold time 30 s: removals wait for the hold timer", cascades={"PEER-006": "hold time 30 s is reported"}),
)
BY_NAME = {f.name: f for f in FAULTS}


# -- VM side -----------------------------------------------------------------------------------------

def in_pod(pod: str, cmd: str, check: bool = True) -> str:
    return d.sh(d.nsx(pod, cmd), check=check)


def pod_pid(pod: str, container: str) -> int:
    pid = d.pid_of(f"{t.RUN}/pods/{pod}/{container}.pid")
    if not pid:
        raise d.DeployError(f"{pod}/{container} is not running")
    return pid


def web_ip(svc: t.Service, k: int) -> str:
    return t.web_pod(svc, k)[2]


def flag(name: str, value: str | None) -> None:
    FLAGS.mkdir(parents=True, exist_ok=True)
    p = FLAGS / name
    if value is None:
        p.unlink(missing_ok=True)
    else:
        p.write_text(value)


def rewrite_exabgp(svc: t.Service, n: int, text: str, pod: str | None = None) -> None:
    pod = pod or t.lb_pod_name(svc, n)
    d.write(f"{t.VAR}/pods/{pod}/exabgp/exabgp.conf", text)
    d.restart_exabgp(svc, n, pod=pod)


def vtysh(*commands: str) -> str:
    args = " ".join(f"-c '{c}'" for c in commands)
    return d.sh(d.nsx("router", f"vtysh --vty_socket {t.FRR_RUN} {args}"))


def restart_gobgpd(config: str) -> None:
    d.stop_pid(f"{t.RUN}/rr/gobgpd.pid")
    d.start_reflector(config)


def hup_keepalived(pod: str) -> None:
    os.kill(pod_pid(pod, "ipvs"), 1)


def keepalived_conf_dir(pod: str) -> str:
    return f"{t.VAR}/pods/{pod}/keepalived"


# apply and heal, by fault name
def _apply(name: str) -> None:
    if name == "cap-sys-module-dropped":
        d.restart_ipvs(W1, 105, caps="net_admin")
    elif name == "lib-modules-unmounted":
        d.sh(f"nsenter -t {pod_pid(P105, 'ipvs')} -m umount /usr/lib/modules")
    elif name == "ip-vs-blacklisted":
        state = d.load_state()
        pods = [(s, n) for s in t.SERVICES for n in state["lb"].get(s.name, [])]
        for s, n in pods:
            pod = t.lb_pod_name(s, n)
            d.stop_pid(f"{t.RUN}/pods/{pod}/controller.pid")
            d.stop_pid(f"{t.RUN}/pods/{pod}/ipvs.pid")
            in_pod(pod, f"iptables -t nat -D POSTROUTING {d.masq_rule(s)}", check=False)
        d.write("/etc/modprobe.d/lbc-fault-blacklist.conf", "install ip_vs /bin/false\ninstall xt_ipvs /bin/false\n")
        d.sh("rmmod xt_ipvs ip_vs_lc ip_vs", check=False)
        if "ip_vs " in Path("/proc/modules").read_text():
            raise d.DeployError("ip_vs is still loaded: " + d.sh("lsmod | grep ip_vs", check=False))
        for s, n in pods:
            d.ipvs_container(s, t.lb_pod_name(s, n))  # exits at modprobe: that is the fault
        time.sleep(2)
    elif name == "exabgp-without-sys-admin":
        d.restart_exabgp(W1, 106, caps="net_admin")
    elif name == "ipvs-privileged":
        d.restart_ipvs(W1, 107, caps=None)
    elif name == "keepalived-config-broken":
        d.write(f"{keepalived_conf_dir(P107)}/ipvs.d/zz-extra.conf",
                f"! added by hand, unfinished\nvirtual_server {W1.vip} 8080 {{\n    lb_algo rr\n    real_server "
                f"{web_ip(W1, 0)} 8080 {{\n        weight 1\n")
    elif name == "scheduler-changed":
        in_pod(P105, f"ipvsadm -E -f {W1.fwmark} -s rr")
    elif name == "stale-real-server":
        in_pod(P106, f"ipvsadm -a -f {W1.fwmark} -r 172.16.105.99:80 -m -w 1")
    elif name == "missing-real-server":
        in_pod(P107, f"ipvsadm -d -f {W1.fwmark} -r {web_ip(W1, 1)}:80")
    elif name == "weight-drift":
        in_pod(Q106, f"ipvsadm -e -f {W2.fwmark} -r {web_ip(W2, 0)}:80 -m -w 3 -x 20000")
    elif name == "threshold-drift":
        in_pod(Q107, f"ipvsadm -e -f {W2.fwmark} -r {web_ip(W2, 0)}:80 -m -w 1 -x 100")
    elif name == "real-server-without-checker":
        d.write(f"{keepalived_conf_dir(P105)}/ipvs.d/legacy.conf",
                f"! added by hand\nvirtual_server {W1.vip} 80 {{\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n"
                f"    real_server {web_ip(W1, 0)} 80 {{\n        weight 1\n    }}\n}}\n")
        hup_keepalived(P105)
    elif name == "controller-stopped":
        d.stop_pid(f"{t.RUN}/pods/{P106}/controller.pid")
        d.scale_web("web1", 4)
    elif name == "fwmark-rule-deleted":
        in_pod(Q106, f"iptables -t mangle -D PREROUTING {d.mark_rule(W2)}")
    elif name == "masquerade-rule-deleted":
        in_pod(Q107, f"iptables -t nat -D POSTROUTING {d.masq_rule(W2)}")
    elif name == "node-route-deleted":
        d.sh(d.nsx("node106", f"ip route del {W1.prefix} dev {t.BRIDGE}"))
    elif name == "node-route-wrong-bridge":
        d.sh(d.nsx("node107", f"sh -c 'ip link add cni0 type bridge && ip link set cni0 up && "
                              f"ip route replace {W2.prefix} dev cni0'"))
    elif name == "pod-local-route-deleted":
        in_pod(P106, f"ip route del local {W1.prefix} dev eth0 table local")
    elif name == "wrong-next-hop":
        rewrite_exabgp(W1, 107, d.exabgp_conf(W1, 107, t.lb_pod_ip(W1, 107)).replace(
            f"next-hop {t.node_ip(107)}", f"next-hop {t.node_ip(108)}"))
        wait_router(W1.prefix, {t.node_ip(n) for n in (105, 106, 108)})
    elif name == "two-lb-pods-one-node":
        pod = t.second_lb_pod_name(W1, 105)
        d.start_lb(W1, 105, pod=pod)
        state = d.load_state()
        state.setdefault("second", {}).setdefault(W1.name, []).append(105)
        d.save_state(state)
        d.wait_for(lambda: t.second_lb_pod_ip(W1, 105) in d.established(d.rr_sessions()), 300,
                   f"{pod}: no session at rr")
    elif name == "reflector-exemption-missing":
        d.sh(d.nsx("node106", f"iptables -t nat -D POSTROUTING {d.node_masquerade_rules(106)[2]}"))
        for s in t.SERVICES:
            d.restart_exabgp(s, 106)
        gone = {t.lb_pod_ip(s, 106) for s in t.SERVICES}
        d.wait_for(lambda: not gone & set(d.established(d.rr_sessions())), 300, "node106 sessions did not drop")
        time.sleep(5)  # exabgp retries; rr refuses each
    elif name == "dynamic-prefix-covers-nodes":
        cfg = d.gobgpd_config()
        restart_gobgpd(cfg.replace("[[neighbors]]", '[[dynamic-neighbors]]\n  [dynamic-neighbors.config]\n'
                                   f'    prefix = "{t.NODE_NET}"\n    peer-group = "k8s"\n\n[[neighbors]]', 1))
        d.sh(d.nsx("node106", f"iptables -t nat -D POSTROUTING {d.node_masquerade_rules(106)[2]}"))
        for s_ in t.SERVICES:
            d.restart_exabgp(s_, 106)
        d.wait_for(lambda: t.node_ip(106) in d.established(d.rr_sessions()), 300, "no session from node106's IP")
    elif name == "dynamic-prefix-too-narrow":
        restart_gobgpd(d.gobgpd_config().replace(f'prefix = "{t.POD_CIDR}"', 'prefix = "172.16.105.0/24"'))
        d.wait_for(lambda: t.lb_pod_ip(W1, 105) in d.established(d.rr_sessions()), 300, "lb-web1-node105 never peered")
    elif name == "hold-time-zero":
        flag("hold-time", "0")
        conf = d.exabgp_conf(W2, 107, t.lb_pod_ip(W2, 107))
        flag("hold-time", None)
        rewrite_exabgp(W2, 107, conf)
        d.wait_for(lambda: t.lb_pod_ip(W2, 107) in d.established(d.rr_sessions()), 300, "lb-web2-node107 never peered")
    elif name == "router-id-is-node-ip":
        conf = d.exabgp_conf(W2, 106, t.lb_pod_ip(W2, 106))
        rewrite_exabgp(W2, 106, conf.replace(f"router-id {t.lb_pod_ip(W2, 106)};", f"router-id {t.node_ip(106)};"))
    elif name == "pod-peers-router":
        vtysh("configure terminal", f"router bgp {t.AS_NUMBER}", f"neighbor {t.node_ip(106)} remote-as {t.AS_NUMBER}")
        conf = d.exabgp_conf(W1, 106, t.lb_pod_ip(W1, 106))
        extra = conf.replace(f"neighbor {t.REFLECTOR[1]} {{", f"neighbor {t.ROUTER[1]} {{").replace(
            'description "reflector";', 'description "router, directly";')
        rewrite_exabgp(W1, 106, conf + extra)
        d.wait_for(lambda: '"Established"' in vtysh(f"show bgp neighbors {t.node_ip(106)} json"), 300,
                   "the direct session to the router did not come up")
    elif name == "add-paths-missing":
        cfg = d.gobgpd_config()
        cut = cfg.index("  [neighbors.add-paths.config]")
        end = cfg.index("  [[neighbors.afi-safis]]")
        restart_gobgpd(cfg[:cut] + cfg[end:])
        wait_sessions()
        wait_router(W1.prefix, None, count=1)
    elif name == "hash-policy-l3":
        d.sh(d.nsx("router", "sysctl -qw net.ipv4.fib_multipath_hash_policy=0"))
    elif name == "exabgp-died":
        os.kill(pod_pid(P107, "exabgp"), 9)
        wait_router(W1.prefix, {t.node_ip(n) for n in (105, 106)})
    elif name == "service-filtered-at-router":
        vtysh("configure terminal", f"ip prefix-list lbc-fault seq 5 deny {W2.prefix}",
              "ip prefix-list lbc-fault seq 10 permit 0.0.0.0/0 le 32",
              "route-map lbc-fault permit 10", "match ip address prefix-list lbc-fault", "exit",
              f"router bgp {t.AS_NUMBER}", "address-family ipv4 unicast",
              f"neighbor {t.REFLECTOR[1]} route-map lbc-fault in")
        vtysh(f"clear bgp ipv4 unicast {t.REFLECTOR[1]} soft in")
        d.wait_for(lambda: W2.prefix not in d.router_next_hops(), 30, "the filtered route stayed")
    elif name == "rx-on-one-cpu":
        d.sh(d.nsx("node105", "sh -c 'echo 1 > /sys/class/net/eth0/queues/rx-0/rps_cpus'"))
    elif name == "overlay-mtu-wrong":
        in_pod(P106, "ip link set eth0 mtu 1450")
    elif name == "udp-backend":
        d.sh("modprobe tun")  # /dev/net/tun appears (devtmpfs) once the module is loaded
        d.sh(d.nsx("node107", "ip tuntap add flannel0 mode tun"))
    elif name == "web-pod-firewalled":
        name_, _, _ = t.web_pod(W1, 2)
        d.sh(d.nsx(name_, f"iptables -A INPUT -p tcp --dport 80 -s {t.POD_CIDR} -j DROP"))
        gone = web_ip(W1, 2)  # keepalived's checks must take it out first, or IPVS-004 sees the transient
        pods = [t.lb_pod_name(W1, n) for n in d.load_state()["lb"]["web1"]]
        d.wait_for(lambda: not any(f"{gone}:80" in d.ipvs_real_servers(p) for p in pods), 120,
                   f"keepalived never removed the firewalled {gone} from {pods}", interval=1)
    elif name == "controllers-stopped":
        for n in d.load_state()["lb"]["web1"]:
            d.stop_pid(f"{t.RUN}/pods/{t.lb_pod_name(W1, n)}/controller.pid")
    elif name == "checker-always-up":
        for n in d.load_state()["lb"]["web1"]:
            pod = t.lb_pod_name(W1, n)
            d.stop_pid(f"{t.RUN}/pods/{pod}/controller.pid")
            path = Path(keepalived_conf_dir(pod)) / "ipvs.d" / "web1.conf"
            text = path.read_text()
            out, skip = [], 0
            for line in text.splitlines():
                if line.strip().startswith("TCP_CHECK"):
                    out.append(line.replace("TCP_CHECK {", 'MISC_CHECK {\n            misc_path "/bin/true"'))
                    skip = 1
                    continue
                if skip and line.strip() != "}":
                    continue
                if skip:
                    skip = 0
                out.append(line)
            d.write(path, "\n".join(out) + "\n")
            hup_keepalived(pod)
    elif name == "slow-convergence":
        flag("exabgp-delay", "15")
    elif name == "no-graceful-withdraw":
        flag("hold-time", "30")
        flag("vanish", "1")
        for n in d.load_state()["lb"]["web1"]:
            rewrite_exabgp(W1, n, d.exabgp_conf(W1, n, t.lb_pod_ip(W1, n)))
        wait_sessions()
    else:
        raise KeyError(name)


def _heal(name: str) -> None:
    if name in ("cap-sys-module-dropped", "lib-modules-unmounted"):
        d.restart_ipvs(W1, 105)
    elif name == "ip-vs-blacklisted":
        Path("/etc/modprobe.d/lbc-fault-blacklist.conf").unlink(missing_ok=True)
        state = d.load_state()
        for s in t.SERVICES:
            for n in state["lb"].get(s.name, []):
                d.restart_ipvs(s, n)
    elif name == "exabgp-without-sys-admin":
        d.restart_exabgp(W1, 106)
    elif name == "ipvs-privileged":
        d.restart_ipvs(W1, 107)
    elif name == "keepalived-config-broken":
        Path(f"{keepalived_conf_dir(P107)}/ipvs.d/zz-extra.conf").unlink(missing_ok=True)
    elif name == "scheduler-changed":
        in_pod(P105, f"ipvsadm -E -f {W1.fwmark} -s lc")
    elif name == "stale-real-server":
        in_pod(P106, f"ipvsadm -d -f {W1.fwmark} -r 172.16.105.99:80", check=False)
    elif name == "missing-real-server":
        in_pod(P107, f"ipvsadm -a -f {W1.fwmark} -r {web_ip(W1, 1)}:80 -m -w 1 -x 20000", check=False)
    elif name in ("weight-drift", "threshold-drift"):
        pod = Q106 if name == "weight-drift" else Q107
        in_pod(pod, f"ipvsadm -e -f {W2.fwmark} -r {web_ip(W2, 0)}:80 -m -w 1 -x 20000")
    elif name == "real-server-without-checker":
        Path(f"{keepalived_conf_dir(P105)}/ipvs.d/legacy.conf").unlink(missing_ok=True)
        hup_keepalived(P105)
    elif name == "controller-stopped":
        d.scale_web("web1", W1.web_pods)
        d.start_controller(W1, P106)
    elif name == "fwmark-rule-deleted":
        in_pod(Q106, f"iptables -t mangle -A PREROUTING {d.mark_rule(W2)}")
    elif name == "masquerade-rule-deleted":
        in_pod(Q107, f"iptables -t nat -A POSTROUTING {d.masq_rule(W2)}")
    elif name == "node-route-deleted":
        d.sh(d.nsx("node106", f"ip route replace {W1.prefix} dev {t.BRIDGE}"))
    elif name == "node-route-wrong-bridge":
        d.sh(d.nsx("node107", f"sh -c 'ip route replace {W2.prefix} dev {t.BRIDGE}; ip link del cni0'"))
    elif name == "pod-local-route-deleted":
        in_pod(P106, f"ip route replace local {W1.prefix} dev eth0 table local")
    elif name == "wrong-next-hop":
        rewrite_exabgp(W1, 107, d.exabgp_conf(W1, 107, t.lb_pod_ip(W1, 107)))
    elif name == "two-lb-pods-one-node":
        state = d.load_state()
        state.get("second", {}).pop(W1.name, None)
        d.save_state(state)
        d.stop_lb(W1, 105, pod=t.second_lb_pod_name(W1, 105))
        d.sh(d.nsx("node105", f"ip route replace {W1.prefix} dev {t.BRIDGE}"))
    elif name == "reflector-exemption-missing":
        rules = d.sh(d.nsx("node106", "iptables -t nat -S POSTROUTING"))
        if f"-d {t.REFLECTOR[1]}/32" not in rules:
            d.sh(d.nsx("node106", f"iptables -t nat -I POSTROUTING 3 {d.node_masquerade_rules(106)[2]}"))
        d.sh(d.nsx("node106", "sh -c 'conntrack -F 2>/dev/null; true'"))
        for s in t.SERVICES:
            d.restart_exabgp(s, 106)
    elif name in ("dynamic-prefix-covers-nodes", "dynamic-prefix-too-narrow"):
        restart_gobgpd(d.gobgpd_config())
        if name == "dynamic-prefix-covers-nodes":
            _heal("reflector-exemption-missing")
    elif name == "hold-time-zero":
        rewrite_exabgp(W2, 107, d.exabgp_conf(W2, 107, t.lb_pod_ip(W2, 107)))
    elif name == "router-id-is-node-ip":
        rewrite_exabgp(W2, 106, d.exabgp_conf(W2, 106, t.lb_pod_ip(W2, 106)))
    elif name == "pod-peers-router":
        vtysh("configure terminal", f"router bgp {t.AS_NUMBER}", f"no neighbor {t.node_ip(106)}")
        rewrite_exabgp(W1, 106, d.exabgp_conf(W1, 106, t.lb_pod_ip(W1, 106)))
    elif name == "add-paths-missing":
        restart_gobgpd(d.gobgpd_config())
    elif name == "hash-policy-l3":
        d.sh(d.nsx("router", "sysctl -qw net.ipv4.fib_multipath_hash_policy=1"))
    elif name == "exabgp-died":
        d.restart_exabgp(W1, 107)
    elif name == "service-filtered-at-router":
        vtysh("configure terminal", f"router bgp {t.AS_NUMBER}", "address-family ipv4 unicast",
              f"no neighbor {t.REFLECTOR[1]} route-map lbc-fault in", "exit", "exit",
              "no route-map lbc-fault", "no ip prefix-list lbc-fault")
        vtysh(f"clear bgp ipv4 unicast {t.REFLECTOR[1]} soft in")
    elif name == "rx-on-one-cpu":
        d.sh(d.nsx("node105", "sh -c 'echo 3 > /sys/class/net/eth0/queues/rx-0/rps_cpus'"))
    elif name == "overlay-mtu-wrong":
        in_pod(P106, "ip link set eth0 mtu 1500")
    elif name == "udp-backend":
        d.sh(d.nsx("node107", "ip link del flannel0"), check=False)
    elif name == "web-pod-firewalled":
        name_, _, _ = t.web_pod(W1, 2)
        d.sh(d.nsx(name_, f"iptables -D INPUT -p tcp --dport 80 -s {t.POD_CIDR} -j DROP"), check=False)
    elif name in ("controllers-stopped", "checker-always-up"):
        for n in d.load_state()["lb"]["web1"]:
            pod = t.lb_pod_name(W1, n)
            if not d.pid_of(f"{t.RUN}/pods/{pod}/controller.pid"):
                if name == "checker-always-up":  # the controller re-renders the config and reloads
                    Path(keepalived_conf_dir(pod), "ipvs.d", "web1.conf").unlink(missing_ok=True)
                d.start_controller(W1, pod)
    elif name == "slow-convergence":
        flag("exabgp-delay", None)
    elif name == "no-graceful-withdraw":
        flag("hold-time", None)
        flag("vanish", None)
        for n in d.load_state()["lb"]["web1"]:
            rewrite_exabgp(W1, n, d.exabgp_conf(W1, n, t.lb_pod_ip(W1, n)))
    else:
        raise KeyError(name)


def wait_router(prefix: str, hops: set[str] | None, count: int | None = None, timeout: float = 300) -> None:
    def ok():
        got = d.router_next_hops().get(prefix, set())
        return got == hops if hops is not None else len(got) == count
    d.wait_for(ok, timeout, f"router: {prefix} next hops never became {sorted(hops) if hops else count}")


def wait_sessions(timeout: float = 300) -> None:
    state = d.load_state()
    want = {t.lb_pod_ip(s, n) for s in t.SERVICES for n in state["lb"].get(s.name, [])}
    d.wait_for(lambda: want <= set(d.established(d.rr_sessions())), timeout,
               f"rr: not every pod session is Established after {timeout:.0f} s", interval=1)


def applied() -> list[str]:
    try:
        return json.loads(APPLIED.read_text())
    except FileNotFoundError:
        return []


def apply(name: str) -> None:
    if name not in BY_NAME:
        raise KeyError(f"unknown fault {name!r}; `lbconformance lab faults` lists them")
    done = applied()
    if name in done:
        return
    d.write(APPLIED, json.dumps(done + [name]))  # recorded first: a half-applied fault is healed too
    _apply(name)


def heal(timeout: float = 300) -> list[str]:
    """Undo every applied fault (newest first), then wait for the health probe; returns what was healed."""
    done = applied()
    for name in reversed(done):
        _heal(name)
        d.write(APPLIED, json.dumps(applied()[:-1]))
    APPLIED.unlink(missing_ok=True)
    d.wait_ready(timeout)
    return done


def main(argv: list[str]) -> int:
    cmd, args = (argv[0], argv[1:]) if argv else ("", [])
    try:
        if cmd == "apply" and len(args) == 1:
            t0 = time.monotonic()
            with d.deploy_lock():   # a fault may add or restart pods: one placement change at a time
                apply(args[0])
            print(json.dumps({"applied": args[0], "seconds": round(time.monotonic() - t0, 2)}))
        elif cmd == "heal":
            t0 = time.monotonic()
            with d.deploy_lock():
                healed = heal()
            print(json.dumps({"healed": healed, "seconds": round(time.monotonic() - t0, 2)}))
        elif cmd == "applied":
            print(json.dumps(applied()))
        else:
            print(__doc__, file=sys.stderr)
            return 4
    except (d.DeployError, KeyError, OSError) as e:
        print(f"lab fault {cmd}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
