"""Cancelling a run by a signal: SIGTERM is how Jenkins and GitLab cancel a job, SIGINT is Ctrl-C.

`cli.py` installs the handlers for the time of a run (`on_signals`). A handler only sets the run's
`Cancellation`, which travels in the runner's `Context`: the runner looks at it between steps, the
workers of `parallel()` (apply, dry-run, prune) before each request, and the waits (lock, prerequisites, health) while they
sleep. Whoever sees it raises `errors.Cancelled`, so the way out is the way of any failure: the lock is
released and the reports are written. A second signal is ignored, because it must not kill that cleanup.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import TypeVar, cast

from gitops_push.errors import Cancelled

SIGNALS = (signal.SIGINT, signal.SIGTERM)
T = TypeVar("T")
R = TypeVar("R")


class Cancellation:
    """Set once, from a signal handler; read by every part of a run that could send a new request."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name: str | None = None

    def cancel(self, signal_name: str) -> None:
        if self.signal_name is None:  # the first signal names the cancellation
            self.signal_name = signal_name
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise `Cancelled` if a signal came."""
        if self.signal_name is not None:
            raise Cancelled.by(self.signal_name, f"cancelled by {self.signal_name}")

    def sleep(self, seconds: float) -> None:
        """`time.sleep` that a cancellation cuts short, raising `Cancelled`."""
        self._event.wait(seconds)
        self.check()


@contextlib.contextmanager
def on_signals(cancellation: Cancellation) -> Iterator[Cancellation]:
    """SIGINT and SIGTERM cancel the run instead of killing the process, until the block ends."""
    if threading.current_thread() is not threading.main_thread():
        # Python installs handlers only from the main thread; tests run the CLI in-process in others.
        yield cancellation
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        cancellation.cancel(signal.Signals(signum).name)

    previous = {number: signal.signal(number, handle) for number in SIGNALS}
    try:
        yield cancellation
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


_NOT_SENT = object()


def parallel(
    function: Callable[[T], R],
    items: Sequence[T],
    concurrency: int,
    cancellation: Cancellation | None = None,
) -> list[R]:
    """`function` over the items, `concurrency` at a time. After a cancellation the items not yet
    started are not sent, the ones in flight finish, and `Cancelled` is raised. The first exception
    of an item (`ClusterUnreachable`: the client has given up on the server for the whole run) is
    raised at once, without waiting for the requests in flight, which a vanished server can leave
    hanging until their read timeout."""

    asked = cancellation or Cancellation()

    def one(item: T) -> object:
        return _NOT_SENT if asked.requested else function(item)

    if len(items) <= 1 or concurrency <= 1:
        results = [one(item) for item in items]
    else:
        # here: concurrent.futures (and the logging it imports) takes 6 ms, which a plan of files
        # never needs
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor
        from concurrent.futures import wait as futures_wait

        pool = ThreadPoolExecutor(max_workers=min(concurrency, len(items)))
        futures = [pool.submit(one, item) for item in items]
        done, _ = futures_wait(futures, return_when=FIRST_EXCEPTION)
        failure = next((f.exception() for f in done if f.exception() is not None), None)
        pool.shutdown(wait=failure is None, cancel_futures=True)
        if failure is not None:
            raise failure
        results = [future.result() for future in futures]
    if any(result is _NOT_SENT for result in results):
        asked.check()
    return cast(list[R], results)
