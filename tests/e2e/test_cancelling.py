"""Cancellation the way CI systems do it: `gitops-push deploy` runs as a real process and gets SIGTERM
in the middle of its apply. It sends no new request, releases the lock, writes its JSON and JUnit
reports, says what it applied, exits 143 without a tag; a rerun converges."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gitops_push import naming
from gitops_push.kube import Cluster
from gitops_push.stages import locking
from tests.conftest import REPO_ROOT
from tests.e2e.conftest import DevCluster
from tests.e2e.faultproxy import FaultProxy
from tests.e2e.test_faults import apiserver_port, kubeconfig_via, many_config_maps
from tests.e2e.workspace import CONFIG_MAPS, Workspace, unique

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),  # the proxy's sockets, as in test_faults
]

COUNT = 200
MESSAGE = re.compile(
    r"cancelled by SIGTERM: no new requests were sent; (\d+) objects were applied, "
    r"the deploy tag was not moved; rerun to converge"
)


def config_maps_in(kube: Cluster, ns: str) -> int:
    return len(kube.list(CONFIG_MAPS, namespace=ns, label_selector="")) - 1  # minus kube-root-ca.crt


def wait_until_applying(kube: Cluster, ns: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if kube.get(CONFIG_MAPS, ns, "cm-0") is not None:
            return
        time.sleep(0.05)
    raise AssertionError("the deploy never started applying")


def test_sigterm_stops_sending_releases_the_lock_writes_the_reports_and_a_rerun_converges(
    workspace: Workspace, kube: Cluster, cluster: DevCluster, tmp_path: Path
) -> None:
    ns = unique("cancel")
    many_config_maps(workspace, ns, COUNT)
    workspace.commit()
    junit = tmp_path / "junit.xml"
    proxy = FaultProxy(apiserver_port(cluster))
    proxy.faults.latency = 0.01  # slow enough for the signal to land in the middle of the apply
    try:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gitops_push", "deploy", "--path", "k8s", "--env", workspace.env),
                *("--repo", str(workspace.root), "-o", "json", "--junit", str(junit), "--concurrency", "2"),
                *("--kubeconfig", str(kubeconfig_via(cluster, proxy.port, tmp_path / "k"))),
            ],
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until_applying(kube, ns)
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        stdout, stderr = process.communicate(timeout=60)
        stopped_after = time.monotonic() - signalled
    finally:
        proxy.close()

    assert process.returncode == 143, stderr
    assert stopped_after < 10
    document = json.loads(stdout)
    assert (document["result"], document["exit_code"], document["tag"]) == ("failed", 143, None)
    (error,) = document["errors"]
    assert error["reference"] == "cancelled"
    match = MESSAGE.fullmatch(error["message"])
    assert match is not None, error["message"]
    applied = int(match[1])
    present = config_maps_in(kube, ns)
    assert present == applied - 1  # the Namespace is one of the applied: nothing was sent unreported
    assert 0 < present < COUNT
    time.sleep(1)
    assert config_maps_in(kube, ns) == present  # and nothing after the exit either
    assert document["counts"]["skipped"] == COUNT - present
    assert kube.get(locking.LEASES, naming.RECORD_NAMESPACE, naming.lease(workspace.env)) is None
    failures = ET.parse(junit).getroot().iter("failure")  # noqa: S314 - a file the run under test wrote
    assert any("cancelled by SIGTERM" in (f.get("message") or "") + (f.text or "") for f in failures)
    assert workspace.tags() == []

    rerun = workspace.cli("deploy", "--path", "k8s", "-o", "json")
    assert rerun.exit_code == 0, rerun.stderr
    assert len(workspace.tags()) == 1
    assert config_maps_in(kube, ns) == COUNT
