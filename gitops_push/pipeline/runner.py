"""The runner: executes a list of steps from `steps.build`, one executor per step type.

Every executor takes the run's fixed `Context` and the frozen `State` so far, reports through the
sink, and returns the next `State`; a run-level failure is an exception. After `Review`, when the
plan is known, the runner asks the builder for the whole list again (its head is what already ran).
A cancellation (SIGTERM, SIGINT) is looked at before each step. The lock is released whatever happens.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gitops_push import cancelling, gitrepo, naming
from gitops_push.errors import Cancelled, GitopsPushError
from gitops_push.events import Event, EventSink, ObjectActed, Stage
from gitops_push.model import Action, ChangeSet, HookRun, Manifest, ObjectRef, Plan, Range, StepView
from gitops_push.pipeline import steps
from gitops_push.settings import Settings
from gitops_push.stages import applying, loading, locking, ownership, planning, recording, rendering

if TYPE_CHECKING:
    from gitops_push.kube import Cluster


@dataclass(frozen=True)
class Context:
    """What stays the same through a run: where it reads and writes, and what it was asked."""

    settings: Settings
    repo: gitrepo.GitRepo
    sink: EventSink
    cluster: Cluster | None
    span: Range
    mode: steps.Mode
    options: steps.Options
    provenance: recording.Provenance = field(default_factory=recording.Provenance)
    cancellation: cancelling.Cancellation = field(default_factory=cancelling.Cancellation)
    tools: rendering.Tools = field(default_factory=rendering.Tools)  # renderers of rendered sources
    read_ahead: loading.ReadAhead | None = None  # the range's files, being read while the run connects

    @property
    def online(self) -> Cluster:
        """The cluster, for the steps that only exist in an online run."""
        assert self.cluster is not None, "an online step ran without a cluster"
        return self.cluster

    @property
    def environment(self) -> str:
        return self.settings.environment.name

    @property
    def labels(self) -> dict[str, str]:
        """What every applied object carries: membership of the environment's ApplySet."""
        return {ownership.PART_OF_LABEL: ownership.applyset_id(self.environment)}

    @property
    def field_manager(self) -> str:
        return naming.field_manager(self.environment)

    @property
    def concurrency(self) -> int:
        """Requests in flight at once: --concurrency if given, else grown with the measured round trip."""
        round_trip = self.cluster.round_trip() if self.cluster is not None else None
        return applying.in_flight(round_trip, self.settings.flags.concurrency)

    @property
    def force(self) -> bool:
        """Take over conflicting fields: when asked, when repairing drift (--all), when measuring drift."""
        flags = self.settings.flags
        return flags.force_conflicts or flags.all_objects or self.mode is steps.Mode.STATUS


@dataclass(frozen=True)
class Intent:
    """What `Prepare` chose from Git: the objects to dry-run and apply, and those to prune."""

    change_set: ChangeSet
    chosen: planning.Candidates
    prune: tuple[Manifest, ...]
    full: bool
    notes: tuple[str, ...] = ()
    hooks: tuple[HookRun, ...] = ()  # Helm hooks of the rendered sources this deploy renders
    # File text by path (plain files, rendered sources' files) for the line of a rejected field.
    texts: Mapping[str, str] = field(default_factory=dict)

    @property
    def arrivals(self) -> applying.Arrivals:
        return applying.arrivals(self.chosen.to_apply)


@dataclass(frozen=True)
class DryRunResult:
    observations: Mapping[ObjectRef, planning.Observation]
    deferred: frozenset[ObjectRef] = frozenset()  # waits for a Namespace or CRD of this deploy
    existing: frozenset[ObjectRef] = frozenset()  # live before this run
    replace: frozenset[ObjectRef] = frozenset()  # --replace-immutable: delete, then create
    rejected: bool = False
    adopt: frozenset[ObjectRef] = frozenset()  # existing objects made by others, taken over (--adopt)
    migrate: frozenset[ObjectRef] = frozenset()  # members still carrying the old shared field manager


@dataclass(frozen=True)
class State:
    """What a run has learnt and done so far; each step returns a new one."""

    record: ownership.Record = field(default_factory=lambda: ownership.Record(exists=False))
    lock: locking.Lock | None = None
    intent: Intent | None = None
    dry_run: DryRunResult = field(default_factory=lambda: DryRunResult({}))
    plan: Plan | None = None
    started: datetime.datetime | None = None  # when the first write began: pods after it are judged
    stopped: bool = False  # nothing (more) to do: the remaining steps are skipped


Executor = Callable[[Any, Context, State], State]
EXECUTORS: dict[type, Executor] = {}


def executes(kind: type) -> Callable[[Executor], Executor]:
    """Register the executor of one step type."""

    def register(function: Executor) -> Executor:
        EXECUTORS[kind] = function
        return function

    return register


FailureHandler = Callable[[Any, Context, State], None]


def run(context: Context, state: State | None = None, *, on_failure: FailureHandler | None = None) -> State:
    """Execute the steps of the context's mode; returns the final state.

    When a step fails, `on_failure(step, context, state)` runs before the lock is released (an
    automatic rollback needs the lock), then the failure propagates. A cancellation is not a failure
    to roll back from: after it, no new request may be sent."""
    state = state or State()
    todo = steps.build(context.mode, context.options, state.plan)
    done = 0
    try:
        while done < len(todo) and not state.stopped:
            step = todo[done]
            try:
                if not isinstance(step, steps.Release):
                    context.cancellation.check()
                state = EXECUTORS[type(step)](step, context, state)
            except Cancelled:
                raise
            except GitopsPushError:
                if on_failure is not None:
                    on_failure(step, context, state)
                raise
            done += 1
            if isinstance(step, steps.Review) and state.plan is not None:
                todo = steps.build(context.mode, context.options, state.plan)
    finally:
        if state.lock is not None:
            state.lock.release()
    return state


@executes(steps.Release)
def release(step: steps.Release, context: Context, state: State) -> State:
    if state.lock is not None:
        state.lock.release()
    return replace(state, lock=None)


def step_views(context: Context, plan: Plan) -> tuple[StepView, ...]:
    """The steps a run of this plan takes, as the reporters show them."""
    return tuple(steps.view(step) for step in steps.build(context.mode, context.options, plan))


class AppliedTally:
    """Passes events on and counts the objects applied, which a cancellation's message reports."""

    def __init__(self, sink: EventSink) -> None:
        self._sink = sink
        self._lock = threading.Lock()  # the apply workers report from several threads
        self.applied = 0

    def handle(self, event: Event) -> None:
        applied = (Action.CREATED, Action.CONFIGURED, Action.ADOPTED)
        if isinstance(event, ObjectActed) and event.stage is Stage.APPLY and event.action in applied:
            with self._lock:
                self.applied += 1
        self._sink.handle(event)
