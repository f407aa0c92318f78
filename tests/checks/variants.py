"""Broken fixture variants: a complete snapshot plus declared changes (fixtures/broken/*.yaml)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"


@dataclass
class Variant:
    name: str
    requirement: str
    description: str
    base: str = "complete-any"
    profile: str = "any"
    cascades: dict = field(default_factory=dict)
    changes: list = field(default_factory=list)


def load_variants() -> list[Variant]:
    out = []
    for path in sorted((FIXTURES / "broken").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        out.append(Variant(name=path.stem, **doc))
    return out


def materialise(variant: Variant, dest: Path) -> Path:
    """Copy the base snapshot and apply the variant's changes; every change must take effect."""
    shutil.copytree(FIXTURES / variant.base, dest)
    for ch in variant.changes:
        target = dest / ch["file"]
        if "content" in ch:
            assert target.exists(), f"{variant.name}: {ch['file']} does not exist in {variant.base}"
            target.write_text(ch["content"])
        elif "replace" in ch:
            old, new = ch["replace"]
            text = target.read_text()
            assert old in text, f"{variant.name}: {old!r} not found in {ch['file']}"
            target.write_text(text.replace(old, new, 1))
        elif "regex" in ch:
            pattern, new = ch["regex"]
            text, n = re.subn(pattern, new, target.read_text(), count=1)
            assert n == 1, f"{variant.name}: /{pattern}/ did not match {ch['file']}"
            target.write_text(text)
        elif "append" in ch:
            target.write_text(target.read_text() + ch["append"])
        elif "json" in ch:
            doc = json.loads(target.read_text())
            _json_change(doc, ch["json"], variant.name)
            target.write_text(json.dumps(doc, indent=1) + "\n")
        elif ch.get("delete"):
            target.unlink()
        else:
            raise AssertionError(f"{variant.name}: unknown change {ch}")
    return dest


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def _matches(item, where: dict) -> bool:
    return all(_get(item, k.split(".")) == v for k, v in where.items())


def _json_change(doc, op: dict, name: str) -> None:
    """JSON edits: {append: PATH, value: X} | {remove: PATH, where: {dotted.key: value}} | {set: PATH, value: X}."""
    if "append" in op:
        _get(doc, op["append"]).append(op["value"])
    elif "remove" in op:
        items = _get(doc, op["remove"])
        keep = [i for i in items if not _matches(i, op["where"])]
        assert len(keep) < len(items), f"{name}: nothing matched {op['where']}"
        items[:] = keep
    elif "set" in op:
        *parent, last = op["set"]
        container = _get(doc, parent)
        if isinstance(container, list):
            for item in container:
                if _matches(item, op.get("where", {})):
                    _get(item, last.split(".")[:-1])[last.split(".")[-1]] = op["value"]
        else:
            container[last] = op["value"]
    else:
        raise AssertionError(f"{name}: unknown json change {op}")


def run_suite(snapshot: Path, profile: str, report_dir: Path) -> dict:
    """Run the conformance suite on a snapshot; return results.json."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--snapshot", str(snapshot),
                           "--profile", profile, "--report-dir", str(report_dir), str(REPO / "suites")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    runs = sorted(report_dir.glob("*/results.json"))
    assert runs, f"no results.json; rc={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    doc = json.loads(runs[-1].read_text())
    doc["exit_code"] = proc.returncode
    return doc


def outcomes(doc: dict) -> dict[str, set[str]]:
    """requirement -> the set of outcomes its checks had."""
    out: dict[str, set[str]] = {}
    for r in doc["results"]:
        out.setdefault(r["requirement"], set()).add(r["outcome"])
    return out
