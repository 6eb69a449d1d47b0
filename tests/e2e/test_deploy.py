"""plan and deploy against the real API server, with real Git repositories: one test per rule."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitops_push.kube import Resource
from gitops_push.kube.client import KubeCluster
from tests.conftest import FIXTURES
from tests.e2e.conftest import DevCluster, devcluster
from tests.e2e.workspace import (
    CONFIG_MAPS,
    DEPLOYMENTS,
    NAMESPACES,
    SECRETS,
    SERVICES,
    Workspace,
    bad_deployment,
    config_map,
    edit_by_hand,
    namespace_manifest,
    unique,
)

pytestmark = pytest.mark.e2e


def test_microservices_demo_deploys_in_one_go(workspace: Workspace, kube: KubeCluster) -> None:
    ns = unique("shop")
    workspace.copy(FIXTURES / "microservices-demo", "apps/shop")
    workspace.write("apps/namespace.yaml", namespace_manifest(ns))
    head = workspace.commit("the whole shop")

    result = workspace.cli("deploy", "--path", "apps", "--namespace", ns, "-o", "json")

    assert result.exit_code == 0, result.stderr
    document = result.json
    assert document["result"] == "deployed" and document["to"] == head
    created = [o for o in document["objects"] if o["action"] == "created"]
    assert len(created) == len(document["objects"]) > 20
    assert any("kustomization.yaml" in note and "skipped" in note for note in document["notes"])
    for obj in document["objects"]:
        if obj["kind"] == "Deployment":
            assert kube.get(DEPLOYMENTS, ns, obj["name"]) is not None, obj
    assert kube.get(SERVICES, ns, "frontend-external") is not None
    assert workspace.tags() == [document["tag"]]


def test_one_changed_document_in_a_multi_document_file_applies_only_that_object(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("multi")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    documents = [config_map(ns, f"cm-{i}", {"value": str(i)}) for i in range(3)]
    workspace.write("k8s/config.yaml", "---\n".join(documents))
    workspace.commit("three config maps")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    versions = {i: kube.get(CONFIG_MAPS, ns, f"cm-{i}")["metadata"]["resourceVersion"] for i in range(3)}  # type: ignore[index]

    documents[1] = config_map(ns, "cm-1", {"value": "changed"})
    workspace.write("k8s/config.yaml", "---\n".join(documents))
    workspace.commit("change the second")
    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert result.actions() == {
        f"ConfigMap {ns}/cm-0": "unchanged",
        f"ConfigMap {ns}/cm-1": "configured",
        f"ConfigMap {ns}/cm-2": "unchanged",
    }
    after = {i: kube.get(CONFIG_MAPS, ns, f"cm-{i}") for i in range(3)}
    assert after[1]["data"] == {"value": "changed"}  # type: ignore[index]
    assert after[0]["metadata"]["resourceVersion"] == versions[0]  # type: ignore[index]
    assert after[2]["metadata"]["resourceVersion"] == versions[2]  # type: ignore[index]


def test_a_renamed_reformatted_file_applies_nothing(workspace: Workspace, kube: KubeCluster) -> None:
    ns = unique("rename")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/settings.yaml", config_map(ns, "settings", {"color": "blue"}))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    version = kube.get(CONFIG_MAPS, ns, "settings")["metadata"]["resourceVersion"]  # type: ignore[index]

    workspace.git("mv", "k8s/settings.yaml", "k8s/renamed.yml")
    workspace.write(
        "k8s/renamed.yml",
        f"""
        # moved and re-commented
        kind: ConfigMap
        apiVersion: v1
        data: {{color: blue}}
        metadata: {{namespace: {ns}, name: settings}}
        """,
    )
    workspace.commit("rename and reformat")
    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert result.actions() == {f"ConfigMap {ns}/settings": "unchanged"}
    assert result.json["counts"]["configured"] == 0
    assert kube.get(CONFIG_MAPS, ns, "settings")["metadata"]["resourceVersion"] == version  # type: ignore[index]


def test_a_deleted_object_is_pruned_but_one_without_our_label_is_not(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("prune")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/a.yaml", config_map(ns, "ours", {"k": "v"}))
    workspace.write("k8s/b.yaml", config_map(ns, "adopted", {"k": "v"}))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    # Someone else takes "adopted" over: our membership label is removed by another client.
    kube.request(
        "PATCH",
        CONFIG_MAPS.path(ns, "adopted"),
        body={"metadata": {"labels": {"applyset.kubernetes.io/part-of": None}}},
        content_type="application/merge-patch+json",
    )

    workspace.git("rm", "-q", "k8s/a.yaml", "k8s/b.yaml")
    workspace.commit("remove both")
    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert result.actions() == {f"ConfigMap {ns}/ours": "pruned"}
    assert kube.get(CONFIG_MAPS, ns, "ours") is None
    assert kube.get(CONFIG_MAPS, ns, "adopted") is not None
    assert any("adopted" in note and "not labelled as a member" in note for note in result.json["notes"])


def test_an_invalid_manifest_applies_nothing_and_moves_no_tag(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("invalid")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    tags = workspace.tags()

    workspace.write("k8s/good.yaml", config_map(ns, "good", {"k": "v"}))
    workspace.write("k8s/bad.yaml", bad_deployment(ns))
    workspace.commit("one good, one bad")
    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 3
    errors = result.json["errors"]
    finding = next(e for e in errors if e["field"] and "replicaz" in e["field"])
    assert finding["file"] == "k8s/bad.yaml" and finding["line"] == 7
    assert kube.get(CONFIG_MAPS, ns, "good") is None
    assert workspace.tags() == tags


def test_a_dry_run_rejection_applies_nothing(workspace: Workspace, kube: KubeCluster) -> None:
    ns = unique("reject")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    tags = workspace.tags()

    workspace.write("k8s/good.yaml", config_map(ns, "good", {"k": "v"}))
    # Valid against the schema, refused by the server: the selector does not match the pod labels.
    workspace.write(
        "k8s/mismatch.yaml",
        f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: mismatch, namespace: {ns}}}
        spec:
          selector: {{matchLabels: {{app: one}}}}
          template:
            metadata: {{labels: {{app: two}}}}
            spec: {{containers: [{{name: c, image: c:1}}]}}
        """,
    )
    workspace.commit("a deployment the server refuses")
    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 4
    rejection = next(e for e in result.json["errors"] if e["reference"] == "dry-run-rejected")
    # The server names spec.template.metadata.labels: the line of that field.
    assert rejection["file"] == "k8s/mismatch.yaml" and rejection["line"] == 7
    assert "selector" in rejection["message"]
    assert kube.get(CONFIG_MAPS, ns, "good") is None
    assert kube.get(DEPLOYMENTS, ns, "mismatch") is None
    assert workspace.tags() == tags


CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: {plural}, singular: {singular}, kind: {kind}, listKind: {kind}List}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {{type: integer}}
"""


def test_a_crd_and_its_custom_resources_in_one_change(workspace: Workspace, kube: KubeCluster) -> None:
    ns, suffix = unique("crd"), unique("g")
    group, kind = f"{suffix}.example.test", "Widget"
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/crd.yaml", CRD.format(group=group, kind=kind, plural="widgets", singular="widget"))
    workspace.write(
        "k8s/widget.yaml",
        f"apiVersion: {group}/v1\nkind: {kind}\nmetadata: {{name: small, namespace: {ns}}}\nspec: {{size: 3}}\n",
    )
    workspace.commit("a CRD and a widget")

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert result.actions()[f"Widget {ns}/small"] == "created"
    widgets = Resource(group=group, version="v1", kind=kind, plural="widgets", namespaced=True)
    assert kube.get(widgets, ns, "small")["spec"] == {"size": 3}  # type: ignore[index]


def test_a_custom_resource_that_breaks_its_new_crd_schema_is_a_validation_error(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns, suffix = unique("crdbad"), unique("g")
    group = f"{suffix}.example.test"
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write(
        "k8s/crd.yaml", CRD.format(group=group, kind="Gadget", plural="gadgets", singular="gadget")
    )
    workspace.write(
        "k8s/gadget.yaml",
        f"apiVersion: {group}/v1\nkind: Gadget\nmetadata: {{name: g, namespace: {ns}}}\nspec: {{size: big}}\n",
    )
    workspace.commit()

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 3, result.stdout
    assert any(e["field"] == "spec.size" for e in result.json["errors"])
    assert kube.get(NAMESPACES, None, ns) is None


def test_a_new_namespace_and_its_objects_in_one_change(workspace: Workspace, kube: KubeCluster) -> None:
    ns = unique("newns")
    workspace.write("k8s/all.yaml", namespace_manifest(ns) + "---\n" + config_map(ns, "inside", {"a": "b"}))
    workspace.commit()

    plan = workspace.cli("plan", "--path", "k8s", "-o", "json")
    assert plan.exit_code == 0, plan.stderr
    assert plan.actions() == {f"Namespace {ns}": "created", f"ConfigMap {ns}/inside": "created"}
    assert kube.get(NAMESPACES, None, ns) is None  # plan writes nothing

    result = workspace.cli("deploy", "--path", "k8s")
    assert result.exit_code == 0, result.stderr
    assert kube.get(CONFIG_MAPS, ns, "inside") is not None


def test_a_new_cluster_gets_the_full_set_from_the_same_repository_and_tags(workspace: Workspace) -> None:
    ns = unique("second")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/one.yaml", config_map(ns, "one", {"n": "1"}))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.write("k8s/two.yaml", config_map(ns, "two", {"n": "2"}))
    workspace.commit("a second object")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    assert len(workspace.tags()) == 2

    name = unique("pytest-second")
    started = devcluster("up", "--name", name)
    assert started.returncode == 0
    second = DevCluster(name, Path(started.stdout.strip().splitlines()[-1]))
    try:
        workspace.commit("nothing new in Git")
        result = workspace.cli("deploy", "--path", "k8s", "-o", "json", kubeconfig=second.kubeconfig)
    finally:
        devcluster("down", "--name", name)

    assert result.exit_code == 0, result.stderr
    assert result.actions() == {
        f"Namespace {ns}": "created",
        f"ConfigMap {ns}/one": "created",
        f"ConfigMap {ns}/two": "created",
    }
    assert any("full set" in note and "no record" in note for note in result.json["notes"])


def test_the_tag_and_its_metadata(workspace: Workspace) -> None:
    ns = unique("tag")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    first = workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.write("k8s/cm.yaml", config_map(ns, "cm", {"a": "b"}))
    second = workspace.commit()

    result = workspace.cli(
        "deploy",
        "--path",
        "k8s",
        "-o",
        "json",
        env={"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "42"},
    )

    assert result.exit_code == 0, result.stderr
    tag = result.json["tag"]
    assert tag.startswith(f"deployed/{workspace.env}/") and tag == workspace.tags()[0]
    assert workspace.git("rev-parse", f"{tag}^{{commit}}") == second
    assert workspace.git("cat-file", "-t", tag) == "tag"  # annotated
    metadata = workspace.tag_metadata(tag)
    assert metadata["from"] == first and metadata["to"] == second
    assert metadata["counts"] == {"created": 1, "updated": 0, "pruned": 0, "unchanged": 0}
    assert metadata["created"] == [f"ConfigMap {ns}/cm"]
    assert metadata["ci"]["run"] == "https://github.com/acme/shop/actions/runs/42"


def test_plan_detailed_exitcode_and_dry_run_write_nothing(workspace: Workspace, kube: KubeCluster) -> None:
    ns = unique("gate")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()

    assert workspace.cli("plan", "--path", "k8s", "--detailed-exitcode").exit_code == 10
    dry = workspace.cli("deploy", "--path", "k8s", "--dry-run", "-o", "json")
    assert dry.exit_code == 0, dry.stderr
    assert dry.json["tag"] is None and workspace.tags() == []
    assert kube.get(NAMESPACES, None, ns) is None

    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    assert workspace.cli("plan", "--path", "k8s", "--detailed-exitcode").exit_code == 0


def test_field_manager_conflicts_name_the_manager_and_force_takes_over(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("conflict")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/cm.yaml", config_map(ns, "shared", {"owner": "git"}))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    edit_by_hand(kube, CONFIG_MAPS, ns, "shared", {"data": {"owner": "hand"}})
    workspace.write("k8s/cm.yaml", config_map(ns, "shared", {"owner": "git again"}))
    workspace.commit()

    refused = workspace.cli("deploy", "--path", "k8s", "-o", "json")
    assert refused.exit_code == 4
    assert any(
        "hand-editor" in e["message"] and ".data.owner" in e["message"] for e in refused.json["errors"]
    )

    forced = workspace.cli("deploy", "--path", "k8s", "--force-conflicts")
    assert forced.exit_code == 0, forced.stderr
    assert kube.get(CONFIG_MAPS, ns, "shared")["data"] == {"owner": "git again"}  # type: ignore[index]


def test_a_deploy_that_would_empty_the_environment_is_refused(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("empty")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/cm.yaml", config_map(ns, "only", {"a": "b"}))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.git("rm", "-q", "-r", "k8s")
    workspace.write("README.md", "manifests moved away\n")
    workspace.commit("remove everything")

    refused = workspace.cli("deploy", "--path", "k8s", "-o", "json")
    assert refused.exit_code == 2
    assert "path 'k8s' of environment" in refused.json["errors"][0]["message"]
    assert "does not exist at commit" in refused.json["errors"][0]["message"]
    assert kube.get(CONFIG_MAPS, ns, "only") is not None

    allowed = workspace.cli("deploy", "--path", "k8s", "--allow-empty")
    assert allowed.exit_code == 0, allowed.stderr
    assert kube.get(CONFIG_MAPS, ns, "only") is None


def test_secret_values_never_appear_in_plan_or_deploy_output(workspace: Workspace, kube: KubeCluster) -> None:
    ns = unique("secret")
    planted = "pl4nted-" + unique("value")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write(
        "k8s/secret.yaml",
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: creds, namespace: {ns}}}\nstringData: {{token: {planted}}}\n",
    )
    workspace.commit()
    outputs = [
        workspace.cli("plan", "--path", "k8s"),
        workspace.cli("deploy", "--path", "k8s", "--diff", "-v"),
    ]
    workspace.write(
        "k8s/secret.yaml",
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: creds, namespace: {ns}}}\nstringData: {{token: {planted}-2}}\n",
    )
    workspace.commit()
    outputs += [workspace.cli("plan", "--path", "k8s"), workspace.cli("plan", "--path", "k8s", "-o", "json")]

    assert kube.get(SECRETS, ns, "creds") is not None
    assert "(hidden, changed)" in outputs[2].stdout
    for output in outputs:
        assert planted not in output.stdout + output.stderr
    tag = workspace.tags()[0]
    assert planted not in workspace.git("for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")


def test_config_file_environments_and_errors(workspace: Workspace, kube: KubeCluster) -> None:
    ns = unique("config")
    workspace.write("deploy/prod/ns.yaml", namespace_manifest(ns))
    workspace.write(
        "deploy/prod/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: defaulted}\ndata: {a: b}\n"
    )
    workspace.write(
        "gitops-push.yaml",
        f"""
        environments:
          {workspace.env}:
            paths: [deploy/prod]
            namespace: {ns}
            tag_prefix: releases/{workspace.env}
        """,
    )
    workspace.commit()
    result = workspace.cli("deploy", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json["tag"].startswith(f"releases/{workspace.env}/")
    assert kube.get(CONFIG_MAPS, ns, "defaulted") is not None  # the namespace default applied

    workspace.write(
        "gitops-push.yaml",
        f"""
        environments:
          {workspace.env}:
            paths: [deploy/prod]
            namespaces: oops
        """,
    )
    uncommitted = workspace.cli("plan", "-o", "json")  # the config is read from Git, like the manifests
    assert uncommitted.exit_code == 0, uncommitted.stderr
    workspace.commit("a broken config")
    broken = workspace.cli("plan", "-o", "json")
    assert broken.exit_code == 2
    error = broken.json["errors"][0]
    assert error["file"] == "gitops-push.yaml" and error["line"] == 4
    assert "namespaces" in error["message"]


def test_the_tag_is_pushed_a_refused_push_fails_and_a_race_is_exit_5(
    workspace: Workspace, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    workspace.git("remote", "add", "origin", str(remote))
    ns = unique("push")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()

    pushed = workspace.cli("deploy", "--path", "k8s", "-o", "json")
    assert pushed.exit_code == 0, pushed.stderr
    assert pushed.json["pushed"] is True
    remote_tags = subprocess.run(
        ["git", "--git-dir", str(remote), "tag"], check=True, capture_output=True, text=True
    ).stdout.split()
    assert remote_tags == [pushed.json["tag"]]

    # The remote now refuses new tags, as a protected-tags rule does: not a race (issue 14.9).
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'You are not allowed to create this tag' >&2\nexit 1\n")
    hook.chmod(0o755)
    workspace.write("k8s/cm.yaml", config_map(ns, "late", {"a": "b"}))
    workspace.commit()
    refused = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert refused.exit_code == 1
    assert refused.json["errors"][0]["reference"] == "tag-push-refused"
    assert "not allowed to create this tag" in refused.json["errors"][0]["message"]
    assert workspace.tags() == [pushed.json["tag"]]  # the local tag of the refused push is removed

    # Another deploy's push creates the same tag while ours is received: a race, exit 5.
    hook.unlink()
    race = remote / "hooks" / "update"
    race.write_text('#!/bin/sh\ngit update-ref "$1" "$3"\n')  # the other push lands first
    race.chmod(0o755)
    raced = workspace.cli("deploy", "--path", "k8s", "-o", "json")
    assert raced.exit_code == 5, raced.stdout + raced.stderr
    assert raced.json["errors"][0]["reference"] == "tag-race"
    assert "another deploy tagged first" in raced.json["errors"][0]["message"]
    assert workspace.tags() == [pushed.json["tag"]]
