"""`devcluster up` twice, then `down`: same kubeconfig, and no process of it left running."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.conftest import DevCluster, devcluster

pytestmark = pytest.mark.e2e


def running(pid: int, binary: str) -> bool:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode() == binary
    except OSError:
        return False


def test_down_stops_every_process_and_removes_the_state(cluster: DevCluster) -> None:
    # `cluster` first: the binaries are built once, by the shared fixture.
    name = f"pytest-lifecycle-{os.getpid()}"
    first = devcluster("up", "--name", name)
    assert first.returncode == 0
    kubeconfig = Path(first.stdout.strip().splitlines()[-1])
    try:
        second = devcluster("up", "--name", name)
        assert second.stdout.strip().splitlines()[-1] == str(kubeconfig)
        pids = json.loads((kubeconfig.parent / "cluster.json").read_text())["pids"]
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
        assert all(running(p["pid"], p["binary"]) for p in pids.values())
    finally:
        down = devcluster("down", "--name", name)
    assert down.returncode == 0
    assert not any(running(p["pid"], p["binary"]) for p in pids.values())
    assert not kubeconfig.parent.exists()
    assert devcluster("status", "--name", name).returncode == 1
