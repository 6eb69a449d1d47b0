"""Requests to the API server over kept-alive HTTP/1.1 connections, on the standard library's
sockets and TLS: what `KubeCluster` sends once the official client has read the kubeconfig.

Why not the official client's own stack (ApiClient, urllib3, http.client): it cost 0.5 to 0.9 ms of
CPU per request with 16 to 36 requests in flight, and this costs about 0.2 ms, JSON included (400
server-side dry-runs to a devcluster, three rounds each; `benchmarks/` has the deploys). A deploy
sends two requests per object, and on a CI runner of two cores every millisecond the client spends is
one the API server does not get.

What this does, and no more: TLS set up as the official client sets up urllib3 (the kubeconfig's CA
or the system's, the client certificate, `tls-server-name`, verification off only when the
kubeconfig says so), connections reused while the server keeps them open, answers with a
Content-Length, chunked or ended by closing. A connection found closed by the server before any
answer came is replaced once, for requests that may be sent twice. Everything else (a proxy, an
asserted hostname, socket options) is left to the official client: `for_configuration` returns None
and `KubeCluster` sends through urllib3 as before.
"""

from __future__ import annotations

import re
import select
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

MAX_HEAD = 64 * 1024  # bytes of status line and headers: an API server sends a few hundred
RECEIVE = 256 * 1024


class ProtocolError(OSError):
    """An answer that is not HTTP/1.1 as the API server speaks it, or that ended half-way."""


class _Stale(Exception):
    """A kept-alive connection that the server had already closed: nothing was answered on it."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes


def for_configuration(configuration: Any, *, keep: int) -> Connections | None:
    """Connections to the configuration's server, or None when it asks for what only urllib3 does
    here (a proxy, an asserted hostname, socket options of its own)."""
    if (
        configuration.proxy
        or configuration.assert_hostname is not None
        or configuration.socket_options is not None
        or getattr(configuration, "keep_alive", False)
    ):
        return None
    parts = urlsplit(str(configuration.host))
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    context = _tls_context(configuration) if parts.scheme == "https" else None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Connections(
        (parts.hostname, port),
        prefix=parts.path.rstrip("/"),
        host_header=parts.netloc,
        context=context,
        server_hostname=configuration.tls_server_name or parts.hostname,
        keep=keep,
    )


def _tls_context(configuration: Any) -> ssl.SSLContext:
    """As urllib3 builds it from the official client's settings: TLS 1.2 or later, the kubeconfig's CA
    (a file or inline data) or else the system's, the client certificate if any; the server's
    certificate and name verified unless the kubeconfig turns verification off."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, host names checked
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    ca_file, ca_data = configuration.ssl_ca_cert, getattr(configuration, "ca_cert_data", None)
    if ca_file or ca_data:
        context.load_verify_locations(cafile=ca_file, cadata=ca_data)
    elif configuration.verify_ssl:
        context.load_default_certs()
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


_SAFE = "/?&=%:@!$'()*+,;-._~[]"  # besides letters and digits: what a request target may hold as is
_UNSAFE = re.compile(r"[^A-Za-z0-9/?&=%:@!$'()*+,;\-._~\[\]]")


def _ascii(target: str) -> str:
    """The request target as sent: any other character percent-encoded, as urllib3 does."""
    return quote(target, safe=_SAFE) if _UNSAFE.search(target) else target


class Connections:
    """A pool of connections to one server, shared by the run's threads; each request has one
    connection to itself from sending to the end of the answer."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        prefix: str,
        host_header: str,
        context: ssl.SSLContext | None,
        server_hostname: str,
        keep: int,
    ) -> None:
        self._address = address
        self._prefix = prefix  # a server URL may have a path (a proxy in front of several clusters)
        self._host = host_header
        self._context = context
        self._server_hostname = server_hostname
        self._keep = keep
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._closed = False  # a connection that comes back after `close()` is closed, not kept

    def send(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: tuple[float, float],
        *,
        repeatable: bool,
    ) -> Answer:
        """One request and its answer. Raises OSError (ssl.SSLError, TimeoutError, ProtocolError and
        the socket's own) when there is no answer; an answer of any status is returned."""
        request = self._request(method, target, headers, body)
        connection = self._idle_connection()
        if connection is not None:
            try:
                return self._exchange(connection, request, method, timeouts[1])
            except _Stale:
                if not repeatable:
                    raise ConnectionResetError("the server closed a kept-alive connection") from None
        # (A new connection never raises _Stale: whatever it loses is a ProtocolError.)
        return self._exchange(self._open(timeouts[0]), request, method, timeouts[1])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _request(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None) -> bytes:
        lines = [f"{method} {_ascii(self._prefix + target)} HTTP/1.1", f"Host: {self._host}"]
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                # (a credential with a line break would end the header and begin another)
                raise ProtocolError(f"the request header {name.strip()!r} holds a line break: not sent")
            lines.append(f"{name}: {value}")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        try:
            return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        except UnicodeEncodeError:
            raise ProtocolError("a request header holds characters HTTP cannot carry: not sent") from None

    def _idle_connection(self) -> _Connection | None:
        """The most recently used connection that the server has not closed meanwhile."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                connection = self._idle.pop()
            if connection.usable():
                return connection
            connection.close()

    def _open(self, timeout: float) -> _Connection:
        raw = socket.create_connection(self._address, timeout=timeout)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._context is None:
                return _Connection(raw)
            return _Connection(self._context.wrap_socket(raw, server_hostname=self._server_hostname))
        except BaseException:
            raw.close()
            raise

    def _exchange(self, connection: _Connection, request: bytes, method: str, timeout: float) -> Answer:
        try:
            answer, reusable = connection.exchange(request, method, timeout)
        except BaseException:
            connection.close()
            raise
        if reusable:
            with self._lock:
                if not self._closed and len(self._idle) < self._keep:
                    self._idle.append(connection)
                    return answer
        connection.close()
        return answer


class _Connection:
    """One socket and what was read from it beyond the last answer (nothing, with a well-behaved server)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self._fresh = True  # until its first request: a loss then is no stale connection

    def usable(self) -> bool:
        """Idle and still open: an idle connection with something to read was closed by the server
        (or sent what nobody asked for)."""
        if self._buffer:
            return False
        poller = select.poll()  # (select() refuses descriptors above 1023)
        try:
            poller.register(self._sock, select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        self._sock.close()

    def exchange(self, request: bytes, method: str, timeout: float) -> tuple[Answer, bool]:
        """The answer, and whether the connection may carry another request."""
        fresh, self._fresh = self._fresh, False
        self._sock.settimeout(timeout)
        try:
            self._sock.sendall(request)
            status, version, headers = self._head()
        except (ConnectionError, _Stale) as exc:
            if fresh or self._buffer:
                raise ProtocolError(f"connection lost: {exc}") from exc
            raise _Stale() from exc  # nothing came back on a connection the server had closed
        while 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            status, version, headers = self._head()
        body, complete = self._body(method, status, headers)
        connection = headers.get("connection", "").lower()
        kept = connection == "keep-alive" if version == "HTTP/1.0" else connection != "close"
        return Answer(status, headers, body), complete and kept

    def _head(self) -> tuple[int, str, dict[str, str]]:
        end = self._buffer.find(b"\r\n\r\n")
        while end < 0:
            if len(self._buffer) > MAX_HEAD:
                raise ProtocolError(f"an answer's headers are longer than {MAX_HEAD} bytes")
            self._receive(stale_if_empty=not self._buffer)
            end = self._buffer.find(b"\r\n\r\n")
        head = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[: end + 4]
        status_line, *fields = head.split("\r\n")
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise ProtocolError(f"not an HTTP/1.1 answer: {status_line[:80]!r}")
        headers: dict[str, str] = {}
        for field in fields:
            name, colon, value = field.partition(":")
            if not colon:
                raise ProtocolError(f"a malformed header line: {field[:80]!r}")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        return int(code), version, headers

    def _body(self, method: str, status: int, headers: Mapping[str, str]) -> tuple[bytes, bool]:
        """The body, and whether it ended where the next answer may begin."""
        if method == "HEAD" or status in (204, 304):
            return b"", True
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._chunked(), True
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise ProtocolError(f"a malformed Content-Length: {length[:40]!r}")
            return self._exactly(int(length)), True
        return self._until_closed(), False

    def _exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._receive(stale_if_empty=False)
        body = bytes(self._buffer[:size])
        del self._buffer[:size]
        return body

    def _line(self) -> bytes:
        end = self._buffer.find(b"\r\n")
        while end < 0:
            if len(self._buffer) > MAX_HEAD:
                raise ProtocolError("a chunk size line is too long")
            self._receive(stale_if_empty=False)
            end = self._buffer.find(b"\r\n")
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def _chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_text = self._line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"a malformed chunk size: {size_text[:20]!r}") from None
            if size == 0:
                while self._line():  # trailer fields, up to the empty line
                    pass
                return b"".join(parts)
            parts.append(self._exactly(size))
            if self._exactly(2) != b"\r\n":
                raise ProtocolError("a chunk does not end where its size says")

    def _until_closed(self) -> bytes:
        while True:
            try:
                self._receive(stale_if_empty=False)
            except ProtocolError:
                body = bytes(self._buffer)
                self._buffer.clear()
                return body

    def _receive(self, *, stale_if_empty: bool) -> None:
        data = self._sock.recv(RECEIVE)
        if not data:
            if stale_if_empty:
                raise _Stale()
            raise ProtocolError("the server closed the connection in the middle of an answer")
        self._buffer += data
