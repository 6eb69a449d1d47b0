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
    """Documented in `gitops-push --help` (from `meaning`), the README and docs/exit-codes.md."""

    OK = 0
    FAILED = 1
    USAGE = 2
    INVALID = 3
    REJECTED = 4
    RACE = 5
    DRIFT = 6
    CHANGES_PENDING = 10
    INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
    TERMINATED = 143  # 128 + SIGTERM, what CI systems send to cancel a job

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "success (also: nothing to deploy)",
    ExitCode.FAILED: "apply, prune or wait failed; cluster unreachable; tag push refused",
    ExitCode.USAGE: "usage, configuration or Git state error",
    ExitCode.INVALID: "validation failed: nothing was applied",
    ExitCode.REJECTED: "server-side dry-run rejected a change: nothing was applied",
    ExitCode.RACE: "another deploy tagged first (tag exists), or holds the lock",
    ExitCode.DRIFT: "status --exit-code: the cluster differs from the last deployed tag",
    ExitCode.CHANGES_PENDING: "plan --detailed-exitcode: changes are pending",
    ExitCode.INTERRUPTED: "cancelled by SIGINT (Ctrl-C): lock released, reports written, no tag",
    ExitCode.TERMINATED: "cancelled by SIGTERM (a CI job cancelled): lock released, reports written, no tag",
}


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


class HookFailed(GitopsPushError):
    """A Helm hook of a rendered source failed or did not finish: the deploy stops, untagged."""

    reference = "hook-failed"
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


class RendererMissing(UsageError):
    """A rendered source needs kustomize or helm, and neither PATH nor the settings name it."""

    reference = "renderer-missing"


class SourceRefused(GitopsPushError):
    """A rendered source that would need the network: a remote base, a chart dependency not vendored."""

    reference = "source-refused"
    exit_code = ExitCode.USAGE


class RenderFailed(GitopsPushError):
    """kustomize or helm could not render a source (a broken kustomization, a template error)."""

    reference = "render-failed"
    exit_code = ExitCode.INVALID


class Cancelled(GitopsPushError):
    """The run was cancelled by a signal: no new request was sent after it. `Cancelled.by()` picks the
    subclass whose exit code is the shell's convention for that signal (128 + its number)."""

    reference = "cancelled"
    exit_code = ExitCode.TERMINATED

    @staticmethod
    def by(signal_name: str, message: str) -> Cancelled:
        return Interrupted(message) if signal_name == "SIGINT" else Terminated(message)


class Interrupted(Cancelled):
    exit_code = ExitCode.INTERRUPTED


class Terminated(Cancelled):
    exit_code = ExitCode.TERMINATED
