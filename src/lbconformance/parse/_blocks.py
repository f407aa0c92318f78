"""A tokenizer and tree builder for brace-structured configs (keepalived, exabgp, nft).

Statements end at a newline (keepalived, nft) or at ``;`` (exabgp); ``{ ... }`` opens a
block that belongs to the statement before it, even when the brace is on the next line.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ParseError


@dataclass
class Tok:
    kind: str  # "word", "{", "}", ";", "nl"
    text: str
    file: str
    line: int
    quoted: bool = False


@dataclass
class Node:
    words: list[str]
    file: str
    line: int
    block: list["Node"] | None = None
    quoted: list[bool] = field(default_factory=list)


def tokenize(text: str, file: str, *, comments: str = "#", semicolons: bool = False,
             continuation: bool = False) -> list[Tok]:
    """Split ``text`` into tokens. A comment starts at a comment character that begins a
    word; double-quoted strings are single words; a trailing backslash joins lines when
    ``continuation``."""
    toks: list[Tok] = []
    raw_lines = text.splitlines()
    n = 0
    while n < len(raw_lines):
        lineno = n + 1
        line = raw_lines[n]
        n += 1
        if continuation:
            while line.endswith("\\") and n < len(raw_lines):
                line = line[:-1] + " " + raw_lines[n]
                n += 1
        i, size = 0, len(line)
        while i < size:
            c = line[i]
            if c.isspace():
                i += 1
            elif c in comments:
                break
            elif c in "{}" or (semicolons and c == ";"):
                toks.append(Tok(c, c, file, lineno))
                i += 1
            elif c == '"':
                end = line.find('"', i + 1)
                if end < 0:
                    raise ParseError(file, lineno, "unterminated quoted string")
                toks.append(Tok("word", line[i + 1:end], file, lineno, quoted=True))
                i = end + 1
            else:
                j = i
                stops = "{};" if semicolons else "{}"
                while j < size and not line[j].isspace() and line[j] not in stops:
                    j += 1
                toks.append(Tok("word", line[i:j], file, lineno))
                i = j
        toks.append(Tok("nl", "", file, lineno))
    return toks


def build(toks: list[Tok], source: str, *, newline_ends: bool = True) -> list[Node]:
    """Build statement trees. Raises ParseError on unbalanced braces."""
    root: list[Node] = []
    stack: list[tuple[list[Node], Node | None]] = [(root, None)]
    words: list[str] = []
    quoted: list[bool] = []
    first: Tok | None = None
    last_closed = False  # the previous statement in this list ended at a newline

    def flush() -> None:
        nonlocal words, quoted, first
        if words:
            assert first is not None
            stack[-1][0].append(Node(words, first.file, first.line, None, quoted))
        words, quoted, first = [], [], None

    for t in toks:
        if t.kind == "word":
            if first is None:
                first = t
            words.append(t.text)
            quoted.append(t.quoted)
            last_closed = False
        elif t.kind == "nl":
            if newline_ends:
                if words:
                    flush()
                    last_closed = True
        elif t.kind == ";":
            flush()
            last_closed = False
        elif t.kind == "{":
            if words:
                node = Node(words, first.file, first.line, [], quoted)  # type: ignore[union-attr]
                stack[-1][0].append(node)
                words, quoted, first = [], [], None
            else:
                siblings = stack[-1][0]
                if last_closed and siblings and siblings[-1].block is None:
                    node = siblings[-1]
                    node.block = []
                else:
                    raise ParseError(t.file, t.line, "'{' without a statement before it")
            stack.append((node.block, node))  # type: ignore[arg-type]
            last_closed = False
        elif t.kind == "}":
            flush()
            if len(stack) == 1:
                raise ParseError(t.file, t.line, "'}' without a matching '{'")
            stack.pop()
            last_closed = False
    flush()
    if len(stack) > 1:
        opened = stack[-1][1]
        assert opened is not None
        raise ParseError(opened.file, opened.line,
                         f"block '{' '.join(opened.words)}' is not closed (missing '}}')")
    return root
