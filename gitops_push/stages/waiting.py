"""Waiting until applied objects are healthy: polling around the pure `kube.health.compute()`.

Used for the prerequisites of later waves (Namespaces Active, CRDs Established) and for the health of
everything applied. It reports every change of an object's health as an event,
fails fast on states that waiting will not fix (ProgressDeadlineExceeded, a failed Job, new pods in
CrashLoopBackOff or ImagePullBackOff) and names the object, the pod and the reason. A failed pod of a
Job is not such a state: the Job makes another until its backoffLimit is used up, then fails. The
pods judged are those of the workload's current revision, however old (a re-run meets the pods of
the first attempt), and any pod created since the apply started. At the timeout it says what each
object was still waiting for, and which pod kept it waiting: why it cannot be scheduled, or that it is
not ready.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gitops_push import kinds
from gitops_push.cancelling import parallel
from gitops_push.events import EventSink, HealthChanged
from gitops_push.kube import Resource, health
from gitops_push.model import Manifest, ObjectRef

if TYPE_CHECKING:
    from gitops_push.kube import Cluster

POLL_SECONDS = 1.0
# Namespaces and CRDs are ready within a fraction of a second (a CRD is Established once its names
# are accepted): the wait for them starts polling at this, doubling up to POLL_SECONDS.
FIRST_POLL_SECONDS = 0.05
UNSCHEDULABLE_GRACE = 30.0  # seconds a new pod may stay unschedulable (a node may be on its way)
CLOCK_SLACK = datetime.timedelta(seconds=5)  # pods created just before we looked still count as new
PODS = Resource(group="", version="v1", kind="Pod", plural="pods", namespaced=True)
REPLICA_SETS = Resource(group="apps", version="v1", kind="ReplicaSet", plural="replicasets", namespaced=True)
EVENTS = Resource(group="", version="v1", kind="Event", plural="events", namespaced=True)


def wait_healthy(
    cluster: Cluster,
    manifests: Sequence[Manifest],
    *,
    timeout: float,
    sink: EventSink,
    since: datetime.datetime | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    concurrency: int = 1,
    first_poll: float = POLL_SECONDS,
) -> dict[ObjectRef, str]:
    """Poll until every object is Current; returns {ref: reason} for those that failed or timed out.

    `since` is when the apply started: pods created after it are judged, besides those of each
    workload's current revision. Each round observes `concurrency` objects at a time (a workload
    costs up to three reads, each a round trip); its events follow the order of the objects all the
    same. Rounds are `first_poll` seconds apart at first, twice that after each, up to POLL_SECONDS.
    """
    pending = {m.ref: m for m in manifests}
    seen: dict[ObjectRef, health.Health] = {}
    start = clock()
    deadline = start + timeout
    started_at = (since or datetime.datetime.now(datetime.UTC)) - CLOCK_SLACK
    pause = min(first_poll, POLL_SECONDS)
    while pending:
        failures: dict[ObjectRef, str] = {}
        observed = parallel(lambda m: _observe(cluster, m, started_at), list(pending.values()), concurrency)
        for (ref, _), state in zip(list(pending.items()), observed, strict=True):
            if seen.get(ref) != state:
                seen[ref] = state
                sink.handle(HealthChanged(ref, state.status.value, state.message, clock() - start))
            if state.status is health.Status.CURRENT:
                del pending[ref]
            elif state.status is health.Status.FAILED:
                failures[ref] = state.message
        if failures:
            return failures
        if not pending:
            break
        if clock() >= deadline:
            return {
                ref: _timed_out(cluster, m, seen.get(ref), timeout, started_at) for ref, m in pending.items()
            }
        sleep(pause)
        pause = min(pause * 2, POLL_SECONDS)
    return {}


def worth_waiting(ref: ObjectRef) -> bool:
    """Kinds with a health rule, and custom kinds (they may have a Ready condition). A ConfigMap, a
    Secret or a Role is healthy once applied: polling it would only cost a request per object."""
    return (ref.group, ref.kind) in health.RULES or ref.group not in kinds.BUILTIN_GROUPS


def _live(cluster: Cluster, manifest: Manifest) -> Mapping[str, Any] | None:
    resource = cluster.resource(manifest.api_version, manifest.ref.kind)
    return cluster.get(resource, manifest.ref.namespace, manifest.ref.name) if resource else None


def _observe(cluster: Cluster, manifest: Manifest, started_at: datetime.datetime) -> health.Health:
    live = _live(cluster, manifest)
    state = health.compute(live)
    if live is None and _collected_when_finished(manifest):
        # ingress-nginx's certificate Jobs set ttlSecondsAfterFinished: 0; gone is their success.
        return health.Health(health.Status.CURRENT, "finished, then removed (ttlSecondsAfterFinished)")
    if live is None or (manifest.ref.group, manifest.ref.kind) not in health.WORKLOADS:
        return state
    # A Job's controller retries a failed pod up to its backoffLimit (as Helm waits for a hook Job
    # to fail, not its first pod): its Failed condition decides, and then names the pod that failed.
    job = (manifest.ref.group, manifest.ref.kind) == ("batch", "Job")
    if state.status is health.Status.IN_PROGRESS:
        problem = _pod_problem(cluster, live, started_at, grace=UNSCHEDULABLE_GRACE, retried=job)
        if problem:
            return health.failed(problem)
    elif state.status is health.Status.FAILED and job:
        last = _pod_problem(cluster, live, started_at, grace=0.0)
        if last:
            return health.failed(f"{state.message}; {last}")
    return state


def _collected_when_finished(manifest: Manifest) -> bool:
    spec = manifest.body.get("spec")
    is_job = (manifest.ref.group, manifest.ref.kind) == ("batch", "Job")
    return is_job and isinstance(spec, dict) and spec.get("ttlSecondsAfterFinished") is not None


def _timed_out(
    cluster: Cluster,
    manifest: Manifest,
    last: health.Health | None,
    timeout: float,
    started_at: datetime.datetime,
) -> str:
    """What the wait was still waiting for, and the pod that kept it waiting, when there is one."""
    why = last.message if last else "no status"
    workload = (manifest.ref.group, manifest.ref.kind) in health.WORKLOADS
    live = _live(cluster, manifest) if workload else None
    stuck = _pod_problem(cluster, live, started_at, grace=0.0, not_ready=True) if live else None
    return f"not healthy after {timeout:.0f} s, still waiting for: {why}" + (f"; {stuck}" if stuck else "")


def _pod_problem(
    cluster: Cluster,
    workload: Mapping[str, Any],
    started_at: datetime.datetime,
    *,
    grace: float,
    not_ready: bool = False,
    retried: bool = False,
) -> str | None:
    """The first judged pod of a workload that will not become ready, with the reason, or None.

    Judged are the pods of the workload's current revision, whenever they were created, and other
    pods created since the apply started. A re-run of a failed deploy used to skip the pods the first
    attempt had made, and waited the whole timeout on "1 old replicas pending termination" with no
    reason. `not_ready` (at the timeout) also names a judged pod that is merely not ready yet;
    `retried` passes over failed pods (those of a Job that will make another).
    """
    labels = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    namespace = (workload.get("metadata") or {}).get("namespace")
    if not labels or not namespace:
        return None
    selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    current = _revision(cluster, workload, selector, namespace)
    now = datetime.datetime.now(datetime.UTC)
    lagging: str | None = None
    for pod in cluster.list(PODS, label_selector=selector, namespace=namespace):
        metadata = pod.get("metadata") or {}
        new = _time(metadata.get("creationTimestamp")) >= started_at
        if metadata.get("deletionTimestamp") or not (
            new or (current is not None and health.is_of_revision(pod, current))
        ):
            continue
        if retried and (pod.get("status") or {}).get("phase") == "Failed":
            continue
        name = str(metadata.get("name"))
        problem = health.pod_problem(pod) or _unschedulable(pod, now, grace)
        if problem:
            return f"pod {name}: {problem}{_last_warning(cluster, namespace, name)}"
        lagging = lagging or _not_ready(pod)
    return lagging if not_ready else None


def _revision(
    cluster: Cluster, workload: Mapping[str, Any], selector: str, namespace: str
) -> dict[str, str] | None:
    """The labels of the current revision's pods (a Deployment's come from its ReplicaSets)."""
    deployment = health.group_kind(workload) == ("apps", "Deployment")
    replica_sets = (
        cluster.list(REPLICA_SETS, label_selector=selector, namespace=namespace) if deployment else []
    )
    return health.revision_labels(workload, replica_sets)


def _unschedulable(pod: Mapping[str, Any], now: datetime.datetime, grace: float) -> str | None:
    """The scheduler's reason, once the pod has been unschedulable for `grace` seconds."""
    unschedulable = health.unschedulable(pod)
    scheduled = health.conditions(pod).get("PodScheduled") or {}
    if unschedulable and (now - _time(scheduled.get("lastTransitionTime"))).total_seconds() >= grace:
        return unschedulable
    return None


def _not_ready(pod: Mapping[str, Any]) -> str | None:
    ready = health.conditions(pod).get("Ready") or {}
    if ready.get("status") == "True":
        return None
    why = (
        ready.get("message")
        or ready.get("reason")
        or f"phase {(pod.get('status') or {}).get('phase') or 'Pending'}"
    )
    return f"pod {(pod.get('metadata') or {}).get('name')} not ready: {why}"


def _last_warning(cluster: Cluster, namespace: str, pod: str) -> str:
    """The pod's newest Warning event, which often says more than its status (a failed pull's cause)."""
    events = cluster.list(
        EVENTS, field_selector=f"involvedObject.name={pod},type=Warning", namespace=namespace
    )
    if not events:
        return ""
    newest = max(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return f" (last event: {newest.get('reason', '')}: {newest.get('message', '')})"


def _time(text: str | None) -> datetime.datetime:
    if not text:
        return datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
