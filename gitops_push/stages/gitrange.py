"""Which commits a run covers: the environment's last deployed tag to `--to`, and the targets of
rollbacks and promotions, all read from the deploy tags that can be trusted.

Anyone who may push a tag could otherwise choose "the last deploy": a tag pushed by hand on an
unmerged commit and dated 2099 would be the newest. So a tag counts only if its name is
`PREFIX/<timestamp>` (what `recording` writes), its date is not in the future, and its commit is on
the environment's branch (`branch:` in gitops-push.yaml, else the remote's default branch). The
others are ignored, each with its reason, which every command that reads tags reports as a note.
With no trusted tag, the range has no base and everything is new.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from gitops_push.errors import GitStateError, UsageError
from gitops_push.gitrepo import DeployTag, GitRepo
from gitops_push.model import Range

# `recording.tag_name`'s form, with the suffix `GitRepo.create_tag` adds when a second is taken.
TAG_FORM = re.compile(r"[0-9]{8}T[0-9]{6}Z(-[0-9]+)?")
CLOCK_SKEW = 300  # seconds a tag may be dated ahead of this machine's clock (CI runners drift)
HISTORY_MARGIN = 86400  # shallow clones: fetch the branch from a day before the oldest tag's commit
FALLBACK_BRANCHES = ("main", "master")


@dataclass(frozen=True)
class Ignored:
    """A tag under the prefix that does not count as a deploy, and why."""

    tag: DeployTag
    reason: str

    @property
    def note(self) -> str:
        return f"ignored deploy tag {self.tag.name}: {self.reason}"


@dataclass(frozen=True)
class Tags:
    """An environment's deploy tags: those that count (newest first), those ignored, and what to say."""

    trusted: tuple[DeployTag, ...] = ()
    ignored: tuple[Ignored, ...] = ()
    said: tuple[str, ...] = ()  # tags not fetched, the branch guessed

    @property
    def last(self) -> DeployTag | None:
        return self.trusted[0] if self.trusted else None

    @property
    def notes(self) -> tuple[str, ...]:
        return (*self.said, *(ignored.note for ignored in self.ignored))


def belongs(prefix: str, name: str) -> bool:
    """`deployed/a/20261129T124640Z` belongs to `deployed/a`; `deployed/a/eu/…` does not."""
    rest = name.removeprefix(f"{prefix}/")
    return rest != name and TAG_FORM.fullmatch(rest) is not None


def trust(
    tags: Sequence[DeployTag],
    *,
    now: float,
    present: Collection[str],
    on_branch: Collection[str],
    branch: str,
) -> tuple[tuple[DeployTag, ...], tuple[Ignored, ...]]:
    """Split an environment's tags (newest first) into those that count and those ignored, with why.

    `present` holds the commits this clone has, `on_branch` those reachable from `branch`."""
    trusted, ignored = [], []
    for tag in tags:
        reason = None
        if tag.timestamp > now + CLOCK_SKEW:
            reason = f"it is dated in the future ({_date(tag.timestamp)})"
        elif tag.commit not in present:
            reason = f"its commit {tag.commit[:12]} is not in this clone"
        elif tag.commit not in on_branch:
            reason = f"its commit {tag.commit[:12]} is not on branch {branch}"
        if reason is None:
            trusted.append(tag)
        else:
            ignored.append(Ignored(tag, reason))
    return tuple(trusted), tuple(ignored)


def _date(timestamp: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def read_tags(
    repo: GitRepo,
    prefix: str,
    branch: str | None,
    *,
    wanted: int | None = None,
    now: Callable[[], float] = time.time,
) -> Tags:
    """The environment's deploy tags, fetched from the remote first, sorted into trusted and ignored.

    `branch` is the environment's branch from the config; None means the remote's default branch.
    `wanted` is how many of the newest trusted tags the caller needs (None: all of them). It matters
    in a shallow clone, which must fetch the branch's history back to a tag's commit to show that the
    commit is on the branch: there only the history those newest tags need is fetched (deepened
    while too few of them count), and older tags are left out, neither trusted nor ignored. Else a
    CI checkout would fetch the history since the environment's first deploy, at every run."""
    said: list[str] = []
    remote = repo.remote()
    if remote is not None:
        try:
            repo.fetch_deploy_tags(remote, prefix)
        except GitStateError as exc:
            said.append(f"{exc.message}; using the tags this clone has")
    tags = [tag for tag in repo.deploy_tags(prefix) if belongs(prefix, tag.name)]
    if not tags:
        return Tags(said=tuple(said))
    moment = now()
    present = repo.present(sorted({tag.commit for tag in tags}))
    name = _branch(repo, remote, branch, said)
    dated = [tag for tag in tags if tag.commit in present and tag.timestamp <= moment + CLOCK_SKEW]
    windowed = wanted is not None and remote is not None and repo.is_shallow()
    count = max(1, wanted or 1) if windowed else len(dated)
    while True:
        window = dated[:count]
        notes = len(said)
        ref = _branch_ref(repo, remote, name, [tag.commit for tag in window], said)
        merged = repo.tags_merged(prefix, ref) if ref is not None else set()
        whole = count >= len(dated)
        checked = tags if whole else tags[: tags.index(window[-1]) + 1]
        on_branch = {tag.commit for tag in checked if tag.name in merged}
        trusted, ignored = trust(checked, now=moment, present=present, on_branch=on_branch, branch=name)
        if whole or len(said) > notes or len(trusted) >= (wanted or 0):
            return Tags(trusted, ignored, tuple(said))
        count *= 2


def _branch(repo: GitRepo, remote: str | None, configured: str | None, said: list[str]) -> str:
    """The environment's branch: the config's, the remote's default, else the current branch or
    main/master (said, since a tag on any other branch is then ignored)."""
    if configured:
        return configured
    found = repo.default_branch(remote) if remote is not None else repo.current_branch()
    if found:
        return found
    current = repo.current_branch()
    guesses = [current] if current else [b for b in FALLBACK_BRANCHES if _known(repo, remote, b)]
    chosen = guesses[0] if guesses else "HEAD"
    said.append(
        f"no default branch known: deploy tags count only if their commit is on {chosen}; "
        "set `branch:` for the environment in gitops-push.yaml"
    )
    return chosen


def _known(repo: GitRepo, remote: str | None, branch: str) -> bool:
    return repo.has_ref(f"refs/heads/{branch}") or (
        remote is not None and repo.has_ref(f"refs/remotes/{remote}/{branch}")
    )


def _branch_ref(
    repo: GitRepo, remote: str | None, branch: str, commits: Sequence[str], said: list[str]
) -> str | None:
    """The ref the tags' commits must be reachable from: the remote's branch (fetched, so a branch
    pushed but not merged cannot pass for it), else the local one."""
    if branch == "HEAD":
        return "HEAD"
    if remote is not None and commits:
        since = repo.oldest_commit_time(commits) - HISTORY_MARGIN
        try:
            return repo.fetch_branch(remote, branch, since=since)
        except GitStateError as exc:
            said.append(f"{exc.message}; using the branch as this clone has it")
    for ref in ([f"refs/remotes/{remote}/{branch}"] if remote else []) + [f"refs/heads/{branch}"]:
        if repo.has_ref(ref):
            return ref
    said.append(f"branch {branch} is not in this clone: no deploy tag can be shown to be on it")
    return None


def find_range(repo: GitRepo, tags: Tags, to: str, from_rev: str | None = None) -> Range:
    """From the last trusted deploy tag (`tags` from `read_tags`), or `from_rev`, to `to`."""
    head = repo.resolve(to)
    if from_rev is not None:
        return Range(base=repo.resolve(from_rev), head=head, base_tag=None)
    last = tags.last
    if last is None:
        return Range(base=None, head=head)
    return Range(base=last.commit, head=head, base_tag=last.name)


def rollback_target(tags: Tags, environment: str, wanted: str | None) -> DeployTag:
    """The tag a rollback returns to: `wanted`, or the trusted deploy before the last."""
    trusted = tags.trusted
    if not trusted:
        raise UsageError(f"environment {environment!r} has no deploys to roll back")
    if wanted is None:
        if len(trusted) < 2:
            raise UsageError(
                f"{trusted[0].name} is the only deploy: there is nothing earlier to roll back to"
            )
        return trusted[1]
    for tag in trusted:
        if tag.name == wanted:
            return tag
    why = next((i.reason for i in tags.ignored if i.tag.name == wanted), None)
    raise UsageError(
        f"{wanted} is not a deploy tag of this environment" + (f": it is ignored, as {why}" if why else ""),
        hint=f"see `gitops-push history --env {environment}`",
    )


def promotion_source(tags: Tags, source: str, prefix: str) -> DeployTag:
    """What a promotion deploys: the source environment's last trusted deploy."""
    if tags.last is None:
        raise UsageError(
            f"environment {source!r} has no deploy to promote", hint=f"its deploy tags would be {prefix}/*"
        )
    return tags.last


def verify_promotion(source: str, tag: DeployTag, recorded: str | None) -> None:
    """Refuse to promote a commit the source environment's cluster does not say it runs: its last
    deploy may have failed after applying, or someone deployed it by other means."""
    if recorded == tag.commit:
        return
    runs = f"commit {recorded[:12]}" if recorded else "no deployed commit"
    raise GitStateError(
        f"environment {source!r} last deployed {tag.commit[:12]} ({tag.name}), but its cluster's record "
        f"says it runs {runs}",
        hint=f"deploy {source} again (or check `gitops-push status --env {source}`) before promoting it",
    )


def refuse_stale(repo: GitRepo, span: Range, *, allow_older: bool, force: bool) -> None:
    """A deploy moves an environment forward. Deploying an ancestor of the last deployed commit (an old
    CI job re-run) would quietly move the cluster back; deploying a commit that does not descend from
    it (a rewritten branch) would drop whatever that commit had. Both are refused unless asked for."""
    if span.base is None or span.base == span.head or repo.is_shallow():
        return
    common = repo.merge_bases(span.base, span.head)
    if common == {span.head}:  # head is an ancestor of base
        if not allow_older:
            raise UsageError(
                f"{span.head[:12]} is older than the last deployed commit {span.base[:12]} ({span.base_tag}): "
                "deploying it would move the environment back",
                hint="to go back on purpose: `gitops-push rollback`, or deploy with --allow-older",
            )
    elif common != {span.base} and not force:  # base is not an ancestor of head
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
    if not repo.has_manifest(commit, paths):
        shown = ", ".join(repr(p or ".") for p in paths)
        raise UsageError(
            f"environment {environment!r} has no manifests under {shown} at commit {commit[:12]}",
            hint="check the paths; to deploy an empty environment on purpose, give --allow-empty",
        )
