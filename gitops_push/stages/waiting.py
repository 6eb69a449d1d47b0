"""Wait until applied objects are healthy: polling around the pure `kube.health.compute()`.

Called by the pipeline after the Namespace and CRD waves, so that objects of later waves find their
namespace Active and their kind Established. Returns the refs that did not become Current in time,
each with the last message seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from gitops_push.kube import Cluster, health
from gitops_push.model import Manifest, ObjectRef

POLL_SECONDS = 0.5


def wait_current(
    cluster: Cluster,
    manifests: Sequence[Manifest],
    *,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[ObjectRef, str]:
    """Poll until every object is Current; returns {ref: last message} for those that are not."""
    pending = {m.ref: m for m in manifests}
    last: dict[ObjectRef, str] = {}
    deadline = clock() + timeout
    while pending:
        for ref, manifest in list(pending.items()):
            resource = cluster.resource(manifest.api_version, ref.kind)
            live = cluster.get(resource, ref.namespace, ref.name) if resource else None
            state = health.compute(live)
            if state.status is health.Status.CURRENT:
                del pending[ref]
            elif state.status is health.Status.FAILED:
                return {ref: state.message}
            else:
                last[ref] = state.message
        if not pending or clock() >= deadline:
            break
        sleep(POLL_SECONDS)
    return {ref: f"not ready after {timeout:.0f} s: {last.get(ref, 'no status')}" for ref in pending}
