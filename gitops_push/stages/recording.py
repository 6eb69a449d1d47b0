"""The deploy tag: an annotated tag on the deployed commit, with machine-readable metadata, pushed.

Called by the pipeline as the last step of a successful deploy, never after a failure, so the newest
tag always names a commit whose objects are all applied. The message's first line is for people;
after a blank line comes one JSON document (`metadata()`), which `history` and `rollback` read back.
"""

from __future__ import annotations

import datetime
import getpass
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from gitops_push import __version__
from gitops_push.errors import TagPushRefused, TagRace, UsageError
from gitops_push.gitrepo import DeployTag, GitRepo
from gitops_push.model import Op, Plan

METADATA_VERSION = 1


def tag_name(prefix: str, now: datetime.datetime) -> str:
    return f"{prefix}/{now.astimezone(datetime.UTC).strftime('%Y%m%dT%H%M%SZ')}"


def ci_identity(environ: Mapping[str, str]) -> dict[str, str]:
    """Who deployed: the CI run's identity and URL when the usual variables are set, else user@host."""
    if environ.get("GITHUB_ACTIONS") == "true":
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        run = (
            f"{server}/{environ.get('GITHUB_REPOSITORY', '')}/actions/runs/{environ.get('GITHUB_RUN_ID', '')}"
        )
        return {"system": "github-actions", "actor": environ.get("GITHUB_ACTOR", ""), "run": run}
    if environ.get("GITLAB_CI") == "true":
        return {
            "system": "gitlab-ci",
            "actor": environ.get("GITLAB_USER_LOGIN", ""),
            "run": environ.get("CI_JOB_URL", ""),
        }
    if environ.get("JENKINS_URL"):
        return {
            "system": "jenkins",
            "actor": environ.get("BUILD_USER_ID", ""),
            "run": environ.get("BUILD_URL", ""),
        }
    user = environ.get("USER") or environ.get("LOGNAME") or getpass.getuser()
    return {"system": "local", "actor": f"{user}@{os.uname().nodename}", "run": ""}


def metadata(environment: str, plan: Plan, *, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Refs and counts only: never object bodies, so no Secret value can reach a tag."""
    by_op: dict[str, list[str]] = {"create": [], "update": [], "delete": []}
    for change in plan.changes:
        by_op.setdefault(change.op.value, []).append(str(change.ref))
    return {
        "gitops_push": METADATA_VERSION,
        "tool": f"gitops-push {__version__}",
        "environment": environment,
        "from": plan.range.base,
        "to": plan.range.head,
        "from_tag": plan.range.base_tag,
        "full": plan.full,
        "counts": {
            "created": len(by_op["create"]),
            "updated": len(by_op["update"]),
            "pruned": len(by_op["delete"]),
            "unchanged": sum(1 for c in plan.unchanged if c.op is Op.UNCHANGED),
        },
        "created": by_op["create"],
        "updated": by_op["update"],
        "pruned": by_op["delete"],
        "ci": ci_identity(os.environ),
        **(extra or {}),
    }


def record(
    repo: GitRepo,
    *,
    prefix: str,
    environment: str,
    plan: Plan,
    push: bool | None,
    extra: Mapping[str, Any] | None = None,
    now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
) -> tuple[str, bool]:
    """Create the tag and push it (push=None: when there is a remote); returns (tag, pushed)."""
    moment = now()
    name = tag_name(prefix, moment)
    data = metadata(environment, plan, extra=extra)
    data["deployed_at"] = moment.astimezone(datetime.UTC).isoformat(timespec="seconds")
    subject = f"gitops-push: deployed {plan.range.head[:12]} to {environment}"
    name = repo.create_tag(
        name, plan.range.head, f"{subject}\n\n{json.dumps(data, indent=2, sort_keys=True)}\n"
    )
    remote = repo.remote()
    if push is False or (push is None and remote is None):
        return name, False
    if remote is None:
        repo.delete_tag(name)
        raise UsageError(
            "--push was given but the repository has no remote", hint="add a remote or use --no-push"
        )
    try:
        repo.push_tag(remote, name)
    except (TagRace, TagPushRefused):
        repo.delete_tag(name)  # the local tag would otherwise claim a deploy the remote never recorded
        raise
    return name, True


def read_deploy(repo: GitRepo, tag: DeployTag) -> dict[str, Any]:
    """One deploy as `history` shows it, from the tag and its JSON metadata (absent for foreign tags)."""
    message = repo.tag_message(tag.name)
    _, _, body = message.partition("\n\n")
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        data = {}
    counts = data.get("counts") or {}
    ci = data.get("ci") or {}
    return {
        "tag": tag.name,
        "time": datetime.datetime.fromtimestamp(tag.timestamp, datetime.UTC).isoformat(timespec="seconds"),
        "commit": tag.commit,
        "subject": repo.commit_subject(tag.commit)
        if repo.has_commit(tag.commit)
        else "(commit not in this clone)",
        "by": ci.get("actor") or "",
        "pipeline": ci.get("run") or ci.get("system") or "",
        "created": counts.get("created", 0),
        "updated": counts.get("updated", 0),
        "pruned": counts.get("pruned", 0),
        "rollback": bool(data.get("rollback")),
        "rolled_back_to": data.get("rolled_back_to"),
        "promoted_from": (data.get("promoted_from") or {}).get("environment"),
    }
