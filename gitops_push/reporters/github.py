"""`--output github`: GitHub Actions workflow commands beside the plain text, and a job summary.

Chosen automatically when GITHUB_ACTIONS=true. Validation findings, dry-run rejections and failed
objects become `::error file=…,line=…,title=…::` annotations, which GitHub shows on the pull request's
files; notes about skipped files become `::notice`. The plan and the health wait are folded into
`::group::` sections. At the end a Markdown summary of the run is appended to $GITHUB_STEP_SUMMARY.
Text passes through the stages' masking first, so no Secret value reaches an annotation, and through
`safe.printable()` here, so a file or object name cannot start a workflow command of its own: the
escaping rules of workflow commands (`%`, CR and LF in data; also `:` and `,` in properties) only hold
for text on one line. The summary escapes Markdown, so a name cannot add links, HTML or table cells.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO

from gitops_push.events import (
    Connected,
    Event,
    FileSkipped,
    FindingFound,
    ObjectActed,
    PlanReady,
    RunFailed,
    Stage,
    StageFinished,
    StageStarted,
)
from gitops_push.model import Action, SourceLocation
from gitops_push.reporters.safe import printable
from gitops_push.reporters.stats import Summary

TITLES = {
    Stage.DRY_RUN: "dry-run rejected",
    Stage.APPLY: "apply failed",
    Stage.WAIT: "not healthy",
    Stage.PRUNE: "prune failed",
}


def escape_data(text: str) -> str:
    text = printable(text)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(
    name: str, message: str, *, source: SourceLocation | None = None, title: str | None = None
) -> str:
    properties = []
    if source is not None and source.line > 0 and source.in_file:
        properties += [f"file={escape_property(source.path)}", f"line={source.line}"]
    elif source is not None and source.line > 0:
        # A Helm template's line is not its output's: the annotation goes on the file, the text says where.
        properties.append(f"file={escape_property(source.path)}")
        message = f"{message} ({source})"
    if title:
        properties.append(f"title={escape_property(title)}")
    joined = " " + ",".join(properties) if properties else ""
    return f"::{name}{joined}::{escape_data(message)}"


class GithubReporter:
    """Writes workflow commands to `stream`; runs before the human reporter so groups wrap its text."""

    def __init__(self, stream: IO[str], *, summary_file: str | None) -> None:
        self._stream = stream
        self._summary_file = summary_file
        self._group_open = False

    def handle(self, event: Event) -> None:
        if self._group_open and not isinstance(event, StageStarted | StageFinished | PlanReady):
            self._end_group()
        match event:
            case FindingFound(finding=finding):
                field = f" (field {finding.field_path})" if finding.field_path else ""
                self._emit(
                    command("error", finding.message + field, source=finding.source, title="invalid manifest")
                )
            case ObjectActed(stage=stage, ref=ref, action=Action.FAILED, source=source, error=error):
                title = f"{TITLES.get(stage, stage.value)}: {ref}"
                self._emit(command("error", error or "failed", source=source, title=title))
            case Connected(warning=str() as warning):
                self._emit(command("warning", warning, title="TLS verification is off"))
            case FileSkipped(skipped=skipped):
                self._emit(command("notice", f"skipped: {skipped.reason}", source=skipped.source))
            case RunFailed(message=message, source=source, hint=hint):
                self._emit(
                    command(
                        "error",
                        message + (f" (hint: {hint})" if hint else ""),
                        source=source,
                        title="gitops-push",
                    )
                )
            case PlanReady(plan=plan):
                self._start_group(f"Plan: {len(plan.changes)} change(s), {len(plan.unchanged)} unchanged")
            case StageStarted(stage=Stage.WAIT):
                self._start_group("Waiting for health")
            case StageFinished(stage=Stage.WAIT):
                self._end_group()
            case _:
                pass

    def close(self, summary: Summary) -> None:
        if self._group_open:
            self._end_group()
        if self._summary_file:
            with Path(self._summary_file).open("a", encoding="utf-8") as file:
                file.write(markdown(summary))

    def _emit(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()

    def _start_group(self, title: str) -> None:
        if self._group_open:
            self._end_group()
        self._emit(f"::group::{escape_data(title)}")
        self._group_open = True

    def _end_group(self) -> None:
        self._emit("::endgroup::")
        self._group_open = False


def markdown(summary: Summary) -> str:
    """The job summary: result, range, tag, a table of objects, and the errors."""
    icon = "✅" if summary.result != "failed" else "❌"
    lines = [f"### {icon} gitops-push {summary.command} {_code(summary.environment)}: {summary.result}", ""]
    if summary.head:
        base = f"`{summary.base[:12]}`" if summary.base else "(first deploy)"
        lines.append(f"Range: {base} → `{summary.head[:12]}`  ")
    if summary.tag:
        lines.append(f"Tag: {_code(summary.tag)}{' (pushed)' if summary.pushed else ''}  ")
    if summary.cluster is not None:
        cluster = summary.cluster
        lines.append(f"Cluster: {_code(cluster.server)} (context {_code(cluster.context)})  ")
    lines += [f"**Warning:** {_md(warning)}  " for warning in summary.warnings]
    counts = ", ".join(f"{n} {word}" for word, n in summary.counts().items() if n)
    lines += [f"Objects: {counts or 'none'}", ""]
    if summary.objects:
        lines += ["| action | object | file | health |", "| --- | --- | --- | --- |"]
        for line in sorted(summary.objects.values(), key=lambda line: line.ref):
            where = _code(line.source, table=True) if line.source else ""
            ref = _code(line.ref, table=True)
            lines.append(f"| {line.action.value} | {ref} | {where} | {_md(line.health or '')} |")
        lines.append("")
    if summary.problems:
        lines.append("**Errors**")
        lines.append("")
        for problem in summary.problems:
            where = f"{_code(problem.source)} " if problem.source else ""
            lines.append(f"- {where}{_md(problem.message)}")
        lines.append("")
    if summary.rollback:
        lines += [
            f"Rollback: {'succeeded' if summary.rollback[0] else 'FAILED'}: {_md(summary.rollback[1])}",
            "",
        ]
    return "\n".join(lines) + "\n"


# What can turn text into markup in the middle of a line: HTML and entities, links and images, code,
# emphasis and strikethrough, table cells, and the backslash itself (so that text cannot undo these
# escapes). Line starts (lists, headings) cannot occur: printable() leaves no line break.
_MARKUP = re.compile(r"([\\`*_\[\]<>!|~&])")


def _md(text: str) -> str:
    """Plain text in Markdown: nothing in it becomes a link, HTML, emphasis or a table cell."""
    return _MARKUP.sub(r"\\\1", printable(text))


def _code(text: object, *, table: bool = False) -> str:
    """A code span that holds any text: a fence longer than any run of backticks inside it."""
    shown = printable(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", shown)), default=0) + 1)
    pad = " " if shown[:1] == "`" or shown[-1:] == "`" else ""  # CommonMark strips one space each side
    span = f"{fence}{pad}{shown}{pad}{fence}"
    # In a table a pipe ends the cell even inside a code span, unless it is escaped (GFM).
    return span.replace("|", "\\|") if table else span
