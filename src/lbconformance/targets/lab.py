"""The reference lab as a target: its VM and the inventory `lab up` wrote."""
from __future__ import annotations

from pathlib import Path

from lbconformance.yamlfile import InputError

INVENTORY_NAME = "inventory.yaml"


def lab_target() -> tuple[object, Path]:
    """(the running lab VM, the lab's inventory file); a clear error when the lab is not up."""
    from lbconformance.lab.vm import LabVM

    vm = LabVM(progress=None)
    path = vm.state / INVENTORY_NAME
    if not vm.pid():
        raise InputError(path, None, "the reference lab is not running: start it with `lbconformance lab up`")
    if not path.is_file():
        raise InputError(path, None, "the lab VM runs but has no inventory yet: run `lbconformance lab up` again")
    return vm, path
