"""--rollback-on-failure: the plan that returns an environment to its last deployed commit after a
failed deploy, run by the same runner in the ROLLBACK mode (the lock is still held).
"""

from __future__ import annotations

from dataclasses import replace

from gitops_push.errors import GitopsPushError
from gitops_push.events import RollbackFinished, Stage, StageStarted
from gitops_push.model import ChangeSet, Manifest, Plan, Range
from gitops_push.pipeline import preparing, runner, steps
from gitops_push.pipeline.runner import Context, DryRunResult, State
from gitops_push.stages import ownership, planning, pruning


def roll_back(context: Context, failed: State) -> None:
    """Undo what the failed deploy of `failed.plan` did; the outcome is one RollbackFinished event."""
    assert failed.plan is not None
    plan = failed.plan
    context.sink.handle(StageStarted(Stage.ROLLBACK))
    try:
        back = back_plan(context, failed)
        restored = frozenset(c.ref for wave in back.apply_waves for c in wave)
        state = State(
            record=failed.record,
            dry_run=DryRunResult({}, existing=restored),
            plan=back,
            started=failed.started,
        )
        rollback = replace(context, mode=steps.Mode.ROLLBACK, options=steps.Options(online=True, wait=True))
        runner.run(rollback, state)
    except GitopsPushError as exc:
        context.sink.handle(RollbackFinished(False, f"rollback failed: {exc.message}"))
        return
    target = (plan.range.base_tag or plan.range.base or "no objects")[:40]
    restore = sum(len(wave) for wave in back.apply_waves)
    remove = sum(len(wave) for wave in back.prune_waves)
    context.sink.handle(
        RollbackFinished(True, f"rolled back to {target}: {restore} restored, {remove} deleted")
    )


def back_plan(context: Context, failed: State) -> Plan:
    """From the failed head back to the base: restore what Git had there, delete what the deploy added.

    On a first deploy (no base) only the objects the deploy created are deleted, newest wave first."""
    assert failed.plan is not None
    base, head = failed.plan.range.base, failed.plan.range.head
    if base is None:
        created = [
            c.desired
            for c in failed.plan.changes
            if c.desired is not None and c.ref not in failed.dry_run.existing
        ]
        restore: list[Manifest] = []
        remove = list(reversed(created))
    else:
        loaded = preparing.load(context, Range(base=head, head=base), full=False)
        chosen = planning.candidates(loaded.change_set)
        restore = list(chosen.to_apply)
        env = context.environment
        selection = pruning.select(
            context.online,
            chosen.gone,
            is_member=lambda live: ownership.is_member(live, env),
            concurrency=context.concurrency,
        )
        remove = list(selection.prune)
    back = Range(base=head, head=base or "", base_tag=failed.plan.range.base_tag)
    return planning.build(
        ChangeSet(back, {}, {}), planning.Candidates(tuple(restore), (), ()), observations=None, prune=remove
    )
