"""Live collection from real hosts: network namespaces on this machine stand in for a node, an LB
pod with two containers and a router; a reflector at a dead address stands in for an unreachable host."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lbconformance.collect import collect
from lbconformance.targets.inventory import load_inventory

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and iproute2 for netns")

NODE, POD, ROUTER = "lbct-node1", "lbct-pod1", "lbct-router1"
PIDDIR = Path("/run/lbc/pods") / POD


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("netns")
    (tmp / "conf.d").mkdir()
    (tmp / "ipvs.conf").write_text("include conf.d/*.conf\n")
    (tmp / "conf.d" / "web.conf").write_text(
        "virtual_server fwmark 1 {\n  lb_algo lc\n  lb_kind NAT\n"
        "  real_server 127.0.0.1 18080 {\n    TCP_CHECK {\n      connect_timeout 1\n    }\n  }\n"
        "  real_server 127.0.0.1 18081 {\n    TCP_CHECK {\n      connect_timeout 1\n    }\n  }\n}\n")
    (tmp / "exabgp.conf").write_text("neighbor 10.0.0.109 {\n  local-address 172.16.1.2;\n  static {\n"
                                     "    route 10.1.1.0/24 next-hop 10.0.0.1;\n  }\n}\n")
    (tmp / "endpoints.json").write_text(json.dumps([{"address": "127.0.0.1", "port": 18080, "ready": True}]))
    procs = []
    created = []
    try:
        for ns in (NODE, POD, ROUTER):
            # this test's own names: a run killed before its teardown leaves them behind
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            sh("ip", "netns", "add", ns)
            created.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", NODE, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
        sh("ip", "-n", NODE, "link", "add", "docker0", "type", "bridge")
        sh("ip", "-n", NODE, "link", "set", "docker0", "up")
        sh("ip", "-n", NODE, "route", "add", "10.1.1.0/24", "dev", "docker0")
        sleeper = "import time; time.sleep(600)"
        listener = "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',18080)); s.listen(); time.sleep(600)"

        def start(args):
            p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            return p

        start(["ip", "netns", "exec", POD, sys.executable, "-c", listener])
        ipvs = start(["ip", "netns", "exec", POD, sys.executable, "-c", sleeper, "-f", str(tmp / "ipvs.conf")])
        exa = start(["ip", "netns", "exec", POD, sys.executable, "-c", sleeper, str(tmp / "exabgp.conf")])
        PIDDIR.mkdir(parents=True, exist_ok=True)
        (PIDDIR / "ipvs.pid").write_text(f"{ipvs.pid}\n")
        (PIDDIR / "exabgp.pid").write_text(f"{exa.pid}\n")
        inv = tmp / "inventory.yaml"
        inv.write_text(f"""
name: netns-test
pod_cidr: 172.16.0.0/16
services:
  - {{name: web, prefix: 10.1.1.0/24, endpoints_file: {tmp}/endpoints.json, endpoints_transport: "local://"}}
nodes:
  - {{name: {NODE}, address: 10.0.0.1, transport: "netns://{NODE}"}}
lb_pods:
  - name: {POD}
    service: web
    node: {NODE}
    address: 172.16.1.2
    transport: "netns://{POD}"
    containers: {{ipvs: "netns://{POD}?container=ipvs", exabgp: "netns://{POD}?container=exabgp"}}
reflectors:
  - {{name: rr, address: 10.0.0.109, transport: "ssh://root@127.0.0.1:1"}}
routers:
  - {{name: {ROUTER}, address: 10.0.0.110, transport: "netns://{ROUTER}", flavour: frr, vtysh: lbct-no-such-vtysh}}
""")
        time.sleep(0.5)
        yield tmp, inv
    finally:
        for p in procs:  # only what this fixture started, by PID
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(PIDDIR, ignore_errors=True)
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture(scope="module")
def snapshot(hosts, tmp_path_factory):
    tmp, inv = hosts
    out = tmp_path_factory.mktemp("snap") / "s"
    return collect(load_inventory(inv), inv.read_text(), out, timeout=10)


def test_node_facts_are_raw_outputs(snapshot):
    routes = json.loads(snapshot.text(NODE, "ip-route.json"))
    assert {"dst": "10.1.1.0/24", "dev": "docker0"}.items() <= routes[0].items() or any(
        r["dst"] == "10.1.1.0/24" and r["dev"] == "docker0" for r in routes)
    assert snapshot.has(NODE, "files/sys/class/net/eth0/queues/rx-0/rps_cpus")
    assert snapshot.text(NODE, "uname-r.txt").strip() == os.uname().release


def test_container_facts_come_from_the_container_process(snapshot):
    status = snapshot.text(POD, "ipvs/proc-status")
    assert "python" in status.splitlines()[0] and "CapEff" in status
    assert snapshot.text(POD, "keepalived-config-path.txt").strip().endswith("ipvs.conf")
    files = sorted(str(p.relative_to(snapshot.root / "hosts" / POD / "files")) for p in
                   (snapshot.root / "hosts" / POD / "files").rglob("*.conf"))
    assert any(f.endswith("conf.d/web.conf") for f in files) and any(f.endswith("exabgp.conf") for f in files)


def test_real_servers_are_probed_from_the_pod(snapshot):
    probes = snapshot.text(POD, "real-server-probes.txt")
    assert "127.0.0.1:18080 up" in probes and "127.0.0.1:18081 down" in probes


def test_failed_command_is_recorded_with_host_command_rc_stderr(snapshot):
    err = snapshot.errors[f"{ROUTER}/frr-bgp-neighbors.json"]
    assert ROUTER in err and "lbct-no-such-vtysh -c 'show bgp neighbors json'" in err and "exited 127" in err


def test_unreachable_host_errors_name_the_host(snapshot):
    errs = {k: v for k, v in snapshot.errors.items() if k.startswith("rr/")}
    assert errs and all("host unreachable" in v and "127.0.0.1:1" in v for v in errs.values())


def test_suite_reports_errors_for_the_broken_hosts_only(snapshot, tmp_path):
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--snapshot", str(snapshot.root),
                        "--report-dir", str(tmp_path), "suites"], cwd=Path(__file__).resolve().parents[2],
                       capture_output=True, text=True, timeout=120)
    doc = json.loads(next(tmp_path.glob("*/results.json")).read_text())
    rr_errors = [r for r in doc["results"] if r["target"] == "rr" and r["outcome"] == "error"]
    assert rr_errors and all("host unreachable" in r["message"] for r in rr_errors), p.stdout[-2000:]
    pod_results = {r["requirement"]: r["outcome"] for r in doc["results"] if r["target"] == POD}
    assert pod_results["ROUTE-001"] == "passed"  # the node routes 10.1.1.0/24 to docker0
    assert pod_results["IPVS-001"] == "passed"  # the include glob was followed inside the container
    assert doc["verdict"] in ("FAIL", "INCOMPLETE")
