"""Whose objects a deploy may write. An object that already exists and is not a member of the
environment is an adoption: refused (as a dry-run rejection, exit 4, nothing applied) unless the user
asked for it (--adopt, or `adopt: true` on the environment), and named with its owner: another
environment, another ApplySet, or whoever made it. Fields that our former shared field manager set
are the environment's own: they are handed to its manager when the object is next applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitops_push.cancelling import parallel
from gitops_push.events import Note, ObjectActed, Stage
from gitops_push.model import Action, Manifest, ObjectRef
from gitops_push.pipeline import steps
from gitops_push.pipeline.runner import Context, State
from gitops_push.stages import applying, ownership, planning


@dataclass(frozen=True)
class Ownership:
    adopt: frozenset[ObjectRef] = frozenset()  # existing objects this deploy takes over
    migrate: frozenset[ObjectRef] = frozenset()  # members still carrying the old shared manager
    refused: bool = False
    lives: Mapping[ObjectRef, Mapping[str, Any]] | None = None  # live objects read for the check


def check(context: Context, state: State, outcomes: Mapping[ObjectRef, applying.Outcome]) -> Ownership:
    """Read the existing objects this environment may not own yet, and decide about each."""
    assert state.intent is not None
    if context.mode is steps.Mode.STATUS:
        return Ownership()
    lives = _suspects(context, state, outcomes)
    allowed = context.settings.flags.adopt or context.settings.environment.adopt
    adopt, refused = set(), False
    for manifest, live in lives:
        owner = ownership.owner_of(live, context.environment)
        if owner is None:
            continue
        if allowed:
            adopt.add(manifest.ref)
            context.sink.handle(Note(f"{manifest.ref}: adopted from {owner}", manifest.source))
            continue
        refused = True
        context.sink.handle(
            ObjectActed(
                Stage.DRY_RUN,
                manifest.ref,
                Action.FAILED,
                manifest.source,
                manifest.api_version,
                f"exists and belongs to {owner}: not taken over (--adopt takes it over, with "
                "--force-conflicts where that owner set fields; pruning it later releases it, not deletes it)",
            )
        )
    migrate = {
        ref
        for ref, o in outcomes.items()
        if o.ok and ref not in adopt and (o.inherited or ownership.has_legacy_manager(o.answer))
    }
    return Ownership(frozenset(adopt), frozenset(migrate), refused, {m.ref: live for m, live in lives})


def _suspects(
    context: Context, state: State, outcomes: Mapping[ObjectRef, applying.Outcome]
) -> list[tuple[Manifest, Mapping[str, Any]]]:
    """Objects that exist but that Git did not have for this environment before (new in the range,
    or every object of a full deploy), with their live state: one read each, only for those."""
    assert state.intent is not None
    intent = state.intent

    def exists(ref: ObjectRef) -> bool:
        outcome = outcomes.get(ref)
        if outcome is not None and outcome.conflict:
            return True  # a conflict is with someone's fields on an object that exists: whose is it?
        return bool(
            outcome
            and outcome.ok
            and planning.Observation(outcome.live, outcome.answer, outcome.live_read).exists
        )

    suspects = [
        m
        for m in intent.chosen.to_apply
        if exists(m.ref) and (intent.full or m.ref not in intent.change_set.old)
    ]

    def live_of(manifest: Manifest) -> tuple[Manifest, Mapping[str, Any] | None]:
        outcome = outcomes[manifest.ref]
        if outcome.live_read and outcome.live is not None:
            return manifest, outcome.live
        resource = context.online.resource(manifest.api_version, manifest.ref.kind)
        return manifest, context.online.get(
            resource, manifest.ref.namespace, manifest.ref.name
        ) if resource else None

    found = parallel(live_of, suspects, context.concurrency, context.cancellation)
    return [(manifest, live) for manifest, live in found if live is not None]
