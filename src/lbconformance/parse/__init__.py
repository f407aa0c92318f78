"""Pure parsers: text in, typed models (lbconformance.models) out.

Every public parser takes ``(text, source, ...)`` and raises only ParseError on bad
input. No file or network I/O happens here; keepalived includes go through an
injected reader.
"""
from .errors import ParseError
from .iproute import (
    expand_nhid, parse_ip_monitor_route, parse_ip_nexthop_json, parse_ip_route, parse_ip_route_json,
)
from .ipvsadm import parse_ipvsadm, parse_ipvsadm_save, parse_proc_ip_vs
from .keepalived import parse_keepalived, render_keepalived

__all__ = [
    "ParseError", "expand_nhid", "parse_ip_monitor_route", "parse_ip_nexthop_json", "parse_ip_route",
    "parse_ip_route_json", "parse_ipvsadm", "parse_ipvsadm_save", "parse_proc_ip_vs", "parse_keepalived", "render_keepalived"]
