"""The inventory loader: valid files load, bad ones name the file, the line and the field."""
from pathlib import Path

import pytest

from lbconformance.targets.inventory import load_inventory
from lbconformance.yamlfile import InputError

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "inventory.example.yaml"


def test_example_inventory_loads():
    inv = load_inventory(EXAMPLE)
    assert [s.prefix for s in inv.services] == ["10.1.1.0/24", "10.1.2.0/24"]
    assert [n.name for n in inv.lb_nodes()] == ["node105", "node106"]
    assert inv.routers[0].flavour == "frr" and inv.pods_of("web1")[0].containers["ipvs"].startswith("lab://")
    assert "2 LB pods" in inv.describe()


@pytest.mark.parametrize("old, new, expect", [
    ("node: node105", "node: node109", ":16: field lb_pods[0].node: unknown node 'node109'"),
    ("address: 10.0.0.109", "address: 10.0.0.300", "field reflectors[0].address: '10.0.0.300' is not an IP address"),
    ("flavour: frr", "flavour: cisco", "field routers[0].flavour"),
    ('transport: "lab://rr"', 'transport: "telnet://rr"', "transport 'telnet://rr' must start with one of"),
    ("pod_cidr: 172.16.0.0/16\n", "", "missing field 'inventory.pod_cidr'"),
    ("services:\n", "services: 3\nxservices:\n", ":5: field 'services': expected list, got int"),
    ("name: lb-web1-node106", "name: lb-web1-node105", "host names must be unique; repeated: lb-web1-node105"),
])
def test_bad_inventory_names_file_line_field(tmp_path, old, new, expect):
    text = EXAMPLE.read_text()
    assert old in text
    bad = tmp_path / "inv.yaml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError) as e:
        load_inventory(bad)
    assert str(e.value).startswith(str(bad)) and expect in str(e.value), str(e.value)


def test_not_yaml(tmp_path):
    bad = tmp_path / "inv.yaml"
    bad.write_text("name: x\n  - : [\n")
    with pytest.raises(InputError, match=r"inv.yaml:\d+: invalid YAML"):
        load_inventory(bad)
