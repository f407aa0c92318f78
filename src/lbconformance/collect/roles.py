"""Collectors, one per role: what each host must yield for the static checks (docs/snapshot.md).

A collector runs its host's commands in as few round trips as the facts allow: one batch for what
is known up front, then one more for what the first answers point at (config files named on a
process's command line, include globs, real servers to probe, queue and IRQ files).
"""
from __future__ import annotations

import fnmatch
import posixpath
import shlex

from lbconformance.collect.batch import Fact, Output, script, split
from lbconformance.collect.transport import TransportError
from lbconformance.parse import ParseError, parse_interrupts, parse_keepalived


def versions(*tools: tuple[str, str, str]) -> str:
    """`name version` per tool (name, Debian package, binary): the package manager's version when it knows
    the package (cheap), else the binary's own --version (exabgp's costs seconds on a slow host)."""
    parts = []
    for name, pkg, binary in tools:
        parts.append(f"v=$(dpkg-query -W -f='${{Version}}' {pkg} 2>/dev/null) && [ -n \"$v\" ] && echo \"{name} $v\" || "
                     f"{{ command -v {binary} >/dev/null 2>&1 && echo \"{name} $({binary} --version 2>&1 | grep -v '^$' | head -1)\"; }}")
    parts.append('echo "kernel $(uname -r)"; true')
    return "; ".join(parts)


KEEPALIVED = ("keepalived", "keepalived", "keepalived")
IPVSADM = ("ipvsadm", "ipvsadm", "ipvsadm")
EXABGP = ("exabgp", "exabgp", "exabgp")
GOBGP = ("gobgp", "gobgpd", "gobgpd")
FRR = ("frr", "frr", "/usr/lib/frr/zebra")
# The sysctl keys the checks read (all of `sysctl -a` costs seconds per netns on a slow host);
# -e: a key the kernel lacks (net.ipv4.vs.* before ip_vs loads) is left out, and the check says so.
POD_SYSCTLS = "sysctl -e net.ipv4.vs.conntrack net.ipv4.ip_forward; true"
ROUTER_SYSCTLS = "sysctl -e net.ipv4.fib_multipath_hash_policy net.ipv4.ip_forward; true"


def retried(cmd: str, attempts: int = 8) -> str:
    """A command whose client may time out on a loaded host (gobgp's CLI gives up on its gRPC call after
    a second or so): try again, a second apart. Only the successful attempt's output is kept."""
    return (f"i=0; while :; do out=$({cmd}) && {{ printf '%s\\n' \"$out\"; exit 0; }}; i=$((i+1)); "
            f"[ $i -ge {attempts} ] && {{ printf '%s\\n' \"$out\"; exit 1; }}; sleep 1; done")


def Local(name: str, command: str) -> Fact:  # noqa: N802 (reads like Fact)
    """A kernel-local read (a file, ip, ipvsadm, iptables-save): no per-fact `timeout` (batch.py)."""
    return Fact(name, command, bounded=False)


def cat(path: str) -> str:
    return f"cat {shlex.quote(path)}"


class Host:
    """One transport plus the outputs gathered through it, recorded into the snapshot as they come."""

    def __init__(self, name: str, transport, writer, timeout: float, prefix: str = ""):
        self.name, self.transport, self.writer, self.timeout, self.prefix = name, transport, writer, timeout, prefix
        self.unreachable: str | None = None

    def gather(self, facts: list[Fact], record: bool = True) -> dict[str, Output]:
        """Run facts in one round trip; write successes, record failures as errors."""
        if not facts:
            return {}
        if self.unreachable:
            for f in facts:
                self.writer.error(self.name, self.prefix + f.name, self.unreachable)
            return {}
        text, token = script(facts, self.timeout)
        try:
            res = self.transport.run(text, timeout=self.timeout * len(facts) + 10)
        except TransportError as e:
            self.unreachable = f"host unreachable: {e}"
            for f in facts:
                self.writer.error(self.name, self.prefix + f.name, self.unreachable)
            return {}
        outs = split(res.stdout, facts, token)
        for f in facts:
            o = outs.get(f.name)
            if o is None:
                msg = (f"`{f.command}` on {self.name} via {self.transport.name}: no output "
                       f"(the batch exited {res.rc}: {res.stderr.strip()[-300:]})")
                self.writer.error(self.name, self.prefix + f.name, msg)
            elif o.rc != 0:
                self.writer.error(self.name, self.prefix + f.name,
                                  f"`{f.command}` on {self.name} via {self.transport.name} exited {o.rc}: "
                                  f"{o.stderr.strip()[-300:] or 'no stderr'}")
            elif record:
                self.writer.fact(self.name, self.prefix + f.name, o.stdout)
        return {k: v for k, v in outs.items() if v.rc == 0}

    def files(self, paths) -> dict[str, str]:
        """Copy files verbatim under files/<path>."""
        outs = self.gather([Local(f"files{p}", cat(p)) for p in sorted(set(paths))])
        return {k[len("files"):]: v.stdout for k, v in outs.items()}


def option_value(cmdline: str, short: str, long: str) -> str | None:
    """The value of `-f X`, `-fX`, `--use-file X` or `--use-file=X` in a process command line."""
    words = cmdline.split()
    for i, w in enumerate(words):
        if w in (short, long) and i + 1 < len(words):
            return words[i + 1]
        if w.startswith(long + "="):
            return w.split("=", 1)[1]
        if short and w.startswith(short) and len(w) > len(short) and not w.startswith("--"):
            return w[len(short):]
    return None


# -- LB pod ---------------------------------------------------------------------------------------

def collect_lb_pod(pod, service, pod_host: Host, ipvs: Host, exabgp: Host) -> None:
    pod_host.gather([
        Local("ipvsadm-Ln.txt", "ipvsadm -Ln"),
        Local("ipvsadm-Ln-thresholds.txt", "ipvsadm -Ln --thresholds"),
        Local("iptables-save.txt", "iptables-save"),
        Local("sysctl.txt", POD_SYSCTLS),
        Local("ip-route-local.json", "ip -j route show table local"),
        Local("ip-link.json", "ip -j link"),
        Local("uname-r.txt", "uname -r"),
    ])
    common = [Local("proc-status", "cat /proc/$LBC_PID/status"), Local("mountinfo", "cat /proc/$LBC_PID/mountinfo"),
              Local("cmdline", "tr '\\0' ' ' < /proc/$LBC_PID/cmdline; echo")]
    got = ipvs.gather(common + [Local("lib-modules.txt", "ls -1 /lib/modules"),
                                Fact("versions.txt", versions(KEEPALIVED, IPVSADM))])
    exa = exabgp.gather(common + [Fact("versions.txt", versions(EXABGP))])
    # keepalived's config (from its command line), with includes resolved through the container
    if "cmdline" in got:
        main = option_value(got["cmdline"].stdout, "-f", "--use-file") or "/etc/keepalived/keepalived.conf"
        pod_host.writer.fact(pod_host.name, "keepalived-config-path.txt", main + "\n")
        config = keepalived_files(ipvs, main)
        if config is not None:
            probes = real_server_probes(config)
            if probes:
                pod_host.gather([Fact("real-server-probes.txt", probes)])
    if "cmdline" in exa:
        words = exa["cmdline"].stdout.split()
        confs = [w for w in words[1:] if w.endswith(".conf") or w.endswith(".ini")]
        if confs:
            pod_host.writer.fact(pod_host.name, "exabgp-config-path.txt", confs[-1] + "\n")
            exabgp.prefix = ""
            files = exabgp.files([confs[-1]])
            for path, text in files.items():
                pod_host.writer.fact(pod_host.name, "files" + path, text)
        else:
            pod_host.writer.error(pod_host.name, "exabgp-config-path.txt",
                                  f"no config file on exabgp's command line: {exa['cmdline'].stdout.strip()}")


def keepalived_files(ipvs: Host, main: str):
    """Fetch keepalived's main config and every file its includes match; parse to know the real servers."""
    prefix, ipvs.prefix = ipvs.prefix, ""
    try:
        texts = ipvs.files([main])
        if main not in texts:
            return None
        for _ in range(5):  # includes may include more
            wanted: list[str] = []

            def read(pattern: str, wanted=wanted):
                wanted.append(pattern)
                return sorted((p, t) for p, t in texts.items() if fnmatch.fnmatchcase(p, pattern))

            try:
                config = parse_keepalived(texts[main], main, read)
            except ParseError:
                config = None
            dirs = sorted({posixpath.dirname(p) or "/" for p in wanted})
            if not dirs:
                return config
            listing = ipvs.gather([Local("ls", "for d in " + " ".join(shlex.quote(d) for d in dirs)
                                        + "; do [ -d \"$d\" ] && find \"$d\" -maxdepth 1 -type f; done; true")],
                                  record=False)
            names = listing["ls"].stdout.split() if "ls" in listing else []
            new = [n for n in names if n not in texts and any(fnmatch.fnmatchcase(n, w) for w in wanted)]
            if not new:
                return config
            texts.update(ipvs.files(new))
        return config
    finally:
        ipvs.prefix = prefix


def real_server_probes(config) -> str:
    """A command that TCP-connects to every configured real server from the pod and prints
    `ADDRESS:PORT up|down (reason)`."""
    targets = sorted({(rs.address, rs.port) for vs in config.virtual_servers for rs in vs.real_servers if rs.port})
    if not targets:
        return ""
    py = ("import socket,sys\n"
          "for t in sys.argv[1:]:\n"
          " a,p=t.rsplit(':',1)\n"
          " try:\n  socket.create_connection((a,int(p)),2).close(); print(t,'up')\n"
          " except OSError as e: print(t,'down',f'({e.strerror or e})')\n")
    args = " ".join(f"{a}:{p}" for a, p in targets)
    return (f"if command -v python3 >/dev/null 2>&1; then python3 -c {shlex.quote(py)} {args}; "
            f"else for t in {args}; do a=${{t%:*}}; p=${{t##*:}}; "
            f"if timeout 2 bash -c \"</dev/tcp/$a/$p\" 2>/dev/null; then echo \"$t up\"; else echo \"$t down (connect failed)\"; fi; "
            f"done; fi")


# -- node -----------------------------------------------------------------------------------------

def collect_node(node, host: Host) -> None:
    nic = node.nic
    got = host.gather([
        Local("ip-route.json", "ip -j route show"),
        Local("ip-link.json", "ip -j -d link"),
        Local("proc-modules.txt", "cat /proc/modules"),
        Local("uname-r.txt", "uname -r"),
        Local("proc-interrupts.txt", "cat /proc/interrupts"),
        Local("ethtool-i.txt", f"ethtool -i {shlex.quote(nic)}"),
        Local("ethtool-l.txt", f"ethtool -l {shlex.quote(nic)}"),
        Local("files/sys/devices/system/cpu/online", cat("/sys/devices/system/cpu/online")),
        Fact("versions.txt", versions()),
        Local("rx-queues", f"ls -d /sys/class/net/{shlex.quote(nic)}/queues/rx-* 2>/dev/null; true"),
    ])
    paths = [f"{q}/rps_cpus" for q in got["rx-queues"].stdout.split()] if "rx-queues" in got else []
    if "proc-interrupts.txt" in got:
        try:
            irqs = parse_interrupts(got["proc-interrupts.txt"].stdout, f"{node.name}:/proc/interrupts")
            paths += [f"/proc/irq/{i.irq}/smp_affinity" for i in irqs if i.name.startswith(nic + "-")]
        except ParseError as e:
            host.writer.error(host.name, "files/proc/irq", f"cannot find the NIC's IRQs: {e}")
    host.files(paths)
    # the batch helper listing is not a fact
    rx = host.writer.root / "hosts" / host.name / "rx-queues"
    rx.unlink(missing_ok=True)


# -- BGP speakers ---------------------------------------------------------------------------------

def collect_reflector(rr, host: Host) -> None:
    got = host.gather([
        Fact("gobgp-neighbor.json", retried("gobgp neighbor -j")),
        Fact("gobgp-global-rib.json", retried("gobgp global rib -a ipv4 -j")),
        Fact("versions.txt", versions(GOBGP)),
        Local("cmdline", "ps -o args= -C gobgpd | head -1"),
    ], record=True)
    config = rr.config or (option_value(got["cmdline"].stdout, "-f", "--config-file") if "cmdline" in got else None)
    (host.writer.root / "hosts" / host.name / "cmdline").unlink(missing_ok=True)
    if not config:
        host.writer.error(host.name, "gobgpd-config-path.txt", host.unreachable or "gobgpd's config file is unknown "
                          "(set reflectors[].config in the inventory)")
        return
    host.writer.fact(host.name, "gobgpd-config-path.txt", config + "\n")
    host.files([config])


def collect_router(router, host: Host) -> None:
    facts = [Local("ip-route.json", "ip -j route show"), Local("ip-nexthop.json", "ip -j nexthop"),
             Local("sysctl.txt", ROUTER_SYSCTLS)]
    facts.append(Fact("versions.txt", versions(FRR if router.flavour == "frr" else GOBGP)))
    if router.flavour == "frr":
        vtysh = router.vtysh or "vtysh"
        facts += [Fact("frr-bgp-neighbors.json", f"{vtysh} -c 'show bgp neighbors json'"),
                  Fact("frr-bgp-ipv4.json", f"{vtysh} -c 'show bgp ipv4 unicast json'")]
    else:
        facts += [Fact("gobgp-neighbor.json", retried("gobgp neighbor -j")),
                  Fact("gobgp-global-rib.json", retried("gobgp global rib -a ipv4 -j"))]
    host.gather(facts)


def collect_endpoints(service, host: Host) -> None:
    host.gather([Fact("endpoints.json", cat(service.endpoints_file))])
