"""The range's files are read in a forked child while the run connects; `prepare` takes what was read
ahead when it asks for that very range, and reads for itself (the child ended) when it asks for more."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_push import forking, naming, pipeline
from gitops_push.events import Note, PlanReady, RunFailed, Stage
from gitops_push.model import Action
from gitops_push.settings import Flags, Mode
from gitops_push.stages import loading, ownership
from tests.unit import gitutil
from tests.unit.fakecluster import FakeCluster
from tests.unit.pipeline.test_runner import CONFIG, NAMESPACE, WEB, Recorder, healthy


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return gitutil.init(tmp_path / "repo")


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    fake = FakeCluster()
    fake.on_apply = healthy
    monkeypatch.setattr(pipeline, "connect", lambda resolved: fake)
    monkeypatch.setattr("gitops_push.stages.waiting.POLL_SECONDS", 0.01)
    return fake


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Whatever machine runs the tests, a child may read ahead; each take is recorded (read, or not)."""
    monkeypatch.setattr(forking, "usable_processes", lambda: 2)
    seen: list[str] = []
    original_take, original_close = loading.ReadAhead.take, loading.ReadAhead.close

    def take(self: loading.ReadAhead, *args: Any, **kwargs: Any) -> Any:
        sides = original_take(self, *args, **kwargs)
        seen.append("taken" if sides is not None else "not taken")
        return sides

    def close(self: loading.ReadAhead) -> None:
        seen.append("closed")
        original_close(self)

    monkeypatch.setattr(loading.ReadAhead, "take", take)
    monkeypatch.setattr(loading.ReadAhead, "close", close)
    yield seen


def deploy(repo: Path) -> Recorder:
    sink = Recorder()
    pipeline.run(
        Mode.DEPLOY, Flags(environment="dev", paths=("k8s",), push=False, timeout=2.0, repo=repo), sink
    )
    assert not [e for e in sink.events if isinstance(e, RunFailed)]
    return sink


def test_a_deploy_of_a_difference_takes_the_files_read_ahead(
    repo: Path, cluster: FakeCluster, taken: list[str]
) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/cm.yaml": CONFIG % "a", "k8s/web.yaml": WEB % "1"})
    deploy(repo)
    gitutil.commit(repo, {"k8s/cm.yaml": CONFIG % "b", "k8s/web.yaml": None})
    taken.clear()
    sink = deploy(repo)
    assert taken == ["taken", "closed"]
    assert sink.acted(Stage.APPLY) == [("ConfigMap shop/settings", Action.CONFIGURED)]
    assert sink.acted(Stage.PRUNE) == [("Deployment.apps shop/web", Action.PRUNED)]


def test_a_run_that_turns_out_full_reads_for_itself_and_ends_the_child(
    repo: Path, cluster: FakeCluster, taken: list[str]
) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/cm.yaml": CONFIG % "a", "k8s/web.yaml": WEB % "1"})
    deploy(repo)
    parent = ("", "ConfigMap", ownership.PARENT_NAMESPACE, naming.applyset_parent("dev"))
    del cluster.objects[parent]  # the cluster's record is gone: a restored cluster
    gitutil.commit(repo, {"k8s/cm.yaml": CONFIG % "b"})
    taken.clear()
    sink = deploy(repo)
    assert taken == ["not taken", "closed"]
    assert any(isinstance(e, Note) and "full set" in e.message for e in sink.events)
    plan = next(e.plan for e in sink.events if isinstance(e, PlanReady))
    assert plan.full
    assert sorted(str(c.ref) for c in (*plan.changes, *plan.unchanged)) == [
        "ConfigMap shop/settings",
        "Deployment.apps shop/web",
        "Namespace shop",
    ]
    assert sink.acted(Stage.APPLY) == [("ConfigMap shop/settings", Action.CONFIGURED)]
