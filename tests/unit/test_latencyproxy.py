"""benchmarks/latencyproxy.py: round trips cost twice the delay, bytes arrive unchanged and in order,
chunks in flight overlap, and the command-line proxy prints its port and stops on SIGTERM.

Timing is checked with lower bounds (a delay can only make things later), except for one check that
the delay is pipelined, whose bound is many times what a pipelined proxy needs.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from benchmarks.latencyproxy import LatencyProxy

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 0.003  # seconds: timers may fire a hair early against another clock's reading


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, EchoServer)
        while chunk := self.request.recv(65536):
            server.arrivals.append((time.perf_counter(), len(chunk)))
            self.request.sendall(chunk)


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Echo)
        self.arrivals: list[tuple[float, int]] = []  # (when, bytes) of every chunk received


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def upstream(server: EchoServer) -> tuple[str, int]:
    return ("127.0.0.1", int(server.server_address[1]))


def receive_exactly(sock: socket.socket, size: int) -> bytes:
    parts = []
    while size:
        part = sock.recv(min(size, 65536))
        assert part, "the proxy closed the connection early"
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def round_trip(sock: socket.socket, message: bytes) -> float:
    started = time.perf_counter()
    sock.sendall(message)
    assert receive_exactly(sock, len(message)) == message
    return time.perf_counter() - started


def test_a_round_trip_costs_twice_the_delay_and_a_new_connection_one_more(echo: EchoServer) -> None:
    delay = 0.04
    with LatencyProxy(upstream(echo), delay=delay) as proxy:
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
            first = time.perf_counter() - started + round_trip(sock, b"hello")
            later = [round_trip(sock, f"ping {n}".encode()) for n in range(5)]
        assert first >= 4 * delay - TOLERANCE  # the handshake's round trip, then the message's
        assert min(later) >= 2 * delay - TOLERANCE
        assert proxy.counters.connections == 1


def test_bytes_arrive_unchanged_and_in_order_on_many_connections(echo: EchoServer) -> None:
    rng = random.Random(16)
    payloads = [rng.randbytes(rng.randrange(1, 600_000)) for _ in range(12)]

    def through_proxy(port: int, payload: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sender = threading.Thread(target=send_in_pieces, args=(sock, payload, len(payload)))
            sender.start()
            received = receive_exactly(sock, len(payload))
            sender.join()
            return received

    with LatencyProxy(upstream(echo), delay=0.005) as proxy, ThreadPoolExecutor(len(payloads)) as pool:
        echoed = list(pool.map(lambda payload: through_proxy(proxy.port, payload), payloads))
        assert echoed == payloads
        assert proxy.counters.connections == len(payloads)
        assert proxy.counters.bytes_up == proxy.counters.bytes_down == sum(map(len, payloads))


def send_in_pieces(sock: socket.socket, payload: bytes, seed: int) -> None:
    rng = random.Random(seed)
    at = 0
    while at < len(payload):
        size = rng.randrange(1, 70_000)
        sock.sendall(payload[at : at + size])
        at += size


def test_chunks_in_flight_overlap_instead_of_waiting_for_each_other(echo: EchoServer) -> None:
    """A proxy that slept DELAY before forwarding each chunk would spread N chunks over N x DELAY."""
    delay, chunks = 0.2, 10
    with (
        LatencyProxy(upstream(echo), delay=delay) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock,
    ):
        for number in range(chunks):
            sock.sendall(b"%d;" % number)
            time.sleep(0.01)
        expected = b"".join(b"%d;" % number for number in range(chunks))
        assert receive_exactly(sock, len(expected)) == expected
    first, last = echo.arrivals[0][0], echo.arrivals[-1][0]
    assert last - first < (chunks - 1) * delay * 0.9


def test_the_command_prints_its_port_first_and_stops_on_sigterm(echo: EchoServer) -> None:
    delay_ms = 30
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "latencyproxy.py"),
        "--upstream",
        f"127.0.0.1:{upstream(echo)[1]}",
        "--delay-ms",
        str(delay_ms),
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ}
    ) as proxy:
        try:
            assert proxy.stdout is not None
            port = int(proxy.stdout.readline())
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                round_trip(sock, b"warm")
                assert round_trip(sock, b"ping") >= 2 * delay_ms / 1000 - TOLERANCE
                proxy.send_signal(signal.SIGTERM)
                assert proxy.wait(timeout=30) == 0
                assert sock.recv(1) == b""  # the open connection was closed, not left hanging
            assert proxy.stderr is not None
            assert proxy.stderr.read() == ""  # no error logged on the way out
        finally:
            if proxy.poll() is None:
                proxy.kill()
