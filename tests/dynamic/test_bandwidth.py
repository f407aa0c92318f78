"""The seed's bandwidth model (§6.1.5, Tables 6.3-6.5) and the per-request bytes of a capture."""
import struct

import pytest

from lbconformance.dynamic import bandwidth as bw


def test_table_6_5_header_sizes():
    assert bw.header_bytes(syn=True) == 98
    assert bw.header_bytes(syn=False) == 90
    assert bw.L1_OVERHEAD == 24


def test_tables_6_3_and_6_4_totals():
    assert bw.table_total(bw.SEED_REQUEST_ROWS) == 22768
    for data in (0, 15, 1000):   # Table 6.4's total: 100 x (data + 90) + 34,768
        assert bw.table_total(bw.SEED_RESPONSE_ROWS, data=data) == 100 * (data + 90) + 34768
    assert bw.seed_request_bytes() == pytest.approx(227.68)
    assert bw.seed_response_bytes(0) == pytest.approx(437.68)


@pytest.mark.parametrize("data", [0, 11, 15, 100, 1000, 1460])
def test_ceiling_reproduces_the_seeds_formula(data):
    assert bw.seed_ceiling(data) == pytest.approx(1e9 / 8 / (data + 665.36), rel=1e-12)
    assert bw.ceiling(1e9, data + 665.36) == pytest.approx(1e9 / 8 / (data + 665.36), rel=1e-12)


def test_seed_ceiling_for_an_ip_address_is_near_the_observed_190k():
    # nginx returns the pod IP ("172.16.72.2\n", 12 bytes; at most 15 + newline): §6.1.5 saw about 190k req/s
    for data in (12, 16):
        assert 180_000 < bw.seed_ceiling(data) < 190_000
    assert bw.seed_ceiling(12, bandwidth_bps=10e9) == pytest.approx(10 * bw.seed_ceiling(12))


def test_what_tc_counts_of_the_seeds_traffic():
    # 4.08 frames per request (2.04 each way), 24 bytes each not seen by tc
    assert bw.packets_per_request(bw.SEED_REQUEST_ROWS) == pytest.approx(2.04)
    assert bw.packets_per_request(bw.SEED_RESPONSE_ROWS) == pytest.approx(2.04)
    assert bw.seed_tc_bytes(0) == pytest.approx(665.36 - 24 * 4.08)


def test_ceiling_rejects_nonsense():
    with pytest.raises(ValueError, match="must be positive"):
        bw.ceiling(0, 100)
    with pytest.raises(ValueError, match="must be positive"):
        bw.ceiling(1e6, 0)


# -- captures -----------------------------------------------------------------------------------------

LB = "02:00:00:00:00:01"
PEER = "02:00:00:00:00:02"


def frame(src_mac: str, flags: int, payload: bytes = b"", opts: int = 12, seq: int = 1) -> bytes:
    mac = bytes.fromhex(src_mac.replace(":", ""))
    tcp_len = 20 + opts
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + tcp_len + len(payload), 0, 0, 64, 6, 0, b"\x0a\x01\x01\x01",
                     b"\x0a\x00\x64\x02")
    tcp = struct.pack(">HHIIBBHHH", 80, 40000, seq, 1, (tcp_len // 4) << 4, flags, 100, 0, 0) + b"\x01" * opts
    return bytes.fromhex(PEER.replace(":", "")) + mac + b"\x08\x00" + ip + tcp + payload


def pcap(frames, snaplen: int = 96, nano: bool = False, big: bool = False) -> bytes:
    e = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, 1)
    for i, f in enumerate(frames):
        cap = f[:snaplen]
        out += struct.pack(e + "IIII", 100 + i, 5, len(cap), len(f)) + cap
    return out


GET = b"GET / HTTP/1.1\r\nHost: 10.1.1.1\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 12\r\n\r\n172.16.105.10\n"


def one_connection(requests: int):
    """A keepalive connection as the LB pod's eth0 sees it, both legs (client<->LB and LB<->web)."""
    fs = [frame(PEER, 0x02, opts=20), frame(LB, 0x02, opts=20),            # client SYN in, SYN to web out
          frame(PEER, 0x12, opts=20), frame(LB, 0x12, opts=20)]            # SYN+ACK back, SYN+ACK to client
    for _ in range(requests):
        fs += [frame(PEER, 0x18, GET), frame(LB, 0x18, GET),                # GET in, GET forwarded out
               frame(PEER, 0x18, RESP), frame(LB, 0x18, RESP, seq=1 + len(fs)),  # response in, response out
               frame(PEER, 0x10), frame(LB, 0x10)]                          # the client's ACK, both legs
    fs += [frame(PEER, 0x11), frame(LB, 0x11)]
    return fs


@pytest.mark.parametrize("nano,big", [(False, False), (True, False), (False, True)])
def test_per_request_bytes_from_a_pcap(nano, big):
    frames = bw.read_pcap(pcap(one_connection(100), nano=nano, big=big))
    assert len(frames) == 4 + 600 + 2
    assert frames[0].t == pytest.approx(100 + (5e-9 if nano else 5e-6))
    pr = bw.per_request(frames, LB)
    assert pr.responses == 100
    assert pr.out.frames == pr.inn.frames == 303
    ack, syn = 14 + 20 + 32, 14 + 20 + 40
    per = (2 * syn + 100 * (3 * ack + len(GET) + len(RESP)) + ack) / 100
    assert pr.tc_bytes == pytest.approx(per)
    assert pr.wire_bytes == pytest.approx(per + 24 * 3.03)
    assert pr.frames_per_request == pytest.approx(3.03)
    assert pr.out.kinds["P"] == [200, 200 * ack + 100 * (len(GET) + len(RESP))]
    assert "100 responses" in pr.describe() and "tc-counted" in pr.describe()


def test_the_model_applied_to_a_capture():
    pr = bw.per_request(bw.read_pcap(pcap(one_connection(100))), LB)
    # a 2 Mbit/s htb (tc counts the skb: no preamble, FCS or gap) saturates at rate/8 / tc bytes
    assert bw.ceiling(2e6, pr.tc_bytes) == pytest.approx(2e6 / 8 / pr.tc_bytes)
    assert bw.within(0.9 * bw.ceiling(2e6, pr.tc_bytes), bw.ceiling(2e6, pr.tc_bytes), 0.15, 0.05)
    assert not bw.within(0.8 * bw.ceiling(2e6, pr.tc_bytes), bw.ceiling(2e6, pr.tc_bytes), 0.15, 0.05)


def test_busier_direction_counts():
    fs = one_connection(10) + [frame(PEER, 0x10, b"x" * 1000)] * 5   # extra inbound bytes only
    pr = bw.per_request(bw.read_pcap(pcap(fs, snaplen=2000)), LB)
    assert pr.inn.bytes > pr.out.bytes and pr.tc_bytes == pr.inn.bytes / 10


def test_capture_errors_are_explicit():
    with pytest.raises(ValueError, match="shorter than the 24-byte"):
        bw.read_pcap(b"abc")
    with pytest.raises(ValueError, match="unknown magic"):
        bw.read_pcap(b"\x0a\x0d\x0d\x0a" + b"\0" * 30)
    sll = bytearray(pcap([]))
    sll[20:24] = struct.pack("<I", 113)
    with pytest.raises(ValueError, match="link type 113"):
        bw.read_pcap(bytes(sll))
    with pytest.raises(ValueError, match="no HTTP response sent by 02:00:00:00:00:09"):
        bw.per_request(bw.read_pcap(pcap(one_connection(3))), "02:00:00:00:00:09")


def test_a_truncated_capture_keeps_whole_records_and_non_tcp_frames_are_other():
    blob = pcap(one_connection(2))
    assert len(bw.read_pcap(blob[:-5])) == len(one_connection(2)) - 1
    arp = bytes(12) + b"\x08\x06" + bytes(28)
    assert bw.classify(bw.Frame(0, len(arp), arp)).flags == "other"


def test_a_retransmitted_response_is_one_response_but_its_bytes_count():
    fs = one_connection(10)
    again = [f for f in fs if f[6:12] == bytes.fromhex(LB.replace(":", "")) and RESP in f][:3]
    pr = bw.per_request(bw.read_pcap(pcap(fs + again, snaplen=2000)), LB)
    base = bw.per_request(bw.read_pcap(pcap(fs, snaplen=2000)), LB)
    assert pr.responses == base.responses == 10
    assert pr.out.bytes == base.out.bytes + sum(len(f) for f in again)
