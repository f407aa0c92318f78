"""The fake API server (tests/k8s/fakeapi.py), built from the complete-any fixture."""
from pathlib import Path

import pytest
import yaml

from .fakeapi import FakeApiServer

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "fixtures" / "complete-any"

# The devices outside the cluster. The reflector and router answer through exec into pods of the fake
# cluster (a kubectl:// transport like any other); the nodes through opt-in probe pods.
USER_INVENTORY = {
    "name": "complete-any", "pod_cidr": "172.16.0.0/16", "overlay": "host-gw",
    "cluster": {"node_probes": True},
    "reflectors": [{"name": "rr", "address": "10.0.0.109", "transport": "kubectl://infra/rr", "software": "gobgp"}],
    "routers": [{"name": "router", "address": "10.0.0.110", "transport": "kubectl://infra/router", "flavour": "frr"}],
}


@pytest.fixture
def api_server():
    server = FakeApiServer(FIXTURE).start()
    yield server
    server.stop()


@pytest.fixture
def kubeconfig(api_server, tmp_path):
    return api_server.kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def user_inventory(tmp_path):
    path = tmp_path / "outside.yaml"
    path.write_text(yaml.safe_dump(USER_INVENTORY, sort_keys=False))
    return path
