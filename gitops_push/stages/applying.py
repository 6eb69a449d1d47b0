"""Server-side apply of desired objects: first as a dry-run of everything, then for real, wave by wave.

`dry_run()` asks the cluster, concurrently, what applying each object would
give (and reads the live object for the diff); it collects every rejection instead of stopping at the
first. Objects whose Namespace or CRD arrives in the same deploy cannot be dry-run yet: they come back
as `deferred` and are dry-run again once that wave is applied. `apply_wave()` applies one wave
concurrently and reports each object as an event.

How many requests are in flight grows with the network's round trip (`in_flight()`): over 20 ms each
worker waits most of its time for the answer, and only more requests in flight keep the server
working.

Two things stop the workers before their next request: a cancellation (SIGTERM, SIGINT), and an API
server that has stopped answering (ClusterUnreachable, which the workers let through). Both are the
run's failure, raised once, never one per object.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import replace as replace_field
from typing import TYPE_CHECKING, Any

from gitops_push import crds, fieldlines, masking
from gitops_push.cancelling import Cancellation, parallel
from gitops_push.errors import ClusterUnreachable, GitopsPushError
from gitops_push.events import EventSink, ObjectActed, Stage
from gitops_push.kube import LEGACY_FIELD_MANAGER, KubeApiError, Resource
from gitops_push.model import Action, Manifest, ObjectRef

if TYPE_CHECKING:
    from gitops_push.kube import Cluster

# Even on loopback the server waits for more than its CPU (etcd's commits): a devcluster applied 500
# objects in 6 to 10 s with 8 requests in flight, in 3 to 4 s with 16 or 32.
FEWEST_IN_FLIGHT = 16
MOST_IN_FLIGHT = 64  # a bound for a slow network: one client's fair share of a server's attention
# Requests per second a run plans to keep the server answering, whatever the distance: by Little's
# law, the requests in flight beyond the FEWEST are this rate times the round trip (20 ms: 20 more).
# A devcluster on 2 cores answers about 900 dry-runs and 380 applies a second on loopback; planning
# for 500 left it idle between answers over a network. Deploys of 500 updates, medians of three A/B
# runs over 20 ms: 3.7, 3.7 and 4.5 s with 27 in flight, 3.4, 3.8 and 4.2 s with 36 to 40; over
# 50 ms 4.1 s with 41, 3.8 s with 64. On loopback 16 to 32 in flight take the same time.
PLANNED_RATE = 1000.0


def in_flight(round_trip: float | None, cap: int | None) -> int:
    """How many requests to keep in flight: `cap` when the user chose (--concurrency), else more the
    longer the round trip, between FEWEST_IN_FLIGHT and MOST_IN_FLIGHT."""
    if cap is not None:
        return cap
    waiting = math.ceil(PLANNED_RATE * max(round_trip or 0.0, 0.0))
    return max(FEWEST_IN_FLIGHT, min(MOST_IN_FLIGHT, FEWEST_IN_FLIGHT + waiting))


@dataclass(frozen=True)
class Outcome:
    """The cluster's answer for one object: the answer, or a masked error, or why it must wait."""

    ref: ObjectRef
    live: Mapping[str, Any] | None = None
    answer: Mapping[str, Any] | None = None
    error: str | None = None
    deferred: str | None = None
    live_read: bool = True
    immutable: bool = False  # rejected only because an immutable field changes
    inherited: bool = False  # its only conflicts were with our own former field manager
    conflict: bool = False  # rejected because another field manager owns fields it sets
    fields: tuple[str, ...] = ()  # the fields the server's rejection names ('spec.ports[0].nodePort')

    @property
    def ok(self) -> bool:
        return self.error is None and self.deferred is None


@dataclass(frozen=True)
class Arrivals:
    """What this deploy itself creates that other objects depend on."""

    namespaces: frozenset[str]
    custom_kinds: frozenset[tuple[str, str]]  # (group, kind) defined by a CRD in the deploy


def crd_kind(crd: Manifest) -> tuple[str, str]:
    """(group, kind) that a CustomResourceDefinition defines."""
    definition = crds.crd_definition(crd.body)
    return (definition.group, definition.kind) if definition is not None else ("", "")


def arrivals(manifests: Sequence[Manifest]) -> Arrivals:
    namespaces, custom = set(), set()
    for manifest in manifests:
        if manifest.ref.group == "" and manifest.ref.kind == "Namespace":
            namespaces.add(manifest.ref.name)
        elif manifest.ref.kind == "CustomResourceDefinition" and manifest.ref.group == "apiextensions.k8s.io":
            custom.add(crd_kind(manifest))
    return Arrivals(frozenset(namespaces), frozenset(custom))


def dry_run(
    cluster: Cluster,
    manifests: Sequence[Manifest],
    bodies: Mapping[ObjectRef, Mapping[str, Any]],
    *,
    coming: Arrivals,
    field_manager: str,
    force: bool,
    concurrency: int,
    sink: EventSink,
    cancellation: Cancellation,
    read_live: bool = True,
    replace_immutable: bool = False,
    texts: Mapping[str, str] | None = None,
) -> dict[ObjectRef, Outcome]:
    """`read_live=False` skips reading each live object (no diff against it, one request fewer).

    With `replace_immutable`, a rejection for an immutable field is not reported: the caller replaces
    the object (delete, then create) instead. `texts` (file text by path, as loading read them) give
    a rejection the line of the first field the server names."""
    lines = fieldlines.Lines(lambda path: (texts or {}).get(path, ""))

    def one(manifest: Manifest) -> Outcome:
        outcome = _dry_run_one(
            cluster, manifest, bodies[manifest.ref], coming, (field_manager, force), read_live
        )
        if outcome.error is not None and not (replace_immutable and outcome.immutable):
            line, note = _field_line(manifest, outcome.fields, lines)
            error = f"{outcome.error} ({note})" if note else outcome.error
            sink.handle(_event(Stage.DRY_RUN, manifest, Action.FAILED, error, line=line))
        return outcome

    return {o.ref: o for o in parallel(one, manifests, concurrency, cancellation)}


def _dry_run_one(
    cluster: Cluster,
    manifest: Manifest,
    body: Mapping[str, Any],
    coming: Arrivals,
    as_manager: tuple[str, bool],
    read_live: bool,
) -> Outcome:
    ref = manifest.ref
    try:
        resource = _resource(cluster, manifest)
    except ClusterUnreachable:
        raise  # the run's failure, not this object's
    except GitopsPushError as exc:
        return Outcome(ref, error=_masked(str(exc.message), manifest))
    if resource is None:
        if (ref.group, ref.kind) in coming.custom_kinds:
            return Outcome(ref, deferred=f"CRD of {ref.group_kind} is created by this deploy")
        return Outcome(
            ref, error=f"the cluster has no kind {ref.kind} in {manifest.api_version}; is its CRD applied?"
        )
    manager, force = as_manager
    inherited = False
    try:
        live = cluster.get(resource, ref.namespace, ref.name) if read_live else None
        try:
            answer = cluster.apply(resource, body, field_manager=manager, dry_run=True, force=force)
        except KubeApiError as exc:
            if not (exc.is_conflict and conflicting_managers(exc) <= {LEGACY_FIELD_MANAGER}):
                raise
            # Fields our own former manager set are ours: the apply hands them over (migration).
            answer = cluster.apply(resource, body, field_manager=manager, dry_run=True, force=True)
            inherited = True
    except KubeApiError as exc:
        if exc.is_namespace_missing and ref.namespace in coming.namespaces:
            return Outcome(ref, deferred=f"namespace {ref.namespace} is created by this deploy")
        return Outcome(
            ref,
            error=describe(exc, manifest),
            immutable=exc.is_immutable,
            conflict=exc.is_conflict,
            fields=tuple(c.field for c in exc.causes if c.field),
        )
    except ClusterUnreachable:
        raise
    except GitopsPushError as exc:
        return Outcome(ref, error=_masked(exc.message, manifest))
    return Outcome(ref, live=live, answer=answer, live_read=read_live, inherited=inherited)


def conflicting_managers(exc: KubeApiError) -> set[str]:
    """The field managers a 409 conflict names ('conflict with "kubectl-edit" using v1')."""
    return {m for c in exc.causes for m in re.findall(r'conflict with "([^"]+)"', c.message)}


def _resource(cluster: Cluster, manifest: Manifest) -> Resource | None:
    return cluster.resource(manifest.api_version, manifest.ref.kind)


def apply_wave(
    cluster: Cluster,
    wave: Sequence[tuple[Manifest, Mapping[str, Any], Action]],
    *,
    field_manager: str,
    force: bool,
    concurrency: int,
    sink: EventSink,
    cancellation: Cancellation,
    stage: Stage = Stage.APPLY,
) -> list[ObjectRef]:
    """Apply (manifest, body, action reported on success) triples concurrently; returns the refs that
    failed."""

    def one(item: tuple[Manifest, Mapping[str, Any], Action]) -> ObjectRef | None:
        manifest, body, done = item
        try:
            resource = _resource(cluster, manifest)
            if resource is None:
                raise GitopsPushError(
                    f"the cluster has no kind {manifest.ref.kind} in {manifest.api_version}"
                )
            cluster.apply(resource, body, field_manager=field_manager, dry_run=False, force=force)
        except KubeApiError as exc:
            sink.handle(_event(stage, manifest, Action.FAILED, describe(exc, manifest)))
            return manifest.ref
        except ClusterUnreachable:
            raise
        except GitopsPushError as exc:
            sink.handle(_event(stage, manifest, Action.FAILED, _masked(exc.message, manifest)))
            return manifest.ref
        sink.handle(_event(stage, manifest, done, None))
        return None

    return [ref for ref in parallel(one, wave, concurrency, cancellation) if ref is not None]


def describe(exc: KubeApiError, manifest: Manifest) -> str:
    """The server's reason, with the conflicting manager or immutable field named, and no Secret value."""
    message = exc.shown(manifest.body, secret=manifest.is_secret)
    if exc.is_conflict:
        managers = sorted(conflicting_managers(exc))
        fields = sorted({c.field for c in exc.causes if c.field})
        owner = ", ".join(managers) or "another field manager"
        message = f"field manager conflict with {owner} over {', '.join(fields) or 'some fields'}"
    if exc.hint:
        message += f" (hint: {exc.hint})"
    return _masked(message, manifest)


def _masked(message: str, manifest: Manifest) -> str:
    return masking.redact(message, masking.secret_values([manifest.body]) if manifest.is_secret else ())


def _field_line(manifest: Manifest, fields: Sequence[str], lines: fieldlines.Lines) -> tuple[int, str]:
    """The line of the first field a rejection names, with the note of `Lines.locate`; the
    document's line when it names none, or none that reads as a path."""
    paths = [path for path in map(fieldlines.field_path, fields) if path]
    return lines.locate(manifest, paths[0]) if paths else (manifest.source.line, "")


def _event(
    stage: Stage, manifest: Manifest, action: Action, error: str | None, *, line: int | None = None
) -> ObjectActed:
    source = manifest.source
    return ObjectActed(
        stage=stage,
        ref=manifest.ref,
        action=action,
        source=replace_field(source, line=source.line if line is None else line),
        api_version=manifest.api_version,
        error=error,
    )


def replace(cluster: Cluster, manifest: Manifest, *, timeout: float, sleep: Callable[[float], None]) -> None:
    """Delete an object and wait until it is gone, so that it can be created anew (immutable fields)."""
    resource = _resource(cluster, manifest)
    if resource is None:
        return
    ref = manifest.ref
    cluster.delete(resource, ref.namespace, ref.name)
    waited = 0.0
    while cluster.get(resource, ref.namespace, ref.name) is not None:
        if waited >= timeout:
            raise GitopsPushError(
                f"{ref} was deleted to be replaced but is still there after {timeout:.0f} s"
            )
        sleep(0.5)
        waited += 0.5
