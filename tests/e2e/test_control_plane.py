"""The control plane itself: the ground every other e2e test stands on."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gitops_push.kube import Cluster, Resource
from tests.e2e.conftest import DevCluster, devcluster

pytestmark = pytest.mark.e2e
SETUP = "e2e-setup"  # the field manager of what the tests set up by hand

NAMESPACES = Resource(group="", version="v1", kind="Namespace", plural="namespaces", namespaced=False)
NODES = Resource(group="", version="v1", kind="Node", plural="nodes", namespaced=False)
PODS = Resource(group="", version="v1", kind="Pod", plural="pods", namespaced=True)
CONFIG_MAPS = Resource(group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True)
DEPLOYMENTS = Resource(group="apps", version="v1", kind="Deployment", plural="deployments", namespaced=True)
JOBS = Resource(group="batch", version="v1", kind="Job", plural="jobs", namespaced=True)
FAIL_EXIT_CODE = "devcluster.gitops-push.test/fail-exit-code"  # tools/kwok/pod-fail.yaml


@pytest.fixture
def namespace(kube: Cluster) -> Iterator[str]:
    name = f"cp-{uuid.uuid4().hex[:8]}"
    kube.apply(
        NAMESPACES,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        field_manager=SETUP,
        dry_run=False,
    )
    yield name
    kube.delete(NAMESPACES, None, name)


def config_map(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"greeting": "hello"},
    }


def test_server_side_apply_creates_an_object_that_reads_back(kube: Cluster, namespace: str) -> None:
    applied = kube.apply(CONFIG_MAPS, config_map(namespace, "greeting"), field_manager=SETUP, dry_run=False)
    live = kube.get(CONFIG_MAPS, namespace, "greeting")
    assert live is not None
    assert live["data"] == {"greeting": "hello"}
    assert live["metadata"]["uid"] == applied["metadata"]["uid"]
    assert [entry["manager"] for entry in live["metadata"]["managedFields"]] == [SETUP]
    assert live["metadata"]["managedFields"][0]["operation"] == "Apply"


def test_dry_run_apply_of_a_new_object_leaves_nothing_behind(kube: Cluster, namespace: str) -> None:
    answer = kube.apply(CONFIG_MAPS, config_map(namespace, "ghost"), field_manager=SETUP, dry_run=True)
    assert answer["data"] == {"greeting": "hello"}  # the server did validate and answer the object
    assert kube.get(CONFIG_MAPS, namespace, "ghost") is None


def test_a_deployment_becomes_available_on_fake_nodes(kube: Cluster, namespace: str) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]},
            },
        },
    }
    kube.apply(DEPLOYMENTS, deployment, field_manager=SETUP, dry_run=False)
    deadline = time.monotonic() + 60
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = (kube.get(DEPLOYMENTS, namespace, "web") or {}).get("status", {})
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        if conditions.get("Available") == "True" and status.get("readyReplicas") == 2:
            break
        time.sleep(0.5)
    assert {c["type"]: c["status"] for c in status.get("conditions", [])}.get("Available") == "True", status
    pods = kube.list(PODS, label_selector="app=web")
    assert sorted(p["spec"]["nodeName"].startswith("kwok-node-") for p in pods) == [True, True]


def test_two_fake_nodes_are_ready(kube: Cluster) -> None:
    nodes = kube.list(NODES, label_selector="type=kwok")
    ready = [
        n["metadata"]["name"]
        for n in nodes
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
    ]
    assert len(ready) >= 2, ready


def test_up_again_prints_the_same_kubeconfig_and_starts_nothing(cluster: DevCluster) -> None:
    before = json.loads((cluster.state / "cluster.json").read_text())["pids"]
    again = devcluster("up", "--name", cluster.name)
    assert again.returncode == 0
    assert again.stdout.strip().splitlines()[-1] == str(cluster.kubeconfig)
    assert json.loads((cluster.state / "cluster.json").read_text())["pids"] == before


def test_status_and_env_describe_the_running_cluster(cluster: DevCluster) -> None:
    status = devcluster("status", "--name", cluster.name)
    assert status.returncode == 0
    assert "running" in status.stdout
    assert "v1.36" in status.stdout
    assert str(cluster.kubeconfig) in status.stdout
    env = devcluster("env", "--name", cluster.name)
    assert f"export KUBECONFIG={cluster.kubeconfig}" in env.stdout
    assert "export PATH=" in env.stdout


def test_the_service_range_is_as_large_as_a_real_clusters(kube: Cluster, namespace: str) -> None:
    # A /24 ran out at 254 Services (issue 16): an address far outside it must be assignable.
    services = Resource(group="", version="v1", kind="Service", plural="services", namespaced=True)
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "far", "namespace": namespace},
        "spec": {"clusterIP": "10.100.200.10", "ports": [{"port": 80}]},
    }
    applied = kube.apply(services, body, field_manager=SETUP, dry_run=False)
    assert applied["spec"]["clusterIP"] == "10.100.200.10"


def job(namespace: str, name: str, pod_annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"annotations": pod_annotations},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "task", "image": "registry.invalid/task:1"}],
                },
            },
        },
    }


def finished_jobs(kube: Cluster, namespace: str, names: list[str]) -> dict[str, str]:
    """name -> "Complete" or "Failed", once every Job has finished (a minute at most)."""
    deadline = time.monotonic() + 60
    finished: dict[str, str] = {}
    while time.monotonic() < deadline and len(finished) < len(names):
        for name in names:
            conditions = ((kube.get(JOBS, namespace, name) or {}).get("status") or {}).get("conditions") or []
            for condition in conditions:
                if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
                    finished[name] = condition["type"]
        time.sleep(0.5)
    return finished


def test_a_pod_annotated_to_fail_fails_with_its_exit_code_and_other_jobs_complete(
    kube: Cluster, namespace: str
) -> None:
    # Several annotated Jobs: kwok picks among matching stages at random by weight, so one lucky
    # draw would prove nothing; every one of them must fail.
    failing = [f"fails-{index}" for index in range(4)]
    for name in failing:
        kube.apply(JOBS, job(namespace, name, {FAIL_EXIT_CODE: "3"}), field_manager=SETUP, dry_run=False)
    kube.apply(JOBS, job(namespace, "plain", {}), field_manager=SETUP, dry_run=False)
    kube.apply(JOBS, job(namespace, "zero", {FAIL_EXIT_CODE: "0"}), field_manager=SETUP, dry_run=False)

    finished = finished_jobs(kube, namespace, [*failing, "plain", "zero"])

    assert finished == {**dict.fromkeys(failing, "Failed"), "plain": "Complete", "zero": "Complete"}
    for name in failing:
        (pod,) = kube.list(PODS, label_selector=f"job-name={name}", namespace=namespace)
        assert pod["status"]["phase"] == "Failed"
        (container,) = pod["status"]["containerStatuses"]
        assert container["state"]["terminated"]["exitCode"] == 3
        assert container["state"]["terminated"]["reason"] == "Error"
    (plain,) = kube.list(PODS, label_selector="job-name=plain", namespace=namespace)
    assert plain["status"]["phase"] == "Succeeded"
    assert plain["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
