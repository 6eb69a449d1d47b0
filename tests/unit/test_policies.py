"""The policies of a run, pure functions of the stages that own them: full deploys, prune guards,
rollback and promotion targets, which deploy tags count, how many requests are in flight."""

from __future__ import annotations

import datetime

import pytest

from gitops_push.errors import GitStateError, UsageError
from gitops_push.gitrepo import DeployTag
from gitops_push.stages import applying, gitrange, ownership, pruning, recording
from gitops_push.stages.ownership import Record

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
STRAY = DeployTag("deployed/prod/20990101T000000Z", "f" * 40, 4070908800)


def test_rollback_target_is_the_trusted_deploy_before_the_last_or_the_one_named() -> None:
    tags = gitrange.Tags(tuple(TAGS), (gitrange.Ignored(STRAY, "it is dated in the future"),))
    assert gitrange.rollback_target(tags, "prod", None) == TAGS[1]
    assert gitrange.rollback_target(tags, "prod", TAGS[2].name) == TAGS[2]
    with pytest.raises(UsageError, match="not a deploy tag"):
        gitrange.rollback_target(tags, "prod", "deployed/prod/nope")
    with pytest.raises(UsageError, match="it is ignored, as it is dated in the future"):
        gitrange.rollback_target(tags, "prod", STRAY.name)
    with pytest.raises(UsageError, match="only deploy"):
        gitrange.rollback_target(gitrange.Tags(tuple(TAGS[:1])), "prod", None)
    with pytest.raises(UsageError, match="no deploys to roll back"):
        gitrange.rollback_target(gitrange.Tags(), "prod", None)


def test_promotion_source_is_the_last_trusted_deploy_of_the_source() -> None:
    assert gitrange.promotion_source(gitrange.Tags(tuple(TAGS)), "staging", "deployed/staging") == TAGS[0]
    with pytest.raises(UsageError, match="no deploy to promote"):
        gitrange.promotion_source(gitrange.Tags(), "qa", "deployed/qa")


def test_a_promotion_needs_the_source_clusters_record_to_agree_with_its_tag() -> None:
    gitrange.verify_promotion("staging", TAGS[0], TAGS[0].commit)
    with pytest.raises(GitStateError, match="record says it runs commit bbbbbbbbbbbb") as caught:
        gitrange.verify_promotion("staging", TAGS[0], "b" * 40)
    assert caught.value.hint is not None and "deploy staging again" in caught.value.hint
    with pytest.raises(GitStateError, match="says it runs no deployed commit"):
        gitrange.verify_promotion("staging", TAGS[0], None)


@pytest.mark.parametrize(
    ("name", "belongs"),
    [
        ("deployed/a/20261129T124640Z", True),
        ("deployed/a/20261129T124640Z-2", True),  # two deploys in one second
        ("deployed/a/eu/20261129T124640Z", False),  # another environment's prefix
        ("deployed/ab/20261129T124640Z", False),
        ("deployed/a/20261129T124640Z-x", False),
        ("deployed/a/latest", False),
        ("deployed/a/2026-11-29", False),
    ],
)
def test_a_tag_belongs_to_a_prefix_only_in_the_timestamp_form(name: str, belongs: bool) -> None:
    assert gitrange.belongs("deployed/a", name) is belongs


def test_recordings_tag_names_belong_to_their_prefix() -> None:
    moment = datetime.datetime(2026, 11, 29, 12, 46, 40, tzinfo=datetime.UTC)
    assert gitrange.belongs("deployed/a/eu", recording.tag_name("deployed/a/eu", moment))
    assert not gitrange.belongs("deployed/a", recording.tag_name("deployed/a/eu", moment))


def test_trust_keeps_tags_on_the_branch_and_up_to_now_and_says_why_of_the_others() -> None:
    now = 1000.0
    on_branch = DeployTag("deployed/prod/20260101T000000Z", "a" * 40, 900)
    skewed = DeployTag("deployed/prod/20260101T000001Z", "a" * 40, int(now) + gitrange.CLOCK_SKEW)
    future = DeployTag("deployed/prod/20260101T000002Z", "a" * 40, int(now) + gitrange.CLOCK_SKEW + 1)
    unmerged = DeployTag("deployed/prod/20260101T000003Z", "b" * 40, 800)
    absent = DeployTag("deployed/prod/20260101T000004Z", "c" * 40, 700)
    tags = [future, skewed, on_branch, unmerged, absent]

    trusted, ignored = gitrange.trust(
        tags, now=now, present={"a" * 40, "b" * 40}, on_branch={"a" * 40}, branch="main"
    )

    assert trusted == (skewed, on_branch)
    assert [(i.tag, i.reason) for i in ignored] == [
        (future, "it is dated in the future (1970-01-01T00:21:41Z)"),
        (unmerged, "its commit bbbbbbbbbbbb is not on branch main"),
        (absent, "its commit cccccccccccc is not in this clone"),
    ]


@pytest.mark.parametrize(
    ("round_trip", "cap", "workers"),
    [
        (None, None, 16),  # nothing measured yet
        (0.0002, None, 17),  # loopback: the server, not the network, is the limit
        (0.005, None, 21),
        (0.020, None, 36),  # 20 more requests keep 1,000 a second flowing over 20 ms
        (0.050, None, 64),
        (0.5, None, 64),  # bounded: one client's share of a server
        (0.050, 3, 3),  # --concurrency is the user's choice, whatever the distance
        (0.0, 40, 40),
    ],
)
def test_requests_in_flight_grow_with_the_round_trip_unless_the_user_chose(
    round_trip: float | None, cap: int | None, workers: int
) -> None:
    assert applying.in_flight(round_trip, cap) == workers
