"""OpenAPI 3.0 schemas as plain JSON Schema (Draft 4 semantics, the dialect OpenAPI 3.0 derives from).

OpenAPI 3.0 is not quite JSON Schema, and Kubernetes adds extensions, so each document is translated
once: int-or-string fields take both types, `nullable` admits null, `x-kubernetes-preserve-unknown-fields`
opens its object and everything below it, `x-kubernetes-embedded-resource` admits apiVersion/kind/metadata,
and an object schema that lists `properties` without `additionalProperties` is closed (unknown fields are
errors). `format` is not checked: quantities and dates are the server's business. `status` is never
required: a manifest describes the desired state. Object schemas of built-in (Go) types carry
`fastcheck.NULLS_ARE_UNSET`, which both the fast check and the explainer understand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gitops_push import kinds
from gitops_push.stages.validating import fastcheck

# Marks an object schema translated from a built-in (Go) type. The API server decodes a null field of
# such a type as "not set", so `creationTimestamp: null` (which `kubectl create --dry-run -o yaml`
# writes) is accepted; for CRDs, server-side apply rejects null unless the field is `nullable`.
_NULLS_ARE_UNSET = fastcheck.NULLS_ARE_UNSET
# Keywords that mean the same in OpenAPI 3.0 and JSON Schema Draft 4, taken over as they are.
_COPIED_KEYWORDS = (
    "$ref",
    "enum",
    "required",
    "pattern",
    "uniqueItems",
    "multipleOf",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
)


@dataclass(frozen=True)
class _Mode:
    nulls_are_unset: bool  # a built-in (Go) type: null fields count as absent
    open: bool = False  # below x-kubernetes-preserve-unknown-fields: unknown fields are kept


def _translate(schema: Any, mode: _Mode) -> Any:
    """One OpenAPI schema node as JSON Schema (Draft 4 semantics, as OpenAPI 3.0 has them)."""
    if not isinstance(schema, Mapping):
        return schema
    if schema.get("x-kubernetes-preserve-unknown-fields") is True:
        mode = replace(mode, open=True)
    out: dict[str, Any] = {}
    types = _types_of(schema)
    for key in _COPIED_KEYWORDS:
        if key in schema:
            out[key] = schema[key]
    if "not" in schema:
        out["not"] = _translate(schema["not"], mode)
    for key in ("allOf", "anyOf", "oneOf"):
        # int-or-string is spelled as anyOf/oneOf of {type: integer} and {type: string}; once the
        # types are merged into `type`, the list says nothing more.
        if key in schema and not _only_types(schema[key]):
            out[key] = [_translate(sub, mode) for sub in schema[key]]
    if "items" in schema:
        out["items"] = _translate(schema["items"], mode)
    _translate_object(schema, mode, out)
    if types:
        out["type"] = types[0] if len(types) == 1 else types
    if schema.get("nullable") is True:
        _admit_null(out)
    return _unwrap_single_ref(out)


def _types_of(schema: Mapping[str, Any]) -> list[str]:
    if schema.get("x-kubernetes-int-or-string") is True or schema.get("format") == "int-or-string":
        return ["integer", "string"]
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    for key in ("anyOf", "oneOf"):
        if key in schema and _only_types(schema[key]):
            return [sub["type"] for sub in schema[key]]
    return []


def _only_types(subschemas: Any) -> bool:
    return (
        isinstance(subschemas, list)
        and bool(subschemas)
        and all(isinstance(s, Mapping) and set(s) == {"type"} for s in subschemas)
    )


def _translate_object(schema: Mapping[str, Any], mode: _Mode, out: dict[str, Any]) -> None:
    properties = dict(schema.get("properties") or {})
    embedded = schema.get("x-kubernetes-embedded-resource") is True
    if embedded:
        # The server fills in an embedded object's TypeMeta and ObjectMeta schema and requires both.
        properties.setdefault("apiVersion", {"type": "string"})
        properties.setdefault("kind", {"type": "string"})
        properties.setdefault("metadata", {"type": "object"})
        out["required"] = sorted({*out.get("required", ()), "apiVersion", "kind"})
    if properties:
        out["properties"] = {name: _translate(sub, mode) for name, sub in properties.items()}
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        out["additionalProperties"] = _translate(extra, mode)
    elif extra is False or (extra is None and properties and not mode.open):
        out["additionalProperties"] = False
    if mode.nulls_are_unset and (properties or isinstance(extra, Mapping)):
        out[_NULLS_ARE_UNSET] = True


def _admit_null(out: dict[str, Any]) -> None:
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    declared = out.get("type")
    if isinstance(declared, str):
        out["type"] = [declared, "null"]
    elif isinstance(declared, list):
        out["type"] = [*declared, "null"]
    else:
        # No type of its own (a $ref or a composition): null or whatever the rest allows.
        rest = dict(out)
        out.clear()
        out["anyOf"] = [{"type": "null"}, rest]


def _unwrap_single_ref(out: dict[str, Any]) -> dict[str, Any]:
    """`allOf: [{$ref}]` is how OpenAPI 3.0 gives a $ref siblings (default, description); once those are
    gone, the bare $ref saves the validator a level."""
    if set(out) == {"allOf"} and len(out["allOf"]) == 1 and set(out["allOf"][0]) == {"$ref"}:
        only: dict[str, Any] = out["allOf"][0]
        return only
    return out


def document_schemas(document: Mapping[str, Any], api_version: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The translated `components.schemas`, and kind -> schema name for this group-version's kinds."""
    group, version = kinds.split_api_version(api_version)
    builtin = _Mode(nulls_are_unset=group in kinds.BUILTIN_GROUPS)
    meta = _Mode(nulls_are_unset=True)
    translated: dict[str, Any] = {}
    by_kind: dict[str, str] = {}
    for name, schema in (document.get("components", {}).get("schemas") or {}).items():
        # ObjectMeta and friends are Go types even in a CRD's document.
        mode = meta if name.startswith("io.k8s.apimachinery.") else builtin
        translated[name] = _translate(schema, mode)
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            if gvk.get("group", "") == group and gvk.get("version") == version:
                by_kind.setdefault(gvk["kind"], name)
    for name in by_kind.values():
        _never_require_status(translated[name])
    return translated, by_kind


def _never_require_status(schema: dict[str, Any]) -> None:
    if "status" in schema.get("required", ()):
        schema["required"] = [r for r in schema["required"] if r != "status"]


def crd_root(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A CRD version's openAPIV3Schema as the schema of a whole object: TypeMeta and metadata allowed."""
    root = _translate(schema, _Mode(nulls_are_unset=False))
    if "properties" in root:
        root["properties"].setdefault("apiVersion", {"type": "string"})
        root["properties"].setdefault("kind", {"type": "string"})
        root["properties"].setdefault("metadata", {"type": "object"})
    _never_require_status(root)
    return dict(root)
