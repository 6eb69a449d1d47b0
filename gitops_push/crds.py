"""What a CustomResourceDefinition defines: its group, kind, names, scope and versions, typed.

The one parser of a CRD's body. It reads `apiextensions.k8s.io/v1` bodies as Git holds them, before
the API server has checked them, so any field may be missing or of the wrong type: what cannot be read
is left out, and a body without a group or a kind defines nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gitops_push.model import Manifest

GROUP = "apiextensions.k8s.io"
KIND = "CustomResourceDefinition"


@dataclass(frozen=True)
class CrdVersion:
    """One entry of `spec.versions`: its name, flags and `schema.openAPIV3Schema` (None if it has none)."""

    name: str
    served: bool
    storage: bool
    schema: Mapping[str, Any] | None


@dataclass(frozen=True)
class CrdDefinition:
    """The custom kind a CRD defines."""

    group: str
    kind: str
    plural: str | None
    namespaced: bool  # `scope: Cluster` is the only way to say no; Namespaced is the server's default
    versions: tuple[CrdVersion, ...]

    @property
    def group_kind(self) -> str:
        """'Widget.example.com', spelled as `ObjectRef.group_kind` spells it."""
        return f"{self.kind}.{self.group}"

    def schemas(self) -> dict[str, Mapping[str, Any]]:
        """apiVersion ('example.com/v1') -> openAPIV3Schema, for the versions that have one."""
        return {f"{self.group}/{v.name}": v.schema for v in self.versions if v.schema is not None}


def is_crd(group: str, kind: str) -> bool:
    return group == GROUP and kind == KIND


def definitions(manifests: Iterable[Manifest]) -> list[CrdDefinition]:
    """What the CRDs among `manifests` define, in order; other manifests are passed over."""
    found = (crd_definition(m.body) for m in manifests if is_crd(m.ref.group, m.ref.kind))
    return [definition for definition in found if definition is not None]


def crd_definition(body: Mapping[str, Any]) -> CrdDefinition | None:
    """What the CRD `body` defines, or None when it names no group or kind."""
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        return None
    names = spec.get("names")
    names = names if isinstance(names, Mapping) else {}
    group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
    if not (isinstance(group, str) and group and isinstance(kind, str) and kind):
        return None
    return CrdDefinition(
        group=group,
        kind=kind,
        plural=plural if isinstance(plural, str) and plural else None,
        namespaced=spec.get("scope", "Namespaced") != "Cluster",
        versions=tuple(_versions(spec.get("versions"))),
    )


def _versions(entries: Any) -> list[CrdVersion]:
    if not isinstance(entries, list):
        return []
    versions = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"]:
            continue
        schema = entry.get("schema")
        root = schema.get("openAPIV3Schema") if isinstance(schema, Mapping) else None
        versions.append(
            CrdVersion(
                name=entry["name"],
                served=entry.get("served") is True,
                storage=entry.get("storage") is True,
                schema=root if isinstance(root, Mapping) else None,
            )
        )
    return versions
