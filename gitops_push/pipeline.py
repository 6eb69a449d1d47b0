"""The only module that knows the stage order: plan, deploy --dry-run and deploy are modes of one run.

    range -> load -> validate -> (cluster) dry-run everything -> plan
          -> [deploy] record membership -> apply wave by wave -> prune -> record commit -> tag

Every stage reports through the EventSink; run-level failures are GitopsPushErrors, turned into a
RunFailed event here, so `cli.py` only maps the folded Summary to an exit code.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitops_push import gitrepo, kinds, settings
from gitops_push.errors import (
    ApplyFailed,
    DryRunRejected,
    GitopsPushError,
    GitStateError,
    UsageError,
    ValidationFailed,
)
from gitops_push.events import (
    Connected,
    EventSink,
    FileSkipped,
    FindingFound,
    Note,
    ObjectActed,
    PlanReady,
    RollbackFinished,
    RunFailed,
    RunFinished,
    RunStarted,
    Stage,
    StageFinished,
    StageStarted,
    Status,
    TagRecorded,
)
from gitops_push.model import Action, ChangeSet, Manifest, ObjectRef, Plan, Range
from gitops_push.settings import Mode, Settings
from gitops_push.stages import (
    applying,
    gitrange,
    loading,
    locking,
    ownership,
    planning,
    pruning,
    recording,
    validating,
    waiting,
)

if TYPE_CHECKING:
    from gitops_push.kube import Cluster

PREREQUISITE_TIMEOUT = 120.0
STARTUP_RETRY_BUDGET = 5.0


def run(mode: Mode, directory: Path, options: Mapping[str, Any], sink: EventSink) -> None:
    """plan, deploy --dry-run, deploy and status: one run of the stages in the mode given."""
    _guarded(mode, directory, options, sink, lambda repo, resolved: Run(resolved, repo, sink).execute())


def rollback(
    mode: Mode, directory: Path, options: Mapping[str, Any], sink: EventSink, *, target_tag: str | None
) -> None:
    """Deploy an earlier deploy tag's commit through the same stages, recorded as a rollback."""

    def body(repo: gitrepo.GitRepo, resolved: Settings) -> None:
        prefix = resolved.environment.prefix
        tags = repo.deploy_tags(prefix)
        if not tags:
            raise UsageError(f"environment {resolved.environment.name!r} has no deploys to roll back")
        if target_tag is None:
            if len(tags) < 2:
                raise UsageError(
                    f"{tags[0].name} is the only deploy: there is nothing earlier to roll back to"
                )
            target: gitrepo.DeployTag | None = tags[1]
        else:
            target = next((t for t in tags if t.name == target_tag), None)
        if target is None:
            raise UsageError(
                f"{target_tag} is not a deploy tag of this environment",
                hint=f"see `gitops-push history --env {resolved.environment.name}`",
            )
        if not repo.has_commit(target.commit):
            raise GitStateError(
                f"the commit of {target.name} ({target.commit[:12]}) is not in this clone",
                hint="fetch more history",
            )
        metadata = {"rollback": True, "rolled_back_to": target.name, "rolled_back_from": tags[0].name}
        Run(replace(resolved, to=target.commit, metadata=metadata), repo, sink).execute()

    _guarded(mode, directory, options, sink, body)


def promote(mode: Mode, directory: Path, options: Mapping[str, Any], sink: EventSink, *, source: str) -> None:
    """Deploy to one environment exactly the commit last deployed (healthy, since it was tagged) in another."""

    def body(repo: gitrepo.GitRepo, resolved: Settings) -> None:
        source_prefix = settings.tag_prefix_of(repo.root, source)
        remote = repo.remote()
        if remote is not None:
            repo.fetch_deploy_tags(remote, source_prefix)
        last = gitrange.last_deploy(repo, source_prefix)
        if last is None:
            raise UsageError(
                f"environment {source!r} has no deploy to promote",
                hint=f"its deploy tags would be {source_prefix}/*",
            )
        if not repo.has_commit(last.commit):
            raise GitStateError(
                f"{last.name} points to commit {last.commit[:12]}, which this clone does not have",
                hint="fetch the branch that holds it (a deeper clone) and rerun",
            )
        metadata = {"promoted_from": {"environment": source, "tag": last.name, "commit": last.commit}}
        Run(replace(resolved, to=last.commit, metadata=metadata), repo, sink).execute()

    _guarded(mode, directory, options, sink, body)


def history(
    directory: Path, *, environment: str | None, tag_prefix: str | None, limit: int
) -> list[dict[str, Any]]:
    """The environment's deploys, newest first, read back from its tags' metadata."""
    with gitrepo.open_repo(directory) as repo:
        name = environment or settings.DEFAULT_ENVIRONMENT
        prefix = (tag_prefix or "").rstrip("/") or settings.tag_prefix_of(repo.root, name)
        return [recording.read_deploy(repo, tag) for tag in repo.deploy_tags(prefix)[:limit]]


def _guarded(
    mode: Mode,
    directory: Path,
    options: Mapping[str, Any],
    sink: EventSink,
    body: Callable[[gitrepo.GitRepo, Settings], None],
) -> None:
    """Resolve settings and run `body`; every failure becomes a RunFailed event, never an exception."""
    environment = str(options.get("environment") or settings.DEFAULT_ENVIRONMENT)
    command = {Mode.PLAN: "plan", Mode.STATUS: "status"}.get(mode, "deploy")
    sink.handle(RunStarted(command=command, environment=environment))
    try:
        with gitrepo.open_repo(directory) as repo:
            body(repo, settings.resolve(mode=mode, repo=repo.root, **options))
    except GitopsPushError as exc:
        sink.handle(
            RunFailed(str(exc.message), exc.reference, int(exc.exit_code), source=exc.location, hint=exc.hint)
        )


@dataclass
class Run:
    """One run's state: what the cluster recorded and what the dry-run learnt, used by the writes."""

    settings: Settings
    repo: gitrepo.GitRepo
    sink: EventSink
    record: ownership.Record = field(default_factory=lambda: ownership.Record(exists=False))
    bodies: dict[ObjectRef, Mapping[str, Any]] = field(default_factory=dict)
    coming: applying.Arrivals = field(default_factory=lambda: applying.Arrivals(frozenset(), frozenset()))
    rejected: bool = False
    deferred: set[ObjectRef] = field(default_factory=set)  # dry-run waits for a Namespace or CRD
    existing: set[ObjectRef] = field(default_factory=set)  # live before this run
    full: bool = False  # the whole desired set, not the difference
    replace: set[ObjectRef] = field(default_factory=set)  # --replace-immutable: delete, then create

    def execute(self) -> None:
        env = self.settings.environment
        if self.settings.mode is Mode.STATUS:
            span = self._deployed_range()
        else:
            notes: list[str] = []
            span = gitrange.find_range(
                self.repo, env.prefix, self.settings.to, self.settings.from_rev, notes=notes
            )
            for note in notes:
                self.sink.handle(Note(note))
        self._note_dirty()
        cluster = None if self.settings.offline else self._connect()
        lock = None
        try:
            if self.settings.mode is Mode.DEPLOY and cluster is not None:
                lock = self._lock(cluster)
            plan = self._plan(span, cluster)
            if self.settings.mode is Mode.DEPLOY and cluster is not None and plan is not None:
                self._deploy(cluster, plan)
        finally:
            if lock is not None:
                lock.release()
            if cluster is not None:
                cluster.close()
        self.sink.handle(RunFinished(env.name, span.base, span.head, None))

    # --- before any write ------------------------------------------------------------------------

    def _deployed_range(self) -> Range:
        """For drift: the last deployed tag's commit against itself, compared in full with the cluster."""
        last = gitrange.last_deploy(self.repo, self.settings.environment.prefix)
        if last is None:
            raise UsageError(
                f"environment {self.settings.environment.name!r} has no deploy tag yet: nothing to compare",
                hint=f"deploy it first; its tags are {self.settings.environment.prefix}/*",
            )
        return Range(base=last.commit, head=last.commit, base_tag=last.name)

    @property
    def _read_live(self) -> bool:
        """Live objects are read for diffs (plan, status) and to tell unchanged ones apart when the full
        set is redeployed over a cluster that has it. A first deploy, or one of what Git says changed,
        needs only the dry-run's answer: two requests per object."""
        return self.settings.mode in (Mode.PLAN, Mode.STATUS) or (self.full and self.record.exists)

    @property
    def force(self) -> bool:
        """Take over conflicting fields: when asked, when repairing drift (--all), when measuring drift."""
        return self.settings.force_conflicts or self.settings.all_objects or self.settings.mode is Mode.STATUS

    def _connect(self) -> Cluster:
        from gitops_push import kube

        cluster = kube.connect(
            self.settings.kubeconfig,
            self.settings.environment.context,
            cache_dir=settings.cache_dir(),
            pool_size=self.settings.concurrency,
        )
        self.sink.handle(Connected(cluster.server, cluster.context, cluster.insecure))
        cluster.request_timeout = (min(10.0, self.settings.request_timeout), self.settings.request_timeout)
        # Fail early, naming the server, if it cannot be reached: a short retry budget for this first call.
        cluster.retry_budget = min(STARTUP_RETRY_BUDGET, self.settings.retry_timeout)
        cluster.version()
        cluster.retry_budget = self.settings.retry_timeout
        return cluster

    def _lock(self, cluster: Cluster) -> locking.Lock:
        """Before the dry-run: two deploys of one environment must not interleave."""
        identity = recording.ci_identity(os.environ)
        who = identity["actor"] or identity["system"]
        lock = locking.Lock(cluster, self.settings.environment.name, who, identity["run"])
        lock.acquire(timeout=self.settings.lock_timeout, sink=self.sink)
        return lock

    def _note_dirty(self) -> None:
        dirty = self.repo.dirty_paths(self.settings.environment.paths)
        if dirty:
            shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
            self.sink.handle(Note(f"uncommitted changes are ignored (revisions are read from Git): {shown}"))

    def _plan(self, span: Range, cluster: Cluster | None) -> Plan | None:
        env = self.settings.environment
        full, notes = self._full_deploy(span, cluster)
        self.full = full
        if span.base == span.head and not full:
            self.sink.handle(Note(f"nothing to deploy: {env.prefix} already points to {span.head[:12]}"))
            self.sink.handle(
                PlanReady(
                    planning.build(_empty(span), planning.Candidates((), (), ()), observations=None, prune=())
                )
            )
            return None
        self.sink.handle(StageStarted(Stage.LOAD))
        loaded = loading.load(
            self.repo,
            span,
            env.paths,
            default_namespace=env.namespace,
            scope_of=self._scope_of(cluster),
            full=full,
        )
        for skipped in loaded.change_set.skipped:
            self.sink.handle(FileSkipped(skipped))
        chosen = planning.candidates(loaded.change_set)
        self._validate(loaded, chosen, cluster)
        selection = self._prune_selection(loaded.change_set, chosen, cluster, full)
        self._refuse_empty(loaded.change_set, selection)
        self._refuse_mass_prune(selection)
        self.bodies = {m.ref: planning.desired_body(m, self._labels()) for m in chosen.to_apply}
        self.coming = applying.arrivals(chosen.to_apply)
        observations = None
        if cluster is not None:
            observations = self._dry_run(cluster, chosen.to_apply)
        plan = planning.build(
            loaded.change_set,
            chosen,
            observations=observations,
            prune=selection,
            skipped=loaded.change_set.skipped,
            notes=notes,
            diffs=self.settings.diffs,
        )
        self.sink.handle(PlanReady(plan))
        if self.rejected:
            raise DryRunRejected("the server-side dry-run rejected changes: nothing was applied")
        return plan

    def _labels(self) -> dict[str, str]:
        return {ownership.PART_OF_LABEL: ownership.applyset_id(self.settings.environment.name)}

    def _full_deploy(self, span: Range, cluster: Cluster | None) -> tuple[bool, list[str]]:
        """The whole set: when asked, for drift, on a first deploy, or when the cluster's record disagrees."""
        if cluster is not None:
            self.record = ownership.read_record(cluster, self.settings.environment.name)
        if self.settings.mode is Mode.STATUS:
            return True, []
        if self.settings.all_objects:
            return True, ["--all: every object under the paths, not just what changed"]
        if cluster is None or span.base is None:
            return span.base is None, []
        if self.record.commit == span.base:
            return False, []
        if not self.record.exists:
            why = "the cluster has no record of this environment (a new or restored cluster?)"
        else:
            why = (
                f"the cluster's record says {str(self.record.commit)[:12]} was deployed, not {span.base[:12]}"
            )
        note = f"deploying the full set, not the difference: {why}"
        self.sink.handle(Note(note))
        return True, [note]

    def _scope_of(self, cluster: Cluster | None) -> loading.ScopeOf:
        if cluster is None:
            return lambda api_version, kind: None

        def ask(api_version: str, kind: str) -> bool | None:
            resource = cluster.resource(api_version, kind)
            return None if resource is None else bool(resource.namespaced)

        return ask

    def _validate(self, loaded: loading.Loaded, chosen: planning.Candidates, cluster: Cluster | None) -> None:
        self.sink.handle(StageStarted(Stage.VALIDATE))
        findings = list(loaded.findings)
        schemas: validating.SchemaSource = (
            validating.BundledSchemas() if cluster is None else validating.ClusterSchemas(cluster)
        )
        crds = [m for m in loaded.change_set.new.values() if m.ref.kind == "CustomResourceDefinition"]
        findings += validating.validate(
            chosen.to_apply, schemas, text_of=lambda path: loaded.texts.get(path, ""), crds=crds
        )
        if cluster is None:
            self._note_unchecked(chosen.to_apply, crds)
        for finding in sorted(findings, key=lambda f: (f.source.path, f.source.line)):
            self.sink.handle(FindingFound(finding))
        self.sink.handle(StageFinished(Stage.VALIDATE, Status.FAILED if findings else Status.SUCCEEDED))
        if findings:
            raise ValidationFailed(f"{len(findings)} validation error(s): nothing was applied")

    def _note_unchecked(self, manifests: Sequence[Manifest], crds: Sequence[Manifest]) -> None:
        defined = {applying.crd_kind(crd) for crd in crds}
        custom = sorted(
            {m.ref.group_kind for m in manifests if m.ref.group not in kinds.BUILTIN_GROUPS}
            - {f"{kind}.{group}" for group, kind in defined}
        )
        if custom:
            self.sink.handle(
                Note(f"offline: no schema for custom kinds {', '.join(custom)}; checked structure only")
            )

    def _prune_selection(
        self, change_set: ChangeSet, chosen: planning.Candidates, cluster: Cluster | None, full: bool
    ) -> tuple[Manifest, ...]:
        if not self.settings.prune:
            return ()
        env = self.settings.environment.name
        if cluster is None:
            return chosen.gone  # offline: what would be pruned if the live objects are ours
        gone: Sequence[Manifest] = chosen.gone
        if full:
            gone = [m for m in ownership.members(cluster, env, self.record) if m.ref not in change_set.new]
            copied = [m for m in gone if not ownership.is_member(m.body, env)]
            for manifest in copied:
                self.sink.handle(
                    Note(
                        f"{manifest.ref}: not pruned: it carries this environment's label but gitops-push never applied it"
                    )
                )
            gone = [m for m in gone if m not in copied]
        selection = pruning.select(cluster, gone, is_member=lambda live: ownership.is_member(live, env))
        for manifest, why in selection.kept:
            self.sink.handle(Note(f"{manifest.ref}: {why}", manifest.source))
        return selection.prune

    def _refuse_empty(self, change_set: ChangeSet, prune: Sequence[Manifest]) -> None:
        if not prune or self.settings.allow_empty or change_set.new:
            return
        if change_set.full or not self.repo.tree_files(
            change_set.range.head, self.settings.environment.paths
        ):
            raise UsageError(
                f"this deploy would leave environment {self.settings.environment.name!r} with no objects "
                f"(it would prune {len(prune)})",
                hint="check --path; if you mean it, give --allow-empty",
            )

    def _refuse_mass_prune(self, prune: Sequence[Manifest]) -> None:
        if self.settings.mode is Mode.STATUS or len(prune) <= self.settings.max_prune:
            return
        raise UsageError(
            f"this deploy would prune {len(prune)} objects, more than --max-prune {self.settings.max_prune}",
            hint="if Git really removed that much, rerun with a higher --max-prune",
        )

    def _dry_run(
        self, cluster: Cluster, manifests: Sequence[Manifest]
    ) -> dict[ObjectRef, planning.Observation]:
        self.sink.handle(StageStarted(Stage.DRY_RUN, total=0))
        outcomes = applying.dry_run(
            cluster,
            manifests,
            self.bodies,
            coming=self.coming,
            force=self.force,
            concurrency=self.settings.concurrency,
            sink=self.sink,
            read_live=self._read_live,
            replace_immutable=self.settings.replace_immutable,
        )
        replaceable = {ref for ref, o in outcomes.items() if o.immutable and self.settings.replace_immutable}
        for ref in sorted(replaceable):
            self.sink.handle(Note(f"{ref}: an immutable field changes: it will be deleted and created again"))
        self.replace = replaceable
        self.rejected = any(o.error for ref, o in outcomes.items() if ref not in replaceable)
        waiting_for: dict[str, int] = {}
        for outcome in outcomes.values():
            if outcome.deferred:
                waiting_for[outcome.deferred] = waiting_for.get(outcome.deferred, 0) + 1
        for why, count in sorted(waiting_for.items()):
            self.sink.handle(
                Note(f"{count} object(s) are dry-run once their prerequisites are applied: {why}")
            )
        self.deferred = {ref for ref, o in outcomes.items() if o.deferred}
        observations = {
            ref: planning.Observation(o.live, o.answer, o.live_read) for ref, o in outcomes.items()
        }
        self.existing = {ref for ref, seen in observations.items() if seen.exists}
        self.sink.handle(StageFinished(Stage.DRY_RUN, Status.FAILED if self.rejected else Status.SUCCEEDED))
        return observations

    # --- writes ----------------------------------------------------------------------------------

    def _deploy(self, cluster: Cluster, plan: Plan) -> None:
        env = self.settings.environment
        members = [c.ref for c in plan.changes] + [c.ref for c in plan.unchanged]
        ownership.write_parent(cluster, env.name, self.record, refs=members, commit=self.record.commit)
        try:
            self._apply_and_wait(cluster, plan)
        except (ApplyFailed, DryRunRejected):
            if self.settings.rollback_on_failure:
                self._rollback(cluster, plan)
            raise
        self.sink.handle(StageStarted(Stage.PRUNE, total=sum(len(w) for w in plan.prune_waves)))
        for wave in plan.prune_waves:
            failed = pruning.prune_wave(
                cluster, [c.previous for c in wave if c.previous is not None], sink=self.sink
            )
            if failed:
                raise ApplyFailed(f"{len(failed)} object(s) could not be pruned; no tag was created")
        self.sink.handle(StageFinished(Stage.PRUNE, Status.SUCCEEDED))
        # The parent already lists these members' kinds (written before the apply): only the commit changes.
        ownership.write_parent(cluster, env.name, self.record, refs=members, commit=plan.range.head)
        tag, pushed = recording.record(
            self.repo,
            prefix=env.prefix,
            environment=env.name,
            plan=plan,
            push=self.settings.push,
            extra=self.settings.metadata,
        )
        self.sink.handle(TagRecorded(tag, plan.range.head, pushed))

    def _apply_and_wait(self, cluster: Cluster, plan: Plan) -> None:
        applied = [c.desired for wave in plan.apply_waves for c in wave if c.desired is not None]
        started = datetime.datetime.now(datetime.UTC)
        self.sink.handle(StageStarted(Stage.APPLY, total=len(applied)))
        for wave in plan.apply_waves:
            self._apply_wave(cluster, [c.desired for c in wave if c.desired is not None])
        self.sink.handle(StageFinished(Stage.APPLY, Status.SUCCEEDED))
        watched = [m for m in applied if waiting.worth_waiting(m)]
        if not self.settings.wait or not watched:
            return
        self.sink.handle(StageStarted(Stage.WAIT, total=len(watched)))
        failures = waiting.wait_healthy(
            cluster, watched, timeout=self.settings.timeout, sink=self.sink, since=started
        )
        for ref, why in sorted(failures.items()):
            manifest = next(m for m in applied if m.ref == ref)
            self.sink.handle(
                ObjectActed(Stage.WAIT, ref, Action.FAILED, manifest.source, manifest.api_version, why)
            )
        self.sink.handle(StageFinished(Stage.WAIT, Status.FAILED if failures else Status.SUCCEEDED))
        if failures:
            raise ApplyFailed(f"{len(failures)} object(s) did not become healthy; no tag was created")

    def _rollback(self, cluster: Cluster, plan: Plan) -> None:
        """Return the environment to its last deployed commit: the same stages, from head back to base."""
        base, head = plan.range.base, plan.range.head
        env = self.settings.environment
        self.sink.handle(StageStarted(Stage.ROLLBACK))
        try:
            if base is None:
                created = [
                    c.desired for c in plan.changes if c.desired is not None and c.ref not in self.existing
                ]
                restore, remove = [], list(reversed(created))
            else:
                loaded = loading.load(
                    self.repo,
                    Range(base=head, head=base),
                    env.paths,
                    default_namespace=env.namespace,
                    scope_of=self._scope_of(cluster),
                )
                chosen = planning.candidates(loaded.change_set)
                restore = list(chosen.to_apply)
                selection = pruning.select(
                    cluster, chosen.gone, is_member=lambda live: ownership.is_member(live, env.name)
                )
                remove = list(selection.prune)
            back = planning.build(
                _empty(Range(base=head, head=base or head)),
                planning.Candidates(tuple(restore), (), ()),
                observations=None,
                prune=remove,
            )
            self.bodies = {m.ref: planning.desired_body(m, self._labels()) for m in restore}
            self.existing, self.deferred = {m.ref for m in restore}, set()
            for wave in back.apply_waves:
                self._apply_wave(
                    cluster, [c.desired for c in wave if c.desired is not None], stage=Stage.ROLLBACK
                )
            failures = waiting.wait_healthy(cluster, restore, timeout=self.settings.timeout, sink=self.sink)
            if failures:
                raise ApplyFailed(f"{len(failures)} restored object(s) did not become healthy")
            for wave in back.prune_waves:
                if pruning.prune_wave(
                    cluster,
                    [c.previous for c in wave if c.previous is not None],
                    sink=self.sink,
                    stage=Stage.ROLLBACK,
                ):
                    raise ApplyFailed("objects created by the failed deploy could not be deleted")
            ownership.write_parent(
                cluster, env.name, ownership.read_record(cluster, env.name), refs=[], commit=base
            )
        except GitopsPushError as exc:
            self.sink.handle(RollbackFinished(False, f"rollback failed: {exc.message}"))
            return
        target = (plan.range.base_tag or base or "no objects")[:40]
        self.sink.handle(
            RollbackFinished(True, f"rolled back to {target}: {len(restore)} restored, {len(remove)} deleted")
        )

    def _apply_wave(
        self, cluster: Cluster, manifests: Sequence[Manifest], stage: Stage = Stage.APPLY
    ) -> None:
        waiting_first = [m for m in manifests if m.ref in self.deferred]
        if waiting_first:
            outcomes = applying.dry_run(
                cluster,
                waiting_first,
                self.bodies,
                coming=applying.Arrivals(frozenset(), frozenset()),
                force=self.force,
                concurrency=self.settings.concurrency,
                sink=self.sink,
            )
            if any(o.error for o in outcomes.values()):
                raise DryRunRejected("the dry-run after the prerequisites were applied rejected changes")
        for manifest in manifests:
            if manifest.ref in self.replace:
                applying.replace(cluster, manifest, timeout=PREREQUISITE_TIMEOUT, sleep=time.sleep)
                self.existing.discard(manifest.ref)
        failed = applying.apply_wave(
            cluster,
            [(m, self.bodies[m.ref], m.ref in self.existing) for m in manifests],
            force=self.force,
            concurrency=self.settings.concurrency,
            sink=self.sink,
            stage=stage,
        )
        if failed:
            raise ApplyFailed(f"{len(failed)} object(s) failed to apply; no tag was created")
        prerequisites = [
            m
            for m in manifests
            if kinds.wave_of(m.ref.group, m.ref.kind, m.ref.namespace is not None) <= kinds.Wave.CRDS
        ]
        if prerequisites:
            stuck = waiting.wait_current(cluster, prerequisites, timeout=PREREQUISITE_TIMEOUT, sink=self.sink)
            if stuck:
                ref, why = next(iter(stuck.items()))
                raise ApplyFailed(f"{ref} did not become ready: {why}")
            cluster.forget_discovery()


def _empty(span: Range) -> Any:
    from gitops_push.model import ChangeSet

    return ChangeSet(range=span, old={}, new={})


def unlock(kubeconfig: str | None, context: str | None, environment: str) -> str:
    """Break an environment's deploy lock; says whose lock it broke."""
    from gitops_push import kube

    cluster = kube.connect(kubeconfig, context, cache_dir=settings.cache_dir())
    try:
        holder = locking.unlock(cluster, environment)
    finally:
        cluster.close()
    if holder is None:
        return f"environment {environment!r} is not locked"
    state = "expired" if holder.expired(locking.now()) else "active"
    return f"broke the deploy lock of {environment!r} held by {holder.describe()} ({state})"
