"""Mutations of real manifests for the fuzz tests: bytes, YAML structure and values.

Each mutation is drawn from a seeded random.Random, so a failing mutation is found again by its
number. The values are the forms the kubectl parity corpus showed to matter (tests/unit/yamlcorpus.py)
and the pieces of YAML syntax that break a document in interesting ways.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

VALUES = [
    ".inf", "-.nan", "1e400", "18446744073709551615", "!!binary //79", "!!binary ###", "y", "~", "=",
    "<<", "*nope", "&a", "!!int x", "!!timestamp x", "0x", "'", '"', "[", "{", "}", "|", ">", "\t",
    "\x00", "\x1b", "- x", "? x", ": x", "%x", "@x", "`x", "!!python/object:os.system x", "\ufeff",
    "--- x", "...", "2024-01-01", "12:30", '"\\ud800"', "[a:, b]", "{x: 1, x: 2}", "0o17", "1e3",
    "!foo bar", "! 12", "*a", "\u2028", "\x85", "a\rb", "[[[[[[[[", "]]]]", '"\\/"', "1:", "a ?b",
]  # fmt: skip
LINES = [
    "---", "...", "--- x", "%YAML 1.1", "# comment", "items:", "<<: *a", "kind: List", "a: &a {x: 1}",
    "b: *a", "  <<: {x: 1}", "\t", "items: [1]", "apiVersion: v1", "metadata: {name: x}", "---#",
    "\ufeff---", "apiVersion: v1\nkind: List\nitems:\n- metadata: {name: i}",
]  # fmt: skip
_VALUE = re.compile(rb": (\S[^\n]*)")

Mutation = Callable[[bytes, random.Random], bytes]


def _flip(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) or 1)
    return data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]


def _insert_byte(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return (
        data[:at]
        + bytes([rng.choice([0, 9, 10, 13, 27, 127, 0x85, 0xC3, 0xFF, rng.randrange(256)])])
        + data[at:]
    )


def _delete_bytes(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + data[at + rng.randrange(1, 40) :]


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _duplicate_line(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    at = rng.randrange(len(lines))
    return b"\n".join([*lines[: at + 1], lines[at], *lines[at + 1 :]])


def _delete_line(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    del lines[rng.randrange(len(lines))]
    return b"\n".join(lines)


def _swap_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[a], lines[b] = lines[b], lines[a]
    return b"\n".join(lines)


def _reindent(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    at = rng.randrange(len(lines))
    line = lines[at]
    lines[at] = rng.choice([b" " + line, line[1:] if line.startswith(b" ") else line, b"\t" + line.lstrip()])
    return b"\n".join(lines)


def _insert_line(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    at = rng.randrange(len(lines) + 1)
    return b"\n".join([*lines[:at], rng.choice(LINES).encode(), *lines[at:]])


def _replace_value(data: bytes, rng: random.Random) -> bytes:
    matches = list(_VALUE.finditer(data))
    if not matches:
        return _insert_line(data, rng)
    match = rng.choice(matches)
    return data[: match.start(1)] + rng.choice(VALUES).encode() + data[match.end(1) :]


def _crlf(data: bytes, rng: random.Random) -> bytes:
    return data.replace(b"\n", b"\r\n")


MUTATIONS: list[Mutation] = [
    _flip, _insert_byte, _delete_bytes, _truncate, _duplicate_line, _delete_line, _swap_lines,
    _reindent, _insert_line, _replace_value, _replace_value, _replace_value, _crlf,
]  # fmt: skip


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three mutations of `data`."""
    for _ in range(rng.randint(1, 3)):
        data = rng.choice(MUTATIONS)(data, rng)
    return data
