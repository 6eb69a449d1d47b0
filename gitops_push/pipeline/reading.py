"""The steps that read the cluster before any write: lock, read the record, dry-run the change and
review the plan (which also decides whose objects this deploy may take over).
"""

from __future__ import annotations

import os
from dataclasses import replace

from gitops_push.errors import DryRunRejected
from gitops_push.events import Note, PlanReady, Stage, StageFinished, StageStarted, Status
from gitops_push.pipeline import owning, steps
from gitops_push.pipeline.runner import Context, DryRunResult, State, executes, step_views
from gitops_push.stages import applying, locking, ownership, planning, pruning, recording


@executes(steps.Lock)
def lock(step: steps.Lock, context: Context, state: State) -> State:
    """Two deploys of one environment must not interleave."""
    identity = recording.ci_identity(os.environ)
    held = locking.Lock(
        context.online, context.environment, identity["actor"] or identity["system"], identity["run"]
    )
    held.acquire(
        timeout=context.settings.flags.lock_timeout, sink=context.sink, sleep=context.cancellation.sleep
    )
    return replace(state, lock=held)


@executes(steps.ReadRecord)
def read_record(step: steps.ReadRecord, context: Context, state: State) -> State:
    return replace(state, record=ownership.read_record(context.online, context.environment))


@executes(steps.DryRun)
def dry_run(step: steps.DryRun, context: Context, state: State) -> State:
    """Every object at once, concurrently; what waits for a Namespace or CRD of this deploy is deferred."""
    assert state.intent is not None
    sink, flags, intent = context.sink, context.settings.flags, state.intent
    sink.handle(StageStarted(Stage.DRY_RUN))
    outcomes = applying.dry_run(
        context.online,
        intent.chosen.to_apply,
        {m.ref: planning.desired_body(m, context.labels) for m in intent.chosen.to_apply},
        coming=intent.arrivals,
        field_manager=context.field_manager,
        force=context.force,
        concurrency=context.concurrency,
        sink=sink,
        cancellation=context.cancellation,
        read_live=context.mode in (steps.Mode.PLAN, steps.Mode.STATUS)
        or (intent.full and state.record.exists),
        replace_immutable=flags.replace_immutable,
        texts=intent.texts,
    )
    replaceable = frozenset(ref for ref, o in outcomes.items() if o.immutable and flags.replace_immutable)
    for ref in sorted(replaceable):
        sink.handle(Note(f"{ref}: an immutable field changes: it will be deleted and created again"))
    waiting_for: dict[str, int] = {}
    for outcome in outcomes.values():
        if outcome.deferred:
            waiting_for[outcome.deferred] = waiting_for.get(outcome.deferred, 0) + 1
    for why, count in sorted(waiting_for.items()):
        sink.handle(Note(f"{count} object(s) are dry-run once their prerequisites are applied: {why}"))
    observations = {ref: planning.Observation(o.live, o.answer, o.live_read) for ref, o in outcomes.items()}
    owners = owning.check(context, state, outcomes)
    for ref, live in (owners.lives or {}).items():  # read for the check: the plan diffs against it
        observations[ref] = planning.Observation(live, outcomes[ref].answer, True)
    result = DryRunResult(
        observations=observations,
        deferred=frozenset(ref for ref, o in outcomes.items() if o.deferred),
        existing=frozenset(ref for ref, seen in observations.items() if seen.exists),
        replace=replaceable,
        rejected=owners.refused or any(o.error for ref, o in outcomes.items() if ref not in replaceable),
        adopt=owners.adopt,
        migrate=owners.migrate,
    )
    sink.handle(StageFinished(Stage.DRY_RUN, Status.FAILED if result.rejected else Status.SUCCEEDED))
    return replace(state, dry_run=result)


@executes(steps.Review)
def review(step: steps.Review, context: Context, state: State) -> State:
    """The plan, with the steps a deploy of it takes, goes to the reporters; a rejection stops here."""
    assert state.intent is not None
    intent = state.intent
    plan = planning.build(
        intent.change_set,
        intent.chosen,
        observations=state.dry_run.observations if context.cluster is not None else None,
        prune=intent.prune,
        skipped=intent.change_set.skipped,
        notes=intent.notes,
        diffs=context.settings.diffs,
        adopt=state.dry_run.adopt,
        ours=ownership.managers(context.environment) if context.mode is steps.Mode.STATUS else (),
    )
    plan = replace(plan, hooks=intent.hooks)
    context.sink.handle(PlanReady(plan, step_views(context, plan)))
    if context.mode is steps.Mode.PLAN:  # the plan lists what a deploy would prune, then refuses as it would
        pruning.refuse_mass_prune(len(intent.prune), context.settings.flags.max_prune)
    if state.dry_run.rejected:
        raise DryRunRejected("the server-side dry-run rejected changes: nothing was applied")
    return replace(state, plan=plan)
