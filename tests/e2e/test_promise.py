"""The promise of a tag, case by case on the real cluster: after a failed or killed attempt, a stale
commit, a path that matches nothing, the newest tag still names a commit whose objects are all applied."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from gitops_push import naming
from gitops_push.kube.client import KubeCluster
from gitops_push.stages import locking, ownership
from tests.conftest import REPO_ROOT
from tests.e2e.test_health_and_history import NOWHERE, deployment
from tests.e2e.workspace import CONFIG_MAPS, DEPLOYMENTS, Workspace, config_map, namespace_manifest, unique

pytestmark = pytest.mark.e2e

HDD = "      nodeSelector: {disk: hdd}\n"  # no fake node has this label: the pods stay Pending


def pod_spec_of(kube: KubeCluster, namespace: str, name: str) -> dict[str, object]:
    live = kube.get(DEPLOYMENTS, namespace, name)
    assert live is not None
    spec: dict[str, object] = live["spec"]["template"]["spec"]
    return spec


def test_a_failed_deploy_then_a_revert_undoes_what_the_attempt_applied(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("revert")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/web.yaml", deployment(ns, "web"))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s", "--timeout", "60s").exit_code == 0
    workspace.write("k8s/web.yaml", deployment(ns, "web", pod_spec=HDD))
    workspace.commit("pin web to hdd nodes")
    failed = workspace.cli("deploy", "--path", "k8s", "--timeout", "60s")
    assert failed.exit_code == 1
    assert "nodeSelector" in pod_spec_of(kube, ns, "web")
    tags = workspace.tags()
    workspace.git("revert", "--no-edit", "HEAD")

    result = workspace.cli("deploy", "--path", "k8s", "--timeout", "60s", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert result.actions()[f"Deployment {ns}/web"] == "configured"
    assert any("did not finish" in note for note in result.json["notes"])
    assert "nodeSelector" not in pod_spec_of(kube, ns, "web")
    web = next(o for o in result.json["objects"] if o["name"] == "web")
    assert web["health"] == "Current"
    assert len(workspace.tags()) == len(tags) + 1
    assert ownership.read_record(kube, workspace.env).attempt is None


def test_a_deploy_killed_while_applying_then_reverted_converges(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("killed")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/web.yaml", deployment(ns, "web"))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s", "--timeout", "60s").exit_code == 0
    workspace.write("k8s/web.yaml", deployment(ns, "web", pod_spec=NOWHERE))
    workspace.write("k8s/extra.yaml", config_map(ns, "extra", {"a": "b"}))
    workspace.commit("a release that never becomes healthy")

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gitops_push",
            "deploy",
            "--path",
            "k8s",
            "--env",
            workspace.env,
            "--repo",
            str(workspace.root),
            "--kubeconfig",
            str(workspace.kubeconfig),
            "--timeout",
            "120s",
        ],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while "nodeSelector" not in pod_spec_of(kube, ns, "web"):  # applied: now in the wait
        assert time.monotonic() < deadline and process.poll() is None, "the deploy never applied"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert kube.get(locking.LEASES, naming.RECORD_NAMESPACE, naming.lease(workspace.env)) is not None
    assert (
        workspace.cli("unlock", "--env", workspace.env, "--kubeconfig", str(workspace.kubeconfig)).exit_code
        == 0
    )
    workspace.git("revert", "--no-edit", "HEAD")

    result = workspace.cli("deploy", "--path", "k8s", "--timeout", "60s", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert result.actions()[f"Deployment {ns}/web"] == "configured"
    assert result.actions()[f"ConfigMap {ns}/extra"] == "pruned"
    assert "nodeSelector" not in pod_spec_of(kube, ns, "web")
    assert kube.get(CONFIG_MAPS, ns, "extra") is None


def test_an_older_commit_is_refused_unless_asked_for(workspace: Workspace, kube: KubeCluster) -> None:
    ns = unique("stale")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/cm.yaml", config_map(ns, "cm", {"v": "1"}))
    workspace.commit()
    workspace.write("k8s/cm.yaml", config_map(ns, "cm", {"v": "2"}))
    workspace.commit("v2")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.git("checkout", "-q", "--detach", "HEAD~1")  # an old CI job, re-run

    refused = workspace.cli("deploy", "--path", "k8s", "-o", "json")

    assert refused.exit_code == 2
    error = refused.json["errors"][0]
    assert "older than the last deployed commit" in error["message"]
    assert "rollback" in error["hint"] and "--allow-older" in error["hint"]
    live = kube.get(CONFIG_MAPS, ns, "cm")
    assert live is not None and live["data"] == {"v": "2"}
    allowed = workspace.cli("deploy", "--path", "k8s", "--allow-older", "-o", "json")
    assert allowed.exit_code == 0, allowed.stderr
    live = kube.get(CONFIG_MAPS, ns, "cm")
    assert live is not None and live["data"] == {"v": "1"}


@pytest.mark.parametrize("command", ["deploy", "plan"])
def test_a_path_that_matches_nothing_is_an_error_naming_it(
    workspace: Workspace, kube: KubeCluster, command: str
) -> None:
    ns = unique("typo")
    workspace.write("k8s/base/ns.yaml", namespace_manifest(ns))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s/base").exit_code == 0
    tags = workspace.tags()

    for path in ("k8s/bsae", "k8z"):
        result = workspace.cli(command, "--path", path, "-o", "json")
        assert result.exit_code == 2, result.stdout
        assert f"path {path!r}" in result.json["errors"][0]["message"]
    workspace.write("docs/readme.md", "no manifests here\n")
    workspace.commit()
    empty = workspace.cli(command, "--path", "docs", "-o", "json")
    assert empty.exit_code == 2
    assert "has no manifests under 'docs'" in empty.json["errors"][0]["message"]
    assert workspace.tags() == tags


def test_rollback_and_promote_preview_with_diffs_and_change_nothing(
    workspace: Workspace, kube: KubeCluster
) -> None:
    ns = unique("preview")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/cm.yaml", config_map(ns, "cm", {"v": "1"}))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.write("k8s/cm.yaml", config_map(ns, "cm", {"v": "2"}))
    workspace.commit("v2")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    tags = workspace.tags()

    preview = workspace.cli("rollback", "--path", "k8s", "--dry-run")

    assert preview.exit_code == 0, preview.stderr
    lines = preview.stdout.splitlines()
    assert any(line.startswith("-") and "v: '2'" in line for line in lines), preview.stdout
    assert any(line.startswith("+") and "v: '1'" in line for line in lines), preview.stdout
    live = kube.get(CONFIG_MAPS, ns, "cm")
    assert live is not None and live["data"] == {"v": "2"}
    assert workspace.tags() == tags
    same = workspace.cli("promote", "--from", workspace.env, "--to", workspace.env, "--path", "k8s")
    assert same.exit_code == 2 and "same environment" in same.stderr
