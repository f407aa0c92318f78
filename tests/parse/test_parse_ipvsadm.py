"""ipvsadm listings, save format and /proc/net/ip_vs. Layouts from ipvsadm.c's print
functions and the kernel's ip_vs_ctl.c; the seed's Fig 5.4."""
from __future__ import annotations

import pytest
from hypothesis import given
from parse_fuzz_helpers import FUZZ, data, mutations, only_parse_error

from lbconformance.models import IpvsRate, IpvsStats, RealServer
from lbconformance.parse import ParseError, parse_ipvsadm, parse_ipvsadm_save, parse_proc_ip_vs

FIG_5_4 = data("seed_fig5_4_ipvsadm_L.txt")

LN = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.1.1.1:80 lc
  -> 172.16.21.2:80               Masq    1      3          12
  -> 172.16.80.2:80               Masq    0      0          0
UDP  10.1.1.1:53 rr persistent 360 mask 255.255.255.0
  -> 172.16.21.3:53               Route   2      0          0
SCTP 10.1.1.2:9000 wrr persistent 50 pe sip ops
  -> 172.16.21.4:9000             Tunnel  1      0          0
FWM  1 lc
  -> 172.16.21.2:80               Masq    1      0          0
  -> 127.0.0.1:80                 Local   1      0          0
TCP  [2001:db8::1]:443 sh
  -> [2001:db8::10]:8443          Masq    1      0          0
FWM  5 IPv6 rr
"""

NAMES = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.96.0.1:https rr
  -> dodo:sun-sr-https            Masq    1      0          0
"""

# print_title + print_service_entry with FMT_STATS: "%-33s" then "%9llu" or "%8llu<suffix>"
STATS = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  10.1.1.1:80                    123456  315237K     1156M  315237K    1156M
  -> 172.16.21.2:80                     10       50       40     5000     4000
FWM  1                                   3       30        0     2100        0
"""

STATS_EXACT = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  10.1.1.1:80                    123456 315237123 1156000111 315237999 1156999000
  -> 172.16.21.2:80                     10       50       40     5000     4000
"""

RATE = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
  -> RemoteAddress:Port
TCP  10.1.1.1:80                         1        4        2      234      268
  -> 172.16.21.2:80                      0        1        1       98      113
"""

THRESHOLDS = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn
  -> RemoteAddress:Port
FWM  1 lc
  -> 172.16.21.2:80               20000      0          5          1
  -> 172.16.80.2:80               20000      100        0          0
"""

PERSIST = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn
  -> RemoteAddress:Port
TCP  10.1.1.1:80 lc persistent 300
  -> 172.16.21.2:80               1         4           2          0
"""

SAVE = """\
-A -t 10.1.1.1:80 -s lc
-a -t 10.1.1.1:80 -r 172.16.21.2:80 -m -w 1
-a -t 10.1.1.1:80 -r 172.16.80.2:80 -m -w 0 -x 20000 -y 10
-A -u 10.1.1.1:53 -s rr -p 360 -M 255.255.255.0
-a -u 10.1.1.1:53 -r 172.16.21.3:53 -g -w 2
-A -f 1 -s lc
-a -f 1 -r 172.16.21.2:80 -m -w 1
-A --sctp-service 10.1.1.2:9000 -s wrr
-a --sctp-service 10.1.1.2:9000 -r 172.16.21.4:9000 -i -w 1
"""

# ip_vs_info_seq_show: "%s  %08X:%04X %s %s " / "FWM  %08X %s %s" / "persistent %d %08X"
PROC = data("proc_net_ip_vs.txt")


def test_seed_fig_5_4():
    t = parse_ipvsadm(FIG_5_4, "ipvsadm -L")
    assert (t.version, t.size) == ("1.2.1", 4096)
    (vs,) = t.services
    assert vs.key == ("FWM", 1) and vs.scheduler == "lc"
    assert vs.real_servers == (
        RealServer("172.16.21.2", 80, "Masq", 1, 0, 0),
        RealServer("172.16.80.2", 80, "Masq", 1, 0, 0),
    )


def test_numeric_listing_all_protocols_and_forwards():
    t = parse_ipvsadm(LN, "ipvsadm -Ln")
    keys = [s.key for s in t.services]
    assert keys == [("TCP", "10.1.1.1", 80), ("UDP", "10.1.1.1", 53), ("SCTP", "10.1.1.2", 9000),
                    ("FWM", 1), ("TCP", "2001:db8::1", 443), ("FWM", 5)]
    tcp, udp, sctp, fwm, v6, fwm6 = t.services
    assert tcp.real_servers[0] == RealServer("172.16.21.2", 80, "Masq", 1, 3, 12)
    assert tcp.real_servers[1].weight == 0
    assert (udp.persistence_timeout, udp.persistence_netmask) == (360, "255.255.255.0")
    assert udp.real_servers[0].forward == "Route"
    assert (sctp.persistence_timeout, sctp.flags) == (50, ("pe sip", "ops"))
    assert sctp.real_servers[0].forward == "Tunnel"
    assert [r.forward for r in fwm.real_servers] == ["Masq", "Local"]
    assert v6.real_servers[0].address == "2001:db8::10" and v6.real_servers[0].port == 8443
    assert fwm6.flags == ("IPv6",) and fwm6.real_servers == ()


def test_names_listing():
    (vs,) = parse_ipvsadm(NAMES, "ipvsadm -L").services
    assert (vs.address, vs.port, vs.port_name) == ("10.96.0.1", 443, "https")
    assert vs.real_servers[0].address == "dodo" and vs.real_servers[0].port == 6443


def test_stats_abbreviated_and_exact():
    (vs, fwm) = parse_ipvsadm(STATS, "ipvsadm -Ln --stats").services
    assert vs.stats == IpvsStats(123456, 315237000, 1156000000, 315237000, 1156000000, approximate=True)
    assert vs.scheduler is None
    assert vs.real_servers[0].stats == IpvsStats(10, 50, 40, 5000, 4000)
    assert fwm.key == ("FWM", 1) and fwm.stats.inbytes == 2100
    (exact,) = parse_ipvsadm(STATS_EXACT, "ipvsadm -Ln --stats --exact").services
    assert exact.stats == IpvsStats(123456, 315237123, 1156000111, 315237999, 1156999000)


def test_rate():
    (vs,) = parse_ipvsadm(RATE, "ipvsadm -Ln --rate").services
    assert vs.rate == IpvsRate(1, 4, 2, 234, 268)
    assert vs.real_servers[0].rate == IpvsRate(0, 1, 1, 98, 113)


def test_thresholds():
    (vs,) = parse_ipvsadm(THRESHOLDS, "ipvsadm -Ln --thresholds").services
    assert vs.scheduler == "lc"
    a, b = vs.real_servers
    assert (a.uthreshold, a.lthreshold, a.active_conns, a.inactive_conns) == (20000, 0, 5, 1)
    assert (b.uthreshold, b.lthreshold) == (20000, 100)
    assert a.weight is None and a.forward is None


def test_persistent_conn():
    (vs,) = parse_ipvsadm(PERSIST, "ipvsadm -Ln --persistent-conn").services
    rs = vs.real_servers[0]
    assert (vs.persistence_timeout, rs.weight, rs.persistent_conns, rs.active_conns) == (300, 1, 4, 2)


def test_save_format():
    t = parse_ipvsadm_save(SAVE, "ipvsadm -S -n")
    tcp, udp, fwm, sctp = t.services
    assert tcp.key == ("TCP", "10.1.1.1", 80) and tcp.scheduler == "lc"
    assert tcp.real_servers[1] == RealServer("172.16.80.2", 80, "Masq", 0, uthreshold=20000, lthreshold=10)
    assert (udp.persistence_timeout, udp.persistence_netmask) == (360, "255.255.255.0")
    assert udp.real_servers[0].forward == "Route" and udp.real_servers[0].weight == 2
    assert fwm.key == ("FWM", 1) and fwm.real_servers[0].forward == "Masq"
    assert sctp.key == ("SCTP", "10.1.1.2", 9000) and sctp.real_servers[0].forward == "Tunnel"


def test_proc_ip_vs():
    t = parse_proc_ip_vs(PROC, "/proc/net/ip_vs")
    tcp, udp, fwm, v6 = t.services
    assert tcp.key == ("TCP", "10.1.1.1", 80)
    assert tcp.real_servers == (RealServer("172.16.21.2", 80, "Masq", 1, 3, 12),)
    assert (udp.persistence_timeout, udp.persistence_netmask) == (360, "255.255.255.0")
    assert fwm.key == ("FWM", 1) and fwm.flags == ("ops",)
    assert v6.key == ("TCP", "2001:db8::1", 443) and v6.real_servers[0].port == 8443


@pytest.mark.parametrize("fn, text, line, words", [
    (parse_ipvsadm, FIG_5_4.replace("Masq      1", "Masq      x", 1), 5, "weight"),
    (parse_ipvsadm, FIG_5_4.replace("FWM 1 lc", "FWM one lc"), 4, "firewall mark"),
    (parse_ipvsadm, "TCP  10.1.1.1:80 rr\n", 1, "header"),
    (parse_ipvsadm, LN.replace("172.16.21.3:53", "172.16.21.3"), 8, "ADDRESS:PORT"),
    (parse_ipvsadm, STATS.replace("315237K     1156M", "315237X     1156M"), 4, "counter"),
    (parse_ipvsadm, "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
                    "  -> 1.2.3.4:80 Masq 1 0 0\n", 3, "before any virtual service"),
    (parse_proc_ip_vs, PROC.replace("0A010101:0050", "0A01010:0050"), 4, "HEX"),
    (parse_ipvsadm_save, SAVE.replace("-a -u 10.1.1.1:53", "-a -u 10.1.1.9:53"), 5, "not added"),
])
def test_garbled_input_names_source_and_line(fn, text, line, words):
    with pytest.raises(ParseError) as e:
        fn(text, "lb1:ipvsadm")
    assert e.value.source == "lb1:ipvsadm" and e.value.line == line
    assert str(e.value).startswith(f"lb1:ipvsadm:{line}: ")
    assert words in str(e.value)


ALPHA = " \n->:.0123456789ABCDEFMasqRouteTCPUDPFWMKMG[]"


@FUZZ
@given(mutations(FIG_5_4, LN, STATS, RATE, THRESHOLDS, PERSIST, alphabet=ALPHA))
def test_fuzz_listing(text):
    only_parse_error(parse_ipvsadm, text)


@FUZZ
@given(mutations(SAVE, alphabet=" \n-tufsrmgiwxyp0123456789.:"))
def test_fuzz_save(text):
    only_parse_error(parse_ipvsadm_save, text)


@FUZZ
@given(mutations(PROC, alphabet=ALPHA))
def test_fuzz_proc(text):
    only_parse_error(parse_proc_ip_vs, text)
