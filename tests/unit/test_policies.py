"""The policies of a run, pure functions of the stages that own them: full deploys, prune guards,
rollback and promotion targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_push import gitrepo
from gitops_push.errors import UsageError
from gitops_push.gitrepo import DeployTag
from gitops_push.stages import gitrange, ownership, pruning
from gitops_push.stages.ownership import Record
from tests.unit import gitutil

BASE = "a" * 40


@pytest.mark.parametrize(
    ("record", "base", "online", "all_objects", "status", "full", "says"),
    [
        (Record(True, BASE), BASE, True, False, False, False, None),  # the usual: the record agrees
        (Record(True, BASE), BASE, True, False, True, True, None),  # drift compares everything
        (Record(True, BASE), BASE, True, True, False, True, "--all"),
        (Record(False), None, True, False, False, True, None),  # a first deploy
        (Record(False), BASE, True, False, False, True, "no record of this environment"),
        (Record(True, "b" * 40), BASE, True, False, False, True, "says bbbbbbbbbbbb was deployed"),
        (Record(False), BASE, False, False, False, False, None),  # offline: Git against Git
        (Record(False), None, False, False, False, True, None),
    ],
)
def test_full_deploy(
    record: Record,
    base: str | None,
    online: bool,
    all_objects: bool,
    status: bool,
    full: bool,
    says: str | None,
) -> None:
    decision = ownership.full_deploy(record, base, online=online, all_objects=all_objects, status=status)
    assert decision.full is full
    if says is None:
        assert decision.why is None
    else:
        assert decision.why is not None and says in decision.why


def test_a_prune_that_empties_the_environment_is_refused_unless_allowed() -> None:
    with pytest.raises(UsageError, match="would leave environment 'prod' with no objects"):
        pruning.refuse_emptying("prod", 3, leaves_nothing=True, allow_empty=False)
    pruning.refuse_emptying("prod", 3, leaves_nothing=True, allow_empty=True)
    pruning.refuse_emptying("prod", 3, leaves_nothing=False, allow_empty=False)
    pruning.refuse_emptying("prod", 0, leaves_nothing=True, allow_empty=False)  # nothing to prune: fine


def test_a_mass_prune_is_refused_past_the_limit() -> None:
    pruning.refuse_mass_prune(50, 50)
    with pytest.raises(UsageError, match="would prune 51 objects, more than --max-prune 50"):
        pruning.refuse_mass_prune(51, 50)


TAGS = [DeployTag(f"deployed/prod/2026010{i}T000000Z", c * 40, 1000 - i) for i, c in enumerate("cba", 1)]


def test_rollback_target_is_the_deploy_before_the_last_or_the_one_named() -> None:
    assert gitrange.rollback_target(TAGS, "prod", None) == TAGS[1]
    assert gitrange.rollback_target(TAGS, "prod", TAGS[2].name) == TAGS[2]
    with pytest.raises(UsageError, match="not a deploy tag"):
        gitrange.rollback_target(TAGS, "prod", "deployed/prod/nope")
    with pytest.raises(UsageError, match="only deploy"):
        gitrange.rollback_target(TAGS[:1], "prod", None)
    with pytest.raises(UsageError, match="no deploys to roll back"):
        gitrange.rollback_target([], "prod", None)


def test_promotion_source_is_the_last_deploy_of_the_source(tmp_path: Path) -> None:
    repo = gitutil.init(tmp_path / "repo")
    first = gitutil.commit(repo, {"a.txt": "1"})
    gitutil.tag(repo, "deployed/staging/20260101T000000Z", date="2026-01-01T00:00:00Z")
    gitutil.commit(repo, {"a.txt": "2"})
    with gitrepo.open_repo(repo) as git:
        assert gitrange.promotion_source(git, "staging", "deployed/staging").commit == first
        with pytest.raises(UsageError, match="no deploy to promote"):
            gitrange.promotion_source(git, "qa", "deployed/qa")
