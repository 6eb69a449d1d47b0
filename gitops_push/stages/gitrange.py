"""Which commits a run covers: the environment's last deployed tag to `--to`.

Called first by the pipeline; returns a `Range`. The last deploy is the newest tag under the
environment's prefix by tag date; with none, the range has no base and everything is new.
"""

from __future__ import annotations

from gitops_push.errors import GitStateError
from gitops_push.gitrepo import DeployTag, GitRepo
from gitops_push.model import Range


def find_range(repo: GitRepo, prefix: str, to: str, from_rev: str | None = None) -> Range:
    head = repo.resolve(to)
    if from_rev is not None:
        return Range(base=repo.resolve(from_rev), head=head, base_tag=None)
    last = last_deploy(repo, prefix)
    if last is None:
        return Range(base=None, head=head)
    if not repo.has_commit(last.commit):
        raise GitStateError(
            f"the last deployed tag {last.name} points to commit {last.commit[:12]}, which this clone does not have",
            hint="fetch more history (a deeper clone), or give --from REV to choose the base yourself",
        )
    return Range(base=last.commit, head=head, base_tag=last.name)


def last_deploy(repo: GitRepo, prefix: str) -> DeployTag | None:
    tags = repo.deploy_tags(prefix)
    return tags[0] if tags else None
