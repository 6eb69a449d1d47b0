"""What a run reads of the deploy tags: the trusted ones of an environment (fetched first; the ignored
ones and why become notes), the history they tell, and what a source environment's cluster records.
"""

from __future__ import annotations

from typing import Any

from gitops_push import gitrepo, settings
from gitops_push.errors import GitStateError, UsageError
from gitops_push.events import EventSink, Note
from gitops_push.settings import Flags, Settings
from gitops_push.stages import gitrange, ownership, recording


def read_tags(
    repo: gitrepo.GitRepo, environment: settings.Environment, sink: EventSink, *, wanted: int | None
) -> gitrange.Tags:
    """The environment's deploy tags, fetched; the ignored ones and why become notes. `wanted`: how
    many of the newest trusted tags the command needs (None: all), which bounds a shallow clone's
    fetch (`gitrange.read_tags`)."""
    tags = gitrange.read_tags(repo, environment.prefix, environment.branch, wanted=wanted)
    for note in tags.notes:
        sink.handle(Note(note))
    return tags


def history(flags: Flags) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The environment's deploys, newest first, read back from its trusted tags' metadata; and notes."""
    with gitrepo.open_repo(flags.repo) as repo:
        name = flags.environment or settings.DEFAULT_ENVIRONMENT
        env = settings.declared(config_at(repo), name)
        prefix = (flags.tag_prefix or "").rstrip("/") or env.prefix
        tags = gitrange.read_tags(repo, prefix, env.branch, wanted=flags.limit)
        if flags.environment and not (
            tags.trusted or tags.ignored or settings.is_declared(config_at(repo), name)
        ):
            raise UsageError(
                f"environment {name!r} has no deploy tags ({prefix}/*) and is not declared in "
                f"{settings.CONFIG_FILE}",
                hint="check the name: `git tag --list 'deployed/*'` shows the environments deployed",
            )
        deploys = [recording.read_deploy(repo, tag) for tag in tags.trusted[: flags.limit]]
        return deploys, tags.notes


def recorded_commit(source: Settings) -> str | None:
    """The commit the source environment's cluster (its own `context:`) records as deployed."""
    from gitops_push.pipeline import connect

    cluster = connect(source)
    try:
        return ownership.read_record(cluster, source.environment.name).commit
    finally:
        cluster.close()


def config_at(repo: gitrepo.GitRepo, rev: str = "HEAD") -> settings.Config:
    """gitops-push.yaml as the commit to deploy has it: like the manifests, read from Git, never from
    the work tree (a pull request's uncommitted or linked file must not steer a run)."""
    try:
        commit = repo.resolve(rev)
    except GitStateError:
        if rev != "HEAD":
            raise
        return {}  # a repository without a commit yet has no configuration either
    return settings.parse_config(repo.file_at(commit, settings.CONFIG_FILE))
