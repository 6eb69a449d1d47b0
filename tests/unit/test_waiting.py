"""waiting: a Job that its ttlSecondsAfterFinished removed once finished counts as healthy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_push.events import Event
from gitops_push.kube import Resource
from gitops_push.model import Manifest, ObjectRef, SourceLocation
from gitops_push.stages import waiting

JOBS = Resource(group="batch", version="v1", kind="Job", plural="jobs", namespaced=True)


class Gone:
    """The seam of `kube.Cluster` that waiting uses, where every object is already gone."""

    def resource(self, api_version: str, kind: str) -> Resource:
        return JOBS

    def get(self, resource: Resource, namespace: str | None, name: str) -> Mapping[str, Any] | None:
        return None


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)


def job(spec: dict[str, Any]) -> Manifest:
    ref = ObjectRef("batch", "Job", "ns", "certs")
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "certs"}, "spec": spec}
    return Manifest(ref=ref, api_version="batch/v1", body=body, source=SourceLocation("k8s/job.yaml", 1))


def wait(manifest: Manifest) -> dict[ObjectRef, str]:
    clock = iter(float(second) for second in range(100))
    return waiting.wait_healthy(
        Gone(),  # type: ignore[arg-type]
        [manifest],
        timeout=3,
        sink=Sink(),
        clock=lambda: next(clock),
        sleep=lambda seconds: None,
    )


def test_a_job_removed_by_its_ttl_after_finishing_is_healthy() -> None:
    assert wait(job({"ttlSecondsAfterFinished": 0, "template": {}})) == {}


def test_a_job_without_a_ttl_that_is_gone_is_not_healthy() -> None:
    assert wait(job({"template": {}})) == {
        ObjectRef("batch", "Job", "ns", "certs"): "not healthy after 3 s, still waiting for: not found"
    }
