"""The order of a run, as data: one pure builder turns a mode and a plan into the list of steps.

    lock -> read the record -> prepare (load, validate, choose) -> dry-run -> review the plan
         -> write membership -> per wave: [dry-run what waited] apply [wait for prerequisites]
         -> wait for health -> prune, waves reversed -> write the record -> tag -> release

`build(mode, plan=None)` gives the steps up to and including `Review`, which are the same whatever
the plan; once the review has produced the plan, `build(mode, plan)` gives the whole list, whose
head is that same prefix. The runner executes the list; `plan -v` and `-o json` show it. A rollback
after a failed deploy is a plan like any other, built here in the ROLLBACK mode.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gitops_push import kinds
from gitops_push.model import ObjectRef, Plan, StepView
from gitops_push.stages import waiting


class Mode(enum.Enum):
    """What the steps are for (settings.Mode says what the user asked; this adds the rollback)."""

    PLAN = "plan"
    STATUS = "status"
    DRY_RUN = "dry-run"
    DEPLOY = "deploy"
    ROLLBACK = "rollback"  # undo a failed deploy: writes without lock (still held), review or tag


@dataclass(frozen=True)
class Options:
    """The flags that change which steps a run has."""

    online: bool = True
    wait: bool = True


@dataclass(frozen=True)
class Lock:
    pass


@dataclass(frozen=True)
class ReadRecord:
    pass


@dataclass(frozen=True)
class Prepare:
    """Load the change from Git, validate it, choose what to apply and what to prune."""


@dataclass(frozen=True)
class DryRun:
    """Server-side dry-run of every object of the plan at once, before any write."""


@dataclass(frozen=True)
class Review:
    """The plan is ready: report it; stop when the dry-run rejected anything."""


@dataclass(frozen=True)
class WriteMembership:
    """Record the members' kinds in the ApplySet parent before applying, so a killed run can prune."""


@dataclass(frozen=True)
class DryRunDeferred:
    """The objects that waited for a Namespace or CRD of this deploy, of every later wave at once, as
    soon as the last wave of Namespaces and CRDs is applied and ready: a rejection then stops the
    deploy before any of the other objects is applied, and later waves wait for no round of their own."""


@dataclass(frozen=True)
class ApplyWave:
    wave: kinds.Wave
    objects: int


@dataclass(frozen=True)
class WaitPrerequisites:
    wave: kinds.Wave  # Namespaces Active, CRDs Established, before the next wave


@dataclass(frozen=True)
class PreHooks:
    """Helm pre-install or pre-upgrade hooks, in weight order, each waited for, before the first apply."""

    objects: int


@dataclass(frozen=True)
class PostHooks:
    """Helm post-install or post-upgrade hooks, after health (or the last apply, with --no-wait)."""

    objects: int


@dataclass(frozen=True)
class WaitHealthy:
    objects: int


@dataclass(frozen=True)
class PruneWave:
    wave: kinds.Wave
    objects: int


@dataclass(frozen=True)
class WriteRecord:
    """The deployed commit into the ApplySet parent (the plan's head; the base for a rollback)."""


@dataclass(frozen=True)
class Tag:
    pass


@dataclass(frozen=True)
class Release:
    """Give the lock back; the runner runs it even when an earlier step failed."""


Step = (
    Lock
    | ReadRecord
    | Prepare
    | DryRun
    | Review
    | WriteMembership
    | DryRunDeferred
    | ApplyWave
    | WaitPrerequisites
    | PreHooks
    | PostHooks
    | WaitHealthy
    | PruneWave
    | WriteRecord
    | Tag
    | Release
)
WRITES = (Mode.DEPLOY, Mode.ROLLBACK)


def build(mode: Mode, options: Options, plan: Plan | None = None) -> tuple[Step, ...]:
    """The steps of a run. Without a plan: those up to the review (the plan is made on the way)."""
    head = _before_review(mode, options)
    if plan is None:
        return head
    writes = _writes(mode, options, plan) if mode in WRITES and options.online else ()
    tail: tuple[Step, ...] = (Release(),) if Lock() in head else ()
    return head + writes + tail


def _before_review(mode: Mode, options: Options) -> tuple[Step, ...]:
    if mode is Mode.ROLLBACK:
        return ()  # the failed deploy already holds the lock and knows the record
    if not options.online:
        return (Prepare(), Review())
    lock: tuple[Step, ...] = (Lock(),) if mode is Mode.DEPLOY else ()
    return (*lock, ReadRecord(), Prepare(), DryRun(), Review())


def _writes(mode: Mode, options: Options, plan: Plan) -> tuple[Step, ...]:
    steps: list[Step] = [] if mode is Mode.ROLLBACK else [WriteMembership()]
    pre, post = plan.hooks_of(pre=True), plan.hooks_of(pre=False)
    if pre and mode is Mode.DEPLOY:
        steps.append(PreHooks(len(pre)))
    numbers = [_wave(wave[0].ref) for wave in plan.apply_waves]
    # Only a Namespace or a CRD of this deploy defers a dry-run, and they are the first waves.
    last_prerequisite = max((n for n in numbers if n <= kinds.Wave.CRDS), default=None)
    for number, wave in zip(numbers, plan.apply_waves, strict=True):
        steps.append(ApplyWave(number, len(wave)))
        if number <= kinds.Wave.CRDS:
            steps.append(WaitPrerequisites(number))
        if number == last_prerequisite:
            steps.append(DryRunDeferred())
    watched = sum(1 for wave in plan.apply_waves for change in wave if waiting.worth_waiting(change.ref))
    if options.wait and watched:
        steps.append(WaitHealthy(watched))
    if post and mode is Mode.DEPLOY:
        steps.append(PostHooks(len(post)))
    steps += [PruneWave(_wave(wave[0].ref), len(wave)) for wave in plan.prune_waves]
    steps.append(WriteRecord())
    if mode is Mode.DEPLOY:
        steps.append(Tag())
    return tuple(steps)


def _wave(ref: ObjectRef) -> kinds.Wave:
    return kinds.wave_of(ref.group, ref.kind, ref.namespace is not None)


def view(step: Step) -> StepView:
    """A step as the reporters show it (plan -v, `steps` in the JSON output)."""
    name = _NAMES[type(step)]
    wave = getattr(step, "wave", None)
    objects = getattr(step, "objects", None)
    text = name
    if wave is not None:
        text += f" wave {int(wave)} ({wave.name.lower()})"
    if objects is not None:
        text += f": {objects} object{'s' if objects != 1 else ''}"
    return StepView(name, wave.name.lower() if wave is not None else None, objects, text)


_NAMES: dict[type, str] = {
    Lock: "lock",
    ReadRecord: "read-record",
    Prepare: "prepare",
    DryRun: "dry-run",
    Review: "review",
    WriteMembership: "write-membership",
    DryRunDeferred: "dry-run-deferred",
    ApplyWave: "apply",
    WaitPrerequisites: "wait-prerequisites",
    PreHooks: "pre-hooks",
    PostHooks: "post-hooks",
    WaitHealthy: "wait-healthy",
    PruneWave: "prune",
    WriteRecord: "write-record",
    Tag: "tag",
    Release: "release",
}
