"""Transports: how a command reaches a host. One file, three kinds of host:

- `lab://NETNS[?container=NAME]`: a network namespace inside the lab VM, over the VM's one persistent
  ssh connection; a container is entered through its process's namespaces (nsenter -t PID -m -n).
- `netns://NETNS[?container=NAME]`: the same, on this machine (a one-machine deployment, and the
  self-tests' hosts).
- `ssh://`, `paramiko://`, `local://`, `docker://`, `podman://`: pytest-testinfra backends.

Every transport runs a POSIX shell script (stdin) and returns (rc, stdout, stderr). For a container,
the script gets `LBC_PID`, the container's main process as seen from where the script runs, so
facts like /proc/$LBC_PID/status read the container's own view.
"""
from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

# Where the lab (and a netns deployment) publishes each container's main PID.
PIDFILE = "/run/lbc/pods/{pod}/{container}.pid"


@dataclass(frozen=True)
class Result:
    rc: int
    stdout: str
    stderr: str


class TransportError(Exception):
    """The host could not be reached at all (as opposed to a command failing on it)."""


def _container_prefix(pod: str, container: str | None) -> tuple[str, str]:
    """(prefix, env) that enter a container's namespaces and export LBC_PID; empty for a pod's netns."""
    if not container:
        return "", "LBC_PID=self; export LBC_PID; "
    pidfile = shlex.quote(PIDFILE.format(pod=pod, container=container))
    prefix = (f'LBC_PID=$(cat {pidfile}) || {{ echo "no pidfile {pidfile}" >&2; exit 125; }}; export LBC_PID; '
              'exec nsenter -t "$LBC_PID" -m -n -- sh -c "$LBC_SCRIPT"')
    return prefix, ""


class NetnsTransport:
    """A network namespace (optionally a container in it), run locally or through the lab VM."""

    def __init__(self, netns: str, container: str | None = None, vm=None):
        self.netns, self.container, self.vm = netns, container, vm
        self.name = f"{netns}/{container}" if container else netns

    def run(self, script: str, timeout: float) -> Result:
        prefix, env = _container_prefix(self.netns, self.container)
        if prefix:  # nsenter enters the pod's netns itself (from the container's PID)
            outer = f"LBC_SCRIPT={shlex.quote(script)}; export LBC_SCRIPT; {prefix}"
            netns = None
        else:
            outer = env + script
            netns = self.netns or None
        if self.vm is not None:
            res = self.vm.run(outer, host=netns, timeout=timeout)
            if res.rc == 255:
                raise TransportError(f"ssh to the lab VM failed: {res.stderr.strip()[-300:]}")
            return Result(res.rc, res.stdout, res.stderr)
        argv = ["sh", "-c", outer]
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        try:
            p = subprocess.run(["timeout", "-k", "3", f"{timeout:g}"] + argv, capture_output=True,
                               timeout=timeout + 10, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return Result(124, "", f"timed out after {timeout:g} s")
        # bytes in, no newline translation: raw outputs stay raw
        return Result(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))


class TestinfraTransport:
    """A pytest-testinfra backend (ssh, paramiko, local, docker, podman)."""

    __test__ = False  # not a pytest test class

    def __init__(self, uri: str):
        import testinfra

        self.uri, self.name = uri, uri
        try:
            self.host = testinfra.get_host(uri)
        except Exception as e:  # testinfra raises a variety of errors for bad URIs
            raise TransportError(f"{uri}: {e}") from None

    def run(self, script: str, timeout: float) -> Result:
        cmd = f"timeout -k 3 {timeout:g} sh -c {shlex.quote('LBC_PID=1; export LBC_PID; ' + script)}"
        try:
            r = self.host.run(cmd)
        except Exception as e:  # testinfra's ssh backend raises RuntimeError(CommandResult) when ssh fails
            detail = getattr(e.args[0], "stderr", None) if e.args else None
            raise TransportError(f"{self.uri}: {(detail or str(e)).strip()[-300:]}") from None
        if r.rc == 255 and self.uri.startswith(("ssh://", "paramiko://")):
            raise TransportError(f"{self.uri}: ssh failed: {r.stderr.strip()[-300:]}")
        return Result(r.rc, r.stdout, r.stderr)


def transport_for(uri: str, lab_vm=None):
    """The transport a URI names (see docs/inventory.md)."""
    u = urlsplit(uri)
    container = parse_qs(u.query).get("container", [None])[0]
    if u.scheme in ("lab", "netns"):
        if u.scheme == "lab" and lab_vm is None:
            raise TransportError(f"{uri}: lab:// needs the running lab VM (lbconformance lab up)")
        return NetnsTransport(u.netloc, container, lab_vm if u.scheme == "lab" else None)
    if u.scheme in ("ssh", "paramiko", "local", "docker", "podman"):
        return TestinfraTransport(uri)
    if u.scheme == "kubectl":  # exec through the Kubernetes API (collect/kube.py)
        from lbconformance.collect.kube import KubeExecTransport

        return KubeExecTransport.from_uri(uri)
    raise TransportError(f"{uri}: no transport for scheme {u.scheme!r}")
