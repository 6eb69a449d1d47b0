"""The block-style YAML most manifests are written in, read line by line: a faster path for `yamltext`.

libyaml's composer makes a Python node, with two marks, for every key and value, and `yamltext`
then builds the document from those nodes: about 2.2 µs a line, most of the time of reading a
large repository. Here a document made only of the plainest YAML (block maps and lists, one key or
item a line, plain and quoted scalars, `|` and `|-` blocks, comments, anchors on maps and lists and
their aliases) is read straight into its value with a few string operations a line.

Anything else is not read here: `read` returns None and `yamltext` parses the text with libyaml
from that document on. That covers every error (a key twice, bad indentation, a value this reader
does not know), an anchor on a scalar, a tag, a flow collection (but `[]` and `{}`), a merge key, a
key that is not plain text, a multi-line plain value, a double-quoted escape, a `>` block, and
more aliases than go-yaml's bound could ever need counting. So this reader never refuses a text,
and never accepts one the parser would refuse: it gives the same value as the parser or none at
all (tests/unit/test_yamlblocks.py holds it to that, on the kubectl-parity corpus, real manifests,
mutations of them and generated texts).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Characters that may not start a plain key or value here: flow, anchors, tags, blocks, quotes,
# directives and the rest of YAML's indicators (a value may start with `-` before a non-space).
_NOT_PLAIN_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
_COMMENT = re.compile(r" +#.*")
# Outside this set a character is not printable to YAML (libyaml refuses it), or is a tab, CR or
# byte-order mark, which the parser path handles: such a text is left to it.
# (NEL, LS and PS are line breaks to YAML 1.1.)
_UNUSUAL_PATTERN = "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
_UNUSUAL: re.Pattern[str] | None = None
_UNUSUAL_ASCII = re.compile("[^\n\x20-\x7e]")
# `&name` or `*name`, then nothing but a comment
_NAMED = re.compile(r"[&*]([A-Za-z0-9_-]+)(?: +#.*| *)\Z")
# More aliases than this in a document are left to the parser, which bounds their expansion as
# go-yaml does; below it go-yaml's bound ("excessive aliasing") cannot be reached.
_ALIASES = 100

# YAML allows an implicit key of at most 1,024 characters; keys near that are left to the parser.
_LONGEST_KEY = 1000
# How many keys found to be text a `Scalars` keeps.
_KEPT = 4096

EMPTY = object()  # the value `read` gives a document of comments and blank lines only (at line -1)


class Decline(Exception):
    """This reader does not read the document: the parser will (also raised by `Scalars.value`)."""


def usable(text: str) -> bool:
    """Whether the text may be read here at all (no tab, CR, BOM or unprintable character)."""
    if text.isascii():
        return _UNUSUAL_ASCII.search(text) is None
    global _UNUSUAL
    if _UNUSUAL is None:
        _UNUSUAL = re.compile(_UNUSUAL_PATTERN)
    return _UNUSUAL.search(text) is None


class Scalars:
    """What `yamltext` knows of plain scalars, which this reader asks for."""

    def __init__(
        self, value: Callable[[str], Any], text_key: Callable[[str], bool], starts: frozenset[str]
    ) -> None:
        self.value = value  # a plain scalar's JSON value; raises Decline where the parser should say
        self.text_key = text_key  # whether a plain key is read as its own text
        self.starts = starts  # first characters of the plain scalars that may be other than text
        # Manifests repeat a few such keys (`name`, `type`): those found to be text are kept.
        self.text_keys: set[str] = set()

    def key_is_text(self, key: str) -> bool:
        if key in self.text_keys:
            return True
        if not self.text_key(key):
            return False
        if len(self.text_keys) < _KEPT:
            self.text_keys.add(key)
        return True


def read(lines: list[str], start: int, end: int, scalars: Scalars) -> tuple[Any, int, int] | None:
    """(value, depth, index of its first line) of the document in lines[start:end] (no `---` line
    among them), (EMPTY, 0, -1) for a document without content, or None if this reader does not
    read it."""
    try:
        return _document(lines, start, end, scalars)
    except Decline:
        return None


def _document(lines: list[str], at: int, end: int, scalars: Scalars) -> tuple[Any, int, int]:
    """One loop over the lines, with the map or list being filled (`top`) and its parents in locals:
    a call or an attribute per line is a good part of the time this reader takes."""
    plain, starts, text_keys = scalars.value, scalars.starts, scalars.text_keys
    while at < end:  # to the first line with content
        stripped = lines[at].lstrip(" ")
        if stripped and stripped[0] != "#":
            break
        at += 1
    else:
        return EMPTY, 0, -1
    first_line = at
    if lines[at][0] in " -":
        raise Decline  # a list, or an indented document: rare, and left to the parser
    root: dict[str, Any] = {}
    parents: list[tuple[int, Any, bool]] = []  # (indent, map or list, is a map) of each open parent
    top: Any = root  # (a map or a list)
    indent_top, is_map = 0, True
    pending: str | None = None  # a key of `top` written with no value yet: its block may follow
    anchor: str | None = None  # the anchor written after the pending key (`labels: &a`)
    anchors: dict[str, list[Any]] = {}  # name: [its map or list, how deep it nests (once measured)]
    aliases = 0
    deepest = 1
    while at < end:
        line = lines[at]
        at += 1
        text = line.lstrip(" ")
        if not text or text[0] == "#":
            continue
        indent = len(line) - len(text)
        item = text[0] == "-" and text[1:2] == " "
        if pending is not None:
            if indent > indent_top or (indent == indent_top and item):
                opened: Any = [] if item else {}
                top[pending] = opened
                if anchor is not None:
                    anchors[anchor] = [opened, 0]
                    anchor = None
                parents.append((indent_top, top, is_map))
                indent_top, top, is_map = indent, opened, not item
                if len(parents) >= deepest:
                    deepest = len(parents) + 1
            elif anchor is not None:
                raise Decline  # an anchored null
            pending = None
        while indent < indent_top or (indent == indent_top and not is_map and not item):
            indent_top, top, is_map = parents.pop()
        if indent != indent_top:
            raise Decline  # more indented with nothing open: a multi-line plain value, or an error
        if item:
            if is_map:
                raise Decline
            text = text[1:].lstrip(" ")
            if not text:
                raise Decline  # `- ` and nothing: a null, or the item's value on the lines below
            first = text[0]
            key, colon, value = text.partition(": ")
            if first in _NOT_PLAIN_START or not (colon or text[-1] == ":"):
                # a scalar, or another value on the item's line
                if first == "*":
                    aliases += 1
                    value, depth = _alias(text, anchors, aliases, top, parents)
                else:
                    value, at = _value(text, lines, at, end, indent, plain, starts)
                    depth = 1 if value.__class__ is list or value.__class__ is dict else 0  # `[]`, `{}`
                if depth:
                    deepest = max(deepest, len(parents) + 1 + depth)
                top.append(value)
                continue
            # `- key: value`: a map whose keys stand where this one does
            opened = {}
            top.append(opened)
            parents.append((indent_top, top, is_map))
            indent_top, top, is_map = len(line) - len(text), opened, True
            if len(parents) >= deepest:
                deepest = len(parents) + 1
        else:
            if not is_map:
                raise Decline
            key, colon, value = text.partition(": ")
        if not colon:
            if text[-1] != ":":
                raise Decline  # not `key: value` nor `key:`
            key, value = text[:-1], ""
        if not key or key[0] in _NOT_PLAIN_START or key[-1] in " :" or " #" in key or len(key) > _LONGEST_KEY:
            raise Decline  # a quoted, odd or long key: the parser reads it
        if (key[0] in starts and key not in text_keys and not scalars.key_is_text(key)) or key in top:
            raise Decline  # a key YAML reads as other than its text (`on`, `1`, `<<`), or a key twice
        if value and value[0] == " ":
            value = value.lstrip(" ")
        if not value or value[0] in "#&":
            top[key] = None  # null unless a block follows (and holds the key's place meanwhile)
            pending = key
            if value and value[0] == "&":
                anchor = _anchor(value, anchors)
            continue
        first = value[0]
        if first in _NOT_PLAIN_START:
            if first == "*":
                aliases += 1
                value, depth = _alias(value, anchors, aliases, top, parents)
            else:
                value, at = _value(value, lines, at, end, indent_top, plain, starts)
                depth = 1 if value.__class__ is list or value.__class__ is dict else 0
            if depth:
                deepest = max(deepest, len(parents) + 1 + depth)
            top[key] = value
            continue
        # A plain value: the end of `_value`, written out here because most lines are `key: value`
        # and calling `_value` for them made this reader 8 % slower (best of 5, 4 alternations).
        if " #" in value:
            value = _COMMENT.sub("", value, count=1)
        if value[-1] == " ":
            value = value.rstrip(" ")
        if ": " in value or value[-1] == ":":
            raise Decline  # a map on the line of a key: YAML refuses it
        # (A more indented line after it, which YAML would read as more of this value, is declined
        # above: no key is open to take it.)
        top[key] = plain(value) if first in starts else value
    if anchor is not None:
        raise Decline
    return root, deepest, first_line


def _value(
    text: str,
    lines: list[str],
    at: int,
    end: int,
    indent: int,
    plain: Callable[[str], Any],
    starts: frozenset[str],
) -> tuple[Any, int]:
    """The value that starts with `text` on the line before lines[at], in a map or list at `indent`,
    and the index of the line after it."""
    first = text[0]
    if first == "'":
        return _single_quoted(text, lines, at, end, indent)
    if first == '"':
        return _double_quoted(text), at
    if first == "|":
        return _literal(text, lines, at, end, indent)
    if first in "[{":
        rest = _COMMENT.sub("", text).rstrip(" ")
        if rest == "[]":
            return [], at
        if rest == "{}":
            return {}, at
        raise Decline
    if first in _NOT_PLAIN_START and not (first == "-" and text[1:2] not in (" ", "")):
        raise Decline
    if " #" in text:
        text = _COMMENT.sub("", text, count=1)
    text = text.rstrip(" ")
    if ": " in text or text[-1] == ":":
        raise Decline
    return (plain(text) if first in starts else text), at


def _anchor(text: str, anchors: dict[str, list[Any]]) -> str:
    """The name of the anchor `text` (`&name`, then nothing but a comment) puts on the block below."""
    found = _NAMED.match(text)
    if found is None or found.group(1) in anchors:
        raise Decline  # an anchor on a scalar or an inline value, or one defined again
    return found.group(1)


def _alias(
    text: str, anchors: dict[str, list[Any]], count: int, top: Any, parents: list[tuple[int, Any, bool]]
) -> tuple[Any, int]:
    """The value that the alias `text` (`*name`, then nothing but a comment) stands for, and how deep
    it nests (measured once per anchor: a large value aliased often is walked once)."""
    found = _NAMED.match(text)
    if found is None or count > _ALIASES:
        raise Decline  # not an alias alone, or one of many (the parser bounds their expansion)
    anchored = anchors.get(found.group(1))
    if anchored is None or anchored[0] is top or any(anchored[0] is parent[1] for parent in parents):
        raise Decline  # no such anchor, or an alias inside its own anchor's value
    if not anchored[1]:
        anchored[1] = _depth(anchored[0])
    return anchored[0], anchored[1]


def _single_quoted(text: str, lines: list[str], at: int, end: int, indent: int) -> tuple[str, int]:
    close = _closing_quote(text, 1)
    if close >= 0:
        _only_comment(text[close + 1 :])
        return text[1:close].replace("''", "'"), at
    # Over more lines: each line break is a space, unless blank lines follow it (each is a "\n").
    parts = [text[1:].rstrip(" ")]
    breaks = 0
    while at < end:
        line = lines[at]
        at += 1
        stripped = line.lstrip(" ")
        if not stripped:
            breaks += 1
            continue
        if len(line) - len(stripped) <= indent:
            raise Decline  # a continuation line not indented past its key: left to the parser
        parts.append("\n" * breaks if breaks else " ")
        breaks = 0
        close = _closing_quote(stripped, 0)
        if close >= 0:
            _only_comment(stripped[close + 1 :])
            parts.append(stripped[:close])
            return "".join(parts).replace("''", "'"), at
        parts.append(stripped.rstrip(" "))
    raise Decline  # never closed


def _double_quoted(text: str) -> str:
    close = text.find('"', 1)
    if close < 0 or "\\" in text[:close]:
        raise Decline  # escapes, or more than a line: the parser reads them
    _only_comment(text[close + 1 :])
    return text[1:close]


def _only_comment(rest: str) -> None:
    stripped = rest.lstrip(" ")
    if stripped and (stripped[0] != "#" or len(stripped) == len(rest)):
        raise Decline  # text after the closing quote (or a `#` glued to it)


def _literal(text: str, lines: list[str], at: int, end: int, indent: int) -> tuple[str, int]:
    """A `|` or `|-` block whose lines are indented past `indent`."""
    header = _COMMENT.sub("", text).rstrip(" ") if " #" in text else text.rstrip(" ")
    if header not in ("|", "|-"):
        raise Decline  # `|+`, an indentation indicator, or text after it
    block: list[str] = []
    block_indent = 0
    while at < end:
        line = lines[at]
        stripped = line.lstrip(" ")
        spaces = len(line) - len(stripped)
        if not stripped:
            if spaces > (block_indent or indent + 1):
                raise Decline  # spaces that may be kept or set the indentation: left to the parser
            block.append("")
            at += 1
            continue
        if not block_indent:
            if spaces <= indent:
                break
            block_indent = spaces
        elif spaces < block_indent:
            if spaces > indent and stripped[0] != "#":
                raise Decline  # less indented than the block, more than its key: an error
            break  # (a comment may stand there: the block has ended)
        block.append(line[block_indent:])
        at += 1
    while block and not block[-1]:
        block.pop()
    if not block:
        return "", at  # (chomping keeps no line break where there is no line)
    body = "\n".join(block)
    return (body if header == "|-" else body + "\n"), at


def _closing_quote(text: str, start: int) -> int:
    """Where the `'` that closes a single-quoted scalar is in `text` (from `start`), or -1."""
    at = text.find("'", start)
    while at >= 0:
        if text[at + 1 : at + 2] != "'":
            return at
        at = text.find("'", at + 2)
    return -1


def _depth(value: Any) -> int:
    """How many maps and lists deep a value nests (a scalar: 0)."""
    if value.__class__ is dict:
        return 1 + max(map(_depth, value.values()), default=0)
    if value.__class__ is list:
        return 1 + max(map(_depth, value), default=0)
    return 0
