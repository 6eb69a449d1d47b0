"""The step that reads Git: load what changed (or everything), validate it, and choose what to
apply and what to prune, with the guards that refuse a mistaken deploy before any request writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from gitops_push.crds import is_crd
from gitops_push.errors import ValidationFailed
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
from gitops_push.pipeline import rendered, steps
from gitops_push.pipeline.runner import Context, Intent, State, executes
from gitops_push.stages import gitrange, loading, ownership, planning, pruning, recording, validating


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
    refuse_moving_back(context, state)
    unfinished = state.record.attempt if not decision.full else None
    if span.base == span.head and not decision.full and unfinished is None:
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
    if unfinished is not None:
        loaded = widen(context, loaded, unfinished)
    for skipped in loaded.change_set.skipped:
        context.sink.handle(FileSkipped(skipped))
    chosen = planning.candidates(loaded.change_set)
    validate(context, loaded, chosen)
    prune = prune_selection(context, state, loaded.change_set, chosen, decision.full)
    pruning.refuse_emptying(
        context.environment,
        len(prune),
        leaves_nothing=not loaded.change_set.new
        and (loaded.change_set.full or not rendered_or_files(context, span.head)),
        allow_empty=flags.allow_empty,
    )
    if context.mode not in (steps.Mode.STATUS, steps.Mode.PLAN):  # plan refuses in `review`, after listing
        pruning.refuse_mass_prune(len(prune), flags.max_prune)
    notes = (decision.why,) if decision.why else ()
    hooks = rendered.hooks(context, span, full=decision.full)
    intent = Intent(loaded.change_set, chosen, tuple(prune), decision.full, notes, hooks, loaded.texts)
    return replace(state, intent=intent)


def rendered_or_files(context: Context, head: str) -> bool:
    """Whether head still holds anything: a rendered source, or a plain manifest file."""
    env = context.settings.environment
    return env.rendered or bool(env.paths and context.repo.has_manifest(head, env.paths))


def refuse_moving_back(context: Context, state: State) -> None:
    """The last trusted tag is one witness of where the environment is; the cluster's record is the
    other. A tag that a rewritten branch dropped no longer counts, but the cluster still runs its
    commit: deploying a commit that does not descend from it is refused just the same (--force)."""
    recorded, span = state.record.commit, context.span
    if recorded is None or recorded == span.base or context.provenance != recording.Provenance():
        return
    if context.mode not in (steps.Mode.DEPLOY, steps.Mode.DRY_RUN, steps.Mode.PLAN):
        return
    flags = context.settings.flags
    what_runs = Range(base=recorded, head=span.head, base_tag="what the cluster's record says it runs")
    gitrange.refuse_stale(context.repo, what_runs, allow_older=flags.allow_older, force=flags.force)


def load(context: Context, span: Range, *, full: bool) -> loading.Loaded:
    env = context.settings.environment
    ahead = context.read_ahead
    return loading.load(
        context.repo,
        span,
        env.paths,
        default_namespace=env.namespace,
        scope_of=scope_of(context),
        full=full,
        rendered=rendered.sides(context, span, full=full),
        sides=ahead.take(span, env.paths, full=full) if ahead is not None else None,
        check_ahead=validating.fast_check(schemas) if (schemas := offline_schemas(context)) else None,
    )


def offline_schemas(context: Context) -> validating.SchemaSource | None:
    """The bundled schemas when the run has no cluster: known before reading, so the objects are checked
    as they are parsed (`validating.fast_check`); a cluster's schemas are fetched over its connections,
    which a forked reader must not use."""
    return validating.bundled() if context.cluster is None else None


def widen(context: Context, loaded: loading.Loaded, attempt: ownership.Attempt) -> loading.Loaded:
    """A deploy that started and never finished may have left any object it touched in its own
    version: take every object that differs between that attempt and head as well (cost: the
    difference of the two trees, as for any deploy)."""
    span, repo = context.span, context.repo
    context.sink.handle(
        Note(
            f"the deploy of {attempt.commit[:12]} started {attempt.started} did not finish: what it may "
            f"have changed is applied again from {span.head[:12]}, or pruned"
        )
    )
    if attempt.commit == span.head:
        return loaded  # base..head already holds everything that attempt could have touched
    if not repo.has_commit(attempt.commit):
        context.sink.handle(
            Note(f"commit {attempt.commit[:12]} is not in this clone: deploying the full set")
        )
        return load(context, span, full=True)
    since = load(context, Range(base=attempt.commit, head=span.head, base_tag=None), full=False)
    return loading.Loaded(
        change_set=planning.with_unfinished(loaded.change_set, since.change_set),
        findings=tuple(dict.fromkeys((*loaded.findings, *since.findings))),
        texts={**since.texts, **loaded.texts},
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
        validating.bundled() if context.cluster is None else validating.ClusterSchemas(context.cluster)
    )
    crds = [m for m in loaded.change_set.new.values() if is_crd(m.ref.group, m.ref.kind)]
    findings += validating.validate(
        chosen.to_apply,
        schemas,
        text_of=lambda path: loaded.texts.get(path, ""),
        crds=crds,
        checked_ahead=offline_schemas(context),
    )
    env = context.settings.environment
    findings += validating.outside_allow_lists(
        chosen.to_apply, namespaces=env.namespaces, kinds=env.kinds, environment=env.name
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
    selection = pruning.select(
        cluster,
        gone,
        is_member=lambda live: ownership.is_member(live, env),
        concurrency=context.concurrency,
        cancellation=context.cancellation,
    )
    for manifest, why in selection.kept:
        context.sink.handle(Note(f"{manifest.ref}: {why}", manifest.source))
    return selection.prune
