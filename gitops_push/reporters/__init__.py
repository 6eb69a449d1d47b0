"""Reporters: consumers of the event stream (human text, JSON), all fed the same events.

`Reporters` fans each event out to the chosen reporters and folds it into the `Summary`, which gives
the exit code; `close()` lets buffered reporters (JSON) write at the end.
"""

from __future__ import annotations

import sys
from typing import IO, Protocol

from gitops_push.events import Event
from gitops_push.reporters import stats
from gitops_push.reporters.stats import Summary


def console_width() -> int | None:
    """Terminals keep their width; logs get wide lines instead of tables wrapped at 80 columns."""
    return None if sys.stdout.isatty() else 200


class Reporter(Protocol):
    def handle(self, event: Event) -> None: ...

    def close(self, summary: Summary) -> None: ...


class Reporters:
    """The EventSink the pipeline writes to."""

    def __init__(self, reporters: list[Reporter], *, pending_exit_code: int | None = None) -> None:
        self._reporters = reporters
        self.summary = Summary(pending_exit_code=pending_exit_code)

    def handle(self, event: Event) -> None:
        stats.fold(self.summary, event)
        for reporter in self._reporters:
            reporter.handle(event)

    def close(self) -> Summary:
        for reporter in self._reporters:
            reporter.close(self.summary)
        return self.summary


def build(
    output: str,
    *,
    show_diff: bool = False,
    verbose: int = 0,
    no_color: bool = False,
    pending_exit_code: int | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> Reporters:
    from rich.console import Console

    out_stream, err_stream = stdout or sys.stdout, stderr or sys.stderr
    chosen: list[Reporter] = []
    if output == "json":
        from gitops_push.reporters.jsonout import JsonReporter

        chosen.append(JsonReporter(out_stream))
        # stdout stays pure JSON; errors and notes still reach people on stderr.
        out_console = Console(file=err_stream, quiet=True)
    else:
        out_console = Console(
            file=out_stream, no_color=no_color or None, highlight=False, soft_wrap=True, width=console_width()
        )
    err_console = Console(
        file=err_stream, no_color=no_color or None, highlight=False, soft_wrap=True, width=console_width()
    )
    from gitops_push.reporters.human import HumanReporter

    chosen.append(HumanReporter(out_console, err_console, show_diff=show_diff, verbose=verbose))
    return Reporters(chosen, pending_exit_code=pending_exit_code)
