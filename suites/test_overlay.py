"""OVERLAY: the overlay backend is known and its MTU is consistent (seed §3.1, Table 3.1, §6.1.3)."""
import pytest

from lbconformance.verdict import require

MTU = {"host-gw": 1500, "vxlan": 1450, "udp": 1472}


def backend(links):
    """flannel's devices tell the backend: flannel.1 (vxlan), flannel0 (tun, udp), none (host-gw)."""
    by_name = {ln.get("ifname"): ln for ln in links}
    if "flannel0" in by_name:
        return "udp", "flannel0"
    vx = [n for n, ln in by_name.items() if (ln.get("linkinfo") or {}).get("info_kind") == "vxlan" or n == "flannel.1"]
    if vx:
        return "vxlan", vx[0]
    return "host-gw", None


@pytest.mark.requirement("OVERLAY-001")
def test_overlay_mode_is_identified_and_mtu_matches(lb_node, inventory, facts):
    links = facts.links(lb_node.name)
    mode, dev = backend(links)
    where = facts.where(lb_node.name, "ip-link.json")
    require(inventory.overlay in ("unknown", mode), expected=f"overlay {inventory.overlay} (inventory)",
            observed=f"{mode} (from {dev or 'no flannel device'})", where=where)
    mtus = {ln.get("ifname"): ln.get("mtu") for ln in links}
    bridge_mtu = mtus.get(lb_node.bridge)
    pod_mtus = {}
    for pod in inventory.lb_pods:
        if pod.node == lb_node.name:
            pod_mtus[pod.name] = {ln.get("ifname"): ln.get("mtu") for ln in facts.links(pod.name)}.get(pod.interface)
    wrong = {k: v for k, v in [(lb_node.bridge, bridge_mtu)] + list(pod_mtus.items()) if v != MTU[mode]}
    require(not wrong, expected=f"MTU {MTU[mode]} for {mode} on {lb_node.bridge} and the LB pods' interfaces",
            observed=", ".join(f"{k} MTU {v}" for k, v in wrong.items()), where=where)


@pytest.mark.requirement("OVERLAY-002")
def test_overlay_is_not_the_udp_backend(lb_node, inventory, facts):
    mode, dev = backend(facts.links(lb_node.name))
    require(mode != "udp" and inventory.overlay != "udp", expected="a kernel backend (host-gw or vxlan), not udp",
            observed=f"udp backend ({dev or 'declared in the inventory'})", where=facts.where(lb_node.name, "ip-link.json"))
