"""Health of a live object, computed from the object alone (pure): the rules of kstatus.

`compute()` never talks to the cluster; the waiting stage polls and calls it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Status(enum.Enum):
    CURRENT = "Current"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    NOT_FOUND = "NotFound"


@dataclass(frozen=True)
class Health:
    status: Status
    message: str = ""


def _conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {c.get("type", ""): c for c in obj.get("status", {}).get("conditions") or []}


def compute(obj: Mapping[str, Any] | None) -> Health:
    if obj is None:
        return Health(Status.NOT_FOUND, "not found")
    kind = obj.get("kind", "")
    if kind == "CustomResourceDefinition":
        conditions = _conditions(obj)
        if conditions.get("NamesAccepted", {}).get("status") == "False":
            return Health(Status.FAILED, conditions["NamesAccepted"].get("message", "names not accepted"))
        if conditions.get("Established", {}).get("status") == "True":
            return Health(Status.CURRENT, "established")
        return Health(Status.IN_PROGRESS, "not established yet")
    if kind == "Namespace":
        phase = obj.get("status", {}).get("phase")
        if phase == "Active":
            return Health(Status.CURRENT, "active")
        return Health(Status.IN_PROGRESS, f"phase {phase or 'unknown'}")
    return Health(Status.CURRENT, "exists")
