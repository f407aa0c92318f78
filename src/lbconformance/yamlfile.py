"""YAML loading that remembers line numbers, so input errors name the file and the line."""
from __future__ import annotations

from pathlib import Path

import yaml


class InputError(Exception):
    """Bad user input (inventory, waivers, catalog, profile): names the file, the line and the field."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


class Mapping(dict):
    """A dict that knows the line of itself and of each key (1-based)."""

    line: int = 0
    key_lines: dict


class Sequence(list):
    line: int = 0


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader, node):
    loader.flatten_mapping(node)
    m = Mapping()
    m.line = node.start_mark.line + 1
    m.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        m[key] = loader.construct_object(value_node, deep=True)
        m.key_lines[key] = key_node.start_mark.line + 1
    return m


def _sequence(loader, node):
    s = Sequence(loader.construct_object(child, deep=True) for child in node.value)
    s.line = node.start_mark.line + 1
    return s


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load(path: str | Path, text: str | None = None):
    """Load a YAML file; syntax errors become InputError with file and line."""
    path = Path(path)
    if text is None:
        try:
            text = path.read_text()
        except OSError as e:
            raise InputError(path, None, f"cannot read: {e.strerror}") from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise InputError(path, mark.line + 1 if mark else None, f"invalid YAML: {e.problem}") from None
    except yaml.YAMLError as e:
        raise InputError(path, None, f"invalid YAML: {e}") from None


def line_of(node, key=None) -> int | None:
    """Line of a mapping key (or of the node itself)."""
    if key is not None and isinstance(node, Mapping):
        return node.key_lines.get(key, node.line)
    return getattr(node, "line", None)


def field(path, node, key, kind=None, required=True, default=None, where=""):
    """Fetch node[key], checking presence and type; errors name file, line and field."""
    label = f"{where}.{key}" if where else key
    if not isinstance(node, dict):
        raise InputError(path, line_of(node), f"{where or 'document'}: expected a mapping")
    if key not in node:
        if required:
            raise InputError(path, line_of(node), f"missing field {label!r}")
        return default
    value = node[key]
    if kind is not None and not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise InputError(path, line_of(node, key), f"field {label!r}: expected {names}, got {type(value).__name__}")
    return value
