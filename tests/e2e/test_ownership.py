"""Prune deletes only what this tool applied for this environment, even when labels collide."""

from __future__ import annotations

import pytest

from gitops_push import naming
from gitops_push.kube import LEGACY_FIELD_MANAGER
from gitops_push.kube.client import KubeCluster
from gitops_push.stages import ownership
from tests.e2e.workspace import (
    CONFIG_MAPS,
    NAMESPACES,
    Workspace,
    config_map,
    edit_by_hand,
    make_workspace,
    namespace_manifest,
    unique,
)

pytestmark = pytest.mark.e2e


def test_a_copied_membership_label_does_not_make_an_object_prunable(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("copied")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/ours.yaml", config_map(ns, "ours", {"a": "b"}))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    # A controller (or a person) copies our label onto an object of its own, made with its own manager.
    labels = {ownership.PART_OF_LABEL: ownership.applyset_id(workspace.env)}
    edit_by_hand(
        kube,
        CONFIG_MAPS,
        ns,
        "theirs",
        {"metadata": {"labels": labels}},
        manager="some-controller",
        force=False,
    )

    result = workspace.cli("deploy", "--path", "k8s", "--all", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert kube.get(CONFIG_MAPS, ns, "theirs") is not None
    assert any("theirs" in note and "never applied" in note for note in result.json["notes"])
    assert kube.get(CONFIG_MAPS, ns, "ours") is not None


def test_two_environments_never_prune_each_other(
    workspace: Workspace, kube: KubeCluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ns = unique("shared")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/a.yaml", config_map(ns, "from-a", {"a": "1"}))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    other = make_workspace(tmp_path_factory.mktemp("other"), workspace.kubeconfig)
    other.write("k8s/b.yaml", config_map(ns, "from-b", {"b": "1"}))
    other.commit()
    assert other.cli("deploy", "--path", "k8s").exit_code == 0

    # B is emptied (allowed), and A deploys its full set: neither touches the other's object.
    other.git("rm", "-q", "k8s/b.yaml")
    other.write("k8s/keep.yaml", config_map(ns, "b-keep", {"b": "2"}))
    other.commit()
    assert other.cli("deploy", "--path", "k8s", "--all").exit_code == 0
    assert workspace.cli("deploy", "--path", "k8s", "--all").exit_code == 0

    assert kube.get(CONFIG_MAPS, ns, "from-a") is not None
    assert kube.get(CONFIG_MAPS, ns, "from-b") is None  # B pruned its own
    assert kube.get(CONFIG_MAPS, ns, "b-keep") is not None


def test_a_deploy_that_would_prune_more_than_max_prune_stops(workspace: Workspace, kube: KubeCluster) -> None:
    ns = unique("maxprune")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/cms.yaml", "---\n".join(config_map(ns, f"cm-{n}", {"n": str(n)}) for n in range(5)))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.git("rm", "-q", "k8s/cms.yaml")
    workspace.commit("remove five")

    refused = workspace.cli("deploy", "--path", "k8s", "--max-prune", "3", "-o", "json")

    assert refused.exit_code == 2
    assert "would prune 5 objects, more than --max-prune 3" in refused.json["errors"][0]["message"]
    assert all(kube.get(CONFIG_MAPS, ns, f"cm-{n}") is not None for n in range(5))
    allowed = workspace.cli("deploy", "--path", "k8s", "--max-prune", "5")
    assert allowed.exit_code == 0, allowed.stderr
    assert all(kube.get(CONFIG_MAPS, ns, f"cm-{n}") is None for n in range(5))


def kubectl_made(kube: KubeCluster, namespace: str, name: str, data: dict[str, str]) -> None:
    """An object someone made by hand (a plain create, as `kubectl create` does)."""
    kube.create(
        CONFIG_MAPS,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace},
            "data": data,
        },
    )


def test_an_object_of_another_environment_is_refused_naming_it(
    workspace: Workspace, kube: KubeCluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ns = unique("owned")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    other = make_workspace(tmp_path_factory.mktemp("other"), workspace.kubeconfig)
    other.write("k8s/cm.yaml", config_map(ns, "b-config", {"b-key": "b"}))
    other.commit()
    assert other.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.write("k8s/cm.yaml", config_map(ns, "b-config", {"a-key": "a"}))
    workspace.commit("A names B's ConfigMap")

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 4, result.stdout
    error = next(o for o in result.json["objects"] if o["name"] == "b-config")["error"]
    assert f"gitops-push environment {other.env!r}" in error and "--adopt" in error
    live = kube.get(CONFIG_MAPS, ns, "b-config")
    assert live is not None and live["data"] == {"b-key": "b"}
    assert ownership.is_member(live, other.env) and not ownership.is_member(live, workspace.env)


def test_a_hand_made_object_is_adopted_only_when_asked_and_released_not_deleted(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("adopt")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    kubectl_made(kube, ns, "handmade", {"kept": "by hand"})
    workspace.write("k8s/cm.yaml", config_map(ns, "handmade", {"kept": "by hand", "added": "by git"}))
    workspace.commit("manage the hand-made ConfigMap")

    plan = workspace.cli("plan", "--path", "k8s", "-o", "json")
    refused = workspace.cli("deploy", "--path", "k8s", "-o", "json")
    assert refused.exit_code == 4, refused.stdout
    assert "no gitops-push environment" in (
        next(o for o in refused.json["objects"] if o["name"] == "handmade")["error"] or ""
    )
    assert plan.exit_code == 4
    live = kube.get(CONFIG_MAPS, ns, "handmade")
    assert live is not None and live["data"] == {"kept": "by hand"}

    adopted = workspace.cli("deploy", "--path", "k8s", "--adopt", "-o", "json")
    assert adopted.exit_code == 0, adopted.stdout + adopted.stderr
    assert adopted.actions()[f"ConfigMap {ns}/handmade"] == "adopted"
    live = kube.get(CONFIG_MAPS, ns, "handmade")
    assert live is not None and ownership.is_member(live, workspace.env)

    workspace.git("rm", "-q", "k8s/cm.yaml")
    workspace.commit("stop managing it")
    released = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert released.exit_code == 0, released.stdout + released.stderr
    assert released.actions()[f"ConfigMap {ns}/handmade"] == "released"
    live = kube.get(CONFIG_MAPS, ns, "handmade")
    assert live is not None, "an adopted object is released, not deleted"
    assert live["data"]["kept"] == "by hand"
    assert ownership.PART_OF_LABEL not in (live["metadata"].get("labels") or {})


def test_a_label_added_to_an_existing_namespace_then_reverted_keeps_the_namespace(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("existing")
    kube.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    kubectl_made(kube, ns, "inside", {"precious": "yes"})
    workspace.write(
        "k8s/ns.yaml", namespace_manifest(ns).replace(f"name: {ns}", f"name: {ns}\n  labels: {{team: a}}")
    )
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s", "--adopt").exit_code == 0
    workspace.git("rm", "-q", "k8s/ns.yaml")
    workspace.write("k8s/other.yaml", config_map("default", unique("keep"), {"a": "b"}))
    workspace.commit("revert the label")

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.actions()[f"Namespace {ns}"] == "released"
    namespace = kube.get(NAMESPACES, None, ns)
    assert namespace is not None and not namespace["metadata"].get("deletionTimestamp")
    assert kube.get(CONFIG_MAPS, ns, "inside") is not None


def test_objects_of_the_old_shared_field_manager_are_handed_to_the_environment(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("legacy")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    label = {ownership.PART_OF_LABEL: ownership.applyset_id(workspace.env)}
    old = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "old", "namespace": ns, "labels": label},
    }
    kube.apply(
        CONFIG_MAPS,
        {**old, "data": {"a": "1", "gone": "soon"}},
        field_manager=LEGACY_FIELD_MANAGER,
        dry_run=False,
    )
    workspace.write("k8s/cm.yaml", config_map(ns, "old", {"a": "2"}))
    workspace.commit("the old manager's object, now in Git")

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 0, result.stdout + result.stderr
    live = kube.get(CONFIG_MAPS, ns, "old")
    assert live is not None and live["data"] == {"a": "2"}, "the field Git dropped went with the old manager"
    managers = {e["manager"] for e in live["metadata"]["managedFields"]}
    assert naming.field_manager(workspace.env) in managers and LEGACY_FIELD_MANAGER not in managers


def test_a_manifest_outside_the_environments_allow_lists_is_a_validation_error(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns, elsewhere = unique("allowed"), unique("elsewhere")
    workspace.write(
        "gitops-push.yaml",
        f"environments:\n  {workspace.env}:\n    paths: [k8s]\n    namespaces: [{ns}]\n    kinds: [ConfigMap, Namespace]\n",
    )
    workspace.write("k8s/ok.yaml", config_map(ns, "ok", {"a": "b"}))
    workspace.write("k8s/stray.yaml", "# a comment first\n" + config_map(elsewhere, "stray", {"a": "b"}))
    workspace.write(
        "k8s/role.yaml",
        f"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: r, namespace: {ns}}}\n",
    )
    workspace.commit()

    result = workspace.cli("deploy", "-o", "json")

    assert result.exit_code == 3, result.stdout
    errors = {(e["file"], e["line"], e["field"]): e["message"] for e in result.json["errors"]}
    assert f"namespace {elsewhere!r} is not one of" in errors[("k8s/stray.yaml", 2, "metadata.namespace")]
    assert "kind Role.rbac.authorization.k8s.io is not one of" in errors[("k8s/role.yaml", 1, "kind")]
    assert kube.get(CONFIG_MAPS, ns, "ok") is None
