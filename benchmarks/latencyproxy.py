"""A TCP proxy on 127.0.0.1 that adds network latency: each direction is delayed by a one-way delay.

    python benchmarks/latencyproxy.py --upstream 127.0.0.1:6443 --delay-ms 10 [--port 0]

prints the port it listens on as the first line of its standard output, then forwards every
connection to UPSTREAM until SIGTERM or SIGINT. A round trip through it costs twice the delay.

What it models: the propagation delay of a network between a CI runner and its cluster. A chunk of
bytes read at time t is written at t + delay, whatever else is in flight (the delay is pipelined, as
on a wire, not "sleep, then forward", which would serialize a connection's chunks), and the bytes of
each direction keep their order. A new connection costs one round trip before its first byte moves,
as a TCP handshake does. TLS passes through untouched: the proxy only moves bytes, so the client
still verifies the API server's certificate and a TLS handshake costs its real round trips.

What it does not model: bandwidth limits, loss, jitter, reordering, or TCP's slow start.

Also usable in-process (the event loop runs in a thread of its own):

    with LatencyProxy(("127.0.0.1", 6443), delay=0.010) as proxy:
        ...  # connect to 127.0.0.1:proxy.port
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
from dataclasses import dataclass
from types import TracebackType

CHUNK = 65536
# Chunks in flight per direction before the reader waits: with 64 KiB chunks, 64 MiB. A bound keeps a
# fast sender from filling memory when its receiver is slow; it is far above any delay-bandwidth
# product a benchmark on loopback reaches, so it never shapes the traffic.
QUEUED_CHUNKS = 1024


@dataclass
class Counters:
    """What the proxy has moved so far (read from the proxy's own thread; approximate elsewhere)."""

    connections: int = 0
    open: int = 0
    bytes_up: int = 0  # client -> upstream
    bytes_down: int = 0  # upstream -> client


class _Server:
    """The asyncio side: accept, connect upstream, and pump both directions through delay queues."""

    def __init__(self, upstream: tuple[str, int], delay: float, handshake: bool) -> None:
        self.upstream = upstream
        self.delay = delay
        self.handshake = handshake
        self.counters = Counters()
        self._connections: set[asyncio.Task[None]] = set()

    async def listen(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._on_connection, host, port, limit=CHUNK)

    async def close_connections(self) -> None:
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _on_connection(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # a stream callback always runs in a task
        self._connections.add(task)
        self.counters.connections += 1
        self.counters.open += 1
        upstream_out: asyncio.StreamWriter | None = None
        try:
            if self.handshake and self.delay:
                await asyncio.sleep(2 * self.delay)  # SYN, SYN-ACK: one round trip before the first byte
            upstream_in, upstream_out = await asyncio.open_connection(*self.upstream, limit=CHUNK)
            async with asyncio.TaskGroup() as directions:  # one failing cancels the other
                directions.create_task(self._direction(client_in, upstream_out, up=True))
                directions.create_task(self._direction(upstream_in, client_out, up=False))
        except* OSError:
            pass  # a peer reset or refused: both sides are closed below, as on a broken path
        except* asyncio.CancelledError:
            # Only close_connections() cancels us: end quietly (Python 3.11's stream callback
            # would log a cancelled connection task as an unhandled error).
            pass
        finally:
            for writer in (client_out, upstream_out):
                if writer is not None:
                    writer.close()
            self.counters.open -= 1
            self._connections.discard(task)

    async def _direction(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, *, up: bool
    ) -> None:
        """Read chunks as they come, each stamped with when it is due; a writer task sends them then.

        Reading never waits for writing (beyond the queue's bound), so chunks overlap in flight and
        each is late by the delay alone. The end of the stream (a FIN) is delayed like data.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUED_CHUNKS)
        writer = asyncio.create_task(self._write_when_due(queue, target))
        try:
            while True:
                chunk = await source.read(CHUNK)
                await queue.put((loop.time() + self.delay, chunk))
                if not chunk:
                    break
                if up:
                    self.counters.bytes_up += len(chunk)
                else:
                    self.counters.bytes_down += len(chunk)
            await writer
        except BaseException:
            writer.cancel()
            raise

    @staticmethod
    async def _write_when_due(
        queue: asyncio.Queue[tuple[float, bytes]], target: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, chunk = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                if target.can_write_eof():
                    target.write_eof()  # half-close: the other direction may still be talking
                return
            target.write(chunk)
            await target.drain()


class LatencyProxy:
    """The proxy in a background thread of this process: `port` once started, `close()` to stop."""

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        delay: float,
        port: int = 0,
        handshake: bool = True,
    ) -> None:
        """DELAY is one way, in seconds (a round trip costs 2 x DELAY); HANDSHAKE adds a round trip
        before a new connection's first byte, as TCP's handshake would."""
        if delay < 0:
            raise ValueError("the delay cannot be negative")
        self._server = _Server(upstream, delay, handshake)
        self._loop = asyncio.new_event_loop()
        self._listening: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="latency-proxy")
        self._thread.start()
        try:
            self._listening = asyncio.run_coroutine_threadsafe(
                self._server.listen("127.0.0.1", port), self._loop
            ).result(timeout=10)
        except BaseException:
            self._stop_loop()
            raise
        self.port = int(self._listening.sockets[0].getsockname()[1])

    @property
    def counters(self) -> Counters:
        return self._server.counters

    def close(self) -> None:
        """Stop listening, close every connection, and end the proxy's thread."""
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._stop_loop()

    async def _shutdown(self) -> None:
        if self._listening is not None:
            self._listening.close()
        await self._server.close_connections()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> LatencyProxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


async def serve(upstream: tuple[str, int], delay: float, port: int, handshake: bool) -> None:
    """Run until SIGTERM or SIGINT; print the listening port first, for the process that started us."""
    server = _Server(upstream, delay, handshake)
    listening = await server.listen("127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(listening.sockets[0].getsockname()[1], flush=True)
    await stop.wait()
    listening.close()
    await server.close_connections()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(listening.wait_closed(), timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--upstream", type=parse_address, required=True, metavar="HOST:PORT")
    parser.add_argument(
        "--delay-ms", type=float, required=True, help="one-way delay in milliseconds (round trip: twice)"
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free one)")
    parser.add_argument(
        "--no-handshake", action="store_true", help="no round trip before a new connection's first byte"
    )
    args = parser.parse_args(argv)
    if args.delay_ms < 0:
        parser.error("--delay-ms cannot be negative")
    asyncio.run(serve(args.upstream, args.delay_ms / 1000.0, args.port, not args.no_handshake))
    return 0


if __name__ == "__main__":
    sys.exit(main())
