"""Secrets planted in the target description and in the evidence never reach an output file."""
import json

from lbconformance.report.redact import MARK, redact

from ..framework.test_plugin import make_snapshot
from .test_run_folder import run_dir

TOKEN = "eyJhbGciOiJSUzI1NiJ9.FAKE-bearer-token-0123456789abcdef"
KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDfakekeymaterial0123456789"
PRIVATE_KEY = f"-----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}\n{KEY_BODY[::-1]}\n-----END RSA PRIVATE KEY-----\n"
CERT_DATA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tFAKECERTDATA"
PASSWORD = "hunter2-fake-password"
SECRETS = (TOKEN, KEY_BODY, KEY_BODY[::-1], CERT_DATA, PASSWORD)

KUBECONFIG = f"""apiVersion: v1
clusters:
- cluster:
    server: https://10.0.0.1:6443
users:
- name: admin
  user:
    token: {TOKEN}
    client-certificate-data: {CERT_DATA}
    client-key-data: {CERT_DATA}
    password: {PASSWORD}
"""


def test_redact_patterns():
    text = redact(PRIVATE_KEY + KUBECONFIG + f"Authorization: Bearer {TOKEN}\ncurl -H 'Bearer {TOKEN}'\n"
                  + f'{{"token": "{TOKEN}", "password": "{PASSWORD}"}}\n'
                  + f"neighbor 10.0.0.109 password {PASSWORD}\n")
    for s in SECRETS:
        assert s not in text
    assert "-----BEGIN RSA PRIVATE KEY-----" in text and MARK in text
    assert "server: https://10.0.0.1:6443" in text  # the shape stays
    assert redact("net.ipv4.fib_multipath_hash_policy = 1\n") == "net.ipv4.fib_multipath_hash_policy = 1\n"
    assert redact("") == ""


PLANTED = '''
import pytest
from lbconformance.verdict import require

@pytest.mark.requirement("ECMP-002")
def test_leaky(router, snapshot):
    text = snapshot.text(router.name, "kubeconfig")
    require(False, expected="no credentials", observed=text, where=router.name + " hosts/router/kubeconfig",
            evidence=("hosts/router/kubeconfig", "hosts/router/tls.key"))
'''


def test_planted_secrets_never_reach_an_output_file(pytester):
    snap = make_snapshot(pytester.path / "snap")
    meta = json.loads((snap / "meta.json").read_text())
    meta["target"] = f"cluster admin via Authorization: Bearer {TOKEN} key {PRIVATE_KEY}"
    (snap / "meta.json").write_text(json.dumps(meta))
    router = snap / "hosts" / "router"
    (router / "kubeconfig").write_text(KUBECONFIG)
    (router / "tls.key").write_text(PRIVATE_KEY)
    (router / "curl.txt").write_text(f"> GET /api HTTP/1.1\n> Authorization: Bearer {TOKEN}\n")
    pytester.makepyfile(test_x=PLANTED)
    r = pytester.runpytest_subprocess("--snapshot", snap)
    assert r.ret == 1
    d = run_dir(pytester.path)
    written = [p for p in d.rglob("*") if p.is_file()]
    assert (d / "evidence" / "hosts" / "router" / "kubeconfig") in written
    assert (d / "evidence" / "hosts" / "router" / "tls.key") in written
    for p in written:
        data = p.read_bytes().decode("utf-8", "replace")
        for s in SECRETS:
            assert s not in data, f"{s[:12]}... in {p.relative_to(d)}"
    for line in r.outlines + r.errlines:  # and not in the terminal summary either
        assert not any(s in line for s in SECRETS), line
    html = (d / "report.html").read_text()
    assert "evidence/hosts/router/kubeconfig" in html and MARK in html
