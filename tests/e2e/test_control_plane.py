"""The control plane itself: the ground every other e2e test stands on."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tests.e2e.conftest import DevCluster, devcluster

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(cluster: DevCluster) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    with api_client:
        yield api_client


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    name = f"cp-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    yield name
    client.CoreV1Api(api).delete_namespace(name)


def server_side_apply(api: client.ApiClient, path: str, body: dict[str, Any], dry_run: bool = False) -> Any:
    query = [("fieldManager", "gitops-push-tests")] + ([("dryRun", "All")] if dry_run else [])
    response = api.call_api(
        path, "PATCH", query_params=query, body=json.dumps(body),
        header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
        auth_settings=["BearerToken"], _preload_content=False,
    )
    return json.loads(response[0].data)


def config_map(namespace: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"greeting": "hello"}}


def test_server_side_apply_creates_an_object_that_reads_back(api: client.ApiClient, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/greeting"
    applied = server_side_apply(api, path, config_map(namespace, "greeting"))
    live = client.CoreV1Api(api).read_namespaced_config_map("greeting", namespace)
    assert live.data == {"greeting": "hello"}
    assert live.metadata.uid == applied["metadata"]["uid"]
    managers = [entry.manager for entry in live.metadata.managed_fields]
    assert managers == ["gitops-push-tests"]


def test_dry_run_apply_of_a_new_object_leaves_nothing_behind(api: client.ApiClient, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/ghost"
    answer = server_side_apply(api, path, config_map(namespace, "ghost"), dry_run=True)
    assert answer["data"] == {"greeting": "hello"}  # the server did validate and answer the object
    with pytest.raises(ApiException) as missing:
        client.CoreV1Api(api).read_namespaced_config_map("ghost", namespace)
    assert missing.value.status == 404


def test_a_deployment_becomes_available_on_fake_nodes(api: client.ApiClient, namespace: str) -> None:
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]}},
        },
    }
    server_side_apply(api, f"/apis/apps/v1/namespaces/{namespace}/deployments/web", deployment)
    apps = client.AppsV1Api(api)
    deadline = time.monotonic() + 60
    conditions: dict[str, str] = {}
    while time.monotonic() < deadline:
        status = apps.read_namespaced_deployment_status("web", namespace).status
        conditions = {c.type: c.status for c in status.conditions or []}
        if conditions.get("Available") == "True" and status.ready_replicas == 2:
            break
        time.sleep(0.5)
    assert conditions.get("Available") == "True", conditions
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector="app=web").items
    assert sorted(p.spec.node_name.startswith("kwok-node-") for p in pods) == [True, True]


def test_two_fake_nodes_are_ready(api: client.ApiClient) -> None:
    nodes = client.CoreV1Api(api).list_node().items
    ready = [n.metadata.name for n in nodes if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)]
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
