"""Who set which fields of a live object, from its `managedFields` (pure: no cluster needed).

`status` calls `set_by_others()` through planning to report fields that other field managers added
to our objects and that Git does not set (`kubectl patch cm web-config -p '{"data":{"EXTRA":"x"}}'`):
a server-side dry-run keeps such fields, so comparing the live object with the dry-run answer
never shows them. Our own fields are those our managers own in the dry-run answer, which is exactly
what Git sets; drift of those is the diff's business, not this module's.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitops_push.model import ForeignFields

Path = tuple[str, ...]  # fieldsV1 keys from the root: ("f:data", "f:EXTRA")


@dataclass(frozen=True)
class Owned:
    nodes: frozenset[Path]  # every path our managers own, and the maps above them
    leaves: frozenset[Path]


# Managers whose fields are not a person's or another tool's change to the object:
# - kube-controller-manager writes what controllers always add (a Deployment's revision annotation,
#   an HPA's replicas through the scale subresource);
# - kube-scheduler binds pods;
# - before-first-apply holds the fields an object had when server-side apply first met it (an object
#   created before we took it over): they predate the first deploy, they are no later edit.
# A `kubectl-client-side-apply` or `kubectl-edit` manager is a person: its extra fields are reported.
QUIET_MANAGERS = frozenset({"kube-controller-manager", "kube-scheduler", "before-first-apply"})
# Fields that record how an object was applied rather than what it is.
QUIET_FIELDS: frozenset[Path] = frozenset(
    {("f:metadata", "f:annotations", "f:kubectl.kubernetes.io/last-applied-configuration")}
)


def set_by_others(
    live: Mapping[str, Any], answer: Mapping[str, Any] | None, ours: Collection[str]
) -> tuple[ForeignFields, ...]:
    """Per other manager, the fields it owns on the live object that none of `ours` owns.

    `ours` are the names of our field managers (one per environment, plus the legacy one): a
    parameter, because which names are ours is the ownership stage's knowledge, not this module's.
    """
    mine = _owned(answer or live, ours)
    found: dict[str, set[Path]] = {}
    for entry in _entries(live):
        manager = str(entry.get("manager", ""))
        if manager in ours or manager in QUIET_MANAGERS or entry.get("subresource") == "status":
            continue
        extra = {p for p in leaves(entry.get("fieldsV1") or {}) if _foreign(p, mine)}
        if extra:
            found.setdefault(manager, set()).update(extra)
    return tuple(
        ForeignFields(manager, tuple(sorted(render(p) for p in paths)))
        for manager, paths in sorted(found.items())
    )


def leaves(fields: Mapping[str, Any], prefix: Path = ()) -> Iterator[Path]:
    """The owned leaf paths of a fieldsV1 tree (a "." key only marks that the map itself is owned)."""
    for key, child in fields.items():
        if key == ".":
            continue
        path = (*prefix, key)
        if any(k != "." for k in child or {}):
            yield from leaves(child, path)
        else:
            yield path


def render(path: Path) -> str:
    """("f:spec", "f:containers", 'k:{"name":"web"}', "f:image") -> .spec.containers[name=web].image"""
    text = ""
    for part in path:
        kind, _, name = part.partition(":")
        if kind == "f":
            text += f".{name}"
        elif kind == "k":
            keys = json.loads(name)
            text += "[" + ",".join(f"{k}={v}" for k, v in sorted(keys.items())) + "]"
        else:  # v: a set's value, i: a list index
            text += f"[{name}]"
    return text


def _entries(obj: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    return list((obj.get("metadata") or {}).get("managedFields") or [])


def _owned(obj: Mapping[str, Any], ours: Collection[str]) -> Owned:
    leaves_: set[Path] = set()
    for entry in _entries(obj):
        if entry.get("manager") in ours:
            leaves_.update(leaves(entry.get("fieldsV1") or {}))
    nodes = {leaf[:n] for leaf in leaves_ for n in range(1, len(leaf) + 1)}
    return Owned(frozenset(nodes), frozenset(leaves_))


def _foreign(path: Path, mine: Owned) -> bool:
    """Not noise, not a node we own, and not inside a leaf of ours (an atomic map or list we own)."""
    if path in QUIET_FIELDS or path in mine.nodes:
        return False
    return not any(path[:n] in mine.leaves for n in range(1, len(path)))
