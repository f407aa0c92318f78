"""BGP speakers' state and configs.

State (JSON): ``gobgp neighbor -j`` (v3 field names: conf/state/timers/transport/
afi_safis, ``session_state`` as the API enum number, 6 = established, or as text in
older releases), ``gobgp global rib -a ipv4 -j`` (prefix -> paths; path attributes by
type code: 3 NEXT_HOP, 9 ORIGINATOR_ID, 10 CLUSTER_LIST, 14 MP_REACH), FRR ``show bgp
ipv4 unicast json`` (list and detail shapes), ``show bgp summary json``, ``show bgp
neighbors json`` (bgpState, bgpTimerHoldTimeMsecs, neighborCapabilities.addPath.
ipv4Unicast.{rx,tx}AdvertisedAndReceived) and ``show ip route json``.

Configs: gobgpd TOML or YAML, FRR bgpd.conf (``router bgp`` statements), exabgp.
"""
from __future__ import annotations

import base64
import ipaddress

import tomllib
import yaml

from ..models import (
    BgpPath,
    BgpPeer,
    ExabgpNeighbor,
    FrrBgpConfig,
    FrrNeighbor,
    GobgpAfiSafi,
    GobgpConfig,
    GobgpNeighbor,
    GobgpPeerGroup,
    NextHop,
    Route,
)
from ._blocks import Node, build, tokenize
from ._util import Shape, at, ip, lines, load_json, parser, prefix, to_uint
from .errors import ParseError

_STATES = {"idle": "Idle", "connect": "Connect", "active": "Active", "opensent": "OpenSent",
           "openconfirm": "OpenConfirm", "established": "Established"}
_STATE_NUMBERS = {0: "Unknown", 1: "Idle", 2: "Connect", 3: "Active", 4: "OpenSent", 5: "OpenConfirm",
                  6: "Established"}


def _state(s: Shape) -> str:
    v = s.value
    if isinstance(v, int) and not isinstance(v, bool) and v in _STATE_NUMBERS:
        return _STATE_NUMBERS[v]
    if isinstance(v, str):
        key = v.lower().replace("bgp_fsm_", "").replace("session_state_", "").replace("_", "")
        if key in _STATES:
            return _STATES[key]
        if key == "unknown":
            return "Unknown"
    raise s.fail(f"unknown BGP session state {v!r}")


def _underscored(v):
    """Normalise older gobgp's hyphenated JSON keys to the v3 underscore names."""
    if isinstance(v, dict):
        return {str(k).replace("-", "_"): _underscored(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_underscored(x) for x in v]
    return v


# --------------------------------------------------------------------------- gobgp state


def _varint(b: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if i >= len(b) or shift > 63:
            raise ValueError("truncated protobuf varint")
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return n, i


def _fields(b: bytes):
    """Minimal protobuf wire decoding: yield (field number, varint or bytes)."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        wt = key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            ln, i = _varint(b, i)
            if i + ln > len(b):
                raise ValueError("truncated protobuf field")
            v, i = b[i:i + ln], i + ln
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")
        yield key >> 3, v


def _addpath_mode(caps: Shape) -> int | None:
    """The ipv4-unicast add-path mode (1 receive, 2 send, 3 both) in a gobgp capability
    list (``[{"type_url": ".../apipb.AddPathsCapability", "value": base64}]``); 0 when
    the list has no add-path capability, None when there is no list."""
    if caps.missing:
        return None
    mode = 0
    for c in caps.list():
        if not str(c.get("type_url").str("")).endswith("AddPathsCapability"):
            continue
        try:
            raw = base64.b64decode(c.get("value").str(""), validate=True)
            for num, tup in _fields(raw):
                if num != 1 or not isinstance(tup, bytes):
                    continue
                fam, m = (0, 0), 0
                for k, v in _fields(tup):
                    if k == 1 and isinstance(v, bytes):
                        d = dict((kk, vv) for kk, vv in _fields(v) if isinstance(vv, int))
                        fam = (d.get(1, 0), d.get(2, 0))
                    elif k == 2 and isinstance(v, int):
                        m = v
                if fam == (1, 1):
                    mode |= m
        except ValueError as e:
            raise c.fail(f"cannot decode AddPathsCapability: {e}") from None
    return mode


def _gobgp_peer(p: Shape) -> BgpPeer:
    conf = p.get("conf", "config")
    state = p.get("state")
    addr = (state.get("neighbor_address") if not state.get("neighbor_address").missing
            else conf["neighbor_address"]).ip()
    afis = [] if p.get("afi_safis").missing else p["afi_safis"].list()
    add_cfg = [a.dig("add_paths", "config") for a in afis] + [p.dig("add_paths", "config")]
    cfg_adv = any(c.get("send_max").int(0) > 0 or c.get("receive").bool(False) for c in add_cfg if not c.missing)
    local, remote = _addpath_mode(state.get("local_cap")), _addpath_mode(state.get("remote_cap"))
    rr = p.dig("route_reflector", "route_reflector_client")
    if rr.missing:
        rr = p.dig("route_reflector", "config", "route_reflector_client")
    hold = p.dig("timers", "state", "negotiated_hold_time")
    local_address = p.dig("transport", "local_address")
    if local_address.missing:
        local_address = p.dig("transport", "state", "local_address")
    return BgpPeer(
        neighbor_address=addr, state=_state(state["session_state"]),
        remote_as=state.get("peer_as").int(None) or conf.get("peer_as").int(None),
        local_as=state.get("local_as").int(None) or conf.get("local_as").int(None),
        hold_time=hold.int(None),
        add_path_advertised=bool(local) if local is not None else (cfg_adv or None) and True,
        add_path_received=None if remote is None else bool(remote),
        add_path_receive=None if local is None or remote is None else bool(local & 1 and remote & 2),
        add_path_send=None if local is None or remote is None else bool(local & 2 and remote & 1),
        router_id=_opt_ip(state.get("router_id")),
        local_address=_opt_ip(local_address),
        peer_group=state.get("peer_group").str(None) or conf.get("peer_group").str(None),
        route_reflector_client=rr.bool(None),
        prefixes_received=sum(a.dig("state", "received").int(0) for a in afis) if afis else None)


def _opt_ip(s: Shape) -> str | None:
    if s.missing or s.value in ("", "<nil>"):
        return None
    return s.ip()


@parser
def parse_gobgp_neighbors(text: str, source: str) -> tuple[BgpPeer, ...]:
    """``gobgp neighbor -j`` (a list) or ``gobgp neighbor ADDR -j`` (one object)."""
    doc = Shape(source, _underscored(load_json(text, source)))
    peers = doc.list() if isinstance(doc.value, list) else [doc]
    return tuple(_gobgp_peer(p) for p in peers)


def _gobgp_path(pfx: str, p: Shape) -> BgpPath:
    nh = originator = None
    clusters: tuple[str, ...] = ()
    for a in p["attrs"].list() if not p.get("attrs").missing else []:
        t = a.get("type").int(None)
        if t in (3, 14) and not a.get("nexthop").missing:
            nh = a["nexthop"].ip()
        elif t == 9:
            originator = a["value"].ip()
        elif t == 10:
            clusters = tuple(c.ip() for c in a["value"].list())
    nlri = p.get("nlri")
    pid = p.get("id", "path_id").int(None)
    if pid is None and not nlri.missing:
        pid = nlri.get("path_id", "id").int(None)
    peer = p.get("neighbor_ip", "source_id")
    return BgpPath(prefix=pfx, next_hop=nh, path_id=pid, originator=originator,
                   cluster_list=clusters, best=p.get("best").bool(False), peer=_opt_ip(peer))


@parser
def parse_gobgp_rib(text: str, source: str) -> tuple[BgpPath, ...]:
    """``gobgp global rib -a ipv4 -j``: {prefix: [path, ...]} (several paths per prefix
    with add-paths)."""
    doc = Shape(source, _underscored(load_json(text, source)))
    out = []
    for pfx, paths in doc.items():
        with at(source, None):
            norm = prefix(pfx)
        out.extend(_gobgp_path(norm, p) for p in paths.list())
    return tuple(out)


# --------------------------------------------------------------------------- FRR state


def _frr_path(pfx: str, p: Shape) -> BgpPath:
    nhs = [] if p.get("nexthops").missing else p["nexthops"].list()
    used = [n for n in nhs if n.get("used").bool(False)] or nhs
    best = p.get("bestpath")
    if isinstance(best.value, dict):
        is_best = best.get("overall").bool(False)
    else:
        is_best = best.bool(False)
    clusters = p.get("clusterList")
    cl = () if clusters.missing else tuple(c.ip() for c in clusters.get("list").list()) \
        if isinstance(clusters.value, dict) else tuple(c.ip() for c in clusters.list())
    peer = p.get("peerId")
    if peer.missing:
        peer = p.dig("peer", "peerId")
    return BgpPath(prefix=pfx, next_hop=used[0]["ip"].ip() if used else None,
                   path_id=p.get("addpathRxId", "pathId").int(None),
                   originator=_opt_ip(p.get("originatorId")), cluster_list=cl, best=is_best,
                   peer=_opt_ip(peer) if peer.value not in ("(unspec)",) else None,
                   multipath=p.get("multipath").bool(None))


@parser
def parse_frr_bgp_routes(text: str, source: str) -> tuple[BgpPath, ...]:
    """FRR ``show bgp ipv4 unicast json`` ({"routes": {prefix: [paths]}}), its detail form
    ({"routes": {prefix: {"paths": [...]}}}) and ``show bgp ipv4 unicast PREFIX json``
    ({"prefix": ..., "paths": [...]})."""
    doc = Shape(source, load_json(text, source))
    if not doc.get("paths").missing:
        pfx = doc["prefix"].prefix()
        return tuple(_frr_path(pfx, p) for p in doc["paths"].list())
    out = []
    routes = doc.get("routes")
    for pfx, paths in ([] if routes.missing else routes.items()):
        with at(source, None):
            norm = prefix(pfx)
        items = paths["paths"].list() if isinstance(paths.value, dict) else paths.list()
        out.extend(_frr_path(norm, p) for p in items)
    return tuple(out)


@parser
def parse_frr_bgp_summary(text: str, source: str) -> tuple[BgpPeer, ...]:
    """FRR ``show bgp [ipv4 unicast] summary json``: state, AS and prefixes received."""
    doc = Shape(source, load_json(text, source))
    families = [doc] if not doc.get("peers").missing else [s for _, s in doc.items() if isinstance(s.value, dict)]
    out = []
    for fam in families:
        for addr, p in ([] if fam.get("peers").missing else fam["peers"].items()):
            with at(source, None):
                address = _peer_address(addr)
            out.append(BgpPeer(address, _state(p["state"]), remote_as=p.get("remoteAs").int(None),
                               local_as=p.get("localAs").int(None), router_id=_opt_ip(p.get("remoteRouterId")),
                               prefixes_received=p.get("pfxRcd").int(None),
                               peer_group=p.get("peerGroup").str(None)))
    return tuple(out)


def _peer_address(key: str) -> str:
    try:
        return str(ipaddress.ip_address(key))
    except ValueError:
        if not key or any(c.isspace() for c in key):
            raise
        return key  # an interface name (unnumbered peering)


def _frr_addpath(caps: Shape) -> tuple[bool | None, bool | None, bool | None, bool | None]:
    if caps.missing:
        return None, None, None, None
    ap = caps.dig("addPath", "ipv4Unicast")
    if ap.missing:
        return False, False, False, False

    def flag(k: str) -> bool:
        return ap.get(k).bool(False)

    rx, tx = flag("rxAdvertisedAndReceived"), flag("txAdvertisedAndReceived")
    adv = rx or tx or flag("rxAdvertised") or flag("txAdvertised")
    rcv = rx or tx or flag("rxReceived") or flag("txReceived")
    return adv, rcv, rx, tx


@parser
def parse_frr_bgp_neighbors(text: str, source: str) -> tuple[BgpPeer, ...]:
    """FRR ``show bgp neighbors json``: {address: {...}}."""
    doc = Shape(source, load_json(text, source))
    out = []
    for addr, p in doc.items():
        if not isinstance(p.value, dict) or p.get("bgpState").missing:
            continue
        with at(source, None):
            address = _peer_address(addr)
        adv, rcv, rx, tx = _frr_addpath(p.get("neighborCapabilities"))
        hold = p.get("bgpTimerHoldTimeMsecs", "holdTimeMsecs").int(None)
        rr = p.dig("addressFamilyInfo", "ipv4Unicast", "routeReflectorClient")
        out.append(BgpPeer(
            address, _state(p["bgpState"]), remote_as=p.get("remoteAs").int(None),
            local_as=p.get("localAs").int(None), hold_time=None if hold is None else hold // 1000,
            add_path_advertised=adv, add_path_received=rcv, add_path_receive=rx, add_path_send=tx,
            router_id=_opt_ip(p.get("remoteRouterId")), local_address=_opt_ip(p.get("hostLocal")),
            peer_group=p.get("peerGroup").str(None), route_reflector_client=rr.bool(None),
            prefixes_received=p.dig("addressFamilyInfo", "ipv4Unicast", "acceptedPrefixCounter").int(None)))
    return tuple(out)


@parser
def parse_frr_ip_route(text: str, source: str) -> tuple[Route, ...]:
    """FRR ``show ip route json``: {prefix: [{protocol, metric, table, nexthops: [{ip,
    interfaceName, weight, active, fib}]}]}."""
    doc = Shape(source, load_json(text, source))
    out = []
    for pfx, entries in doc.items():
        with at(source, None):
            norm = prefix(pfx)
        for e in entries.list():
            hops = tuple(NextHop(_opt_ip(h.get("ip")), h.get("interfaceName").str(None), h.get("weight").int(1),
                                 tuple(k for k in ("active", "fib") if h.get(k).bool(False)))
                         for h in ([] if e.get("nexthops").missing else e["nexthops"].list()))
            table = e.get("table").int(None)
            flags = tuple(k for k in ("selected", "installed") if e.get(k).bool(False))
            out.append(Route(norm, table="main" if table in (None, 254) else str(table),
                             protocol=e.get("protocol").str(None), metric=e.get("metric").int(None),
                             nexthops=hops, flags=flags))
    return tuple(out)


# --------------------------------------------------------------------------- exabgp


_EXA_FIELDS = {"router-id": "router_id", "local-address": "local_address", "local-as": "local_as",
               "peer-as": "peer_as", "hold-time": "hold_time", "description": "description"}


def _exa_route(words: list[str], node: Node) -> tuple[str, str]:
    """``P next-hop N ...`` -> (prefix, next hop)."""
    if not words:
        raise ValueError("route without a prefix")
    p = prefix(words[0])
    if "next-hop" in words:
        i = words.index("next-hop")
        if i + 1 >= len(words):
            raise ValueError("next-hop without an address")
        nh = words[i + 1]
    else:
        nh = None
        for c in node.block or []:
            if c.words[0] == "next-hop" and len(c.words) > 1:
                nh = c.words[1]
        if nh is None:
            raise ValueError(f"route {p} has no next-hop")
    return p, nh if nh == "self" else ip(nh)


def _exa_collect(node: Node, fields: dict, routes: list, inherits: list) -> None:
    for c in node.block or []:
        k = c.words[0]
        with at(c.file, c.line):
            if k in _EXA_FIELDS:
                if len(c.words) < 2:
                    raise ValueError(f"{k} needs a value")
                v = c.words[1]
                name = _EXA_FIELDS[k]
                if name in ("local_as", "peer_as", "hold_time"):
                    fields[name] = to_uint(v, k)
                elif name == "description":
                    fields[name] = v
                else:
                    fields[name] = v if v == "auto" else ip(v)
            elif k == "inherit":
                inherits.extend(c.words[1:])
            elif k in ("static", "announce") and c.block is not None:
                _exa_routes(c, routes)
            elif k == "route":
                routes.append(_exa_route(c.words[1:], c))


def _exa_routes(block: Node, routes: list) -> None:
    for c in block.block or []:
        with at(c.file, c.line):
            if c.words[0] == "route":
                routes.append(_exa_route(c.words[1:], c))
            elif c.words[0] in ("ipv4", "ipv6") and c.block is not None:
                for r in c.block:
                    with at(r.file, r.line):
                        if r.words[0] == "unicast":
                            routes.append(_exa_route(r.words[1:], r))


@parser
def parse_exabgp_config(text: str, source: str) -> tuple[ExabgpNeighbor, ...]:
    """exabgp configuration: ``neighbor ADDR { router-id; local-address; local-as; peer-as;
    hold-time; static { route P next-hop N; } }``, exabgp 4's ``announce { ipv4 {
    unicast P next-hop N; } }`` and ``route P next-hop N;``, ``template { neighbor NAME
    {...} }`` with ``inherit NAME;``, and exabgp 3 ``group NAME { neighbor ... }``."""
    nodes = build(tokenize(text, source, comments="#", semicolons=True), source, newline_ends=False)
    templates: dict[str, tuple[dict, list]] = {}
    neighbors: list[Node] = []

    def scan(ns: list[Node], in_template: bool) -> None:
        for n in ns:
            if n.words[0] == "template" and n.block is not None:
                scan(n.block, True)
            elif n.words[0] == "group" and n.block is not None:
                scan(n.block, in_template)
            elif n.words[0] == "neighbor":
                if len(n.words) != 2 or n.block is None:
                    raise ParseError(n.file, n.line, "expected 'neighbor ADDRESS { ... }'")
                if in_template:
                    f: dict = {}
                    r: list = []
                    _exa_collect(n, f, r, [])
                    templates[n.words[1]] = (f, r)
                else:
                    neighbors.append(n)

    scan(nodes, False)
    out = []
    for n in neighbors:
        fields: dict = {}
        routes: list = []
        inherits: list = []
        _exa_collect(n, fields, routes, inherits)
        for name in inherits:
            if name not in templates:
                raise ParseError(n.file, n.line, f"inherit {name!r}: no such template")
            tf, tr = templates[name]
            fields = {**tf, **fields}
            routes = tr + routes
        with at(n.file, n.line):
            addr = ip(n.words[1], "a neighbor address")
        out.append(ExabgpNeighbor(addr, routes=tuple(routes), line=n.line, **fields))
    return tuple(out)


# --------------------------------------------------------------------------- gobgpd config


def _hyphened(v):
    if isinstance(v, dict):
        return {str(k).replace("_", "-").lower(): _hyphened(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_hyphened(x) for x in v]
    return v


def _load_gobgpd(text: str, source: str, fmt: str | None):
    if fmt is None:
        fmt = "toml" if any(line.lstrip().startswith("[") for line in text.splitlines()) else "yaml"
    if fmt == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            line = getattr(e, "lineno", None)
            if line is None:
                import re
                m = re.search(r"line (\d+)", str(e))
                line = int(m.group(1)) if m else None
            raise ParseError(source, line, f"invalid TOML: {e}") from None
    if fmt == "yaml":
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
            raise ParseError(source, mark.line + 1 if mark else None,
                             f"invalid YAML: {getattr(e, 'problem', None) or e}") from None
    raise ParseError(source, None, f"unknown gobgpd config format {fmt!r}")


def _line_of(text: str, key: str) -> int | None:
    for n, line in lines(text):
        s = line.strip().lstrip("[").lstrip("- ")
        if s.startswith(key):
            return n
    return None


def _add_paths(s: Shape) -> tuple[int | None, bool | None]:
    c = s.dig("add-paths", "config")
    return c.get("send-max").int(None), c.get("receive").bool(None)


def _afi_safis(s: Shape) -> tuple[GobgpAfiSafi, ...]:
    out = []
    for a in ([] if s.get("afi-safis").missing else s["afi-safis"].list()):
        sm, rcv = _add_paths(a)
        out.append(GobgpAfiSafi(a.dig("config", "afi-safi-name").str(""), sm, rcv))
    return tuple(out)


@parser
def parse_gobgpd_config(text: str, source: str, fmt: str | None = None) -> GobgpConfig:
    """gobgpd's configuration file in TOML or YAML (``fmt`` "toml"/"yaml", or guessed:
    TOML when a line starts with ``[``). Keys as gobgpd documents them (global.config.as,
    peer-groups, dynamic-neighbors, neighbors, route-reflector, add-paths,
    use-multiple-paths, zebra)."""
    raw = _load_gobgpd(text, source, fmt)
    doc = Shape(source, _hyphened(raw))
    if not isinstance(doc.value, dict):
        raise ParseError(source, 1, "expected a mapping at the top level")
    gconf = doc.dig("global", "config")
    if gconf.missing or gconf.get("as").missing:
        raise ParseError(source, _line_of(text, "global"), "global.config.as is missing")
    g = Shape(source, gconf.value, "$.global.config", _line_of(text, "as"))
    groups = []
    for pg in ([] if doc.get("peer-groups").missing else doc["peer-groups"].list()):
        c = pg.get("config")
        sm, rcv = _add_paths(pg)
        rr = pg.dig("route-reflector", "config")
        groups.append(GobgpPeerGroup(c["peer-group-name"].str(), c.get("peer-as").int(None),
                                     rr.get("route-reflector-client").bool(False),
                                     _opt_ip(rr.get("route-reflector-cluster-id")), sm, rcv, _afi_safis(pg)))
    dyn = tuple((d.dig("config", "prefix").prefix(), d.dig("config", "peer-group").str(None))
                for d in ([] if doc.get("dynamic-neighbors").missing else doc["dynamic-neighbors"].list()))
    neighbors = []
    for nb in ([] if doc.get("neighbors").missing else doc["neighbors"].list()):
        c = nb.get("config")
        sm, rcv = _add_paths(nb)
        rr = nb.dig("route-reflector", "config")
        neighbors.append(GobgpNeighbor(
            c["neighbor-address"].ip(), c.get("peer-as").int(None), c.get("peer-group").str(None),
            rr.get("route-reflector-client").bool(False), _opt_ip(rr.get("route-reflector-cluster-id")),
            sm, rcv, _afi_safis(nb), nb.dig("timers", "config", "hold-time").int(None),
            _opt_ip(nb.dig("transport", "config", "local-address"))))
    lal = gconf.get("local-address-list")
    ump = doc.dig("global", "use-multiple-paths", "config", "enabled")
    return GobgpConfig(
        as_number=g["as"].int(), router_id=_opt_ip(g.get("router-id")),
        local_addresses=() if lal.missing else tuple(a.ip() for a in lal.list()),
        use_multiple_paths=ump.bool(False), peer_groups=tuple(groups), dynamic_neighbors=dyn,
        neighbors=tuple(neighbors), zebra_enabled=doc.dig("zebra", "config", "enabled").bool(False))


# --------------------------------------------------------------------------- FRR bgpd.conf

_TOP_LEVEL = ("router ", "interface ", "line ", "ip ", "ipv6 ", "route-map ", "access-list ", "hostname ",
              "log ", "password ", "end", "vrf ", "key ", "bfd", "frr ", "service ", "debug ", "agentx")


@parser
def parse_frr_bgpd_conf(text: str, source: str) -> FrrBgpConfig:
    """The default-VRF ``router bgp AS`` section of bgpd.conf/frr.conf: ``bgp router-id``,
    ``neighbor X remote-as Y``, ``neighbor X peer-group [G]``, other ``neighbor X ...``
    statements, ``address-family ...`` and ``maximum-paths [ibgp] N``."""
    asn = None
    in_bgp = in_af = False
    done = False
    router_id = mp = mp_ibgp = None
    neigh: dict[str, dict] = {}
    afs: list[str] = []
    for n, line in lines(text):
        s = line.strip()
        if not s or s[0] in "!#":
            continue
        w = s.split()
        with at(source, n):
            if not in_bgp:
                if w[:2] == ["router", "bgp"] and not done:
                    if len(w) < 3:
                        raise ValueError("router bgp needs an AS number")
                    if "vrf" in w:
                        continue
                    asn = to_uint(w[2], "an AS number")
                    in_bgp = True
                continue
            if not line[:1].isspace() and s.startswith(_TOP_LEVEL) or (s == "exit" and not in_af):
                in_bgp, done = False, True
                continue
            if w[0] == "address-family":
                in_af = True
                afs.append(" ".join(w[1:]))
            elif w[0] == "exit-address-family":
                in_af = False
            elif w[:2] == ["bgp", "router-id"]:
                router_id = ip(w[2])
            elif w[0] == "maximum-paths":
                if len(w) >= 3 and w[1] == "ibgp":
                    mp_ibgp = to_uint(w[2], "a path count")
                else:
                    mp = to_uint(w[1], "a path count")
            elif w[0] == "neighbor":
                if len(w) < 3:
                    raise ValueError("neighbor needs a name and a statement")
                d = neigh.setdefault(w[1], {"options": []})
                if w[2] == "remote-as" and len(w) >= 4:
                    d["remote_as"] = w[3]
                elif w[2] == "peer-group" and len(w) == 3:
                    d["is_peer_group"] = True
                elif w[2] == "peer-group":
                    d["peer_group"] = w[3]
                else:
                    d["options"].append(tuple(w[2:]))
    if asn is None:
        raise ParseError(source, None, "no 'router bgp AS' section")
    return FrrBgpConfig(asn, router_id, tuple(
        FrrNeighbor(name, d.get("remote_as"), d.get("peer_group"), d.get("is_peer_group", False),
                    tuple(d["options"])) for name, d in neigh.items()), mp, mp_ibgp, tuple(afs))
