"""RPS: receive processing on LB nodes uses more than one CPU; reference hardware shows its figures (§3.2, §6.1.2)."""
import pytest

from lbconformance.verdict import require

HW = ("bcm5720", "x550")


def rx_irqs(interrupts, nic):
    """The NIC's receive-queue IRQs (tg3 eth0-rx-N, ixgbe eth0-TxRx-N, virtio/mlx names with 'rx' or 'TxRx')."""
    return [i for i in interrupts if i.name.startswith(nic + "-") and ("rx" in i.name.lower())]


@pytest.mark.requirement("RPS-001")
def test_rx_processing_is_spread_over_cpus(lb_node, facts):
    rps = facts.rps_masks(lb_node.name, lb_node.nic)
    rps_cpus = set().union(*(m.cpus for m in rps.values())) if rps else set()
    irqs, rss_cpus = [], set()
    if len(rps_cpus) <= 1:  # RPS does not spread: RSS must
        irqs = rx_irqs(facts.interrupts(lb_node.name), lb_node.nic)
    if len(irqs) > 1:
        for i in irqs:
            rss_cpus |= facts.irq_affinity(lb_node.name, i.irq).cpus
    spread = len(rps_cpus) > 1 or len(rss_cpus) > 1
    masks = ", ".join(f"{q} {m.value:x}" for q, m in rps.items())
    require(spread, expected="RPS (rps_cpus) or RSS (rx IRQ affinities) covering more than one CPU",
            observed=f"rps_cpus {masks or 'none'}; {len(irqs)} rx IRQs covering CPUs {sorted(rss_cpus)}",
            where=f"{lb_node.name}: files/sys/class/net/{lb_node.nic}/queues/rx-*/rps_cpus, proc-interrupts.txt")


@pytest.mark.requirement("RPS-002")
@pytest.mark.profile(*HW)
def test_nic_uses_the_profile_driver(lb_node, profile, facts):
    want = profile["nic"]["driver"]
    got = facts.driver(lb_node.name).driver
    require(got == want, expected=f"driver {want} ({profile['name']})", observed=f"driver {got}",
            where=facts.where(lb_node.name, "ethtool-i.txt"))


def expected_channels(profile, cpus):
    want = {}
    for key, value in profile["nic"]["channels"].items():
        want[key] = min(cpus, value["min_of_cpus_and"]) if isinstance(value, dict) else value
    return want


@pytest.mark.requirement("RPS-003")
@pytest.mark.profile(*HW)
def test_nic_has_the_profile_queue_counts(lb_node, profile, facts):
    cpus = facts.cpus(lb_node.name)
    if profile.get("cpus"):
        require(cpus == profile["cpus"], expected=f"{profile['cpus']} CPUs ({profile['name']})",
                observed=f"{cpus} CPUs", where=facts.where(lb_node.name, "files/sys/devices/system/cpu/online"))
    want = expected_channels(profile, cpus)
    ch = facts.channels(lb_node.name)
    got = {k: getattr(ch, k) for k in want}
    require(got == want, expected=f"channels {want}", observed=f"channels {got} ({cpus} CPUs)",
            where=facts.where(lb_node.name, "ethtool-l.txt"))


@pytest.mark.requirement("RPS-004")
@pytest.mark.profile(*HW)
def test_queue_irqs_have_profile_names_and_affinity(lb_node, profile, facts):
    spec = profile["nic"]["irqs"]
    nic = lb_node.nic
    if "names" in spec:
        names = [n.format(nic=nic) for n in spec["names"]]
    else:
        count = expected_channels(profile, facts.cpus(lb_node.name))[spec["count"]]
        names = [spec["pattern"].format(nic=nic, i=i) for i in range(count)]
    irqs = {i.name: i for i in facts.interrupts(lb_node.name) if i.name.startswith(nic + "-")}
    where = facts.where(lb_node.name, "proc-interrupts.txt")
    require(sorted(irqs) == sorted(names), expected=f"IRQs {names}", observed=f"IRQs {sorted(irqs)}", where=where)
    if spec.get("smp_affinity") is not None:
        want = int(spec["smp_affinity"], 16)
        wrong = {n: f"{facts.irq_affinity(lb_node.name, irqs[n].irq).value:x}" for n in names
                 if facts.irq_affinity(lb_node.name, irqs[n].irq).value != want}
        require(not wrong, expected=f"smp_affinity {spec['smp_affinity']} on {names}", observed=f"{wrong}",
                where=f"{lb_node.name}: files/proc/irq/*/smp_affinity")


@pytest.mark.requirement("RPS-005")
@pytest.mark.profile(*HW)
def test_rx_queues_have_profile_rps_mask(lb_node, profile, facts):
    spec = profile["nic"]["rps_cpus"]
    masks = facts.rps_masks(lb_node.name, lb_node.nic)
    queues = sorted(masks) if spec["queues"] == "all" else spec["queues"]
    want = int(spec["mask"], 16)
    wrong = {q: (f"{masks[q].value:x}" if q in masks else "missing") for q in queues
             if q not in masks or masks[q].value != want}
    require(bool(queues) and not wrong, expected=f"rps_cpus {spec['mask']} on {queues}", observed=f"{wrong or 'no rx queues'}",
            where=f"{lb_node.name}: files/sys/class/net/{lb_node.nic}/queues/rx-*/rps_cpus")
