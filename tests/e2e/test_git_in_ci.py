"""Git as CI checkouts really are: shallow, without tags, detached, rewritten."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitops_push.kube import Cluster
from tests.e2e.workspace import CONFIG_MAPS, Workspace, config_map, namespace_manifest, unique

pytestmark = pytest.mark.e2e


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def published(workspace: Workspace, tmp_path: Path) -> Path:
    """A bare 'origin' for the workspace, with its branch and tags pushed."""
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    workspace.git("remote", "add", "origin", str(remote))
    workspace.git("push", "-q", "origin", "main", "--tags")
    return remote


def ci_clone(remote: Path, target: Path, *flags: str) -> Workspace:
    git(remote.parent, "clone", "-q", *flags, f"file://{remote}", str(target))
    return Workspace(root=target, kubeconfig=Path())


@pytest.mark.parametrize("flags", [("--depth", "1"), ("--no-tags",), ("--depth", "1", "--no-tags")])
def test_shallow_and_tagless_clones_deploy_only_the_change(
    workspace: Workspace, kube: Cluster, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    ns = unique("shallow")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/a.yaml", config_map(ns, "a", {"v": "1"}))
    workspace.commit("first")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    remote = published(workspace, tmp_path)
    for number in range(3):  # some history between the deploy and the new commit
        workspace.write("README.md", f"edit {number}\n")
        workspace.commit(f"docs {number}")
    workspace.write("k8s/b.yaml", config_map(ns, "b", {"v": "1"}))
    workspace.commit("add b")
    workspace.git("push", "-q", "origin", "main")

    clone = ci_clone(remote, tmp_path / "ci", *flags)
    clone.env, clone.kubeconfig = workspace.env, workspace.kubeconfig
    result = clone.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert result.actions() == {f"ConfigMap {ns}/b": "created"}  # not the full set: the base tag was found
    assert kube.get(CONFIG_MAPS, ns, "b") is not None
    remote_tags = git(remote, "tag", "--list", f"deployed/{workspace.env}/*").splitlines()
    assert result.json["tag"] in remote_tags and len(remote_tags) == 2


def test_a_detached_head_deploys(workspace: Workspace, kube: Cluster) -> None:
    ns = unique("detached")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    first = workspace.commit()
    workspace.write("k8s/cm.yaml", config_map(ns, "later", {"v": "1"}))
    workspace.commit()
    workspace.git("checkout", "-q", "--detach", first)

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert result.json["to"] == first
    assert kube.get(CONFIG_MAPS, ns, "later") is None


def test_a_rewritten_branch_is_refused_unless_forced(workspace: Workspace, kube: Cluster) -> None:
    ns = unique("rewrite")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit("base")
    workspace.write("k8s/a.yaml", config_map(ns, "a", {"v": "1"}))
    dropped = workspace.commit("a")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.git("reset", "-q", "--hard", "HEAD~1")  # force-push style rewrite: "a" leaves the history
    workspace.write("k8s/b.yaml", config_map(ns, "b", {"v": "1"}))
    workspace.commit("b instead")

    refused = workspace.cli("deploy", "--path", "k8s", "-o", "json")
    assert refused.exit_code == 2, refused.stderr
    assert "does not descend from the last deployed commit" in refused.json["errors"][0]["message"]
    assert "--force" in refused.json["errors"][0]["hint"]
    assert kube.get(CONFIG_MAPS, ns, "b") is None and len(workspace.tags()) == 1

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json", "--force")

    assert result.exit_code == 0, result.stderr
    assert f"its commit {dropped[:12]} is not on branch main" in " ".join(result.json["notes"])
    # No trusted base: the full set, and the cluster's members that Git lacks are pruned.
    assert result.json["from"] is None
    assert result.actions() == {
        f"ConfigMap {ns}/a": "pruned",
        f"ConfigMap {ns}/b": "created",
        f"Namespace {ns}": "unchanged",
    }


def test_uncommitted_changes_are_ignored_with_a_note(workspace: Workspace, kube: Cluster) -> None:
    ns = unique("dirty")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()
    workspace.write("k8s/wip.yaml", config_map(ns, "wip", {"v": "1"}))  # not committed

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert any(
        "uncommitted changes are ignored" in note and "k8s/wip.yaml" in note for note in result.json["notes"]
    )
    assert kube.get(CONFIG_MAPS, ns, "wip") is None


def test_without_a_git_identity_the_tag_has_a_clear_default_tagger(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = unique("noid")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()
    for name in ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"):
        monkeypatch.delenv(name)

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert result.exit_code == 0, result.stderr
    tagger = workspace.git(
        "for-each-ref", "--format=%(taggername) %(taggeremail)", f"refs/tags/{result.json['tag']}"
    )
    assert tagger == "gitops-push <gitops-push@localhost>"
