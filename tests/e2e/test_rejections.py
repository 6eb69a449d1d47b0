"""What the API server refuses: admission policies, quotas, immutable fields. Reported per object with
the server's reason; nothing applied; immutable fields replaced only with --replace-immutable."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from gitops_push.kube import Cluster, KubeApiError, Resource
from tests.e2e.workspace import (
    CONFIG_MAPS,
    SERVICES,
    Workspace,
    admission_policy,
    config_map,
    namespace_manifest,
    remove_admission_policy,
    unique,
)

pytestmark = pytest.mark.e2e

JOBS = Resource("batch", "v1", "Job", "jobs", True)
DEPLOYMENTS = Resource("apps", "v1", "Deployment", "deployments", True)


@pytest.fixture
def policy(kube: Cluster) -> Iterator[str]:
    """A ValidatingAdmissionPolicy refusing ConfigMaps labelled forbidden=true, in namespaces labelled for it."""
    name = unique("no-forbidden")
    admission_policy(
        kube,
        name,
        plural="configmaps",
        validation={
            "expression": "!has(object.metadata.labels) || !('forbidden' in object.metadata.labels)",
            "message": "ConfigMaps labelled forbidden are not allowed here",
        },
        bind={"matchResources": {"namespaceSelector": {"matchLabels": {"policy-test": name}}}},
    )
    time.sleep(2)  # the policy is loaded asynchronously by the API server
    yield name
    remove_admission_policy(kube, name)


def labelled_namespace(name: str, labels: dict[str, str]) -> str:
    lines = "".join(f"\n    {k}: {v}" for k, v in labels.items())
    return f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:{lines}\n"


def test_an_admission_policy_rejection_is_reported_with_its_reason(
    workspace: Workspace, kube: Cluster, policy: str
) -> None:
    ns = unique("vap")
    workspace.write("k8s/ns.yaml", labelled_namespace(ns, {"policy-test": policy}))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.write("k8s/ok.yaml", config_map(ns, "ok", {"a": "b"}))
    workspace.write(
        "k8s/refused.yaml",
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: refused\n  namespace: {ns}\n  labels: {{forbidden: 'true'}}\n",
    )
    workspace.commit()

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 4
    error = next(e for e in result.json["errors"] if e["reference"] == "dry-run-rejected")
    assert error["file"] == "k8s/refused.yaml" and error["object"] == f"ConfigMap {ns}/refused"
    assert "ConfigMaps labelled forbidden are not allowed here" in error["message"]
    assert kube.get(CONFIG_MAPS, ns, "ok") is None


def test_an_exceeded_quota_is_rejected_at_the_dry_run(workspace: Workspace, kube: Cluster) -> None:
    ns = unique("quota")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    # kube-root-ca.crt already uses the one ConfigMap this quota allows.
    workspace.write(
        "k8s/quota.yaml",
        f"apiVersion: v1\nkind: ResourceQuota\nmetadata: {{name: one, namespace: {ns}}}\nspec: {{hard: {{configmaps: '1'}}}}\n",
    )
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    time.sleep(2)  # the quota controller records the usage first
    workspace.write("k8s/cm.yaml", config_map(ns, "one-too-many", {"a": "b"}))
    workspace.commit("a config map over the quota")

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 4
    error = next(e for e in result.json["errors"] if e["reference"] == "dry-run-rejected")
    assert error["object"] == f"ConfigMap {ns}/one-too-many" and "exceeded quota" in error["message"]
    assert kube.get(CONFIG_MAPS, ns, "one-too-many") is None


def test_a_quota_that_only_the_whole_change_exceeds_fails_the_apply_per_object(
    workspace: Workspace, kube: Cluster
) -> None:
    """A dry-run sees each object alone, so only the real apply meets an aggregate quota: exit 1, no tag,
    the refused objects named with the server's reason."""
    ns = unique("quota2")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write(
        "k8s/quota.yaml",
        f"apiVersion: v1\nkind: ResourceQuota\nmetadata: {{name: two, namespace: {ns}}}\nspec: {{hard: {{configmaps: '2'}}}}\n",
    )
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    tags = workspace.tags()
    time.sleep(2)
    for number in range(3):
        workspace.write(f"k8s/cm-{number}.yaml", config_map(ns, f"cm-{number}", {"n": str(number)}))
    workspace.commit("three config maps, room for one")

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json", "--concurrency", "1")

    assert result.exit_code == 1
    failed = [e for e in result.json["errors"] if e["reference"] == "apply-failed" and e["object"]]
    assert len(failed) == 2 and all("exceeded quota" in e["message"] for e in failed)
    assert workspace.tags() == tags


def job(ns: str, image: str) -> str:
    return f"""apiVersion: batch/v1
kind: Job
metadata: {{name: migrate, namespace: {ns}}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: migrate, image: {image}}}]
"""


def test_immutable_fields_are_explained_and_replaced_only_when_asked(
    workspace: Workspace, kube: Cluster
) -> None:
    ns = unique("immutable")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/job.yaml", job(ns, "migrate:1"))
    workspace.write(
        "k8s/svc.yaml",
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: {ns}}}\nspec:\n  clusterIP: 10.96.0.200\n  ports: [{{port: 80}}]\n",
    )
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s", "--no-wait").exit_code == 0
    uid = kube.get(JOBS, ns, "migrate")["metadata"]["uid"]  # type: ignore[index]
    workspace.write("k8s/job.yaml", job(ns, "migrate:2"))
    workspace.write(
        "k8s/svc.yaml",
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: {ns}}}\nspec:\n  clusterIP: 10.96.0.201\n  ports: [{{port: 80}}]\n",
    )
    workspace.commit("change immutable fields")

    refused = workspace.cli("deploy", "--path", "k8s", "-o", "json", "--no-wait")
    assert refused.exit_code == 4
    messages = {
        e["object"]: e["message"] for e in refused.json["errors"] if e["reference"] == "dry-run-rejected"
    }
    assert (
        "immutable" in messages[f"Job.batch {ns}/migrate"]
        and "--replace-immutable" in messages[f"Job.batch {ns}/migrate"]
    )
    assert "may not change once set" in messages[f"Service {ns}/web"]
    assert "--replace-immutable" in messages[f"Service {ns}/web"]

    replaced = workspace.cli("deploy", "--path", "k8s", "-o", "json", "--no-wait", "--replace-immutable")
    assert replaced.exit_code == 0, replaced.stderr
    live = kube.get(JOBS, ns, "migrate")
    assert live is not None and live["metadata"]["uid"] != uid
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "migrate:2"
    assert kube.get(SERVICES, ns, "web")["spec"]["clusterIP"] == "10.96.0.201"  # type: ignore[index]


def test_a_changed_deployment_selector_is_immutable(workspace: Workspace, kube: Cluster) -> None:
    ns = unique("selector")
    body = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: {app}}}}}
  template:
    metadata: {{labels: {{app: {app}}}}}
    spec: {{containers: [{{name: web, image: web:1}}]}}
"""
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/web.yaml", body.format(ns=ns, app="one"))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.write("k8s/web.yaml", body.format(ns=ns, app="two"))
    workspace.commit()

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 4
    error = next(e for e in result.json["errors"] if e["reference"] == "dry-run-rejected")
    assert "immutable" in error["message"] and "selector" in error["message"]
    assert kube.get(DEPLOYMENTS, ns, "web")["spec"]["selector"] == {"matchLabels": {"app": "one"}}  # type: ignore[index]


CRDS = Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False)


def widget_crd(group: str) -> dict[str, object]:
    size = {"type": "object", "properties": {"size": {"type": "integer"}}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": size}}},
                }
            ],
        },
    }


def test_applies_that_skip_the_field_check_still_refuse_an_unknown_field(kube: Cluster) -> None:
    """The kube layer asks the server for no field check (fieldValidation=Ignore). With client-side
    validation bypassed, an unknown field of a custom resource is still refused, by the dry-run and
    the apply alike (server-side apply cannot type it), and a valid body persists what the dry-run
    answered."""
    group = f"{unique('fields')}.example.com"
    kube.apply(CRDS, widget_crd(group), field_manager="e2e-setup", dry_run=False)
    widgets = Resource(group, "v1", "Widget", "widgets", True)
    metadata = {"name": "w", "namespace": "default"}
    valid = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": metadata, "spec": {"size": 3}}
    unknown = {**valid, "spec": {"size": 3, "colour": "red"}}
    try:
        deadline = time.monotonic() + 30
        while True:  # until the new kind is served
            try:
                answer = kube.apply(widgets, valid, field_manager="e2e-setup", dry_run=True)
                break
            except KubeApiError as exc:
                if exc.status != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for dry_run in (True, False):
            with pytest.raises(KubeApiError, match="colour"):
                kube.apply(widgets, unknown, field_manager="e2e-setup", dry_run=dry_run)
        assert kube.get(widgets, "default", "w") is None

        kube.apply(widgets, valid, field_manager="e2e-setup", dry_run=False)
        applied = kube.get(widgets, "default", "w")
        assert applied is not None and applied["spec"] == answer["spec"] == {"size": 3}
    finally:
        kube.delete(CRDS, None, f"widgets.{group}")
