"""keepalived configuration: parse (with ``include`` globs) and render.

Syntax followed (keepalived.conf(5)): one statement a line, ``{ ... }`` blocks (the
brace may start the next line), ``#`` and ``!`` comments, double-quoted strings, a
trailing backslash continues a line, ``include PATTERN`` anywhere (glob, relative to
the including file; patterns that match nothing are ignored, as keepalived does).
Not supported: ``$NAME=`` parameters, ``@host`` conditional lines, ``~SEQ``.
"""
from __future__ import annotations

import math
import posixpath
from typing import Callable, Sequence

from ..models import (
    ConfigRealServer,
    ConfigStatement,
    ConfigVirtualServer,
    HealthChecker,
    KeepalivedConfig,
    VirtualServerGroup,
)
from ._blocks import Node, Tok, build, tokenize
from ._util import at, ip, parser, to_int, to_uint
from .errors import ParseError

#: read(pattern) -> [(path, text), ...] sorted; the pattern is already absolute (or
#: relative to the including file's directory when that has none).
Reader = Callable[[str], Sequence[tuple[str, str]]]

CHECKERS = frozenset({"TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "DNS_CHECK",
                      "SMTP_CHECK", "UDP_CHECK", "PING_CHECK", "FILE_CHECK", "BFD_CHECK"})
MAX_INCLUDE_DEPTH = 16


@parser
def parse_keepalived(text: str, source: str, read: Reader | None = None) -> KeepalivedConfig:
    """Parse a keepalived configuration. ``read`` resolves ``include`` patterns."""
    files: list[str] = []
    empty: list[str] = []
    toks = _expand(text, source, read, files, empty, [])
    nodes = build(toks, source)
    vss, groups, other = [], [], []
    for node in nodes:
        kw = node.words[0]
        if kw == "virtual_server":
            vss.append(_virtual_server(node))
        elif kw == "virtual_server_group":
            groups.append(_group(node))
        else:
            other.append(_statement(node))
    return KeepalivedConfig(tuple(vss), tuple(groups), tuple(other), tuple(files), tuple(empty))


def _expand(text: str, file: str, read: Reader | None, files: list[str], empty: list[str],
            stack: list[str]) -> list[Tok]:
    if len(stack) > MAX_INCLUDE_DEPTH:
        raise ParseError(file, None, f"includes nested deeper than {MAX_INCLUDE_DEPTH}")
    files.append(file)
    toks = tokenize(text, file, comments="#!", continuation=True)
    out: list[Tok] = []
    line_start = 0
    i = 0
    while i < len(toks):
        t = toks[i]
        starts_line = i == line_start
        if t.kind == "nl":
            line_start = i + 1
        if starts_line and t.kind == "word" and t.text == "include" and not t.quoted:
            j = i + 1
            args = []
            while j < len(toks) and toks[j].kind == "word":
                args.append(toks[j].text)
                j += 1
            if len(args) != 1 or j >= len(toks) or toks[j].kind != "nl":
                raise ParseError(file, t.line, "include takes exactly one file pattern")
            out.extend(_include(args[0], file, t.line, read, files, empty, stack + [file]))
            i = j  # keep the newline token
            continue
        out.append(t)
        i += 1
    return out


def _include(pattern: str, file: str, line: int, read: Reader | None, files: list[str],
             empty: list[str], stack: list[str]) -> list[Tok]:
    if read is None:
        raise ParseError(file, line, f"include {pattern!r}: no reader given to resolve it")
    if not posixpath.isabs(pattern):
        pattern = posixpath.normpath(posixpath.join(posixpath.dirname(file), pattern))
    try:
        matches = list(read(pattern))
    except ParseError:
        raise
    except Exception as e:  # the injected reader is outside our control
        raise ParseError(file, line, f"include {pattern!r}: {type(e).__name__}: {e}") from None
    if not matches:
        empty.append(pattern)
        return []
    out: list[Tok] = []
    for item in matches:
        with at(file, line):
            path, text = item
            if not isinstance(path, str) or not isinstance(text, str):
                raise ParseError(file, line, f"include {pattern!r}: reader returned non-text")
        if path in stack:
            raise ParseError(file, line, f"include cycle: {path} includes itself")
        out.extend(_expand(text, path, read, files, empty, stack))
        out.append(Tok("nl", "", path, 0))
    return out


# --------------------------------------------------------------------------- model building


def _statement(node: Node) -> ConfigStatement:
    block = None if node.block is None else tuple(_statement(n) for n in node.block)
    return ConfigStatement(tuple(node.words), block)


def _arg(node: Node, what: str) -> str:
    if len(node.words) < 2:
        raise ParseError(node.file, node.line, f"{node.words[0]} needs {what}")
    return node.words[1]


def _number(word: str, what: str) -> float:
    try:
        v = float(word)
    except ValueError:
        raise ValueError(f"expected {what}, got {word!r}") from None
    if math.isnan(v) or math.isinf(v) or v < 0:
        raise ValueError(f"expected {what}, got {word!r}")
    return v


def _port(word: str) -> int:
    p = to_uint(word, "a port")
    if p > 65535:
        raise ValueError(f"port {p} out of range")
    return p


def _no_block(node: Node) -> None:
    if node.block is not None:
        raise ParseError(node.file, node.line, f"{node.words[0]} does not take a block")


def _virtual_server(node: Node) -> ConfigVirtualServer:
    w = node.words
    kw: dict = {}
    with at(node.file, node.line):
        if len(w) == 3 and w[1] == "fwmark":
            kw["fwmark"] = to_uint(w[2], "a firewall mark")
        elif len(w) == 3 and w[1] == "group":
            kw["group"] = w[2]
        elif len(w) == 3:
            kw["address"], kw["port"] = ip(w[1]), _port(w[2])
        else:
            raise ValueError("virtual_server takes 'IP PORT', 'fwmark N' or 'group NAME'")
    if node.block is None:
        raise ParseError(node.file, node.line, "virtual_server needs a { ... } block")
    rss, other = [], []
    for n in node.block:
        k = n.words[0]
        with at(n.file, n.line):
            if k == "real_server":
                rss.append(_real_server(n))
                continue
            if k in ("lb_algo", "lvs_sched"):
                kw["lb_algo"] = _arg(n, "a scheduler")
            elif k in ("lb_kind", "lvs_method"):
                kw["lb_kind"] = _arg(n, "NAT, DR or TUN").upper()
            elif k == "protocol":
                kw["protocol"] = _arg(n, "TCP, UDP or SCTP").upper()
            elif k == "persistence_timeout":
                kw["persistence_timeout"] = to_uint(_arg(n, "a timeout"), "a timeout")
            elif k == "delay_loop":
                kw["delay_loop"] = _number(_arg(n, "seconds"), "seconds")
            else:
                other.append(_statement(n))
                continue
            _no_block(n)
    return ConfigVirtualServer(real_servers=tuple(rss), other=tuple(other), source=node.file,
                               line=node.line, **kw)


def _real_server(node: Node) -> ConfigRealServer:
    w = node.words
    if len(w) not in (2, 3):
        raise ParseError(node.file, node.line, "real_server takes 'IP [PORT]'")
    kw: dict = {"address": ip(w[1]), "port": _port(w[2]) if len(w) == 3 else None}
    checkers, other = [], []
    for n in node.block or []:
        k = n.words[0]
        with at(n.file, n.line):
            if k in CHECKERS:
                checkers.append(_checker(n))
                continue
            if k == "weight":
                kw["weight"] = to_int(_arg(n, "a weight"), "a weight")
            elif k == "uthreshold":
                kw["uthreshold"] = to_uint(_arg(n, "a number"), "a threshold")
            elif k == "lthreshold":
                kw["lthreshold"] = to_uint(_arg(n, "a number"), "a threshold")
            elif k in ("lb_kind", "lvs_method"):
                kw["lb_kind"] = _arg(n, "NAT, DR or TUN").upper()
            elif k == "inhibit_on_failure":
                flag = n.words[1].lower() if len(n.words) > 1 else "true"
                if flag not in ("true", "false", "yes", "no", "on", "off"):
                    raise ValueError(f"inhibit_on_failure: expected true/false, got {flag!r}")
                kw["inhibit_on_failure"] = flag in ("true", "yes", "on")
            else:
                other.append(_statement(n))
                continue
            _no_block(n)
    return ConfigRealServer(checkers=tuple(checkers), other=tuple(other), source=node.file,
                            line=node.line, **kw)


def _checker(node: Node) -> HealthChecker:
    kw: dict = {}
    other = []
    for n in node.block or []:
        k = n.words[0]
        with at(n.file, n.line):
            if k == "connect_timeout":
                kw["connect_timeout"] = _number(_arg(n, "seconds"), "seconds")
            elif k in ("retry", "nb_get_retry"):
                kw["retry"] = to_uint(_arg(n, "a count"), "a retry count")
            elif k == "delay_before_retry":
                kw["delay_before_retry"] = _number(_arg(n, "seconds"), "seconds")
            elif k == "connect_port":
                kw["connect_port"] = _port(_arg(n, "a port"))
            elif k == "connect_ip":
                kw["connect_ip"] = ip(_arg(n, "an address"))
            else:
                other.append(_statement(n))
                continue
            _no_block(n)
    if len(node.words) > 1:
        raise ParseError(node.file, node.line, f"{node.words[0]} takes no arguments")
    return HealthChecker(node.words[0], other=tuple(other), **kw)


def _group(node: Node) -> VirtualServerGroup:
    if len(node.words) != 2 or node.block is None:
        raise ParseError(node.file, node.line, "virtual_server_group takes NAME { ... }")
    addrs, marks = [], []
    for n in node.block:
        with at(n.file, n.line):
            if n.words[0] == "fwmark" and len(n.words) == 2:
                marks.append(to_uint(n.words[1], "a firewall mark"))
            elif len(n.words) in (1, 2):
                first = n.words[0]
                base, dash, last = first.partition("-")
                ip(base)
                if dash:
                    to_uint(last, "the last octet of a range")
                addrs.append((first, _port(n.words[1]) if len(n.words) == 2 else None))
            else:
                raise ValueError("expected 'IP[-LAST] PORT' or 'fwmark N'")
            _no_block(n)
    return VirtualServerGroup(node.words[1], tuple(addrs), tuple(marks), node.file, node.line)


# --------------------------------------------------------------------------- rendering


def _word(w: str) -> str:
    if w and not any(c.isspace() or c in '{}' for c in w) and w[0] not in '"#!':
        return w
    if '"' in w:
        raise ValueError(f"cannot render {w!r}: it needs quotes and contains a quote")
    return f'"{w}"'


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _line(out: list[str], depth: int, *words: str) -> None:
    out.append("    " * depth + " ".join(_word(w) for w in words))


def _render_statement(out: list[str], depth: int, st: ConfigStatement) -> None:
    if st.block is None:
        _line(out, depth, *st.words)
        return
    out.append("    " * depth + " ".join(_word(w) for w in st.words) + " {")
    for child in st.block:
        _render_statement(out, depth + 1, child)
    out.append("    " * depth + "}")


def _open(out: list[str], depth: int, *words: str) -> None:
    out.append("    " * depth + " ".join(_word(w) for w in words) + " {")


def render_keepalived(config: KeepalivedConfig) -> str:
    """Write ``config`` as keepalived configuration text. The output re-parses (with
    parse_keepalived) to a model equal to ``config``. Includes are written inline."""
    out: list[str] = []
    for st in config.other:
        _render_statement(out, 0, st)
    for g in config.virtual_server_groups:
        _open(out, 0, "virtual_server_group", g.name)
        for addr, port in g.addresses:
            _line(out, 1, addr, *([] if port is None else [str(port)]))
        for mark in g.fwmarks:
            _line(out, 1, "fwmark", str(mark))
        out.append("}")
    for vs in config.virtual_servers:
        if vs.fwmark is not None:
            head = ["fwmark", str(vs.fwmark)]
        elif vs.group is not None:
            head = ["group", vs.group]
        else:
            head = [str(vs.address), str(vs.port)]
        _open(out, 0, "virtual_server", *head)
        if vs.delay_loop is not None:
            _line(out, 1, "delay_loop", _num(vs.delay_loop))
        if vs.lb_algo is not None:
            _line(out, 1, "lb_algo", vs.lb_algo)
        if vs.lb_kind is not None:
            _line(out, 1, "lb_kind", vs.lb_kind)
        if vs.protocol is not None:
            _line(out, 1, "protocol", vs.protocol)
        if vs.persistence_timeout is not None:
            _line(out, 1, "persistence_timeout", str(vs.persistence_timeout))
        for st in vs.other:
            _render_statement(out, 1, st)
        for rs in vs.real_servers:
            _open(out, 1, "real_server", rs.address, *([] if rs.port is None else [str(rs.port)]))
            if rs.weight != 1:
                _line(out, 2, "weight", str(rs.weight))
            if rs.uthreshold is not None:
                _line(out, 2, "uthreshold", str(rs.uthreshold))
            if rs.lthreshold is not None:
                _line(out, 2, "lthreshold", str(rs.lthreshold))
            if rs.lb_kind is not None:
                _line(out, 2, "lb_kind", rs.lb_kind)
            if rs.inhibit_on_failure:
                _line(out, 2, "inhibit_on_failure")
            for st in rs.other:
                _render_statement(out, 2, st)
            for ck in rs.checkers:
                _open(out, 2, ck.kind)
                if ck.connect_timeout is not None:
                    _line(out, 3, "connect_timeout", _num(ck.connect_timeout))
                if ck.connect_ip is not None:
                    _line(out, 3, "connect_ip", ck.connect_ip)
                if ck.connect_port is not None:
                    _line(out, 3, "connect_port", str(ck.connect_port))
                if ck.retry is not None:
                    _line(out, 3, "retry", str(ck.retry))
                if ck.delay_before_retry is not None:
                    _line(out, 3, "delay_before_retry", _num(ck.delay_before_retry))
                for st in ck.other:
                    _render_statement(out, 3, st)
                out.append("        }")
            out.append("    }")
        out.append("}")
    return "\n".join(out) + ("\n" if out else "")
