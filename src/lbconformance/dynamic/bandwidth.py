"""The seed's bandwidth model (§6.1.5, Tables 6.3-6.5) and the per-request bytes of a captured run.

A one-armed LB receives and sends both requests and responses on one interface, so each direction of
its link carries `request + response` bytes per HTTP request, and

    ceiling [req/s] = bandwidth [byte/s] / (request + response wire bytes per request)

With the seed's wrk traffic (100 requests per connection, nginx `keepalive_requests 100`) that is
1e9/8 / (data + 665.36) on 1 Gbps (`seed_ceiling`).

What a byte is depends on who counts it:
- the seed counts Ethernet *wire* bytes: preamble 8, header 14, IP, TCP, FCS 4, inter-frame gap 12;
- `tc` (htb/tbf) counts the skb length at the qdisc: header 14 + IP packet, i.e. 24 bytes fewer per
  packet (no preamble, FCS or gap) unless an `overhead` is configured;
- tcpdump's `orig_len` on a veth is that same skb length.
So a link shaped with tc saturates at rate/8 / (tc-counted bytes per request), where the tc-counted bytes
are what the capture measures (`PerRequest.tc_bytes`).

Pure: no I/O. The pcap reader takes bytes.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

# Table 6.5: bytes of one Ethernet frame around a TCP segment.
PREAMBLE, ETHER_HEADER, IP_HEADER, TCP_HEADER, FCS, IFG = 8, 14, 20, 20, 4, 12
SYN_OPTIONS = 20      # mss 4, sack 2, ts 10, nop 1, wscale 3 (Listing 6.1)
OTHER_OPTIONS = 12    # nop, nop, ts 10
L1_OVERHEAD = PREAMBLE + FCS + IFG        # 24: on the wire, never in the skb tc and tcpdump see


def header_bytes(syn: bool) -> int:
    """Table 6.5: 98 for a SYN, 90 for every other segment."""
    return PREAMBLE + ETHER_HEADER + IP_HEADER + TCP_HEADER + (SYN_OPTIONS if syn else OTHER_OPTIONS) + FCS + IFG


@dataclass(frozen=True)
class Row:
    packet: str
    payload: int | str     # bytes, or "data" (the HTTP content, a parameter)
    syn: bool
    count: int


# Tables 6.3 and 6.4: the segments of one connection carrying 100 requests.
SEED_REQUESTS_PER_CONNECTION = 100
SEED_REQUEST_ROWS = (Row("SYN", 0, True, 1), Row("ACK", 0, False, 102), Row("Push(GET)", 44, False, 100),
                     Row("FIN+ACK", 0, False, 1))
SEED_RESPONSE_ROWS = (Row("SYN+ACK", 0, True, 1), Row("ACK", 0, False, 2), Row("Push(header)", 254, False, 100),
                      Row("Push(DATA)", "data", False, 100), Row("FIN+ACK", 0, False, 1))


def table_total(rows, data: float = 0.0) -> float:
    """The 'Total [byte]' line of Table 6.3 / 6.4 for content size `data`."""
    return sum(r.count * ((data if r.payload == "data" else r.payload) + header_bytes(r.syn)) for r in rows)


def packets_per_request(rows) -> float:
    return sum(r.count for r in rows) / SEED_REQUESTS_PER_CONNECTION


def seed_request_bytes() -> float:
    """227.68 wire bytes per request (Table 6.3 / 100)."""
    return table_total(SEED_REQUEST_ROWS) / SEED_REQUESTS_PER_CONNECTION


def seed_response_bytes(data: float) -> float:
    """data + 437.68 wire bytes per response (Table 6.4 / 100)."""
    return table_total(SEED_RESPONSE_ROWS, data) / SEED_REQUESTS_PER_CONNECTION


def ceiling(bandwidth_bps: float, bytes_per_request: float) -> float:
    """Requests per second a link of `bandwidth_bps` (bit/s, each direction) can carry when every request
    costs `bytes_per_request` (request + response) in the bottleneck direction."""
    if bandwidth_bps <= 0 or bytes_per_request <= 0:
        raise ValueError(f"ceiling: bandwidth {bandwidth_bps} bit/s and bytes per request {bytes_per_request} "
                         "must be positive")
    return bandwidth_bps / 8 / bytes_per_request


def seed_ceiling(data: float, bandwidth_bps: float = 1e9) -> float:
    """§6.1.5: 1e9/8 / (data + 665.36) for the seed's 1 Gbps link."""
    return ceiling(bandwidth_bps, seed_request_bytes() + seed_response_bytes(data))


def seed_tc_bytes(data: float) -> float:
    """What tc would count of the seed's traffic per request: the wire bytes less 24 per frame."""
    pkts = packets_per_request(SEED_REQUEST_ROWS) + packets_per_request(SEED_RESPONSE_ROWS)
    return seed_request_bytes() + seed_response_bytes(data) - L1_OVERHEAD * pkts


# -- a capture of the LB pod's interface ---------------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    t: float
    length: int           # orig_len: the skb length (what tc counts on this interface)
    data: bytes           # the captured part (snaplen)


def read_pcap(blob: bytes) -> list[Frame]:
    """Frames of a classic pcap file (micro- or nanosecond, either byte order, LINKTYPE_ETHERNET)."""
    if len(blob) < 24:
        raise ValueError(f"pcap: {len(blob)} bytes, shorter than the 24-byte file header")
    magic = blob[:4]
    formats = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
               b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}
    if magic not in formats:
        raise ValueError(f"pcap: unknown magic {magic.hex()} (not a classic pcap file; pcapng is not read)")
    end, unit = formats[magic]
    linktype = struct.unpack(end + "I", blob[20:24])[0] & 0x0FFFFFFF
    if linktype != 1:
        raise ValueError(f"pcap: link type {linktype}, expected 1 (Ethernet): capture one interface, not 'any'")
    out, off = [], 24
    while off + 16 <= len(blob):
        sec, frac, incl, orig = struct.unpack(end + "IIII", blob[off:off + 16])
        off += 16
        if off + incl > len(blob):
            break  # a capture cut short mid-record: keep what is whole
        out.append(Frame(sec + frac * unit, orig, blob[off:off + incl]))
        off += incl
    return out


@dataclass(frozen=True)
class Segment:
    src_mac: str
    flags: str            # S, SA, F, P (payload), A (pure ack), R, or "other" (not IPv4/TCP)
    payload: int
    head: bytes           # the first captured payload bytes
    key: tuple = ()       # (src ip, dst ip, sport, dport, seq): a retransmission has the same key


def classify(frame: Frame) -> Segment:
    d = frame.data
    src_mac = d[6:12].hex(":") if len(d) >= 12 else ""
    if len(d) < 34 or d[12:14] != b"\x08\x00" or d[23] != 6:
        return Segment(src_mac, "other", 0, b"")
    ihl = (d[14] & 0x0F) * 4
    total = struct.unpack(">H", d[16:18])[0]
    t0 = 14 + ihl
    if len(d) < t0 + 14:
        return Segment(src_mac, "other", 0, b"")
    doff = (d[t0 + 12] >> 4) * 4
    fl = d[t0 + 13]
    payload = max(0, total - ihl - doff)
    syn, ack, fin, rst = fl & 0x02, fl & 0x10, fl & 0x01, fl & 0x04
    if rst:
        kind = "R"
    elif syn:
        kind = "SA" if ack else "S"
    elif fin:
        kind = "F"
    elif payload:
        kind = "P"
    else:
        kind = "A"
    key = (d[26:30], d[30:34], d[t0:t0 + 2], d[t0 + 2:t0 + 4], d[t0 + 4:t0 + 8])
    return Segment(src_mac, kind, payload, d[t0 + doff:t0 + doff + 16], key)


@dataclass
class Direction:
    frames: int = 0
    bytes: int = 0                                          # tc-counted (orig_len)
    kinds: dict = field(default_factory=dict)               # flags -> [frames, bytes]

    def add(self, seg: Segment, length: int) -> None:
        self.frames += 1
        self.bytes += length
        k = self.kinds.setdefault(seg.flags, [0, 0])
        k[0] += 1
        k[1] += length


@dataclass
class PerRequest:
    """Per-request bytes on the LB pod's interface, by direction (`out`: sent by the pod)."""

    responses: int
    out: Direction
    inn: Direction

    @property
    def tc_bytes(self) -> float:
        """tc-counted bytes per request in the busier direction: the one that saturates first."""
        return max(self.out.bytes, self.inn.bytes) / self.responses

    @property
    def wire_bytes(self) -> float:
        """The seed's wire bytes (+ preamble, FCS, gap per frame) per request, busier direction."""
        return max(self.out.bytes + L1_OVERHEAD * self.out.frames,
                   self.inn.bytes + L1_OVERHEAD * self.inn.frames) / self.responses

    @property
    def frames_per_request(self) -> float:
        return max(self.out.frames, self.inn.frames) / self.responses

    def describe(self) -> str:
        def d(x: Direction) -> str:
            return ", ".join(f"{k} {v[0] / self.responses:.2f}x/{v[1] / self.responses:.0f} B"
                             for k, v in sorted(x.kinds.items()))
        return (f"{self.responses} responses; per request: out {self.out.bytes / self.responses:.1f} B "
                f"({d(self.out)}), in {self.inn.bytes / self.responses:.1f} B ({d(self.inn)}); "
                f"tc-counted {self.tc_bytes:.1f} B, wire {self.wire_bytes:.1f} B")


def per_request(frames, lb_mac: str) -> PerRequest:
    """Split the capture of the LB pod's eth0 by direction (source MAC == the pod's = sent) and divide by
    the number of HTTP responses the pod sent (each response leaves the pod once, towards the client).
    A retransmitted response (same addresses, ports and sequence number) is one response; its bytes
    count, as tc counts them."""
    lb_mac = lb_mac.lower()
    out, inn, seen = Direction(), Direction(), set()
    for f in frames:
        seg = classify(f)
        if seg.src_mac == lb_mac:
            out.add(seg, f.length)
            if seg.flags == "P" and seg.head.startswith(b"HTTP/1."):
                seen.add(seg.key)
        else:
            inn.add(seg, f.length)
    responses = len(seen)
    if not responses:
        raise ValueError(f"capture: no HTTP response sent by {lb_mac} among {len(list(frames))} frames "
                         "(wrong interface or MAC, or a snaplen below the TCP payload)")
    return PerRequest(responses, out, inn)


def within(measured: float, model: float, low: float, high: float) -> bool:
    """measured/model inside [1 - low, 1 + high]."""
    return (1 - low) * model <= measured <= (1 + high) * model
