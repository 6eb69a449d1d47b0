"""CPU-bound work split over forked processes: a share each, the results back in order.

Used by the `loading` stage to parse a large set of manifests on every core. A forked child starts in
microseconds with everything already imported and already in memory, so only its result travels
(pickled, through a pipe). That is why this is not a `ProcessPoolExecutor`, which also pickles each
task's input and keeps worker processes and threads of its own.

Forking is only safe where the process has no other threads (another thread might hold a lock the
child would then wait on for ever) and is only cheap on Linux; elsewhere, or for a child that fails in
any way, the share is simply computed here. A result never depends on how it was computed.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

Share = TypeVar("Share")
Result = TypeVar("Result")

MAX_PROCESSES = 4


def usable_processes() -> int:
    """How many processes may share the work: the cores this process may run on, if forking is safe."""
    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), MAX_PROCESSES))


def map_shares(work: Callable[[Share], Result], shares: Sequence[Share]) -> list[Result]:
    """[work(share) for share in shares], the first share in this process, each other in a child."""
    if len(shares) <= 1 or usable_processes() == 1:
        return [work(share) for share in shares]
    children = [_start(work, share) for share in shares[1:]]
    results = [work(shares[0])]
    for child, share in zip(children, shares[1:], strict=True):
        results.append(_result_of(child, work, share))
    return results


def _start(work: Callable[[Share], Result], share: Share) -> tuple[int, int] | None:
    """(pid, read end of its pipe) of a child computing work(share); None if it could not start."""
    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: compute, send, and leave without running the parent's exit handlers
        status = 1
        try:
            os.close(read_end)
            with os.fdopen(write_end, "wb") as pipe:
                pickle.dump(work(share), pipe, protocol=pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _result_of(child: tuple[int, int] | None, work: Callable[[Share], Result], share: Share) -> Result:
    if child is None:
        return work(share)
    pid, read_end = child
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()  # read before waiting: a child blocks while its result fills the pipe
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return work(share)  # the child failed (an error, a kill): compute its share here instead
    result: Result = pickle.loads(data)  # noqa: S301 - our own child's result, through our own pipe
    return result
