"""The deploy tag: an annotated tag on the deployed commit, with machine-readable metadata, pushed.

The last step of a successful deploy, never run after a failure, so the newest tag always names a
commit whose objects are all applied. The message's first line is for people; after a blank line
comes one JSON document (`DeployMetadata`), which `history` and `rollback` read back.
"""

from __future__ import annotations

import datetime
import getpass
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Provenance:
    """Why a deploy happened, when it was not a plain deploy of new commits."""

    rolled_back_to: str | None = None  # the tag a rollback returned to
    rolled_back_from: str | None = None
    promoted_from: Mapping[str, str] | None = None  # {"environment", "tag", "commit"}


@dataclass(frozen=True)
class DeployMetadata:
    """The JSON document in a deploy tag's message: written by `record`, read back by `read`.

    Refs and counts only, never object bodies, so no Secret value can reach a tag."""

    environment: str
    base: str | None
    head: str
    base_tag: str | None
    full: bool
    created: tuple[str, ...]
    updated: tuple[str, ...]
    pruned: tuple[str, ...]
    unchanged: int
    ci: Mapping[str, str]
    tool: str = f"gitops-push {__version__}"
    deployed_at: str | None = None
    provenance: Provenance = field(default_factory=Provenance)
    renderers: Mapping[str, str] = field(default_factory=dict)  # tool name to version, rendered sources

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "gitops_push": METADATA_VERSION,
            "tool": self.tool,
            "environment": self.environment,
            "from": self.base,
            "to": self.head,
            "from_tag": self.base_tag,
            "full": self.full,
            "counts": {
                "created": len(self.created),
                "updated": len(self.updated),
                "pruned": len(self.pruned),
                "unchanged": self.unchanged,
            },
            "created": list(self.created),
            "updated": list(self.updated),
            "pruned": list(self.pruned),
            "ci": dict(self.ci),
        }
        if self.deployed_at is not None:
            data["deployed_at"] = self.deployed_at
        if self.renderers:
            data["renderers"] = dict(self.renderers)
        if self.provenance.rolled_back_to is not None:
            data["rollback"] = True
            data["rolled_back_to"] = self.provenance.rolled_back_to
            data["rolled_back_from"] = self.provenance.rolled_back_from
        if self.provenance.promoted_from is not None:
            data["promoted_from"] = dict(self.provenance.promoted_from)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeployMetadata:
        """Tolerant: a tag written by hand or by an older version gives what it has."""
        counts = data.get("counts") or {}

        def names(key: str) -> tuple[str, ...]:
            value = data.get(key)
            return tuple(map(str, value)) if isinstance(value, list) else ("?",) * int(counts.get(key, 0))

        promoted = data.get("promoted_from")
        renderers = data.get("renderers")
        return cls(
            environment=str(data.get("environment") or ""),
            base=data.get("from"),
            head=str(data.get("to") or ""),
            base_tag=data.get("from_tag"),
            full=bool(data.get("full")),
            created=names("created"),
            updated=names("updated"),
            pruned=names("pruned"),
            unchanged=int(counts.get("unchanged", 0)),
            ci={str(k): str(v) for k, v in (data.get("ci") or {}).items()},
            tool=str(data.get("tool") or ""),
            deployed_at=data.get("deployed_at"),
            provenance=Provenance(
                rolled_back_to=data.get("rolled_back_to") if data.get("rollback") else None,
                rolled_back_from=data.get("rolled_back_from"),
                promoted_from=promoted if isinstance(promoted, dict) else None,
            ),
            renderers={str(k): str(v) for k, v in renderers.items()} if isinstance(renderers, dict) else {},
        )


def metadata(
    environment: str,
    plan: Plan,
    *,
    provenance: Provenance | None = None,
    deployed_at: str | None = None,
    renderers: Mapping[str, str] | None = None,
) -> DeployMetadata:
    by_op: dict[Op, list[str]] = {Op.CREATE: [], Op.UPDATE: [], Op.DELETE: [], Op.ADOPT: []}
    for change in plan.changes:
        by_op.setdefault(change.op, []).append(str(change.ref))
    return DeployMetadata(
        environment=environment,
        base=plan.range.base,
        head=plan.range.head,
        base_tag=plan.range.base_tag,
        full=plan.full,
        created=tuple(by_op[Op.CREATE]),
        updated=tuple(by_op[Op.UPDATE] + by_op[Op.ADOPT]),
        pruned=tuple(by_op[Op.DELETE]),
        unchanged=sum(1 for c in plan.unchanged if c.op is Op.UNCHANGED),
        ci=ci_identity(os.environ),
        deployed_at=deployed_at,
        provenance=provenance or Provenance(),
        renderers=dict(renderers or {}),
    )


def record(
    repo: GitRepo,
    *,
    prefix: str,
    environment: str,
    plan: Plan,
    push: bool | None,
    provenance: Provenance | None = None,
    renderers: Mapping[str, str] | None = None,
    now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
) -> tuple[str, bool]:
    """Create the tag and push it (push=None: when there is a remote); returns (tag, pushed)."""
    moment = now()
    name = tag_name(prefix, moment)
    deployed_at = moment.astimezone(datetime.UTC).isoformat(timespec="seconds")
    data = metadata(
        environment, plan, provenance=provenance, deployed_at=deployed_at, renderers=renderers
    ).to_json()
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


def read(repo: GitRepo, tag: DeployTag) -> DeployMetadata | None:
    """The metadata of a deploy tag; None for a tag whose message holds none (made by hand)."""
    _, _, body = repo.tag_message(tag.name).partition("\n\n")
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        return None
    return DeployMetadata.from_json(data) if isinstance(data, dict) else None


def read_deploy(repo: GitRepo, tag: DeployTag) -> dict[str, Any]:
    """One deploy as `history` shows it, from the tag and its metadata (absent for foreign tags)."""
    data = read(repo, tag)
    return {
        "tag": tag.name,
        "time": datetime.datetime.fromtimestamp(tag.timestamp, datetime.UTC).isoformat(timespec="seconds"),
        "commit": tag.commit,
        "subject": repo.commit_subject(tag.commit)
        if repo.has_commit(tag.commit)
        else "(commit not in this clone)",
        "by": data.ci.get("actor", "") if data else "",
        "pipeline": (data.ci.get("run") or data.ci.get("system", "")) if data else "",
        "created": len(data.created) if data else 0,
        "updated": len(data.updated) if data else 0,
        "pruned": len(data.pruned) if data else 0,
        "rollback": bool(data and data.provenance.rolled_back_to),
        "rolled_back_to": data.provenance.rolled_back_to if data else None,
        "promoted_from": (data.provenance.promoted_from or {}).get("environment") if data else None,
    }
