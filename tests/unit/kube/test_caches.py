"""KubeCluster's caches and measurements, with a small server played at the `_send` seam: discovery
kept on disk while the OpenAPI index says its group-version is unchanged, the index asked once per
run, the round trip taken from the answers."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from gitops_push.kube.client import KubeCluster

CONFIG_MAPS = {"name": "configmaps", "kind": "ConfigMap", "namespaced": True}
LEASES = {"name": "leases", "kind": "Lease", "namespaced": True}


class FakeApi:
    configuration = type("Configuration", (), {"host": "https://127.0.0.1:6443"})()


class Server(KubeCluster):
    """Answers /version, /openapi/v3 and discovery of v1 and coordination.k8s.io/v1; logs the paths."""

    def __init__(self, tmp_path: Path, *, core_hash: str = "AAA", core: list[Any] | None = None) -> None:
        super().__init__(FakeApi(), cache_dir=tmp_path)
        self.sent: list[str] = []
        self.core_hash = core_hash
        self.core = core if core is not None else [CONFIG_MAPS]

    def _send(self, method: str, path: str, query: Any, body: Any, content_type: str) -> Any:
        self.sent.append(path)
        answers: dict[str, Any] = {
            "/version": {"gitVersion": "v1.36.3"},
            "/openapi/v3": {
                "paths": {
                    "api/v1": {"serverRelativeURL": f"/openapi/v3/api/v1?hash={self.core_hash}"},
                    "apis/coordination.k8s.io/v1": {
                        "serverRelativeURL": "/openapi/v3/apis/coordination.k8s.io/v1?hash=BBB"
                    },
                }
            },
            "/api/v1": {"resources": self.core},
            "/apis/coordination.k8s.io/v1": {"resources": [LEASES]},
        }
        return answers[path]


def started(server: Server) -> Server:
    server.version()
    server.openapi_index()
    return server


def test_discovery_is_asked_once_then_read_from_disk_while_the_openapi_hash_holds(tmp_path: Path) -> None:
    first = started(Server(tmp_path))
    assert first.resource("v1", "ConfigMap") is not None
    assert "/api/v1" in first.sent
    second = started(Server(tmp_path))
    resource = second.resource("v1", "ConfigMap")
    assert resource is not None and resource.plural == "configmaps"
    assert second.sent == ["/version", "/openapi/v3"]


def test_a_changed_group_version_is_discovered_again_at_the_same_server_version(tmp_path: Path) -> None:
    started(Server(tmp_path)).resource("v1", "ConfigMap")
    secrets = {"name": "secrets", "kind": "Secret", "namespaced": True}
    changed = started(Server(tmp_path, core_hash="CCC", core=[CONFIG_MAPS, secrets]))
    assert changed.resource("v1", "Secret") is not None
    assert "/api/v1" in changed.sent


def test_the_openapi_index_is_asked_once_per_run_and_again_after_discovery_is_forgotten(
    tmp_path: Path,
) -> None:
    server = Server(tmp_path)
    server.openapi_index()
    server.openapi_index()
    assert server.sent == ["/openapi/v3"]
    server.forget_discovery()  # CRDs were applied: new group-versions may have appeared
    server.openapi_index()
    assert server.sent == ["/openapi/v3", "/openapi/v3"]


def test_the_round_trip_is_the_fastest_answer_seen(tmp_path: Path) -> None:
    server = Server(tmp_path)
    assert server.round_trip() is None
    ticks = iter([0.0, 0.030, 1.0, 1.012, 2.0, 2.050])  # answers in 30, 12 and 50 ms
    server._timer = lambda: next(ticks)
    for _ in range(3):
        server.version()
    assert server.round_trip() == pytest.approx(0.012)


def test_discovery_of_one_group_version_does_not_hold_up_another(tmp_path: Path) -> None:
    slow_started, slow_may_answer = threading.Event(), threading.Event()

    class SlowNewGroup(Server):
        def _send(self, method: str, path: str, query: Any, body: Any, content_type: str) -> Any:
            if path == "/apis/example.test/v1":  # a new CRD's group: not cached, asked over the network
                self.sent.append(path)
                slow_started.set()
                assert slow_may_answer.wait(10)
                return {"resources": [{"name": "widgets", "kind": "Widget", "namespaced": True}]}
            return super()._send(method, path, query, body, content_type)

    server = started(SlowNewGroup(tmp_path))
    found: dict[str, Any] = {}
    asking = threading.Thread(
        target=lambda: found.update(widget=server.resource("example.test/v1", "Widget"))
    )
    asking.start()
    assert slow_started.wait(10)
    assert server.resource("v1", "ConfigMap") is not None  # answered while the other is in flight
    slow_may_answer.set()
    asking.join(10)
    assert found["widget"] is not None and found["widget"].plural == "widgets"
    assert server.sent.count("/apis/example.test/v1") == 1


def test_forgetting_discovery_keeps_the_built_in_group_versions(tmp_path: Path) -> None:
    class WithWidgets(Server):
        def _send(self, method: str, path: str, query: Any, body: Any, content_type: str) -> Any:
            if path == "/apis/example.test/v1":
                self.sent.append(path)
                return {"resources": [{"name": "widgets", "kind": "Widget", "namespaced": True}]}
            return super()._send(method, path, query, body, content_type)

    server = started(WithWidgets(tmp_path))
    server.resource("v1", "ConfigMap")
    server.resource("example.test/v1", "Widget")
    server.forget_discovery()  # CRDs were applied
    server.sent.clear()
    assert server.resource("v1", "ConfigMap") is not None
    assert server.resource("example.test/v1", "Widget") is not None
    assert server.sent == ["/apis/example.test/v1"]  # only the custom group-version is asked again
