"""Validating: check manifests against the JSON Schema of their kind, as `kubectl --validate=strict` would.

`validate()` returns a list of `Finding`s (empty when every manifest is valid); it never raises for an
invalid manifest. Schemas come from a `SchemaSource`: `ClusterSchemas` (the cluster's OpenAPI v3,
fetched per group-version the change uses) or `BundledSchemas` (the built-in kinds of one Kubernetes
minor, shipped as package data). CRDs that arrive in the same change are passed as `crds`, so their
custom resources are checked against the schema they will be served with.

The parts, from the bottom up:
- `sources`: the schema sources, and which custom kinds go unchecked offline;
- `translating`: OpenAPI 3.0 to plain JSON Schema, with Kubernetes' extensions;
- `fastcheck`: a translated schema compiled into closures that only answer "valid?";
- `locating`: the line of a field in a manifest's file;
- `explaining`: jsonschema's errors for a manifest the fast check did not pass, as findings;
- `compiling`: validators (fast check and explainer) per (apiVersion, kind), kept with the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from gitops_push import forking
from gitops_push.model import Finding, Manifest
from gitops_push.stages.validating import compiling, explaining, locating, sources
from gitops_push.stages.validating.explaining import MAX_FINDINGS_PER_MANIFEST
from gitops_push.stages.validating.sources import (
    BUNDLED_VERSION,
    BundledSchemas,
    ClusterSchemas,
    SchemaSource,
    bundled,
    unchecked_custom_kinds,
)

__all__ = [
    "BUNDLED_VERSION",
    "MAX_FINDINGS_PER_MANIFEST",
    "PARALLEL_MIN_MANIFESTS",
    "SHARE_MANIFESTS",
    "BundledSchemas",
    "ClusterSchemas",
    "SchemaSource",
    "bundled",
    "fast_check",
    "unchecked_custom_kinds",
    "validate",
]

# From this many manifests on, shares are checked side by side in forked processes (see `forking`).
PARALLEL_MIN_MANIFESTS = 1000
SHARE_MANIFESTS = 250


def fast_check(schemas: SchemaSource) -> Callable[[str, str, Mapping[str, Any]], bool]:
    """The fast check of `schemas` as a function of (apiVersion, kind, body), for the loading stage to
    run on each object as it is parsed (`loading.CheckAhead`), in whichever process parses it: there
    the objects are still that process's own, where a check after loading would fork a process that
    shares (and copies, page by page) the memory of every object. True only for a body that passes;
    `validate(..., checked_ahead=schemas)` then skips its manifests' fast check.

    Offline only: bundled schemas are read from the package, where cluster schemas would need the
    parent's connections."""
    compiler = compiling.compiler_for(schemas)

    def passes(api_version: str, kind: str, body: Mapping[str, Any]) -> bool:
        validator = compiler.validator_for(api_version, kind)
        return validator is not None and validator.passes(body)

    return passes


def validate(
    manifests: Sequence[Manifest],
    schemas: SchemaSource,
    *,
    text_of: Callable[[str], str],
    crds: Sequence[Manifest] = (),
    checked_ahead: SchemaSource | None = None,
) -> list[Finding]:
    """Every schema error of every manifest (at most MAX_FINDINGS_PER_MANIFEST each), in manifest order.

    `text_of(path)` gives a manifest file's YAML text; it is read only to put a failing field's line on
    its finding. A custom kind that the bundled schemas cannot know, and no CRD in `crds` describes, is
    not a finding (`unchecked_custom_kinds` names such kinds). When `checked_ahead` is `schemas`, a
    manifest marked `checked_ahead` passed these very schemas' fast check as it was parsed
    (`fast_check`) and is not checked again, unless a CRD of the change describes its kind.
    """
    compiler = compiling.compiler_for(schemas)
    custom = compiling.CustomKinds(crds)
    if checked_ahead is schemas:
        manifests = [
            m for m in manifests if not m.checked_ahead or custom.validator_for(m.api_version, m.ref.kind)
        ]
    used = dict.fromkeys((m.api_version, m.ref.kind) for m in manifests)  # in manifest order
    if isinstance(schemas, sources.ClusterSchemas):  # a cold cache: one round trip for every document
        schemas.prefetch(
            api_version for api_version, kind in used if custom.validator_for(api_version, kind) is None
        )
    # Every kind's validator is made here, before any share is checked in a forked child: a child must
    # not fetch a schema over the parent's connections.
    validators = {key: custom.validator_for(*key) or compiler.validator_for(*key) for key in used}

    def check(share: Sequence[Manifest]) -> list[Finding]:
        lines = locating.Lines(text_of)
        findings: list[Finding] = []
        for manifest in share:
            validator = validators[(manifest.api_version, manifest.ref.kind)]
            if validator is None:
                if not sources.unchecked_offline(manifest, schemas):
                    findings.append(explaining.unknown_kind(manifest, lines))
            elif not validator.passes(manifest.body):
                # Only a manifest that the fast check does not pass is walked by jsonschema, which
                # explains each error (or, for the few shapes the fast check leaves open, finds none).
                findings += explaining.explain(manifest, validator.explainer, lines)
        return findings

    size = max(len(manifests), 1)
    if len(manifests) >= PARALLEL_MIN_MANIFESTS:
        size = max(SHARE_MANIFESTS, -(-len(manifests) // forking.MAX_SHARES))
    shares = [manifests[start : start + size] for start in range(0, len(manifests), size)]
    return [finding for part in forking.map_shares(check, shares) for finding in part]


def outside_allow_lists(
    manifests: Iterable[Manifest], *, namespaces: Sequence[str], kinds: Sequence[str], environment: str
) -> list[Finding]:
    """Objects an environment may not hold: a namespace outside its `namespaces:`, a kind outside its
    `kinds:` (`Kind` for the core group, `Kind.group` otherwise). An empty list allows anything."""
    findings = []
    for manifest in manifests:
        ref = manifest.ref
        if namespaces and ref.namespace is not None and ref.namespace not in namespaces:
            message = f"namespace {ref.namespace!r} is not one of environment {environment!r}'s namespaces ({', '.join(namespaces)})"
            findings.append(Finding(manifest.source, message, ref, "metadata.namespace"))
        if kinds and ref.group_kind not in kinds:
            message = f"kind {ref.group_kind} is not one of environment {environment!r}'s kinds ({', '.join(kinds)})"
            findings.append(Finding(manifest.source, message, ref, "kind"))
    return findings
