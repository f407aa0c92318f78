"""Small helpers shared by the parsers: error conversion, numbers, addresses, JSON."""
from __future__ import annotations

import functools
import ipaddress
import json
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

from .errors import ParseError

#: Exceptions that mean "the input was not what we expected"; they become ParseError.
INPUT_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError,
                RecursionError, UnicodeError, ArithmeticError, LookupError, AssertionError)

F = TypeVar("F", bound=Callable[..., Any])


def parser(fn: F) -> F:
    """Decorate a public parser ``fn(text, source, ...)``: check the argument types and make
    sure nothing but ParseError escapes (a last-resort net; parsers name lines themselves)."""

    @functools.wraps(fn)
    def wrapper(text, source="<input>", *args, **kwargs):
        if not isinstance(source, str):
            source = repr(source)
        if not isinstance(text, str):
            raise ParseError(source, None, f"expected text, got {type(text).__name__}")
        try:
            return fn(text, source, *args, **kwargs)
        except ParseError:
            raise
        except INPUT_ERRORS as e:  # pragma: no cover - the net, not the plan
            raise ParseError(source, None, f"unexpected input ({type(e).__name__}: {e})") from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def at(source: str, line: int | None) -> Iterator[None]:
    """Turn any input error raised inside the block into ParseError(source, line, ...)."""
    try:
        yield
    except ParseError:
        raise
    except INPUT_ERRORS as e:
        raise ParseError(source, line, _describe(e)) from None


def _describe(e: BaseException) -> str:
    if isinstance(e, KeyError):
        return f"missing field {e}"
    text = str(e) or type(e).__name__
    return text


def lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline)."""
    for n, line in enumerate(text.splitlines(), 1):
        yield n, line


def to_int(word: str, what: str = "number", base: int = 10) -> int:
    """An integer, or ValueError naming what was expected."""
    w = word.strip()
    if not w or not all(c.isascii() for c in w):
        raise ValueError(f"expected {what}, got {word!r}")
    if base == 10 and not (w.isdigit() or (w[0] in "+-" and w[1:].isdigit())):
        raise ValueError(f"expected {what}, got {word!r}")
    try:
        return int(w, base)
    except ValueError:
        raise ValueError(f"expected {what}, got {word!r}") from None


def to_uint(word: str, what: str = "number") -> int:
    w = word.strip()
    if not w.isascii() or not w.isdigit():
        raise ValueError(f"expected {what}, got {word!r}")
    return int(w)


def ip(word: str, what: str = "IP address") -> str:
    """A normalised IP address string, or ValueError."""
    try:
        return str(ipaddress.ip_address(word.strip()))
    except ValueError:
        raise ValueError(f"expected {what}, got {word!r}") from None


def prefix(word: str, what: str = "prefix") -> str:
    """A normalised network ``a.b.c.d/n``; a bare address becomes a host prefix."""
    try:
        return str(ipaddress.ip_network(word.strip(), strict=True))
    except ValueError as e:
        raise ValueError(f"expected {what}, got {word!r} ({e})") from None


def load_json(text: str, source: str) -> Any:
    """json.loads, with the decoder's line in the ParseError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ParseError(source, e.lineno, f"invalid JSON: {e.msg}") from None
    except RecursionError:
        raise ParseError(source, None, "invalid JSON: nested too deeply") from None


class Shape:
    """Read fields out of decoded JSON/YAML with a path for error messages.

    ``Shape(source, obj, "$")["a"]["b"].int()``; every mismatch raises ParseError(source,
    line, "<path>: ...") where line is the one given (None for JSON documents)."""

    __slots__ = ("source", "value", "path", "line")

    def __init__(self, source: str, value: Any, path: str = "$", line: int | None = None):
        self.source, self.value, self.path, self.line = source, value, path, line

    def fail(self, message: str) -> ParseError:
        return ParseError(self.source, self.line, f"{self.path}: {message}")

    def _child(self, value: Any, path: str) -> "Shape":
        return Shape(self.source, value, path, self.line)

    def dict(self) -> dict:
        if not isinstance(self.value, dict):
            raise self.fail(f"expected an object, got {type(self.value).__name__}")
        return self.value

    def list(self) -> list["Shape"]:
        if not isinstance(self.value, list):
            raise self.fail(f"expected a list, got {type(self.value).__name__}")
        return [self._child(v, f"{self.path}[{i}]") for i, v in enumerate(self.value)]

    def items(self) -> list[tuple[str, "Shape"]]:
        return [(str(k), self._child(v, f"{self.path}.{k}")) for k, v in self.dict().items()]

    def __getitem__(self, key: str) -> "Shape":
        d = self.dict()
        if key not in d:
            raise self.fail(f"missing field {key!r}")
        return self._child(d[key], f"{self.path}.{key}")

    def get(self, *keys: str) -> "Shape":
        """The first of ``keys`` present (a Shape of None when none is, or self is None)."""
        if self.value is None:
            return self._child(None, f"{self.path}.{keys[0]}")
        d = self.dict()
        for k in keys:
            if k in d:
                return self._child(d[k], f"{self.path}.{k}")
        return self._child(None, f"{self.path}.{keys[0]}")

    def dig(self, *keys: str) -> "Shape":
        """Follow a path of optional keys; missing links give a Shape of None."""
        s = self
        for k in keys:
            s = s.get(k)
        return s

    @property
    def missing(self) -> bool:
        return self.value is None

    def str(self, default: Any = ...) -> Any:
        if self.value is None and default is not ...:
            return default
        if not isinstance(self.value, str):
            raise self.fail(f"expected a string, got {type(self.value).__name__}")
        return self.value

    def int(self, default: Any = ...) -> Any:
        if self.value is None and default is not ...:
            return default
        v = self.value
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise self.fail(f"expected an integer, got {type(v).__name__}")
        if isinstance(v, str):
            try:
                return to_int(v, "an integer")
            except ValueError as e:
                raise self.fail(str(e)) from None
        return v

    def bool(self, default: Any = ...) -> Any:
        if self.value is None and default is not ...:
            return default
        if isinstance(self.value, bool):
            return self.value
        if isinstance(self.value, str) and self.value.lower() in ("true", "false"):
            return self.value.lower() == "true"
        raise self.fail(f"expected a boolean, got {type(self.value).__name__}")

    def ip(self, default: Any = ...) -> Any:
        if self.value is None and default is not ...:
            return default
        try:
            return ip(self.str())
        except ValueError as e:
            raise self.fail(str(e)) from None

    def prefix(self, default: Any = ...) -> Any:
        if self.value is None and default is not ...:
            return default
        try:
            return prefix(self.str())
        except ValueError as e:
            raise self.fail(str(e)) from None
