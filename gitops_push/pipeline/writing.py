"""The steps that write: membership, waves of applies, waits, prunes, the record and the tag.

Each is an executor registered with the runner. In the ROLLBACK mode the same executors undo a failed
deploy; their object events then carry the ROLLBACK stage, so they are not counted as this deploy's.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from dataclasses import replace

from gitops_push import crds, kinds
from gitops_push.errors import ApplyFailed, DryRunRejected
from gitops_push.events import ObjectActed, Stage, StageFinished, StageStarted, Status, TagRecorded
from gitops_push.model import Action, Change, Manifest, ObjectRef
from gitops_push.pipeline import steps
from gitops_push.pipeline.runner import Context, State, executes
from gitops_push.stages import applying, ownership, planning, pruning, recording, waiting

PREREQUISITE_TIMEOUT = 120.0  # seconds for a wave's Namespaces to be Active and CRDs Established


def _stage(context: Context, stage: Stage) -> Stage:
    return Stage.ROLLBACK if context.mode is steps.Mode.ROLLBACK else stage


def _members(plan: Sequence[Change]) -> list[Manifest]:
    return [c.desired for c in plan if c.desired is not None]


def _wave(changes: tuple[tuple[Change, ...], ...], wave: kinds.Wave) -> tuple[Change, ...]:
    for changes_of_wave in changes:
        ref = changes_of_wave[0].ref
        if kinds.wave_of(ref.group, ref.kind, ref.namespace is not None) is wave:
            return changes_of_wave
    return ()


@executes(steps.WriteMembership)
def write_membership(step: steps.WriteMembership, context: Context, state: State) -> State:
    """Before any apply: a run killed half-way still finds every member's kind in the record, and the
    next run learns that this attempt never finished (and so which objects it may have touched)."""
    assert state.plan is not None
    plan = state.plan
    refs = [c.ref for c in plan.changes] + [c.ref for c in plan.unchanged]
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    record = ownership.write_parent(
        context.online,
        context.environment,
        state.record,
        refs=refs,
        commit=state.record.commit,
        attempt=ownership.Attempt(plan.range.head, started),
        adopted=state.record.adopted | {ownership.ref_key(ref) for ref in state.dry_run.adopt},
    )
    return replace(state, record=record)


@executes(steps.DryRunDeferred)
def dry_run_deferred(step: steps.DryRunDeferred, context: Context, state: State) -> State:
    """What waited for a Namespace or CRD of this deploy, of every wave, now that they are ready."""
    assert state.plan is not None
    waited = [m for wave in state.plan.apply_waves for m in _members(wave) if m.ref in state.dry_run.deferred]
    if not waited:
        return state
    outcomes = applying.dry_run(
        context.online,
        waited,
        {m.ref: planning.desired_body(m, context.labels) for m in waited},
        coming=applying.Arrivals(frozenset(), frozenset()),
        field_manager=context.field_manager,
        force=context.force,
        concurrency=context.concurrency,
        sink=context.sink,
        cancellation=context.cancellation,
        read_live=False,  # nothing can live yet in a Namespace or of a kind that did not exist
        texts=state.intent.texts if state.intent is not None else None,
    )
    if any(o.error for o in outcomes.values()):
        raise DryRunRejected(
            "the dry-run of the objects that waited for a Namespace or CRD of this deploy rejected "
            "changes: only the Namespaces and CRDs before them were applied"
        )
    return state


@executes(steps.ApplyWave)
def apply_wave(step: steps.ApplyWave, context: Context, state: State) -> State:
    assert state.plan is not None
    manifests = _members(_wave(state.plan.apply_waves, step.wave))
    stage = _stage(context, Stage.APPLY)
    started = state.started or datetime.datetime.now(datetime.UTC)
    existing = set(state.dry_run.existing)
    for manifest in manifests:
        if manifest.ref in state.dry_run.replace:
            applying.replace(
                context.online, manifest, timeout=PREREQUISITE_TIMEOUT, sleep=context.cancellation.sleep
            )
            existing.discard(manifest.ref)
    for manifest in manifests:
        if manifest.ref in state.dry_run.migrate:
            resource = context.online.resource(manifest.api_version, manifest.ref.kind)
            if resource is not None:
                ownership.migrate_manager(context.online, resource, manifest.ref, context.environment)
    context.sink.handle(StageStarted(stage, total=len(manifests)))
    failed = applying.apply_wave(
        context.online,
        [(m, planning.desired_body(m, context.labels), _done(m.ref, state, existing)) for m in manifests],
        field_manager=context.field_manager,
        force=context.force,
        concurrency=context.concurrency,
        sink=context.sink,
        cancellation=context.cancellation,
        stage=stage,
    )
    context.sink.handle(StageFinished(stage, Status.FAILED if failed else Status.SUCCEEDED))
    if failed:
        raise ApplyFailed(f"{len(failed)} object(s) failed to apply; no tag was created")
    return replace(state, started=started)


def _done(ref: ObjectRef, state: State, existing: set[ObjectRef]) -> Action:
    if ref in state.dry_run.adopt:
        return Action.ADOPTED
    return Action.CONFIGURED if ref in existing else Action.CREATED


@executes(steps.WaitPrerequisites)
def wait_prerequisites(step: steps.WaitPrerequisites, context: Context, state: State) -> State:
    """Later waves need these Namespaces Active and CRDs Established (and their kinds discovered)."""
    assert state.plan is not None
    manifests = _members(_wave(state.plan.apply_waves, step.wave))
    stuck = waiting.wait_healthy(
        context.online,
        manifests,
        timeout=PREREQUISITE_TIMEOUT,
        sink=context.sink,
        sleep=context.cancellation.sleep,
        concurrency=context.concurrency,
        first_poll=waiting.FIRST_POLL_SECONDS,
    )
    if stuck:
        ref, why = next(iter(stuck.items()))
        raise ApplyFailed(f"{ref} did not become ready: {why}")
    context.online.forget_discovery()
    _wait_discovered(context, crds.definitions(manifests), time.monotonic() + PREREQUISITE_TIMEOUT)
    return state


DISCOVERY_POLL = 0.25  # at most this many seconds between discovery requests for a new CRD's kind


def _wait_discovered(context: Context, definitions: Sequence[crds.CrdDefinition], deadline: float) -> None:
    """An Established CRD can still be missing from discovery for a moment (the API server installs
    its handlers after the condition is set): the next wave's custom resources would be refused as an
    unknown kind. Ask until every served version of every kind is listed."""
    pause = waiting.FIRST_POLL_SECONDS
    for definition in definitions:
        for version in (v.name for v in definition.versions if v.served):
            api_version = f"{definition.group}/{version}"
            while context.online.resource(api_version, definition.kind) is None:
                if time.monotonic() > deadline:
                    raise ApplyFailed(f"{definition.group_kind} {version} is established but not served")
                context.cancellation.sleep(pause)
                pause = min(pause * 2, DISCOVERY_POLL)
                context.online.forget_discovery()


@executes(steps.WaitHealthy)
def wait_healthy(step: steps.WaitHealthy, context: Context, state: State) -> State:
    assert state.plan is not None
    applied = [m for wave in state.plan.apply_waves for m in _members(wave)]
    watched = [m for m in applied if waiting.worth_waiting(m.ref)]
    rollback = context.mode is steps.Mode.ROLLBACK
    if not rollback:
        context.sink.handle(StageStarted(Stage.WAIT, total=len(watched)))
    failures = waiting.wait_healthy(
        context.online,
        watched,
        timeout=context.settings.flags.timeout,
        sink=context.sink,
        since=state.started,
        sleep=context.cancellation.sleep,
        concurrency=context.concurrency,
    )
    if rollback:
        if failures:
            raise ApplyFailed(f"{len(failures)} restored object(s) did not become healthy")
        return state
    for ref, why in sorted(failures.items()):
        manifest = next(m for m in applied if m.ref == ref)
        context.sink.handle(
            ObjectActed(Stage.WAIT, ref, Action.FAILED, manifest.source, manifest.api_version, why)
        )
    context.sink.handle(StageFinished(Stage.WAIT, Status.FAILED if failures else Status.SUCCEEDED))
    if failures:
        raise ApplyFailed(f"{len(failures)} object(s) did not become healthy; no tag was created")
    return state


@executes(steps.PruneWave)
def prune_wave(step: steps.PruneWave, context: Context, state: State) -> State:
    assert state.plan is not None
    gone = [c.previous for c in _wave(state.plan.prune_waves, step.wave) if c.previous is not None]
    stage = _stage(context, Stage.PRUNE)
    context.sink.handle(StageStarted(stage, total=len(gone)))
    adopted = state.record.adopted if not context.settings.flags.prune_adopted else frozenset()
    released = [m for m in gone if ownership.ref_key(m.ref) in adopted]
    failed = pruning.release_wave(
        context.online,
        [(m, ownership.release_body(m)) for m in released],
        field_manager=context.field_manager,
        sink=context.sink,
        stage=stage,
        concurrency=context.concurrency,
        cancellation=context.cancellation,
    )
    failed += pruning.prune_wave(
        context.online,
        [m for m in gone if m not in released],
        sink=context.sink,
        stage=stage,
        concurrency=context.concurrency,
        cancellation=context.cancellation,
    )
    context.sink.handle(StageFinished(stage, Status.FAILED if failed else Status.SUCCEEDED))
    if failed:
        raise ApplyFailed(f"{len(failed)} object(s) could not be pruned; no tag was created")
    return state


@executes(steps.WriteRecord)
def write_record(step: steps.WriteRecord, context: Context, state: State) -> State:
    """The cluster now runs the plan's head (for a rollback: the base it returned to)."""
    assert state.plan is not None
    plan = state.plan
    refs = [c.ref for c in plan.changes] + [c.ref for c in plan.unchanged]
    commit = plan.range.head or None  # a rollback of a first deploy leaves no commit
    gone = {ownership.ref_key(c.ref) for wave in plan.prune_waves for c in wave}
    record = ownership.write_parent(
        context.online,
        context.environment,
        state.record,
        refs=refs,
        commit=commit,
        adopted=state.record.adopted - gone,
    )
    return replace(state, record=record)


@executes(steps.Tag)
def tag(step: steps.Tag, context: Context, state: State) -> State:
    assert state.plan is not None
    env = context.settings.environment
    name, pushed = recording.record(
        context.repo,
        prefix=env.prefix,
        environment=env.name,
        plan=state.plan,
        push=context.settings.flags.push,
        provenance=context.provenance,
        renderers=context.tools.versions(),
    )
    context.sink.handle(TagRecorded(name, state.plan.range.head, pushed))
    return state
