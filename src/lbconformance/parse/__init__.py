"""Pure parsers: text in, typed models (lbconformance.models) out.

Every public parser takes ``(text, source, ...)`` and raises only ParseError on bad
input. No file or network I/O happens here; keepalived includes go through an
injected reader.
"""
from .bgp import (
    parse_exabgp_config,
    parse_frr_bgp_neighbors,
    parse_frr_bgp_routes,
    parse_frr_bgp_summary,
    parse_frr_bgpd_conf,
    parse_frr_ip_route,
    parse_gobgp_neighbors,
    parse_gobgp_rib,
    parse_gobgpd_config,
)
from .errors import ParseError
from .host import (
    capability_names,
    parse_cpu_list,
    parse_cpu_mask,
    parse_ethtool_channels,
    parse_ethtool_driver,
    parse_interrupts,
    parse_mountinfo,
    parse_proc_status,
    parse_sysctl,
)
from .iproute import (
    expand_nhid,
    parse_ip_monitor_route,
    parse_ip_nexthop_json,
    parse_ip_route,
    parse_ip_route_json,
)
from .ipvsadm import parse_ipvsadm, parse_ipvsadm_save, parse_proc_ip_vs
from .keepalived import parse_keepalived, render_keepalived
from .netfilter import parse_iptables_save, parse_nft_ruleset

__all__ = [
    "ParseError", "capability_names", "parse_cpu_list", "parse_cpu_mask", "parse_ethtool_channels",
    "parse_ethtool_driver", "parse_interrupts", "parse_mountinfo", "parse_proc_status", "parse_sysctl", "expand_nhid", "parse_ip_monitor_route", "parse_ip_nexthop_json", "parse_ip_route",
    "parse_ip_route_json", "parse_ipvsadm", "parse_ipvsadm_save", "parse_proc_ip_vs", "parse_keepalived", "render_keepalived",
    "parse_iptables_save", "parse_nft_ruleset",
    "parse_exabgp_config", "parse_frr_bgp_neighbors", "parse_frr_bgp_routes", "parse_frr_bgp_summary",
    "parse_frr_bgpd_conf", "parse_frr_ip_route", "parse_gobgp_neighbors", "parse_gobgp_rib", "parse_gobgpd_config"]
