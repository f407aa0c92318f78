"""CAP, from the pod spec (Kubernetes targets): what the LB pod asks for, alongside what its processes
hold at runtime (test_caps.py). A spec that asks for privilege or lacks a capability fails here even
when the runtime happens to grant more."""
import json
import posixpath
import re

import pytest

from lbconformance.verdict import out_of_scope, require

SPEC = "pod-spec.json"


def _spec(lb_pod, snapshot) -> dict:
    if not lb_pod.transport.startswith("kubectl://"):
        pytest.skip(out_of_scope("pod specs exist on Kubernetes targets only (--cluster)"))
    return json.loads(snapshot.text(lb_pod.name, SPEC))


def _container(spec: dict, name: str, where: str) -> dict:
    found = [c for c in spec.get("containers", []) if c.get("name") == name]
    require(bool(found), expected=f"a container named {name}",
            observed=f"containers {[c.get('name') for c in spec.get('containers', [])]}", where=where)
    return found[0]


def _caps(container: dict) -> set[str]:
    added = ((container.get("securityContext") or {}).get("capabilities") or {}).get("add") or []
    return {c.upper().removeprefix("CAP_") for c in added}


def _norm(path: str) -> str:
    """A path as the kernel resolves it: `/lib/modules/` and `//lib//modules` are `/lib/modules`."""
    return posixpath.normpath(re.sub("/+", "/", path)) if path else ""


def _host_path(spec: dict, mount: dict) -> str:
    vol = next((v for v in spec.get("volumes", []) if v.get("name") == mount.get("name")), {})
    return _norm((vol.get("hostPath") or {}).get("path", ""))


# The node's network namespace, as a hostPath: PID 1's netns file (or a host /proc holding it), or a
# named netns under /run/netns. /proc/<other pid>/ns/net is some process's netns, maybe a pod's.
NODE_NETNS = ("/proc/1/ns/net", "/proc/1/ns", "/proc/1", "/proc")
NETNS_DIRS = ("/run/netns", "/var/run/netns")


def _is_node_netns(host: str) -> bool:
    return host in NODE_NETNS or any(host == d or host.startswith(d + "/") for d in NETNS_DIRS)


@pytest.mark.requirement("CAP-001")
def test_ipvs_container_spec_adds_net_admin_and_sys_module(lb_pod, snapshot):
    spec = _spec(lb_pod, snapshot)
    where = f"{lb_pod.name} spec.containers[ipvs].securityContext.capabilities.add ({snapshot.evidence(lb_pod.name, SPEC)})"
    missing = sorted({"NET_ADMIN", "SYS_MODULE"} - _caps(_container(spec, "ipvs", where)))
    require(not missing, expected="capabilities.add ⊇ [NET_ADMIN, SYS_MODULE]", observed=f"missing {missing}",
            where=where)


@pytest.mark.requirement("CAP-002")
def test_ipvs_container_spec_mounts_node_lib_modules_read_only(lb_pod, snapshot):
    spec = _spec(lb_pod, snapshot)
    where = f"{lb_pod.name} spec.containers[ipvs].volumeMounts ({snapshot.evidence(lb_pod.name, SPEC)})"
    mounts = [m for m in _container(spec, "ipvs", where).get("volumeMounts", []) if _norm(m.get("mountPath", "")) == "/lib/modules"]
    require(bool(mounts), expected="a volumeMount at /lib/modules", observed="none", where=where)
    host = _host_path(spec, mounts[0])
    require(host == "/lib/modules", expected="hostPath /lib/modules (the node's)",
            observed=f"volume {mounts[0].get('name')!r} with hostPath {host or 'none'}", where=where)
    require(bool(mounts[0].get("readOnly")), expected="readOnly: true", observed="a writable mount", where=where)


@pytest.mark.requirement("CAP-004")
def test_exabgp_container_spec_can_install_node_route(lb_pod, snapshot):
    spec = _spec(lb_pod, snapshot)
    where = f"{lb_pod.name} spec.containers[exabgp] ({snapshot.evidence(lb_pod.name, SPEC)})"
    exabgp = _container(spec, "exabgp", where)
    missing = sorted({"NET_ADMIN", "SYS_ADMIN"} - _caps(exabgp))
    require(not missing, expected="capabilities.add ⊇ [NET_ADMIN, SYS_ADMIN]", observed=f"missing {missing}",
            where=where)
    netns = [(m.get("mountPath"), _host_path(spec, m)) for m in exabgp.get("volumeMounts", [])]
    ok = [m for m in netns if _is_node_netns(m[1])]
    require(bool(ok), expected="the node's netns file mounted (hostPath /proc/1/ns/net or /run/netns/NAME)",
            observed=f"mounts {netns or 'none'}", where=where)


@pytest.mark.requirement("CAP-005")
def test_no_lb_container_spec_is_privileged(lb_pod, snapshot):
    spec = _spec(lb_pod, snapshot)
    where = f"{lb_pod.name} spec.containers[*].securityContext.privileged ({snapshot.evidence(lb_pod.name, SPEC)})"
    privileged = [c.get("name") for c in spec.get("containers", [])
                  if (c.get("securityContext") or {}).get("privileged")]
    require(not privileged, expected="no container with privileged: true",
            observed=f"privileged: {privileged}", where=where)
