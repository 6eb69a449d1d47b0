"""The steps before any write: lock, read the record, prepare the change, dry-run it, review the plan.

Each is an executor registered with the runner; the policies they apply (full deploys, the prune
guards, what offline validation cannot check) are pure functions of the stages that own them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

from gitops_push.crds import is_crd
from gitops_push.errors import DryRunRejected, ValidationFailed
from gitops_push.events import (
    FileSkipped,
    FindingFound,
    Note,
    PlanReady,
    Stage,
    StageFinished,
    StageStarted,
    Status,
)
from gitops_push.model import ChangeSet, Manifest, Range
from gitops_push.pipeline import steps
from gitops_push.pipeline.runner import Context, DryRunResult, Intent, State, executes, step_views
from gitops_push.stages import applying, loading, locking, ownership, planning, pruning, recording, validating


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


@executes(steps.Prepare)
def prepare(step: steps.Prepare, context: Context, state: State) -> State:
    """Load what changed (or everything), validate it, choose what to apply and what to prune."""
    span, flags = context.span, context.settings.flags
    decision = ownership.full_deploy(
        state.record,
        span.base,
        online=context.cluster is not None,
        all_objects=flags.all_objects,
        status=context.mode is steps.Mode.STATUS,
    )
    if decision.why:
        context.sink.handle(Note(decision.why))
    if span.base == span.head and not decision.full:
        context.sink.handle(
            Note(
                f"nothing to deploy: {context.settings.environment.prefix} already points to {span.head[:12]}"
            )
        )
        empty = planning.build(
            ChangeSet(span, {}, {}), planning.Candidates((), (), ()), observations=None, prune=()
        )
        context.sink.handle(PlanReady(empty))
        return replace(state, plan=empty, stopped=True)
    loaded = load(context, span, full=decision.full)
    for skipped in loaded.change_set.skipped:
        context.sink.handle(FileSkipped(skipped))
    chosen = planning.candidates(loaded.change_set)
    validate(context, loaded, chosen)
    prune = prune_selection(context, state, loaded.change_set, chosen, decision.full)
    pruning.refuse_emptying(
        context.environment,
        len(prune),
        leaves_nothing=not loaded.change_set.new
        and (
            loaded.change_set.full
            or not context.repo.tree_files(span.head, context.settings.environment.paths)
        ),
        allow_empty=flags.allow_empty,
    )
    if context.mode is not steps.Mode.STATUS:
        pruning.refuse_mass_prune(len(prune), flags.max_prune)
    notes = (decision.why,) if decision.why else ()
    intent = Intent(loaded.change_set, chosen, tuple(prune), decision.full, notes)
    return replace(state, intent=intent)


def load(context: Context, span: Range, *, full: bool) -> loading.Loaded:
    env = context.settings.environment
    return loading.load(
        context.repo, span, env.paths, default_namespace=env.namespace, scope_of=scope_of(context), full=full
    )


def scope_of(context: Context) -> loading.ScopeOf:
    """Namespaced or not, as the cluster's discovery says; unknown offline."""
    cluster = context.cluster
    if cluster is None:
        return lambda api_version, kind: None

    def ask(api_version: str, kind: str) -> bool | None:
        resource = cluster.resource(api_version, kind)
        return None if resource is None else bool(resource.namespaced)

    return ask


def validate(context: Context, loaded: loading.Loaded, chosen: planning.Candidates) -> None:
    sink = context.sink
    sink.handle(StageStarted(Stage.VALIDATE))
    findings = list(loaded.findings)
    schemas: validating.SchemaSource = (
        validating.BundledSchemas() if context.cluster is None else validating.ClusterSchemas(context.cluster)
    )
    crds = [m for m in loaded.change_set.new.values() if is_crd(m.ref.group, m.ref.kind)]
    findings += validating.validate(
        chosen.to_apply, schemas, text_of=lambda path: loaded.texts.get(path, ""), crds=crds
    )
    if context.cluster is None:
        note_unchecked(context, chosen.to_apply, crds)
    for finding in sorted(findings, key=lambda f: (f.source.path, f.source.line)):
        sink.handle(FindingFound(finding))
    sink.handle(StageFinished(Stage.VALIDATE, Status.FAILED if findings else Status.SUCCEEDED))
    if findings:
        raise ValidationFailed(f"{len(findings)} validation error(s): nothing was applied")


def note_unchecked(context: Context, manifests: Sequence[Manifest], crds: Sequence[Manifest]) -> None:
    custom = validating.unchecked_custom_kinds(manifests, crds)
    if custom:
        context.sink.handle(
            Note(f"offline: no schema for custom kinds {', '.join(custom)}; checked structure only")
        )


def prune_selection(
    context: Context, state: State, change_set: ChangeSet, chosen: planning.Candidates, full: bool
) -> tuple[Manifest, ...]:
    """What Git removed (or, in a full run, what the cluster has that Git lacks) and is ours to delete."""
    if not context.settings.flags.prune:
        return ()
    cluster, env = context.cluster, context.environment
    if cluster is None:
        return chosen.gone  # offline: what would be pruned if the live objects are ours
    gone: Sequence[Manifest] = chosen.gone
    if full:
        gone = [m for m in ownership.members(cluster, env, state.record) if m.ref not in change_set.new]
        copied = [m for m in gone if not ownership.is_member(m.body, env)]
        for manifest in copied:
            context.sink.handle(
                Note(
                    f"{manifest.ref}: not pruned: it carries this environment's label but gitops-push never applied it"
                )
            )
        gone = [m for m in gone if m not in copied]
    selection = pruning.select(cluster, gone, is_member=lambda live: ownership.is_member(live, env))
    for manifest, why in selection.kept:
        context.sink.handle(Note(f"{manifest.ref}: {why}", manifest.source))
    return selection.prune


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
        force=context.force,
        concurrency=flags.concurrency,
        sink=sink,
        cancellation=context.cancellation,
        read_live=context.mode in (steps.Mode.PLAN, steps.Mode.STATUS)
        or (intent.full and state.record.exists),
        replace_immutable=flags.replace_immutable,
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
    result = DryRunResult(
        observations=observations,
        deferred=frozenset(ref for ref, o in outcomes.items() if o.deferred),
        existing=frozenset(ref for ref, seen in observations.items() if seen.exists),
        replace=replaceable,
        rejected=any(o.error for ref, o in outcomes.items() if ref not in replaceable),
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
    )
    context.sink.handle(PlanReady(plan, step_views(context, plan)))
    if state.dry_run.rejected:
        raise DryRunRejected("the server-side dry-run rejected changes: nothing was applied")
    return replace(state, plan=plan)
