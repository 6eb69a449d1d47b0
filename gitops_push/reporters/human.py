"""Readable terminal output with rich: notes and errors as they happen, the plan as a table, progress
while applying, and a one-line summary.

Results go to `out` (stdout), errors and notes to `err` (stderr). On a terminal there are colours and a
progress bar; when the output is not a terminal, or NO_COLOR is set, it is plain text with one line
per object, which is what CI logs want.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from gitops_push.events import (
    Connected,
    Event,
    FileSkipped,
    FindingFound,
    HealthChanged,
    Note,
    ObjectActed,
    PlanReady,
    RollbackFinished,
    RunFailed,
    RunStarted,
    Stage,
    StageFinished,
    StageStarted,
    TagRecorded,
)
from gitops_push.model import Action, Change, Op, Plan, StepView
from gitops_push.reporters.safe import markup, printable
from gitops_push.reporters.stats import Summary

if TYPE_CHECKING:
    # Live displays and progress bars are for terminals only: imported when one starts (rich's
    # progress module alone takes 7 to 11 ms, a run to a pipe or a CI log never needs it).
    from rich.live import Live
    from rich.progress import Progress, TaskID
    from rich.table import Table

OP_STYLE = {
    Op.CREATE: "green",
    Op.UPDATE: "yellow",
    Op.DELETE: "red",
    Op.UNCHANGED: "dim",
    Op.ADOPT: "magenta",
}
OP_WORD = {
    Op.CREATE: "create",
    Op.UPDATE: "update",
    Op.DELETE: "prune",
    Op.UNCHANGED: "unchanged",
    Op.ADOPT: "adopt",
}
DIFF_STYLE = {"+": "green", "-": "red", "@": "cyan"}
DRIFT_WORD = {
    Op.CREATE: "missing",
    Op.UPDATE: "drifted",
    Op.DELETE: "not in Git",
    Op.UNCHANGED: "in sync",
    Op.ADOPT: "not ours",
}
ACTION_STYLE = {
    Action.CREATED: "green",
    Action.CONFIGURED: "yellow",
    Action.PRUNED: "red",
    Action.ADOPTED: "magenta",
    Action.RELEASED: "magenta",
    Action.FAILED: "bold red",
}


def _plan_table(rows: list[Change], words: dict[Op, str]) -> list[tuple[str, str, str, str]]:
    """The plan's rows as (action, object, file, action style), padded to aligned columns.

    A rich Table measures and wraps every cell, which took seconds for a plan of 10,000 objects; this
    pads the columns to their widest cell and lets long lines run on, as a log would.
    """
    cells = [(words[c.op], printable(c.ref), printable(c.source or ""), OP_STYLE[c.op]) for c in rows]
    cells.insert(0, ("action", "object", "file", "bold"))
    action_width = max(_width(action) for action, _, _, _ in cells)
    object_width = max(_width(ref) for _, ref, _, _ in cells)
    return [
        (_pad(a, action_width), _pad(ref, object_width), source, style) for a, ref, source, style in cells
    ]


def _width(cell: str) -> int:
    """Terminal cells of a cell's text: one per character when it is printable ASCII (most names),
    which is quicker to know than to measure."""
    return len(cell) if cell.isascii() and cell.isprintable() else cell_len(cell)


def _pad(cell: str, width: int) -> str:
    return cell + " " * (width - _width(cell))


class HumanReporter:
    def __init__(
        self, out: Console, err: Console, *, show_diff: bool, verbose: int = 0, quiet: bool = False
    ) -> None:
        self._quiet = quiet
        self._out = out
        self._err = err
        self._show_diff = show_diff
        self._verbose = verbose
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._live: Live | None = None
        self._waiting: dict[str, HealthChanged] = {}
        self._command = ""

    def handle(self, event: Event) -> None:
        if self._quiet and not isinstance(
            event, FindingFound | RunFailed | RollbackFinished | ObjectActed | Connected
        ):
            return  # -q: errors, warnings and the final line only
        if self._quiet and isinstance(event, ObjectActed) and event.action is not Action.FAILED:
            return
        match event:
            case RunStarted(command=command):
                self._command = command
            case Connected(server=server, context=context, warning=warning):
                if not self._quiet:
                    self._err.print(f"[dim]cluster: {markup(server)} (context {markup(context)})[/]")
                if warning:
                    self._err.print(f"[bold yellow]warning:[/] {markup(warning)}")
            case FileSkipped(skipped=skipped):
                self._err.print(
                    f"[dim]note: {markup(str(skipped.source))}: skipped: {markup(skipped.reason)}[/]"
                )
            case Note(message=message, source=source):
                where = f"{source}: " if source else ""
                self._err.print(f"[cyan]note:[/] {markup(where + message)}")
            case FindingFound(finding=finding):
                field = f" [dim](field {markup(finding.field_path)})[/]" if finding.field_path else ""
                self._err.print(
                    f"[bold red]error:[/] {markup(str(finding.source))}: {markup(finding.message)}{field}"
                )
            case PlanReady(plan=plan, steps=steps):
                self._print_plan(plan)
                self._print_others(plan)
                if self._verbose and steps:
                    self._print_steps(steps)
            case StageStarted(stage=Stage.WAIT):
                self._start_waiting()
            case StageStarted(stage=stage, total=total) if total:
                self._start_progress(stage.value, total)
            case StageFinished():
                self._stop_progress()
            case HealthChanged():
                self._health(event)
            case RollbackFinished(ok=ok, message=message):
                style = "green" if ok else "bold red"
                self._err.print(f"[{style}]{'↩' if ok else '✗'} {markup(message)}[/]")
            case ObjectActed():
                self._object(event)
            case TagRecorded(tag=tag, pushed=pushed):
                self._out.print(f"tagged [bold]{markup(tag)}[/]{' and pushed it' if pushed else ''}")
            case RunFailed(message=message, hint=hint, source=source):
                self._stop_progress()
                where = f"{source}: " if source else ""
                self._err.print(f"[bold red]error:[/] {markup(where + message)}")
                if hint:
                    self._err.print(f"[dim]hint: {markup(hint)}[/]")
            case _:
                pass

    def close(self, summary: Summary) -> None:
        self._stop_progress()
        counts = summary.counts()
        shown = ", ".join(f"{n} {word}" for word, n in counts.items() if n)
        env = markup(summary.environment)
        code = summary.exit_code
        if summary.result == "failed":
            self._err.print(
                f"[bold red]✗ {markup(summary.command)} of {env} failed[/] (exit code {code}){': ' + shown if shown else ''}"
            )
        elif self._command == "status":
            if summary.plan is not None and summary.pending:
                tag = markup(summary.plan.range.base_tag or "")
                others = len(summary.plan.with_others)
                added = f", {others} carry fields of other managers" if others else ""
                self._out.print(
                    f"[bold yellow]drift in {env}[/]: {len(summary.plan.changes)} object(s) differ from {tag}{added}"
                )
            else:
                self._out.print(
                    f"[green]✓[/] no drift in {env}: the cluster matches {markup(summary.plan.range.base_tag or '') if summary.plan else 'Git'}"
                )
        elif summary.result == "no-changes":
            self._out.print(f"[green]✓[/] nothing to deploy to {env}{': ' + shown if shown else ''}")
        elif summary.result == "deployed":
            self._out.print(
                f"[bold green]✓ deployed {markup((summary.head or '')[:12])} to {env}[/]: {shown or 'nothing applied'}"
            )
        else:
            self._out.print(f"[bold]plan for {env}[/]: {shown}")

    # --- pieces ----------------------------------------------------------------------------------

    def _print_plan(self, plan: Plan) -> None:
        if self._out.quiet:
            return  # -o json: stdout holds the document, and nothing here would be shown
        base = plan.range.base[:12] if plan.range.base else "(first deploy)"
        self._out.print(
            f"[bold]{base}..{plan.range.head[:12]}[/]" + (" [yellow](full set)[/]" if plan.full else "")
        )
        rows = [*plan.changes, *(plan.unchanged if self._verbose else ())]
        if not rows:
            return
        (header, *body) = _plan_table(rows, DRIFT_WORD if self._command == "status" else OP_WORD)
        if self._plain:
            self._write_plain("".join(f"{a}  {ref}  {source}\n" for a, ref, source, _ in (header, *body)))
        else:
            text = Text()
            text.append("  ".join(header[:3]) + "\n", style="bold")
            for action, ref, source, style in body:
                text.append(action, style=style)
                text.append(f"  {ref}  ")
                text.append(source, style="dim")
                text.append("\n")
            self._out.print(text, soft_wrap=True, end="")
        if self._show_diff:
            for change in plan.changes:
                self._print_diff(change)

    def _print_others(self, plan: Plan) -> None:
        """status: fields other managers added to our objects, apart from drift of our own fields."""
        changes = plan.with_others
        if not changes or self._out.quiet:
            return
        self._out.print("fields set by other managers (not in Git):", style="bold", highlight=False)
        for change in changes:
            for others in change.others:
                self._out.print(
                    f"  {change.ref}: {', '.join(others.fields)} (by {others.manager})",
                    markup=False,
                    highlight=False,
                )

    def _print_steps(self, steps: tuple[StepView, ...]) -> None:
        """-v: the steps a deploy of this plan takes, in order (the deploy as data)."""
        if self._out.quiet:
            return
        lines = "".join(f"  {number:>2}. {step.text}\n" for number, step in enumerate(steps, 1))
        if self._plain:
            self._write_plain("steps:\n" + lines)
        else:
            self._out.print(Text("steps:\n", style="bold") + Text(lines), end="")

    @property
    def _plain(self) -> bool:
        """Output without styles (a CI log, a pipe), where rich's markup and rendering would only cost
        time: a second per 10,000 lines of a plan."""
        return self._out.color_system is None

    def _write_plain(self, text: str) -> None:
        if not self._out.quiet:
            self._out.file.write(text)

    def _print_diff(self, change: Change) -> None:
        if not change.diff or self._out.quiet:
            return
        # One Text per change, not one print per line: a plan of 10,000 objects has 300,000 lines.
        text = Text(f"--- {printable(change.ref)}\n", style="bold")
        for line in change.diff:
            text.append(printable(line) + "\n", style=DIFF_STYLE.get(line[:1], ""))
        self._out.print(text, highlight=False, end="")

    def _object(self, event: ObjectActed) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)
        if event.action is Action.FAILED:
            where = f"{event.source}: " if event.source else ""
            self._err.print(
                f"[bold red]✗ {event.stage.value} failed:[/] {markup(where + str(event.ref))}: {markup(event.error or '')}"
            )
            return
        if self._progress is None or self._verbose:
            if self._plain:
                self._write_plain(f"{event.action.value} {printable(event.ref)}\n")
                return
            style = ACTION_STYLE.get(event.action, "dim")
            self._out.print(f"[{style}]{event.action.value}[/] {markup(str(event.ref))}")

    def _start_waiting(self) -> None:
        self._stop_progress()
        self._waiting = {}
        if self._out.is_terminal:
            from rich.live import Live

            self._live = Live(self._health_table(), console=self._out, transient=True, refresh_per_second=4)
            self._live.start()
        else:
            self._out.print("waiting for the applied objects to become healthy")

    def _health(self, event: HealthChanged) -> None:
        self._waiting[str(event.ref)] = event
        if self._live is not None:
            self._live.update(self._health_table())
        elif event.status != "Current" or self._verbose:
            self._out.print(
                f"  {markup(str(event.ref))}: {event.status}: {markup(event.message)} ({event.elapsed:.0f}s)"
            )
        else:
            self._out.print(f"  {markup(str(event.ref))}: [green]Current[/] ({event.elapsed:.0f}s)")

    def _health_table(self) -> Table:
        from rich.table import Table

        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        for column in ("object", "health", "message", "elapsed"):
            table.add_column(column)
        for name, event in sorted(self._waiting.items()):
            style = {"Current": "green", "Failed": "bold red"}.get(event.status, "yellow")
            table.add_row(
                markup(name), f"[{style}]{event.status}[/]", markup(event.message), f"{event.elapsed:.0f}s"
            )
        return table

    def _start_progress(self, label: str, total: int) -> None:
        if not self._out.is_terminal:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._out,
            transient=True,
        )
        self._task = self._progress.add_task(label, total=total)
        self._progress.start()

    def _stop_progress(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
            for name, event in sorted(self._waiting.items()):
                self._out.print(
                    f"  {markup(name)}: {event.status}: {markup(event.message)} ({event.elapsed:.0f}s)"
                )
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None
