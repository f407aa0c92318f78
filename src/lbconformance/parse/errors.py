"""The one exception every parser raises on bad input."""
from __future__ import annotations


class ParseError(ValueError):
    """Input that a parser could not turn into a model.

    ``source`` names where the text came from (a file path, a command, a
    fixture name), ``line`` is the 1-based line number, or None when no line
    makes sense (a JSON document that is valid JSON but has the wrong shape).
    ``str()`` reads ``"<source>:<line>: <message>"``.
    """

    def __init__(self, source: str, line: int | None, message: str):
        self.source = source
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else f"{self.source}"
        return f"{where}: {self.message}"

    def __reduce__(self):
        return (type(self), (self.source, self.line, self.message))
