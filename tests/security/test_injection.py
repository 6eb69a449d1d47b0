"""Issue 14.4: file names, object names and messages cannot write workflow commands or terminal escapes.

The issue's file name is committed to a real Git repository and planned offline with every output at
once (GitHub annotations and step summary, text, JSON, JUnit): only gitops-push's own workflow
commands start a line, no ESC reaches any output, and the JUnit file is still XML.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gitops_push import reporters
from gitops_push.events import FindingFound, Note, ObjectActed, RunFailed, RunStarted, Stage
from gitops_push.model import Action, Finding, ObjectRef, SourceLocation
from gitops_push.reporters import github, safe
from tests.e2e.workspace import Result, Workspace, make_workspace

EVIL_PATH = "k8s/x\n::notice title=Security review::Approved\n::stop-commands::pwned\n.yaml"
ESC = "\x1b"
OWN_COMMANDS = re.compile(r"::(group|endgroup|error|warning|notice)( [^:]*)?::")


def config_map(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {json.dumps(name)}, namespace: shop}}\ndata: {{a: b}}\n"


def command_lines(text: str) -> list[str]:
    """Lines that a runner would read as a workflow command (it trims leading blanks first)."""
    return [line for line in text.splitlines() if line.lstrip().startswith("::") or "##[" in line]


def assert_only_own_commands(text: str) -> None:
    """Our commands start at column 0; in their data `##[` is text (the runner tries the older form
    only on lines that are not a valid command)."""
    for line in command_lines(text):
        assert OWN_COMMANDS.match(line), f"a workflow command that gitops-push did not mean: {line!r}"
        assert line.split("::")[1].split(" ")[0] != "stop-commands", line
    assert ESC not in text


@pytest.fixture
def evil_repo(tmp_path: Path) -> Workspace:
    workspace = make_workspace(tmp_path, tmp_path / "no-kubeconfig")
    workspace.write(EVIL_PATH, config_map("fine"))
    # A name no cluster would accept: it becomes a validation finding that quotes it.
    workspace.write(
        "k8s/names.yaml", config_map(f"a{ESC}[2J{ESC}]0;owned\a[bold red]::warning::x\n##[add-mask]y")
    )
    workspace.write("k8s/ok.yaml", config_map("ok"))
    workspace.commit("manifests with hostile names")
    return workspace


def test_plan_offline_in_github_actions_writes_only_its_own_commands(
    evil_repo: Workspace, tmp_path: Path
) -> None:
    summary, junit = tmp_path / "summary.md", tmp_path / "junit.xml"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    args = ("plan", "--offline", "--path", "k8s", "--junit", str(junit))
    result = evil_repo.cli(*args, "--output", "github", env=env)
    assert result.exit_code == 3, result.stdout + result.stderr  # the hostile name is invalid
    assert_only_own_commands(result.stdout)
    assert_only_own_commands(result.stderr)
    assert "::error " in result.stdout  # the finding is still annotated
    # The finding about the hostile name still says what is wrong, with the name escaped.
    assert "\\x1b[2J" in result.stdout + result.stderr

    text = summary.read_text()
    assert ESC not in text and "\n::" not in text and "##[" not in text
    assert "[bold red]" not in text  # Markdown punctuation is escaped: no links, HTML or cells

    ET.parse(junit)  # noqa: S314 - the file this test's run wrote; control characters would break it
    assert ESC not in junit.read_text()


def test_plan_offline_with_text_and_json_output_in_github_actions(evil_repo: Workspace) -> None:
    env = {"GITHUB_ACTIONS": "true"}
    text = evil_repo.cli("plan", "--offline", "--path", "k8s", "--output", "text", env=env)
    assert_only_own_commands(text.stdout + text.stderr)
    document = evil_repo.cli("plan", "--offline", "--path", "k8s", "--output", "json", env=env)
    assert_only_own_commands(document.stdout + document.stderr)
    # JSON keeps the exact text, safely encoded.
    assert any("##[add-mask]" in e["message"] for e in document.json["errors"]), document.stdout


def test_the_file_name_reaches_the_plan_escaped(evil_repo: Workspace) -> None:
    evil_repo.git("rm", "-q", "k8s/names.yaml")
    evil_repo.commit("only the file name is hostile now")
    result: Result = evil_repo.cli("plan", "--offline", "--path", "k8s", "--output", "text")
    # Such a name is a finding (issue 13): refused before any request, and shown escaped.
    assert result.exit_code == 3, result.stdout + result.stderr
    shown = "k8s/x\\n::notice title=Security review::Approved\\n::stop-commands::pwned\\n.yaml"
    assert f"{shown}:1: the file name {shown} holds control characters" in result.stderr
    output = result.stdout + result.stderr
    assert not [line for line in output.splitlines() if line.lstrip().startswith("::")]


# --- each reporter, fed the hostile text directly ---------------------------------------------------

HOSTILE = f"bad{ESC}[31m\n::error::fake\r\n##[warning]x [bold]y[/] | `z` <img src=x> \u202eevil"
REF = ObjectRef("", "ConfigMap", "shop", HOSTILE)
WHERE = SourceLocation(EVIL_PATH, 3, 0)


def events() -> list[object]:
    return [
        RunStarted("deploy", "prod"),
        Note(HOSTILE, WHERE),
        FindingFound(Finding(WHERE, HOSTILE, ref=REF, field_path=HOSTILE)),
        ObjectActed(Stage.APPLY, REF, Action.FAILED, WHERE, "v1", HOSTILE),
        RunFailed(HOSTILE, "apply-failed", 1, WHERE, HOSTILE),
    ]


@pytest.mark.parametrize("output", ["github", "text", "json"])
def test_every_reporter_escapes_hostile_text(output: str, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    summary, junit = tmp_path / "summary.md", tmp_path / "junit.xml"
    sink = reporters.build(
        output,
        stdout=out,
        stderr=err,
        junit=junit,
        environ={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
    )
    for event in events():
        sink.handle(event)  # type: ignore[arg-type]
    sink.close()
    assert_only_own_commands(out.getvalue())
    assert_only_own_commands(err.getvalue())
    assert "\u202e" not in out.getvalue() + err.getvalue()
    assert "[bold]" not in err.getvalue() or "\\[bold]" not in err.getvalue()  # markup stays text
    if output != "json":
        assert "[bold]y[/]" in out.getvalue() + err.getvalue()
    ET.parse(junit)  # noqa: S314 - written by this test
    if summary.exists():
        markdown = summary.read_text()
        assert ESC not in markdown
        outside_code = re.sub(r"(`+).*?\1", "", markdown)
        assert not re.search(r"(?<!\\)(<img|\[bold)", outside_code), markdown  # escaped: text
        for row in [line for line in markdown.splitlines() if line.startswith("| ")]:
            assert row.count(" | ") == 3, row  # a name cannot add table cells


def test_annotation_properties_and_data_stay_on_one_line() -> None:
    line = github.command("error", HOSTILE, source=WHERE, title=HOSTILE)
    assert "\n" not in line and "\r" not in line and ESC not in line
    assert line.startswith("::error file=k8s/x")
    name, properties = line[2:].split("::", 1)[0].split(" ", 1)
    keys = [pair.split("=", 1)[0] for pair in properties.split(",")]
    assert (name, keys) == ("error", ["file", "line", "title"]), line


def test_the_guard_neutralises_commands_split_over_writes() -> None:
    raw = io.StringIO()
    guard = safe.CommandGuard(raw)
    guard.write("plain line\n  ")
    guard.write(":")
    guard.write(":stop-commands::x\nnext ##[group]y\n")
    guard.flush()
    assert command_lines(raw.getvalue()) == []
    assert raw.getvalue().splitlines() == ["plain line", "  \\::stop-commands::x", "next ##\\[group]y"]


def test_commands_without_an_event_stream_escape_their_errors(tmp_path: Path) -> None:
    """`history` reports its errors itself: a folder name with ESC and a newline is written escaped."""
    from click.testing import CliRunner

    from gitops_push.cli import main

    folder = tmp_path / f"not-a-repo{ESC}[2J\n::warning::x"
    folder.mkdir()
    result = CliRunner().invoke(main, ["history", "--repo", str(folder)], catch_exceptions=False)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "\\x1b[2J\\n::warning::x" in result.stderr
    assert ESC not in result.stderr and not command_lines(result.stderr)


def test_emoji_codes_in_names_and_messages_stay_text() -> None:
    # rich turns ":ok:" into an emoji by default, even with markup off: an object named
    # "edit:ok:aggregate" (a colon is common in RBAC names) would be printed as another name.
    out, err = io.StringIO(), io.StringIO()
    sink = reporters.build("text", stdout=out, stderr=err, environ={})
    ref = ObjectRef("rbac.authorization.k8s.io", "ClusterRole", None, "edit:ok:aggregate")
    sink.handle(RunStarted("deploy", "prod"))
    sink.handle(ObjectActed(Stage.APPLY, ref, Action.CREATED, WHERE, "rbac.authorization.k8s.io/v1", None))
    sink.handle(Note("a :cat: in a note", WHERE))
    sink.handle(RunFailed("a :warning: in an error", "apply-failed", 1, WHERE, None))
    sink.close()
    text = out.getvalue() + err.getvalue()
    for verbatim in ("edit:ok:aggregate", "a :cat: in a note", "a :warning: in an error"):
        assert verbatim in text, text
