"""Keep Secret values out of every output: diffs, errors, logs, reports, tag messages.

`planning` masks objects before diffing them; `applying` and `pruning` mask API error messages, which
can echo the request. Masking never hides *that* something changed: a changed value is marked so.
"""

from __future__ import annotations

import base64
import contextlib
import copy
from collections.abc import Iterable, Mapping
from typing import Any

HIDDEN = "(hidden)"
HIDDEN_CHANGED = "(hidden, changed)"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SECRET_FIELDS = ("data", "stringData")


def is_secret(obj: Mapping[str, Any] | None) -> bool:
    return bool(obj) and obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"  # type: ignore[union-attr]


def mask_object(obj: Mapping[str, Any], other: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A copy with Secret values and the last-applied annotation replaced; `other` marks what changed."""
    masked = copy.deepcopy(dict(obj))
    annotations = masked.get("metadata", {}).get("annotations") or {}
    if LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = HIDDEN
    if not is_secret(obj):
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
    """Every Secret value of these objects, plain and base64, as it could appear in a message."""
    found: set[str] = set()
    for obj in objects:
        if not obj or not is_secret(obj):
            continue
        for field in SECRET_FIELDS:
            for value in (obj.get(field) or {}).values():
                if not isinstance(value, str) or not value:
                    continue
                found.add(value)
                if field == "stringData":
                    found.add(base64.b64encode(value.encode()).decode())
                else:
                    with contextlib.suppress(ValueError, UnicodeDecodeError):
                        found.add(base64.b64decode(value, validate=True).decode("utf-8"))
    return {v for v in found if len(v) >= 3}


def mask_text(text: str, values: Iterable[str]) -> str:
    """Replace every known secret value in a message; longest first, so a value inside another goes too."""
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, HIDDEN)
    return text
