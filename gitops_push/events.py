"""Events: what the stages tell the reporters, and the EventSink protocol that carries them.

Stages only ever see an `EventSink`. Reporters (human, JSON, JUnit, GitHub) consume the same stream,
and `reporters.stats` folds it into the `Summary` that decides the exit code, so every output agrees.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from gitops_push.model import Action, Finding, ObjectRef, Plan, Skipped, SourceLocation, StepView


class Stage(enum.Enum):
    VALIDATE = "validate"
    DRY_RUN = "dry-run"
    APPLY = "apply"
    WAIT = "wait"
    PRUNE = "prune"
    ROLLBACK = "rollback"


class Status(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class RunStarted:
    command: str
    environment: str


@dataclass(frozen=True)
class RenderersFound:
    """The renderers of the environment's rendered sources, sent once: tool name to version."""

    versions: Mapping[str, str]


@dataclass(frozen=True)
class Connected:
    """The cluster a run talks to, sent once: every report names it, and warns when TLS is not verified."""

    server: str
    context: str
    insecure: bool  # the kubeconfig says insecure-skip-tls-verify: the server's identity is unchecked

    @property
    def warning(self) -> str | None:
        if not self.insecure:
            return None
        return (
            f"TLS verification is off for {self.server} (insecure-skip-tls-verify in the kubeconfig): "
            "anyone on the network path can pose as the API server, read the credentials and change "
            "what is deployed; give the kubeconfig the cluster's certificate-authority-data instead"
        )


@dataclass(frozen=True)
class Note:
    """Something the user should know that is not an error (a skipped file, a full deploy and why)."""

    message: str
    source: SourceLocation | None = None


@dataclass(frozen=True)
class FileSkipped:
    skipped: Skipped


@dataclass(frozen=True)
class StageStarted:
    stage: Stage
    total: int = 0


@dataclass(frozen=True)
class StageFinished:
    stage: Stage
    status: Status


@dataclass(frozen=True)
class FindingFound:
    finding: Finding


@dataclass(frozen=True)
class PlanReady:
    plan: Plan
    steps: tuple[StepView, ...] = ()  # what a deploy of this plan does, in order


@dataclass(frozen=True)
class ObjectActed:
    """One object went through one stage: dry-run, apply or prune."""

    stage: Stage
    ref: ObjectRef
    action: Action
    source: SourceLocation | None = None
    api_version: str = ""
    error: str | None = None  # already masked: never carries Secret values


@dataclass(frozen=True)
class HealthChanged:
    """An applied object's health changed while waiting (status is kstatus's word)."""

    ref: ObjectRef
    status: str
    message: str
    elapsed: float


@dataclass(frozen=True)
class TagRecorded:
    tag: str
    commit: str
    pushed: bool


@dataclass(frozen=True)
class RollbackFinished:
    """--rollback-on-failure ran after a failed deploy; `ok` says whether the old state is back."""

    ok: bool
    message: str


@dataclass(frozen=True)
class RunFailed:
    """A run-level failure (an exception the pipeline could not go on after)."""

    message: str
    reference: str
    exit_code: int
    source: SourceLocation | None = None
    hint: str | None = None


@dataclass(frozen=True)
class RunFinished:
    environment: str
    base: str | None
    head: str | None
    tag: str | None


Event = (
    RunStarted
    | RenderersFound
    | Connected
    | Note
    | FileSkipped
    | StageStarted
    | StageFinished
    | FindingFound
    | PlanReady
    | ObjectActed
    | HealthChanged
    | TagRecorded
    | RollbackFinished
    | RunFailed
    | RunFinished
)


class EventSink(Protocol):
    """All that a stage ever sees of the outside world's output."""

    def handle(self, event: Event) -> None: ...
