"""Text from outside (file names, object names, server messages) made safe for the outputs it reaches.

Every reporter passes such text through `printable()` before writing it: a file named
`k8s/x\\n::stop-commands::pwned\\n.yaml` once wrote real workflow commands into a GitHub Actions log
and silenced every later annotation, and an ESC in a name reaches terminals the same way. Control
characters become visible escapes (`\\x1b`, `\\n`), as do the invisible ones that reorder or hide text
(bidirectional overrides, zero-width characters) and those XML 1.0 cannot hold (lone surrogates,
U+FFFE). `markup()` adds rich's markup escaping for text printed with markup.

`CommandGuard` wraps a stream that a GitHub Actions runner reads: a line that would start with `::`
(after blanks, as the runner trims them) or carry `##[` (the older command form, found anywhere in a
line) gets a backslash, so only the workflow commands the GitHub reporter writes itself are commands.
"""

from __future__ import annotations

import re
from typing import IO

from rich.markup import escape

# C0 except tab, DEL, C1; Arabic letter mark, zero-width and direction marks, line and paragraph
# separators, bidirectional embeddings, overrides and isolates, word joiner and invisible operators,
# the byte order mark, interlinear annotation, lone surrogates, and the two non-characters of XML.
_UNSAFE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
    "\ufff9-\ufffb\ufffe\uffff\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r"}
_COMMAND_START = re.compile(r"^(\s*)::")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """`text` on one line, every control or invisible character written as an escape."""
    return _UNSAFE.sub(_visible, str(text))


def markup(text: object) -> str:
    """`printable(text)` for a rich string with markup: `[bold]` in a name stays text."""
    return escape(printable(text))


def neutralise(line: str) -> str:
    """One line of a GitHub Actions log that is not one of our own workflow commands."""
    return _COMMAND_START.sub(r"\1\\::", line).replace("##[", "##\\[")


class CommandGuard:
    """A text stream that neutralises workflow commands in whole lines before they reach `stream`."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._partial = ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        if lines:
            self._stream.write("".join(neutralise(line) + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        # A flushed partial line is written as it is neutralised now; what follows it is treated as
        # a line start too, which can only neutralise more than needed, never less.
        if self._partial:
            self._stream.write(neutralise(self._partial))
            self._partial = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:
        return str(getattr(self._stream, "encoding", "utf-8") or "utf-8")
