"""forking: shares computed in forked children come back in order, work ahead comes back from its
child or is computed here, and a failed or unwanted child costs nothing."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_push import forking


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever machine runs the tests, let the work be split in two (and in four with `four`)."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")


@pytest.fixture
def no_other_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Earlier tests may leave a thread behind; the children here only compute and exit."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)


def pid_and_square(number: int) -> tuple[int, int]:
    time.sleep(0.002)  # long enough for every process to take some shares
    return os.getpid(), number * number


@pytest.mark.usefixtures("two_cores", "no_other_thread")
def test_shares_are_taken_by_this_process_and_a_child_and_results_keep_their_order() -> None:
    results = forking.map_shares(pid_and_square, list(range(200)))
    assert [square for _, square in results] == [n * n for n in range(200)]
    pids = {pid for pid, _ in results}
    assert os.getpid() in pids
    assert len(pids) == 2


def tagged_wire() -> forking.Wire[tuple[str, int, int]]:
    """A wire that marks what came over it: plain data is a list, rebuilt into a tagged tuple."""
    return forking.Wire(lambda result: [result[1], result[2]], lambda plain: ("over the wire", *plain))


def pid_and_cube(number: int) -> tuple[str, int, int]:
    time.sleep(0.002)
    return "here", os.getpid(), number**3


@pytest.mark.usefixtures("two_cores", "no_other_thread")
def test_a_wire_carries_a_childs_results_as_plain_data() -> None:
    results = forking.map_shares(pid_and_cube, list(range(200)), tagged_wire())
    assert [cube for _, _, cube in results] == [n**3 for n in range(200)]
    by_route = {(route, pid) for route, pid, _ in results}
    assert by_route == {("here", os.getpid()), ("over the wire", next(p for r, p in by_route if r != "here"))}


class NotPlain:
    """A result that marshal cannot write."""

    def __init__(self, value: int) -> None:
        self.value = value
        self.pid = os.getpid()


def not_plain(number: int) -> NotPlain:
    time.sleep(0.002)
    return NotPlain(number)


@pytest.mark.usefixtures("two_cores", "no_other_thread")
def test_a_result_the_wire_cannot_make_plain_travels_pickled() -> None:
    wire: forking.Wire[NotPlain] = forking.Wire(lambda result: result, lambda plain: plain)
    results = forking.map_shares(not_plain, list(range(100)), wire)
    assert [result.value for result in results] == list(range(100))
    assert len({result.pid for result in results}) == 2  # the child's came back, not computed here


def fails_in_a_child(parent: int) -> str:
    if os.getpid() != parent:
        raise RuntimeError("broken child")
    time.sleep(0.002)
    return "computed here"


def dies_in_a_child(parent: int) -> str:
    if os.getpid() != parent:
        os._exit(9)
    time.sleep(0.002)
    return "computed here"


@pytest.mark.usefixtures("two_cores", "no_other_thread")
@pytest.mark.parametrize("work", [fails_in_a_child, dies_in_a_child])
def test_the_shares_of_a_child_that_fails_are_computed_here(work: object) -> None:
    shares = [os.getpid()] * 50
    assert forking.map_shares(work, shares) == ["computed here"] * 50  # type: ignore[arg-type]


def writes_three_then_dies(parent: int) -> str:
    if os.getpid() != parent:  # (the count is the child's own: this process never adds to it)
        writes_three_then_dies.count += 1  # type: ignore[attr-defined]
        if writes_three_then_dies.count > 3:  # type: ignore[attr-defined]
            time.sleep(0.2)  # time for this process to read the three results over a wire
            os._exit(9)
        return "computed in the child"
    time.sleep(0.002)
    return "computed here"


writes_three_then_dies.count = 0  # type: ignore[attr-defined]


@pytest.mark.usefixtures("two_cores", "no_other_thread")
def test_results_a_failed_child_wrote_before_failing_are_not_used() -> None:
    shares = [os.getpid()] * 50
    assert forking.map_shares(writes_three_then_dies, shares) == ["computed here"] * 50


@pytest.mark.usefixtures("two_cores", "no_other_thread")
def test_results_rebuilt_from_a_child_that_then_fails_are_dropped() -> None:
    rebuilt: list[str] = []

    def from_plain(plain: str) -> str:
        rebuilt.append(plain)
        return plain

    wire = forking.Wire(lambda result: result, from_plain)
    shares = [os.getpid()] * 150
    assert forking.map_shares(writes_three_then_dies, shares, wire) == ["computed here"] * 150
    assert rebuilt == ["computed in the child"] * 3  # read while the child worked, then dropped


def running(pid: int) -> bool:
    """Whether process `pid` is still at work (neither reaped nor ended and waiting to be)."""
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.usefixtures("two_cores", "no_other_thread")
def test_a_childs_results_are_rebuilt_while_it_still_works() -> None:
    while_running: list[bool] = []

    def from_plain(plain: list[int]) -> tuple[str, int, int]:
        while_running.append(running(plain[0]))
        return "over the wire", plain[0], plain[1]

    wire = forking.Wire(lambda result: [result[1], result[2]], from_plain)
    results = forking.map_shares(pid_and_cube, list(range(200)), wire)
    assert [cube for _, _, cube in results] == [n**3 for n in range(200)]
    assert any(while_running) and len(while_running) > 1


@pytest.fixture
def another_thread() -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    yield
    stop.set()
    thread.join()


@pytest.mark.usefixtures("two_cores", "another_thread")
def test_no_fork_beside_another_thread() -> None:
    assert forking.usable_processes() == 1
    assert {pid for pid, _ in forking.map_shares(pid_and_square, [1, 2])} == {os.getpid()}


@pytest.mark.usefixtures("no_other_thread")
def test_one_core_or_another_system_means_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert forking.usable_processes() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert forking.usable_processes() == 1
    monkeypatch.setattr(sys, "platform", "linux")
    assert forking.usable_processes() == forking.MAX_PROCESSES


def pid_and_double(number: int) -> tuple[int, int]:
    return os.getpid(), 2 * number


@pytest.mark.usefixtures("two_cores", "no_other_thread")
def test_more_shares_than_the_queue_holds_are_computed_here() -> None:
    shares = list(range(forking.MAX_SHARES + 1))
    results = forking.map_shares(pid_and_double, shares)
    assert [double for _, double in results] == [2 * n for n in shares]
    assert {pid for pid, _ in results} == {os.getpid()}


# --- one piece of work ahead -----------------------------------------------------------------------


def raises_in_the_child() -> str:
    raise RuntimeError("broken child")


def exits_in_the_child() -> str:
    os._exit(9)


@pytest.mark.usefixtures("two_cores", "no_other_thread")
def test_work_ahead_is_done_by_a_child_and_a_second_result_is_computed_here() -> None:
    ahead = forking.ahead(os.getpid, lambda: -1)
    child = ahead.result()
    assert child not in (os.getpid(), -1)
    assert ahead.result() == -1
    ahead.close()


@pytest.mark.usefixtures("two_cores", "no_other_thread")
def test_work_ahead_comes_back_over_a_wire() -> None:
    route, pid, value = forking.ahead(lambda: pid_and_cube(2), lambda: ("here", 0, 0), tagged_wire()).result()
    assert (route, value) == ("over the wire", 8)
    assert pid != os.getpid()


@pytest.mark.usefixtures("two_cores", "no_other_thread")
def test_work_ahead_the_wire_cannot_make_plain_comes_back_pickled() -> None:
    wire: forking.Wire[NotPlain] = forking.Wire(lambda result: result, lambda plain: plain)
    result = forking.ahead(lambda: not_plain(7), lambda: NotPlain(-1), wire).result()
    assert result.value == 7 and result.pid != os.getpid()


@pytest.mark.usefixtures("two_cores", "no_other_thread")
@pytest.mark.parametrize("in_child", [raises_in_the_child, exits_in_the_child])
def test_work_ahead_whose_child_fails_is_computed_here(in_child: object) -> None:
    ahead = forking.ahead(in_child, lambda: "computed here")  # type: ignore[arg-type]
    assert ahead.result() == "computed here"


def long_work_ahead(folder: Path) -> tuple[forking.Ahead[None], int]:
    """Work ahead that runs for a minute, and its child's pid once it has started."""
    started = folder / "pid"

    def runs_long() -> None:
        started.write_text(str(os.getpid()))
        time.sleep(60)

    ahead = forking.ahead(runs_long, lambda: None)
    deadline = time.monotonic() + 10
    while not started.exists() or not started.read_text():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.01)
    return ahead, int(started.read_text())


@pytest.mark.usefixtures("two_cores", "no_other_thread")
def test_work_ahead_that_is_not_taken_is_ended_and_its_child_reaped(tmp_path: Path) -> None:
    ahead, pid = long_work_ahead(tmp_path)
    ahead.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie is left behind
    ahead.close()  # a second close does nothing


@pytest.mark.usefixtures("two_cores", "another_thread")
def test_no_work_ahead_beside_another_thread() -> None:
    assert forking.ahead(os.getpid, lambda: -1).result() == -1


@pytest.mark.usefixtures("two_cores", "no_other_thread")
def test_a_child_ends_at_once_on_sigterm_even_where_the_parent_only_marks_it(tmp_path: Path) -> None:
    previous = signal.signal(signal.SIGTERM, lambda number, frame: None)  # as a run's cancellation does
    try:
        ahead, pid = long_work_ahead(tmp_path)
        os.kill(pid, signal.SIGTERM)
        began = time.monotonic()
        assert ahead.result() is None  # the child died: computed here
        assert time.monotonic() - began < 30  # not the minute its work would take
    finally:
        signal.signal(signal.SIGTERM, previous)
