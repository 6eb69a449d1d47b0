"""Faults injected for real: connection resets, latency and stalls through a TCP proxy, and the API
server process killed in the middle of a deploy. Deploys survive what retries can cover, fail
cleanly (no tag) when they cannot, and converge when rerun. An API server down for longer than
--unreachable-timeout stops the whole run with one error, not one per object."""

from __future__ import annotations

import gc
import json
import os
import threading
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_push.kube import Cluster, connect
from tests.e2e.conftest import DevCluster, devcluster
from tests.e2e.faultproxy import FaultProxy
from tests.e2e.workspace import (
    CONFIG_MAPS,
    Result,
    Workspace,
    config_map,
    make_workspace,
    namespace_manifest,
    unique,
)

pytestmark = [
    pytest.mark.e2e,
    # Connections reset under the client leave TLS sockets that only the garbage collector closes.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def apiserver_port(cluster: DevCluster) -> int:
    return int(json.loads((cluster.state / "cluster.json").read_text())["ports"]["apiserver"])


def kubeconfig_via(cluster: DevCluster, port: int, target: Path) -> Path:
    config = json.loads(cluster.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    target.write_text(json.dumps(config))
    return target


@pytest.fixture(autouse=True)
def abandoned_connections_collected_here() -> Iterator[None]:
    """A run that gives up on a vanished server does not wait for the requests hanging in flight (by
    design); their worker threads end at their read timeout. Wait for them and collect their sockets
    here, where they were abandoned, rather than in whichever later test the collector runs."""
    yield
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(
        t.name.startswith("ThreadPoolExecutor") for t in threading.enumerate()
    ):
        time.sleep(0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture
def proxy(cluster: DevCluster) -> Iterator[FaultProxy]:
    faulty = FaultProxy(apiserver_port(cluster))
    yield faulty
    faulty.close()


def many_config_maps(workspace: Workspace, ns: str, count: int) -> None:
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write(
        "k8s/cms.yaml", "---\n".join(config_map(ns, f"cm-{n}", {"n": str(n)}) for n in range(count))
    )


def test_an_unreachable_api_server_is_named_and_nothing_else_happens(
    workspace: Workspace, tmp_path: Path
) -> None:
    with socket_closed() as port:
        config = json.loads(workspace.kubeconfig.read_text())
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
        (tmp_path / "dead.kubeconfig").write_text(json.dumps(config))
        workspace.write("k8s/ns.yaml", namespace_manifest(unique("dead")))
        workspace.commit()
        result = workspace.cli(
            "deploy", "--path", "k8s", "-o", "json", kubeconfig=tmp_path / "dead.kubeconfig"
        )

    assert result.exit_code == 1
    error = result.json["errors"][0]
    assert error["reference"] == "cluster-unreachable"
    assert f"https://127.0.0.1:{port}" in error["message"]
    assert workspace.tags() == []


def test_connection_resets_are_retried(
    workspace: Workspace, kube: Cluster, proxy: FaultProxy, cluster: DevCluster, tmp_path: Path
) -> None:
    ns = unique("resets")
    many_config_maps(workspace, ns, 20)
    workspace.commit()
    proxy.faults.reset_next = 3
    proxy.faults.reset_all_after = 60  # and, later, every open connection at once

    result = workspace.cli(
        "deploy",
        "--path",
        "k8s",
        "-o",
        "json",
        kubeconfig=kubeconfig_via(cluster, proxy.port, tmp_path / "k"),
    )

    assert result.exit_code == 0, result.stderr
    assert proxy.faults.spent
    assert all(kube.get(CONFIG_MAPS, ns, f"cm-{n}") is not None for n in range(20))


def test_latency_slows_but_does_not_break_a_deploy(
    workspace: Workspace, kube: Cluster, proxy: FaultProxy, cluster: DevCluster, tmp_path: Path
) -> None:
    ns = unique("latency")
    many_config_maps(workspace, ns, 5)
    workspace.commit()
    proxy.faults.latency = 0.05

    result = workspace.cli(
        "deploy", "--path", "k8s", kubeconfig=kubeconfig_via(cluster, proxy.port, tmp_path / "k")
    )

    assert result.exit_code == 0, result.stderr
    assert kube.get(CONFIG_MAPS, ns, "cm-4") is not None


def test_stalled_connections_time_out_and_are_retried(
    workspace: Workspace, kube: Cluster, proxy: FaultProxy, cluster: DevCluster, tmp_path: Path
) -> None:
    ns = unique("stall")
    many_config_maps(workspace, ns, 3)
    workspace.commit()
    proxy.faults.stall_next = 1  # the first request, the version check, is retried within 5 s

    started = time.monotonic()
    result = workspace.cli(
        "deploy",
        "--path",
        "k8s",
        "--request-timeout",
        "2s",
        kubeconfig=kubeconfig_via(cluster, proxy.port, tmp_path / "k"),
    )

    assert result.exit_code == 0, result.stderr
    assert time.monotonic() - started < 60
    assert proxy.faults.spent
    assert kube.get(CONFIG_MAPS, ns, "cm-2") is not None


@pytest.fixture
def own_cluster() -> Iterator[DevCluster]:
    """A cluster of this test's own: its API server is killed and restarted."""
    name = f"pytest-faults-{os.getpid()}"
    started = devcluster("up", "--name", name)
    assert started.returncode == 0
    yield DevCluster(name, Path(started.stdout.strip().splitlines()[-1]))
    devcluster("down", "--name", name)


OUTAGE_OBJECTS = 300  # as in the report of issue 12: 300 ConfigMaps, the API server killed mid-apply


def slowed_deploy_setup(
    cluster: DevCluster, tmp_path: Path, ns: str
) -> tuple[Workspace, Cluster, FaultProxy]:
    """300 objects to deploy through a proxy that slows each chunk: long enough to stop the API server
    in the middle of the apply."""
    workspace = make_workspace(tmp_path, cluster.kubeconfig)
    many_config_maps(workspace, ns, OUTAGE_OBJECTS)
    workspace.commit()
    kube = connect(str(cluster.kubeconfig), None, cache_dir=tmp_path / "cache")
    proxy = FaultProxy(apiserver_port(cluster))
    proxy.faults.latency = 0.01
    return workspace, kube, proxy


def deploy_in_background(
    workspace: Workspace, kubeconfig: Path, *args: str
) -> tuple[threading.Thread, list[Result]]:
    """The deploy through `kubeconfig` (workspace.cli would put its own after a --kubeconfig in args)."""
    results: list[Result] = []
    thread = threading.Thread(
        target=lambda: results.append(
            workspace.cli("deploy", "--path", "k8s", "-o", "json", *args, kubeconfig=kubeconfig)
        )
    )
    thread.start()
    return thread, results


def wait_for_some(kube: Cluster, ns: str, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        present = sum(kube.get(CONFIG_MAPS, ns, f"cm-{n}") is not None for n in range(0, OUTAGE_OBJECTS, 20))
        if present >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError("the deploy never started applying")


def test_an_api_server_down_past_the_budget_stops_the_run_with_one_error_and_a_rerun_converges(
    own_cluster: DevCluster, tmp_path: Path
) -> None:
    ns = unique("killed")
    workspace, kube, proxy = slowed_deploy_setup(own_cluster, tmp_path, ns)
    via_proxy = kubeconfig_via(own_cluster, proxy.port, tmp_path / "k")
    junit = tmp_path / "junit.xml"
    try:
        thread, results = deploy_in_background(
            workspace,
            via_proxy,
            # a few requests in flight, so that the server stops mid-apply however fast it is
            *("--concurrency", "8", "--unreachable-timeout", "5s", "--request-timeout", "5s"),
            *("--junit", str(junit)),
        )
        wait_for_some(kube, ns, 2)
        assert devcluster("stop", "kube-apiserver", "--name", own_cluster.name).returncode == 0
        stopped = time.monotonic()
        thread.join(timeout=120)
        gave_up_after = time.monotonic() - stopped
        assert devcluster("start", "kube-apiserver", "--name", own_cluster.name).returncode == 0
        failed = results[0]
        assert failed.exit_code == 1, failed.stderr
        # Requests in flight when the server vanished may hang until their read timeout before anything
        # fails; then the budget runs. Seconds, not the minutes of one budget per object. The budget
        # counts from the first failed request, which can come before `devcluster stop` returns.
        assert 4 <= gave_up_after < 5 + 5 + 10
        (error,) = failed.json["errors"]  # one error for the run, not one per object
        assert error["reference"] == "cluster-unreachable"
        assert error["message"].startswith(
            f"cannot reach the API server https://127.0.0.1:{proxy.port}: no answer for 5 s"
        )
        assert failed.json["counts"]["failed"] == 0
        assert 0 < failed.json["counts"]["skipped"] < OUTAGE_OBJECTS  # what was not sent
        failures = ET.parse(junit).iter("failure")  # noqa: S314 - a file the run under test wrote
        assert any(f.get("message", "").startswith("cannot reach") for f in failures)
        assert workspace.tags() == []

        proxy.faults.latency = 0.0
        rerun = workspace.cli("deploy", "--path", "k8s", "-o", "json")  # waits for the lock to expire
    finally:
        proxy.close()
        kube.close()

    assert rerun.exit_code == 0, rerun.stderr
    assert len(workspace.tags()) == 1
    kube = connect(str(own_cluster.kubeconfig), None, cache_dir=tmp_path / "cache2")
    assert all(kube.get(CONFIG_MAPS, ns, f"cm-{n}") is not None for n in range(OUTAGE_OBJECTS))


def test_an_api_server_back_within_the_budget_lets_the_deploy_finish(
    own_cluster: DevCluster, tmp_path: Path
) -> None:
    ns = unique("restarted")
    workspace, kube, proxy = slowed_deploy_setup(own_cluster, tmp_path, ns)
    try:
        thread, results = deploy_in_background(
            workspace,
            kubeconfig_via(own_cluster, proxy.port, tmp_path / "k"),
            # a few requests in flight, so that the server stops mid-apply; hanging ones retried soon
            *("--concurrency", "8", "--unreachable-timeout", "60s", "--request-timeout", "5s"),
        )
        wait_for_some(kube, ns, 2)
        assert devcluster("stop", "kube-apiserver", "--name", own_cluster.name).returncode == 0
        time.sleep(1)
        assert devcluster("start", "kube-apiserver", "--name", own_cluster.name).returncode == 0
        proxy.faults.latency = 0.0
        thread.join(timeout=180)
    finally:
        proxy.close()

    assert results and results[0].exit_code == 0, results[0].stderr if results else "no result"
    assert len(workspace.tags()) == 1
    assert all(kube.get(CONFIG_MAPS, ns, f"cm-{n}") is not None for n in range(OUTAGE_OBJECTS))
    kube.close()


class socket_closed:
    """A loopback port with nothing listening on it."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        pass
