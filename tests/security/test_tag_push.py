"""Issue 14.9: a tag push refused for lack of rights is not "another deploy may have tagged first".

Real bare repositories play the remote: one already holding the tag (the race, exit 5), one whose
receive-pack finds the tag created by a concurrent push (the race too), one whose pre-receive hook
refuses tags as a protected-tags rule does (exit 1), and one that does not exist (exit 1).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from gitops_push.errors import GitopsPushError, TagPushRefused, TagRace
from gitops_push.gitrepo import open_repo
from gitops_push.model import Plan, Range
from gitops_push.stages import recording
from tests.unit import gitutil

NOW = datetime.datetime(2024, 3, 9, 14, 5, 7, tzinfo=datetime.UTC)
TAG = "deployed/prod/20240309T140507Z"


def hook(remote: Path, name: str, script: str) -> None:
    path = remote / "hooks" / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


@pytest.fixture
def clone(tmp_path: Path) -> tuple[Path, Path, str]:
    """A work tree with `origin` (a bare repository holding main) and a new commit to tag."""
    remote = tmp_path / "remote.git"
    gitutil.git(tmp_path, "init", "-q", "--bare", str(remote))
    work = gitutil.init(tmp_path / "work")
    gitutil.git(work, "remote", "add", "origin", str(remote))
    gitutil.commit(work, {"k8s/a.yaml": "a: 1\n"})
    gitutil.git(work, "push", "-q", "origin", "main")
    head = gitutil.commit(work, {"k8s/a.yaml": "a: 2\n"})
    return work, remote, head


def record(work: Path, head: str) -> tuple[str, bool]:
    plan = Plan(range=Range(base=None, head=head), apply_waves=(), prune_waves=())
    return recording.record(
        open_repo(work), prefix="deployed/prod", environment="prod", plan=plan, push=True, now=lambda: NOW
    )


def refused(work: Path, head: str) -> GitopsPushError:
    with pytest.raises(GitopsPushError) as caught:
        record(work, head)
    assert gitutil.git(work, "tag", "--list") == "", "the local tag must go with the refused push"
    return caught.value


def test_a_tag_already_on_the_remote_is_a_race(clone: tuple[Path, Path, str]) -> None:
    work, remote, head = clone
    gitutil.git(remote, "tag", TAG, "main")  # another deploy, same second, another commit
    error = refused(work, head)
    assert isinstance(error, TagRace) and int(error.exit_code) == 5
    assert "another deploy tagged first" in error.message


def test_a_tag_created_by_a_concurrent_push_is_a_race(clone: tuple[Path, Path, str]) -> None:
    """The other push lands while ours is received: the ref cannot be created any more."""
    work, remote, head = clone
    hook(remote, "update", 'git update-ref "$1" "$(git rev-parse refs/heads/main)"\n')
    error = refused(work, head)
    assert isinstance(error, TagRace), error.message
    assert "reference already exists" in error.message


def test_a_protected_tag_refused_by_a_hook_is_not_a_race(clone: tuple[Path, Path, str]) -> None:
    work, remote, head = clone
    hook(
        remote,
        "pre-receive",
        'echo "You are not allowed to create this tag as it is protected." >&2\nexit 1\n',
    )
    error = refused(work, head)
    assert isinstance(error, TagPushRefused) and int(error.exit_code) == 1
    assert "another deploy" not in error.message + str(error.hint)
    assert "not allowed to create this tag" in error.message  # Git's reason is kept
    assert error.hint and "right to create tags" in error.hint


def test_an_unreachable_remote_is_not_a_race(clone: tuple[Path, Path, str], tmp_path: Path) -> None:
    work, _, head = clone
    gitutil.git(work, "remote", "set-url", "origin", f"file://user:s3cr3t-token@localhost{tmp_path}/gone.git")
    error = refused(work, head)
    assert isinstance(error, TagPushRefused), error.message
    assert "s3cr3t-token" not in error.message
