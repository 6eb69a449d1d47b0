"""Terminal manners: colours only on a terminal and never with NO_COLOR or --no-color; quiet mode."""

from __future__ import annotations

import io

import pytest

from gitops_push import reporters
from gitops_push.events import Event, FindingFound, Note, RunStarted
from gitops_push.model import Finding, SourceLocation

EVENTS: list[Event] = [
    RunStarted("plan", "prod"),
    Note("something worth knowing"),
    FindingFound(Finding(SourceLocation("k8s/a.yaml", 3), "unknown field", field_path="spec.x")),
]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def render(stream: io.StringIO, *, no_color: bool = False, quiet: bool = False) -> str:
    sink = reporters.build("text", stdout=stream, stderr=stream, no_color=no_color, quiet=quiet)
    for event in EVENTS:
        sink.handle(event)
    sink.close()
    return stream.getvalue()


def test_a_terminal_gets_colours() -> None:
    assert "\x1b[" in render(Terminal())


def test_a_pipe_gets_plain_text() -> None:
    text = render(io.StringIO())
    assert "\x1b[" not in text
    assert "error: k8s/a.yaml:3: unknown field (field spec.x)" in text


def test_no_color_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in render(Terminal())


def test_the_no_color_flag_is_honoured() -> None:
    assert "\x1b[" not in render(Terminal(), no_color=True)


def test_quiet_keeps_errors_and_drops_notes() -> None:
    text = render(io.StringIO(), quiet=True)
    assert "unknown field" in text
    assert "something worth knowing" not in text
