"""Which commits a run covers: the environment's last deployed tag to `--to`.

Called first by the pipeline; returns a `Range`. The last deploy is the newest tag under the
environment's prefix by tag date; with none, the range has no base and everything is new.
"""

from __future__ import annotations

from gitops_push.errors import GitStateError
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
    if not repo.is_shallow() and not repo.is_ancestor(last.commit, head):
        said.append(
            f"the last deployed commit {last.commit[:12]} ({last.name}) is not in the history of "
            f"{head[:12]}: was the branch rewritten? The change set is the difference between the two "
            "trees; give --from REV to compare with another commit"
        )
    return Range(base=last.commit, head=head, base_tag=last.name)


def last_deploy(repo: GitRepo, prefix: str) -> DeployTag | None:
    tags = repo.deploy_tags(prefix)
    return tags[0] if tags else None
