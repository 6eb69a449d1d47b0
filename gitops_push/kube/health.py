"""Health of a live object, computed from the object alone (pure): the rules of kstatus.

`compute()` never talks to the cluster; the waiting stage polls and calls it. Statuses are kstatus's:
Current (done), InProgress (not yet), Failed (will not recover by waiting), NotFound. An object is
Current when its controller has observed its latest generation and its kind's rule holds; kinds with
no rule are Current once they exist, or when their `Ready` condition is True.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class Status(enum.Enum):
    CURRENT = "Current"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    NOT_FOUND = "NotFound"


@dataclass(frozen=True)
class Health:
    status: Status
    message: str = ""


Obj = Mapping[str, Any]
BAD_WAITING_REASONS = frozenset(
    {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError"}
)


def current(message: str) -> Health:
    return Health(Status.CURRENT, message)


def in_progress(message: str) -> Health:
    return Health(Status.IN_PROGRESS, message)


def failed(message: str) -> Health:
    return Health(Status.FAILED, message)


def conditions(obj: Obj) -> dict[str, Obj]:
    return {c.get("type", ""): c for c in (obj.get("status") or {}).get("conditions") or []}


def group_kind(obj: Obj) -> tuple[str, str]:
    """(group, kind) of an object from its apiVersion: the key of every table of rules."""
    group, _, _version = str(obj.get("apiVersion", "")).rpartition("/")
    return group, str(obj.get("kind", ""))


def compute(obj: Obj | None) -> Health:
    if obj is None:
        return Health(Status.NOT_FOUND, "not found")
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return in_progress("terminating")
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if generation is not None and observed is not None and observed < generation:
        return in_progress(f"waiting for the controller to observe generation {generation}")
    rule = RULES.get(group_kind(obj))
    if rule is not None:
        return rule(obj)
    return _ready_condition(obj)


def _ready_condition(obj: Obj) -> Health:
    ready = conditions(obj).get("Ready")
    if ready is None:
        return current("exists")
    if ready.get("status") == "True":
        return current("ready")
    return in_progress(ready.get("message") or ready.get("reason") or "not ready")


def _replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _deployment(obj: Obj) -> Health:
    status = obj.get("status") or {}
    progressing = conditions(obj).get("Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return failed(
            f"ProgressDeadlineExceeded: {progressing.get('message', 'the rollout made no progress')}"
        )
    desired = _replicas(obj)
    updated, total = status.get("updatedReplicas", 0), status.get("replicas", 0)
    available, ready = status.get("availableReplicas", 0), status.get("readyReplicas", 0)
    if updated < desired:
        return in_progress(f"{updated} of {desired} replicas updated")
    if total > updated:
        return in_progress(f"{total - updated} old replicas pending termination")
    if ready < desired:
        return in_progress(f"{ready} of {desired} replicas ready")
    if available < desired:
        return in_progress(f"{available} of {desired} replicas available")
    return current(f"{available} of {desired} replicas available")


def _stateful_set(obj: Obj) -> Health:
    status = obj.get("status") or {}
    desired = _replicas(obj)
    ready = status.get("readyReplicas", 0)
    strategy = ((obj.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")
    if ready < desired:
        return in_progress(f"{ready} of {desired} replicas ready")
    if strategy == "RollingUpdate":
        if status.get("updatedReplicas", 0) < desired:
            return in_progress(f"{status.get('updatedReplicas', 0)} of {desired} replicas updated")
        if status.get("currentRevision") != status.get("updateRevision"):
            return in_progress(f"rolling out revision {status.get('updateRevision')}")
    return current(f"{ready} of {desired} replicas ready")


def _daemon_set(obj: Obj) -> Health:
    status = obj.get("status") or {}
    desired = status.get("desiredNumberScheduled", 0)
    updated, available = status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0)
    if updated < desired:
        return in_progress(f"{updated} of {desired} pods updated")
    if available < desired:
        return in_progress(f"{available} of {desired} pods available")
    return current(f"{available} of {desired} pods available")


def _replica_set(obj: Obj) -> Health:
    status = obj.get("status") or {}
    desired = _replicas(obj)
    available = status.get("availableReplicas", 0)
    if available < desired:
        return in_progress(f"{available} of {desired} replicas available")
    return current(f"{available} of {desired} replicas available")


def _job(obj: Obj) -> Health:
    found = conditions(obj)
    if (found.get("Failed") or {}).get("status") == "True":
        reason = found["Failed"].get("reason", "Failed")
        return failed(f"{reason}: {found['Failed'].get('message', 'the job failed')}")
    if (found.get("Complete") or {}).get("status") == "True":
        return current("complete")
    if (obj.get("spec") or {}).get("suspend"):
        return current("suspended")
    status = obj.get("status") or {}
    return in_progress(f"{status.get('succeeded', 0)} succeeded, {status.get('active', 0)} active")


def _crd(obj: Obj) -> Health:
    found = conditions(obj)
    if (found.get("NamesAccepted") or {}).get("status") == "False":
        return failed(found["NamesAccepted"].get("message", "names not accepted"))
    if (found.get("Established") or {}).get("status") == "True":
        return current("established")
    return in_progress("not established yet")


def _namespace(obj: Obj) -> Health:
    phase = (obj.get("status") or {}).get("phase")
    return current("active") if phase == "Active" else in_progress(f"phase {phase or 'unknown'}")


def _pvc(obj: Obj) -> Health:
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Bound":
        return current("bound")
    if phase == "Lost":
        return failed("the claim lost its volume")
    return in_progress(f"phase {phase or 'Pending'}")


def pod_problem(pod: Obj) -> str | None:
    """Why a pod will not become ready by waiting (CrashLoopBackOff, image pulls...), or None."""
    status = pod.get("status") or {}
    containers = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    if status.get("phase") == "Failed":
        why = status.get("reason") or status.get("message") or _failed_container(containers) or "Failed"
        return f"pod failed: {why}"
    for container in containers:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in BAD_WAITING_REASONS:
            detail = f": {waiting['message']}" if waiting.get("message") else ""
            return f"container {container.get('name')}: {waiting['reason']}{detail}"
    return None


def _failed_container(statuses: Sequence[Obj]) -> str | None:
    """The first container that exited non-zero: a kubelet sets no pod reason when a process fails."""
    for container in statuses:
        terminated = (container.get("state") or {}).get("terminated") or {}
        if terminated.get("exitCode"):
            reason = f" ({terminated['reason']})" if terminated.get("reason") else ""
            return f"container {container.get('name')} exited with code {terminated['exitCode']}{reason}"
    return None


def unschedulable(pod: Obj) -> str | None:
    """The scheduler's reason when a pod cannot be placed, or None."""
    scheduled = conditions(pod).get("PodScheduled") or {}
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        return f"unschedulable: {scheduled.get('message', 'no node fits')}"
    return None


def _pod(obj: Obj) -> Health:
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return current("succeeded")
    problem = pod_problem(obj)
    if problem:
        return failed(problem)
    return _ready_condition(obj) if phase == "Running" else in_progress(f"phase {phase or 'Pending'}")


# (group, kind) -> rule. A kind of another group with the same name (a `Job` of some CRD) is not a
# batch Job: it falls back to its Ready condition.
RULES: dict[tuple[str, str], Callable[[Obj], Health]] = {
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _stateful_set,
    ("apps", "DaemonSet"): _daemon_set,
    ("apps", "ReplicaSet"): _replica_set,
    ("batch", "Job"): _job,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
    ("", "Namespace"): _namespace,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "Pod"): _pod,
}
DEPLOYMENT_REVISION = "deployment.kubernetes.io/revision"
# apps/v1 keeps a DaemonSet's template generation in this annotation; its pods carry it as a label.
DAEMONSET_GENERATION = "deprecated.daemonset.template.generation"


def revision_labels(workload: Obj, replica_sets: Sequence[Obj] = ()) -> dict[str, str] | None:
    """The labels that mark the pods of a workload's current revision, or None when it is not known.

    `{}` means every pod of the workload is current (a Job, a ReplicaSet). `replica_sets` are those
    that may belong to a Deployment. While the controller has not yet observed the latest generation,
    the revision it reports is the previous one: None then, so that its pods are not blamed. (A Job
    reports no observedGeneration at all.)
    """
    metadata, status = workload.get("metadata") or {}, workload.get("status") or {}
    generation, observed = metadata.get("generation"), status.get("observedGeneration")
    if generation is not None and observed is not None and observed < generation:
        return None
    rule = REVISIONS.get(group_kind(workload))
    return rule(workload, replica_sets) if rule else None


def is_of_revision(pod: Obj, labels: Mapping[str, str]) -> bool:
    found = (pod.get("metadata") or {}).get("labels") or {}
    return all(found.get(key) == value for key, value in labels.items())


def _deployment_revision(workload: Obj, replica_sets: Sequence[Obj]) -> dict[str, str] | None:
    metadata = workload.get("metadata") or {}
    revision, uid = (metadata.get("annotations") or {}).get(DEPLOYMENT_REVISION), metadata.get("uid")
    for replica_set in replica_sets:
        rs_meta = replica_set.get("metadata") or {}
        owned = any(owner.get("uid") == uid for owner in rs_meta.get("ownerReferences") or [])
        template_hash = (rs_meta.get("labels") or {}).get("pod-template-hash")
        if (
            owned
            and template_hash
            and (rs_meta.get("annotations") or {}).get(DEPLOYMENT_REVISION) == revision
        ):
            return {"pod-template-hash": template_hash}
    return None


def _stateful_set_revision(workload: Obj, _replica_sets: Sequence[Obj]) -> dict[str, str] | None:
    revision = (workload.get("status") or {}).get("updateRevision")
    return {"controller-revision-hash": revision} if revision else None


def _daemon_set_revision(workload: Obj, _replica_sets: Sequence[Obj]) -> dict[str, str] | None:
    generation = ((workload.get("metadata") or {}).get("annotations") or {}).get(DAEMONSET_GENERATION)
    return {"pod-template-generation": str(generation)} if generation else None


def _every_pod(_workload: Obj, _replica_sets: Sequence[Obj]) -> dict[str, str]:
    return {}  # a Job's or a ReplicaSet's pods are all of its one template


# (group, kind) -> how to tell the pods of the workload's current revision.
REVISIONS: dict[tuple[str, str], Callable[[Obj, Sequence[Obj]], dict[str, str] | None]] = {
    ("apps", "Deployment"): _deployment_revision,
    ("apps", "StatefulSet"): _stateful_set_revision,
    ("apps", "DaemonSet"): _daemon_set_revision,
    ("apps", "ReplicaSet"): _every_pod,
    ("batch", "Job"): _every_pod,
}
# Kinds whose pods are judged while waiting (fail fast on CrashLoopBackOff and the like).
WORKLOADS: frozenset[tuple[str, str]] = frozenset(REVISIONS)
