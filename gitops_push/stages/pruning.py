"""Deletions of what Git removed: only members of this environment's set, in reverse apply order.

Called by the pipeline: `select()` before planning, to split prune candidates into members (to delete)
and objects that are not ours (kept, with a warning); `prune_wave()` after every apply succeeded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    cluster: Cluster, gone: Sequence[Manifest], *, is_member: Callable[[Mapping[str, Any] | None], bool]
) -> Selection:
    prune, kept = [], []
    for manifest in gone:
        resource = cluster.resource(manifest.api_version, manifest.ref.kind)
        live = cluster.get(resource, manifest.ref.namespace, manifest.ref.name) if resource else None
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
    cluster: Cluster, wave: Sequence[Manifest], *, sink: EventSink, stage: Stage = Stage.PRUNE
) -> list[ObjectRef]:
    """Delete one wave's objects; returns the refs whose deletion failed."""
    failed = []
    for manifest in wave:
        ref = manifest.ref
        try:
            resource = cluster.resource(manifest.api_version, ref.kind)
            if resource is not None:
                cluster.delete(resource, ref.namespace, ref.name)
        except KubeApiError as exc:
            failed.append(ref)
            error = exc.shown(manifest.body)  # masked, then cut: a Secret's values never reach a report
            sink.handle(
                ObjectActed(Stage.PRUNE, ref, Action.FAILED, manifest.source, manifest.api_version, error)
            )
            continue
        sink.handle(ObjectActed(Stage.PRUNE, ref, Action.PRUNED, manifest.source, manifest.api_version))
    return failed
