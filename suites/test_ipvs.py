"""IPVS: keepalived's config, the kernel's table and the service's endpoints agree (seed §5.2, Fig 5.2-5.4)."""
import ipaddress

import pytest

from lbconformance.dynamic.probes import every_pod_has, health_check_worst_case, mismatches, wait_ipvs
from lbconformance.dynamic.trial import restoring
from lbconformance.parse import ParseError
from lbconformance.report.measure import progress, record_samples
from lbconformance.snapshot import FactAbsent, MissingFact
from lbconformance.verdict import require


def vs_keys(config, vs):
    """The kernel service keys a config virtual_server programs (groups expand to several)."""
    proto = (vs.protocol or "TCP").upper()
    if vs.fwmark is not None:
        return [("FWM", vs.fwmark)]
    if vs.group is not None:
        group = next((g for g in config.virtual_server_groups if g.name == vs.group), None)
        if group is None:
            return []
        return [(proto, a, p) for a, p in group.addresses] + [("FWM", m) for m in group.fwmarks]
    return [(proto, vs.address, vs.port)]


def vs_name(key):
    return f"FWM {key[1]}" if key[0] == "FWM" else f"{key[0]} {key[1]}:{key[2]}"


def kernel_services(table):
    return {vs.key: vs for vs in table.services}


def rs_key(rs):
    return (rs.address, rs.port)


def rs_name(key):
    return f"{key[0]}:{key[1]}"


def pod_config(facts, pod):
    """The parsed keepalived config; a parse failure is IPVS-001's finding, an error elsewhere."""
    return facts.keepalived(pod.name)


@pytest.mark.requirement("IPVS-001")
def test_keepalived_config_parses(lb_pod, facts):
    main = facts.config_path(lb_pod.name, "keepalived-config-path.txt")
    try:
        config = facts.keepalived(lb_pod.name)
    except ParseError as e:
        require(False, expected="a keepalived config that parses", observed=str(e),
                where=f"{lb_pod.name}: {e.source} line {e.line}")
    require(bool(config.virtual_servers), expected="at least one virtual_server",
            observed=f"none in {', '.join(config.files)}", where=f"{lb_pod.name}: {main}")


@pytest.mark.requirement("IPVS-002")
def test_every_virtual_server_is_in_the_kernel_with_same_scheduler_and_method(lb_pod, facts):
    config = pod_config(facts, lb_pod)
    kernel = kernel_services(facts.ipvs_table(lb_pod.name))
    where = facts.where(lb_pod.name, facts.ipvs_name(lb_pod.name))
    problems = []
    for vs in config.virtual_servers:
        for key in vs_keys(config, vs) or [("group", vs.group, None)]:
            k = kernel.get(key)
            if k is None:
                problems.append(f"{vs_name(key)} ({vs.source}:{vs.line}) missing from the kernel")
                continue
            if vs.lb_algo and k.scheduler != vs.lb_algo:
                problems.append(f"{vs_name(key)} scheduler {k.scheduler}, config lb_algo {vs.lb_algo}")
            forward = vs.forward
            for rs in k.real_servers:
                if forward and rs.forward != forward:
                    problems.append(f"{vs_name(key)} -> {rs_name(rs_key(rs))} forwards {rs.forward}, "
                                    f"config lb_kind {vs.lb_kind} = {forward}")
    require(not problems, expected="every virtual_server in the kernel with the configured lb_algo and lb_kind",
            observed="; ".join(problems), where=where)


@pytest.mark.requirement("IPVS-003")
def test_real_server_weights_and_thresholds_match(lb_pod, facts):
    config = pod_config(facts, lb_pod)
    weights = kernel_services(facts.ipvs_table(lb_pod.name))  # -Ln shows weights
    limits = kernel_services(facts.ipvs_thresholds(lb_pod.name))  # --thresholds shows u/l thresholds
    problems = []
    for vs in config.virtual_servers:
        for key in vs_keys(config, vs):
            if key not in weights or key not in limits:
                continue  # IPVS-002's finding
            by_weight = {rs_key(rs): rs for rs in weights[key].real_servers}
            by_limit = {rs_key(rs): rs for rs in limits[key].real_servers}
            for crs in vs.real_servers:
                k = rs_key(crs)
                if k not in by_weight or k not in by_limit:
                    continue  # IPVS-004's finding
                weight = by_weight[k].weight
                if crs.inhibit_on_failure and weight == 0:
                    continue  # a failed check with inhibit_on_failure: IPVS-004's finding
                want = (crs.weight, crs.uthreshold or 0, crs.lthreshold or 0)
                got = (weight, by_limit[k].uthreshold or 0, by_limit[k].lthreshold or 0)
                if want != got:
                    problems.append(f"{vs_name(key)} -> {rs_name(k)}: config weight/uthreshold/lthreshold "
                                    f"{want} ({crs.source}:{crs.line}), kernel {got}")
    require(not problems, expected="kernel weights and thresholds as configured", observed="; ".join(problems),
            where=f"{facts.where(lb_pod.name, facts.ipvs_name(lb_pod.name))}, "
                  f"{facts.snap.evidence(lb_pod.name, 'ipvsadm-Ln-thresholds.txt')}")


@pytest.mark.requirement("IPVS-004")
def test_kernel_real_servers_are_configured_and_only_failed_ones_are_missing(lb_pod, facts):
    config = pod_config(facts, lb_pod)
    kernel = kernel_services(facts.ipvs_table(lb_pod.name))
    probes = facts.probes(lb_pod.name)
    problems = []
    for vs in config.virtual_servers:
        for key in vs_keys(config, vs):
            k = kernel.get(key)
            if k is None:
                continue  # IPVS-002's finding
            configured = {rs_key(rs): rs for rs in vs.real_servers}
            live = {rs_key(rs): rs for rs in k.real_servers}
            for extra in sorted(set(live) - set(configured), key=str):
                problems.append(f"{vs_name(key)}: kernel has {rs_name(extra)}, which the config does not (stale)")
            for rk, crs in sorted(configured.items(), key=str):
                up = probes.get(rk)
                if up is None:
                    problems.append(f"{vs_name(key)}: no health probe result for {rs_name(rk)}")
                    continue
                krs = live.get(rk)
                present = krs is not None and not (crs.inhibit_on_failure and krs.weight == 0)
                if up and not present:
                    problems.append(f"{vs_name(key)}: {rs_name(rk)} answers but is missing from the kernel")
                if not up and present:
                    problems.append(f"{vs_name(key)}: {rs_name(rk)} fails its health probe but is still in the kernel")
    require(not problems, expected="kernel real servers ⊆ configured; missing exactly those failing their check",
            observed="; ".join(problems),
            where=f"{facts.where(lb_pod.name, 'ipvsadm-Ln.txt')}, {facts.snap.evidence(lb_pod.name, 'real-server-probes.txt')}")


@pytest.mark.requirement("IPVS-005")
def test_every_real_server_has_a_health_checker(lb_pod, facts):
    config = pod_config(facts, lb_pod)
    bare = [f"{rs_name(rs_key(rs))} ({rs.source}:{rs.line})" for vs in config.virtual_servers
            for rs in vs.real_servers if not rs.checkers]
    require(not bare, expected="a TCP_CHECK/HTTP_GET/SSL_GET/MISC_CHECK/... in every real_server",
            observed=f"real_server without a checker: {', '.join(bare)}", where=f"{lb_pod.name}: keepalived config")


@pytest.mark.requirement("IPVS-006")
def test_configured_real_servers_equal_ready_endpoints(lb_pod, facts):
    config = pod_config(facts, lb_pod)
    configured = {rs_key(rs) for vs in config.virtual_servers for rs in vs.real_servers}
    ready = facts.endpoints(lb_pod.service)
    missing, stale = sorted(ready - configured), sorted(configured - ready)
    require(not missing and not stale,
            expected=f"real servers == the {len(ready)} ready endpoints of {lb_pod.service}",
            observed=f"not configured: {[rs_name(k) for k in missing]}; configured but not ready: "
                     f"{[rs_name(k) for k in stale]}",
            where=f"{lb_pod.name}: keepalived config vs services/{lb_pod.service}/endpoints.json")


def _covers(rule_net, prefix):
    if rule_net is None:
        return False
    try:
        return ipaddress.ip_network(prefix, strict=False).subnet_of(ipaddress.ip_network(rule_net, strict=False))
    except (ValueError, TypeError):
        return False


@pytest.mark.requirement("IPVS-007")
def test_every_fwmark_service_has_a_mark_rule(lb_pod, inventory, facts):
    config = pod_config(facts, lb_pod)
    marks = sorted({k[1] for vs in config.virtual_servers for k in vs_keys(config, vs) if k[0] == "FWM"})
    prefix = inventory.service(lb_pod.service).prefix
    rules = [r for r in facts.iptables(lb_pod.name).rules if r.table == "mangle" and r.target == "MARK"]
    missing = []
    for mark in marks:
        ok = any(r.mark is not None and (r.mark & (r.mark_mask if r.mark_mask is not None else 0xFFFFFFFF)) == mark
                 and not r.destination_negated and _covers(r.destination, prefix) for r in rules)
        if not ok:
            missing.append(mark)
    require(not missing, expected=f"a mangle MARK rule setting each fwmark for traffic to {prefix}",
            observed=f"no rule for fwmark {missing} (MARK rules: {[r.text for r in rules] or 'none'})",
            where=facts.where(lb_pod.name, "iptables-save.txt"))


@pytest.mark.requirement("IPVS-008")
def test_nat_return_path_is_masqueraded_with_ipvs_conntrack(lb_pod, inventory, facts):
    prefix = inventory.service(lb_pod.service).prefix
    conntrack = facts.sysctl(lb_pod.name).get("net.ipv4.vs.conntrack")
    require(conntrack == "1", expected="net.ipv4.vs.conntrack = 1", observed=f"net.ipv4.vs.conntrack = {conntrack}",
            where=facts.where(lb_pod.name, "sysctl.txt"))
    masq = [r for r in facts.iptables(lb_pod.name).rules
            if r.table == "nat" and r.chain == "POSTROUTING" and r.masquerade]
    ok = [r for r in masq if r.ipvs and not r.ipvs_vaddr_negated and (r.ipvs_vaddr is None or _covers(r.ipvs_vaddr, prefix))]
    require(bool(ok), expected=f"nat POSTROUTING -m ipvs --vaddr {prefix} -j MASQUERADE (or an ipvs match covering it)",
            observed=f"MASQUERADE rules: {[r.text for r in masq] or 'none'}",
            where=facts.where(lb_pod.name, "iptables-save.txt"))


RESYNC_GIVE_UP = 90.0  # s: not a requirement's bound, only when to stop waiting


@pytest.mark.requirement("IPVS-009")
@pytest.mark.live_only
@pytest.mark.disruptive
def test_ipvs_resyncs_after_web_scaling(request, service, orchestrator):
    """Scale the web pods up by one, then back: after each change the kernel real servers of every LB
    pod equal the new ready endpoints. The delay (endpoints written -> tables match) is recorded."""
    orch, name = orchestrator, service.name
    problems, delays, pods = [], [], []
    with restoring(orch.capture, orch.restore, orch.verify, label=f"IPVS-009 {name}"):
        pods = list(orch.lb_pods(name))
        if not pods:
            pytest.skip(f"{name} has no LB pod")
        base = orch.web_count(name)
        for count in (base + 1, base):
            change = orch.scale_web(name, count)
            want = set(change.endpoints)
            read, ok = wait_ipvs(orch, pods, lambda r, want=want: every_pod_has(r, pods, want), RESYNC_GIVE_UP)
            if not ok:
                problems.append(f"after scale-web {count}: " + "; ".join(mismatches(read, pods, want)))
                break
            delays.append(read.t - change.done)
            record_samples(request, "resync-delay", [delays[-1]], "s",
                           label="IPVS resync: endpoints written -> every LB pod's real servers match")
            progress(request, f"IPVS-009 {name}: scale-web {base} -> {count}: real servers of {len(pods)} LB pod(s) "
                              f"match {len(want)} endpoints {delays[-1]:.2f} s after the endpoints changed")
    require(not problems, expected=f"the real servers of every LB pod of {name} == its ready endpoints after "
                                   "web scaling",
            observed="; ".join(problems), where=f"{', '.join(pods)}: ipvsadm -Ln vs the service's endpoints")


@pytest.mark.requirement("IPVS-010")
@pytest.mark.live_only
@pytest.mark.disruptive
def test_health_check_removes_and_readds_real_server(request, service, facts, orchestrator):
    """Stop one web server (its endpoint stays ready): keepalived removes the real server from every LB
    pod, and adds it back once the server runs again. The delays are reported against keepalived's worst
    case; no timed assert (the requirement has none)."""
    orch, name = orchestrator, service.name
    problems, report = [], []
    with restoring(orch.capture, orch.restore, orch.verify, label=f"IPVS-010 {name}"):
        pods = list(orch.lb_pods(name))
        servers = orch.web_servers(name)
        if not pods or not servers:
            pytest.skip(f"{name} has no LB pod or no web pod")
        k = len(servers) - 1
        victim = servers[k]
        address, port = victim.rsplit(":", 1)
        worst, how = health_check_worst_case(_keepalived_or_none(facts, pods[0]), address, int(port))
        give_up = 3 * worst + 60
        everyone = set(servers)
        stopped_at = orch.stop_web_server(name, k)
        read, ok = wait_ipvs(orch, pods, lambda r: every_pod_has(r, pods, everyone - {victim}), give_up)
        if ok:
            removal = read.t - stopped_at
            report.append(f"removed {removal:.2f} s after the stop")
            record_samples(request, "health-check-delay", [removal], "s", sla=worst,
                           label="keepalived health check: server stopped -> real server removed / restarted -> "
                                 "re-added (line: keepalived's worst case)")
        else:
            problems.append(f"{victim} still a real server {give_up:.0f} s after its web server stopped: "
                            + "; ".join(mismatches(read, pods, everyone - {victim})))
        started_at = orch.start_web_server(name, k)
        read, ok = wait_ipvs(orch, pods, lambda r: every_pod_has(r, pods, everyone), give_up)
        if ok:
            readd = read.t - started_at
            report.append(f"re-added {readd:.2f} s after the restart")
            record_samples(request, "health-check-delay", [readd], "s", sla=worst)
        else:
            problems.append(f"{victim} not back {give_up:.0f} s after its web server restarted: "
                            + "; ".join(mismatches(read, pods, everyone)))
    progress(request, f"IPVS-010 {name}: {victim} " + ", ".join(report)
             + f" (keepalived worst case {worst:g} s = {how})")
    require(not problems, expected=f"keepalived removes {victim} while its server is down and re-adds it after",
            observed="; ".join(problems), where=f"{', '.join(pods)}: ipvsadm -Ln")


def _keepalived_or_none(facts, pod):
    """The pod's keepalived config from the snapshot, or an empty one (keepalived's defaults apply)."""
    try:
        return facts.keepalived(pod)
    except (ParseError, LookupError, OSError, MissingFact, FactAbsent):
        from lbconformance.models import KeepalivedConfig

        return KeepalivedConfig()
