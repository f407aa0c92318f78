"""What the dynamic checks drive: the Orchestrator protocol, and the records it returns.

Suites depend on this protocol only; the lab implements it in lbconformance/lab/orchestrator.py, a
cluster target would implement it over its API. Every timestamp an orchestrator returns (scale
events, watcher changes, IPVS reads, client requests) is on ONE clock, the target's (`now()`), so
delays are differences of numbers taken on the same machine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from lbconformance.dynamic.watch import RouterWatch


@dataclass(frozen=True)
class ScaleEvent:
    """One LB pod started or stopped. `running`: both containers' main processes run; `stopped`: all
    of its processes are gone. Times are on the target's clock."""

    pod: str
    node: str          # the node's address: the next hop the router should (no longer) use
    action: str        # start | stop
    requested: float
    running: float | None = None
    stopped: float | None = None


@dataclass(frozen=True)
class WebScale:
    requested: float   # the endpoint change was requested (before the pods/endpoints change)
    done: float        # the endpoints were written
    endpoints: frozenset = frozenset()   # "ip:port" of the ready endpoints now


@dataclass(frozen=True)
class IpvsRead:
    """The kernel real servers of each LB pod, read at target time `t`: {pod: {virtual service: {ip:port}}}."""

    t: float
    tables: dict = field(default_factory=dict)

    def real_servers(self, pod: str) -> set:
        return set().union(*self.tables.get(pod, {}).values()) if self.tables.get(pod) else set()


@dataclass(frozen=True)
class Request:
    t: float
    ok: bool
    answer: str   # the backend's reply (its pod IP), or the error


@runtime_checkable
class Orchestrator(Protocol):
    name: str

    def now(self) -> float: ...
    def lb_nodes(self, service: str) -> list[str]: ...          # node addresses running its LB pods
    def lb_count(self, service: str) -> int: ...
    def max_lb(self, service: str) -> int: ...                   # one LB pod per service per node
    def scale_lb(self, service: str, count: int) -> list[ScaleEvent]: ...
    def lb_pods(self, service: str) -> dict[str, str]: ...       # pod name -> node address
    def add_lb(self, service: str, node: str) -> list[ScaleEvent]: ...      # an LB pod on that node
    def remove_lb(self, service: str, node: str) -> list[ScaleEvent]: ...   # delete its pod there
    def web_count(self, service: str) -> int: ...
    def scale_web(self, service: str, count: int) -> WebScale: ...
    def web_servers(self, service: str) -> list[str]: ...        # "ip:port" of each web pod, by index
    def stop_web_server(self, service: str, k: int) -> float: ...   # stop the server, keep the endpoint
    def start_web_server(self, service: str, k: int) -> float: ...
    def crash_lb(self, service: str, node: str) -> float: ...    # freeze the BGP speaker; no TCP close
    def run(self, host: str, cmd: str, timeout: float = 60) -> tuple[int, str, str]: ...
    def ipvs_real_servers(self, pod: str) -> dict[str, set]: ...
    def read_ipvs(self, pods) -> IpvsRead: ...
    def health_check_worst_case(self, service: str) -> float | None: ...
    def hold_time(self, pod: str) -> int | None: ...              # negotiated, from the reflector
    def watch_router(self, prefixes) -> WatchHandle: ...
    def client_load(self, vip: str, interval: float = 0.2) -> LoadHandle: ...
    def fetch(self, vip: str, requests: int) -> list[Request]: ...
    def capture(self) -> dict: ...
    def restore(self, original: dict) -> None: ...
    def verify(self, original: dict) -> list[str]: ...


class WatchHandle(Protocol):
    watch: RouterWatch

    def close(self) -> None: ...
    def __enter__(self) -> WatchHandle: ...
    def __exit__(self, *exc) -> None: ...


class LoadHandle(Protocol):
    def stop(self) -> list[Request]: ...
