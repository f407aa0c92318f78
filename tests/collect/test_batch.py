"""The batch protocol keeps each command's output, exit code and stderr apart."""
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from lbconformance.collect.batch import Fact, script, split
from lbconformance.collect.roles import option_value


def run(facts, timeout=5):
    text, token = script(facts, timeout)
    p = subprocess.run(["sh", "-s"], input=text.encode(), capture_output=True)
    return split(p.stdout.decode(errors="replace"), facts, token)


def test_outputs_stay_separate():
    out = run([Fact("a", "printf 'x\\ny'"), Fact("b", "echo hello; echo oops >&2; exit 3"), Fact("c", "printf ''"),
               Fact("d", "echo; echo")])
    assert (out["a"].stdout, out["a"].rc) == ("x\ny", 0)
    assert (out["b"].stdout, out["b"].stderr, out["b"].rc) == ("hello\n", "oops\n", 3)
    assert out["c"].stdout == "" and out["d"].stdout == "\n\n"


def test_a_hanging_command_times_out_alone():
    out = run([Fact("slow", "sleep 5"), Fact("fast", "echo ok")], timeout=1)
    assert out["slow"].rc == 124 and out["fast"].stdout == "ok\n"


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200))
def test_any_output_round_trips(text):
    path = "/tmp/lbc-batch-fuzz"
    with open(path, "w") as f:
        f.write(text)
    out = run([Fact("f", f"cat {path}"), Fact("g", "echo after")])
    assert out["f"].stdout == text and out["g"].stdout == "after\n"


def test_option_value_forms():
    assert option_value("keepalived -f /etc/k/ipvs.conf -D", "-f", "--use-file") == "/etc/k/ipvs.conf"
    assert option_value("keepalived --use-file=/x.conf", "-f", "--use-file") == "/x.conf"
    assert option_value("keepalived -f/x.conf", "-f", "--use-file") == "/x.conf"
    assert option_value("keepalived -D", "-f", "--use-file") is None
