"""The controller's endpoint source on Kubernetes: a Service's EndpointSlices.

`EndpointSliceSource(service, namespace).read()` lists the slices labelled
`kubernetes.io/service-name=<service>` and returns their endpoints, one per (address, port); an
endpoint whose readiness is unknown counts as ready, as the API says. `wait()` blocks on a watch
until a slice of the service changes (or the timeout passes), so the controller need not poll hard.
Inside the LB pod it uses the pod's service account (in-cluster config).
"""
from __future__ import annotations

import ipaddress

from lbconformance.collect.kube import IN_CLUSTER, explain, load_client
from lbconformance.controller import Endpoint


class EndpointSliceSource:
    """A Service's endpoints, from its EndpointSlices (discovery.k8s.io/v1)."""

    def __init__(self, service: str, namespace: str, port_name: str | None = None, api=None,
                 kubeconfig: str = IN_CLUSTER):
        self.service, self.namespace, self.port_name = service, namespace, port_name
        self.api = api or load_client(kubeconfig)
        self.selector = f"kubernetes.io/service-name={service}"

    def _discovery(self):
        from kubernetes import client

        return client.DiscoveryV1Api(self.api)

    def read(self) -> list[Endpoint]:
        try:
            slices = self._discovery().list_namespaced_endpoint_slice(
                self.namespace, label_selector=self.selector, _request_timeout=self.api.lbc_timeout).items
        except Exception as e:
            raise explain(e, "list", "endpointslices", self.namespace, self.api) from None
        seen: dict[tuple[str, int], Endpoint] = {}
        for sl in slices:
            if sl.address_type not in ("IPv4", "IPv6"):
                continue
            ports = [p for p in sl.ports or [] if p.port]
            if self.port_name and any(p.name == self.port_name for p in ports):
                ports = [p for p in ports if p.name == self.port_name]
            for ep in sl.endpoints or []:
                ready = ep.conditions is None or ep.conditions.ready is None or bool(ep.conditions.ready)
                for addr in ep.addresses or []:
                    for p in ports:
                        seen.setdefault((addr, int(p.port)), Endpoint(addr, int(p.port), ready))
        return sorted(seen.values(), key=lambda e: (ipaddress.ip_address(e.address), e.port))

    def wait(self, timeout: float) -> bool:
        """Block until a slice of the service is added, changed or deleted: True, or False on timeout."""
        from kubernetes import watch

        w = watch.Watch()
        try:
            for _ in w.stream(self._discovery().list_namespaced_endpoint_slice, self.namespace,
                              label_selector=self.selector, timeout_seconds=max(1, int(timeout))):
                return True
        except Exception as e:
            raise explain(e, "watch", "endpointslices", self.namespace, self.api) from None
        finally:
            w.stop()
        return False
