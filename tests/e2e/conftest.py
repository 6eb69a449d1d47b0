"""One real control plane for the whole test run, from tools/devcluster.

If it cannot be built or started, every e2e test errors with the reason: nothing is skipped.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitops_push.kube import connect
from gitops_push.kube.client import KubeCluster
from tests.conftest import CACHE_ROOT, REPO_ROOT
from tests.e2e.workspace import Workspace, make_workspace

DEVCLUSTER = REPO_ROOT / "tools" / "devcluster"


@dataclass(frozen=True)
class DevCluster:
    name: str
    kubeconfig: Path

    @property
    def state(self) -> Path:
        return self.kubeconfig.parent

    @property
    def unprivileged_kubeconfig(self) -> Path:
        return self.state / "unprivileged.kubeconfig"


def devcluster(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITOPS_PUSH_CACHE": str(CACHE_ROOT)}
    return subprocess.run([str(DEVCLUSTER), *args], env=env, stdout=subprocess.PIPE, text=True, check=False)


@pytest.fixture(scope="session")
def cluster() -> Iterator[DevCluster]:
    name = f"pytest-{os.getpid()}"
    result = devcluster("up", "--name", name)
    if result.returncode != 0:
        devcluster("down", "--name", name)
        pytest.fail(f"the devcluster did not start (exit {result.returncode}); its messages are above", False)
    yield DevCluster(name=name, kubeconfig=Path(result.stdout.strip().splitlines()[-1]))
    devcluster("down", "--name", name)


@pytest.fixture
def kube(cluster: DevCluster, tmp_path: Path) -> Iterator[KubeCluster]:
    """The product's own client layer, connected as cluster admin."""
    connection = connect(str(cluster.kubeconfig), None, cache_dir=tmp_path / "kube-cache")
    yield connection
    connection.close()


@pytest.fixture
def workspace(cluster: DevCluster, tmp_path: Path) -> Workspace:
    """An empty Git repository and a fresh environment name, deploying to the test cluster."""
    return make_workspace(tmp_path, cluster.kubeconfig)
