"""waiting: a Job that its ttlSecondsAfterFinished removed once finished counts as healthy; a failed pod
of a Job is retried by its controller, so only the Job's Failed condition fails the wait."""

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


class RetryingJob:
    """A Job with one failed pod whose controller makes a second pod; the Job itself is marked Failed
    (its backoffLimit used up) from the `fails_at`-th read on, or never."""

    def __init__(self, fails_at: int | None) -> None:
        self.reads, self.fails_at = 0, fails_at

    def resource(self, api_version: str, kind: str) -> Resource:
        return JOBS

    def get(self, resource: Resource, namespace: str | None, name: str) -> Mapping[str, Any] | None:
        self.reads += 1
        failed = self.fails_at is not None and self.reads >= self.fails_at
        conditions = (
            [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}] if failed else []
        )
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "certs", "namespace": "ns"},
            "spec": {"selector": {"matchLabels": {"job-name": "certs"}}, "backoffLimit": 1},
            "status": {"failed": 1, "active": 0 if failed else 1, "conditions": conditions},
        }

    def list(self, resource: Resource, **selectors: str) -> list[dict[str, Any]]:
        if resource.kind != "Pod":
            return []  # no Warning events
        exited = {"terminated": {"exitCode": 3, "reason": "Error"}}
        return [
            {
                "metadata": {"name": "certs-1", "creationTimestamp": "2026-01-01T00:00:00Z"},
                "status": {"phase": "Failed", "containerStatuses": [{"name": "job", "state": exited}]},
            },
            {
                "metadata": {"name": "certs-2", "creationTimestamp": "2026-01-01T00:00:10Z"},
                "status": {"phase": "Running"},
            },
        ]


def wait_on(cluster: RetryingJob) -> dict[ObjectRef, str]:
    clock = iter(float(second) for second in range(100))
    return waiting.wait_healthy(
        cluster,  # type: ignore[arg-type]
        [job({"template": {}})],
        timeout=5,
        sink=Sink(),
        clock=lambda: next(clock),
        sleep=lambda seconds: None,
    )


def test_a_failed_pod_of_a_job_that_will_retry_does_not_fail_the_wait() -> None:
    cluster = RetryingJob(fails_at=None)
    failures = wait_on(cluster)
    assert cluster.reads > 2  # it kept waiting past the failed pod, to the timeout
    assert list(failures.values()) == [
        "not healthy after 5 s, still waiting for: 0 succeeded, 1 active; "
        "pod certs-1: pod failed: container job exited with code 3 (Error)"
    ]


def test_a_failed_job_names_its_failed_pod() -> None:
    cluster = RetryingJob(fails_at=3)
    failures = wait_on(cluster)
    assert cluster.reads == 3
    assert list(failures.values()) == [
        "BackoffLimitExceeded: the job failed; pod certs-1: pod failed: container job exited with code 3 (Error)"
    ]
