"""IPVS tables: ``ipvsadm -L`` / ``-Ln`` (plain, ``--stats``, ``--rate``, ``--thresholds``,
``--persistent-conn``, with or without ``--exact``), ``ipvsadm -S [-n]`` and
``/proc/net/ip_vs``.

Layouts follow ipvsadm.c (print_title, print_service_entry, print_largenum) and the
kernel's ip_vs_ctl.c (ip_vs_info_seq_show): services are ``PROT  ADDR:PORT sched
[persistent N [mask M]] [pe NAME] [ops]`` or ``FWM  MARK [IPv6] sched ...``;
destinations are ``  -> ADDR:PORT`` plus the columns of the header. Counters of 100
million and more are printed divided, with a K/M/G/T suffix, unless ``--exact``.
"""
from __future__ import annotations

import ipaddress
import re

from ..models import IpvsRate, IpvsStats, IpvsTable, RealServer, VirtualService
from ._util import at, lines, parser, to_uint
from .errors import ParseError

PROTOCOLS = ("TCP", "UDP", "SCTP")
FORWARDS = ("Masq", "Route", "Tunnel", "Local")
#: Well-known service names ipvsadm -L prints instead of numbers (from /etc/services).
SERVICE_PORTS = {"http": 80, "https": 443, "domain": 53, "ssh": 22, "smtp": 25, "ftp": 21,
                 "http-alt": 8080, "webcache": 8080, "imap": 143, "pop3": 110, "ldap": 389,
                 "ntp": 123, "bgp": 179, "mysql": 3306, "postgresql": 5432, "sun-sr-https": 6443}

_HEADERS = {
    ("Scheduler", "Flags"): "list",
    ("Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"): "stats",
    ("CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"): "rate",
    ("Uthreshold", "Lthreshold", "ActiveConn", "InActConn"): "thresholds",
    ("Weight", "PersistConn", "ActiveConn", "InActConn"): "persistent",
}
_VERSION = re.compile(r"^IP Virtual Server version (\S+) \(size=(\d+)\)\s*$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9.])?$")
_LARGENUM = re.compile(r"^(\d+)([KMGT]?)$")
_SUFFIX = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def largenum(word: str) -> tuple[int, bool]:
    """A counter as ipvsadm prints it -> (value, approximate)."""
    m = _LARGENUM.match(word)
    if not m:
        raise ValueError(f"expected a counter, got {word!r}")
    return int(m.group(1)) * _SUFFIX[m.group(2)], bool(m.group(2))


def _port(word: str) -> tuple[int | None, str | None]:
    if word.isascii() and word.isdigit():
        p = int(word)
        if p > 65535:
            raise ValueError(f"port {p} out of range")
        return p, None
    if not word or not _HOSTNAME.match(word):
        raise ValueError(f"expected a port, got {word!r}")
    return SERVICE_PORTS.get(word), word


def _host(word: str) -> str:
    try:
        return str(ipaddress.ip_address(word))
    except ValueError:
        if not _HOSTNAME.match(word) or word.replace(".", "").isdigit():
            raise ValueError(f"expected an address, got {word!r}") from None
        return word


def addr_port(word: str) -> tuple[str, int | None, str | None]:
    """``1.2.3.4:80``, ``[2001:db8::1]:80`` or ``name:http`` -> (address, port, port name)."""
    if word.startswith("["):
        addr, sep, port = word[1:].partition("]:")
        if not sep:
            raise ValueError(f"expected [ADDRESS]:PORT, got {word!r}")
        ipaddress.IPv6Address(addr)
        return str(ipaddress.ip_address(addr)), *_port(port)
    addr, sep, port = word.rpartition(":")
    if not sep or not addr:
        raise ValueError(f"expected ADDRESS:PORT, got {word!r}")
    return _host(addr), *_port(port)


def _service_flags(words: list[str]) -> dict:
    """Parse ``sched [persistent N [mask M]] [pe NAME] [ops] ...`` (list layouts)."""
    out: dict = {"flags": []}
    if words:
        out["scheduler"] = words[0]
    i = 1
    while i < len(words):
        w = words[i]
        if w == "persistent" and i + 1 < len(words):
            out["persistence_timeout"] = to_uint(words[i + 1], "a persistence timeout")
            i += 2
        elif w == "mask" and i + 1 < len(words):
            out["persistence_netmask"] = words[i + 1]
            i += 2
        elif w == "pe" and i + 1 < len(words):
            out["flags"].append(f"pe {words[i + 1]}")
            i += 2
        else:
            out["flags"].append(w)
            i += 1
    return out


class _Builder:
    """Collects services and their destinations in order."""

    def __init__(self):
        self.services: list[tuple[dict, list[RealServer]]] = []

    def service(self, **kw) -> None:
        kw["flags"] = tuple(kw.get("flags", ()))
        self.services.append((kw, []))

    def dest(self, source: str, lineno: int, rs: RealServer) -> None:
        if not self.services:
            raise ParseError(source, lineno, "real server line before any virtual service")
        self.services[-1][1].append(rs)

    def table(self, version=None, size=None) -> IpvsTable:
        return IpvsTable(tuple(VirtualService(real_servers=tuple(rss), **kw)
                               for kw, rss in self.services), version, size)


def _counters(words: list[str], cls):
    if len(words) != 5:
        raise ValueError(f"expected 5 counters, got {len(words)}")
    vals = [largenum(w) for w in words]
    return cls(*(v for v, _ in vals), approximate=any(a for _, a in vals))


@parser
def parse_ipvsadm(text: str, source: str) -> IpvsTable:
    """Parse any ``ipvsadm -L``/``-l`` listing (numeric or with names); the column header
    decides the layout. Raises ParseError on anything else."""
    b = _Builder()
    version = size = None
    mode = None
    for n, line in lines(text):
        words = line.split()
        if not words:
            continue
        with at(source, n):
            m = _VERSION.match(line.strip())
            if m:
                version, size = m.group(1), int(m.group(2))
                continue
            if words[0] == "Prot" and len(words) > 1 and words[1] == "LocalAddress:Port":
                mode = _HEADERS.get(tuple(words[2:]))
                if mode is None:
                    raise ValueError(f"unknown ipvsadm column header: {' '.join(words[2:])}")
                continue
            if words[0] == "->" and len(words) > 1 and words[1] == "RemoteAddress:Port":
                continue
            if mode is None:
                raise ValueError("expected the ipvsadm column header ('Prot LocalAddress:Port ...')")
            if words[0] == "->":
                b.dest(source, n, _dest(mode, words[1:]))
            elif words[0] in PROTOCOLS or words[0] == "FWM":
                b.service(**_service(mode, words))
            else:
                raise ValueError(f"unexpected line: {line.strip()!r}")
    if mode is None:
        raise ParseError(source, None if not text.strip() else 1,
                         "no ipvsadm column header ('Prot LocalAddress:Port ...')")
    return b.table(version, size)


def _service(mode: str, words: list[str]) -> dict:
    kw: dict = {"protocol": words[0]}
    rest = words[1:]
    if not rest:
        raise ValueError("service line without an address")
    if words[0] == "FWM":
        kw.update(address=None, port=None, fwmark=to_uint(rest[0], "a firewall mark"))
        rest = rest[1:]
        ipv6 = bool(rest) and rest[0] == "IPv6"
        if ipv6:
            rest = rest[1:]
    else:
        kw["address"], kw["port"], kw["port_name"] = addr_port(rest[0])
        rest, ipv6 = rest[1:], False
    if mode in ("stats", "rate"):
        kw["stats" if mode == "stats" else "rate"] = _counters(rest, IpvsStats if mode == "stats" else IpvsRate)
        kw["flags"] = ["IPv6"] if ipv6 else []
    else:
        if not rest:
            raise ValueError("service line without a scheduler")
        kw.update(_service_flags(rest))
        if ipv6:
            kw["flags"].insert(0, "IPv6")
    return kw


def _dest(mode: str, words: list[str]) -> RealServer:
    if not words:
        raise ValueError("real server line without an address")
    addr, port, port_name = addr_port(words[0])
    cols = words[1:]
    base = {"address": addr, "port": port, "port_name": port_name}
    if mode == "list":
        if len(cols) != 4 or cols[0] not in FORWARDS:
            raise ValueError("expected 'ADDRESS:PORT Forward Weight ActiveConn InActConn'")
        return RealServer(**base, forward=cols[0], weight=_weight(cols[1]),
                          active_conns=to_uint(cols[2]), inactive_conns=to_uint(cols[3]))
    if mode == "stats":
        return RealServer(**base, stats=_counters(cols, IpvsStats))
    if mode == "rate":
        return RealServer(**base, rate=_counters(cols, IpvsRate))
    if len(cols) != 4:
        raise ValueError(f"expected 4 columns after the address, got {len(cols)}")
    a, b, c, d = (to_uint(x) for x in cols)
    if mode == "thresholds":
        return RealServer(**base, uthreshold=a, lthreshold=b, active_conns=c, inactive_conns=d)
    return RealServer(**base, weight=a, persistent_conns=b, active_conns=c, inactive_conns=d)


def _weight(word: str) -> int:
    w = word[1:] if word.startswith("-") else word
    value = to_uint(w, "a weight")
    return -value if word.startswith("-") else value


# --------------------------------------------------------------------------- /proc/net/ip_vs


def _hex_addr_port(word: str) -> tuple[str, int]:
    if word.startswith("["):
        addr, sep, port = word[1:].partition("]:")
        if not sep:
            raise ValueError(f"expected [ADDRESS]:PORT, got {word!r}")
        return str(ipaddress.IPv6Address(addr)), int(port, 16) if _is_hex(port, 4) else _bad(word)
    addr, sep, port = word.partition(":")
    if not sep or not _is_hex(addr, 8) or not _is_hex(port, 4):
        raise ValueError(f"expected HEXADDR:HEXPORT, got {word!r}")
    return str(ipaddress.IPv4Address(int(addr, 16))), int(port, 16)


def _is_hex(word: str, width: int) -> bool:
    return len(word) == width and all(c in "0123456789abcdefABCDEF" for c in word)


def _bad(word: str):
    raise ValueError(f"expected a hex port, got {word!r}")


@parser
def parse_proc_ip_vs(text: str, source: str) -> IpvsTable:
    """Parse /proc/net/ip_vs (addresses and ports in hex; FWM marks in hex)."""
    b = _Builder()
    version = size = None
    header = False
    for n, line in lines(text):
        words = line.split()
        if not words:
            continue
        with at(source, n):
            m = _VERSION.match(line.strip())
            if m:
                version, size = m.group(1), int(m.group(2))
            elif words[:2] == ["Prot", "LocalAddress:Port"] or words[:2] == ["->", "RemoteAddress:Port"]:
                header = True
            elif not header:
                raise ValueError("expected the /proc/net/ip_vs header")
            elif words[0] == "->":
                if len(words) != 6 or words[2] not in FORWARDS:
                    raise ValueError("expected '-> HEXADDR:HEXPORT Forward Weight ActiveConn InActConn'")
                addr, port = _hex_addr_port(words[1])
                b.dest(source, n, RealServer(addr, port, words[2], _weight(words[3]),
                                             to_uint(words[4]), to_uint(words[5])))
            elif words[0] in PROTOCOLS or words[0] == "FWM":
                if len(words) < 3:
                    raise ValueError("service line needs an address and a scheduler")
                kw: dict = {"protocol": words[0]}
                if words[0] == "FWM":
                    if not _is_hex(words[1], 8):
                        raise ValueError(f"expected a hex firewall mark, got {words[1]!r}")
                    kw.update(address=None, port=None, fwmark=int(words[1], 16))
                else:
                    kw["address"], kw["port"] = _hex_addr_port(words[1])
                kw["scheduler"] = words[2]
                flags, rest = [], words[3:]
                while rest:
                    if rest[0] == "persistent" and len(rest) >= 3:
                        kw["persistence_timeout"] = to_uint(rest[1], "a timeout")
                        if not _is_hex(rest[2], 8):
                            raise ValueError(f"expected a hex netmask, got {rest[2]!r}")
                        kw["persistence_netmask"] = str(ipaddress.IPv4Address(int(rest[2], 16)))
                        rest = rest[3:]
                    else:
                        flags.append(rest.pop(0))
                kw["flags"] = flags
                b.service(**kw)
            else:
                raise ValueError(f"unexpected line: {line.strip()!r}")
    return b.table(version, size)


# --------------------------------------------------------------------------- ipvsadm -S


_FWD_SWITCH = {"-m": "Masq", "--masquerading": "Masq", "-g": "Route", "--gatewaying": "Route",
               "-i": "Tunnel", "--ipip": "Tunnel"}
_SVC_SWITCH = {"-t": "TCP", "--tcp-service": "TCP", "-u": "UDP", "--udp-service": "UDP",
               "--sctp-service": "SCTP", "-f": "FWM", "--fwmark-service": "FWM"}


@parser
def parse_ipvsadm_save(text: str, source: str) -> IpvsTable:
    """Parse ``ipvsadm -S [-n]`` (the restore format: ``-A`` services, ``-a`` servers).
    ``-g`` reads as Route: the save format does not tell Local from Route."""
    b = _Builder()
    keys: list[tuple] = []
    for n, line in lines(text):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        with at(source, n):
            cmd, opts = words[0], _options(words[1:])
            key, kw = _save_service(opts)
            if cmd in ("-A", "--add-service"):
                kw["scheduler"] = opts.pop("-s", opts.pop("--scheduler", None))
                timeout = opts.pop("-p", opts.pop("--persistent", None))
                if timeout is not None:
                    kw["persistence_timeout"] = to_uint(timeout or "300", "a timeout")
                mask = opts.pop("-M", opts.pop("--netmask", None))
                if mask:
                    kw["persistence_netmask"] = mask
                kw["flags"] = [k.lstrip("-") + (f" {v}" if v else "") for k, v in opts.items()]
                b.service(**kw)
                keys.append(key)
            elif cmd in ("-a", "--add-server"):
                if not keys or keys[-1] != key:
                    raise ValueError("-a for a service that was not added just before")
                real = opts.pop("-r", opts.pop("--real-server", None))
                if not real:
                    raise ValueError("-a without -r ADDRESS:PORT")
                addr, port, port_name = addr_port(real) if ":" in real else (_host(real), None, None)
                fwd = [v for k, v in _FWD_SWITCH.items() if k in opts]
                weight = opts.get("-w", opts.get("--weight"))
                ut = opts.get("-x", opts.get("--u-threshold"))
                lt = opts.get("-y", opts.get("--l-threshold"))
                b.dest(source, n, RealServer(
                    addr, port, fwd[0] if fwd else "Route", _weight(weight) if weight else 1,
                    uthreshold=to_uint(ut) if ut else None, lthreshold=to_uint(lt) if lt else None,
                    port_name=port_name))
            else:
                raise ValueError(f"unknown ipvsadm command {cmd!r}")
    return b.table()


def _options(words: list[str]) -> dict[str, str]:
    """``-t X -s rr -m`` -> {"-t": "X", "-s": "rr", "-m": ""}; bare words join the option."""
    opts: dict[str, str] = {}
    key = None
    for w in words:
        if w.startswith("-") and not w.lstrip("-").isdigit():
            key = w
            opts[key] = ""
        elif key is not None and not opts[key]:
            opts[key] = w
        elif key is not None:
            opts[key] += f" {w}"
        else:
            raise ValueError(f"unexpected word {w!r}")
    return opts


def _save_service(opts: dict[str, str]) -> tuple[tuple, dict]:
    found = [(k, p) for k, p in _SVC_SWITCH.items() if k in opts]
    if len(found) != 1:
        raise ValueError("expected exactly one of -t, -u, --sctp-service, -f")
    switch, proto = found[0]
    value = opts.pop(switch)
    if proto == "FWM":
        ipv6 = opts.pop("-6", None) is not None
        mark = to_uint(value, "a firewall mark")
        return ("FWM", mark), {"protocol": "FWM", "address": None, "port": None, "fwmark": mark,
                               "flags": ["IPv6"] if ipv6 else []}
    addr, port, port_name = addr_port(value)
    return (proto, addr, port), {"protocol": proto, "address": addr, "port": port, "port_name": port_name}
