"""A small fault-injecting TCP proxy on 127.0.0.1, between gitops-push and the API server.

TLS passes through untouched (the proxy only moves bytes), so the tool talks to the real API server
while the test decides, connection by connection, to reset it, delay it or stall it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Faults:
    reset_next: int = 0  # close the next N new connections at once (a connection reset)
    latency: float = 0.0  # seconds added before each forwarded chunk
    stall_next: int = 0  # accept the next N connections and never answer them
    reset_all_after: int | None = None  # after this many forwarded chunks, reset every open connection
    accepted: int = 0
    chunks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def spent(self) -> bool:
        """Every fault that was asked for has happened."""
        return self.reset_next == 0 and self.stall_next == 0 and self.reset_all_after is None


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.faults = Faults()
        self._upstream = ("127.0.0.1", upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open: set[socket.socket] = set()
        self._stopped = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True, name="fault-proxy")]
        self._threads[0].start()

    def close(self) -> None:
        """Stop accepting, reset every connection, and wait for every thread of the proxy to end."""
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone may not
        self._listener.close()
        self.reset_all()
        # One deadline for all: a pump blocked in recv() on a socket the other pump closed wakes only
        # when its peer closes too, and waiting 10 s for each such thread cost minutes.
        deadline = time.monotonic() + 10
        for thread in list(self._threads):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def reset_all(self) -> None:
        for sock in list(self._open):
            _abort(sock)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self.faults.lock:
                self.faults.accepted += 1
                if self.faults.reset_next > 0:
                    self.faults.reset_next -= 1
                    _abort(client)
                    continue
                if self.faults.stall_next > 0:
                    self.faults.stall_next -= 1
                    self._open.add(client)  # held open, never answered, closed at the end
                    continue
            try:
                upstream = socket.create_connection(self._upstream, timeout=5)
            except OSError:
                _abort(client)
                continue
            self._open.update({client, upstream})
            for source, target in ((client, upstream), (upstream, client)):
                pump = threading.Thread(target=self._pump, args=(source, target), daemon=True)
                self._threads.append(pump)
                pump.start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                if self.faults.latency:
                    time.sleep(self.faults.latency)
                with self.faults.lock:
                    self.faults.chunks += 1
                    trigger = (
                        self.faults.reset_all_after is not None
                        and self.faults.chunks >= self.faults.reset_all_after
                    )
                    if trigger:
                        self.faults.reset_all_after = None
                if trigger:
                    self.reset_all()
                    return
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                self._open.discard(sock)
                _abort(sock)


def _abort(sock: socket.socket) -> None:
    """Close with RST, as a crashed peer or a middlebox would."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    except OSError:
        pass
