"""Validators compiled from a schema source, once per (apiVersion, kind), and kept with the source.

A `KindValidator` pairs the fast check of one kind's schema (`passes`) with jsonschema's validator
that explains a failure (`explainer`, made at its first use). A `Compiler` translates each
group-version's document once, links its `$ref`s into one graph, and compiles its kinds on demand;
`CustomKinds` does the same for the schemas of the CRDs in a change.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from gitops_push import crds
from gitops_push.model import Manifest
from gitops_push.stages.validating import explaining, fastcheck, sources, translating

if TYPE_CHECKING:
    from jsonschema.protocols import Validator


class KindValidator:
    """The fast yes-or-no check of one kind's schema, and jsonschema's validator to explain a no."""

    def __init__(self, schema: Mapping[str, Any], checks: fastcheck.Checks) -> None:
        self.schema = schema
        self.passes = checks.of(schema)
        self._explainer: Validator | None = None

    @property
    def explainer(self) -> Validator:
        if self._explainer is None:
            self._explainer = explaining.explainer(self.schema)
        return self._explainer


@dataclass
class Compiled:
    """One group-version's document as JSON Schema, $refs linked, and the schema name of each kind."""

    schemas: dict[str, Any]
    by_kind: dict[str, str]
    checks: fastcheck.Checks = field(default_factory=fastcheck.Checks)  # shared by its kinds


@dataclass
class Compiler:
    """Validators of one schema source, compiled once per (apiVersion, kind) and kept."""

    source: sources.SchemaSource
    documents: dict[str, Compiled | None] = field(default_factory=dict)
    validators: dict[tuple[str, str], KindValidator | None] = field(default_factory=dict)

    def validator_for(self, api_version: str, kind: str) -> KindValidator | None:
        key = (api_version, kind)
        if key not in self.validators:
            self.validators[key] = self.compile(api_version, kind)
        return self.validators[key]

    def compile(self, api_version: str, kind: str) -> KindValidator | None:
        """The kind's validator, compiled now; None if the source does not know the kind."""
        compiled = self.document(api_version)
        if compiled is None or kind not in compiled.by_kind:
            return None
        return KindValidator(compiled.schemas[compiled.by_kind[kind]], compiled.checks)

    def document(self, api_version: str) -> Compiled | None:
        """The group-version's document, translated and linked once; None if the source has none."""
        if api_version not in self.documents:
            document = self.source.document_for(api_version)
            self.documents[api_version] = None if document is None else link(document, api_version)
        return self.documents[api_version]


def link(document: Mapping[str, Any], api_version: str) -> Compiled:
    """Translate a document and resolve each of its $refs once.

    Every `{"$ref": ...}` is replaced by the schema it points to, so the schemas become one linked
    (possibly cyclic) graph. Letting the validator resolve each $ref at every use instead costs a JSON
    pointer walk per reference per manifest, and halved the throughput in
    benchmarks/validation_throughput.py.
    """
    translated, by_kind = translating.document_schemas(document, api_version)
    _inline_refs(translated, {"components": {"schemas": translated}})
    return Compiled(schemas=translated, by_kind=by_kind)


def _inline_refs(schemas: dict[str, Any], document: Mapping[str, Any]) -> None:
    seen: set[int] = set()
    pending: list[Any] = [schemas]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        slots = node.items() if isinstance(node, dict) else enumerate(node)
        for slot, child in list(slots):
            if isinstance(child, dict) and isinstance(child.get("$ref"), str):
                # As in OpenAPI 3.0 and Draft 4, a $ref's siblings do not count.
                child = node[slot] = _target(child, document)
            if isinstance(child, dict | list):
                pending.append(child)


def _target(schema: dict[str, Any], document: Mapping[str, Any]) -> Any:
    hops = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and hops < 32:
        found = _pointer_target(document, schema["$ref"])
        if found is None:
            return {}  # a dangling $ref in the server's document: let the server judge that field
        schema = found
        hops += 1
    return schema


def _pointer_target(document: Mapping[str, Any], ref: str) -> Any:
    """The node a local `#/a/b` reference points to (RFC 6901 escapes), or None. OpenAPI documents
    from Kubernetes only refer within themselves."""
    if not ref.startswith("#/"):
        return None
    node: Any = document
    for token in ref[2:].split("/"):
        token = unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


# The compiled validators live as long as their schema source, so a source that is asked again (the
# same run validating twice, or a caller that keeps one) compiles each kind once.
_COMPILERS: weakref.WeakKeyDictionary[Any, Compiler] = weakref.WeakKeyDictionary()


def compiler_for(schemas: sources.SchemaSource) -> Compiler:
    try:
        compiler = _COMPILERS.get(schemas)
        if compiler is None:
            compiler = _COMPILERS[schemas] = Compiler(schemas)
    except TypeError:  # a source that cannot be weakly referenced or hashed: compile for this call
        return Compiler(schemas)
    return compiler


class CustomKinds:
    """Validators for the custom resources whose CRD is part of the change (they win over the cluster's
    published schema, which may be the CRD's previous version)."""

    def __init__(self, crd_manifests: Sequence[Manifest]) -> None:
        self._schemas: dict[tuple[str, str], Mapping[str, Any]] = {}
        for definition in crds.definitions(crd_manifests):
            for api_version, schema in definition.schemas().items():
                self._schemas[(api_version, definition.kind)] = schema
        self._validators: dict[tuple[str, str], KindValidator] = {}
        self._checks = fastcheck.Checks()  # knows nodes by identity: each validator keeps its root

    def validator_for(self, api_version: str, kind: str) -> KindValidator | None:
        key = (api_version, kind)
        schema = self._schemas.get(key)
        if schema is None:
            return None
        if key not in self._validators:
            self._validators[key] = KindValidator(translating.crd_root(schema), self._checks)
        return self._validators[key]
