"""The requirement catalog (suites/requirements.yaml) as typed entries."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lbconformance import yamlfile
from lbconformance.yamlfile import InputError, field

PROFILES = ("any", "bcm5720", "x550")
CATALOG_PATH = Path(__file__).resolve().parents[2] / "suites" / "requirements.yaml"


@dataclass(frozen=True)
class Requirement:
    id: str
    area: str
    must: str
    seed: str
    scope: tuple[str, ...]
    kind: str  # static | dynamic
    disruptive: bool
    severity: str  # required | advisory
    remediation: str

    def in_profile(self, profile: str) -> bool:
        """`any` requirements hold everywhere; hardware ones only under their own profile."""
        return "any" in self.scope or profile in self.scope

    @property
    def advisory(self) -> bool:
        return self.severity == "advisory"


def load_catalog(path: str | Path = CATALOG_PATH) -> dict[str, Requirement]:
    doc = yamlfile.load(path)
    if not isinstance(doc, list):
        raise InputError(path, yamlfile.line_of(doc), "the catalog must be a list of requirements")
    out: dict[str, Requirement] = {}
    for node in doc:
        rid = field(path, node, "id", str)
        where = rid
        scope = tuple(field(path, node, "scope", list, where=where))
        for s in scope:
            if s not in PROFILES:
                raise InputError(path, yamlfile.line_of(node, "scope"), f"{rid}: unknown scope {s!r}")
        kind = field(path, node, "kind", str, where=where)
        if kind not in ("static", "dynamic"):
            raise InputError(path, yamlfile.line_of(node, "kind"), f"{rid}: kind must be static or dynamic")
        severity = field(path, node, "severity", str, required=False, default="required", where=where)
        if severity not in ("required", "advisory"):
            raise InputError(path, yamlfile.line_of(node, "severity"), f"{rid}: severity must be required or advisory")
        if rid in out:
            raise InputError(path, yamlfile.line_of(node, "id"), f"duplicate requirement id {rid}")
        out[rid] = Requirement(
            id=rid,
            area=field(path, node, "area", str, where=where),
            must=field(path, node, "must", str, where=where),
            seed=field(path, node, "seed", str, where=where),
            scope=scope,
            kind=kind,
            disruptive=bool(field(path, node, "disruptive", bool, required=False, default=False, where=where)),
            severity=severity,
            remediation=field(path, node, "remediation", str, where=where),
        )
        if not rid.startswith(out[rid].area + "-"):
            raise InputError(path, yamlfile.line_of(node, "id"), f"{rid}: id must start with its area {out[rid].area}")
    return out


def mapping_problems(checks: dict[str, list[str]], catalog: dict[str, Requirement]) -> list[str]:
    """Traceability: every check maps to exactly one catalog entry, and every entry has a check.

    `checks` maps a check's node id to the requirement IDs its markers name.
    """
    problems = []
    for nodeid, ids in sorted(checks.items()):
        if len(ids) != 1:
            problems.append(f"{nodeid}: carries {len(ids)} requirement markers {ids}; expected exactly one")
        elif ids[0] not in catalog:
            problems.append(f"{nodeid}: requirement {ids[0]!r} is not in the catalog")
    covered = {ids[0] for ids in checks.values() if len(ids) == 1}
    problems += [f"{rid}: no check in suites/ covers it" for rid in catalog if rid not in covered]
    return problems
