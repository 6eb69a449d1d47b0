"""The cluster's own record of an environment, as an ApplySet (KEP-3659).

One parent ConfigMap per environment, `gitops-push-<env>` in namespace
`default`, carries the ApplySet id label, the group-kinds its members may have and the last deployed
commit; every applied object carries the `applyset.kubernetes.io/part-of` label with that id. Pruning
deletes only members, and a parent whose commit is not the last deploy tag's (a new or restored
cluster, a deploy by other means) makes the pipeline deploy the full set.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitops_push import __version__, naming
from gitops_push.kube import FIELD_MANAGER, Resource
from gitops_push.model import Manifest, ObjectRef, SourceLocation

if TYPE_CHECKING:
    from gitops_push.kube import Cluster

PARENT_NAMESPACE = naming.RECORD_NAMESPACE
ID_LABEL = "applyset.kubernetes.io/id"
PART_OF_LABEL = "applyset.kubernetes.io/part-of"
TOOLING = "applyset.kubernetes.io/tooling"
GROUP_KINDS = "applyset.kubernetes.io/contains-group-kinds"
ADDITIONAL_NAMESPACES = "applyset.kubernetes.io/additional-namespaces"
COMMIT = "gitops-push.dev/deployed-commit"
# A deploy in progress: written before its first apply, cleared when it records its commit. Still there
# at the next run, it says that deploy failed or was killed half-way.
ATTEMPT = "gitops-push.dev/attempt-commit"
ATTEMPT_STARTED = "gitops-push.dev/attempt-started"
CONFIG_MAPS = Resource(group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True)


@dataclass(frozen=True)
class Attempt:
    commit: str
    started: str  # ISO 8601, UTC


@dataclass(frozen=True)
class Record:
    """What the parent says: the deployed commit (None if never), the member group-kinds, namespaces."""

    exists: bool
    commit: str | None = None
    group_kinds: frozenset[str] = frozenset()
    namespaces: frozenset[str] = frozenset()
    attempt: Attempt | None = None  # a deploy that started and never recorded its commit


def applyset_id(environment: str) -> str:
    """The KEP-3659 id: base64url(sha256(name.namespace.kind.group)), unpadded, with prefix and suffix."""
    key = f"{naming.applyset_parent(environment)}.{PARENT_NAMESPACE}.ConfigMap."
    digest = base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()).decode().rstrip("=")
    return f"applyset-{digest}-v1"


def read_record(cluster: Cluster, environment: str) -> Record:
    live = cluster.get(CONFIG_MAPS, PARENT_NAMESPACE, naming.applyset_parent(environment))
    if live is None:
        return Record(exists=False)
    annotations = live.get("metadata", {}).get("annotations") or {}
    return Record(
        exists=True,
        commit=annotations.get(COMMIT) or None,
        group_kinds=frozenset(filter(None, (annotations.get(GROUP_KINDS) or "").split(","))),
        namespaces=frozenset(filter(None, (annotations.get(ADDITIONAL_NAMESPACES) or "").split(","))),
        attempt=Attempt(annotations[ATTEMPT], annotations.get(ATTEMPT_STARTED, ""))
        if annotations.get(ATTEMPT)
        else None,
    )


@dataclass(frozen=True)
class FullDeploy:
    """Whether a run takes the whole desired set rather than the difference, and why (None: no note)."""

    full: bool
    why: str | None = None


def full_deploy(
    record: Record, base: str | None, *, online: bool, all_objects: bool, status: bool
) -> FullDeploy:
    """The whole set: for drift, when asked, on a first deploy, or when the cluster's record disagrees
    with the last tag (a new or restored cluster, a deploy by other means)."""
    if status:
        return FullDeploy(True)
    if all_objects:
        return FullDeploy(True, "--all: every object under the paths, not just what changed")
    if not online or base is None:
        return FullDeploy(base is None)
    if record.commit == base:
        return FullDeploy(False)
    if not record.exists:
        why = "the cluster has no record of this environment (a new or restored cluster?)"
    else:
        why = f"the cluster's record says {str(record.commit)[:12]} was deployed, not {base[:12]}"
    return FullDeploy(True, f"deploying the full set, not the difference: {why}")


def group_kinds(refs: Iterable[ObjectRef]) -> frozenset[str]:
    return frozenset(ref.group_kind for ref in refs)


def write_parent(
    cluster: Cluster,
    environment: str,
    record: Record,
    *,
    refs: Iterable[ObjectRef],
    commit: str | None,
    attempt: Attempt | None = None,
) -> Record:
    """Apply the parent: the union of the known and the new group-kinds, and the commit given.

    Returns the record as it now stands."""
    refs = list(refs)
    kinds = record.group_kinds | group_kinds(refs)
    namespaces = record.namespaces | {
        r.namespace for r in refs if r.namespace and r.namespace != PARENT_NAMESPACE
    }
    annotations = {
        TOOLING: f"gitops-push/v{__version__}",
        GROUP_KINDS: ",".join(sorted(kinds)),
        ADDITIONAL_NAMESPACES: ",".join(sorted(namespaces)),
    }
    if commit:
        annotations[COMMIT] = commit
    if attempt:
        annotations[ATTEMPT] = attempt.commit
        annotations[ATTEMPT_STARTED] = attempt.started
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": naming.applyset_parent(environment),
            "namespace": PARENT_NAMESPACE,
            "labels": {ID_LABEL: applyset_id(environment)},
            "annotations": annotations,
        },
    }
    cluster.apply(CONFIG_MAPS, body, dry_run=False, force=True)
    return Record(True, commit or None, kinds, frozenset(namespaces), attempt)


def is_member(live: Mapping[str, Any] | None, environment: str) -> bool:
    """Labelled as this environment's, and applied by gitops-push: a label alone can be copied (by a
    controller, by hand) onto objects that were never ours, and pruning those would delete them."""
    metadata = (live or {}).get("metadata") or {}
    labels = metadata.get("labels") or {}
    if labels.get(PART_OF_LABEL) != applyset_id(environment):
        return False
    return any(
        entry.get("manager") == FIELD_MANAGER and entry.get("operation") == "Apply"
        for entry in metadata.get("managedFields") or []
    )


def members(cluster: Cluster, environment: str, record: Record) -> list[Manifest]:
    """Every live member of the set, found through the group-kinds the parent lists."""
    found = []
    selector = f"{PART_OF_LABEL}={applyset_id(environment)}"
    for group_kind in sorted(record.group_kinds):
        kind, _, group = group_kind.partition(".")
        resource = cluster.resource_for_group_kind(group, kind)
        if resource is None:
            continue  # the kind is gone from the cluster (its CRD was deleted), and so are its objects
        # Namespace by namespace, as the ApplySet records them: an identity bound to a few namespaces
        # may not list across all of them.
        scopes = sorted(record.namespaces | {PARENT_NAMESPACE}) if resource.namespaced else [None]
        lives = [
            live
            for namespace in scopes
            for live in cluster.list(resource, label_selector=selector, namespace=namespace)
        ]
        for live in lives:
            metadata = live["metadata"]
            ref = ObjectRef(group, kind, metadata.get("namespace"), metadata["name"])
            found.append(Manifest(ref, resource.api_version, live, SourceLocation("(cluster)", 0)))
    return found
