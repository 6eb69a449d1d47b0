"""Which commits a run covers: the environment's last deployed tag to `--to`, and the targets of
rollbacks and promotions, all read from the deploy tags.

The last deploy is the newest tag under the environment's prefix by tag date; with none, the range
has no base and everything is new.
"""

from __future__ import annotations

from collections.abc import Sequence

from gitops_push.errors import GitStateError, UsageError
from gitops_push.gitrepo import DeployTag, GitRepo
from gitops_push.model import Range


def find_range(
    repo: GitRepo, prefix: str, to: str, from_rev: str | None = None, *, notes: list[str] | None = None
) -> Range:
    """`notes` collects what the user should know (tags fetched, history rewritten)."""
    said = notes if notes is not None else []
    head = repo.resolve(to)
    if from_rev is not None:
        return Range(base=repo.resolve(from_rev), head=head, base_tag=None)
    remote = repo.remote()
    if remote is not None:
        try:
            repo.fetch_deploy_tags(remote, prefix)
        except GitStateError as exc:
            said.append(f"{exc.message}; using the tags this clone has")
    last = last_deploy(repo, prefix)
    if last is None:
        return Range(base=None, head=head)
    if not repo.has_commit(last.commit):
        raise GitStateError(
            f"the last deployed tag {last.name} points to commit {last.commit[:12]}, which this clone does not have",
            hint="fetch it (git fetch origin tag NAME), or give --from REV to choose the base yourself",
        )
    return Range(base=last.commit, head=head, base_tag=last.name)


def last_deploy(repo: GitRepo, prefix: str) -> DeployTag | None:
    tags = repo.deploy_tags(prefix)
    return tags[0] if tags else None


def rollback_target(tags: Sequence[DeployTag], environment: str, wanted: str | None) -> DeployTag:
    """The tag a rollback returns to: `wanted`, or the deploy before the last. `tags` newest first."""
    if not tags:
        raise UsageError(f"environment {environment!r} has no deploys to roll back")
    if wanted is None:
        if len(tags) < 2:
            raise UsageError(f"{tags[0].name} is the only deploy: there is nothing earlier to roll back to")
        return tags[1]
    for tag in tags:
        if tag.name == wanted:
            return tag
    raise UsageError(
        f"{wanted} is not a deploy tag of this environment",
        hint=f"see `gitops-push history --env {environment}`",
    )


def promotion_source(repo: GitRepo, source: str, prefix: str) -> DeployTag:
    """What a promotion deploys: the source environment's last deploy, whose commit this clone has."""
    last = last_deploy(repo, prefix)
    if last is None:
        raise UsageError(
            f"environment {source!r} has no deploy to promote", hint=f"its deploy tags would be {prefix}/*"
        )
    if not repo.has_commit(last.commit):
        raise GitStateError(
            f"{last.name} points to commit {last.commit[:12]}, which this clone does not have",
            hint="fetch the branch that holds it (a deeper clone) and rerun",
        )
    return last


def refuse_stale(repo: GitRepo, span: Range, *, allow_older: bool, force: bool) -> None:
    """A deploy moves an environment forward. Deploying an ancestor of the last deployed commit (an old
    CI job re-run) would quietly move the cluster back; deploying a commit that does not descend from
    it (a rewritten branch) would drop whatever that commit had. Both are refused unless asked for."""
    if span.base is None or span.base == span.head or repo.is_shallow():
        return
    if repo.is_ancestor(span.head, span.base):
        if not allow_older:
            raise UsageError(
                f"{span.head[:12]} is older than the last deployed commit {span.base[:12]} ({span.base_tag}): "
                "deploying it would move the environment back",
                hint="to go back on purpose: `gitops-push rollback`, or deploy with --allow-older",
            )
    elif not repo.is_ancestor(span.base, span.head) and not force:
        raise GitStateError(
            f"{span.head[:12]} does not descend from the last deployed commit {span.base[:12]} "
            f"({span.base_tag}): was the branch rewritten?",
            hint="if the rewrite is intended, deploy with --force (the change set is the difference of the two trees)",
        )


def refuse_missing_paths(
    repo: GitRepo, commit: str, paths: Sequence[str], *, environment: str, allow_empty: bool
) -> None:
    """A misspelt path must not deploy "nothing" and tag it: every path must exist at the commit, and
    together they must hold at least one manifest (unless an empty environment is meant)."""
    if allow_empty:
        return
    found = repo.entries(commit, paths)
    for path in paths:
        if path not in found:
            raise UsageError(
                f"path {path!r} of environment {environment!r} does not exist at commit {commit[:12]}",
                hint="check --path, or the environment's paths in gitops-push.yaml",
            )
    if not repo.tree_files(commit, paths):
        shown = ", ".join(repr(p or ".") for p in paths)
        raise UsageError(
            f"environment {environment!r} has no manifests under {shown} at commit {commit[:12]}",
            hint="check the paths; to deploy an empty environment on purpose, give --allow-empty",
        )
