"""Netfilter rules: ``iptables-save`` / ``ip6tables-save`` and (the parts the checks
need of) ``nft list ruleset``: masquerade and mark-setting rules."""
from __future__ import annotations

import shlex

from ..models import NetfilterRule, NetfilterRuleset
from ._blocks import Node, build, tokenize
from ._util import at, lines, parser, to_int, to_uint
from .errors import ParseError


def _mark(value: str) -> tuple[int, int]:
    v, _, m = value.partition("/")
    return to_int(v, "a mark", 0), to_int(m, "a mask", 0) if m else 0xFFFFFFFF


@parser
def parse_iptables_save(text: str, source: str, family: str = "ip") -> NetfilterRuleset:
    """``iptables-save`` output: ``*table``, ``:CHAIN POLICY [p:b]``, ``-A CHAIN ...``,
    ``COMMIT``. Each rule keeps its text; addresses, ``-m ipvs --vaddr/--vport``,
    ``-j MARK --set-xmark/--set-mark`` and the target are structured."""
    table = None
    rules, chains = [], []
    for n, line in lines(text):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        with at(source, n):
            if s.startswith("*"):
                table = s[1:].strip()
                if not table:
                    raise ValueError("table name missing after '*'")
                continue
            if table is None:
                raise ValueError(f"rule outside a table: {s[:40]!r}")
            if s == "COMMIT":
                table = None
                continue
            if s.startswith(":"):
                w = s[1:].split()
                if not w:
                    raise ValueError("chain name missing after ':'")
                chains.append((table, w[0], w[1] if len(w) > 1 and w[1] != "-" else None))
                continue
            words = shlex.split(s)
            if len(words) < 2 or words[0] not in ("-A", "--append", "-I", "--insert"):
                raise ValueError(f"expected '-A CHAIN ...', got {s[:40]!r}")
            rules.append(_rule(table, words[1], words[2:], s.split(None, 2)[2] if len(words) > 2 else "",
                               family, n))
    if table is not None:
        raise ParseError(source, None, f"table {table!r} has no COMMIT")
    return NetfilterRuleset(tuple(rules), tuple(chains))


def _rule(table: str, chain: str, words: list[str], text: str, family: str, line: int) -> NetfilterRule:
    kw: dict = {}
    matches: list[str] = []
    neg = False
    i = 0

    def value() -> str:
        nonlocal i
        if i + 1 >= len(words):
            raise ValueError(f"{words[i]} needs a value")
        i += 1
        return words[i]

    in_target = False
    while i < len(words):
        w = words[i]
        if w == "!":
            neg = True
            i += 1
            continue
        if w in ("-s", "--source"):
            kw["source"], kw["source_negated"] = value(), neg
        elif w in ("-d", "--destination"):
            kw["destination"], kw["destination_negated"] = value(), neg
        elif w in ("-p", "--protocol"):
            kw["protocol"] = ("!" if neg else "") + value()
        elif w in ("-i", "--in-interface"):
            kw["in_interface"] = ("!" if neg else "") + value()
        elif w in ("-o", "--out-interface"):
            kw["out_interface"] = ("!" if neg else "") + value()
        elif w in ("-m", "--match"):
            m = value()
            matches.append(m)
            if m == "ipvs":
                kw["ipvs"] = True
        elif w in ("-j", "--jump", "-g", "--goto"):
            kw["target"] = value()
            in_target = True
        elif w == "--vaddr" and "ipvs" in matches and not in_target:
            kw["ipvs_vaddr"], kw["ipvs_vaddr_negated"] = value(), neg
        elif w == "--vport" and "ipvs" in matches and not in_target:
            kw["ipvs_vport"] = to_uint(value(), "a port")
        elif w in ("--set-xmark", "--set-mark") and kw.get("target") == "MARK":
            kw["mark"], kw["mark_mask"] = _mark(value())
        elif w.startswith("-") and i + 1 < len(words) and not words[i + 1].startswith("-") \
                and words[i + 1] != "!":
            i += 1  # an option of some match or target, with its value
        neg = False
        i += 1
    return NetfilterRule(table, chain, text, matches=tuple(matches), family=family, line=line, **kw)


@parser
def parse_nft_ruleset(text: str, source: str) -> NetfilterRuleset:
    """``nft list ruleset``: ``table FAMILY NAME { chain NAME { type ...; policy P; RULE... } }``.
    Recognised in rules: ``masquerade``, ``meta mark set V``, ``ip saddr/daddr [!=] X``,
    ``iifname/oifname``; everything else stays in ``text``."""
    nodes = build(tokenize(text, source, comments="#", semicolons=True), source)
    rules, chains = [], []
    for t in nodes:
        if t.words[0] != "table":
            if t.words[0] in ("define", "include", "flush", "add"):
                continue
            raise ParseError(t.file, t.line, f"expected 'table', got {t.words[0]!r}")
        if len(t.words) not in (2, 3) or t.block is None:
            raise ParseError(t.file, t.line, "expected 'table [FAMILY] NAME { ... }'")
        family = t.words[1] if len(t.words) == 3 else "ip"
        tname = t.words[-1]
        for c in t.block:
            if c.words[0] != "chain" or c.block is None:
                continue  # sets, maps, flowtables
            if len(c.words) != 2:
                raise ParseError(c.file, c.line, "expected 'chain NAME { ... }'")
            policy = None
            for r in c.block:
                if r.words[0] == "type":
                    continue
                if r.words[0] == "policy":
                    policy = r.words[1] if len(r.words) > 1 else None
                    continue
                rules.append(_nft_rule(family, tname, c.words[1], r))
            chains.append((tname, c.words[1], policy))
    return NetfilterRuleset(tuple(rules), tuple(chains))


_NFT_TARGETS = {"masquerade": "MASQUERADE", "accept": "ACCEPT", "drop": "DROP", "return": "RETURN",
                "snat": "SNAT", "dnat": "DNAT", "reject": "REJECT", "jump": "JUMP", "goto": "GOTO"}


def _nft_rule(family: str, table: str, chain: str, r: Node) -> NetfilterRule:
    w = r.words
    kw: dict = {}
    with at(r.file, r.line):
        for i, word in enumerate(w):
            if word in _NFT_TARGETS and "target" not in kw:
                kw["target"] = _NFT_TARGETS[word]
            if word in ("saddr", "daddr") and i > 0 and w[i - 1] in ("ip", "ip6") and i + 1 < len(w):
                neg = w[i + 1] == "!="
                val = w[i + 2] if neg and i + 2 < len(w) else w[i + 1]
                key = "source" if word == "saddr" else "destination"
                kw[key], kw[f"{key}_negated"] = val, neg
            if word in ("iifname", "oifname") and i + 1 < len(w):
                kw["in_interface" if word == "iifname" else "out_interface"] = w[i + 1]
            if word == "protocol" and i > 0 and w[i - 1] == "ip" and i + 1 < len(w):
                kw["protocol"] = w[i + 1]
            if w[i:i + 3] == ["meta", "mark", "set"] and i + 3 < len(w) or \
                    w[i:i + 2] == ["mark", "set"] and (i == 0 or w[i - 1] != "meta") and i + 2 < len(w):
                val = w[i + 3] if word == "meta" else w[i + 2]
                kw["mark"], kw["mark_mask"] = to_int(val, "a mark", 0), 0xFFFFFFFF
                kw.setdefault("target", "MARK")
    return NetfilterRule(table, chain, " ".join(w), family=family, line=r.line, **kw)
