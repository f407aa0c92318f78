"""Typed facts the parsers produce and the checks read.

Every model is a frozen dataclass with domain names. Collections are tuples or
frozensets so models compare and hash by value. ``None`` means "this output does
not say", never "zero" or "false". Where a model keeps its source file and line
(evidence for a failing check), those fields do not take part in equality.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# --------------------------------------------------------------------------- IPVS (kernel)

#: IPVS forwarding methods as ipvsadm prints them, and keepalived's lb_kind for each.
FORWARD_OF_LB_KIND = {"NAT": "Masq", "DR": "Route", "TUN": "Tunnel"}


@dataclass(frozen=True)
class IpvsStats:
    """Totals from ``ipvsadm -Ln --stats``. ``approximate`` when ipvsadm abbreviated a
    counter (K/M/G/T from 100 million upwards; ``--exact`` prints full values)."""

    conns: int
    inpkts: int
    outpkts: int
    inbytes: int
    outbytes: int
    approximate: bool = False


@dataclass(frozen=True)
class IpvsRate:
    """Per-second rates from ``ipvsadm -Ln --rate`` (abbreviated like IpvsStats)."""

    cps: int
    inpps: int
    outpps: int
    inbps: int
    outbps: int
    approximate: bool = False


@dataclass(frozen=True)
class RealServer:
    """One IPVS destination. Fields a listing does not show are None.

    ``forward`` is Masq/Route/Tunnel/Local. ``address`` may be a host name when the
    listing was not numeric (``ipvsadm -L``); ``port`` is then resolved for well-known
    service names only, and ``port_name`` keeps the printed name."""

    address: str
    port: int | None
    forward: str | None = None
    weight: int | None = None
    active_conns: int | None = None
    inactive_conns: int | None = None
    uthreshold: int | None = None
    lthreshold: int | None = None
    persistent_conns: int | None = None
    stats: IpvsStats | None = None
    rate: IpvsRate | None = None
    port_name: str | None = None


@dataclass(frozen=True)
class VirtualService:
    """One IPVS virtual service.

    ``protocol`` is TCP/UDP/SCTP, or FWM for a firewall-mark service (then ``fwmark`` is
    set and ``address``/``port`` are None). ``flags`` holds the rest of the service line
    (e.g. "ops", "pe sip", "ipv6"). ``persistence_netmask`` is as printed."""

    protocol: str
    address: str | None
    port: int | None
    fwmark: int | None = None
    scheduler: str | None = None
    persistence_timeout: int | None = None
    persistence_netmask: str | None = None
    flags: tuple[str, ...] = ()
    real_servers: tuple[RealServer, ...] = ()
    stats: IpvsStats | None = None
    rate: IpvsRate | None = None
    port_name: str | None = None

    @property
    def key(self) -> tuple:
        """Identity of the service: ("FWM", mark) or (protocol, address, port)."""
        if self.protocol == "FWM":
            return ("FWM", self.fwmark)
        return (self.protocol, self.address, self.port)


@dataclass(frozen=True)
class IpvsTable:
    """A whole listing: the version header (when printed) and the services in order."""

    services: tuple[VirtualService, ...]
    version: str | None = None
    size: int | None = None


# --------------------------------------------------------------------------- keepalived


@dataclass(frozen=True)
class ConfigStatement:
    """A keepalived statement the model does not type: its words and its block (if any).
    Kept so that rendering writes back what was read."""

    words: tuple[str, ...]
    block: tuple["ConfigStatement", ...] | None = None


@dataclass(frozen=True)
class HealthChecker:
    """A real_server checker block (TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, DNS_CHECK...).
    ``retry`` also reads keepalived's older name ``nb_get_retry``."""

    kind: str
    connect_timeout: float | None = None
    retry: int | None = None
    delay_before_retry: float | None = None
    connect_port: int | None = None
    connect_ip: str | None = None
    other: tuple[ConfigStatement, ...] = ()


@dataclass(frozen=True)
class ConfigRealServer:
    """A keepalived ``real_server IP PORT { ... }``; ``lb_kind`` when set per server."""

    address: str
    port: int | None
    weight: int = 1
    uthreshold: int | None = None
    lthreshold: int | None = None
    inhibit_on_failure: bool = False
    lb_kind: str | None = None
    checkers: tuple[HealthChecker, ...] = ()
    other: tuple[ConfigStatement, ...] = ()
    source: str = field(default="", compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ConfigVirtualServer:
    """A keepalived ``virtual_server IP PORT | fwmark N | group NAME { ... }``.

    ``lb_algo`` also reads ``lvs_sched``, ``lb_kind`` also reads ``lvs_method``
    (NAT/DR/TUN); ``forward`` maps it to ipvsadm's name."""

    address: str | None = None
    port: int | None = None
    fwmark: int | None = None
    group: str | None = None
    lb_algo: str | None = None
    lb_kind: str | None = None
    protocol: str | None = None
    persistence_timeout: int | None = None
    delay_loop: float | None = None
    real_servers: tuple[ConfigRealServer, ...] = ()
    other: tuple[ConfigStatement, ...] = ()
    source: str = field(default="", compare=False)
    line: int | None = field(default=None, compare=False)

    @property
    def forward(self) -> str | None:
        return FORWARD_OF_LB_KIND.get((self.lb_kind or "").upper())


@dataclass(frozen=True)
class VirtualServerGroup:
    """A ``virtual_server_group NAME { IP[-last] PORT ...; fwmark N ... }``."""

    name: str
    addresses: tuple[tuple[str, int | None], ...] = ()
    fwmarks: tuple[int, ...] = ()
    source: str = field(default="", compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class KeepalivedConfig:
    """A parsed keepalived configuration, includes resolved.

    ``files`` lists every file read, in order; ``empty_includes`` the include patterns
    that matched nothing (keepalived ignores those). ``other`` holds the top-level
    blocks the model does not type (global_defs, vrrp_instance...)."""

    virtual_servers: tuple[ConfigVirtualServer, ...] = ()
    virtual_server_groups: tuple[VirtualServerGroup, ...] = ()
    other: tuple[ConfigStatement, ...] = ()
    files: tuple[str, ...] = field(default=(), compare=False)
    empty_includes: tuple[str, ...] = field(default=(), compare=False)


# --------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class NextHop:
    """One path of a route (``nexthop via G dev D weight W``)."""

    gateway: str | None
    dev: str | None
    weight: int = 1
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    """A kernel (or FRR RIB) route.

    ``dst`` is a normalised prefix ("10.1.1.0/24"; a host route gets /32) or "default".
    ``type`` is unicast/local/blackhole...; ``table`` "main", "local" or a number as text.
    A multipath route has ``nexthops`` (and no gateway); an FRR route may instead point
    at a nexthop object by ``nhid`` (see iproute.expand_nhid)."""

    dst: str
    table: str = "main"
    type: str = "unicast"
    protocol: str | None = None
    metric: int | None = None
    dev: str | None = None
    gateway: str | None = None
    prefsrc: str | None = None
    scope: str | None = None
    nexthops: tuple[NextHop, ...] = ()
    nhid: int | None = None
    flags: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[NextHop, ...]:
        """The next hops as a list, whether the route is single- or multipath."""
        if self.nexthops:
            return self.nexthops
        if self.gateway is not None or self.dev is not None:
            return (NextHop(self.gateway, self.dev, 1),)
        return ()


@dataclass(frozen=True)
class NexthopObject:
    """A kernel nexthop object (``ip nexthop``): a single hop or a group of (id, weight)."""

    id: int
    gateway: str | None = None
    dev: str | None = None
    group: tuple[tuple[int, int], ...] = ()
    protocol: str | None = None
    blackhole: bool = False


@dataclass(frozen=True)
class RouteEvent:
    """One ``ip -ts monitor route`` event."""

    timestamp: str | None
    deleted: bool
    route: Route


# --------------------------------------------------------------------------- BGP


@dataclass(frozen=True)
class BgpPeer:
    """A BGP session as a speaker reports it (gobgp neighbor, FRR neighbors/summary).

    ``state`` is normalised: Idle, Connect, Active, OpenSent, OpenConfirm, Established.
    ``hold_time`` is the negotiated hold time in seconds. Add-path (RFC 7911) booleans:
    ``add_path_advertised`` we advertised the capability, ``add_path_received`` the peer
    did; ``add_path_receive``/``add_path_send`` the negotiated directions for ipv4
    unicast, from this speaker's side. None = the output does not say."""

    neighbor_address: str
    state: str
    remote_as: int | None = None
    local_as: int | None = None
    hold_time: int | None = None
    add_path_advertised: bool | None = None
    add_path_received: bool | None = None
    add_path_receive: bool | None = None
    add_path_send: bool | None = None
    router_id: str | None = None
    local_address: str | None = None
    peer_group: str | None = None
    route_reflector_client: bool | None = None
    prefixes_received: int | None = None


@dataclass(frozen=True)
class BgpPath:
    """One path in a BGP RIB. With add-paths a prefix has several, told apart by
    ``path_id``. ``peer`` is the neighbour the path came from."""

    prefix: str
    next_hop: str | None
    path_id: int | None = None
    originator: str | None = None
    cluster_list: tuple[str, ...] = ()
    best: bool = False
    peer: str | None = None
    multipath: bool | None = None


@dataclass(frozen=True)
class ExabgpNeighbor:
    """An exabgp ``neighbor`` block and the routes it announces, as (prefix, next hop)."""

    neighbor: str
    local_address: str | None = None
    router_id: str | None = None
    local_as: int | None = None
    peer_as: int | None = None
    hold_time: int | None = None
    description: str | None = None
    routes: tuple[tuple[str, str], ...] = ()
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class GobgpAfiSafi:
    """An afi-safi entry of a gobgpd neighbor or peer group, with its add-paths."""

    name: str
    add_paths_send_max: int | None = None
    add_paths_receive: bool | None = None


@dataclass(frozen=True)
class GobgpPeerGroup:
    """A gobgpd peer group. Add-paths here (``add-paths.config``) is what dynamic
    neighbours get; under afi-safis it is not (lab-facts)."""

    name: str
    peer_as: int | None = None
    route_reflector_client: bool = False
    route_reflector_cluster_id: str | None = None
    add_paths_send_max: int | None = None
    add_paths_receive: bool | None = None
    afi_safis: tuple[GobgpAfiSafi, ...] = ()


@dataclass(frozen=True)
class GobgpNeighbor:
    """A static gobgpd neighbour."""

    address: str
    peer_as: int | None = None
    peer_group: str | None = None
    route_reflector_client: bool = False
    route_reflector_cluster_id: str | None = None
    add_paths_send_max: int | None = None
    add_paths_receive: bool | None = None
    afi_safis: tuple[GobgpAfiSafi, ...] = ()
    hold_time: int | None = None
    local_address: str | None = None


@dataclass(frozen=True)
class GobgpConfig:
    """gobgpd configuration (TOML or YAML). ``dynamic_neighbors`` are (prefix, peer group)."""

    as_number: int
    router_id: str | None = None
    local_addresses: tuple[str, ...] = ()
    use_multiple_paths: bool = False
    peer_groups: tuple[GobgpPeerGroup, ...] = ()
    dynamic_neighbors: tuple[tuple[str, str | None], ...] = ()
    neighbors: tuple[GobgpNeighbor, ...] = ()
    zebra_enabled: bool = False


@dataclass(frozen=True)
class FrrNeighbor:
    """An FRR ``neighbor X ...`` (X an address, interface or peer-group name).
    ``options`` are the other statements about it, as word tuples without "neighbor X"."""

    name: str
    remote_as: str | None = None
    peer_group: str | None = None
    is_peer_group: bool = False
    options: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class FrrBgpConfig:
    """The ``router bgp`` part of an FRR bgpd.conf / frr.conf."""

    as_number: int
    router_id: str | None = None
    neighbors: tuple[FrrNeighbor, ...] = ()
    maximum_paths: int | None = None
    maximum_paths_ibgp: int | None = None
    address_families: tuple[str, ...] = ()


# --------------------------------------------------------------------------- host facts

#: Linux capability numbers (include/uapi/linux/capability.h).
CAPABILITY_NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)


@dataclass(frozen=True)
class ProcStatus:
    """Capabilities of a process from /proc/PID/status, per set, as names like
    "CAP_NET_ADMIN" (bits past the known list read "CAP_<n>"). ``*_mask`` keep the raw
    hex values."""

    name: str | None
    pid: int | None
    cap_inh: frozenset[str]
    cap_prm: frozenset[str]
    cap_eff: frozenset[str]
    cap_bnd: frozenset[str]
    cap_amb: frozenset[str]
    cap_eff_mask: int = 0
    cap_prm_mask: int = 0
    no_new_privs: bool | None = None
    seccomp: int | None = None


@dataclass(frozen=True)
class Mount:
    """One /proc/PID/mountinfo line (escapes like \\040 decoded)."""

    mount_id: int
    parent_id: int
    device: str
    root: str
    mount_point: str
    options: tuple[str, ...]
    fs_type: str
    source: str
    super_options: tuple[str, ...] = ()
    optional_fields: tuple[str, ...] = ()

    @property
    def read_only(self) -> bool:
        """Read-only per mount (``ro`` in the per-mount options) or per superblock."""
        return "ro" in self.options or "ro" in self.super_options


@dataclass(frozen=True)
class Interrupt:
    """A /proc/interrupts line: ``irq`` (a number or a name like "NMI"), per-CPU counts,
    the description after the counts, and ``name`` = its last word (e.g. "eth0-rx-1")."""

    irq: str
    counts: tuple[int, ...]
    name: str
    description: str = ""


@dataclass(frozen=True)
class CpuMask:
    """A CPU bitmap (rps_cpus, smp_affinity) as the set of CPU indices it allows."""

    cpus: frozenset[int]

    @property
    def value(self) -> int:
        return sum(1 << c for c in self.cpus)


@dataclass(frozen=True)
class DriverInfo:
    """``ethtool -i``. ``fields`` keeps every key/value pair as printed."""

    driver: str
    version: str | None = None
    firmware_version: str | None = None
    bus_info: str | None = None
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ChannelCounts:
    """``ethtool -l``: pre-set maximums and current settings (None for n/a)."""

    interface: str | None
    max_rx: int | None
    max_tx: int | None
    max_other: int | None
    max_combined: int | None
    rx: int | None
    tx: int | None
    other: int | None
    combined: int | None


# --------------------------------------------------------------------------- netfilter


@dataclass(frozen=True)
class NetfilterRule:
    """A rule from iptables-save or nft. ``text`` is the rule as written (after the chain).

    Structured fields cover what the checks need: addresses with their ``!`` negation,
    the ipvs match (``-m ipvs --vaddr/--vport``), ``-j MARK --set-xmark/--set-mark``
    (``mark``/``mark_mask``), and ``target`` ("MASQUERADE", "MARK", "ACCEPT"...)."""

    table: str
    chain: str
    text: str
    target: str | None = None
    family: str = "ip"
    protocol: str | None = None
    source: str | None = None
    source_negated: bool = False
    destination: str | None = None
    destination_negated: bool = False
    in_interface: str | None = None
    out_interface: str | None = None
    matches: tuple[str, ...] = ()
    ipvs: bool = False
    ipvs_vaddr: str | None = None
    ipvs_vaddr_negated: bool = False
    ipvs_vport: int | None = None
    mark: int | None = None
    mark_mask: int | None = None
    line: int | None = field(default=None, compare=False)

    @property
    def masquerade(self) -> bool:
        return self.target == "MASQUERADE"


@dataclass(frozen=True)
class NetfilterRuleset:
    """All rules, plus chain policies as (table, chain, policy)."""

    rules: tuple[NetfilterRule, ...]
    chains: tuple[tuple[str, str, str | None], ...] = ()
