"""The --cluster target against the fake API server: the real `kubernetes` client, its real exec stream
over WebSocket (v4.channel.k8s.io), and the same verdicts as the snapshot the fake serves."""
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lbconformance.catalog import load_catalog
from lbconformance.collect.kube import ClusterError, KubeExecTransport, exit_code, load_client
from lbconformance.targets.kubernetes import (
    ClusterOptions,
    ProbePods,
    RestoreFailed,
    cleanup_main,
    deployment_scale,
    discover,
    scaled,
)

from .conftest import FIXTURE, REPO, USER_INVENTORY
from .fakeapi import FakeApiServer

SUITES = str(REPO / "suites")
EXIT_INCOMPLETE = 6


def run_results(pytester, *args):
    """Run the conformance suite in a subprocess: (the pytest run, results.json, the run folder)."""
    before = set((pytester.path / "reports").glob("*")) if (pytester.path / "reports").exists() else set()
    r = pytester.runpytest_subprocess(SUITES, "-p", "no:cacheprovider", *args, timeout=300)
    new = sorted(set((pytester.path / "reports").glob("*")) - before)
    assert new, r.stdout.str()[-3000:]
    doc = json.loads((new[-1] / "results.json").read_text()) if (new[-1] / "results.json").exists() else None
    return r, doc, new[-1]


def by_check(doc):
    return {(r["requirement"], r["target"], r["nodeid"]): r["outcome"] for r in doc["results"]}


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    """One --cluster run against its own fake API server, shared by the checks of that run:
    (stdout+stderr, results.json, the run folder, the server)."""
    tmp = tmp_path_factory.mktemp("cluster-run")
    server = FakeApiServer(FIXTURE).start()
    try:
        kc = server.kubeconfig(tmp / "kubeconfig")
        inv = tmp / "outside.yaml"
        inv.write_text(yaml.safe_dump(USER_INVENTORY, sort_keys=False))
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--cluster={kc}",
                            f"--inventory={inv}", f"--report-dir={tmp / 'reports'}", SUITES], cwd=REPO,
                           capture_output=True, text=True, timeout=300)
    finally:
        server.stop()
    run_dir = next((tmp / "reports").glob("*"))
    return p.stdout + p.stderr, json.loads((run_dir / "results.json").read_text()), run_dir, server


def test_cluster_run_gives_the_verdicts_of_the_snapshot_it_serves(pytester, api_server, kubeconfig, user_inventory):
    r, cluster, _ = run_results(pytester, f"--cluster={kubeconfig}", f"--inventory={user_inventory}")
    _, offline, _ = run_results(pytester, f"--snapshot={FIXTURE}")
    dynamic = {rid for rid, req in load_catalog().items() if req.kind == "dynamic"}
    live, saved = by_check(cluster), by_check(offline)
    spec = {k: v for k, v in live.items() if "test_podspec.py" in k[2]}
    assert set(spec.values()) == {"passed"} and len(spec) == 4 * 5  # 4 pod-spec checks x 5 LB pods
    assert {saved[k] for k in spec} == {"skipped"}  # out of scope: the fixture has no pod specs
    static_live = {k: v for k, v in live.items() if k[0] not in dynamic and k not in spec}
    assert static_live == {k: v for k, v in saved.items() if k[0] not in dynamic and k not in spec}, \
        r.stdout.str()[-3000:]
    assert sum(1 for v in static_live.values() if v == "passed") > 100
    # only the dynamic and pod-spec checks may differ: dynamic ones are live-only, so out of scope offline
    assert {k[0] for k in set(live) | set(saved) if live.get(k) != saved.get(k) and k not in spec} <= dynamic
    # it went through the API: discovery lists, probe pods, and exec over the WebSocket
    assert {("list", "pods"), ("list", "nodes"), ("list", "endpointslices"), ("list", "ingresses"),
            ("create", "pods/exec"), ("create", "pods"), ("delete", "pods")} <= set(api_server.cluster.requests)


def test_cluster_snapshot_holds_the_served_outputs_byte_for_byte(cluster_run):
    _, _, run_dir, _ = cluster_run
    snap = run_dir / "snapshot"
    served = {p.relative_to(FIXTURE) for p in (FIXTURE / "hosts").rglob("*") if p.is_file()}
    got = {p.relative_to(snap) for p in (snap / "hosts").rglob("*") if p.is_file()}
    # the fixture has no versions.txt, and no process command lines: the fake answers `cmdline` from the
    # fixture's *-config-path.txt (FixtureShell.cmdline); everything else is the fixture's bytes
    for rel in sorted(r for r in got if r.name not in ("versions.txt", "cmdline", "pod-spec.json")):
        assert (FIXTURE / rel).is_file() and (snap / rel).read_bytes() == (FIXTURE / rel).read_bytes(), rel
    # every served output was collected, except IRQ files the collector never asks for: it reads only
    # the NIC's queue IRQs (eth0-*), and the fixture's IRQs are virtio ones
    assert {str(r) for r in served - got if not str(r).startswith("hosts/node10")} == set()
    assert all("/files/proc/irq/" in str(r) for r in served - got), sorted(served - got)
    for svc in ("web1", "web2"):  # endpoints from EndpointSlices, in the endpoints-file format
        want = json.loads((FIXTURE / "services" / svc / "endpoints.json").read_text())
        assert json.loads((snap / "services" / svc / "endpoints.json").read_text()) == want
    inv = yaml.safe_load((snap / "inventory.yaml").read_text())
    assert inv["lb_pods"][0]["transport"] == "kubectl://lb/lb-web1-node105?container=ipvs"
    assert [s["prefix"] for s in inv["services"]] == ["10.1.1.0/24", "10.1.2.0/24"]


def test_probe_pods_are_deleted_after_collection(cluster_run):
    server = cluster_run[3]
    assert ("create", "pods") in server.cluster.requests and ("delete", "pods") in server.cluster.requests
    left = [k for k, p in server.cluster.pods.items() if p["metadata"]["labels"].get("lbconformance.io/probe")]
    assert left == []


def test_no_secret_in_the_run_folder_or_output(cluster_run):
    output, _, run_dir, server = cluster_run
    token = server.cluster.token
    assert token not in output
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert len(files) > 50
    leaks = [str(p) for p in files if token.encode() in p.read_bytes()]
    assert leaks == []


def one_line(r, needle: str) -> str:
    lines = [ln for ln in (r.stdout.str() + r.stderr.str()).splitlines() if needle in ln]
    assert len(lines) == 1, lines
    return lines[0]


def test_exec_forbidden_is_one_clear_line(pytester, api_server, kubeconfig, user_inventory):
    api_server.cluster.deny.add(("create", "pods/exec"))
    r, _, _ = run_results(pytester, f"--cluster={kubeconfig}", f"--inventory={user_inventory}")
    assert r.ret == EXIT_INCOMPLETE
    line = one_line(r, "pods/exec")
    assert "RBAC forbids create on pods/exec in namespace lb for system:serviceaccount:lbc:suite (403 Forbidden)" in line
    assert "Traceback" not in r.stdout.str() + r.stderr.str()


@pytest.mark.parametrize("verb, resource, namespace", [("list", "endpointslices", "lb"), ("list", "nodes", None),
                                                       ("list", "pods", None)])
def test_forbidden_names_verb_and_resource(api_server, kubeconfig, verb, resource, namespace):
    api_server.cluster.deny.add((verb, resource))
    with pytest.raises(ClusterError) as e:
        discover(load_client(str(kubeconfig)), ClusterOptions())
    where = f" in namespace {namespace}" if namespace else ""
    assert f"RBAC forbids {verb} on {resource}{where}" in str(e.value) and "\n" not in str(e.value)


def test_expired_credentials_are_one_line_without_the_token(pytester, api_server, tmp_path):
    kc = api_server.kubeconfig(tmp_path / "stale", token="expired-token-0123456789")
    r, _, _ = run_results(pytester, f"--cluster={kc}")
    assert r.ret == EXIT_INCOMPLETE
    line = one_line(r, "401 Unauthorized")
    assert "rejected the credentials of the context fake" in line and "refresh the kubeconfig" in line
    assert "expired-token-0123456789" not in r.stdout.str() + r.stderr.str()


def test_unreachable_api_server(api_server, tmp_path):
    kc = api_server.kubeconfig(tmp_path / "kc")
    api_server.stop()
    with pytest.raises(ClusterError, match=r"^cannot reach the Kubernetes API server at http://127\.0\.0\.1:\d+: "):
        discover(load_client(str(kc)), ClusterOptions())


def test_missing_context_names_the_contexts(kubeconfig):
    with pytest.raises(ClusterError, match=r"has no context 'prod' \(contexts: fake\)"):
        load_client(str(kubeconfig), "prod")


def test_exec_exit_codes_and_large_outputs_over_frames(api_server, kubeconfig):
    api = load_client(str(kubeconfig))
    t = KubeExecTransport("infra", "router", None, api)
    assert t.run("exit 3", 5).rc == 3
    assert t.run("true", 5).rc == 0
    assert exit_code(json.dumps({"status": "Failure", "details": {"causes": [{"reason": "ExitCode",
                                                                              "message": "42"}]}})) == (42, "")
    assert exit_code(json.dumps({"status": "Failure", "message": "container not found"}))[0] == -1
    big = (FIXTURE / "hosts" / "rr" / "gobgp-neighbor.json").read_bytes()
    api_server.cluster.frame = 7  # hundreds of WebSocket frames for one output
    from lbconformance.collect.batch import Fact, script, split
    facts = [Fact("gobgp-neighbor.json", "gobgp neighbor -j")]
    text, token = script(facts, 5)
    t = KubeExecTransport("infra", "rr", None, api)
    out = split(t.run(text, 10).stdout, facts, token)
    assert out["gobgp-neighbor.json"].stdout.encode() == big


def test_probe_pods_cleaned_up_on_failure_and_by_cleanup_command(api_server, kubeconfig, capsys):
    api = load_client(str(kubeconfig))
    opts = ClusterOptions(probe_timeout=10)

    def probes():
        return [k for k, p in api_server.cluster.pods.items() if p["metadata"]["labels"].get("lbconformance.io/probe")]

    with pytest.raises(RuntimeError, match="collection failed"):
        with ProbePods(api, opts, "t1") as pp:
            uris = pp.start(["node105", "node106"])
            assert uris["node105"] == "kubectl://default/lbc-probe-t1-node105?container=probe"
            assert len(probes()) == 2
            raise RuntimeError("collection failed")
    assert probes() == []
    # a run killed hard leaves its pods: `lbconformance cleanup --cluster` removes them
    ProbePods(api, opts, "t2").start(["node107"])
    assert len(probes()) == 1
    from lbconformance.cli import main

    assert main(["cleanup", "--cluster", str(kubeconfig)]) == 0
    assert probes() == [] and "deleted 1 probe pod(s): lbc-probe-t2-node107" in capsys.readouterr().out
    assert cleanup_main(["--cluster", str(kubeconfig), "--namespace", "default"]) == 0


SCALER = """
import sys, time
sys.path.insert(0, {src!r})
from lbconformance.collect.kube import load_client
from lbconformance.targets.kubernetes import scaled
api = load_client({kc!r})
with scaled(api, "lb", "lb-web1", 5):
    print("scaled", flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_replicas_are_restored_after_an_interrupt(api_server, kubeconfig, sig):
    scales = api_server.cluster.scales
    assert scales[("lb", "lb-web1")] == 3
    p = subprocess.Popen([sys.executable, "-c", SCALER.format(src=str(REPO / "src"), kc=str(kubeconfig))],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "scaled", p.stderr.read()
        assert scales[("lb", "lb-web1")] == 5
        p.send_signal(sig)
        p.wait(30)
    finally:
        if p.poll() is None:  # only the process this test started
            p.kill()
            p.wait()
    assert scales[("lb", "lb-web1")] == 3
    assert p.returncode != 0  # the interrupt still ends the run


def test_failed_restore_raises_loudly(api_server, kubeconfig):
    api = load_client(str(kubeconfig))
    with pytest.raises(RestoreFailed) as e:
        with scaled(api, "lb", "lb-web2", 1):
            assert deployment_scale(api, "lb", "lb-web2") == 1
            api_server.cluster.deny.add(("patch", "deployments/scale"))
    msg = str(e.value)
    assert "replicas NOT restored: expected 2, observed" in msg
    assert "kubectl -n lb scale deployment/lb-web2 --replicas=2" in msg


def test_scale_forbidden_names_the_subresource(api_server, kubeconfig):
    api_server.cluster.deny.add(("patch", "deployments/scale"))
    with pytest.raises(ClusterError, match="RBAC forbids patch on deployments/scale in namespace lb"):
        with scaled(load_client(str(kubeconfig)), "lb", "lb-web1", 4):
            pass
    assert api_server.cluster.scales[("lb", "lb-web1")] == 3


def test_watch_events_are_served_in_the_api_shape(api_server, kubeconfig):
    from kubernetes import client, watch

    api = load_client(str(kubeconfig))
    disc = client.DiscoveryV1Api(api)
    events = list(watch.Watch().stream(disc.list_namespaced_endpoint_slice, "lb", timeout_seconds=2,
                                       label_selector="kubernetes.io/service-name=web1"))
    assert [e["type"] for e in events] == ["ADDED"]
    assert {a for ep in events[0]["object"].endpoints for a in ep.addresses} == {
        "172.16.105.10", "172.16.106.10", "172.16.108.10"}


def test_inventory_cluster_section_is_validated(tmp_path, kubeconfig):
    from lbconformance.targets.kubernetes import cluster_snapshot
    from lbconformance.yamlfile import InputError

    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster:\n  lb_selektor: app=x\n")
    with pytest.raises(InputError, match=r"bad.yaml:2: field cluster.lb_selektor: unknown"):
        cluster_snapshot(str(kubeconfig), None, str(bad), tmp_path / "out")


def test_deploy_manifests_validate_and_match_the_discovery_defaults():
    import kubernetes_validate

    docs = [d for p in sorted((REPO / "deploy").glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    for d in docs:
        kubernetes_validate.validate(d, "1.30.0", strict=True)
    kinds = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    lb = kinds[("Deployment", "lb-web1")]["spec"]["template"]
    opts = ClusterOptions()
    labels = lb["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in (t.split("=") for t in opts.lb_selector.split(",")))
    assert labels[opts.service_label] == "web1"
    c = {x["name"]: x for x in lb["spec"]["containers"]}
    assert set(c) == {opts.ipvs_container, opts.exabgp_container}
    assert c["ipvs"]["securityContext"]["capabilities"]["add"] == ["NET_ADMIN", "SYS_MODULE"]
    assert c["exabgp"]["securityContext"]["capabilities"]["add"] == ["NET_ADMIN", "SYS_ADMIN"]
    assert not any(x["securityContext"].get("privileged") for x in c.values())
    assert {"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": True} in c["ipvs"]["volumeMounts"]
    assert any(m["mountPath"] == "/var/run/netns/node" for m in c["exabgp"]["volumeMounts"])
    assert {e["name"] for e in c["exabgp"]["env"]} >= {"POD_IP", "NODE_IP", "PREFIX"}
    anti = lb["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["topologyKey"] == "kubernetes.io/hostname"
    assert anti["labelSelector"]["matchLabels"][opts.service_label] == "web1"
    assert kinds[("Ingress", "web1")]["spec"]["ingressClassName"] == opts.ingress_class
    # the suite's RBAC: exactly what the brief lists, the disruptive part in its own Role
    read = {(r["apiGroups"][0], res, v) for r in kinds[("ClusterRole", "lbconformance-read")]["rules"]
            for res in r["resources"] for v in r["verbs"]}
    want = {(g, res, v) for g, res in (("", "pods"), ("", "nodes"), ("discovery.k8s.io", "endpointslices"),
                                       ("networking.k8s.io", "ingresses")) for v in ("get", "list", "watch")}
    want |= {("", "pods/exec", "get"), ("", "pods/exec", "create"), ("", "pods", "create"), ("", "pods", "delete")}
    assert read == want
    disruptive = kinds[("Role", "lbconformance-disruptive")]["rules"]
    assert disruptive == [{"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]}]


def test_controller_reads_endpoints_from_endpointslices(api_server, kubeconfig):
    from lbconformance.controller import Endpoint
    from lbconformance.controller.kubernetes import EndpointSliceSource

    src = EndpointSliceSource("web2", "lb", kubeconfig=str(kubeconfig))
    assert src.read() == [Endpoint("172.16.107.10", 80, True), Endpoint("172.16.108.11", 80, True)]
    assert src.wait(2) is True  # the watch's first event
    api_server.cluster.deny.add(("list", "endpointslices"))
    with pytest.raises(ClusterError, match="RBAC forbids list on endpointslices in namespace lb"):
        src.read()


def test_privileged_pod_spec_fails_next_to_the_runtime_check(pytester, api_server, kubeconfig, user_inventory):
    pod = api_server.cluster.pods[("lb", "lb-web1-node106")]
    pod["spec"]["containers"][1]["securityContext"]["privileged"] = True
    pod["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = False
    r, doc, _ = run_results(pytester, f"--cluster={kubeconfig}", f"--inventory={user_inventory}")
    failed = {(x["requirement"], x["nodeid"].split("::")[1].split("[")[0]): x for x in doc["results"]
              if x["target"] == "lb-web1-node106" and x["outcome"] == "failed"}
    assert set(failed) == {("CAP-005", "test_no_lb_container_spec_is_privileged"),
                           ("CAP-002", "test_ipvs_container_spec_mounts_node_lib_modules_read_only")}, failed
    priv = failed[("CAP-005", "test_no_lb_container_spec_is_privileged")]
    assert priv["observed"] == "privileged: ['exabgp']" and "pod-spec.json" in priv["where"]
    spec = json.loads(next(Path(pytester.path).glob("reports/*/snapshot/hosts/lb-web1-node106/pod-spec.json")).read_text())
    assert "env" not in json.dumps(spec)  # env values may be secrets: never in the snapshot


def _ipvs(spec):
    return spec["containers"][0]


def _exabgp(spec):
    return spec["containers"][1]


def _ipvs_lost_sys_module(spec):
    _ipvs(spec)["securityContext"]["capabilities"]["add"] = ["NET_ADMIN"]


def _lib_modules_from_a_copy(spec):
    """A copy made at deploy time instead of the node's modules: stale after a kernel upgrade."""
    spec["volumes"][0]["hostPath"]["path"] = "/opt/lb/modules"


def _lib_modules_unmounted(spec):
    _ipvs(spec)["volumeMounts"] = []


def _exabgp_lost_sys_admin(spec):
    _exabgp(spec)["securityContext"]["capabilities"]["add"] = ["NET_ADMIN"]


def _node_netns_not_mounted(spec):
    _exabgp(spec)["volumeMounts"] = []


def _node_netns_of_another_process(spec):
    """/proc/4242/ns/net is some process's netns (maybe a pod's), not the node's."""
    spec["volumes"][1]["hostPath"]["path"] = "/proc/4242/ns/net"


# one broken pod spec per way a pod-spec check can fail: (pod, the fault, the check that must fail,
# its expected, its observed, the container its `where` names)
BROKEN_POD_SPECS = [
    pytest.param("lb-web1-node105", _ipvs_lost_sys_module, "CAP-001",
                 "test_ipvs_container_spec_adds_net_admin_and_sys_module",
                 "capabilities.add ⊇ [NET_ADMIN, SYS_MODULE]", "missing ['SYS_MODULE']",
                 "spec.containers[ipvs].securityContext.capabilities.add", id="ipvs-lost-sys-module"),
    pytest.param("lb-web1-node107", _lib_modules_from_a_copy, "CAP-002",
                 "test_ipvs_container_spec_mounts_node_lib_modules_read_only",
                 "hostPath /lib/modules (the node's)", "volume 'modules' with hostPath /opt/lb/modules",
                 "spec.containers[ipvs].volumeMounts", id="lib-modules-not-the-nodes"),
    pytest.param("lb-web2-node106", _lib_modules_unmounted, "CAP-002",
                 "test_ipvs_container_spec_mounts_node_lib_modules_read_only",
                 "a volumeMount at /lib/modules", "none", "spec.containers[ipvs].volumeMounts",
                 id="lib-modules-unmounted"),
    pytest.param("lb-web2-node107", _exabgp_lost_sys_admin, "CAP-004",
                 "test_exabgp_container_spec_can_install_node_route",
                 "capabilities.add ⊇ [NET_ADMIN, SYS_ADMIN]", "missing ['SYS_ADMIN']",
                 "spec.containers[exabgp]", id="exabgp-lost-sys-admin"),
    pytest.param("lb-web1-node106", _node_netns_not_mounted, "CAP-004",
                 "test_exabgp_container_spec_can_install_node_route",
                 "the node's netns file mounted (hostPath /proc/1/ns/net or /run/netns/NAME)", "mounts none",
                 "spec.containers[exabgp]", id="node-netns-not-mounted"),
    pytest.param("lb-web1-node105", _node_netns_of_another_process, "CAP-004",
                 "test_exabgp_container_spec_can_install_node_route",
                 "the node's netns file mounted (hostPath /proc/1/ns/net or /run/netns/NAME)",
                 "mounts [('/var/run/netns/node', '/proc/4242/ns/net')]", "spec.containers[exabgp]",
                 id="netns-of-another-process"),
]


def test_equivalent_host_paths_pass(pytester, api_server, kubeconfig, user_inventory):
    """`/lib/modules/` is the node's /lib/modules, and a named netns under /var/run/netns is the node's:
    no pod-spec check fails on a path spelled differently."""
    spec = api_server.cluster.pods[("lb", "lb-web1-node105")]["spec"]
    spec["volumes"][0]["hostPath"]["path"] = "/lib/modules/"
    _ipvs(spec)["volumeMounts"][0]["mountPath"] = "//lib/modules/"
    spec["volumes"][1]["hostPath"]["path"] = "/var/run/netns/node105"
    r, doc, _ = run_results(pytester, f"--cluster={kubeconfig}", f"--inventory={user_inventory}")
    spec_results = [x for x in doc["results"] if "test_podspec.py" in x["nodeid"]]
    assert len(spec_results) == 4 * 5, r.stdout.str()[-3000:]
    assert [x["outcome"] for x in spec_results] == ["passed"] * 20, [(x["nodeid"], x["message"]) for x in spec_results
                                                                      if x["outcome"] != "passed"]


@pytest.mark.parametrize("pod, fault, requirement, check, expected, observed, container", BROKEN_POD_SPECS)
def test_broken_pod_spec_fails_exactly_its_check(pytester, api_server, kubeconfig, user_inventory, pod, fault,
                                                 requirement, check, expected, observed, container):
    """Each pod-spec check can fail: one pod's spec broken one way fails that check on that pod only, and
    says what it expected, what it saw, and in which pod and container."""
    fault(api_server.cluster.pods[("lb", pod)]["spec"])
    r, doc, _ = run_results(pytester, f"--cluster={kubeconfig}", f"--inventory={user_inventory}")
    spec = {(x["requirement"], x["target"], x["nodeid"].split("::")[1].split("[")[0]): x
            for x in doc["results"] if "test_podspec.py" in x["nodeid"]}
    assert len(spec) == 4 * 5, r.stdout.str()[-3000:]  # 4 pod-spec checks x 5 LB pods
    failed = {k for k, x in spec.items() if x["outcome"] != "passed"}
    assert failed == {(requirement, pod, check)}, {k: spec[k]["outcome"] for k in failed}
    got = spec[(requirement, pod, check)]
    assert got["outcome"] == "failed"
    assert (got["expected"], got["observed"]) == (expected, observed)
    assert got["where"].startswith(f"{pod} {container}") and "pod-spec.json" in got["where"], got["where"]


def test_exec_timeout_gives_rc_124_in_time(api_server, kubeconfig):
    import time

    t = KubeExecTransport("infra", "router", None, load_client(str(kubeconfig)))
    t0 = time.monotonic()
    res = t.run("sleep 5", 1)
    assert res.rc == 124 and "timed out after 1 s" in res.stderr
    assert time.monotonic() - t0 < 5, "the exec was not cut off before the command's own end"  # not a speed check


def test_user_inventory_completes_and_overrides_the_discovered_one(api_server, kubeconfig):
    from lbconformance.targets.kubernetes import cluster_inventory

    api = load_client(str(kubeconfig))
    user = {"name": "prod", "nodes": [{"name": "node105", "transport": "ssh://root@10.0.0.105", "nic": "eno1"},
                                      {"name": "edge1", "address": "10.0.0.200", "transport": "ssh://edge1"}],
            "services": [{"name": "web1", "vip": "10.1.1.9"}],
            "reflectors": USER_INVENTORY["reflectors"], "routers": USER_INVENTORY["routers"]}
    inv, text, endpoints = cluster_inventory(api, ClusterOptions(), user, {"node106": "kubectl://default/p"})
    nodes = {n.name: n for n in inv.nodes}
    assert nodes["node105"].transport == "ssh://root@10.0.0.105" and nodes["node105"].nic == "eno1"
    assert nodes["node105"].address == "10.0.0.105"  # discovered InternalIP kept
    assert nodes["node106"].transport == "kubectl://default/p" and nodes["node107"].transport == ""
    assert "edge1" in nodes and inv.service("web1").vip == "10.1.1.9" and inv.service("web2").vip == "10.1.2.1"
    assert inv.pod_cidr == "172.16.104.0/21"  # no pod_cidr given: the nodes' podCIDRs, covered
    assert inv.name == "prod" and {p.name for p in inv.lb_pods} == {
        "lb-web1-node105", "lb-web1-node106", "lb-web1-node107", "lb-web2-node106", "lb-web2-node107"}
    assert "token" not in text
