"""The `kubectl://namespace/pod?container=NAME` transport: exec through the Kubernetes API.

Runs the batch script with `sh -c` over the API's exec WebSocket (`kubernetes.stream`, channel
protocol v4.channel.k8s.io): stdout on channel 1, stderr on channel 2, and the exit code in the
Status object of the error channel (3). Also the one-line explanations of API failures that every
Kubernetes path shares (unreachable server, 401, 403 naming verb and resource, missing context).
Never puts a token or the kubeconfig's contents in a message.
"""
from __future__ import annotations

import json
import re
import threading
import time
from urllib.parse import parse_qs, unquote, urlsplit

from lbconformance.collect.transport import Result, TransportError

IN_CLUSTER = "in-cluster"  # --cluster in-cluster: the service account of a pod (the suite as a Job)


class ClusterError(Exception):
    """A Kubernetes API failure, as one line that says what to do about it."""


# -- the API client -------------------------------------------------------------------------------

_CLIENT: dict = {}
_LOCK = threading.Lock()


def load_client(kubeconfig: str | None = None, context: str | None = None, timeout: float = 10.0):
    """An ApiClient for a kubeconfig (and context), or the in-cluster service account."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    cfg = client.Configuration()
    try:
        if kubeconfig == IN_CLUSTER:
            config.load_incluster_config(client_configuration=cfg)
            where = "in-cluster service account"
        else:
            try:
                contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
            except FileNotFoundError:
                raise ClusterError(f"kubeconfig {kubeconfig}: no such file") from None
            names = [c.get("name") for c in contexts or []]
            if context and context not in names:
                raise ClusterError(f"kubeconfig {kubeconfig} has no context {context!r} "
                                   f"(contexts: {', '.join(names) or 'none'})")
            if not context and not current:
                raise ClusterError(f"kubeconfig {kubeconfig} sets no current-context; choose one with --context "
                                   f"({', '.join(names) or 'no contexts'})")
            config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg,
                                    persist_config=False)
            where = f"context {context or current.get('name')}"
    except ConfigException as e:
        # The message names keys and files, never their values.
        raise ClusterError(f"kubeconfig {kubeconfig or IN_CLUSTER}: {_first(str(e))}") from None
    cfg.retries = 0  # one clear failure, not urllib3's retries
    api = client.ApiClient(cfg)
    api.lbc_where = where  # for messages
    api.lbc_timeout = timeout
    return api


def use_client(api) -> None:
    """Make `api` the client every kubectl:// transport of this run uses."""
    with _LOCK:
        _CLIENT["api"] = api


def current_client():
    with _LOCK:
        api = _CLIENT.get("api")
        if api is None:
            try:
                api = _CLIENT["api"] = load_client()
            except ClusterError as e:
                raise TransportError(str(e)) from None
        return api


def _first(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), text.strip())


def explain(exc: BaseException, verb: str, resource: str, namespace: str | None = None, api=None) -> ClusterError:
    """One line for an API failure of `verb` on `resource` (in `namespace`)."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    host = getattr(getattr(api, "configuration", None), "host", "") or "the API server"
    where = f" in namespace {namespace}" if namespace else ""
    if isinstance(exc, ApiException):
        status, body = exc.status, exc.body
        if status == 0:  # the WebSocket path wraps the handshake's failure (exec)
            m = re.search(r"Handshake status (\d+)", exc.reason or "")
            status = int(m.group(1)) if m else 0
            body = (exc.reason or "").split(" -+-+- ")[-1] if m else None
            if not m:
                return ClusterError(f"cannot reach the Kubernetes API server at {host} for {verb} {resource}: "
                                    f"{_first(str(exc.reason))[:200]}")
        message = _status_message(body)
        if status == 401:
            return ClusterError(f"the API server at {host} rejected the credentials of the "
                                f"{getattr(api, 'lbc_where', 'kubeconfig')} (401 Unauthorized): they are "
                                "expired or invalid; refresh the kubeconfig")
        if status == 403:
            who = re.search(r'User "([^"]*)"', message or "")
            return ClusterError(f"RBAC forbids {verb} on {resource}{where}"
                                f"{' for ' + who.group(1) if who else ''} (403 Forbidden); "
                                "grant it with deploy/rbac.yaml")
        if status == 404:
            return ClusterError(f"{verb} {resource}{where}: not found (404){': ' + message if message else ''}")
        return ClusterError(f"{verb} {resource}{where}: the API server answered {status}"
                            f"{': ' + message if message else ''}")
    if isinstance(exc, (HTTPError, OSError)):
        reason = getattr(exc, "reason", None) or exc
        text = _first(str(reason))
        text = re.sub(r"<[^>]*object at 0x[0-9a-f]+>:?\s*|HTTPS?Connection\([^)]*\):\s*", "", text)
        return ClusterError(f"cannot reach the Kubernetes API server at {host}: {text[:200]}")
    return ClusterError(f"{verb} {resource}{where}: {type(exc).__name__}: {_first(str(exc))[:200]}")


def _status_message(body) -> str:
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    if isinstance(body, str) and body.startswith("b'"):
        body = body[2:-1]
    try:
        return str(json.loads(body).get("message", ""))[:300]
    except (TypeError, ValueError, AttributeError):
        return ""


# -- exec -----------------------------------------------------------------------------------------

def exit_code(status_text: str) -> tuple[int, str]:
    """(exit code, message) from the v4 error channel's Status object."""
    if not status_text.strip():
        return -1, "the exec stream closed without a status"
    try:
        status = json.loads(status_text)
    except ValueError:
        return -1, f"unreadable exec status: {status_text[:200]}"
    if status.get("status") == "Success":
        return 0, ""
    causes = (status.get("details") or {}).get("causes") or []
    for c in causes:
        if c.get("reason") == "ExitCode":
            try:
                return int(c.get("message")), ""
            except (TypeError, ValueError):
                break
    return -1, str(status.get("message") or status.get("reason") or status_text)[:300]


class KubeExecTransport:
    """A container of a pod, reached through the API server's exec subresource."""

    def __init__(self, namespace: str, pod: str, container: str | None, api=None):
        self.namespace, self.pod, self.container = namespace, pod, container
        self.api = api
        self.name = f"kubectl://{namespace}/{pod}" + (f"?container={container}" if container else "")

    @classmethod
    def from_uri(cls, uri: str, api=None) -> KubeExecTransport:
        u = urlsplit(uri)
        parts = [unquote(p) for p in (u.netloc + u.path).split("/") if p]
        if len(parts) != 2:
            raise TransportError(f"{uri}: expected kubectl://NAMESPACE/POD[?container=NAME]")
        container = parse_qs(u.query).get("container", [None])[0]
        return cls(parts[0], parts[1], container, api)

    def run(self, script: str, timeout: float) -> Result:
        from kubernetes import client
        from kubernetes.stream import stream

        api = self.api or current_client()
        # stream() swaps the ApiClient's call_api while it runs: give each exec its own client, so that
        # concurrent execs and API calls of other threads never go through another's WebSocket
        core = client.CoreV1Api(client.ApiClient(api.configuration))
        kwargs = dict(command=["sh", "-c", "LBC_PID=1; export LBC_PID; " + script], stdin=False, stdout=True,
                      stderr=True, tty=False, _preload_content=False, binary=True)
        if self.container:
            kwargs["container"] = self.container
        try:
            ws = stream(core.connect_get_namespaced_pod_exec, self.pod, self.namespace, **kwargs)
        except Exception as e:  # the client wraps every handshake failure in ApiException(status=0)
            raise TransportError(f"{self.name}: {explain(e, 'create', 'pods/exec', self.namespace, api)}") from None
        out, err, status = bytearray(), bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        wait_close = 3.0  # for the server's close frame
        try:
            while ws.is_open():
                left = deadline - time.monotonic()
                if left <= 0:
                    wait_close = 0
                    return Result(124, out.decode(errors="replace"),
                                  err.decode(errors="replace") + f"\ntimed out after {timeout:g} s")
                ws.update(timeout=min(left, 1.0))
                out += ws.read_channel(1) or b""
                err += ws.read_channel(2) or b""
                status += ws.read_channel(3) or b""
            out += ws.read_channel(1) or b""
            err += ws.read_channel(2) or b""
            status += ws.read_channel(3) or b""
        except Exception as e:  # the socket broke mid-stream
            raise TransportError(f"{self.name}: exec stream broke: {type(e).__name__}: {_first(str(e))[:200]}") from None
        finally:
            ws.close(timeout=wait_close)
        rc, message = exit_code(status.decode(errors="replace"))
        stderr = err.decode(errors="replace")
        if rc < 0:
            rc, stderr = 126, (stderr + "\n" + message).strip()
        return Result(rc, out.decode(errors="replace"), stderr)
