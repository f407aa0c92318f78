"""keepalived configuration: examples from keepalived.conf(5) and the seed's Fig 5.3."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parse_fuzz_helpers import FUZZ, data, mutations, only_parse_error

from lbconformance.models import ConfigRealServer, ConfigVirtualServer, HealthChecker, KeepalivedConfig
from lbconformance.parse import ParseError, parse_keepalived, render_keepalived

FIG_5_3 = data("seed_fig5_3_ipvs.conf")

FULL = """\
! Configuration File for keepalived
global_defs {
   router_id LB1   # trailing comment
   notification_email {
     "ops team@example.org"
   }
}

virtual_server_group web {
    10.1.1.1 80
    10.1.1.10-20 8080
    fwmark 7
}

virtual_server 10.1.1.1 80
{
    delay_loop 6
    lvs_sched wrr
    lvs_method DR
    persistence_timeout 300
    protocol TCP
    sorry_server 10.9.9.9 80

    real_server 172.16.21.2 80 {
        weight 3
        uthreshold 100
        lthreshold 10
        inhibit_on_failure
        HTTP_GET {
            url {
              path /healthz
              status_code 200
            }
            connect_timeout 3
            nb_get_retry 3
            delay_before_retry 1.5
            connect_port 8080
        }
    }
    real_server 172.16.80.2 80 {
        MISC_CHECK {
            misc_path "/usr/bin/check --flag x"
            misc_timeout 5
        }
        SSL_GET { connect_timeout 2 }
        DNS_CHECK {
            retry 2
            type A
            name example.org
        }
    }
}

virtual_server group web {
    lb_algo rr
    lb_kind TUN
    protocol UDP
    real_server 2001:db8::5 53 {
        TCP_CHECK {
            connect_ip 2001:db8::5
            connect_port 53
        }
    }
}
"""


def test_seed_fig_5_3():
    cfg = parse_keepalived(FIG_5_3, "ipvs.conf")
    assert cfg.files == ("ipvs.conf",)
    (vs,) = cfg.virtual_servers
    assert (vs.fwmark, vs.address, vs.port, vs.group) == (1, None, None, None)
    assert (vs.delay_loop, vs.lb_algo, vs.lb_kind, vs.forward, vs.protocol) == (5, "lc", "NAT", "Masq", "TCP")
    assert [(rs.address, rs.port, rs.weight, rs.uthreshold) for rs in vs.real_servers] == [
        ("172.16.21.2", 80, 1, 20000), ("172.16.80.2", 80, 1, 20000)]
    for rs in vs.real_servers:
        assert rs.checkers == (HealthChecker("TCP_CHECK", connect_timeout=5, connect_port=80),)
    assert (vs.source, vs.line) == ("ipvs.conf", 1)
    assert [rs.line for rs in vs.real_servers] == [6, 13]


def test_render_reproduces_fig_5_3_and_round_trips():
    cfg = parse_keepalived(FIG_5_3, "ipvs.conf")
    text = render_keepalived(cfg)
    assert text == FIG_5_3
    assert parse_keepalived(text, "rendered") == cfg


def test_full_syntax():
    cfg = parse_keepalived(FULL, "keepalived.conf")
    (group,) = cfg.virtual_server_groups
    assert group.name == "web"
    assert group.addresses == (("10.1.1.1", 80), ("10.1.1.10-20", 8080))
    assert group.fwmarks == (7,)
    vs1, vs2 = cfg.virtual_servers
    assert (vs1.address, vs1.port, vs1.lb_algo, vs1.lb_kind, vs1.forward) == ("10.1.1.1", 80, "wrr", "DR", "Route")
    assert vs1.persistence_timeout == 300 and vs1.delay_loop == 6 and vs1.line == 15
    assert vs1.other[0].words == ("sorry_server", "10.9.9.9", "80")
    rs1, rs2 = vs1.real_servers
    assert (rs1.weight, rs1.uthreshold, rs1.lthreshold, rs1.inhibit_on_failure) == (3, 100, 10, True)
    (http,) = rs1.checkers
    assert (http.kind, http.connect_timeout, http.retry, http.delay_before_retry, http.connect_port) == (
        "HTTP_GET", 3, 3, 1.5, 8080)
    assert http.other[0].words == ("url",) and http.other[0].block[0].words == ("path", "/healthz")
    assert [c.kind for c in rs2.checkers] == ["MISC_CHECK", "SSL_GET", "DNS_CHECK"]
    assert rs2.checkers[0].other[0].words == ("misc_path", "/usr/bin/check --flag x")
    assert rs2.checkers[1].connect_timeout == 2
    assert rs2.checkers[2].retry == 2
    assert (vs2.group, vs2.forward, vs2.protocol) == ("web", "Tunnel", "UDP")
    assert vs2.real_servers[0].address == "2001:db8::5"
    assert vs2.real_servers[0].checkers[0].connect_ip == "2001:db8::5"
    assert cfg.other[0].words == ("global_defs",)
    assert cfg.other[0].block[1].block[0].words == ("ops team@example.org",)


def test_full_round_trip():
    cfg = parse_keepalived(FULL, "keepalived.conf")
    assert parse_keepalived(render_keepalived(cfg), "rendered") == cfg


def test_includes_resolve_relative_to_the_including_file():
    files = {
        "/etc/keepalived/conf.d/a.conf": "virtual_server 10.1.1.1 80 {\n  lb_algo rr\n  include rs/*.conf\n}\n",
        "/etc/keepalived/conf.d/rs/1.conf": "real_server 172.16.1.2 80 {\n  TCP_CHECK {\n  }\n}\n",
        "/etc/keepalived/conf.d/rs/2.conf": "real_server 172.16.2.2 80 {\n  TCP_CHECK {\n  }\n}\n",
    }
    asked = []

    def read(pattern):
        import fnmatch
        asked.append(pattern)
        return sorted((p, t) for p, t in files.items() if fnmatch.fnmatch(p, pattern) and p.count("/") == pattern.count("/"))

    main = "include conf.d/*.conf\ninclude /nowhere/*.conf\n"
    cfg = parse_keepalived(main, "/etc/keepalived/keepalived.conf", read=read)
    assert asked == ["/etc/keepalived/conf.d/*.conf", "/etc/keepalived/conf.d/rs/*.conf", "/nowhere/*.conf"]
    (vs,) = cfg.virtual_servers
    assert [rs.address for rs in vs.real_servers] == ["172.16.1.2", "172.16.2.2"]
    assert [rs.source for rs in vs.real_servers] == ["/etc/keepalived/conf.d/rs/1.conf",
                                                     "/etc/keepalived/conf.d/rs/2.conf"]
    assert vs.source == "/etc/keepalived/conf.d/a.conf" and vs.line == 1
    assert cfg.files == ("/etc/keepalived/keepalived.conf", "/etc/keepalived/conf.d/a.conf",
                         "/etc/keepalived/conf.d/rs/1.conf", "/etc/keepalived/conf.d/rs/2.conf")
    assert cfg.empty_includes == ("/nowhere/*.conf",)


def test_include_errors_name_the_including_file():
    with pytest.raises(ParseError) as e:
        parse_keepalived("\ninclude x.conf\n", "/etc/k.conf")
    assert (e.value.source, e.value.line) == ("/etc/k.conf", 2)

    def boom(pattern):
        raise OSError("permission denied")

    with pytest.raises(ParseError, match="permission denied"):
        parse_keepalived("include x.conf\n", "/etc/k.conf", read=boom)

    with pytest.raises(ParseError, match="cycle"):
        parse_keepalived("include k.conf\n", "/etc/k.conf",
                         read=lambda p: [("/etc/k.conf", "include k.conf\n")])


def test_error_in_included_file_names_that_file_and_line():
    with pytest.raises(ParseError) as e:
        parse_keepalived("include b.conf\n", "/etc/a.conf",
                         read=lambda p: [("/etc/b.conf", "virtual_server 10.1.1.1 80 {\n real_server 10.0.0.300 80\n}\n")])
    assert (e.value.source, e.value.line) == ("/etc/b.conf", 2)
    assert "10.0.0.300" in str(e.value)


@pytest.mark.parametrize("text, line, words", [
    ("virtual_server 10.1.1.1 80 {\n  lb_algo rr\n", 1, "not closed"),
    ("virtual_server 10.1.1.1 80 {\n}\n}\n", 3, "without a matching"),
    ("virtual_server 10.1.1.1 {\n}\n", 1, "virtual_server takes"),
    ("virtual_server 10.1.1.1 80 {\n  persistence_timeout soon\n}\n", 2, "timeout"),
    ("virtual_server fwmark 1 {\n  real_server 1.2.3.4 80 {\n    weight x\n  }\n}\n", 3, "weight"),
    ('global_defs {\n  router_id "LB1\n}\n', 2, "unterminated"),
])
def test_garbled_input_names_source_and_line(text, line, words):
    with pytest.raises(ParseError) as e:
        parse_keepalived(text, "ipvs.conf")
    assert e.value.source == "ipvs.conf" and e.value.line == line
    assert str(e.value).startswith(f"ipvs.conf:{line}: ")
    assert words in str(e.value)


def test_render_quotes_words_that_need_it():
    cfg = KeepalivedConfig(virtual_servers=(ConfigVirtualServer(
        address="10.1.1.1", port=80, lb_algo="rr", lb_kind="NAT",
        real_servers=(ConfigRealServer("172.16.0.2", 8080, weight=0, inhibit_on_failure=True,
                                       checkers=(HealthChecker("TCP_CHECK", retry=3, delay_before_retry=0.5),)),)),))
    text = render_keepalived(cfg)
    assert "weight 0" in text and "inhibit_on_failure" in text
    assert parse_keepalived(text, "r") == cfg


@FUZZ
@given(mutations(FIG_5_3, FULL, alphabet='{}"#!\n \\abc01.:-_'))
def test_fuzz_only_parse_error(text):
    only_parse_error(parse_keepalived, text, read=lambda p: [])


@st.composite
def configs(draw):
    ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
    word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_/-0123456789 ", min_size=1, max_size=12)
    rs = st.builds(ConfigRealServer, ipv4, st.one_of(st.none(), st.integers(0, 65535)),
                   weight=st.integers(0, 100), uthreshold=st.one_of(st.none(), st.integers(0, 10**6)),
                   inhibit_on_failure=st.booleans(),
                   checkers=st.lists(st.builds(HealthChecker, st.sampled_from(["TCP_CHECK", "HTTP_GET"]),
                                               connect_timeout=st.one_of(st.none(), st.integers(0, 30).map(float)),
                                               connect_port=st.one_of(st.none(), st.integers(0, 65535))),
                                     max_size=2).map(tuple))
    vs = st.builds(ConfigVirtualServer, fwmark=st.integers(1, 2**32 - 1), lb_algo=word.filter(str.strip),
                   lb_kind=st.sampled_from(["NAT", "DR", "TUN", None]),
                   real_servers=st.lists(rs, max_size=3).map(tuple))
    return KeepalivedConfig(virtual_servers=tuple(draw(st.lists(vs, max_size=3))))


@settings(FUZZ, max_examples=60)
@given(configs())
def test_render_round_trip_property(cfg):
    assert parse_keepalived(render_keepalived(cfg), "rendered") == cfg
