"""Bench (dynamic/bench.py) against a fake orchestrator: what it runs where, and that cleanup undoes it."""
import re

import pytest

from lbconformance.dynamic.bench import CHAIN, Bench, BenchError


class FakeOrch:
    """Keeps the state the commands would change: qdiscs per (host, dev), nat rules per pod, nginx."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.qdisc: dict = {}
        self.nat: dict = {}
        self.nginx: set = set()

    def run(self, host, cmd, timeout=60):
        self.calls.append((host, cmd))
        if cmd == "cat /sys/class/net/eth0/iflink":
            return 0, "7\n", ""
        if cmd == "ip -o link show":
            return 0, "1: lo: <LOOPBACK>\n7: lb1@if2: <BROADCAST> mtu 1500\n", ""
        if cmd == "cat /sys/class/net/eth0/address":
            return 0, "02:00:00:00:00:01\n", ""
        for dev in re.findall(r"tc qdisc del dev (\S+) root", cmd):
            self.qdisc.pop((host, dev), None)
        for dev in re.findall(r"tc qdisc add dev (\S+) root", cmd):
            self.qdisc[(host, dev)] = "htb"
        if "iptables -t nat -N" in cmd:
            self.nat[host] = cmd
        if f"iptables -t nat -X {CHAIN}" in cmd:
            self.nat.pop(host, None)
        if cmd.startswith("nginx -e"):
            self.nginx.add(host)
        if "kill -QUIT" in cmd:
            self.nginx.clear()
        if cmd.startswith("tc qdisc show dev") or cmd.startswith("tc qdisc show dev eth0;"):
            dev = cmd.split()[4].rstrip(";")
            out = self.qdisc.get((host, dev), "noqueue") + ("\n" + self.nat[host] if host in self.nat else "")
            return 0, out, ""
        if cmd.startswith("pgrep"):
            return 0, "".join(f"99 nginx: master /tmp/lbc-bench/nginx-{p}\n" for p in self.nginx), ""
        if cmd.startswith("tc -s qdisc show dev eth0"):
            return 0, "qdisc htb 1: root refcnt 2 r2q 10 default 0x10\n Sent 12345 bytes 67 pkt (dropped 0)\n", ""
        if cmd.startswith("wrk "):
            return 0, "  100 requests in 1.00s, 1KB read\nRequests/sec: 100.00\n", ""
        return 0, "", ""


def test_shape_both_ends_and_cleanup():
    orch = FakeOrch()
    b = Bench(orch)
    b.shape("lb-web1-node105", "node105", 1e6)
    s = b.shape("lb-web1-node105", "node105", 2e6)     # again, at another rate: replaces the first
    assert s.peer == "lb1"
    assert set(orch.qdisc) == {("lb-web1-node105", "eth0"), ("node105", "lb1")}
    cmds = [c for h, c in orch.calls if "htb rate" in c][2:]
    assert len(cmds) == 2 and all("rate 2000000bit ceil 2000000bit" in c for c in cmds)
    assert b.tc_sent("lb-web1-node105") == (12345, 67)
    assert b.leftovers({"lb-web1-node105": "node105"}) == ["lb-web1-node105: htb still there",
                                                           "node105: htb still on lb1 (lb-web1-node105's peer)"]
    b.cleanup()
    assert orch.qdisc == {} and b.shaped == {}
    assert b.leftovers({"lb-web1-node105": "node105"}) == []


def test_flavours_are_removed():
    orch = FakeOrch()
    b = Bench(orch)
    url = b.add_dnat("pod", "10.1.1.1", ["172.16.105.11:80", "172.16.106.11:80", "172.16.107.11:80"])
    assert url == "http://10.1.1.1:8081/"
    rules = orch.nat["pod"]
    assert "--probability 0.333333" in rules and "--probability 0.500000" in rules
    assert rules.count("DNAT --to-destination") == 3 and "MASQUERADE" in rules
    assert b.add_nginx("pod", "10.1.1.1", ["172.16.105.11:80"]) == "http://10.1.1.1:8082/"
    conf = next(c for h, c in orch.calls if "nginx.conf <<" in c)
    assert "listen 10.1.1.1:8082" in conf and "server 172.16.105.11:80;" in conf and "keepalive_requests 100" in conf
    assert any("nginx" in x for x in b.leftovers({}))
    b.cleanup()
    assert orch.nat == {} and orch.nginx == set() and b.flavours == []
    assert b.leftovers({}) == []


def test_wrk_runs_in_the_client_and_errors_name_the_command():
    orch = FakeOrch()
    b = Bench(orch)
    res = b.wrk("http://10.1.1.1:80/", 8, 1)
    assert res.requests == 100
    assert ("client", "wrk -t2 -c8 -d1s --timeout 5s --latency -s /tmp/lbc-bench/wrk-cdf.lua http://10.1.1.1:80/") \
        in orch.calls
    orch.run = lambda host, cmd, timeout=60: (1, "", "boom")
    with pytest.raises(BenchError, match=r"`cat /sys/class/net/eth0/iflink` in p exited 1: boom"):
        b.peer_of("p", "node105")
