"""Issue 12, cases 7, 8 and 11 (part), on the real control plane: a re-run keeps failing fast; `plan`
lists what it would prune before refusing --max-prune, and hints only at flags of `deploy`; `status`
reports fields that other managers added, and drift with an exit code of its own."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from gitops_push.kube.client import KubeCluster
from tests.e2e.test_faults import socket_closed
from tests.e2e.test_health_and_history import NOWHERE, deployment
from tests.e2e.workspace import CONFIG_MAPS, Workspace, config_map, edit_by_hand, namespace_manifest, unique

pytestmark = pytest.mark.e2e


def test_a_rerun_of_a_failed_rollout_fails_fast_again_naming_the_pod(workspace: Workspace) -> None:
    ns = unique("rerun")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/web.yaml", deployment(ns, "web", image="web:1"))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s", "--timeout", "60s").exit_code == 0
    workspace.write("k8s/web.yaml", deployment(ns, "web", image="web:2", pod_spec=NOWHERE))
    workspace.commit("a release whose pods cannot be scheduled")

    attempts = []
    for _ in range(2):  # the second run meets the ReplicaSet and the pods the first one made
        started = time.monotonic()
        result = workspace.cli("deploy", "--path", "k8s", "-o", "json", "--timeout", "60s")
        attempts.append((time.monotonic() - started, result))

    for elapsed, result in attempts:
        assert result.exit_code == 1, result.stderr
        web = next(o for o in result.json["objects"] if o["name"] == "web")
        assert web["health"] == "Failed"
        assert "not healthy after" not in web["message"]  # failed fast, not at the timeout
        assert web["message"].startswith("pod web-") and "unschedulable" in web["message"]
        assert elapsed < 55
    rerun_elapsed = attempts[1][0]
    assert rerun_elapsed < 15  # its pods have been unschedulable for longer than the grace already


def test_plan_over_max_prune_lists_what_it_would_prune_then_exits_2(workspace: Workspace) -> None:
    ns = unique("planprune")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/cms.yaml", "---\n".join(config_map(ns, f"cm-{n}", {"n": str(n)}) for n in range(5)))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.git("rm", "-q", "k8s/cms.yaml")
    workspace.commit("remove five")

    planned = workspace.cli("plan", "--path", "k8s", "--max-prune", "3", "-o", "json")
    text = workspace.cli("plan", "--path", "k8s", "--max-prune", "3")

    assert planned.exit_code == 2, planned.stderr
    assert planned.actions() == {f"ConfigMap {ns}/cm-{n}": "pruned" for n in range(5)}
    assert "would prune 5 objects, more than --max-prune 3" in planned.json["errors"][0]["message"]
    assert text.exit_code == 2
    assert all(f"ConfigMap {ns}/cm-{n}" in text.stdout for n in range(5))
    assert "more than --max-prune 3" in text.stderr
    assert workspace.cli("plan", "--path", "k8s", "--max-prune", "5").exit_code == 0


def test_plan_hints_at_the_deploy_flag_it_lacks(workspace: Workspace, kube: KubeCluster) -> None:
    ns = unique("planhint")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/cm.yaml", config_map(ns, "shared", {"owner": "git"}))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    edit_by_hand(kube, CONFIG_MAPS, ns, "shared", {"data": {"owner": "hand"}})
    workspace.write("k8s/cm.yaml", config_map(ns, "shared", {"owner": "git again"}))
    workspace.commit()

    refused = workspace.cli("plan", "--path", "k8s", "-o", "json")

    assert refused.exit_code == 4
    (conflict,) = [e["message"] for e in refused.json["errors"] if "hand-editor" in e["message"]]
    assert "a deploy with --force-conflicts takes them over" in conflict
    assert "; --force-conflicts" not in conflict


def test_a_deploy_that_applies_nothing_says_so(workspace: Workspace) -> None:
    ns = unique("nothing")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.write("k8s/README.md", "Not a manifest.\n")
    workspace.commit("a note next to the manifests")

    result = workspace.cli("deploy", "--path", "k8s")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith(": nothing applied")


def test_status_reports_fields_other_managers_added_and_drift_with_its_own_exit_code(
    workspace: Workspace, kube: KubeCluster, tmp_path: Path
) -> None:
    ns = unique("added")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/cm.yaml", config_map(ns, "web-config", {"A": "1"}))
    workspace.write("k8s/leftover.yaml", config_map(ns, "leftover", {"b": "2"}))
    workspace.write("k8s/web.yaml", deployment(ns, "web"))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s", "--timeout", "60s").exit_code == 0
    workspace.git("rm", "-q", "k8s/leftover.yaml")
    workspace.commit("leftover leaves Git")
    assert workspace.cli("deploy", "--path", "k8s", "--no-prune").exit_code == 0
    leftover_only = workspace.cli("status", "--path", "k8s", "--exit-code", "-o", "json")
    assert leftover_only.exit_code == 6, leftover_only.stdout  # controllers' fields are no drift
    assert {k: v for k, v in leftover_only.actions().items() if v != "unchanged"} == {
        f"ConfigMap {ns}/leftover": "extra"
    }

    # kubectl patch cm web-config -p '{"data":{"EXTRA":"x"}}'
    kube.request(
        "PATCH",
        CONFIG_MAPS.path(ns, "web-config"),
        query=[("fieldManager", "kubectl-patch")],
        body={"data": {"EXTRA": "x"}},
        content_type="application/merge-patch+json",
    )
    status = workspace.cli("status", "--path", "k8s", "--exit-code", "-o", "json")
    text = workspace.cli("status", "--path", "k8s")

    assert status.exit_code == 6
    web_config = next(o for o in status.json["objects"] if o["name"] == "web-config")
    assert web_config["action"] == "unchanged"  # our own field A is as Git has it
    assert web_config["other_managers"] == [{"manager": "kubectl-patch", "fields": [".data.EXTRA"]}]
    assert all(o["other_managers"] == [] for o in status.json["objects"] if o["name"] != "web-config")
    assert f"ConfigMap {ns}/web-config: .data.EXTRA (by kubectl-patch)" in text.stdout
    assert text.exit_code == 0  # without --exit-code, drift is a report, not a failure
    with socket_closed() as port:
        config = json.loads(workspace.kubeconfig.read_text())
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
        (tmp_path / "dead.kubeconfig").write_text(json.dumps(config))
        unreachable = workspace.cli(
            "status",
            "--path",
            "k8s",
            "--exit-code",
            "--retry-timeout",
            "1s",
            kubeconfig=tmp_path / "dead.kubeconfig",
        )
    assert unreachable.exit_code == 1
