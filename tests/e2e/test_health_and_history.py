"""Health waits, rollback on failure, rollback, promotion, history and drift, on the real cluster."""

from __future__ import annotations

import time

import pytest

from gitops_push.kube import Resource
from gitops_push.kube.client import KubeCluster
from tests.e2e.workspace import CONFIG_MAPS, DEPLOYMENTS, Workspace, config_map, namespace_manifest, unique

pytestmark = pytest.mark.e2e

JOBS = Resource(group="batch", version="v1", kind="Job", plural="jobs", namespaced=True)


def deployment(
    namespace: str, name: str, *, image: str = "web:1", extra_spec: str = "", pod_spec: str = ""
) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
{extra_spec}  template:
    metadata:
      labels: {{app: {name}}}
    spec:
{pod_spec}      containers:
        - name: {name}
          image: {image}
"""


NOWHERE = "      nodeSelector: {disktype: nowhere}\n"  # no fake node has this label


def test_a_deployment_that_becomes_available_passes_with_its_health(workspace: Workspace) -> None:
    ns = unique("healthy")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/web.yaml", deployment(ns, "web"))
    workspace.commit()

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json", "--timeout", "60s")

    assert result.exit_code == 0, result.stderr
    web = next(o for o in result.json["objects"] if o["name"] == "web")
    assert web["health"] == "Current"
    assert web["message"] == "2 of 2 replicas available"


def test_a_deployment_that_cannot_progress_fails_with_the_reason_and_moves_no_tag(
    workspace: Workspace,
) -> None:
    ns = unique("stuck")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    tags = workspace.tags()
    workspace.write(
        "k8s/web.yaml", deployment(ns, "web", extra_spec="  progressDeadlineSeconds: 3\n", pod_spec=NOWHERE)
    )
    workspace.commit("a deployment that cannot be scheduled")

    started = time.monotonic()
    result = workspace.cli("deploy", "--path", "k8s", "-o", "json", "--timeout", "90s")

    assert result.exit_code == 1
    assert time.monotonic() - started < 85  # failed fast, before the timeout
    web = next(o for o in result.json["objects"] if o["name"] == "web")
    assert web["action"] == "failed" and web["health"] == "Failed"
    assert "ProgressDeadlineExceeded" in web["message"] or "unschedulable" in web["message"]
    assert workspace.tags() == tags


def test_at_the_timeout_the_reason_names_the_pod_and_why_it_waits(workspace: Workspace) -> None:
    ns = unique("timeout")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/web.yaml", deployment(ns, "web", pod_spec=NOWHERE))
    workspace.commit()

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json", "--timeout", "5s")

    assert result.exit_code == 1
    message = next(o for o in result.json["objects"] if o["name"] == "web")["message"]
    assert "not healthy after 5 s" in message
    assert "pod web-" in message and "unschedulable" in message and "node" in message
    assert workspace.tags() == []


def test_rollback_on_failure_restores_the_previous_version_and_removes_new_objects(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("rollback")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/web.yaml", deployment(ns, "web", image="web:1"))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    tags = workspace.tags()

    workspace.write(
        "k8s/web.yaml",
        deployment(ns, "web", image="web:2", extra_spec="  progressDeadlineSeconds: 3\n", pod_spec=NOWHERE),
    )
    workspace.write("k8s/new.yaml", config_map(ns, "brand-new", {"a": "b"}))
    workspace.commit("a broken release")
    result = workspace.cli(
        "deploy", "--path", "k8s", "--rollback-on-failure", "--timeout", "90s", "-o", "json"
    )

    assert result.exit_code == 1
    assert result.json["rollback"]["ok"] is True, result.json["rollback"]
    live = kube.get(DEPLOYMENTS, ns, "web")
    assert live is not None
    pod_spec = live["spec"]["template"]["spec"]
    assert pod_spec["containers"][0]["image"] == "web:1"
    assert "nodeSelector" not in pod_spec
    assert kube.get(CONFIG_MAPS, ns, "brand-new") is None
    assert workspace.tags() == tags


def test_rollback_restores_an_earlier_tag_and_records_it(workspace: Workspace, kube: KubeCluster) -> None:
    ns = unique("back")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/cm.yaml", config_map(ns, "settings", {"version": "1"}))
    workspace.commit("version 1")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    first_tag = workspace.tags()[0]
    workspace.write("k8s/cm.yaml", config_map(ns, "settings", {"version": "2"}))
    workspace.write("k8s/extra.yaml", config_map(ns, "extra", {"added": "in 2"}))
    workspace.commit("version 2")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0

    result = workspace.cli("rollback", "--path", "k8s", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert kube.get(CONFIG_MAPS, ns, "settings")["data"] == {"version": "1"}  # type: ignore[index]
    assert kube.get(CONFIG_MAPS, ns, "extra") is None
    tag = result.json["tag"]
    assert workspace.tags()[0] == tag and len(workspace.tags()) == 3
    metadata = workspace.tag_metadata(tag)
    assert metadata["rollback"] is True and metadata["rolled_back_to"] == first_tag

    history = workspace.cli("history", "--env", workspace.env, "-o", "json")
    assert history.exit_code == 0
    entries = history.json_list()
    assert [e["subject"] for e in entries] == ["version 1", "version 2", "version 1"]
    assert [e["rollback"] for e in entries] == [True, False, False]
    assert entries[0]["rolled_back_to"] == first_tag
    assert [e["updated"] for e in entries] == [1, 1, 0] and entries[2]["created"] == 2


def test_history_lists_the_deploys_newest_first_as_text(workspace: Workspace) -> None:
    ns = unique("hist")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit("first deploy")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.write("k8s/cm.yaml", config_map(ns, "cm", {"a": "b"}))
    workspace.commit("second deploy")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0

    text = workspace.cli("history", "--env", workspace.env)

    assert text.exit_code == 0
    body = text.stdout
    assert body.index("second deploy") < body.index("first deploy")


def test_promote_carries_stagings_commit_to_production(workspace: Workspace, kube: KubeCluster) -> None:
    staging, production = unique("staging"), unique("production")
    workspace.write(
        "gitops-push.yaml",
        f"""
        environments:
          staging:
            paths: [app]
            namespace: {staging}
          production:
            paths: [app]
            namespace: {production}
        """,
    )
    workspace.write(
        "namespaces/ns.yaml", namespace_manifest(staging) + "---\n" + namespace_manifest(production)
    )
    workspace.write(
        "app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: release}\ndata: {v: '1'}\n"
    )
    tested = workspace.commit("release 1")
    assert workspace.cli("deploy", "--path", "namespaces", "--env", unique("ns")).exit_code == 0
    refused = workspace.cli(
        "promote", "--from", "staging", "--to", "production", "--kubeconfig", str(workspace.kubeconfig)
    )
    assert refused.exit_code == 2 and "no deploy to promote" in refused.stderr
    assert workspace.cli("deploy", "--env", "staging").exit_code == 0
    workspace.write(
        "app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: release}\ndata: {v: '2'}\n"
    )
    workspace.commit("release 2, not tested in staging yet")

    result = workspace.cli(
        "promote",
        "--from",
        "staging",
        "--to",
        "production",
        "--kubeconfig",
        str(workspace.kubeconfig),
        "-o",
        "json",
    )

    assert result.exit_code == 0, result.stderr
    assert result.json["to"] == tested
    assert kube.get(CONFIG_MAPS, production, "release")["data"] == {"v": "1"}  # type: ignore[index]
    metadata = workspace.tag_metadata(result.json["tag"])
    assert result.json["tag"].startswith("deployed/production/")
    assert metadata["promoted_from"]["environment"] == "staging"
    assert metadata["promoted_from"]["commit"] == tested


def test_a_hand_edit_is_reported_by_status_and_repaired_by_deploy_all(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("drift")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/cm.yaml", config_map(ns, "settings", {"color": "blue"}))
    workspace.write("k8s/other.yaml", config_map(ns, "other", {"x": "y"}))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    clean = workspace.cli("status", "--path", "k8s", "--exit-code", "-o", "json")
    assert clean.exit_code == 0, clean.stderr

    kube.request(
        "PATCH",
        CONFIG_MAPS.path(ns, "settings"),
        query=[("fieldManager", "kubectl-edit")],
        body={"data": {"color": "red"}},
        content_type="application/merge-patch+json",
    )
    kube.delete(CONFIG_MAPS, ns, "other")
    drift = workspace.cli("status", "--path", "k8s", "--exit-code", "-o", "json")

    assert drift.exit_code == 6
    assert drift.actions() == {
        f"ConfigMap {ns}/settings": "drifted",
        f"ConfigMap {ns}/other": "missing",
        f"Namespace {ns}": "unchanged",
    }
    text = workspace.cli("drift", "--path", "k8s")
    assert "drifted" in text.stdout and "missing" in text.stdout and "-  color: red" in text.stdout

    repaired = workspace.cli("deploy", "--path", "k8s", "--all")
    assert repaired.exit_code == 0, repaired.stderr
    assert kube.get(CONFIG_MAPS, ns, "settings")["data"] == {"color": "blue"}  # type: ignore[index]
    assert kube.get(CONFIG_MAPS, ns, "other") is not None
    assert workspace.cli("status", "--path", "k8s", "--exit-code").exit_code == 0


def test_a_job_that_fails_is_reported_as_failed(workspace: Workspace, kube: KubeCluster) -> None:
    ns = unique("job")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write(
        "k8s/job.yaml",
        f"""
        apiVersion: batch/v1
        kind: Job
        metadata: {{name: migrate, namespace: {ns}}}
        spec:
          activeDeadlineSeconds: 2
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              nodeSelector: {{disktype: nowhere}}
              containers: [{{name: migrate, image: migrate:1}}]
        """,
    )
    workspace.commit()

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json", "--timeout", "60s")

    assert result.exit_code == 1
    job = next(o for o in result.json["objects"] if o["kind"] == "Job")
    assert job["health"] == "Failed"
    assert "DeadlineExceeded" in job["message"]
    assert kube.get(JOBS, ns, "migrate") is not None
