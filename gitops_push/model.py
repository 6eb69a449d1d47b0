"""Value types shared by the stages: plain, frozen, typed.

Stages pass these to each other and to the reporters; none of them knows Git, Kubernetes clients or
output formats. `Change.diff` is already masked: no Secret value survives past `planning`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ObjectRef:
    """An object's identity in the cluster: group, kind, namespace, name (the version is not part of it)."""

    group: str
    kind: str
    namespace: str | None
    name: str

    # A reference is hashed some seven times on its way through a run (keyed, planned, counted):
    # hashed once, kept beside its fields (not one of them), and never pickled with them (a string's
    # hash differs from process to process).
    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.group, self.kind, self.namespace, self.name)))

    def __hash__(self) -> int:
        hashed: int = self.__dict__["_hash"]
        return hashed

    def __reduce__(self) -> tuple[type[ObjectRef], tuple[str, str, str | None, str]]:
        return ObjectRef, (self.group, self.kind, self.namespace, self.name)

    def __lt__(self, other: ObjectRef) -> bool:
        # Cluster-wide objects (no namespace) sort before namespaced ones of the same kind.
        return (self.group, self.kind, self.namespace or "", self.name) < (
            other.group,
            other.kind,
            other.namespace or "",
            other.name,
        )

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.group_kind} {where}{self.name}"


class LineBasis(enum.Enum):
    """What a SourceLocation's line counts in, and whether an object's fields are its document's."""

    FILE = "file"  # a plain manifest: the object is the document at `line` of the file
    BUILT = "built"  # kustomize: built from the document at `line`; the build may have changed fields
    RENDERED = "rendered"  # Helm: `line` counts in the template's rendered output, not in the template


@dataclass(frozen=True)
class SourceLocation:
    """Where a document comes from: the file relative to the repository root, its line, its index.

    A Helm template's own lines are not its output's, so a Helm object's line counts in what
    `helm template --show-only <template>` prints for that template (basis RENDERED), and says so.
    """

    path: str
    line: int
    document: int = 0
    basis: LineBasis = LineBasis.FILE

    @property
    def in_file(self) -> bool:
        """Whether `line` is a line of the file at `path` (False: of the file's rendered output)."""
        return self.basis is not LineBasis.RENDERED

    def __str__(self) -> str:
        if not self.in_file:
            return f"{self.path} (rendered), line {self.line}"
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Manifest:
    """One object to apply, as Git has it, with the namespace already defaulted."""

    ref: ObjectRef
    api_version: str
    body: Mapping[str, Any]
    source: SourceLocation
    # Its body passed validation's fast check where it was parsed (`loading.CheckAhead`); `validate`
    # trusts that only when told which schemas that check used. Not part of what the manifest is.
    checked_ahead: bool = field(default=False, compare=False, repr=False)

    @property
    def is_secret(self) -> bool:
        return self.ref.group == "" and self.ref.kind == "Secret"


class Op(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"
    ADOPT = "adopt"  # exists, made by someone else: taken over only when asked (--adopt)


class Diffs(enum.Enum):
    NONE = "none"  # machines (JSON), quiet runs, deploys without --diff
    UPDATES = "updates"  # what changes in objects that exist: the default of plan and --diff
    ALL = "all"  # also the whole body of created and pruned objects (-v)


class Action(enum.Enum):
    """What happened to an object, in the words of the JSON output."""

    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    PRUNED = "pruned"
    ADOPTED = "adopted"  # an existing object taken over by the environment
    RELEASED = "released"  # an adopted object left to its earlier owners instead of pruned
    SKIPPED = "skipped"
    FAILED = "failed"
    # `status` speaks of the cluster against Git, not of what a deploy does:
    DRIFTED = "drifted"  # our fields differ from Git
    MISSING = "missing"  # in Git, not in the cluster
    EXTRA = "extra"  # a member of the environment in the cluster, not in Git


@dataclass(frozen=True)
class ForeignFields:
    """Fields of one of our objects that another field manager set and Git does not (`status`)."""

    manager: str
    fields: tuple[str, ...]  # rendered paths: .data.EXTRA, .spec.containers[name=web].env


@dataclass(frozen=True)
class Change:
    """What the plan does to one object; `desired` is None for deletions, `previous` None for new ones."""

    op: Op
    ref: ObjectRef
    desired: Manifest | None
    previous: Manifest | None = None
    diff: tuple[str, ...] = ()
    others: tuple[ForeignFields, ...] = ()  # status only: fields other managers added

    @property
    def source(self) -> SourceLocation | None:
        manifest = self.desired or self.previous
        return manifest.source if manifest else None


@dataclass(frozen=True)
class Skipped:
    """A YAML document or file that is not an object to apply, and why (a note, not an error)."""

    source: SourceLocation
    reason: str


@dataclass(frozen=True)
class Finding:
    """A validation error: where, which field, and why."""

    source: SourceLocation
    message: str
    ref: ObjectRef | None = None
    field_path: str = ""

    def __str__(self) -> str:
        where = f" (field {self.field_path})" if self.field_path else ""
        return f"{self.source}: {self.message}{where}"


@dataclass(frozen=True)
class Range:
    """The commits a deploy covers: from the last deployed tag's commit (None: first deploy) to head."""

    base: str | None
    head: str
    base_tag: str | None = None


@dataclass(frozen=True)
class ChangeSet:
    """The objects that the commit range touches, on both sides, keyed by ObjectRef."""

    range: Range
    old: Mapping[ObjectRef, Manifest]
    new: Mapping[ObjectRef, Manifest]
    skipped: tuple[Skipped, ...] = ()
    full: bool = False  # True when `new` is the whole desired state, not just what changed


@dataclass(frozen=True)
class HookRun:
    """A Helm hook object a deploy runs: before its first apply (`pre`) or after health (`post`), in
    weight order; never a member of the environment, so never pruned."""

    manifest: Manifest
    pre: bool
    weight: int
    delete_before: bool = True  # before-hook-creation, Helm's default: the previous run's object goes first
    delete_succeeded: bool = False
    delete_failed: bool = False


@dataclass(frozen=True)
class Plan:
    """An explicit, printable plan: apply waves in order, then prune waves (the reverse order)."""

    range: Range
    apply_waves: tuple[tuple[Change, ...], ...]
    prune_waves: tuple[tuple[Change, ...], ...]
    unchanged: tuple[Change, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    full: bool = False
    notes: tuple[str, ...] = field(default=())
    hooks: tuple[HookRun, ...] = ()  # in the order they run

    def hooks_of(self, *, pre: bool) -> tuple[HookRun, ...]:
        return tuple(h for h in self.hooks if h.pre is pre)

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(c for wave in (*self.apply_waves, *self.prune_waves) for c in wave)

    @property
    def is_empty(self) -> bool:
        return not self.changes

    @property
    def with_others(self) -> tuple[Change, ...]:
        """Objects, changed or not, that carry fields other managers set (filled by `status` only)."""
        return tuple(c for c in (*self.changes, *self.unchanged) if c.others)

    def render(self) -> str:
        """Stable text, one line per change, for golden tests and logs."""
        lines = [f"range {self.range.base or '(none)'}..{self.range.head}"]
        for number, wave in enumerate(self.apply_waves, 1):
            lines += [f"apply wave {number}: {c.op.value} {c.ref}" for c in wave]
        for number, wave in enumerate(self.prune_waves, 1):
            lines += [f"prune wave {number}: {c.op.value} {c.ref}" for c in wave]
        lines += [f"unchanged: {c.ref}" for c in self.unchanged]
        return "\n".join(lines)


@dataclass(frozen=True)
class StepView:
    """One step of a run as reporters show it: `apply wave 4 (config): 3 objects`."""

    step: str  # lock, read-record, prepare, dry-run, review, apply, wait-healthy, prune, tag, ...
    wave: str | None  # the wave's name for per-wave steps
    objects: int | None  # how many objects the step acts on, when it acts on objects
    text: str
