"""Keep Secret values out of every output: diffs, errors, logs, reports, tag messages.

`planning` masks objects before diffing them; `applying` and `pruning` mask API error messages, which
can echo the request. Masking never hides *that* something changed: a changed value is marked so.

`redact()` is the one way a server message about a Secret reaches a reporter: it masks every form a
value can take in a message (plain, base64, JSON- or repr-escaped, a PEM body without its line breaks)
and every run of `MIN_RUN` or more characters of any of them, and only then cuts the text to
`MAX_MESSAGE`. Cutting first once leaked 1,365 bytes of a key: the cut value no longer matched whole.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

HIDDEN = "(hidden)"
CUT = " …(cut)"
MAX_MESSAGE = 2000
# A run of 16 characters of a Secret value is masked wherever it appears. 16 base64 characters are 96
# bits, far more than anyone can guess, and a cut or re-wrapped value (a PEM body split into 64-column
# lines, a message cut by a proxy) keeps runs that long. Shorter runs would start to hide ordinary words
# of the server's messages; values shorter than this are still masked where they appear whole.
MIN_RUN = 16
# Values shorter than this are not masked at all: "ab" would garble every message that contains it.
MIN_VALUE = 3
_PEM_BODY = re.compile(r"-----BEGIN [A-Z0-9 ]+-----(.*?)-----END [A-Z0-9 ]+-----", re.DOTALL)
HIDDEN_CHANGED = "(hidden, changed)"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SECRET_FIELDS = ("data", "stringData")


def mask_object(
    obj: Mapping[str, Any], other: Mapping[str, Any] | None = None, *, secret: bool
) -> dict[str, Any]:
    """A copy with the last-applied annotation replaced and, when the object is a Secret, its values;
    `other` marks what changed. Whether it is a Secret is the caller's to say, from the object's
    reference (group and kind): a body can lack its kind (items of a LIST have none)."""
    masked = copy.deepcopy(dict(obj))
    annotations = masked.get("metadata", {}).get("annotations") or {}
    if LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = HIDDEN
    if not secret:
        return masked
    for field in SECRET_FIELDS:
        values = masked.get(field)
        if not isinstance(values, dict):
            continue
        theirs = (other or {}).get(field) or {}
        for key in values:
            changed = other is not None and theirs.get(key) != values[key]
            values[key] = HIDDEN_CHANGED if changed else HIDDEN
    return masked


def secret_values(objects: Iterable[Mapping[str, Any] | None]) -> set[str]:
    """Every value of these Secrets (the caller chose them by reference), plain and base64, as it
    could appear in a message.

    `data` that decodes to bytes which are not UTF-8 (a keystore) is also kept as Python writes bytes,
    `\\xff\\xfe…`, the form a traceback or a `repr` would show."""
    found: set[str] = set()
    for obj in objects:
        if not obj:
            continue
        for field in SECRET_FIELDS:
            for value in (obj.get(field) or {}).values():
                if not isinstance(value, str) or not value:
                    continue
                found.add(value)
                if field == "stringData":
                    found.add(base64.b64encode(value.encode()).decode())
                else:
                    found.update(_decoded(value))
    return {v for v in found if len(v) >= MIN_VALUE}


def _decoded(value: str) -> set[str]:
    try:
        raw = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return set()
    try:
        return {raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {repr(raw)[2:-1]}


def forms(value: str) -> set[str]:
    """The ways a value can be written into a message by the server, a proxy or a traceback."""
    found = {
        value,
        base64.b64encode(value.encode()).decode(),
        base64.urlsafe_b64encode(value.encode()).decode(),
    }
    found |= {v.rstrip("=") for v in found}
    for body in _PEM_BODY.findall(value):
        found.add("".join(body.split()))  # a PEM body with its line breaks dropped
    for text in list(found):
        escaped = json.dumps(text)[1:-1]
        found |= {escaped, json.dumps(escaped)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
        found |= {repr(text)[1:-1], text.replace("/", "\\/"), " ".join(text.split())}
    return {f for f in found if len(f) >= MIN_VALUE}


def mask_text(text: str, values: Iterable[str]) -> str:
    """Hide every form of every value, and every run of MIN_RUN characters of one, in a message."""
    every: set[str] = set()
    for value in values:
        every |= forms(value)
    if not every:
        return text
    text = _mask_runs(text, {f[i : i + MIN_RUN] for f in every for i in range(len(f) - MIN_RUN + 1)})
    # Longest first, so that a value inside another goes too.
    for value in sorted(every, key=len, reverse=True):
        text = text.replace(value, HIDDEN)
    return text


def _mask_runs(text: str, grams: set[str]) -> str:
    """Replace each stretch of text covered by known MIN_RUN-character pieces of values."""
    if not grams:
        return text
    covered_until, spans = -1, list[tuple[int, int]]()
    for start in range(len(text) - MIN_RUN + 1):
        if text[start : start + MIN_RUN] not in grams:
            continue
        if spans and start <= covered_until:
            spans[-1] = (spans[-1][0], start + MIN_RUN)
        else:
            spans.append((start, start + MIN_RUN))
        covered_until = start + MIN_RUN
    for start, end in reversed(spans):
        text = text[:start] + HIDDEN + text[end:]
    return text


def cut(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[:limit] + CUT


def redact(text: str, values: Iterable[str], limit: int = MAX_MESSAGE) -> str:
    """Mask first, then cut: a value cut in half would no longer be found whole."""
    return cut(mask_text(text, values), limit)
