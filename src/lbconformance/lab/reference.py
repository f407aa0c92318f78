"""The host side of the reference deployment: run `deploy.py` in the VM, keep the inventory current."""
from __future__ import annotations

import json
import shlex

import yaml

from lbconformance.lab import topology
from lbconformance.lab.errors import LabError

INVENTORY_NAME = "inventory.yaml"
GUEST_PY = "PYTHONPATH=/lab python3 -m lbconformance.lab.deploy"
GUEST_FAULTS = "PYTHONPATH=/lab python3 -m lbconformance.lab.faults"


class ReferenceLab:
    """The deployment inside a running LabVM."""

    def __init__(self, vm):
        self.vm = vm

    @property
    def inventory_path(self):
        return self.vm.state / INVENTORY_NAME

    def deploy(self, *args: str, timeout: float = 300, check: bool = True, program: str = GUEST_PY):
        res = self.vm.run(f"{program} {' '.join(shlex.quote(a) for a in args)}", timeout=timeout)
        if check and res.rc != 0:
            what = "deploy" if program == GUEST_PY else "fault"
            raise LabError(what, f"`{what} {' '.join(args)}` in the VM exited {res.rc}: "
                           f"{(res.stderr.strip() or res.stdout.strip())[-600:]}")
        return res

    def apply_fault(self, name: str) -> dict:
        """Apply a fault of faults.FAULTS; {applied, seconds}. The inventory follows (a fault may add a pod)."""
        out = json.loads(self.deploy("apply", name, program=GUEST_FAULTS, timeout=300).stdout)
        self.write_inventory(self.state())
        return out

    def heal(self) -> dict:
        """Undo every applied fault and wait until the lab's health probe passes; {healed, seconds}."""
        out = json.loads(self.deploy("heal", program=GUEST_FAULTS, timeout=600).stdout)
        self.write_inventory(self.state())
        return out

    def up(self) -> dict:
        """Build the deployment (idempotent) and write the inventory; returns {state, seconds}."""
        out = json.loads(self.deploy("up", timeout=600).stdout)
        self.write_inventory(out["state"])
        return out

    def state(self) -> dict:
        return json.loads(self.deploy("state").stdout)

    def scale_lb(self, service: str, count: int) -> dict:
        """{state, events} (deploy.scale_lb); the inventory follows the new placement."""
        out = json.loads(self.deploy("scale-lb", service, str(count)).stdout)
        self.write_inventory(out["state"])
        return out

    def scale_web(self, service: str, count: int) -> dict:
        return json.loads(self.deploy("scale-web", service, str(count)).stdout)

    def health(self) -> list[str]:
        """The lab's own health probe: [] when healthy, else one line per problem."""
        res = self.deploy("health", check=False, timeout=120)
        if res.rc not in (0, 1):
            raise LabError("deploy", f"health probe failed ({res.rc}): {res.stderr.strip()[-400:]}")
        return [] if res.rc == 0 else res.stdout.strip().splitlines()

    def status(self) -> str:
        return self.deploy("status", check=False).stdout

    def write_inventory(self, state: dict) -> None:
        inv = topology.inventory(state.get("lb", {}), state.get("second", {}))
        text = "# Written by `lbconformance lab up` from the running reference lab (docs/inventory.md)\n"
        self.inventory_path.write_text(text + yaml.safe_dump(inv, sort_keys=False))
