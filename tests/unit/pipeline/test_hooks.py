"""Helm hooks as steps, on the in-memory cluster: weight order, delete policies, and a failed hook
that stops the deploy (a real Job's failure cannot be produced on demand by the devcluster's kwok,
which completes every Job pod)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_push import gitrepo
from gitops_push.errors import ExitCode, HookFailed
from gitops_push.model import HookRun, Manifest, ObjectRef, Range, SourceLocation
from gitops_push.pipeline import hooks, runner, steps
from gitops_push.settings import Flags, Mode, resolve
from tests.unit import gitutil
from tests.unit.fakecluster import FakeCluster


def job(name: str, *, pre: bool = True, **policies: bool) -> HookRun:
    ref = ObjectRef("batch", "Job", "shop", name)
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "shop"}}
    manifest = Manifest(ref, "batch/v1", body, SourceLocation("charts/app/templates/job.yaml", 1))
    return HookRun(manifest, pre, 0, **policies)


class Jobs:
    """What the job controller would do: each Job applied ends Complete, or Failed when named so."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.applied: list[str] = []

    def __call__(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        self.applied.append(name)
        condition = "Failed" if name in self.failing else "Complete"
        obj["status"] = {
            "conditions": [{"type": condition, "status": "True", "reason": "BackoffLimitExceeded"}]
        }


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr("gitops_push.stages.waiting.POLL_SECONDS", 0.01)
    yield


def context(tmp_path: Path, cluster: FakeCluster) -> Iterator[runner.Context]:
    cluster.store({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    repo = gitutil.init(tmp_path / "repo")
    head = gitutil.commit(repo, {"k8s/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
    settings = resolve(Mode.DEPLOY, repo, Flags(environment="dev", paths=("k8s",), timeout=2.0), {})
    with gitrepo.open_repo(repo) as git:
        yield runner.Context(
            settings, git, _Sink(), cluster, Range(None, head), steps.Mode.DEPLOY, steps.Options()
        )


class _Sink:
    def handle(self, event: object) -> None:
        pass


def test_hooks_run_in_order_and_honour_their_delete_policies(tmp_path: Path) -> None:
    cluster, jobs = FakeCluster(), Jobs(failing=set())
    cluster.on_apply = jobs
    cluster.store(
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "shop"}}
    )
    for ctx in context(tmp_path, cluster):
        hooks.run_hooks(ctx, (job("migrate", delete_before=True), job("seed", delete_succeeded=True)))
    assert jobs.applied == ["migrate", "seed"]
    migrate = cluster.live("Job", "shop", "migrate", group="batch")
    assert migrate is not None and "labels" not in migrate["metadata"]  # the previous run's was deleted first
    assert cluster.live("Job", "shop", "seed", group="batch") is None


def test_a_failed_hook_stops_the_deploy_and_runs_nothing_after_it(tmp_path: Path) -> None:
    cluster, jobs = FakeCluster(), Jobs(failing={"migrate"})
    cluster.on_apply = jobs
    for ctx in context(tmp_path, cluster):
        with pytest.raises(HookFailed) as caught:
            hooks.run_hooks(ctx, (job("migrate", delete_failed=True), job("seed")))
    assert caught.value.exit_code is ExitCode.FAILED
    assert caught.value.location == SourceLocation("charts/app/templates/job.yaml", 1)
    assert "Job.batch shop/migrate" in caught.value.message and "BackoffLimitExceeded" in caught.value.message
    assert jobs.applied == ["migrate"]
    assert cluster.live("Job", "shop", "migrate", group="batch") is None  # hook-failed: deleted
