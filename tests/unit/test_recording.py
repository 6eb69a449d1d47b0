"""recording: the deploy tag's name, its metadata and CI identity, and creating and pushing it."""

from __future__ import annotations

import datetime
import getpass
import json
import os
from pathlib import Path

import pytest

from gitops_push import __version__
from gitops_push.errors import TagRace, UsageError
from gitops_push.gitrepo import open_repo
from gitops_push.model import Change, Manifest, ObjectRef, Op, Plan, Range, SourceLocation
from gitops_push.stages import recording
from tests.unit import gitutil

BASE = "1111111111111111111111111111111111111111"
HEAD = "2222222222222222222222222222222222222222"
NOW = datetime.datetime(2024, 3, 9, 14, 5, 7, tzinfo=datetime.UTC)
CI_VARIABLES = (
    "GITHUB_ACTIONS",
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITHUB_ACTOR",
    "GITLAB_CI",
    "GITLAB_USER_LOGIN",
    "CI_JOB_URL",
    "JENKINS_URL",
    "BUILD_USER_ID",
    "BUILD_URL",
)


@pytest.fixture(autouse=True)
def no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def manifest(kind: str, name: str, namespace: str | None = "shop", secret: str = "") -> Manifest:
    body = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "data": {"v": secret}}
    return Manifest(ObjectRef("", kind, namespace, name), "v1", body, SourceLocation("k8s/a.yaml", 1))


def plan(head: str = HEAD, base: str | None = BASE) -> Plan:
    created = manifest("Secret", "creds", secret="c3VwZXItc2VjcmV0LXZhbHVl")
    updated = manifest("ConfigMap", "settings")
    pruned = manifest("Service", "legacy")
    same = manifest("ConfigMap", "same")
    namespace = manifest("Namespace", "shop", namespace=None)
    return Plan(
        range=Range(base, head, "deployed/prod/20240101T000000Z" if base else None),
        apply_waves=(
            (Change(Op.CREATE, namespace.ref, namespace),),
            (Change(Op.CREATE, created.ref, created), Change(Op.UPDATE, updated.ref, updated, updated)),
        ),
        prune_waves=((Change(Op.DELETE, pruned.ref, None, pruned),),),
        unchanged=(Change(Op.UNCHANGED, same.ref, same, same),),
    )


# --- tag_name ------------------------------------------------------------------------------------------


def test_tag_name_is_prefix_slash_utc_basic_iso_time() -> None:
    assert recording.tag_name("deployed/prod", NOW) == "deployed/prod/20240309T140507Z"


def test_tag_name_converts_to_utc() -> None:
    berlin = datetime.timezone(datetime.timedelta(hours=2))
    local = datetime.datetime(2024, 1, 1, 1, 30, 0, tzinfo=berlin)
    assert recording.tag_name("releases", local) == "releases/20231231T233000Z"


# --- ci_identity ----------------------------------------------------------------------------------------


def test_ci_identity_on_github_actions() -> None:
    identity = recording.ci_identity(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "shop/manifests",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_ACTOR": "octocat",
            "USER": "runner",
        }
    )
    assert identity == {
        "system": "github-actions",
        "actor": "octocat",
        "run": "https://github.com/shop/manifests/actions/runs/4242",
    }


def test_ci_identity_on_github_enterprise_uses_the_server_url() -> None:
    identity = recording.ci_identity(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_SERVER_URL": "https://git.example.com",
            "GITHUB_REPOSITORY": "shop/manifests",
            "GITHUB_RUN_ID": "7",
            "GITHUB_ACTOR": "octocat",
        }
    )
    assert identity["run"] == "https://git.example.com/shop/manifests/actions/runs/7"


def test_ci_identity_on_gitlab() -> None:
    identity = recording.ci_identity(
        {
            "GITLAB_CI": "true",
            "CI": "true",
            "GITLAB_USER_LOGIN": "tanuki",
            "CI_JOB_URL": "https://gitlab.example.com/shop/manifests/-/jobs/99",
        }
    )
    assert identity == {
        "system": "gitlab-ci",
        "actor": "tanuki",
        "run": "https://gitlab.example.com/shop/manifests/-/jobs/99",
    }


def test_ci_identity_on_jenkins() -> None:
    identity = recording.ci_identity(
        {
            "JENKINS_URL": "https://jenkins.example.com/",
            "BUILD_USER_ID": "jenkins-admin",
            "BUILD_URL": "https://jenkins.example.com/job/deploy/12/",
        }
    )
    assert identity == {
        "system": "jenkins",
        "actor": "jenkins-admin",
        "run": "https://jenkins.example.com/job/deploy/12/",
    }


def test_ci_identity_locally_is_user_at_host() -> None:
    host = os.uname().nodename
    assert recording.ci_identity({"USER": "alice", "LOGNAME": "other"}) == {
        "system": "local",
        "actor": f"alice@{host}",
        "run": "",
    }
    assert recording.ci_identity({"LOGNAME": "bob"})["actor"] == f"bob@{host}"
    assert (
        recording.ci_identity({})["actor"] == f"{getpass.getuser()}@{host}"
    )  # the account, when no variable names it


def test_ci_identity_needs_github_actions_to_be_true() -> None:
    assert recording.ci_identity({"GITHUB_ACTIONS": "false", "USER": "alice"})["system"] == "local"


# --- metadata -------------------------------------------------------------------------------------------


def test_metadata_lists_refs_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("GITLAB_USER_LOGIN", "tanuki")
    monkeypatch.setenv("CI_JOB_URL", "https://gitlab.example.com/jobs/1")
    assert recording.metadata("prod", plan()).to_json() == {
        "gitops_push": 1,
        "tool": f"gitops-push {__version__}",
        "environment": "prod",
        "from": BASE,
        "to": HEAD,
        "from_tag": "deployed/prod/20240101T000000Z",
        "full": False,
        "counts": {"created": 2, "updated": 1, "pruned": 1, "unchanged": 1},
        "created": ["Namespace shop", "Secret shop/creds"],
        "updated": ["ConfigMap shop/settings"],
        "pruned": ["Service shop/legacy"],
        "ci": {"system": "gitlab-ci", "actor": "tanuki", "run": "https://gitlab.example.com/jobs/1"},
    }


def test_metadata_of_a_first_deploy_and_extra_fields() -> None:
    data = recording.metadata("prod", plan(base=None), deployed_at="2024-03-09T14:05:07+00:00").to_json()
    assert (data["from"], data["from_tag"], data["deployed_at"]) == (None, None, "2024-03-09T14:05:07+00:00")
    assert data["ci"]["system"] == "local"


def test_metadata_never_holds_object_bodies() -> None:
    text = json.dumps(recording.metadata("prod", plan()).to_json())
    assert "c3VwZXItc2VjcmV0LXZhbHVl" not in text
    assert "super-secret-value" not in text


def test_metadata_reads_back_what_it_writes() -> None:
    provenance = recording.Provenance(rolled_back_to="p/1", rolled_back_from="p/2")
    written = recording.metadata(
        "prod", plan(), provenance=provenance, deployed_at="2024-03-09T14:05:07+00:00"
    )
    assert recording.DeployMetadata.from_json(json.loads(json.dumps(written.to_json()))) == written


def test_metadata_records_the_renderers_and_reads_them_back() -> None:
    versions = {"kustomize": "v5.8.2", "helm": "v3.21.4+g0d2a3c5"}
    written = recording.metadata("prod", plan(), renderers=versions)
    data = json.loads(json.dumps(written.to_json()))
    assert data["renderers"] == versions
    assert recording.DeployMetadata.from_json(data) == written
    assert "renderers" not in recording.metadata("prod", plan()).to_json()  # plain environments: as before


def test_metadata_of_a_promotion_reads_back() -> None:
    source = {"environment": "staging", "tag": "deployed/staging/1", "commit": BASE}
    written = recording.metadata("prod", plan(), provenance=recording.Provenance(promoted_from=source))
    data = written.to_json()
    assert data["promoted_from"] == source and "rollback" not in data
    assert recording.DeployMetadata.from_json(data) == written


# --- record ---------------------------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return gitutil.init(tmp_path / "repo")


def tag_data(workdir: Path, name: str) -> tuple[str, dict[str, object]]:
    message = open_repo(workdir).tag_message(name)
    subject, _, body = message.partition("\n\n")
    data: dict[str, object] = json.loads(body)
    return subject, data


def test_record_without_a_remote_creates_the_tag_and_does_not_push(workdir: Path) -> None:
    head = gitutil.commit(workdir, {"k8s/a.yaml": "a: 1\n"})
    repo = open_repo(workdir)
    name, pushed = recording.record(
        repo, prefix="deployed/prod", environment="prod", plan=plan(head), push=None, now=lambda: NOW
    )
    assert (name, pushed) == ("deployed/prod/20240309T140507Z", False)
    assert [(t.name, t.commit) for t in repo.deploy_tags("deployed/prod")] == [(name, head)]
    subject, data = tag_data(workdir, name)
    assert subject == f"gitops-push: deployed {head[:12]} to prod"
    assert data["deployed_at"] == "2024-03-09T14:05:07+00:00"
    assert data["environment"] == "prod"
    assert data["to"] == head
    assert data["counts"] == {"created": 2, "updated": 1, "pruned": 1, "unchanged": 1}


def test_record_twice_in_one_second_gets_a_suffix(workdir: Path) -> None:
    head = gitutil.commit(workdir, {"k8s/a.yaml": "a: 1\n"})
    repo = open_repo(workdir)
    names = [
        recording.record(repo, prefix="p", environment="prod", plan=plan(head), push=False, now=lambda: NOW)[
            0
        ]
        for _ in range(2)
    ]
    assert names == ["p/20240309T140507Z", "p/20240309T140507Z-1"]


def test_record_with_push_but_no_remote_is_a_usage_error_and_leaves_no_tag(workdir: Path) -> None:
    head = gitutil.commit(workdir, {"k8s/a.yaml": "a: 1\n"})
    repo = open_repo(workdir)
    with pytest.raises(UsageError) as caught:
        recording.record(
            repo, prefix="deployed/prod", environment="prod", plan=plan(head), push=True, now=lambda: NOW
        )
    assert "no remote" in caught.value.message
    assert repo.deploy_tags("deployed/prod") == []


def test_record_pushes_to_the_remote(workdir: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    gitutil.git(tmp_path, "init", "-q", "--bare", str(remote))
    gitutil.git(workdir, "remote", "add", "origin", str(remote))
    head = gitutil.commit(workdir, {"k8s/a.yaml": "a: 1\n"})
    gitutil.git(workdir, "push", "-q", "origin", "main")
    name, pushed = recording.record(
        open_repo(workdir),
        prefix="deployed/prod",
        environment="prod",
        plan=plan(head),
        push=None,
        now=lambda: NOW,
    )
    assert pushed
    assert gitutil.git(remote, "rev-parse", f"{name}^{{commit}}") == head


def test_record_with_push_false_keeps_the_tag_local(workdir: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    gitutil.git(tmp_path, "init", "-q", "--bare", str(remote))
    gitutil.git(workdir, "remote", "add", "origin", str(remote))
    head = gitutil.commit(workdir, {"k8s/a.yaml": "a: 1\n"})
    name, pushed = recording.record(
        open_repo(workdir),
        prefix="deployed/prod",
        environment="prod",
        plan=plan(head),
        push=False,
        now=lambda: NOW,
    )
    assert not pushed
    assert gitutil.git(remote, "tag", "--list") == ""
    assert gitutil.git(workdir, "tag", "--list") == name


def test_a_refused_push_is_a_tag_race_and_removes_the_local_tag(workdir: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    gitutil.git(tmp_path, "init", "-q", "--bare", str(remote))
    gitutil.git(workdir, "remote", "add", "origin", str(remote))
    first = gitutil.commit(workdir, {"k8s/a.yaml": "a: 1\n"})
    # Another deploy tagged first, with the same name, on another commit.
    gitutil.tag(workdir, "deployed/prod/20240309T140507Z", first)
    gitutil.git(workdir, "push", "-q", "origin", "main", "deployed/prod/20240309T140507Z")
    gitutil.git(workdir, "tag", "-d", "deployed/prod/20240309T140507Z")
    head = gitutil.commit(workdir, {"k8s/a.yaml": "a: 2\n"})
    repo = open_repo(workdir)
    with pytest.raises(TagRace) as caught:
        recording.record(
            repo, prefix="deployed/prod", environment="prod", plan=plan(head), push=True, now=lambda: NOW
        )
    assert "deployed/prod/20240309T140507Z" in caught.value.message
    assert "refused" in caught.value.message
    assert repo.deploy_tags("deployed/prod") == []
    assert gitutil.git(remote, "rev-parse", "deployed/prod/20240309T140507Z^{commit}") == first
