"""Issue 12, cases 7, 8 and 11 (part), on the real control plane: a re-run keeps failing fast."""

from __future__ import annotations

import time

import pytest

from tests.e2e.test_health_and_history import NOWHERE, deployment
from tests.e2e.workspace import Workspace, namespace_manifest, unique

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

