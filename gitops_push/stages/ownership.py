"""The cluster's own record of an environment, as an ApplySet (KEP-3659).

One parent ConfigMap per environment, `gitops-push-<env>` in namespace
`default`, carries the ApplySet id label, the group-kinds its members may have and the last deployed
commit; every applied object carries the `applyset.kubernetes.io/part-of` label with that id. Pruning
deletes only members, and a parent whose commit is not the last deploy tag's (a new or restored
cluster, a deploy by other means) makes the pipeline deploy the full set.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitops_push import __version__, naming
from gitops_push.kube import LEGACY_FIELD_MANAGER, KubeApiError, Resource
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
# Objects that existed before this environment took them over (--adopt): pruned, they are released
# (our fields removed, the object left to its earlier owners) rather than deleted.
ADOPTED = "gitops-push.dev/adopted"
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
    adopted: frozenset[str] = frozenset()  # `ref_key`s of the members that were adopted, not created


def applyset_id(environment: str) -> str:
    """The KEP-3659 id: base64url(sha256(name.namespace.kind.group)), unpadded, with prefix and suffix."""
    import hashlib  # here: loading OpenSSL's digests takes 3 ms that a plan never needs

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
        adopted=frozenset(filter(None, (annotations.get(ADOPTED) or "").split(","))),
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
    adopted: frozenset[str] | None = None,
) -> Record:
    """Apply the parent: the union of the known and the new group-kinds, the commit given, the
    attempt in progress (none: cleared) and the adopted members (None: as recorded).

    Returns the record as it now stands."""
    adopted = record.adopted if adopted is None else adopted
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
    if adopted:
        annotations[ADOPTED] = ",".join(sorted(adopted))
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
    cluster.apply(
        CONFIG_MAPS, body, field_manager=naming.field_manager(environment), dry_run=False, force=True
    )
    return Record(True, commit or None, kinds, frozenset(namespaces), attempt, adopted)


def ref_key(ref: ObjectRef) -> str:
    """A ref as the record lists it: `Kind.group/namespace/name`."""
    return f"{ref.group_kind}/{ref.namespace or ''}/{ref.name}"


def managers(environment: str) -> frozenset[str]:
    """The field managers that apply for this environment: its own, and the one all shared before."""
    return frozenset({naming.field_manager(environment), LEGACY_FIELD_MANAGER})


def _appliers(live: Mapping[str, Any] | None) -> list[str]:
    metadata = (live or {}).get("metadata") or {}
    return [
        str(e.get("manager")) for e in metadata.get("managedFields") or [] if e.get("operation") == "Apply"
    ]


def is_member(live: Mapping[str, Any] | None, environment: str) -> bool:
    """Labelled as this environment's, and applied by it: a label alone can be copied (by a
    controller, by hand) onto objects that were never ours, and pruning those would delete them."""
    labels = ((live or {}).get("metadata") or {}).get("labels") or {}
    if labels.get(PART_OF_LABEL) != applyset_id(environment):
        return False
    return bool(managers(environment) & set(_appliers(live)))


def owner_of(live: Mapping[str, Any], environment: str) -> str | None:
    """Who owns an existing object, if not this environment: `environment 'B'` for another
    environment's, else the managers that made it. None when it is this environment's own."""
    if is_member(live, environment):
        return None
    others = sorted(
        m.removeprefix("gitops-push-")
        for m in _appliers(live)
        if m.startswith("gitops-push-") and m not in managers(environment)
    )
    if others:
        return f"gitops-push environment {others[0]!r}"
    metadata = live.get("metadata") or {}
    if (metadata.get("labels") or {}).get(PART_OF_LABEL):
        return "another ApplySet (its applyset.kubernetes.io/part-of label)"
    made_by = sorted({str(e.get("manager")) for e in metadata.get("managedFields") or [] if e.get("manager")})
    return f"no gitops-push environment (managed by {', '.join(made_by) or 'nobody'})"


def migrate_manager(cluster: Cluster, resource: Resource, ref: ObjectRef, environment: str) -> bool:
    """Hand the fields that the old shared manager applied to this environment's own manager, so that
    a field later removed from Git is removed from the object too. True when something was migrated."""
    live = cluster.get(resource, ref.namespace, ref.name)
    entries = ((live or {}).get("metadata") or {}).get("managedFields") or []
    ours = naming.field_manager(environment)
    if any(e.get("manager") == ours and e.get("operation") == "Apply" for e in entries):
        return False  # already migrated (or applied by both): nothing to hand over
    for index, entry in enumerate(entries):
        if entry.get("manager") == LEGACY_FIELD_MANAGER and entry.get("operation") == "Apply":
            path = f"/metadata/managedFields/{index}/manager"
            operations = [
                {"op": "test", "path": path, "value": LEGACY_FIELD_MANAGER},
                {"op": "replace", "path": path, "value": ours},
            ]
            try:
                cluster.patch_json(resource, ref.namespace, ref.name, operations)
            except KubeApiError as exc:
                if exc.status != 422:  # 422: the object changed meanwhile; the next deploy migrates it
                    raise
                return False
            return True
    return False


def has_legacy_manager(answer: Mapping[str, Any] | None) -> bool:
    """The object (as the dry-run answered it) still carries fields applied by the old shared manager."""
    return LEGACY_FIELD_MANAGER in _appliers(answer)


def release_body(manifest: Manifest) -> dict[str, Any]:
    """An apply of nothing: the environment's manager gives up every field it alone owned (our labels
    among them), and the object stays as its earlier owners left it."""
    metadata = {
        "name": manifest.ref.name,
        **({"namespace": manifest.ref.namespace} if manifest.ref.namespace else {}),
    }
    return {"apiVersion": manifest.api_version, "kind": manifest.ref.kind, "metadata": metadata}


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
