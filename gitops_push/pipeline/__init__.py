"""The run of a command: settings resolved, the cluster connected, the steps of `steps.build` executed
by `runner.run`. `plan`, `deploy --dry-run`, `deploy`, `status`, `rollback` and `promote` are one run
in different modes or to different commits; `history` and `unlock` read tags and break locks.

Every failure becomes a RunFailed event, so `cli.py` only maps the folded Summary to an exit code. A
`Cancellation` from the command line (set by SIGTERM or SIGINT) reaches every step through the Context.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from gitops_push import gitrepo, settings
from gitops_push.cancelling import Cancellation
from gitops_push.errors import Cancelled, GitopsPushError, UsageError
from gitops_push.events import Connected, EventSink, Note, RunFailed, RunFinished, RunStarted
from gitops_push.model import Range
from gitops_push.pipeline import (
    hooks,
    preparing,
    reading,
    recovery,
    rendered,
    runner,
    steps,
    trusted,
    writing,
)
from gitops_push.pipeline.trusted import history
from gitops_push.settings import Flags, Mode, Settings
from gitops_push.stages import gitrange, loading, locking, recording

if TYPE_CHECKING:
    from gitops_push.kube import Cluster

# The executor modules register their steps on import.
__all__ = ["history", "hooks", "preparing", "promote", "reading", "rollback", "run", "unlock", "writing"]

STARTUP_RETRY_BUDGET = 5.0
STEP_MODE = {
    Mode.PLAN: steps.Mode.PLAN,
    Mode.DRY_RUN: steps.Mode.DRY_RUN,
    Mode.DEPLOY: steps.Mode.DEPLOY,
    Mode.STATUS: steps.Mode.STATUS,
}
COMMAND = {Mode.PLAN: "plan", Mode.STATUS: "status", Mode.DRY_RUN: "deploy", Mode.DEPLOY: "deploy"}
ROLLS_BACK = (steps.ApplyWave, steps.DryRunDeferred, steps.WaitPrerequisites, steps.WaitHealthy)


def run(mode: Mode, flags: Flags, sink: EventSink, cancellation: Cancellation | None = None) -> None:
    """plan, deploy --dry-run, deploy and status."""

    def body(repo: gitrepo.GitRepo, resolved: Settings, sink: EventSink) -> None:
        execute(resolved, repo, sink, cancellation=cancellation)

    _guarded(mode, flags, sink, body)


def rollback(flags: Flags, sink: EventSink, cancellation: Cancellation | None = None) -> None:
    """Deploy an earlier deploy tag's commit through the same steps, recorded as a rollback."""

    def body(repo: gitrepo.GitRepo, resolved: Settings, sink: EventSink) -> None:
        # the deploy before the last, or a named one anywhere in the history
        wanted = None if flags.target_tag else 2
        tags = trusted.read_tags(repo, resolved.environment, sink, wanted=wanted)
        target = gitrange.rollback_target(tags, resolved.environment.name, flags.target_tag)
        why = recording.Provenance(rolled_back_to=target.name, rolled_back_from=tags.trusted[0].name)
        execute(
            replace(resolved, to=target.commit),
            repo,
            sink,
            provenance=why,
            tags=tags,
            cancellation=cancellation,
        )

    _guarded(Mode.DRY_RUN if flags.dry_run else Mode.DEPLOY, flags, sink, body)


def promote(flags: Flags, sink: EventSink, cancellation: Cancellation | None = None) -> None:
    """Deploy to one environment exactly the commit another one runs: its last trusted deploy tag's,
    provided its cluster's record agrees (healthy, since it was tagged; still there, since recorded)."""

    def body(repo: gitrepo.GitRepo, resolved: Settings, sink: EventSink) -> None:
        source = settings.declared(trusted.config_at(repo, flags.to), str(flags.source))
        tags = trusted.read_tags(repo, source, sink, wanted=1)
        last = gitrange.promotion_source(tags, source.name, source.prefix)
        gitrange.verify_promotion(
            source.name, last, trusted.recorded_commit(replace(resolved, environment=source))
        )
        why = recording.Provenance(
            promoted_from={"environment": source.name, "tag": last.name, "commit": last.commit}
        )
        execute(replace(resolved, to=last.commit), repo, sink, provenance=why, cancellation=cancellation)

    _guarded(Mode.DRY_RUN if flags.dry_run else Mode.DEPLOY, flags, sink, body)


def unlock(flags: Flags) -> str:
    """Break an environment's deploy lock; says whose lock it broke. The cluster is the environment's
    `context:` in gitops-push.yaml unless --context names another, as for every command."""
    from gitops_push import kube

    environment = str(flags.environment)
    with gitrepo.open_repo(flags.repo) as repo:
        context = flags.context or settings.declared(trusted.config_at(repo), environment).context
    cluster = kube.connect(flags.kubeconfig, context, cache_dir=settings.cache_dir())
    try:
        holder = locking.unlock(cluster, environment)
    finally:
        cluster.close()
    if holder is None:
        return f"environment {environment!r} is not locked"
    state = "expired" if holder.expired(locking.now()) else "active"
    return f"broke the deploy lock of {environment!r} held by {holder.describe()} ({state})"


def _guarded(
    mode: Mode, flags: Flags, sink: EventSink, body: Callable[[gitrepo.GitRepo, Settings, EventSink], None]
) -> None:
    """Resolve settings and run `body`; every failure becomes a RunFailed event, never an exception."""
    sink.handle(
        RunStarted(command=COMMAND[mode], environment=flags.environment or settings.DEFAULT_ENVIRONMENT)
    )
    tally = runner.AppliedTally(sink)
    try:
        with gitrepo.open_repo(flags.repo) as repo:
            body(repo, settings.resolve(mode, repo.root, flags, trusted.config_at(repo, flags.to)), tally)
    except GitopsPushError as exc:
        message = exc.message
        if isinstance(exc, Cancelled):
            message += (
                f": no new requests were sent; {tally.applied} objects were applied, "
                "the deploy tag was not moved; rerun to converge"
            )
        sink.handle(RunFailed(message, exc.reference, int(exc.exit_code), source=exc.location, hint=exc.hint))


def execute(
    resolved: Settings,
    repo: gitrepo.GitRepo,
    sink: EventSink,
    *,
    provenance: recording.Provenance | None = None,
    tags: gitrange.Tags | None = None,
    cancellation: Cancellation | None = None,
) -> None:
    """One run: the range (from `tags`, read here unless the caller has them), the cluster, the steps."""
    span = _span(
        resolved,
        repo,
        sink,
        tags if tags is not None else trusted.read_tags(repo, resolved.environment, sink, wanted=1),
    )
    env, flags = resolved.environment, resolved.flags
    if provenance is None:  # a rollback or a promotion names its commit on purpose
        gitrange.refuse_stale(repo, span, allow_older=flags.allow_older, force=flags.force)
    renderers = rendered.tools(env, sink)  # before any request: a missing renderer exits 2 at once
    if env.paths and not env.rendered:  # a rendered source that is missing fails its rendering, by name
        gitrange.refuse_missing_paths(
            repo, span.head, env.paths, environment=env.name, allow_empty=flags.allow_empty
        )
    _note_dirty(resolved, repo, sink)
    ahead = None if resolved.flags.offline else read_ahead(resolved, repo, span)
    cluster = None
    try:
        cluster = None if resolved.flags.offline else connect(resolved)
        if cluster is not None:
            sink.handle(Connected(cluster.server, cluster.context, cluster.insecure))
        context = runner.Context(
            settings=resolved,
            repo=repo,
            sink=sink,
            cluster=cluster,
            span=span,
            mode=STEP_MODE[resolved.mode],
            options=steps.Options(online=cluster is not None, wait=resolved.flags.wait),
            provenance=provenance or recording.Provenance(),
            cancellation=cancellation or Cancellation(),
            tools=renderers,
            read_ahead=ahead,
        )
        runner.run(context, on_failure=roll_back_on_failure if resolved.flags.rollback_on_failure else None)
    finally:
        if ahead is not None:
            ahead.close()
        if cluster is not None:
            cluster.close()
    sink.handle(RunFinished(resolved.environment.name, span.base, span.head, None))


def read_ahead(resolved: Settings, repo: gitrepo.GitRepo, span: Range) -> loading.ReadAhead | None:
    """Begin reading the range's files in a forked child: connecting, taking the lock and reading
    the record are mostly waiting (and importing the Kubernetes client), which the reading then
    overlaps. It reads what `prepare` will most likely ask for: the whole tree for drift, --all or a
    first deploy, else the difference; if `prepare` asks for anything else, it reads that itself."""
    env = resolved.environment
    full = resolved.mode is Mode.STATUS or resolved.flags.all_objects or span.base is None
    if not env.paths or (span.base == span.head and not full):
        return None  # nothing to read, or nothing changed: `prepare` stops before reading
    return loading.ReadAhead.start(repo, span, env.paths, full=full)


def roll_back_on_failure(step: steps.Step, context: runner.Context, state: runner.State) -> None:
    """--rollback-on-failure: only when applying or waiting failed (the cluster changed, the tag did not)."""
    if isinstance(step, ROLLS_BACK) and state.plan is not None:
        recovery.roll_back(context, state)


def _span(resolved: Settings, repo: gitrepo.GitRepo, sink: EventSink, tags: gitrange.Tags) -> Range:
    """The commits the run covers: for drift, the last deploy against itself."""
    env = resolved.environment
    if resolved.mode is Mode.STATUS:
        last = tags.last
        if last is None:
            raise UsageError(
                f"environment {env.name!r} has no deploy tag yet: nothing to compare",
                hint=f"deploy it first; its tags are {env.prefix}/*",
            )
        return Range(base=last.commit, head=last.commit, base_tag=last.name)
    return gitrange.find_range(repo, tags, resolved.to, resolved.flags.from_rev)


def _note_dirty(resolved: Settings, repo: gitrepo.GitRepo, sink: EventSink) -> None:
    dirty = repo.dirty_paths(rendered.read_paths(resolved.environment))
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        sink.handle(Note(f"uncommitted changes are ignored (revisions are read from Git): {shown}"))


def connect(resolved: Settings) -> Cluster:
    """Connect, and fail early naming the server if it cannot be reached (a short budget for the first call)."""
    from gitops_push import kube

    flags = resolved.flags
    cluster: Cluster = kube.connect(
        flags.kubeconfig,
        resolved.environment.context,
        cache_dir=settings.cache_dir(),
        pool_size=flags.concurrency,  # None: as many as the automatic sizing may use
    )
    cluster.request_timeout = (min(10.0, flags.request_timeout), flags.request_timeout)
    cluster.retry_budget = min(STARTUP_RETRY_BUDGET, flags.retry_timeout)
    cluster.unreachable_timeout = min(STARTUP_RETRY_BUDGET, flags.unreachable_timeout)
    # The OpenAPI index travels beside the version check, one round trip for both: validation needs
    # it, and discovery's cache is checked against it. A failure here is met again where it matters.
    from concurrent.futures import ThreadPoolExecutor  # here: see cancelling.parallel

    try:
        with ThreadPoolExecutor(max_workers=1) as beside:
            index = beside.submit(cluster.openapi_index)
            cluster.version()
            with contextlib.suppress(GitopsPushError):
                index.result()
    except BaseException:
        cluster.close()  # its open connections: the caller never gets it to close
        raise
    cluster.retry_budget = flags.retry_timeout
    cluster.unreachable_timeout = flags.unreachable_timeout
    return cluster
