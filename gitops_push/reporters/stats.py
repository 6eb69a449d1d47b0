"""The Summary of a run, folded from its events: what every reporter prints and what decides the exit code.

Because the exit code comes from the same events the reporters saw, no output can claim success
while the process fails, or the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitops_push.errors import ExitCode
from gitops_push.events import (
    Connected,
    Event,
    FileSkipped,
    FindingFound,
    HealthChanged,
    Note,
    ObjectActed,
    PlanReady,
    RenderersFound,
    RollbackFinished,
    RunFailed,
    RunFinished,
    RunStarted,
    Stage,
    TagRecorded,
)
from gitops_push.model import Action, Finding, ForeignFields, ObjectRef, Op, Plan, SourceLocation, StepView

ACTION_OF_OP = {
    Op.CREATE: Action.CREATED,
    Op.UPDATE: Action.CONFIGURED,
    Op.ADOPT: Action.ADOPTED,
    Op.DELETE: Action.PRUNED,
    Op.UNCHANGED: Action.UNCHANGED,
}
# `status` compares the cluster with Git: its plan's ops are read as drift, not as things to do.
DRIFT_OF_OP = {
    Op.CREATE: Action.MISSING,
    Op.UPDATE: Action.DRIFTED,
    Op.DELETE: Action.EXTRA,
    Op.UNCHANGED: Action.UNCHANGED,
}
DEPLOY_ONLY = frozenset({Action.CREATED, Action.CONFIGURED, Action.PRUNED, Action.ADOPTED, Action.RELEASED})
STATUS_ONLY = frozenset({Action.MISSING, Action.DRIFTED, Action.EXTRA})


@dataclass
class ObjectLine:
    ref: ObjectRef
    api_version: str
    source: SourceLocation | None
    action: Action
    error: str | None = None
    acted: bool = False  # False: the action is only planned
    health: str | None = None  # kstatus word while and after waiting
    message: str | None = None
    others: tuple[ForeignFields, ...] = ()  # status: fields other managers set


@dataclass
class Problem:
    message: str
    reference: str
    source: SourceLocation | None = None
    ref: ObjectRef | None = None
    field_path: str = ""
    hint: str | None = None


@dataclass
class Summary:
    command: str = ""
    environment: str = ""
    base: str | None = None
    head: str | None = None
    tag: str | None = None
    pushed: bool = False
    plan: Plan | None = None
    steps: tuple[StepView, ...] = ()  # what a deploy of the plan does, in order
    objects: dict[ObjectRef, ObjectLine] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failure_code: int | None = None
    pending_exit_code: int | None = None  # plan --detailed-exitcode (10), status --exit-code (6)
    rollback: tuple[bool, str] | None = None
    cluster: Connected | None = None  # None: offline, or the run stopped before it connected
    renderers: dict[str, str] = field(default_factory=dict)  # tool name to version
    warnings: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[Problem]:
        return [p for p in self.problems if p.reference == "invalid-manifest"]

    @property
    def exit_code(self) -> int:
        if self.failure_code is not None:
            return self.failure_code
        if self.findings:
            return ExitCode.INVALID
        if any(p.reference == "dry-run-rejected" for p in self.problems):
            return ExitCode.REJECTED
        if any(line.action is Action.FAILED for line in self.objects.values()):
            return ExitCode.FAILED
        if self.pending_exit_code is not None and self.pending:
            return self.pending_exit_code
        return ExitCode.OK

    @property
    def pending(self) -> bool:
        """The plan changes something, or (status) other managers added fields to our objects."""
        return self.plan is not None and (not self.plan.is_empty or bool(self.plan.with_others))

    @property
    def result(self) -> str:
        code = self.exit_code
        if code == ExitCode.OK or (code == self.pending_exit_code and not self.failure_code):
            if self.command == "deploy" and self.tag:
                return "deployed"
            return "planned" if self.pending else "no-changes"
        return "failed"

    def counts(self) -> dict[str, int]:
        """Per action word, how many objects: status counts its own words, other commands theirs."""
        foreign = DEPLOY_ONLY if self.command == "status" else STATUS_ONLY
        counts = {action.value: 0 for action in Action if action not in foreign}
        for line in self.objects.values():
            counts[line.action.value] += 1
        return counts


def fold(summary: Summary, event: Event) -> None:
    """Update the summary with one event."""
    match event:
        case RunStarted(command=command, environment=environment):
            summary.command, summary.environment = command, environment
        case RenderersFound(versions=versions):
            summary.renderers = dict(versions)
        case Connected(warning=warning):
            summary.cluster = event
            if warning:
                summary.warnings.append(warning)
        case PlanReady(plan=plan, steps=steps):
            _take_plan(summary, plan)
            summary.steps = steps
        case ObjectActed(stage=Stage.ROLLBACK):
            pass  # the rollback's own work is summed up by RollbackFinished
        case ObjectActed():
            _take_action(summary, event)
        case HealthChanged(ref=ref, status=status, message=message):
            line = summary.objects.get(ref)
            if line is not None:
                line.health, line.message = status, message
        case RollbackFinished(ok=ok, message=message):
            summary.rollback = (ok, message)
        case FindingFound(finding=finding):
            summary.problems.append(_problem(finding))
        case FileSkipped(skipped=skipped):
            summary.notes.append(f"{skipped.source}: skipped: {skipped.reason}")
        case Note(message=message, source=source):
            summary.notes.append(f"{source}: {message}" if source else message)
        case TagRecorded(tag=tag, pushed=pushed):
            summary.tag, summary.pushed = tag, pushed
        case RunFailed():
            _unreached_are_skipped(summary)
            summary.failure_code = event.exit_code
            summary.problems.append(Problem(event.message, event.reference, event.source, hint=event.hint))
        case RunFinished(base=base, head=head):
            summary.base, summary.head = base, head
        case _:
            pass


def _take_plan(summary: Summary, plan: Plan) -> None:
    summary.plan = plan
    summary.base, summary.head = plan.range.base, plan.range.head
    words = DRIFT_OF_OP if summary.command == "status" else ACTION_OF_OP
    for change in (*plan.changes, *plan.unchanged):
        manifest = change.desired or change.previous
        line = summary.objects.get(change.ref)
        if line is None or line.action is not Action.FAILED:
            summary.objects[change.ref] = ObjectLine(
                change.ref,
                manifest.api_version if manifest else "",
                change.source,
                words[change.op],
                others=change.others,
            )


def _take_action(summary: Summary, event: ObjectActed) -> None:
    line = summary.objects.get(event.ref)
    if line is None:
        line = summary.objects[event.ref] = ObjectLine(
            event.ref, event.api_version, event.source, event.action
        )
    line.action, line.error, line.acted = event.action, event.error, True
    if event.stage is Stage.WAIT:
        line.health, line.message = "Failed", event.error
    if event.error is not None:
        reference = "dry-run-rejected" if event.stage is Stage.DRY_RUN else f"{event.stage.value}-failed"
        summary.problems.append(Problem(event.error, reference, event.source, event.ref))


def _unreached_are_skipped(summary: Summary) -> None:
    """A deploy that stopped: what it planned but never did is reported as skipped, not as done."""
    if summary.command != "deploy":
        return
    for line in summary.objects.values():
        if not line.acted and line.action in (
            Action.CREATED,
            Action.CONFIGURED,
            Action.PRUNED,
            Action.ADOPTED,
        ):
            line.action = Action.SKIPPED


def _problem(finding: Finding) -> Problem:
    return Problem(finding.message, "invalid-manifest", finding.source, finding.ref, finding.field_path)
