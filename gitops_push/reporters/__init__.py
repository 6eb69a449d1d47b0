"""Reporters: consumers of the event stream (human text, JSON), all fed the same events.

`Reporters` fans each event out to the chosen reporters and folds it into the `Summary`, which gives
the exit code; `close()` lets buffered reporters (JSON) write at the end.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol, cast

from gitops_push.events import Event
from gitops_push.reporters import stats
from gitops_push.reporters.safe import CommandGuard
from gitops_push.reporters.stats import Summary


def console_width() -> int | None:
    """Terminals keep their width; logs get wide lines instead of tables wrapped at 80 columns."""
    return None if sys.stdout.isatty() else 200


def _console(stream: IO[str], plain: bool) -> Any:
    from rich.console import Console

    return Console(
        file=stream,
        color_system=None if plain else "auto",
        highlight=False,
        emoji=False,  # ":ok:" in a name or a server's message is text, not an emoji to put there
        soft_wrap=True,
        width=console_width(),
    )


class Reporter(Protocol):
    def handle(self, event: Event) -> None: ...

    def close(self, summary: Summary) -> None: ...


class Reporters:
    """The EventSink the pipeline writes to."""

    def __init__(self, reporters: list[Reporter], *, pending_exit_code: int | None = None) -> None:
        self._reporters = reporters
        self.summary = Summary(pending_exit_code=pending_exit_code)
        # The apply and dry-run workers send their events from several threads at once: one event
        # at a time keeps the Summary's counts exact and each reporter's output whole.
        self._one_at_a_time = threading.RLock()

    def handle(self, event: Event) -> None:
        with self._one_at_a_time:
            stats.fold(self.summary, event)
            for reporter in self._reporters:
                reporter.handle(event)

    def close(self) -> Summary:
        for reporter in self._reporters:
            reporter.close(self.summary)
        return self.summary


def build(
    output: str | None,
    *,
    show_diff: bool = False,
    verbose: int = 0,
    quiet: bool = False,
    no_color: bool = False,
    pending_exit_code: int | None = None,
    junit: Path | None = None,
    environ: Mapping[str, str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> Reporters:
    """The reporters for one run. `output` None: github inside GitHub Actions, text elsewhere."""
    from rich.console import Console

    from gitops_push.reporters.human import HumanReporter

    env = os.environ if environ is None else environ
    if output is None:
        output = "github" if env.get("GITHUB_ACTIONS") == "true" else "text"
    out_stream, err_stream = stdout or sys.stdout, stderr or sys.stderr
    chosen: list[Reporter] = []
    # A runner reads workflow commands from both streams: only the GitHub reporter may write them.
    actions = output == "github" or env.get("GITHUB_ACTIONS") == "true"
    text_out = cast("IO[str]", CommandGuard(out_stream)) if actions else out_stream
    text_err = cast("IO[str]", CommandGuard(err_stream)) if actions else err_stream
    # --no-color and NO_COLOR mean no escape codes at all (rich alone would keep bold and dim); Actions
    # logs get workflow commands instead of colours.
    plain = no_color or bool(env.get("NO_COLOR")) or output == "github"
    if output == "github":
        from gitops_push.reporters.github import GithubReporter

        chosen.append(GithubReporter(out_stream, summary_file=env.get("GITHUB_STEP_SUMMARY")))
    if output == "json":
        from gitops_push.reporters.jsonout import JsonReporter

        chosen.append(JsonReporter(out_stream))
        # stdout stays pure JSON; errors and notes still reach people on stderr.
        out_console = Console(file=text_err, quiet=True, emoji=False)
    else:
        out_console = _console(text_out, plain)
    err_console = _console(text_err, plain)
    chosen.append(HumanReporter(out_console, err_console, show_diff=show_diff, verbose=verbose, quiet=quiet))
    if junit is not None:
        from gitops_push.reporters.junit import JunitReporter

        chosen.append(JunitReporter(junit))
    return Reporters(chosen, pending_exit_code=pending_exit_code)
