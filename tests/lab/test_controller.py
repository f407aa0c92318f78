"""The seed's controller: Fig 5.3 rendering, reload only on change, every reload logged."""
import json
import subprocess
import sys
import time

from lbconformance.controller import Controller, Endpoint, FileEndpoints, render_service
from lbconformance.parse import parse_keepalived

COUNTER = """
import signal, sys, time
n = 0
def hup(*_):
    global n
    n += 1
    open(sys.argv[1], "w").write(str(n))
signal.signal(signal.SIGHUP, hup)
open(sys.argv[1], "w").write("0")
while True:
    time.sleep(0.05)
"""


def test_rendering_has_the_form_of_fig_5_3():
    text = render_service(1, [Endpoint("172.16.106.10", 80), Endpoint("172.16.105.10", 80),
                              Endpoint("172.16.107.10", 80, ready=False)])
    cfg = parse_keepalived(text, "web1.conf")
    (vs,) = cfg.virtual_servers
    assert (vs.fwmark, vs.lb_algo, vs.lb_kind, vs.protocol) == (1, "lc", "NAT", None)
    assert [r.address for r in vs.real_servers] == ["172.16.105.10", "172.16.106.10"]  # ready only, sorted
    for r in vs.real_servers:
        assert r.uthreshold == 20000 and r.weight == 1
        assert [c.kind for c in r.checkers] == ["TCP_CHECK"]


def test_reloads_only_when_the_text_changes(tmp_path):
    eps = tmp_path / "web1.json"
    eps.write_text(json.dumps([{"address": "172.16.105.10", "port": 80, "ready": True}]))
    count = tmp_path / "hups"
    proc = subprocess.Popen([sys.executable, "-c", COUNTER, str(count)])
    try:
        while not count.exists():
            time.sleep(0.02)
        pidfile = tmp_path / "keepalived.pid"
        pidfile.write_text(f"{proc.pid}\n")
        logged = []
        c = Controller("web1", 1, FileEndpoints(eps), tmp_path / "conf", pidfile, log=logged.append)
        assert c.sync_once() is True
        assert (tmp_path / "conf" / "ipvs.conf").read_text().endswith("include ipvs.d/*.conf\n")
        assert c.sync_once() is False and c.sync_once() is False  # unchanged: no reload
        eps.write_text(json.dumps([{"address": "172.16.105.10", "port": 80}, {"address": "172.16.106.10", "port": 80}]))
        assert c.sync_once() is True
        deadline = time.monotonic() + 5
        while count.read_text() != "2" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert count.read_text() == "2"
        assert len(logged) == 2 and "reload #2" in logged[1] and "2 real servers" in logged[1]
    finally:
        proc.kill()
        proc.wait()


def test_a_missing_keepalived_is_logged_not_signalled(tmp_path):
    eps = tmp_path / "e.json"
    eps.write_text("[]")
    logged = []
    c = Controller("web2", 2, FileEndpoints(eps), tmp_path / "conf", tmp_path / "none.pid", log=logged.append)
    assert c.sync_once() is False
    assert "not signalled" in logged[0]
