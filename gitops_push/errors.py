"""The error tree and the exit codes: the one vocabulary for failure.

Stages raise these; `cli.py` alone turns them into an exit code and a message. Every error can name
where it comes from (a `SourceLocation` and/or an `ObjectRef`) and a hint on what to do next.
Nothing here may carry a Secret's values: the code that builds a message masks them first.
"""

from __future__ import annotations

import enum
from typing import ClassVar

from gitops_push.model import ObjectRef, SourceLocation


class ExitCode(enum.IntEnum):
    """Documented in `gitops-push --help`, the README and docs/exit-codes.md; each has a test."""

    OK = 0  # success, also "nothing to deploy"
    FAILED = 1  # apply, prune or wait failed; the cluster could not be reached; the tag push was refused
    USAGE = 2  # bad flags, configuration or Git state
    INVALID = 3  # a manifest failed validation: nothing was applied
    REJECTED = 4  # the server-side dry-run rejected a change: nothing was applied
    RACE = 5  # another deploy tagged first (the tag exists on the remote) or holds the lock
    CHANGES_PENDING = 10  # `plan --detailed-exitcode` only: the plan is not empty


class GitopsPushError(Exception):
    """Base of every error gitops-push reports on purpose."""

    reference: ClassVar[str] = "error"
    exit_code: ClassVar[ExitCode] = ExitCode.FAILED

    def __init__(
        self,
        message: str,
        *,
        location: SourceLocation | None = None,
        ref: ObjectRef | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.ref = ref
        self.hint = hint

    def __str__(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(f"{self.location}: ")
        if self.ref is not None:
            parts.append(f"{self.ref}: ")
        parts.append(self.message)
        return "".join(parts)


class UsageError(GitopsPushError):
    reference = "usage"
    exit_code = ExitCode.USAGE


class ConfigError(GitopsPushError):
    reference = "invalid-config"
    exit_code = ExitCode.USAGE


class GitStateError(GitopsPushError):
    reference = "git-state"
    exit_code = ExitCode.USAGE


class ValidationFailed(GitopsPushError):
    reference = "invalid-manifest"
    exit_code = ExitCode.INVALID


class DryRunRejected(GitopsPushError):
    reference = "dry-run-rejected"
    exit_code = ExitCode.REJECTED


class ClusterUnreachable(GitopsPushError):
    reference = "cluster-unreachable"
    exit_code = ExitCode.FAILED


class ApplyFailed(GitopsPushError):
    reference = "apply-failed"
    exit_code = ExitCode.FAILED


class TagRace(GitopsPushError):
    reference = "tag-race"
    exit_code = ExitCode.RACE


class TagPushRefused(GitopsPushError):
    """The remote refused the deploy tag for another reason than a race: rights, a protected tag, auth."""

    reference = "tag-push-refused"
    exit_code = ExitCode.FAILED


class LockHeld(GitopsPushError):
    reference = "lock-held"
    exit_code = ExitCode.RACE
