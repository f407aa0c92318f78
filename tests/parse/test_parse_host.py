"""Host facts: /proc status and mountinfo (proc(5)), /proc/interrupts (seed Fig 3.2), CPU
masks (seed's fefe), ethtool, sysctl."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parse_fuzz_helpers import FUZZ, data, mutations, only_parse_error

from lbconformance.parse import (
    ParseError,
    parse_cpu_list,
    parse_cpu_mask,
    parse_ethtool_channels,
    parse_ethtool_driver,
    parse_interrupts,
    parse_mountinfo,
    parse_proc_status,
    parse_sysctl,
)

STATUS = """\
Name:\tkeepalived
Umask:\t0022
State:\tS (sleeping)
Tgid:\t42
Pid:\t42
PPid:\t1
CapInh:\t0000000000000000
CapPrm:\t0000000000211000
CapEff:\t0000000000211000
CapBnd:\t00000000a80425fb
CapAmb:\t0000000000000000
NoNewPrivs:\t0
Seccomp:\t2
Seccomp_filters:\t1
"""

MOUNTINFO = r"""36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
700 650 8:1 /lib/modules /lib/modules ro,relatime - ext4 /dev/sda1 rw
701 650 0:5 / /run/netns rw,nosuid shared:5 master:3 - tmpfs tmpfs rw,size=1024k
702 650 0:6 /with\040space /mnt/with\040space rw - 9p host\134share ro,trans=virtio
"""

INTERRUPTS = """\
           CPU0       CPU1       CPU2       CPU3
  0:         35          0          0          0   IO-APIC   2-edge      timer
 81:    1234567          0          0          0   PCI-MSI 1572864-edge      eth0-tx-0
 82:     999999         12          0          0   PCI-MSI 1572865-edge      eth0-rx-1
NMI:          0          0          0          0   Non-maskable interrupts
ERR:          0
"""
FIG_3_2 = data("seed_fig3_2_interrupts.txt")

ETHTOOL_I = """\
driver: tg3
version: 3.137
firmware-version: 5720-v1.39 NCSI v1.3.12.0
expansion-rom-version:
bus-info: 0000:02:00.0
supports-statistics: yes
supports-test: yes
supports-eeprom-access: yes
supports-register-dump: yes
supports-priv-flags: no
"""

ETHTOOL_L = """\
Channel parameters for eth0:
Pre-set maximums:
RX:\t\t4
TX:\t\t4
Other:\t\tn/a
Combined:\tn/a
Current hardware settings:
RX:\t\t4
TX:\t\t1
Other:\t\tn/a
Combined:\tn/a
"""

SYSCTL = """\
net.ipv4.vs.conntrack = 1
net.ipv4.fib_multipath_hash_policy = 1
net.ipv4.tcp_rmem = 4096\t131072\t6291456
kernel.domainname = (none)
net.ipv4.conf.eth0/100.rp_filter = 0
"""


def test_proc_status_capabilities():
    st_ = parse_proc_status(STATUS, "ipvs:/proc/1/status")
    assert st_.cap_eff == {"CAP_NET_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_ADMIN"}
    assert st_.cap_eff_mask == 0x211000 and st_.cap_inh == frozenset() and st_.cap_amb == frozenset()
    assert "CAP_NET_RAW" in st_.cap_bnd and "CAP_SYS_ADMIN" not in st_.cap_bnd
    assert (st_.name, st_.pid, st_.no_new_privs, st_.seccomp) == ("keepalived", 42, False, 2)


def test_lab_fact_net_admin_plus_sys_admin():
    st_ = parse_proc_status(STATUS.replace("0000000000211000", "0000000000201000"), "s")
    assert st_.cap_eff == {"CAP_NET_ADMIN", "CAP_SYS_ADMIN"}


def test_full_and_unknown_capability_bits():
    st_ = parse_proc_status(STATUS.replace("00000000a80425fb", "000003ffffffffff"), "s")
    assert len(st_.cap_bnd) == 42 and "CAP_CHECKPOINT_RESTORE" in st_.cap_bnd and "CAP_41" in st_.cap_bnd


def test_mountinfo():
    a, mods, netns, sp = parse_mountinfo(MOUNTINFO, "mountinfo")
    assert (a.mount_id, a.parent_id, a.device, a.root, a.mount_point) == (36, 35, "98:0", "/mnt1", "/mnt2")
    assert a.optional_fields == ("master:1",) and a.fs_type == "ext3" and a.source == "/dev/root"
    assert not a.read_only
    assert mods.mount_point == "/lib/modules" and mods.read_only and mods.options == ("ro", "relatime")
    assert netns.optional_fields == ("shared:5", "master:3") and netns.fs_type == "tmpfs"
    assert sp.mount_point == "/mnt/with space" and sp.source == "host\\share" and sp.read_only


def test_interrupts():
    irqs = parse_interrupts(INTERRUPTS, "/proc/interrupts")
    by = {i.irq: i for i in irqs}
    assert by["81"].counts == (1234567, 0, 0, 0) and by["81"].name == "eth0-tx-0"
    assert by["82"].description == "PCI-MSI 1572865-edge eth0-rx-1"
    assert by["NMI"].name == "interrupts" and by["ERR"].counts == (0,)


def test_seed_fig_3_2_interrupt_names():
    irqs = parse_interrupts(FIG_3_2, "seed Fig 3.2")
    assert [(i.irq, i.name) for i in irqs] == [("81", "eth0-tx-0"), ("82", "eth0-rx-1"), ("83", "eth0-rx-2"),
                                               ("84", "eth0-rx-3"), ("85", "eth0-rx-4")]
    assert all(i.counts == () for i in irqs)


@pytest.mark.parametrize("text, cpus", [
    ("fefe\n", set(range(1, 8)) | set(range(9, 16))),
    ("00000000,0000fefe", set(range(1, 8)) | set(range(9, 16))),
    ("1", {0}), ("0", set()), ("00000000", set()),
    ("00000001,00000000", {32}),
    ("ff,ffffffff,ffffffff", set(range(72))),
])
def test_cpu_masks(text, cpus):
    assert parse_cpu_mask(text, "rps_cpus").cpus == cpus


def test_masks_compare_as_numbers():
    assert parse_cpu_mask("0000fefe", "a") == parse_cpu_mask("00000000,0000fefe", "b") == parse_cpu_mask("fefe", "c")
    assert parse_cpu_mask("fefe", "c").value == 0xFEFE


def test_cpu_list():
    assert parse_cpu_list("0-3,8\n", "smp_affinity_list").cpus == {0, 1, 2, 3, 8}


def test_ethtool():
    d = parse_ethtool_driver(ETHTOOL_I, "ethtool -i eth0")
    assert (d.driver, d.version, d.firmware_version, d.bus_info) == ("tg3", "3.137", "5720-v1.39 NCSI v1.3.12.0",
                                                                      "0000:02:00.0")
    c = parse_ethtool_channels(ETHTOOL_L, "ethtool -l eth0")
    assert (c.interface, c.max_rx, c.max_tx, c.max_other, c.rx, c.tx, c.combined) == ("eth0", 4, 4, None, 4, 1, None)


def test_sysctl():
    d = parse_sysctl(SYSCTL, "sysctl -a")
    assert d["net.ipv4.vs.conntrack"] == "1" and d["net.ipv4.fib_multipath_hash_policy"] == "1"
    assert d["net.ipv4.tcp_rmem"] == "4096\t131072\t6291456"
    assert d["net.ipv4.conf.eth0/100.rp_filter"] == "0"


@pytest.mark.parametrize("fn, text, line, words", [
    (parse_proc_status, STATUS.replace("CapEff:\t0000000000211000", "CapEff:\tzz"), 9, "CapEff"),
    (parse_proc_status, "Name:\tx\n", None, "no CapInh"),
    (parse_mountinfo, MOUNTINFO.replace("- tmpfs", "tmpfs"), 3, "separator"),
    (parse_interrupts, INTERRUPTS.replace("NMI:", "NMI"), 5, "IRQ"),
    (parse_cpu_mask, "fefe,xyz", 1, "hex CPU mask"),
    (parse_ethtool_channels, ETHTOOL_L.replace("TX:\t\t1", "TX:\t\tone"), 9, "tx count"),
    (parse_sysctl, "net.ipv4.vs.conntrack 1\n", 1, "key = value"),
])
def test_garbled_input_names_source_and_line(fn, text, line, words):
    with pytest.raises(ParseError) as e:
        fn(text, "node105")
    assert e.value.source == "node105" and e.value.line == line
    assert words in str(e.value)


PARSERS = [parse_proc_status, parse_mountinfo, parse_interrupts, parse_cpu_mask, parse_cpu_list,
           parse_ethtool_driver, parse_ethtool_channels, parse_sysctl]


@FUZZ
@given(st.sampled_from(PARSERS),
       mutations(STATUS, MOUNTINFO, INTERRUPTS, FIG_3_2, ETHTOOL_I, ETHTOOL_L, SYSCTL, "fefe", "00000000,0000fefe",
                 alphabet=" \t\n:,=-\\0123456789abcdefCPU"))
def test_fuzz_only_parse_error(fn, text):
    only_parse_error(fn, text)
