"""Wait until applied objects are healthy: polling around the pure `kube.health.compute()`.

Called by the pipeline after the Namespace and CRD waves (so later waves find them Active and
Established) and after the whole apply. It reports every change of an object's health as an event,
fails fast on states that waiting will not fix (ProgressDeadlineExceeded, a failed Job, new pods in
CrashLoopBackOff or ImagePullBackOff) and names the object, the pod and the reason; at the timeout it
says what each object was still waiting for, including why its pods cannot be scheduled.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gitops_push import kinds
from gitops_push.events import EventSink, HealthChanged
from gitops_push.kube import Resource, health
from gitops_push.model import Manifest, ObjectRef

if TYPE_CHECKING:
    from gitops_push.kube import Cluster

POLL_SECONDS = 1.0
UNSCHEDULABLE_GRACE = 30.0  # seconds a new pod may stay unschedulable (a node may be on its way)
CLOCK_SLACK = datetime.timedelta(seconds=5)  # pods created just before we looked still count as new
PODS = Resource(group="", version="v1", kind="Pod", plural="pods", namespaced=True)
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
) -> dict[ObjectRef, str]:
    """Poll until every object is Current; returns {ref: reason} for those that failed or timed out.

    `since` is when the apply started: only pods created after it are blamed for a failure.
    """
    pending = {m.ref: m for m in manifests}
    seen: dict[ObjectRef, health.Health] = {}
    start = clock()
    deadline = start + timeout
    started_at = (since or datetime.datetime.now(datetime.UTC)) - CLOCK_SLACK
    while pending:
        failures: dict[ObjectRef, str] = {}
        for ref, manifest in list(pending.items()):
            state = _observe(cluster, manifest, started_at)
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
        sleep(POLL_SECONDS)
    return {}


def worth_waiting(manifest: Manifest) -> bool:
    """Kinds with a health rule, and custom kinds (they may have a Ready condition). A ConfigMap, a
    Secret or a Role is healthy once applied: polling it would only cost a request per object."""
    return manifest.ref.kind in health.RULES or manifest.ref.group not in kinds.BUILTIN_GROUPS


def wait_current(
    cluster: Cluster, manifests: Sequence[Manifest], *, timeout: float, sink: EventSink
) -> dict[ObjectRef, str]:
    """For prerequisites (Namespaces, CRDs): the same wait, without the pod checks that do not apply."""
    return wait_healthy(cluster, manifests, timeout=timeout, sink=sink)


def _live(cluster: Cluster, manifest: Manifest) -> Mapping[str, Any] | None:
    resource = cluster.resource(manifest.api_version, manifest.ref.kind)
    return cluster.get(resource, manifest.ref.namespace, manifest.ref.name) if resource else None


def _observe(cluster: Cluster, manifest: Manifest, started_at: datetime.datetime) -> health.Health:
    live = _live(cluster, manifest)
    state = health.compute(live)
    if live is None and _collected_when_finished(manifest):
        # ingress-nginx's certificate Jobs set ttlSecondsAfterFinished: 0; gone is their success.
        return health.Health(health.Status.CURRENT, "finished, then removed (ttlSecondsAfterFinished)")
    if (
        state.status is health.Status.IN_PROGRESS
        and live is not None
        and manifest.ref.kind in health.WORKLOADS
    ):
        problem = _pod_problem(cluster, live, started_at, grace=UNSCHEDULABLE_GRACE)
        if problem:
            return health.failed(problem)
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
    why = last.message if last else "no status"
    live = _live(cluster, manifest) if manifest.ref.kind in health.WORKLOADS else None
    stuck = _pod_problem(cluster, live, started_at, grace=0.0) if live else None
    return f"not healthy after {timeout:.0f} s: {why}" + (f"; {stuck}" if stuck else "")


def _pod_problem(
    cluster: Cluster, workload: Mapping[str, Any], started_at: datetime.datetime, *, grace: float
) -> str | None:
    """The first new pod of a workload that will not become ready, with the reason, or None."""
    labels = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    namespace = (workload.get("metadata") or {}).get("namespace")
    if not labels or not namespace:
        return None
    selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    now = datetime.datetime.now(datetime.UTC)
    for pod in cluster.list(PODS, label_selector=selector, namespace=namespace):
        metadata = pod.get("metadata") or {}
        if metadata.get("deletionTimestamp") or _time(metadata.get("creationTimestamp")) < started_at:
            continue
        name = str(metadata.get("name"))
        problem = health.pod_problem(pod)
        unschedulable = health.unschedulable(pod)
        scheduled = health.conditions(pod).get("PodScheduled") or {}
        if (
            not problem
            and unschedulable
            and (now - _time(scheduled.get("lastTransitionTime"))).total_seconds() >= grace
        ):
            problem = unschedulable
        if problem:
            return f"pod {name}: {problem}{_last_warning(cluster, namespace, name)}"
    return None


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
