"""kube.health.compute: the kstatus rules, object by object (pure: no cluster needed)."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_push.kube import health
from gitops_push.kube.health import Status


def deployment(desired: int = 2, generation: int = 1, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"generation": generation},
        "spec": {"replicas": desired},
        "status": {"observedGeneration": 1, **status},
    }


@pytest.mark.parametrize(
    ("obj", "status", "message"),
    [
        (None, Status.NOT_FOUND, "not found"),
        (
            deployment(updatedReplicas=2, replicas=2, readyReplicas=2, availableReplicas=2),
            Status.CURRENT,
            "2 of 2 replicas available",
        ),
        (
            deployment(generation=2, updatedReplicas=2, replicas=2, readyReplicas=2, availableReplicas=2),
            Status.IN_PROGRESS,
            "waiting for the controller to observe generation 2",
        ),
        (deployment(updatedReplicas=1, replicas=2), Status.IN_PROGRESS, "1 of 2 replicas updated"),
        (deployment(updatedReplicas=2, replicas=3), Status.IN_PROGRESS, "1 old replicas pending termination"),
        (
            deployment(updatedReplicas=2, replicas=2, readyReplicas=1),
            Status.IN_PROGRESS,
            "1 of 2 replicas ready",
        ),
        (
            deployment(
                conditions=[
                    {
                        "type": "Progressing",
                        "status": "False",
                        "reason": "ProgressDeadlineExceeded",
                        "message": "rs web-1 has timed out progressing",
                    }
                ]
            ),
            Status.FAILED,
            "ProgressDeadlineExceeded: rs web-1 has timed out progressing",
        ),
        (
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "status": {"conditions": [{"type": "Complete", "status": "True"}]},
            },
            Status.CURRENT,
            "complete",
        ),
        (
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "status": {
                    "conditions": [
                        {
                            "type": "Failed",
                            "status": "True",
                            "reason": "BackoffLimitExceeded",
                            "message": "Job has reached the specified backoff limit",
                        }
                    ]
                },
            },
            Status.FAILED,
            "BackoffLimitExceeded: Job has reached the specified backoff limit",
        ),
        (
            {"apiVersion": "batch/v1", "kind": "Job", "spec": {}, "status": {"active": 1}},
            Status.IN_PROGRESS,
            "0 succeeded, 1 active",
        ),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "spec": {"replicas": 2},
                "status": {
                    "readyReplicas": 2,
                    "updatedReplicas": 2,
                    "currentRevision": "a",
                    "updateRevision": "b",
                },
            },
            Status.IN_PROGRESS,
            "rolling out revision b",
        ),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "spec": {"replicas": 2},
                "status": {
                    "readyReplicas": 2,
                    "updatedReplicas": 2,
                    "currentRevision": "b",
                    "updateRevision": "b",
                },
            },
            Status.CURRENT,
            "2 of 2 replicas ready",
        ),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "status": {"desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2},
            },
            Status.IN_PROGRESS,
            "2 of 3 pods available",
        ),
        (
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "status": {"conditions": [{"type": "Established", "status": "True"}]},
            },
            Status.CURRENT,
            "established",
        ),
        (
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "status": {
                    "conditions": [{"type": "NamesAccepted", "status": "False", "message": "plural taken"}]
                },
            },
            Status.FAILED,
            "plural taken",
        ),
        (
            {"apiVersion": "v1", "kind": "Namespace", "status": {"phase": "Terminating"}},
            Status.IN_PROGRESS,
            "phase Terminating",
        ),
        (
            {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}},
            Status.CURRENT,
            "bound",
        ),
        (
            {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}},
            Status.IN_PROGRESS,
            "phase Pending",
        ),
        (
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "status": {"conditions": [{"type": "Ready", "status": "False", "message": "warming up"}]},
            },
            Status.IN_PROGRESS,
            "warming up",
        ),
        (
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            },
            Status.CURRENT,
            "ready",
        ),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, Status.CURRENT, "exists"),
        (
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"},
            },
            Status.IN_PROGRESS,
            "terminating",
        ),
    ],
)
def test_compute(obj: dict[str, Any] | None, status: Status, message: str) -> None:
    assert health.compute(obj) == health.Health(status, message)


def test_rules_are_keyed_by_group_and_kind() -> None:
    # A custom kind named Job is not a batch Job: without a Ready condition it is healthy once it exists.
    custom = {"apiVersion": "example.com/v1", "kind": "Job", "status": {"active": 1}}
    batch = {**custom, "apiVersion": "batch/v1"}
    assert health.compute(custom) == health.Health(Status.CURRENT, "exists")
    assert health.compute(batch).status is Status.IN_PROGRESS


def test_a_load_balancer_service_is_current_once_it_exists() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"}, "status": {}}
    assert health.compute(service) == health.Health(Status.CURRENT, "exists")


@pytest.mark.parametrize("reason", ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull"])
def test_pods_that_will_not_recover_are_named_with_the_reason(reason: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {"name": "web", "state": {"waiting": {"reason": reason, "message": "back-off 10s"}}}
            ],
        },
    }
    assert health.pod_problem(pod) == f"container web: {reason}: back-off 10s"
    assert health.compute(pod).status is Status.FAILED


def test_a_failed_pod_names_the_container_that_exited_non_zero_and_its_code() -> None:
    # A kubelet gives a pod whose process failed no reason of its own: the container status has it.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "status": {
            "phase": "Failed",
            "containerStatuses": [
                {"name": "sidecar", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "job", "state": {"terminated": {"exitCode": 3, "reason": "Error"}}},
            ],
        },
    }
    assert health.pod_problem(pod) == "pod failed: container job exited with code 3 (Error)"
    evicted = {"status": {"phase": "Failed", "reason": "Evicted", "containerStatuses": []}}
    assert health.pod_problem(evicted) == "pod failed: Evicted"
    assert health.pod_problem({"status": {"phase": "Failed"}}) == "pod failed: Failed"


def test_an_unschedulable_pod_says_why() -> None:
    pod = {
        "status": {
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/2 nodes are available",
                }
            ]
        }
    }
    assert health.unschedulable(pod) == "unschedulable: 0/2 nodes are available"


def replica_set(owner: str, revision: str, template_hash: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "annotations": {health.DEPLOYMENT_REVISION: revision},
            "labels": {"pod-template-hash": template_hash},
            "ownerReferences": [{"uid": owner}],
        },
    }


def test_a_deployments_current_pods_are_those_of_its_owned_replica_set_at_its_revision() -> None:
    web = deployment(generation=2, observedGeneration=2)
    web["metadata"] |= {"uid": "u1", "annotations": {health.DEPLOYMENT_REVISION: "2"}}
    sets = [
        replica_set("u1", "1", "old"),
        replica_set("other", "2", "foreign"),
        replica_set("u1", "2", "new"),
    ]
    assert health.revision_labels(web, sets) == {"pod-template-hash": "new"}
    assert health.revision_labels(web, sets[:2]) is None  # its ReplicaSet is not there yet


def test_no_revision_is_trusted_before_the_controller_observed_the_generation() -> None:
    web = deployment(generation=3)  # observedGeneration 1: it still reports the previous revision
    web["metadata"] |= {"uid": "u1", "annotations": {health.DEPLOYMENT_REVISION: "2"}}
    assert health.revision_labels(web, [replica_set("u1", "2", "new")]) is None


def test_stateful_sets_daemon_sets_and_jobs_name_their_current_pods() -> None:
    stateful = {"apiVersion": "apps/v1", "kind": "StatefulSet", "status": {"updateRevision": "db-7f9"}}
    daemon = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"annotations": {health.DAEMONSET_GENERATION: "4"}},
    }
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"generation": 1}, "status": {}}
    assert health.revision_labels(stateful) == {"controller-revision-hash": "db-7f9"}
    assert health.revision_labels(daemon) == {"pod-template-generation": "4"}
    assert health.revision_labels(job) == {}
    assert health.revision_labels({"apiVersion": "example.com/v1", "kind": "Job"}) is None


def test_a_pod_is_of_a_revision_when_it_carries_its_labels() -> None:
    pod = {"metadata": {"labels": {"app": "web", "pod-template-hash": "new"}}}
    assert health.is_of_revision(pod, {"pod-template-hash": "new"})
    assert not health.is_of_revision(pod, {"pod-template-hash": "old"})
    assert health.is_of_revision(pod, {})
