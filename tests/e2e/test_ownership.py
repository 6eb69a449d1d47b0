"""Prune deletes only what this tool applied for this environment, even when labels collide."""

from __future__ import annotations

import pytest

from gitops_push.kube.client import KubeCluster
from gitops_push.stages import ownership
from tests.e2e.workspace import CONFIG_MAPS, Workspace, config_map, make_workspace, namespace_manifest, unique

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
    kube.request(
        "PATCH",
        CONFIG_MAPS.path(ns, "theirs"),
        query=[("fieldManager", "some-controller")],
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "theirs",
                "namespace": ns,
                "labels": {ownership.PART_OF_LABEL: ownership.applyset_id(workspace.env)},
            },
        },
        content_type="application/apply-patch+yaml",
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
