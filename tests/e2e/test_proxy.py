"""A kubeconfig's `proxy-url`: every request of a deploy goes through the HTTP CONNECT proxy it names.

Requests normally go over `kube/transport.py`'s own connections; a proxy is left to the official
client's urllib3 pool. This proves that path end to end against the real API server, through a small
CONNECT proxy on 127.0.0.1 that records the tunnels it opened.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.e2e.conftest import DevCluster
from tests.e2e.workspace import Workspace, namespace_manifest, unique

pytestmark = pytest.mark.e2e


class ConnectProxy:
    """Answers CONNECT host:port with a tunnel to it, and records each target."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.tunnels: list[str] = []
        self.refused: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
            if method != b"CONNECT":
                self.refused.append(head)
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            host, _, port = target.decode().rpartition(":")
            with socket.create_connection((host, int(port))) as upstream:
                self.tunnels.append(target.decode())
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
                back.start()
                _pump(client, upstream)
                back.join(timeout=5)

    def close(self) -> None:
        self.listener.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    running = ConnectProxy()
    yield running
    running.close()


def test_a_deploy_goes_through_the_kubeconfigs_proxy(
    cluster: DevCluster, workspace: Workspace, proxy: ConnectProxy, tmp_path: Path
) -> None:
    config: dict[str, Any] = yaml.safe_load(cluster.kubeconfig.read_text())
    for entry in config["clusters"]:
        entry["cluster"]["proxy-url"] = f"http://127.0.0.1:{proxy.port}"
    kubeconfig = tmp_path / "proxied.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    server = urlsplit(config["clusters"][0]["cluster"]["server"]).netloc
    namespace = unique("proxied")
    workspace.write("k8s/ns.yaml", namespace_manifest(namespace))
    workspace.commit("a namespace, deployed through a proxy")

    result = workspace.cli("deploy", "--path", "k8s", "--no-push", kubeconfig=kubeconfig)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert proxy.tunnels and set(proxy.tunnels) == {server}, proxy.tunnels
    assert proxy.refused == []
    again = workspace.cli("plan", "--path", "k8s", kubeconfig=kubeconfig)  # reads the record it wrote
    assert again.exit_code == 0 and "nothing to deploy" in again.stdout + again.stderr, again.stderr
