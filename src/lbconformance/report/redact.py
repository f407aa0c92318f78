"""The redaction pass: every byte the report room writes goes through `redact()` first.

Secrets never appear in reports: PEM private-key blocks, bearer tokens, Authorization headers, and
the secret values of kubeconfig-like text (token, client-key-data, client-certificate-data, password,
...). The shape of the text stays (key names, line count) so evidence still reads as evidence.
"""
from __future__ import annotations

import re

MARK = "[REDACTED]"

_PEM = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----.*?(?:-----END \1-----|\Z)", re.S)
_AUTH = re.compile(r"(?im)^(\s*[\"']?(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)[^\r\n\"']+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/=:]{4,}")
# kubeconfig / YAML / JSON / INI style `key: value` (or `key = value`, `"key": "value"`) pairs.
_KEYS = (r"token|id-token|refresh-token|access-token|client-key-data|client-certificate-data|"
         r"password|passwd|secret|client-secret|api-key|apikey|private-key|auth-password|"
         r"md5-password|neighbor-password|auth-provider-token")
_KV = re.compile(
    r"(?im)(?P<key>[\"']?(?:[\w.-]*[-_.])?(?:" + _KEYS + r")[\"']?[ \t]*[:=][ \t]*)(?P<q>[\"']?)(?P<val>[^\s\"',}]+)")
# `password SECRET` inside router configs (FRR `neighbor X password Y`, keepalived `auth_pass Y`).
_CFG = re.compile(r"(?im)\b(password|auth_pass|authentication-key)([ \t]+)(?![:=])(\S+)")


def redact(text: str) -> str:
    """Return `text` with every secret replaced by [REDACTED]."""
    if not text:
        return text
    text = _PEM.sub(lambda m: f"-----BEGIN {m.group(1)}-----\n{MARK}\n-----END {m.group(1)}-----", text)
    text = _AUTH.sub(lambda m: m.group(1) + MARK, text)
    text = _BEARER.sub(lambda m: m.group(1) + m.group(2) + MARK, text)
    text = _KV.sub(lambda m: m.group("key") + m.group("q") + (MARK if m.group("val") != MARK else MARK), text)
    text = _CFG.sub(lambda m: m.group(1) + m.group(2) + MARK, text)
    return text


def redact_obj(obj):
    """Redact every string inside a JSON-like structure (dict keys stay)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj


def redact_bytes(data: bytes) -> bytes:
    """Redact text files; binary content (not UTF-8) is left out entirely, as it cannot be checked."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"{MARK} binary content ({len(data)} bytes) not copied\n".encode()
    return redact(text).encode("utf-8")
