"""gitrepo and gitrange against real repositories: deploy tags, the commit range, changed files, tagging."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_push.errors import GitStateError, UsageError
from gitops_push.gitrepo import FileDiff, GitFile, GitRepo, open_repo
from gitops_push.gitrepo import repo as repo_module
from gitops_push.model import Range
from gitops_push.stages import gitrange
from tests.unit import gitutil

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: {value}\n"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return gitutil.init(tmp_path / "repo")


def blob(workdir: Path, rev: str, path: str) -> str:
    return gitutil.git(workdir, "rev-parse", f"{rev}:{path}")


@pytest.fixture(autouse=True)
def repositories_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every repository a test opens is closed after it: GitPython's long-lived cat-file processes
    would otherwise be collected during a later test, which fails on their ResourceWarnings."""
    opened: list[GitRepo] = []
    really_open = open_repo

    def tracked(directory: Path) -> GitRepo:
        repo = really_open(directory)
        opened.append(repo)
        return repo

    monkeypatch.setitem(globals(), "open_repo", tracked)
    yield
    for repo in opened:
        repo.close()


# --- open_repo, resolve --------------------------------------------------------------------------


def test_open_repo_finds_the_root_from_a_subfolder(workdir: Path) -> None:
    gitutil.commit(workdir, {"k8s/a.yaml": CM.format(name="a", value=1)})
    repo = open_repo(workdir / "k8s")
    assert repo.root == workdir


def test_open_repo_outside_git_is_a_git_state_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitStateError) as caught:
        open_repo(plain)
    assert "is not inside a Git repository" in caught.value.message


def test_open_repo_of_a_bare_repository_is_a_git_state_error(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    gitutil.git(tmp_path, "init", "-q", "--bare", str(bare))
    with pytest.raises(GitStateError) as caught:
        open_repo(bare)
    assert "bare repository" in caught.value.message


def test_without_git_on_the_machine_the_error_says_so(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    monkeypatch.setenv("GIT_PYTHON_GIT_EXECUTABLE", str(workdir / "no-such-git"))
    with pytest.raises(GitStateError) as caught:
        open_repo(workdir)
    assert caught.value.message.startswith("cannot run git: ") and "install Git" in (caught.value.hint or "")


def test_a_repository_git_refuses_to_read_is_an_error_in_git_s_words(workdir: Path) -> None:
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    gitutil.git(workdir, "config", "core.repositoryformatversion", "99")  # from a Git of the future
    with pytest.raises(GitStateError) as caught:
        open_repo(workdir)
    assert caught.value.message.startswith(f"cannot read the Git repository at {workdir}: fatal: Expected")


def test_only_history_imports_gitpython(workdir: Path) -> None:
    """Importing GitPython takes about 55 ms: a plan or a deploy (reading, tagging) runs without it,
    `history` imports it to read commits."""
    gitutil.commit(workdir, {"k8s/a.yaml": CM.format(name="a", value=1)})
    script = """
import sys
from pathlib import Path
from gitops_push.gitrepo import open_repo
from gitops_push.stages import gitrange
repo = open_repo(Path(sys.argv[1]) / "k8s")
head = repo.resolve("HEAD")
repo.read_blobs([f.blob for f in repo.tree_files(head, ["k8s"])])
repo.entries(head, ["k8s", "k8s/a.yaml"])
gitrange.read_tags(repo, "deploy/prod", None)
repo.file_at(head, "k8s/a.yaml")
print("git" in sys.modules)
repo.create_tag("deploy/prod/1", head, "deployed")
print("git" in sys.modules)
repo.commit_subject(head)
print("git" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script, str(workdir)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert result.stdout.split() == ["False", "False", "True"]


def test_resolve_gives_the_commit_of_a_branch_or_tag(workdir: Path) -> None:
    sha = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    gitutil.tag(workdir, "v1")
    repo = open_repo(workdir)
    assert repo.resolve("HEAD") == sha
    assert repo.resolve("main") == sha
    assert repo.resolve("v1") == sha  # the annotated tag is peeled to its commit


def test_resolve_of_an_unknown_revision_is_a_git_state_error(workdir: Path) -> None:
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    with pytest.raises(GitStateError) as caught:
        open_repo(workdir).resolve("no-such-branch")
    assert caught.value.message == "cannot resolve 'no-such-branch' to a commit"


def test_resolve_refuses_an_option_disguised_as_a_revision(workdir: Path) -> None:
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    with pytest.raises(GitStateError):
        open_repo(workdir).resolve("--all")


# --- deploy tags -----------------------------------------------------------------------------------


def test_deploy_tags_are_newest_first_by_tag_date_not_by_name(workdir: Path) -> None:
    first = gitutil.commit(workdir, {"a.yaml": "a: 1\n"}, date="2024-01-01T10:00:00Z")
    second = gitutil.commit(workdir, {"a.yaml": "a: 2\n"}, date="2024-01-02T10:00:00Z")
    # Names that sort the other way round from the dates: the date must win.
    gitutil.tag(workdir, "deployed/prod/b-newest", first, date="2024-03-01T00:00:00Z")
    gitutil.tag(workdir, "deployed/prod/c-middle", second, date="2024-02-01T00:00:00Z")
    gitutil.tag(workdir, "deployed/prod/d-oldest", second, date="2024-01-15T00:00:00Z")
    tags = open_repo(workdir).deploy_tags("deployed/prod")
    assert [(t.name, t.commit) for t in tags] == [
        ("deployed/prod/b-newest", first),
        ("deployed/prod/c-middle", second),
        ("deployed/prod/d-oldest", second),
    ]
    assert [t.timestamp for t in tags] == [1709251200, 1706745600, 1705276800]


def test_deploy_tags_with_the_same_date_are_ordered_by_name_newest_first(workdir: Path) -> None:
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    for name in ("20240101T000000Z", "20240101T000000Z-2", "20240101T000000Z-1"):
        gitutil.tag(workdir, f"deployed/prod/{name}", date="2024-01-01T00:00:00Z")
    names = [t.name for t in open_repo(workdir).deploy_tags("deployed/prod")]
    assert names == [
        "deployed/prod/20240101T000000Z-2",
        "deployed/prod/20240101T000000Z-1",
        "deployed/prod/20240101T000000Z",
    ]


def test_deploy_tags_only_match_the_prefix_as_a_folder(workdir: Path) -> None:
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    gitutil.tag(workdir, "deployed/prod/1")
    gitutil.tag(workdir, "deployed/production/1")
    gitutil.tag(workdir, "deployed/prod-eu/1")
    gitutil.tag(workdir, "other/prod/1")
    assert [t.name for t in open_repo(workdir).deploy_tags("deployed/prod")] == ["deployed/prod/1"]


def test_a_lightweight_deploy_tag_points_to_its_commit(workdir: Path) -> None:
    sha = gitutil.commit(workdir, {"a.yaml": "a: 1\n"}, date="2024-05-05T05:05:05Z")
    gitutil.git(workdir, "tag", "deployed/prod/light")
    tags = open_repo(workdir).deploy_tags("deployed/prod")
    assert [(t.name, t.commit, t.timestamp) for t in tags] == [("deployed/prod/light", sha, 1714885505)]


def test_a_long_history_of_tags_is_peeled_to_each_tags_own_commit(workdir: Path) -> None:
    # Many annotated tags among lightweight ones, read in one call: every tag keeps its own commit.
    commits = [gitutil.commit(workdir, {"a.yaml": f"a: {n}\n"}) for n in range(3)]
    expected = {}
    for number in range(60):
        name, commit = f"deployed/prod/{number:04d}", commits[number % 3]
        if number % 7 == 0:
            gitutil.git(workdir, "tag", name, commit)
        else:
            gitutil.tag(workdir, name, commit)
        expected[name] = commit
    tags = open_repo(workdir).deploy_tags("deployed/prod")
    assert {t.name: t.commit for t in tags} == expected


def test_the_oldest_commit_time_of_many_commits_is_read_at_once(workdir: Path) -> None:
    dates = ["2024-03-01T00:00:00Z", "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"]
    shas = [gitutil.commit(workdir, {"a.yaml": f"a: {n}\n"}, date=date) for n, date in enumerate(dates)]
    repo = open_repo(workdir)
    assert repo.oldest_commit_time(shas) == 1704067200  # 2024-01-01, the second commit's
    assert repo.oldest_commit_time([shas[0], shas[2]]) == 1706745600


def test_no_deploy_tags_is_an_empty_list(workdir: Path) -> None:
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    assert open_repo(workdir).deploy_tags("deployed/prod") == []


# --- find_range and the trusted tags -----------------------------------------------------------------


def find_range(repo: GitRepo, prefix: str, to: str, from_rev: str | None = None) -> Range:
    return gitrange.find_range(repo, gitrange.read_tags(repo, prefix, None), to, from_rev)


def test_find_range_without_tags_has_no_base(workdir: Path) -> None:
    head = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    repo = open_repo(workdir)
    assert find_range(repo, "deployed/prod", "HEAD") == Range(base=None, head=head, base_tag=None)
    assert gitrange.read_tags(repo, "deployed/prod", None) == gitrange.Tags()


def test_find_range_starts_at_the_newest_deploy_tag(workdir: Path) -> None:
    first = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    gitutil.tag(workdir, "deployed/prod/20240101T000000Z", date="2024-01-01T00:00:00Z")
    second = gitutil.commit(workdir, {"a.yaml": "a: 2\n"})
    gitutil.tag(workdir, "deployed/prod/20240102T000000Z", date="2024-01-02T00:00:00Z")
    gitutil.tag(workdir, "deployed/staging/20240103T000000Z", first, date="2024-01-03T00:00:00Z")
    head = gitutil.commit(workdir, {"a.yaml": "a: 3\n"})
    repo = open_repo(workdir)
    assert find_range(repo, "deployed/prod", "HEAD") == Range(
        base=second, head=head, base_tag="deployed/prod/20240102T000000Z"
    )
    assert find_range(repo, "deployed/staging", "HEAD") == Range(
        base=first, head=head, base_tag="deployed/staging/20240103T000000Z"
    )


def test_find_range_to_an_older_revision(workdir: Path) -> None:
    first = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    gitutil.commit(workdir, {"a.yaml": "a: 2\n"})
    range_ = find_range(open_repo(workdir), "deployed/prod", "HEAD~1")
    assert range_ == Range(base=None, head=first)


def test_find_range_from_a_revision_ignores_the_tags(workdir: Path) -> None:
    first = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    gitutil.commit(workdir, {"a.yaml": "a: 2\n"})
    gitutil.tag(workdir, "deployed/prod/20240101T000000Z")
    head = gitutil.commit(workdir, {"a.yaml": "a: 3\n"})
    range_ = find_range(open_repo(workdir), "deployed/prod", "HEAD", from_rev=first)
    assert range_ == Range(base=first, head=head, base_tag=None)


def test_find_range_with_an_unknown_target_is_a_git_state_error(workdir: Path) -> None:
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    with pytest.raises(GitStateError):
        find_range(open_repo(workdir), "deployed/prod", "nope")


def test_a_deploy_tag_whose_commit_is_missing_is_ignored_with_the_reason(workdir: Path) -> None:
    """As in a clone that has the tag object but not the deployed commit: nothing shows it is on the
    branch, so it does not count."""
    head = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    missing = "1234567890abcdef1234567890abcdef12345678"
    tag_object = (
        f"object {missing}\ntype commit\ntag deployed/prod/20240101T000000Z\n"
        "tagger Test Committer <committer@example.test> 1704067200 +0000\n\ndeployed\n"
    )
    sha = gitutil.git(workdir, "hash-object", "-t", "tag", "-w", "--literally", "--stdin", stdin=tag_object)
    gitutil.git(workdir, "update-ref", "refs/tags/deployed/prod/20240101T000000Z", sha)
    tags = gitrange.read_tags(open_repo(workdir), "deployed/prod", None)
    assert tags.trusted == ()
    assert tags.notes == (
        f"ignored deploy tag deployed/prod/20240101T000000Z: its commit {missing[:12]} is not in this clone",
    )
    assert gitrange.find_range(open_repo(workdir), tags, "HEAD") == Range(base=None, head=head)


def test_only_tags_on_the_branch_dated_up_to_now_count(workdir: Path) -> None:
    merged = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    gitutil.tag(workdir, "deployed/prod/20240101T000000Z", date="2024-01-01T00:00:00Z")
    gitutil.git(workdir, "checkout", "-q", "-b", "feature")
    unmerged = gitutil.commit(workdir, {"a.yaml": "a: 2\n"})
    gitutil.tag(workdir, "deployed/prod/20240102T000000Z", date="2024-01-02T00:00:00Z")
    gitutil.tag(workdir, "deployed/prod/20990101T000000Z", merged, date="2099-01-01T00:00:00Z")
    gitutil.tag(workdir, "deployed/prod/eu/20240103T000000Z", merged, date="2024-01-03T00:00:00Z")
    gitutil.git(workdir, "checkout", "-q", "main")

    tags = gitrange.read_tags(open_repo(workdir), "deployed/prod", None)

    assert [t.name for t in tags.trusted] == ["deployed/prod/20240101T000000Z"]
    assert tags.notes == (
        "ignored deploy tag deployed/prod/20990101T000000Z: it is dated in the future (2099-01-01T00:00:00Z)",
        f"ignored deploy tag deployed/prod/20240102T000000Z: its commit {unmerged[:12]} is not on branch main",
    )


def test_the_configured_branch_decides_which_tags_count(workdir: Path) -> None:
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    gitutil.git(workdir, "checkout", "-q", "-b", "release")
    released = gitutil.commit(workdir, {"a.yaml": "a: 2\n"})
    gitutil.tag(workdir, "deployed/prod/20240102T000000Z", date="2024-01-02T00:00:00Z")
    gitutil.git(workdir, "checkout", "-q", "main")
    repo = open_repo(workdir)
    assert gitrange.read_tags(repo, "deployed/prod", None).trusted == ()
    trusted = gitrange.read_tags(repo, "deployed/prod", "release").trusted
    assert [t.commit for t in trusted] == [released]


def test_tags_count_only_on_the_remotes_branch_not_a_local_one(workdir: Path, tmp_path: Path) -> None:
    """A commit on the local main but never pushed (merged) is not on the environment's branch."""
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    origin = tmp_path / "origin.git"
    gitutil.git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    gitutil.git(workdir, "remote", "add", "origin", str(origin))
    gitutil.git(workdir, "push", "-q", "origin", "main")
    local = gitutil.commit(workdir, {"a.yaml": "a: 2\n"})
    gitutil.tag(workdir, "deployed/prod/20240102T000000Z", date="2024-01-02T00:00:00Z")
    gitutil.git(workdir, "push", "-q", "origin", "refs/tags/deployed/prod/20240102T000000Z")

    tags = gitrange.read_tags(open_repo(workdir), "deployed/prod", None)

    assert tags.trusted == ()
    assert tags.notes == (
        f"ignored deploy tag deployed/prod/20240102T000000Z: its commit {local[:12]} is not on branch main",
    )


def _dated_origin(workdir: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An origin whose main has commits days apart, two of them deployed, and a tag on a commit
    pushed but never merged, newer than both."""
    shas = {}
    for name, day in (("c1", "01"), ("c2", "05"), ("c3", "10"), ("c4", "20"), ("c5", "25")):
        shas[name] = gitutil.commit(workdir, {"a.yaml": f"a: {day}\n"}, date=f"2024-01-{day}T00:00:00Z")
    gitutil.tag(workdir, "deployed/prod/20240105T000000Z", shas["c2"], date="2024-01-05T00:00:00Z")
    gitutil.tag(workdir, "deployed/prod/20240120T000000Z", shas["c4"], date="2024-01-20T00:00:00Z")
    gitutil.git(workdir, "checkout", "-q", "-b", "feature")
    shas["feature"] = gitutil.commit(workdir, {"a.yaml": "a: f\n"}, date="2024-01-26T00:00:00Z")
    gitutil.tag(workdir, "deployed/prod/20240126T000000Z", date="2024-01-26T00:00:00Z")
    gitutil.git(workdir, "checkout", "-q", "main")
    origin = tmp_path / "origin.git"
    gitutil.git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    gitutil.git(workdir, "remote", "add", "origin", str(origin))
    gitutil.git(workdir, "push", "-q", "origin", "main", "feature", "--tags")
    return origin, shas


def _shallow_clone(origin: Path, target: Path) -> GitRepo:
    gitutil.git(origin.parent, "clone", "-q", "--depth", "1", f"file://{origin}", str(target))
    return open_repo(target)


def test_a_shallow_clone_fetches_history_only_as_far_back_as_the_tags_it_needs(
    workdir: Path, tmp_path: Path
) -> None:
    origin, shas = _dated_origin(workdir, tmp_path)

    clone = _shallow_clone(origin, tmp_path / "ci")
    tags = gitrange.read_tags(clone, "deployed/prod", None, wanted=1)

    # The newest tag's commit is not on main, so the next one was needed too; nothing older.
    assert [t.name for t in tags.trusted] == ["deployed/prod/20240120T000000Z"]
    assert tags.notes == (
        f"ignored deploy tag deployed/prod/20240126T000000Z: its commit {shas['feature'][:12]} "
        "is not on branch main",
    )
    assert clone.present([shas["c4"], shas["c5"]]) == {shas["c4"], shas["c5"]}
    assert clone.present([shas["c1"], shas["c3"]]) == set()  # history from a day before c4 only


def test_a_shallow_clone_asked_for_every_tag_fetches_the_history_they_need(
    workdir: Path, tmp_path: Path
) -> None:
    origin, shas = _dated_origin(workdir, tmp_path)

    clone = _shallow_clone(origin, tmp_path / "ci")
    tags = gitrange.read_tags(clone, "deployed/prod", None)

    assert [t.name for t in tags.trusted] == [
        "deployed/prod/20240120T000000Z",
        "deployed/prod/20240105T000000Z",
    ]
    assert len(tags.ignored) == 1
    assert shas["c3"] in clone.present([shas["c3"]])


def test_a_full_clone_checks_every_tag_whatever_is_wanted(workdir: Path, tmp_path: Path) -> None:
    origin, _ = _dated_origin(workdir, tmp_path)
    gitutil.git(tmp_path, "clone", "-q", f"file://{origin}", str(tmp_path / "full"))
    tags = gitrange.read_tags(open_repo(tmp_path / "full"), "deployed/prod", None, wanted=1)
    assert len(tags.trusted) == 2 and len(tags.ignored) == 1


def test_default_branch_comes_from_the_remote_when_the_clone_lacks_origin_head(
    workdir: Path, tmp_path: Path
) -> None:
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    origin = tmp_path / "origin.git"
    gitutil.git(tmp_path, "init", "-q", "--bare", "-b", "trunk", str(origin))
    gitutil.git(workdir, "remote", "add", "origin", str(origin))
    gitutil.git(workdir, "push", "-q", "origin", "main:trunk")
    repo = open_repo(workdir)
    assert not repo.has_ref("refs/remotes/origin/HEAD")
    assert repo.default_branch("origin") == "trunk"
    gitutil.git(workdir, "remote", "set-head", "origin", "--auto")
    assert repo.has_ref("refs/remotes/origin/HEAD")
    assert repo.default_branch("origin") == "trunk"


def test_a_revision_is_resolved_again_after_a_fetch(workdir: Path, tmp_path: Path) -> None:
    first = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    origin = tmp_path / "origin.git"
    gitutil.git(tmp_path, "init", "-q", "--bare", str(origin))
    gitutil.git(workdir, "remote", "add", "origin", str(origin))
    gitutil.git(workdir, "push", "-q", "origin", "main")
    repo = open_repo(workdir)
    assert repo.resolve(repo.fetch_branch("origin", "main", since=0)) == first
    second = gitutil.commit(workdir, {"a.yaml": "a: 2\n"})
    gitutil.git(workdir, "push", "-q", "origin", "main")  # (moves refs/remotes/origin/main too)
    assert repo.resolve("refs/remotes/origin/main") == first  # kept for the run, until it fetches
    assert repo.resolve(repo.fetch_branch("origin", "main", since=0)) == second


def test_without_a_known_branch_the_fallback_is_said(workdir: Path) -> None:
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    gitutil.tag(workdir, "deployed/prod/20240101T000000Z", date="2024-01-01T00:00:00Z")
    gitutil.git(workdir, "checkout", "-q", "--detach")
    tags = gitrange.read_tags(open_repo(workdir), "deployed/prod", None)
    assert len(tags.trusted) == 1
    assert tags.notes == (
        "no default branch known: deploy tags count only if their commit is on main; "
        "set `branch:` for the environment in gitops-push.yaml",
    )


# --- changed_files, tree_files, blobs ------------------------------------------------------------------


def test_changed_files_are_the_manifests_under_the_paths_that_differ(workdir: Path) -> None:
    base = gitutil.commit(
        workdir,
        {
            "k8s/keep.yaml": CM.format(name="keep", value=1),
            "k8s/edit.yml": CM.format(name="edit", value=1),
            "k8s/gone.json": '{"a": 1}',
            "k8s/README.md": "old",
            "other/x.yaml": CM.format(name="x", value=1),
            "k8s-extra/y.yaml": CM.format(name="y", value=1),
        },
    )
    head = gitutil.commit(
        workdir,
        {
            "k8s/edit.yml": CM.format(name="edit", value=2),
            "k8s/gone.json": None,
            "k8s/new/deep.yaml": CM.format(name="deep", value=1),
            "k8s/README.md": "new",
            "k8s/script.sh": "echo",
            "other/x.yaml": CM.format(name="x", value=2),
            "k8s-extra/y.yaml": CM.format(name="y", value=2),
            "k8s.yaml": CM.format(name="z", value=1),
        },
    )
    diffs = open_repo(workdir).changed_files(base, head, ["k8s"])
    assert diffs == [
        FileDiff(
            "k8s/edit.yml",
            GitFile("k8s/edit.yml", blob(workdir, base, "k8s/edit.yml")),
            GitFile("k8s/edit.yml", blob(workdir, head, "k8s/edit.yml")),
        ),
        FileDiff("k8s/gone.json", GitFile("k8s/gone.json", blob(workdir, base, "k8s/gone.json")), None),
        FileDiff(
            "k8s/new/deep.yaml", None, GitFile("k8s/new/deep.yaml", blob(workdir, head, "k8s/new/deep.yaml"))
        ),
    ]


def test_changed_files_with_several_paths_and_the_root(workdir: Path) -> None:
    base = gitutil.commit(workdir, {"a/x.yaml": "a: 1\n", "b/y.yaml": "b: 1\n", "c/z.yaml": "c: 1\n"})
    head = gitutil.commit(workdir, {"a/x.yaml": "a: 2\n", "b/y.yaml": "b: 2\n", "c/z.yaml": "c: 2\n"})
    repo = open_repo(workdir)
    assert [d.path for d in repo.changed_files(base, head, ["a", "c/z.yaml"])] == ["a/x.yaml", "c/z.yaml"]
    assert [d.path for d in repo.changed_files(base, head, [""])] == ["a/x.yaml", "b/y.yaml", "c/z.yaml"]


def test_changed_files_treats_a_path_with_glob_characters_literally(workdir: Path) -> None:
    base = gitutil.commit(workdir, {"k8s/[ab]/x.yaml": "a: 1\n", "k8s/a/y.yaml": "b: 1\n"})
    head = gitutil.commit(workdir, {"k8s/[ab]/x.yaml": "a: 2\n", "k8s/a/y.yaml": "b: 2\n"})
    assert [d.path for d in open_repo(workdir).changed_files(base, head, ["k8s/[ab]"])] == ["k8s/[ab]/x.yaml"]


def test_a_renamed_file_is_a_deletion_and_an_addition(workdir: Path) -> None:
    base = gitutil.commit(workdir, {"k8s/old.yaml": CM.format(name="a", value=1)})
    gitutil.git(workdir, "mv", "k8s/old.yaml", "k8s/new.yaml")
    head = gitutil.commit(workdir, {})
    diffs = open_repo(workdir).changed_files(base, head, ["k8s"])
    assert [(d.path, d.old is not None, d.new is not None) for d in diffs] == [
        ("k8s/new.yaml", False, True),
        ("k8s/old.yaml", True, False),
    ]


def test_changed_files_mark_symlinks(workdir: Path) -> None:
    base = gitutil.commit(workdir, {"k8s/a.yaml": "a: 1\n"})
    head = gitutil.commit(workdir, {"k8s/link.yaml": gitutil.Symlink("a.yaml")})
    [diff] = open_repo(workdir).changed_files(base, head, ["k8s"])
    assert diff.path == "k8s/link.yaml"
    assert diff.new is not None
    assert diff.new.symlink


def test_tree_files_list_the_manifests_under_the_paths(workdir: Path) -> None:
    head = gitutil.commit(
        workdir,
        {
            "k8s/a.yaml": "a: 1\n",
            "k8s/sub/b.json": "{}",
            "k8s/notes.txt": "x",
            "k8s-extra/c.yaml": "c: 1\n",
            "k8s/link.yml": gitutil.Symlink("a.yaml"),
        },
    )
    files = open_repo(workdir).tree_files(head, ["k8s"])
    assert [(f.path, f.symlink) for f in files] == [
        ("k8s/a.yaml", False),
        ("k8s/link.yml", True),
        ("k8s/sub/b.json", False),
    ]


def test_read_blob_gives_the_bytes_of_the_commit_not_of_the_work_tree(workdir: Path) -> None:
    gitutil.commit(workdir, {"k8s/a.yaml": "a: 1\n"})
    (workdir / "k8s/a.yaml").write_text("a: dirty\n", encoding="utf-8")
    repo = open_repo(workdir)
    [file] = repo.tree_files("HEAD", ["k8s"])
    assert repo.read_blob(file.blob) == b"a: 1\n"


def test_dirty_paths_list_uncommitted_changes_under_the_paths(workdir: Path) -> None:
    gitutil.commit(workdir, {"k8s/a.yaml": "a: 1\n", "other/b.yaml": "b: 1\n"})
    gitutil.write(workdir, {"k8s/a.yaml": "a: 2\n", "k8s/new.yaml": "n: 1\n", "other/b.yaml": "b: 2\n"})
    assert sorted(open_repo(workdir).dirty_paths(["k8s"])) == ["k8s/a.yaml", "k8s/new.yaml"]


def test_dirty_paths_of_a_staged_rename_are_real_paths(workdir: Path) -> None:
    """`git status --porcelain -z` gives a rename's old path as a separate NUL-terminated field."""
    gitutil.commit(workdir, {"k8s/app.yaml": CM.format(name="app", value=1)})
    gitutil.git(workdir, "mv", "k8s/app.yaml", "k8s/web.yaml")
    dirty = open_repo(workdir).dirty_paths(["k8s"])
    assert "k8s/web.yaml" in dirty
    assert set(dirty) <= {"k8s/web.yaml", "k8s/app.yaml"}


# --- tags: create, message, push ----------------------------------------------------------------


def test_create_tag_makes_an_annotated_tag_whose_message_round_trips(workdir: Path) -> None:
    sha = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    repo = open_repo(workdir)
    message = 'gitops-push: deployed abc to prod\n\n{\n  "environment": "prod",\n  "to": "abc"\n}\n'
    name = repo.create_tag("deployed/prod/20240101T000000Z", sha, message)
    assert name == "deployed/prod/20240101T000000Z"
    assert gitutil.git(workdir, "cat-file", "-t", name) == "tag"
    assert repo.tag_message(name).rstrip("\n") == message.rstrip("\n")
    assert [t.commit for t in repo.deploy_tags("deployed/prod")] == [sha]


def test_create_tag_adds_a_suffix_when_the_name_is_taken(workdir: Path) -> None:
    sha = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    repo = open_repo(workdir)
    names = [repo.create_tag("deployed/prod/20240101T000000Z", sha, f"deploy {n}") for n in range(3)]
    assert names == [
        "deployed/prod/20240101T000000Z",
        "deployed/prod/20240101T000000Z-1",
        "deployed/prod/20240101T000000Z-2",
    ]
    assert repo.tag_message(names[2]).strip() == "deploy 2"
    assert repo.tag_message(names[0]).strip() == "deploy 0"


def test_tag_message_of_a_missing_tag_is_empty(workdir: Path) -> None:
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    assert open_repo(workdir).tag_message("deployed/prod/none") == ""


def test_create_tag_without_a_git_identity_uses_the_default_tagger(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    monkeypatch.delenv("GIT_COMMITTER_NAME")
    monkeypatch.delenv("GIT_COMMITTER_EMAIL")
    repo = open_repo(workdir)
    name = repo.create_tag("deployed/prod/x", sha, "deployed")
    tagger = gitutil.git(
        workdir, "for-each-ref", "--format=%(taggername) %(taggeremail)", f"refs/tags/{name}"
    )
    assert tagger == "gitops-push <gitops-push@localhost>"
    assert "GIT_COMMITTER_NAME" not in os.environ
    assert "GIT_COMMITTER_EMAIL" not in os.environ


def test_create_tag_keeps_the_configured_identity(workdir: Path) -> None:
    sha = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    name = open_repo(workdir).create_tag("deployed/prod/x", sha, "deployed")
    tagger = gitutil.git(workdir, "for-each-ref", "--format=%(taggername)", f"refs/tags/{name}")
    assert tagger == "Test Committer"


def test_delete_tag(workdir: Path) -> None:
    sha = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    repo = open_repo(workdir)
    repo.create_tag("deployed/prod/x", sha, "m")
    repo.delete_tag("deployed/prod/x")
    assert repo.deploy_tags("deployed/prod") == []


def test_remote_prefers_origin_and_is_none_without_remotes(workdir: Path, tmp_path: Path) -> None:
    gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    repo = open_repo(workdir)
    assert repo.remote() is None
    gitutil.git(workdir, "remote", "add", "backup", str(tmp_path / "backup.git"))
    assert open_repo(workdir).remote() == "backup"
    gitutil.git(workdir, "remote", "add", "origin", str(tmp_path / "origin.git"))
    assert open_repo(workdir).remote() == "origin"


def test_commit_subject_and_ancestry(workdir: Path) -> None:
    first = gitutil.commit(workdir, {"a.yaml": "a: 1\n"}, message="first change\n\nbody")
    second = gitutil.commit(workdir, {"a.yaml": "a: 2\n"}, message="second")
    repo: GitRepo = open_repo(workdir)
    assert repo.commit_subject(first) == "first change"
    assert repo.merge_bases(first, second) == repo.merge_bases(second, first) == {first}
    assert repo.has_commit(first)
    assert not repo.has_commit("1234567890abcdef1234567890abcdef12345678")


def test_a_deploy_that_moves_back_or_drops_commits_is_refused_unless_asked_for(workdir: Path) -> None:
    first = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    second = gitutil.commit(workdir, {"a.yaml": "a: 2\n"})
    gitutil.git(workdir, "checkout", "-q", "-b", "rewritten", first)
    beside = gitutil.commit(workdir, {"a.yaml": "a: 3\n"})
    repo = open_repo(workdir)

    def refuse(base: str, head: str, *, allow_older: bool = False, force: bool = False) -> None:
        gitrange.refuse_stale(repo, Range(base, head, "deployed/x"), allow_older=allow_older, force=force)

    refuse(first, second)  # forward: fine
    with pytest.raises(UsageError, match="older than the last deployed commit"):
        refuse(second, first)
    refuse(second, first, allow_older=True)
    with pytest.raises(GitStateError, match="does not descend from the last deployed commit"):
        refuse(second, beside)
    refuse(second, beside, force=True)


def test_merge_bases_of_diverged_and_unrelated_commits(workdir: Path) -> None:
    first = gitutil.commit(workdir, {"a.yaml": "a: 1\n"})
    second = gitutil.commit(workdir, {"a.yaml": "a: 2\n"})
    gitutil.git(workdir, "checkout", "-q", "-b", "rewritten", first)
    beside = gitutil.commit(workdir, {"a.yaml": "a: 3\n"})
    gitutil.git(workdir, "checkout", "-q", "--orphan", "unrelated")
    alone = gitutil.commit(workdir, {"b.yaml": "b: 1\n"})
    repo = open_repo(workdir)
    assert repo.merge_bases(second, beside) == {first}  # neither is the other's ancestor
    assert repo.merge_bases(second, alone) == set()
    assert repo.merge_bases(second, "1234567890abcdef1234567890abcdef12345678") == set()


def test_tree_files_treat_a_path_with_glob_characters_literally(workdir: Path) -> None:
    head = gitutil.commit(workdir, {"k8s/[ab]/x.yaml": "a: 1\n", "k8s/a/y.yaml": "b: 1\n"})
    assert [f.path for f in open_repo(workdir).tree_files(head, ["k8s/[ab]"])] == ["k8s/[ab]/x.yaml"]


def test_many_blobs_are_read_in_one_batch_exactly_as_one_by_one(workdir: Path) -> None:
    files: dict[str, gitutil.Content] = {f"k8s/f{n}.yaml": f"n: {n}\n" * n for n in range(60)}
    files["k8s/binary.yaml"] = bytes(range(256)) + b"\n\n"
    files["k8s/empty.yaml"] = ""
    head = gitutil.commit(workdir, files)
    with open_repo(workdir) as repo:
        listed = repo.tree_files(head, ["k8s"])
        shas = [file.blob for file in listed] + [listed[0].blob]  # a blob asked for twice, too
        assert len(shas) >= 60
        assert repo.read_blobs(shas) == [repo.read_blob(sha) for sha in shas]


@pytest.mark.parametrize("cores", [2, 3])
def test_blobs_read_side_by_side_come_back_whole_and_in_order(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, cores: int
) -> None:
    files: dict[str, gitutil.Content] = {f"k8s/f{n:02}.yaml": f"n: {n}\n" * (n % 7) for n in range(40)}
    files["k8s/binary.yaml"] = bytes(range(256)) + b"\n\n"
    head = gitutil.commit(workdir, files)
    monkeypatch.setattr(repo_module, "SIDE_BY_SIDE_BLOBS", 4)
    monkeypatch.setattr(repo_module, "_cores", lambda: cores)
    with open_repo(workdir) as repo:
        shas = [file.blob for file in repo.tree_files(head, ["k8s"])]
        shas += shas[:3]  # asked for twice, in another part
        told = [
            subprocess.run(["git", "cat-file", "blob", sha], cwd=workdir, capture_output=True, check=True)
            for sha in shas
        ]
        assert repo.read_blobs(shas) == [answer.stdout for answer in told]
        with pytest.raises(GitStateError, match="not in the repository"):
            repo.read_blobs([*shas, "0123456789" * 4])
        monkeypatch.setenv("GIT_DIR", str(workdir / "gone"))
        with pytest.raises(GitStateError, match=r"git cat-file failed: .*not a git repository"):
            repo.read_blobs(shas)


def test_a_missing_blob_in_a_batch_is_a_git_state_error(workdir: Path) -> None:
    head = gitutil.commit(workdir, {f"k8s/f{n}.yaml": f"n: {n}\n" for n in range(60)})
    with open_repo(workdir) as repo:
        shas = [file.blob for file in repo.tree_files(head, ["k8s"])]
        with pytest.raises(GitStateError, match="not in the repository"):
            repo.read_blobs([*shas, "0123456789" * 4])


# --- entries, tree ids, export (rendered sources) ------------------------------------------------


def test_entries_say_what_each_path_is_and_leave_out_missing_ones(workdir: Path) -> None:
    sha = gitutil.commit(workdir, {"deploy/base/a.yaml": "a: 1\n", "deploy/base/b.yaml": "b: 1\n"})
    repo = open_repo(workdir)
    found = repo.entries(sha, ["deploy/base", "deploy/base/a.yaml", "deploy/missing", ""])
    assert set(found) == {"deploy/base", "deploy/base/a.yaml", ""}
    assert found["deploy/base"].kind == "tree"
    assert found["deploy/base"].object_id == gitutil.git(workdir, "rev-parse", f"{sha}:deploy/base")
    assert found["deploy/base/a.yaml"].kind == "blob"
    assert found[""].object_id == gitutil.git(workdir, "rev-parse", f"{sha}^{{tree}}")


def test_entries_of_paths_with_spaces_and_missing_ones_alike(workdir: Path) -> None:
    sha = gitutil.commit(workdir, {"my app/a b.yaml": "a: 1\n"})
    repo = open_repo(workdir)
    # Git answers a missing path with the question and "missing": "<commit>:x y missing" is no entry
    found = repo.entries(sha, ["my app", "my app/a b.yaml", "x y", "my app/z z", "line\nbreak"])
    assert {path: entry.kind for path, entry in found.items()} == {
        "my app": "tree",
        "my app/a b.yaml": "blob",
    }


def test_tree_id_changes_only_with_the_folder_s_contents(workdir: Path) -> None:
    first = gitutil.commit(workdir, {"base/a.yaml": "a: 1\n", "other/b.yaml": "b: 1\n"})
    second = gitutil.commit(workdir, {"other/b.yaml": "b: 2\n"})
    third = gitutil.commit(workdir, {"base/a.yaml": "a: 2\n"})
    repo = open_repo(workdir)
    assert repo.tree_id(first, "base") == repo.tree_id(second, "base") != repo.tree_id(third, "base")
    assert repo.tree_id(first, "base/a.yaml") is None  # a file is no folder
    assert repo.tree_id(first, "nothing") is None


def test_export_writes_the_commit_s_files_not_the_work_tree_s(workdir: Path, tmp_path: Path) -> None:
    sha = gitutil.commit(
        workdir,
        {
            "deploy/base/a.yaml": "a: 1\n",
            "deploy/base/run.sh": "#!/bin/sh\n",
            "deploy/base/link.yaml": gitutil.Symlink("a.yaml"),
            "deploy/values.yaml": "v: 1\n",
            "elsewhere/c.yaml": "c: 1\n",
        },
    )
    (workdir / "deploy/base/run.sh").chmod(0o755)
    sha = gitutil.commit(workdir, {})
    gitutil.write(workdir, {"deploy/base/a.yaml": "a: dirty\n", "deploy/base/new.yaml": "n: 1\n"})
    out = tmp_path / "out"
    written = open_repo(workdir).export(sha, ["deploy/base", "deploy/values.yaml"], out)
    assert written == 4
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if not p.is_dir()) == [
        "deploy/base/a.yaml",
        "deploy/base/link.yaml",
        "deploy/base/run.sh",
        "deploy/values.yaml",
    ]
    assert (out / "deploy/base/a.yaml").read_text() == "a: 1\n"
    assert (out / "deploy/base/link.yaml").is_symlink()
    assert (out / "deploy/base/link.yaml").read_text() == "a: 1\n"
    assert os.access(out / "deploy/base/run.sh", os.X_OK)
    assert not os.access(out / "deploy/values.yaml", os.X_OK)


@pytest.mark.parametrize("target", ["/etc/hostname", "../../../outside.yaml"])
def test_export_refuses_a_symlink_leaving_the_export(workdir: Path, tmp_path: Path, target: str) -> None:
    sha = gitutil.commit(workdir, {"deploy/a.yaml": "a: 1\n", "deploy/link.yaml": gitutil.Symlink(target)})
    with pytest.raises(GitStateError) as caught:
        open_repo(workdir).export(sha, ["deploy"], tmp_path / "out")
    assert (
        caught.value.message
        == f"deploy/link.yaml is a symlink to {target}, outside the folders being rendered"
    )


def test_has_manifest_agrees_with_tree_files(workdir: Path) -> None:
    head = gitutil.commit(
        workdir,
        {
            "k8s/notes.txt": "x",
            "k8s/sub/b.json": "{}",
            "docs/readme.md": "x",
            "many/" + "/".join("d" * 3 for _ in range(3)) + "/z.yml": "z: 1\n",
            **{f"many/f{n}.txt": "x" for n in range(3000)},  # the first manifest ends the listing early
            **{f"late/a{n}.txt": "x" for n in range(3000)},  # the only manifest after many reads
            "late/z.yaml": "z: 1\n",
        },
    )
    repo = open_repo(workdir)
    for paths in (["k8s"], ["docs"], ["many"], ["late"], ["docs", "k8s"], [""], ["k8s/notes.txt"]):
        assert repo.has_manifest(head, paths) == bool(repo.tree_files(head, paths)), paths
    assert repo.has_manifest(head, ["many"]) and not repo.has_manifest(head, ["docs"])
