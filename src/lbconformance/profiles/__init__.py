"""Hardware profiles as data: the figures a reference deployment must show (profiles/*.yaml)."""
from __future__ import annotations

from pathlib import Path

from lbconformance import yamlfile
from lbconformance.yamlfile import InputError

PROFILE_DIR = Path(__file__).parent


def load_profile(name: str) -> dict:
    path = PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))
        raise InputError(path, None, f"unknown profile {name!r}; known: {', '.join(names)}")
    doc = yamlfile.load(path)
    if not isinstance(doc, dict) or doc.get("name") != name:
        raise InputError(path, 1, f"profile file must be a mapping with name: {name}")
    return doc
