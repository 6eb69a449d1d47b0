"""Which deploy tags count (issue 12): forged and stray tags, other environments' prefixes, what the
source of a promotion runs, shallow clones, and the usage errors around them."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from pathlib import Path

import pytest

from gitops_push import naming
from gitops_push.kube import Cluster
from gitops_push.kube.client import KubeCluster
from gitops_push.stages import locking, ownership
from tests.e2e.conftest import DevCluster
from tests.e2e.test_git_in_ci import ci_clone, git, published
from tests.e2e.workspace import CONFIG_MAPS, Workspace, config_map, namespace_manifest, unique

pytestmark = pytest.mark.e2e


def environments(workspace: Workspace) -> tuple[str, str]:
    """Declare a staging and a production environment (unique names: the cluster is shared by every
    test), each deploying `app/` into a namespace of its own name; returns their names."""
    staging, production = unique("staging"), unique("production")
    lines = ["environments:"]
    for name in (staging, production):
        lines += [f"  {name}:", "    paths: [app]", f"    namespace: {name}"]
    workspace.write("gitops-push.yaml", "\n".join(lines) + "\n")
    workspace.write("namespaces/ns.yaml", "---\n".join(namespace_manifest(n) for n in (staging, production)))
    return staging, production


def release(workspace: Workspace, version: str) -> str:
    workspace.write(
        "app/cm.yaml",
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: release}}\ndata: {{v: '{version}'}}\n",
    )
    return workspace.commit(f"release {version}")


def forge(workspace: Workspace, name: str, commit: str, date: datetime.datetime) -> None:
    """A tag pushed by hand: annotated, named like a deploy tag, dated as its author chose."""
    stamp = date.strftime("%Y-%m-%dT%H:%M:%SZ")
    subprocess.run(
        ["git", "tag", "-a", name, commit, "-m", "not a deploy"],
        cwd=workspace.root,
        env={**os.environ, "GIT_COMMITTER_DATE": stamp},
        check=True,
        capture_output=True,
    )


def test_forged_tags_on_an_unmerged_commit_are_ignored_by_every_command_with_a_note(
    workspace: Workspace, kube: Cluster
) -> None:
    staging, production = environments(workspace)
    release(workspace, "1")
    assert workspace.cli("deploy", "--path", "namespaces", "--env", unique("ns")).exit_code == 0
    assert workspace.cli("deploy", "--env", staging).exit_code == 0
    first = workspace.git("tag", "--list", f"deployed/{staging}/*")
    second_commit = release(workspace, "2")
    assert workspace.cli("deploy", "--env", staging).exit_code == 0
    second = next(t for t in workspace.git("tag", "--list", f"deployed/{staging}/*").split() if t != first)
    workspace.git("checkout", "-q", "-b", "unreviewed")
    unreviewed = release(workspace, "evil")
    workspace.git("checkout", "-q", "main")
    now = datetime.datetime.now(datetime.UTC)
    forge(workspace, f"deployed/{staging}/20990101T000000Z", unreviewed, datetime.datetime(2099, 1, 1))
    forge(workspace, f"deployed/{staging}/20990102T000000Z", unreviewed, now + datetime.timedelta(minutes=1))
    future = f"ignored deploy tag deployed/{staging}/20990101T000000Z: it is dated in the future"
    unmerged = (
        f"ignored deploy tag deployed/{staging}/20990102T000000Z: its commit {unreviewed[:12]} "
        "is not on branch main"
    )

    deploy = workspace.cli("deploy", "--env", staging, "-o", "json")
    assert deploy.exit_code == 0, deploy.stderr
    assert deploy.json["from"] == second_commit and deploy.json["tag"] is None  # nothing to deploy
    assert any(n.startswith(future) for n in deploy.json["notes"]) and unmerged in deploy.json["notes"]

    history = workspace.cli("history", "--env", staging, "-o", "json")
    assert history.exit_code == 0, history.stderr
    assert [e["tag"] for e in history.json_list()] == [second, first]
    assert future in history.stderr and unmerged in history.stderr

    rollback = workspace.cli("rollback", "--env", staging, "-o", "json")
    assert rollback.exit_code == 0, rollback.stderr
    assert workspace.tag_metadata(rollback.json["tag"])["rolled_back_to"] == first
    assert workspace.tag_metadata(rollback.json["tag"])["rolled_back_from"] == second
    assert unmerged in rollback.json["notes"]
    assert kube.get(CONFIG_MAPS, staging, "release")["data"] == {"v": "1"}  # type: ignore[index]

    promote = workspace.cli(
        "promote",
        "--from",
        staging,
        "--to",
        production,
        "--kubeconfig",
        str(workspace.kubeconfig),
        "-o",
        "json",
    )
    assert promote.exit_code == 0, promote.stderr
    assert promote.json["to"] != unreviewed
    assert workspace.tag_metadata(promote.json["tag"])["promoted_from"]["tag"] == rollback.json["tag"]
    assert unmerged in promote.json["notes"]
    assert kube.get(CONFIG_MAPS, production, "release")["data"] == {"v": "1"}  # type: ignore[index]


def test_a_prefix_does_not_see_the_tags_of_a_longer_prefix(workspace: Workspace, kube: Cluster) -> None:
    shop = unique("shop")
    workspace.write(
        "gitops-push.yaml",
        f"""
        environments:
          shop:
            paths: [k8s]
            tag_prefix: deployed/{shop}
          shop-eu:
            paths: [k8s]
            tag_prefix: deployed/{shop}/eu
        """,
    )
    workspace.write("k8s/ns.yaml", namespace_manifest(shop))
    workspace.commit()
    eu = workspace.cli("deploy", "--env", "shop-eu", "-o", "json")
    assert eu.exit_code == 0, eu.stderr
    assert eu.json["tag"].startswith(f"deployed/{shop}/eu/")

    history = workspace.cli("history", "--env", "shop", "-o", "json")
    assert history.exit_code == 0, history.stderr
    assert history.json_list() == []
    # Offline: online, the Namespace would be (rightly) refused as shop-eu's, not shop's to take.
    first = workspace.cli("plan", "--env", "shop", "--offline", "-o", "json")
    assert first.exit_code == 0, first.stderr
    assert first.json["from"] is None  # a first deploy: the eu tag is not shop's


def test_promote_refuses_when_the_source_cluster_runs_another_commit(
    workspace: Workspace, kube: KubeCluster
) -> None:
    staging, production = environments(workspace)
    tagged = release(workspace, "1")
    assert workspace.cli("deploy", "--path", "namespaces", "--env", unique("ns")).exit_code == 0
    assert workspace.cli("deploy", "--env", staging).exit_code == 0
    other = release(workspace, "2")
    kube.request(  # as a deploy by other means, or one that failed after applying, leaves it
        "PATCH",
        CONFIG_MAPS.path(ownership.PARENT_NAMESPACE, naming.applyset_parent(staging)),
        query=[("fieldManager", "kubectl-edit")],
        body={"metadata": {"annotations": {ownership.COMMIT: other}}},
        content_type="application/merge-patch+json",
    )

    result = workspace.cli(
        "promote", "--from", staging, "--to", production, "--kubeconfig", str(workspace.kubeconfig)
    )

    assert result.exit_code == 2
    assert f"environment {staging!r} last deployed {tagged[:12]}" in result.stderr
    assert f"record says it runs commit {other[:12]}" in result.stderr
    assert not workspace.git("tag", "--list", f"deployed/{production}/*")
    assert kube.get(CONFIG_MAPS, production, "release") is None


def test_promote_from_an_environment_to_itself_is_a_usage_error(workspace: Workspace) -> None:
    workspace.commit()
    result = workspace.cli("promote", "--from", "staging", "--to", "staging")
    assert result.exit_code == 2
    assert "--from and --to name the same environment" in result.stderr


def test_history_of_an_unknown_environment_says_so(workspace: Workspace) -> None:
    staging, _ = environments(workspace)
    workspace.commit()
    result = workspace.cli("history", "--env", "stagin")
    assert result.exit_code == 2
    assert "environment 'stagin' has no deploy tags (deployed/stagin/*)" in result.stderr
    declared = workspace.cli("history", "--env", staging)  # declared, not deployed yet
    assert declared.exit_code == 0, declared.stderr


def two_contexts(cluster: DevCluster, target: Path) -> str:
    """A kubeconfig whose current context, `nowhere`, reaches no server; returns the working context."""
    config = json.loads(cluster.kubeconfig.read_text())
    real = str(config["current-context"])
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}})
    config["contexts"].append(
        {"name": "nowhere", "context": {"cluster": "nowhere", "user": config["users"][0]["name"]}}
    )
    config["current-context"] = "nowhere"
    target.write_text(json.dumps(config))
    return real


def test_unlock_honours_the_environments_context_and_repo(
    workspace: Workspace, kube: Cluster, cluster: DevCluster, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "two-contexts.kubeconfig"
    real = two_contexts(cluster, kubeconfig)
    workspace.write(
        "gitops-push.yaml", f"environments:\n  {workspace.env}:\n    paths: [k8s]\n    context: {real}\n"
    )
    workspace.commit()
    holder = locking.Lock(kube, workspace.env, "pipeline-ten", "https://ci.example.test/runs/10")
    holder.acquire(timeout=5, sink=NoSink())
    try:
        result = workspace.cli("unlock", "--env", workspace.env, "--kubeconfig", str(kubeconfig))
    finally:
        holder.release()

    assert result.exit_code == 0, result.stderr
    assert "pipeline-ten" in result.stdout


def test_promote_reads_the_source_record_from_the_sources_own_context(
    workspace: Workspace, kube: Cluster, cluster: DevCluster, tmp_path: Path
) -> None:
    """Production's cluster is reachable, staging's is not: nothing can say what staging runs, so
    nothing is promoted."""
    kubeconfig = tmp_path / "two-contexts.kubeconfig"
    real = two_contexts(cluster, kubeconfig)
    staging, production = environments(workspace)
    release(workspace, "1")
    assert workspace.cli("deploy", "--path", "namespaces", "--env", unique("ns")).exit_code == 0
    assert workspace.cli("deploy", "--env", staging).exit_code == 0
    config = (workspace.root / "gitops-push.yaml").read_text()
    config = config.replace(f"namespace: {staging}\n", f"namespace: {staging}\n    context: nowhere\n")
    config = config.replace(f"namespace: {production}\n", f"namespace: {production}\n    context: {real}\n")
    workspace.write("gitops-push.yaml", config)
    workspace.commit("staging moves to a cluster this job cannot reach")

    result = workspace.cli("promote", "--from", staging, "--to", production, "--kubeconfig", str(kubeconfig))

    assert result.exit_code == 1
    assert "cannot reach the API server https://127.0.0.1:1" in result.stderr
    assert not workspace.git("tag", "--list", f"deployed/{production}/*")
    assert kube.get(CONFIG_MAPS, production, "release") is None


def test_a_shallow_clone_reads_history_status_and_rolls_back(
    workspace: Workspace, kube: Cluster, tmp_path: Path
) -> None:
    ns = unique("shallow")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/cm.yaml", config_map(ns, "settings", {"v": "1"}))
    workspace.commit("version 1")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.write("k8s/cm.yaml", config_map(ns, "settings", {"v": "2"}))
    workspace.commit("version 2")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    remote = published(workspace, tmp_path)
    workspace.write("README.md", "later\n")  # so that no tag points at the commit a --depth 1 clone gets
    workspace.commit("docs")
    workspace.git("push", "-q", "origin", "main")

    clone = ci_clone(remote, tmp_path / "ci", "--depth", "1")
    clone.env, clone.kubeconfig = workspace.env, workspace.kubeconfig
    assert git(clone.root, "rev-parse", "--is-shallow-repository") == "true"

    history = clone.cli("history", "--env", workspace.env, "-o", "json")
    assert history.exit_code == 0, history.stderr
    assert [e["subject"] for e in history.json_list()] == ["version 2", "version 1"]
    status = clone.cli("status", "--path", "k8s", "--exit-code", "-o", "json")
    assert status.exit_code == 0, status.stderr
    rollback = clone.cli("rollback", "--path", "k8s", "-o", "json")
    assert rollback.exit_code == 0, rollback.stderr
    assert kube.get(CONFIG_MAPS, ns, "settings")["data"] == {"v": "1"}  # type: ignore[index]
    assert rollback.json["tag"] in git(remote, "tag", "--list", f"deployed/{workspace.env}/*").split()


class NoSink:
    def handle(self, event: object) -> None:
        pass
