"""wrk's output, with and without our Lua lines; the share tolerance of the distribution check."""
import pytest

from lbconformance.dynamic import distribution, wrk

PLAIN = """Running 30s test @ http://10.1.1.1/
  40 threads and 800 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.11ms    2.53ms 213.99ms   93.81%
    Req/Sec     4.88k   434.21     8.13k    80.32%
  Latency Distribution
     50%    3.71ms
     75%    4.69ms
     90%    5.89ms
     99%   12.23ms
  5830207 requests in 30.10s, 840.64MB read
  Socket errors: connect 0, read 3, write 0, timeout 7
  Non-2xx or 3xx responses: 2
Requests/sec: 193692.85
Transfer/sec:     27.93MB
"""


def test_plain_wrk_output():
    r = wrk.parse(PLAIN)
    assert r.requests == 5830207 and r.duration_s == pytest.approx(30.10)
    assert r.rps == pytest.approx(5830207 / 30.10)
    assert r.latency == {50: pytest.approx(3.71e-3), 75: pytest.approx(4.69e-3), 90: pytest.approx(5.89e-3),
                         99: pytest.approx(12.23e-3)}
    assert r.errors == {"connect": 0, "read": 3, "write": 0, "timeout": 7} and r.non2xx == 2
    assert r.error_count == 12
    assert "req/s" in r.describe() and "p99 12.2 ms" in r.describe()


def test_lua_lines_win_and_give_the_cdf_and_timeseries():
    lua = "\n".join([f"lbc-cdf {p:g} {int(1000 * (1 + i))}" for i, p in enumerate(wrk.CDF_POINTS)]
                    + ["lbc-summary requests=1000 duration_us=2000000 connect=0 read=0 write=0 status=0 timeout=0",
                       "lbc-ts 100 10", "lbc-ts 101 40", "lbc-ts 101 45", "lbc-ts 102 50", "lbc-ts 103 5"])
    r = wrk.parse(lua + "\n" + PLAIN.replace("5830207 requests in 30.10s", "999 requests in 2.00s"))
    assert r.requests == 1000 and r.duration_s == 2.0 and r.rps == 500
    assert r.errors == {"connect": 0, "read": 0, "write": 0, "timeout": 0} and r.non2xx == 2
    cdf = r.cdf()
    assert len(cdf) == 100 and cdf[0] == (1.0, 0.01) and cdf[-1] == (100.0, pytest.approx(0.999))
    assert r.latency[50] == pytest.approx(0.05)        # the Lua percentile, not the rounded 3.71ms
    assert r.timeseries == {100: 10, 101: 85, 102: 50, 103: 5}
    assert r.series() == [(101, 85), (102, 50)]
    assert r.series(drop_edges=False)[0] == (100, 10)


def test_command_and_script():
    cmd = wrk.command("http://10.1.1.1:80/", 2, 32, 5, "/tmp/x.lua")
    assert cmd == "wrk -t2 -c32 -d5s --timeout 5s --latency -s /tmp/x.lua http://10.1.1.1:80/"
    s = wrk.lua_script()
    assert "done = function" in s and "response = function" not in s and "99.9" in s
    assert "response = function" in wrk.lua_script(timeseries=True)


@pytest.mark.parametrize("text,match", [
    ("", "no 'N requests in T' summary"),
    ("unable to connect to 10.1.1.1:80 Connection refused", "no 'N requests in T' summary"),
    ("lbc-summary requests=x duration_us=1", "line 1: cannot read"),
])
def test_unreadable_output_names_the_problem(text, match):
    with pytest.raises(ValueError, match=match):
        wrk.parse(text, where="client: wrk")


def test_lc_tolerance_and_the_random_one():
    t = distribution.tolerance(60, 3, "lc", lb_pods=3)
    assert t.requests == 6 and t.share(60) == 0.1 and "round robin" in t.why
    assert distribution.tolerance(60, 3, "rr", lb_pods=2).requests == 2
    r = distribution.tolerance(600, 3, "sh")
    assert r.requests == pytest.approx(4 * (600 * (1 / 3) * (2 / 3)) ** 0.5)
    with pytest.raises(ValueError):
        distribution.tolerance(0, 3)
    assert distribution.deviations({"a": 24, "b": 21}, ["a", "b", "c"]) == {"a": 9.0, "b": 6.0, "c": -15.0}


def test_lc_tolerance_holds_for_a_simulated_lc():
    """lc over inactive counts, sequential connections, flows hashed to L pods: within the tolerance."""
    import random

    rnd = random.Random(7)
    for lb_pods in (1, 3):
        backends = ["a", "b", "c"]
        inactive = [{b: rnd.randint(0, 1) for b in backends} for _ in range(lb_pods)]  # leftovers: <= 1 apart
        counts = dict.fromkeys(backends, 0)
        for _ in range(60):
            table = inactive[rnd.randrange(lb_pods)]
            pick = min(backends, key=lambda b: table[b])
            table[pick] += 1
            counts[pick] += 1
        tol = distribution.tolerance(60, 3, "lc", lb_pods)
        assert all(abs(d) <= tol.requests for d in distribution.deviations(counts, backends).values())
