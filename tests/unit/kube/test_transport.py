"""The HTTP/1.1 transport on the edges that a real API server does not show on demand: answers
ended by closing, chunked with trailers, interim answers, kept-alive connections closed by the server,
truncated or malformed answers, stalls, and TLS that must be verified. A small scripted server on
127.0.0.1 plays each answer byte for byte; the e2e tests send every request of a run through the
same transport to the real API server."""

from __future__ import annotations

import datetime
import ipaddress
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gitops_push.kube import transport

Handler = Callable[["ScriptedServer", socket.socket, int], None]  # (server, connection, its number from 0)


class ScriptedServer:
    """Accepts connections and hands each to the handler, in a thread of its own."""

    def __init__(self, handler: Handler, context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.connections = 0
        self.requests: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            number, self.connections = self.connections, self.connections + 1
            threading.Thread(target=self._handle, args=(sock, number), daemon=True).start()

    def _handle(self, sock: socket.socket, number: int) -> None:
        try:
            if self.context is not None:
                sock = self.context.wrap_socket(sock, server_side=True)
            self.handler(self, sock, number)
        except OSError:
            pass
        finally:
            sock.close()

    def read_request(self, sock: socket.socket) -> bytes:
        """One request, headers and body (by its Content-Length); b"" if the client closed."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return b""
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        while len(body) < length:
            body += sock.recv(65536)
        self.requests.append(head + b"\r\n\r\n" + body)
        return head + b"\r\n\r\n" + body

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(handler: Handler, context: ssl.SSLContext | None = None) -> ScriptedServer:
        servers.append(ScriptedServer(handler, context))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


OPENED: list[transport.Connections] = []


@pytest.fixture(autouse=True)
def closed_after() -> Iterator[None]:
    """Every pool a test opened is closed after it (an open socket left behind is an error here)."""
    yield
    while OPENED:
        OPENED.pop().close()


def pool(config: SimpleNamespace) -> transport.Connections:
    connections = transport.for_configuration(config, keep=4)
    assert connections is not None
    OPENED.append(connections)
    return connections


def plain(server: ScriptedServer, *, path: str = "") -> transport.Connections:
    return pool(configuration(f"http://127.0.0.1:{server.port}{path}"))


def configuration(host: str, **settings: Any) -> SimpleNamespace:
    """The attributes of the official client's Configuration that the transport reads."""
    defaults: dict[str, Any] = {
        "host": host,
        "proxy": None,
        "assert_hostname": None,
        "socket_options": None,
        "keep_alive": False,
        "ssl_ca_cert": None,
        "ca_cert_data": None,
        "cert_file": None,
        "key_file": None,
        "verify_ssl": True,
        "tls_server_name": None,
    }
    return SimpleNamespace(**{**defaults, **settings})


def get(connections: transport.Connections, target: str = "/api/v1", **kwargs: Any) -> transport.Answer:
    return connections.send(
        "GET", target, {"Accept": "application/json"}, None, (2.0, 2.0), repeatable=True, **kwargs
    )


OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"ok": true}'


def answering(*answers: bytes, then_close: bool = False) -> Handler:
    """A handler that answers each request on a connection with the next of `answers`."""

    def handler(server: ScriptedServer, sock: socket.socket, number: int) -> None:
        for answer in answers:
            if not server.read_request(sock):
                return
            sock.sendall(answer)
        if not then_close:
            server.read_request(sock)

    return handler


def test_a_kept_alive_connection_carries_the_next_request(serve: Callable[..., ScriptedServer]) -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    server = serve(answering(ok, ok, ok))
    connections = plain(server)
    for _ in range(3):
        answer = get(connections)
        assert (answer.status, answer.body) == (200, b"{}")
    assert server.connections == 1
    assert server.requests[0].startswith(b"GET /api/v1 HTTP/1.1\r\nHost: 127.0.0.1:")
    connections.close()


def test_chunked_answers_with_extensions_and_trailers_are_joined(
    serve: Callable[..., ScriptedServer],
) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4;ext=1\r\n{"a"\r\n5\r\n: 1}\n\r\n0\r\nX-Trailer: yes\r\n\r\n'
    )
    after = b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n{ }"
    server = serve(answering(chunked, after))
    connections = plain(server)
    assert get(connections).body == b'{"a": 1}\n'
    second = get(connections)
    assert (second.status, second.body) == (404, b"{ }")
    assert server.connections == 1  # the trailer was read to its end: the next answer parsed whole


def test_an_answer_ended_by_closing_is_read_to_the_end_and_its_connection_dropped(
    serve: Callable[..., ScriptedServer],
) -> None:
    server = serve(answering(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 300_000, then_close=True))
    connections = plain(server)
    assert get(connections).body == b"x" * 300_000
    assert get(connections).body == b"x" * 300_000
    assert server.connections == 2


def test_connection_close_and_http_1_0_are_not_reused(serve: Callable[..., ScriptedServer]) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    old = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    server = serve(answering(closing, old))
    connections = plain(server)
    get(connections)
    get(connections)
    assert server.connections == 2


def test_an_interim_answer_is_skipped(serve: Callable[..., ScriptedServer]) -> None:
    server = serve(
        answering(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")
    )
    answer = get(plain(server))
    assert (answer.status, answer.body) == (201, b"{}")


def test_headers_are_lower_case_and_repeated_ones_joined(serve: Callable[..., ScriptedServer]) -> None:
    answer = (
        b'HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nWarning: 299 - "a"\r\n'
        b'Warning: 299 - "b"\r\nContent-Length: 0\r\n\r\n'
    )
    server = serve(answering(answer))
    got = get(plain(server))
    assert got.status == 429 and got.body == b""
    assert got.headers["retry-after"] == "3"
    assert got.headers["warning"] == '299 - "a", 299 - "b"'


def stale_then_answer(server: ScriptedServer, sock: socket.socket, number: int) -> None:
    """The first connection answers once, then reads the next request and closes without a word
    (as a server does with a connection it timed out just as the client sent on it)."""
    while server.read_request(sock):
        if number == 0 and len(server.requests) > 1:
            sock.shutdown(socket.SHUT_RDWR)
            return
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")


def stale_connection(
    serve: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> tuple[ScriptedServer, transport.Connections]:
    """A pool holding one kept-alive connection that the server closes as the next request travels
    on it (so the closing is not seen before sending)."""
    server = serve(stale_then_answer)
    connections = plain(server)
    get(connections)
    monkeypatch.setattr(transport._Connection, "usable", lambda self: True)
    return server, connections


def test_a_kept_alive_connection_the_server_closed_is_replaced_for_a_repeatable_request(
    serve: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, connections = stale_connection(serve, monkeypatch)
    answer = get(connections)
    assert (answer.status, answer.body) == (200, b"{}")
    assert server.connections == 2


def test_a_request_that_may_not_be_sent_twice_is_not_sent_again(
    serve: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, connections = stale_connection(serve, monkeypatch)
    with pytest.raises(ConnectionResetError, match="kept-alive"):
        connections.send("POST", "/api/v1/x", {}, b"{}", (2.0, 2.0), repeatable=False)
    assert server.connections == 1


def test_an_idle_connection_the_server_closed_is_not_used(serve: Callable[..., ScriptedServer]) -> None:
    server = serve(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", then_close=True))
    connections = plain(server)
    get(connections)
    [idle] = connections._idle
    assert select.select([idle._sock], [], [], 5)[0], "the server's close did not arrive"
    # Even a request that may not be sent twice goes: the closed connection is left before sending.
    answer = connections.send("POST", "/api/v1/x", {}, b"{}", (2.0, 2.0), repeatable=False)
    assert answer.status == 200
    assert server.connections == 2


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"a"', "in the middle of an answer"),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP/1.1 answer"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "malformed Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", "does not end"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-Long: " + b"a" * 70_000, "longer than"),
    ],
)
def test_a_broken_answer_is_a_protocol_error(
    serve: Callable[..., ScriptedServer], answer: bytes, message: str
) -> None:
    server = serve(answering(answer, then_close=True))
    with pytest.raises(transport.ProtocolError, match=message):
        get(plain(server))


def test_a_server_that_never_answers_times_out(serve: Callable[..., ScriptedServer]) -> None:
    release = threading.Event()
    server = serve(lambda server, sock, number: release.wait(5))
    connections = plain(server)
    with pytest.raises(TimeoutError):
        connections.send("GET", "/api", {}, None, (1.0, 0.3), repeatable=True)
    release.set()


def test_nothing_is_sent_with_a_line_break_in_a_header(serve: Callable[..., ScriptedServer]) -> None:
    server = serve(answering(OK))
    connections = plain(server)
    with pytest.raises(transport.ProtocolError, match="line break"):
        connections.send(
            "GET", "/", {"Authorization": "Bearer a\r\nX-Evil: 1"}, None, (1, 1), repeatable=True
        )
    assert server.connections == 0


def test_the_server_url_path_prefixes_every_request_and_odd_characters_are_encoded(
    serve: Callable[..., ScriptedServer],
) -> None:
    server = serve(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
    get(plain(server, path="/k8s/clusters/c-1/"), "/api/v1/namespaces/é a?labelSelector=a%3Db")
    assert server.requests[0].startswith(
        b"GET /k8s/clusters/c-1/api/v1/namespaces/%C3%A9%20a?labelSelector=a%3Db HTTP/1.1\r\n"
    )


def test_a_connection_that_comes_back_after_close_is_closed(serve: Callable[..., ScriptedServer]) -> None:
    release = threading.Event()

    def slow(server: ScriptedServer, sock: socket.socket, number: int) -> None:
        server.read_request(sock)
        release.wait(5)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        server.read_request(sock)

    connections = plain(serve(slow))
    answered: list[int] = []
    worker = threading.Thread(target=lambda: answered.append(get(connections).status))
    worker.start()
    connections.close()  # while the request is still waiting for its answer
    release.set()
    worker.join(5)
    assert answered == [200]
    assert connections._idle == []


def test_a_body_goes_with_its_length(serve: Callable[..., ScriptedServer]) -> None:
    server = serve(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
    plain(server).send(
        "PATCH", "/x", {"Content-Type": "application/apply-patch+yaml"}, b'{"a":1}', (1, 1), repeatable=True
    )
    assert server.requests[0].endswith(b'Content-Length: 7\r\n\r\n{"a":1}')


@pytest.mark.parametrize(
    "settings", [{"proxy": "http://proxy:3128"}, {"assert_hostname": "other"}, {"socket_options": []}]
)
def test_what_only_urllib3_does_is_left_to_the_official_client(settings: dict[str, Any]) -> None:
    assert transport.for_configuration(configuration("https://127.0.0.1:6443", **settings), keep=4) is None


# --- TLS --------------------------------------------------------------------------------------------


def alternative_name(san: str) -> x509.GeneralName:
    try:
        address = ipaddress.ip_address(san)
    except ValueError:
        return x509.DNSName(san)
    return x509.IPAddress(address)


def certificate_pair(tmp_path: Path, name: str, san: str) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) files: a CA of its own signs a certificate
    for `san` (an IP address or a DNS name)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name}-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alternative_name(san)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = tmp_path / f"{name}-ca.crt", tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


@pytest.fixture
def tls_server(serve: Callable[..., ScriptedServer], tmp_path: Path) -> tuple[ScriptedServer, Path]:
    ca, cert, key = certificate_pair(tmp_path, "server", "127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return serve(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"), context), ca


def test_tls_is_verified_against_the_kubeconfig_ca(tls_server: tuple[ScriptedServer, Path]) -> None:
    server, ca = tls_server
    assert get(pool(configuration(f"https://127.0.0.1:{server.port}", ssl_ca_cert=str(ca)))).status == 200


def test_a_server_certificate_of_another_ca_is_refused(
    tls_server: tuple[ScriptedServer, Path], tmp_path: Path
) -> None:
    server, _ = tls_server
    other_ca, _, _ = certificate_pair(tmp_path, "other", "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError):
        get(pool(configuration(f"https://127.0.0.1:{server.port}", ssl_ca_cert=str(other_ca))))


def test_a_certificate_for_another_name_is_refused_unless_tls_server_name_names_it(
    serve: Callable[..., ScriptedServer], tmp_path: Path
) -> None:
    ca, cert, key = certificate_pair(tmp_path, "named", "api.cluster.internal")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = serve(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"), context)
    host = f"https://127.0.0.1:{server.port}"
    with pytest.raises(ssl.SSLCertVerificationError):
        get(pool(configuration(host, ssl_ca_cert=str(ca))))
    named = pool(configuration(host, ssl_ca_cert=str(ca), tls_server_name="api.cluster.internal"))
    assert get(named).status == 200


def test_verification_is_off_only_when_the_kubeconfig_turns_it_off(
    tls_server: tuple[ScriptedServer, Path], tmp_path: Path
) -> None:
    server, _ = tls_server
    other_ca, _, _ = certificate_pair(tmp_path, "other", "127.0.0.1")
    insecure = pool(
        configuration(f"https://127.0.0.1:{server.port}", ssl_ca_cert=str(other_ca), verify_ssl=False)
    )
    assert get(insecure).status == 200
