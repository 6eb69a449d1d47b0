"""CI-native output and the deploy lock, against the real cluster."""

from __future__ import annotations

import datetime
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from gitops_push import naming
from gitops_push.kube import Cluster
from gitops_push.stages import locking
from tests.conftest import REPO_ROOT
from tests.e2e.workspace import Result, Workspace, bad_deployment, config_map, namespace_manifest, unique

pytestmark = pytest.mark.e2e

JUNIT_SCHEMA = xmlschema.XMLSchema(REPO_ROOT / "tests" / "data" / "junit.xsd")


def junit(path: Path) -> dict[str, Any]:
    """Validate a report against the schema, then read it as data."""
    JUNIT_SCHEMA.validate(str(path))
    data = JUNIT_SCHEMA.to_dict(str(path))
    assert isinstance(data, dict)
    return data


def test_inside_github_actions_errors_become_annotations_and_a_step_summary(
    workspace: Workspace, tmp_path: Path
) -> None:
    ns = unique("gha")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/bad.yaml", bad_deployment(ns))
    workspace.commit()
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}

    result = workspace.cli("deploy", "--path", "k8s", env=env)

    assert result.exit_code == 3
    assert (
        '::error file=k8s/bad.yaml,line=7,title=invalid manifest::unknown field "replicaz"' in result.stdout
    )
    text = summary.read_text()
    assert f"gitops-push deploy `{workspace.env}`: failed" in text
    assert '`k8s/bad.yaml:7` unknown field "replicaz"' in text


def test_github_output_groups_the_plan_and_summarises_a_deploy(workspace: Workspace, tmp_path: Path) -> None:
    ns = unique("ghok")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/cm.yaml", config_map(ns, "cm", {"a": "b"}))
    workspace.commit()
    summary = tmp_path / "summary.md"

    result = workspace.cli(
        "deploy", "--path", "k8s", "--output", "github", env={"GITHUB_STEP_SUMMARY": str(summary)}
    )

    assert result.exit_code == 0, result.stderr
    assert "::group::Plan: 2 change(s), 0 unchanged" in result.stdout
    assert "::endgroup::" in result.stdout
    text = summary.read_text()
    assert ": deployed" in text
    assert f"| created | `ConfigMap {ns}/cm` | `k8s/cm.yaml:1` |" in text
    assert f"Tag: `{workspace.tags()[0]}`" in text


def test_junit_report_follows_the_schema_jenkins_reads(workspace: Workspace, tmp_path: Path) -> None:
    ns = unique("junit")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/cm.yaml", config_map(ns, "cm", {"a": "b"}))
    workspace.commit()
    passed_report, failed_report = tmp_path / "ok.xml", tmp_path / "bad.xml"
    assert workspace.cli("deploy", "--path", "k8s", "--junit", str(passed_report)).exit_code == 0
    workspace.write("k8s/bad.yaml", bad_deployment(ns))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s", "--junit", str(failed_report)).exit_code == 3

    passed = junit(passed_report)
    suites = {suite["@name"]: suite for suite in passed["testsuite"]}
    assert {"validate", "dry-run", "apply", "gitops-push"} <= set(suites)
    apply_cases = {case["@name"] for case in suites["apply"]["testcase"]}
    assert apply_cases == {f"Namespace {ns}", f"ConfigMap {ns}/cm"}
    assert passed["@failures"] == 0
    failed = junit(failed_report)
    validate = next(suite for suite in failed["testsuite"] if suite["@name"] == "validate")
    bad = next(case for case in validate["testcase"] if case["@name"] == f"Deployment.apps {ns}/bad")
    assert bad["@file"] == "k8s/bad.yaml"
    assert "replicaz" in bad["failure"]["@message"]


def test_two_concurrent_deploys_of_one_environment_take_turns(workspace: Workspace, kube: Cluster) -> None:
    ns = unique("turns")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    # A first pipeline holds the lock (as a deploy in progress would) ...
    holder = locking.Lock(kube, workspace.env, "pipeline-one", "https://ci.example.test/runs/1")
    holder.acquire(timeout=5, sink=NoSink())
    workspace.write("k8s/cm.yaml", config_map(ns, "cm", {"a": "b"}))
    workspace.commit()
    results: list[Result] = []
    second = threading.Thread(
        target=lambda: results.append(
            workspace.cli("deploy", "--path", "k8s", "-o", "json", "--lock-timeout", "60s")
        )
    )
    started = time.monotonic()
    second.start()
    time.sleep(4)
    assert second.is_alive(), "the second deploy must wait for the lock"
    holder.release()
    second.join(timeout=60)

    assert results and results[0].exit_code == 0, results
    assert time.monotonic() - started >= 4
    assert any("held by pipeline-one" in note for note in results[0].json["notes"])
    assert kube.get(locking.LEASES, locking.LOCK_NAMESPACE, naming.lease(workspace.env)) is None


def test_a_held_lock_makes_a_deploy_fail_with_exit_code_5_naming_the_holder(
    workspace: Workspace, kube: Cluster
) -> None:
    ns = unique("held")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()
    holder = locking.Lock(kube, workspace.env, "pipeline-one", "https://ci.example.test/runs/7")
    holder.acquire(timeout=5, sink=NoSink())
    try:
        result = workspace.cli("deploy", "--path", "k8s", "-o", "json", "--lock-timeout", "3s")
    finally:
        holder.release()

    assert result.exit_code == 5
    error = result.json["errors"][0]
    assert error["reference"] == "lock-held"
    assert "pipeline-one" in error["message"] and "https://ci.example.test/runs/7" in error["message"]
    assert workspace.tags() == []


def test_a_stale_lock_of_a_killed_run_expires(workspace: Workspace, kube: Cluster) -> None:
    ns = unique("stale")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit()
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=10)
    kube.create(
        locking.LEASES,
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": naming.lease(workspace.env), "namespace": locking.LOCK_NAMESPACE},
            "spec": {
                "holderIdentity": "killed-pipeline pid 1",
                "leaseDurationSeconds": 60,
                "acquireTime": locking.micro_time(long_ago),
                "renewTime": locking.micro_time(long_ago),
            },
        },
    )

    result = workspace.cli("deploy", "--path", "k8s", "--lock-timeout", "5s")

    assert result.exit_code == 0, result.stderr


def test_unlock_breaks_a_lock_and_says_whose_it_was(workspace: Workspace, kube: Cluster) -> None:
    holder = locking.Lock(kube, workspace.env, "pipeline-nine", "https://ci.example.test/runs/9")
    holder.acquire(timeout=5, sink=NoSink())
    try:
        result = workspace.cli("unlock", "--env", workspace.env, "--kubeconfig", str(workspace.kubeconfig))
    finally:
        holder.release()

    assert result.exit_code == 0
    assert "pipeline-nine" in result.stdout and "active" in result.stdout
    assert kube.get(locking.LEASES, locking.LOCK_NAMESPACE, naming.lease(workspace.env)) is None
    again = workspace.cli("unlock", "--env", workspace.env, "--kubeconfig", str(workspace.kubeconfig))
    assert "is not locked" in again.stdout


class NoSink:
    def handle(self, event: object) -> None:
        pass
