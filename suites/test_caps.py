"""CAP: the LB containers hold exactly the privileges the architecture needs (seed §5.2, Fig 5.5)."""
import pytest

from lbconformance.verdict import require

IPVS_CAPS = {"CAP_NET_ADMIN", "CAP_SYS_MODULE"}
EXABGP_CAPS = {"CAP_NET_ADMIN", "CAP_SYS_ADMIN"}
MODULES_MOUNT_POINTS = ("/lib/modules", "/usr/lib/modules")
# A privileged container holds every capability the kernel knows; CAP_AUDIT_READ (37) is in every
# kernel since 3.16, so holding all of 0..37 means "privileged" for any kernel the seed could run.
FULL_SET_UP_TO_AUDIT_READ = 38


def _missing(status, wanted):
    return sorted(wanted - status.cap_eff)


@pytest.mark.requirement("CAP-001")
def test_ipvs_container_has_net_admin_and_sys_module(lb_pod, facts):
    status = facts.proc_status(lb_pod.name, "ipvs")
    missing = _missing(status, IPVS_CAPS)
    require(not missing, expected=f"CapEff ⊇ {sorted(IPVS_CAPS)}",
            observed=f"missing {missing} (CapEff {status.cap_eff_mask:016x})",
            where=facts.where(lb_pod.name, "ipvs/proc-status"))


@pytest.mark.requirement("CAP-002")
def test_lib_modules_is_mounted_read_only_with_running_kernel(lb_pod, facts):
    # on a merged-/usr image /lib is a symlink, and the mount shows at the path it resolves to
    mounts = [m for m in facts.mountinfo(lb_pod.name, "ipvs") if m.mount_point in MODULES_MOUNT_POINTS]
    where = facts.where(lb_pod.name, "ipvs/mountinfo")
    require(bool(mounts), expected="a mount at /lib/modules (the node's, hostPath)",
            observed="no mount at /lib/modules", where=where)
    top = mounts[-1]  # the last mount at a point is the visible one
    require(top.read_only, expected="/lib/modules mounted read-only",
            observed=f"mounted with options {','.join(top.options)}", where=where)
    kernel = facts.uname_r(lb_pod.name)
    present = facts.lib_modules(lb_pod.name)
    require(kernel in present, expected=f"/lib/modules/{kernel} (uname -r)",
            observed=f"/lib/modules holds {present or 'nothing'}", where=facts.where(lb_pod.name, "ipvs/lib-modules.txt"))


@pytest.mark.requirement("CAP-003")
def test_ip_vs_module_is_loaded(lb_node, facts):
    modules = facts.modules(lb_node.name)
    require("ip_vs" in modules, expected="ip_vs in /proc/modules",
            observed=f"ip_vs absent ({len(modules)} modules loaded)", where=facts.where(lb_node.name, "proc-modules.txt"))


@pytest.mark.requirement("CAP-004")
def test_exabgp_container_can_install_node_route(lb_pod, facts):
    status = facts.proc_status(lb_pod.name, "exabgp")
    missing = _missing(status, EXABGP_CAPS)
    require(not missing, expected=f"CapEff ⊇ {sorted(EXABGP_CAPS)}",
            observed=f"missing {missing} (CapEff {status.cap_eff_mask:016x})",
            where=facts.where(lb_pod.name, "exabgp/proc-status"))
    netns = [m for m in facts.mountinfo(lb_pod.name, "exabgp") if m.fs_type == "nsfs"]
    require(bool(netns), expected="the node's network namespace file mounted (an nsfs mount)",
            observed="no nsfs mount", where=facts.where(lb_pod.name, "exabgp/mountinfo"))


@pytest.mark.requirement("CAP-005")
@pytest.mark.parametrize("container", ["ipvs", "exabgp"])
def test_no_lb_container_is_privileged(lb_pod, container, facts):
    status = facts.proc_status(lb_pod.name, container)
    held = sum(1 for bit in range(FULL_SET_UP_TO_AUDIT_READ) if status.cap_eff_mask >> bit & 1)
    full = held == FULL_SET_UP_TO_AUDIT_READ
    require(not full, expected="only the capabilities the container needs (not privileged)",
            observed=f"every capability effective (CapEff {status.cap_eff_mask:016x}): privileged",
            where=facts.where(lb_pod.name, f"{container}/proc-status"))
