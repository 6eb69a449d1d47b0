"""CPU-bound work spread over forked processes, the results back in order.

Used by the `loading` and `validating` stages for large sets. A forked child starts in microseconds
with everything already imported and in memory, so only results travel: pickled share by share as
each is done, into an anonymous file in memory (memfd) that this process reads as they come
(pickling everything at the end kept this process waiting for it, and a pipe would stall a child
whose results outgrow it until this process is free to read). That is why this is not a
`ProcessPoolExecutor`, which also pickles each task's input and keeps worker processes and threads
of its own. Results may hold Secrets: they never go to a file on disk.

A caller whose results are large may give a `Wire`: its results then travel as plain data (dicts,
lists, tuples, strings, numbers) in `marshal`'s format, which both writes and reads in a third of
pickle's time, where pickle spends most of it on each object's class. Measured on half of 10,000
parsed objects: 74 ms to pickle and 47 ms to unpickle, against 17 ms and 30 ms (rebuilding the
objects included). A result the wire cannot make plain travels pickled, as every result does
without a wire. Each share's result is a record that carries its length, so this process rebuilds
those a child has written whole between its own shares, while the child still works: only the
child's last record or two are left for after it ends.

The work comes as many small shares, and every process (this one included) takes the next share
from a common queue until none is left: a pipe holding the share numbers, read four bytes at a time
(the kernel hands each read to one reader whole). Shares are not dealt out in equal halves because
cores are not equal: on a shared virtual machine one core often runs at half the speed of the
other, and a process with a fixed half would leave the other waiting.

`ahead` forks one child for one piece of work that this process will want later (reading Git
while this process connects to the cluster), so that the two run on two cores at once.

Forking is only safe where the process has no other threads (another thread might hold a lock that
the child would then wait on for ever) and is only cheap on Linux; elsewhere, or for a child that
fails in any way, the shares are computed here. A result never depends on how it was computed.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import pickle
import signal
import struct
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Generic, TypeVar

Share = TypeVar("Share")
Result = TypeVar("Result")

MAX_PROCESSES = 4
# The queue is written whole before the children start, so it must fit in a pipe even where the
# kernel gives a pipe a single 4 KiB page (it does once a user holds many pipes): 1,024 numbers.
MAX_SHARES = 1024
_NUMBER = struct.Struct("<I")
_RECORD = struct.Struct("<IIB")  # share index, payload length, how the payload is written
_MARSHALLED, _PICKLED = 0, 1


@dataclass(frozen=True)
class Wire(Generic[Result]):
    """How results become plain data that `marshal` writes (`to_plain`), and back (`from_plain`).
    Without them (`PICKLED`), every result is pickled."""

    to_plain: Callable[[Result], Any] | None = None
    from_plain: Callable[[Any], Result] | None = None

    def dumps(self, result: Result) -> tuple[int, bytes]:
        if self.to_plain is not None:
            try:
                return _MARSHALLED, marshal.dumps(self.to_plain(result))
            except ValueError:  # something marshal does not write: a class of its own, a subclass
                pass
        return _PICKLED, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)

    def loads(self, how: int, payload: bytes | memoryview) -> Result:
        if how == _MARSHALLED and self.from_plain is not None:
            return self.from_plain(marshal.loads(payload))  # noqa: S302 - our own child's result
        loaded: Result = pickle.loads(payload)  # noqa: S301 - our own child's result, in our own file
        return loaded


PICKLED: Wire[Any] = Wire()


def usable_processes() -> int:
    """How many processes may share the work: the cores this process may run on, if forking is safe."""
    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), MAX_PROCESSES))


def map_shares(
    work: Callable[[Share], Result], shares: Sequence[Share], wire: Wire[Result] = PICKLED
) -> list[Result]:
    """[work(share) for share in shares], computed by this process and forked children together
    (the children's results pickled, or sent over `wire`)."""
    processes = min(usable_processes(), len(shares))
    if processes <= 1 or len(shares) > MAX_SHARES:
        return [work(share) for share in shares]
    queue_out, queue_in = os.pipe()
    os.write(queue_in, b"".join(_NUMBER.pack(index) for index in range(len(shares))))
    os.close(queue_in)  # an empty queue then reads as the end of the file
    children = [_start(work, shares, queue_out, wire) for _ in range(processes - 1)]
    started = [child for child in children if child is not None]
    results: dict[int, Result] = {}
    for index, result in _take(work, shares, queue_out):
        results[index] = result
        for child in started:  # what children sent so far is rebuilt while they still work
            child.read_written()
    os.close(queue_out)
    for child in started:
        results.update(child.results_when_done())
    # A child that failed took its shares with it: compute them here.
    return [results[index] if index in results else work(share) for index, share in enumerate(shares)]


def _take(
    work: Callable[[Share], Result], shares: Sequence[Share], queue: int
) -> Iterator[tuple[int, Result]]:
    while len(taken := os.read(queue, _NUMBER.size)) == _NUMBER.size:
        (index,) = _NUMBER.unpack(taken)
        yield index, work(shares[index])


def _start(
    work: Callable[[Share], Result], shares: Sequence[Share], queue: int, wire: Wire[Result]
) -> _Child[Result] | None:
    """A child taking shares from the queue; None if none started."""
    try:
        results = os.fdopen(os.memfd_create("gitops-push-results"), "w+b")
    except (OSError, AttributeError):  # (memfd_create is Linux's, as forking here is)
        return None

    def write_results() -> None:
        for index, result in _take(work, shares, queue):
            how, payload = wire.dumps(result)
            results.write(_RECORD.pack(index, len(payload), how))
            results.write(payload)
            results.flush()  # whole records, each as soon as it is done: the parent reads them

    pid = _forked(write_results)
    if pid is None:
        results.close()
        return None
    return _Child(pid, results, wire)


class _Child(Generic[Result]):
    """A forked child taking shares, the file it writes its results to, and the results this
    process has rebuilt from it so far.

    Records are read as the child writes them (at this process's own offset: the child's offset is
    the file's), so that rebuilding them overlaps the child's work instead of following it."""

    def __init__(self, pid: int, results: BinaryIO, wire: Wire[Result]) -> None:
        self.pid = pid
        self.results = results
        self.wire = wire
        self.read_to = 0
        self.found: dict[int, Result] = {}

    def read_written(self) -> None:
        """Rebuild the records the child has written whole since the last call."""
        descriptor = self.results.fileno()
        size = os.fstat(descriptor).st_size
        if size - self.read_to >= _RECORD.size:
            written = memoryview(os.pread(descriptor, size - self.read_to, self.read_to))
            self.read_to += _records(written, self.wire, self.found)

    def results_when_done(self) -> dict[int, Result]:
        """Every result, once the child has ended; none if it failed (its shares are recomputed)."""
        with self.results:
            _, status = os.waitpid(self.pid, 0)
            if status != 0:
                return {}
            self.read_written()
            return self.found


def _records(written: memoryview, wire: Wire[Result], found: dict[int, Result]) -> int:
    """Rebuild into `found` the whole records at the start of `written`; returns the bytes they take."""
    position = 0
    while len(written) - position >= _RECORD.size:
        index, length, how = _RECORD.unpack_from(written, position)
        end = position + _RECORD.size + length
        if end > len(written):
            break  # the rest of this record is still being written
        found[index] = wire.loads(how, written[position + _RECORD.size : end])
        position = end
    return position


def _forked(child: Callable[[], None]) -> int | None:
    """The pid of a forked child that runs `child()` and exits (0 if it returned), never running this
    process's exit handlers; None if no child could be started.

    The child takes the default SIGINT and SIGTERM actions: a cancelled run (a signal to its process
    group) ends its children at once, where this process's handlers would only mark them cancelled."""
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:
        status = 1
        try:
            for number in (signal.SIGINT, signal.SIGTERM):
                signal.signal(number, signal.SIG_DFL)
            child()
            status = 0
        finally:
            os._exit(status)
    return pid


class Ahead(Generic[Result]):
    """A result being computed by a forked child while this process goes on (see `ahead`)."""

    def __init__(
        self, here: Callable[[], Result], child: tuple[int, BinaryIO] | None, wire: Wire[Result] = PICKLED
    ) -> None:
        self._here = here
        self._child = child  # (pid, the read end of the pipe it writes its result to)
        self._wire = wire

    def result(self) -> Result:
        """The child's result, once it has ended; computed here if it failed or never started. Each
        call takes a result of its own: after the first, it is computed here again."""
        child, self._child = self._child, None
        if child is None:
            return self._here()
        pid, pipe = child
        with pipe:
            written = pipe.read()  # all of it before waiting: the child may be blocked on a full pipe
        _, status = os.waitpid(pid, 0)
        if status != 0:
            return self._here()
        return self._wire.loads(written[0], memoryview(written)[1:])

    def close(self) -> None:
        """End the child if its result was not taken (this process started it, so it may end it)."""
        child, self._child = self._child, None
        if child is None:
            return
        pid, pipe = child
        with pipe:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def ahead(
    in_child: Callable[[], Result], here: Callable[[], Result], wire: Wire[Result] = PICKLED
) -> Ahead[Result]:
    """Start `in_child()` in a forked child when a second core can take it and forking is safe.

    `here` computes the same result in this process, for when there is no child or it failed.
    They are two functions because a child must not use what this process keeps open (a connection,
    a long-lived `git` process): `in_child` opens what it needs itself. The result comes
    back through a pipe, never a file: it may hold Secrets, which are not to be written to disk.
    """
    if usable_processes() < 2:
        return Ahead(here, None)
    reader, writer = os.pipe()

    def write_result() -> None:
        os.close(reader)
        with os.fdopen(writer, "wb") as pipe:
            how, payload = wire.dumps(in_child())
            pipe.write(bytes([how]))
            pipe.write(payload)

    pid = _forked(write_result)
    os.close(writer)
    if pid is None:
        os.close(reader)
        return Ahead(here, None)
    return Ahead(here, (pid, os.fdopen(reader, "rb")), wire)
