"""Deletions of what Git removed: only members of this environment's set, in reverse apply order.

`select()` splits prune candidates into members (to delete) and objects that are not ours (kept, with
the reason); the guards refuse a prune that empties the environment or removes too much at once;
`prune_wave()` deletes one wave and reports each object under the stage it is given. Reads and
deletions go out `concurrency` at a time: one after the other, each costs a round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitops_push.cancelling import Cancellation, parallel
from gitops_push.errors import UsageError
from gitops_push.events import EventSink, ObjectActed, Stage
from gitops_push.kube import KubeApiError
from gitops_push.model import Action, Manifest, ObjectRef

if TYPE_CHECKING:
    from gitops_push.kube import Cluster


@dataclass(frozen=True)
class Selection:
    prune: tuple[Manifest, ...]
    kept: tuple[tuple[Manifest, str], ...]  # not deleted, and why


def select(
    cluster: Cluster,
    gone: Sequence[Manifest],
    *,
    is_member: Callable[[Mapping[str, Any] | None], bool],
    concurrency: int = 1,
    cancellation: Cancellation | None = None,
) -> Selection:
    """Read each candidate (`concurrency` at a time) and keep only the live members."""

    def live_of(manifest: Manifest) -> Mapping[str, Any] | None:
        resource = cluster.resource(manifest.api_version, manifest.ref.kind)
        return cluster.get(resource, manifest.ref.namespace, manifest.ref.name) if resource else None

    prune, kept = [], []
    lives = parallel(live_of, gone, concurrency, cancellation)
    for manifest, live in zip(gone, lives, strict=True):
        if live is None:
            kept.append((manifest, "already gone from the cluster"))
        elif not is_member(live):
            kept.append(
                (manifest, "not pruned: the live object is not labelled as a member of this environment")
            )
        else:
            prune.append(manifest)
    return Selection(tuple(prune), tuple(kept))


def prune_wave(
    cluster: Cluster,
    wave: Sequence[Manifest],
    *,
    sink: EventSink,
    stage: Stage = Stage.PRUNE,
    concurrency: int = 1,
    cancellation: Cancellation | None = None,
) -> list[ObjectRef]:
    """Delete one wave's objects, `concurrency` at a time; returns the refs whose deletion failed."""

    def one(manifest: Manifest) -> ObjectRef | None:
        ref = manifest.ref
        try:
            resource = cluster.resource(manifest.api_version, ref.kind)
            if resource is not None:
                cluster.delete(resource, ref.namespace, ref.name)
        except KubeApiError as exc:
            error = exc.shown(
                manifest.body, secret=manifest.is_secret
            )  # masked, then cut: a Secret's values never reach a report
            sink.handle(ObjectActed(stage, ref, Action.FAILED, manifest.source, manifest.api_version, error))
            return ref
        sink.handle(ObjectActed(stage, ref, Action.PRUNED, manifest.source, manifest.api_version))
        return None

    return [ref for ref in parallel(one, wave, concurrency, cancellation) if ref is not None]


def release_wave(
    cluster: Cluster,
    wave: Sequence[tuple[Manifest, Mapping[str, Any]]],
    *,
    field_manager: str,
    sink: EventSink,
    stage: Stage = Stage.PRUNE,
    concurrency: int = 1,
    cancellation: Cancellation | None = None,
) -> list[ObjectRef]:
    """Instead of deleting adopted objects, apply (manifest, empty body) pairs: the environment's
    manager gives up its fields and the object stays with its earlier owners. Returns the failures."""

    def one(item: tuple[Manifest, Mapping[str, Any]]) -> ObjectRef | None:
        manifest, body = item
        ref = manifest.ref
        try:
            resource = cluster.resource(manifest.api_version, ref.kind)
            if resource is not None:
                cluster.apply(resource, body, field_manager=field_manager, dry_run=False, force=True)
        except KubeApiError as exc:
            sink.handle(
                ObjectActed(stage, ref, Action.FAILED, manifest.source, manifest.api_version, exc.message)
            )
            return ref
        sink.handle(ObjectActed(stage, ref, Action.RELEASED, manifest.source, manifest.api_version))
        return None

    return [ref for ref in parallel(one, wave, concurrency, cancellation) if ref is not None]


def refuse_emptying(environment: str, prune: int, *, leaves_nothing: bool, allow_empty: bool) -> None:
    """A deploy that prunes and leaves the environment with no object at all is most often a wrong
    path or an emptied folder, not an intent: refuse it unless --allow-empty."""
    if prune and leaves_nothing and not allow_empty:
        raise UsageError(
            f"this deploy would leave environment {environment!r} with no objects (it would prune {prune})",
            hint="check --path; if you mean it, deploy with --allow-empty",
        )


def refuse_mass_prune(prune: int, max_prune: int) -> None:
    """Git removing more than --max-prune objects at once is more often a mistake than a decision."""
    if prune > max_prune:
        raise UsageError(
            f"this deploy would prune {prune} objects, more than --max-prune {max_prune}",
            hint="if Git really removed that much, rerun with a higher --max-prune",
        )
