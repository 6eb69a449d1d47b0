"""Cancellation of a run (SIGTERM from a CI system, SIGINT from Ctrl-C) over the in-memory cluster:
no new request after the signal, the lock released, no tag, no rollback, and one message that says
what was done. The signal handlers themselves are tested against this very process."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gitops_push import cancelling, gitrepo, pipeline
from gitops_push.cancelling import Cancellation
from gitops_push.errors import Cancelled, ExitCode
from gitops_push.events import RollbackFinished, RunFailed
from gitops_push.pipeline import runner, steps
from gitops_push.settings import Flags, Mode, resolve
from gitops_push.stages import gitrange
from tests.unit import gitutil
from tests.unit.fakecluster import FakeCluster
from tests.unit.pipeline.test_runner import CONFIG, NAMESPACE, WEB, Recorder, healthy, lease_left


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return gitutil.init(tmp_path / "repo")


def cancelled_on_config_map(cluster: FakeCluster, cancellation: Cancellation, signal_name: str) -> None:
    """The signal arrives while the ConfigMap (wave 'config', before the Deployment's) is applied."""

    def apply(obj: dict[str, Any]) -> None:
        healthy(obj)
        if obj["metadata"]["name"] == "settings":  # not the ApplySet parent, also a ConfigMap
            cancellation.cancel(signal_name)

    cluster.on_apply = apply


def test_a_cancelled_deploy_sends_nothing_more_releases_the_lock_and_does_not_roll_back(repo: Path) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/cm.yaml": CONFIG % "a", "k8s/web.yaml": WEB % "1"})
    cluster, cancellation, sink = FakeCluster(), Cancellation(), Recorder()
    cancelled_on_config_map(cluster, cancellation, "SIGTERM")
    flags = Flags(environment="dev", paths=("k8s",), push=False, rollback_on_failure=True)
    with gitrepo.open_repo(repo) as git:
        resolved = resolve(Mode.DEPLOY, git.root, flags, {})
        span = gitrange.find_range(git, gitrange.read_tags(git, resolved.environment.prefix, None), "HEAD")
        context = runner.Context(
            resolved, git, sink, cluster, span, steps.Mode.DEPLOY, steps.Options(), cancellation=cancellation
        )
        with pytest.raises(Cancelled) as raised:
            runner.run(context, on_failure=pipeline.roll_back_on_failure)
    assert raised.value.exit_code is ExitCode.TERMINATED
    assert cluster.live("Namespace", None, "shop") is not None
    assert cluster.live("Deployment", "shop", "web", group="apps") is None
    assert cluster.live("ConfigMap", "shop", "settings") is not None  # not rolled back either
    assert not any(isinstance(e, RollbackFinished) for e in sink.events)
    assert not lease_left(cluster)
    assert gitutil.git(repo, "tag") == ""


def test_the_failure_says_what_was_applied_and_how_to_converge(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/cm.yaml": CONFIG % "a", "k8s/web.yaml": WEB % "1"})
    cluster, cancellation, sink = FakeCluster(), Cancellation(), Recorder()
    cancelled_on_config_map(cluster, cancellation, "SIGINT")
    monkeypatch.setattr(pipeline, "connect", lambda resolved: cluster)
    flags = Flags(environment="dev", paths=("k8s",), push=False, repo=repo)
    pipeline.run(Mode.DEPLOY, flags, sink, cancellation)
    (failed,) = [e for e in sink.events if isinstance(e, RunFailed)]
    assert failed.message == (
        "cancelled by SIGINT: no new requests were sent; 2 objects were applied, "
        "the deploy tag was not moved; rerun to converge"
    )
    assert (failed.reference, failed.exit_code) == ("cancelled", 130)
    assert cluster.closed


def test_a_cancellation_before_a_step_stops_the_run_there(repo: Path) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE})
    cluster, cancellation = FakeCluster(), Cancellation()
    cancellation.cancel("SIGTERM")
    with gitrepo.open_repo(repo) as git:
        resolved = resolve(Mode.DEPLOY, git.root, Flags(environment="dev", paths=("k8s",), push=False), {})
        span = gitrange.find_range(git, gitrange.read_tags(git, resolved.environment.prefix, None), "HEAD")
        context = runner.Context(
            resolved,
            git,
            Recorder(),
            cluster,
            span,
            steps.Mode.DEPLOY,
            steps.Options(),
            cancellation=cancellation,
        )
        with pytest.raises(Cancelled):
            runner.run(context)
    assert cluster.requests == {}  # not even the lock was asked for


def test_sigterm_and_sigint_set_the_cancellation_instead_of_killing_and_a_second_is_ignored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with cancelling.on_signals(Cancellation()) as cancellation:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)  # a second signal must not interrupt the cleanup
        deadline = time.monotonic() + 5
        while not cancellation.requested and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cancellation.signal_name == "SIGTERM"  # the first one names it
        with pytest.raises(Cancelled) as raised:
            cancellation.check()
    assert raised.value.exit_code is ExitCode.TERMINATED
    assert signal.getsignal(signal.SIGTERM) is before  # restored after the run


def test_a_sleep_is_cut_short_by_a_cancellation() -> None:
    cancellation = Cancellation()
    cancellation.cancel("SIGINT")
    started = time.monotonic()
    with pytest.raises(Cancelled) as raised:
        cancellation.sleep(30)
    assert time.monotonic() - started < 1
    assert raised.value.exit_code is ExitCode.INTERRUPTED


def test_a_cancellation_during_the_health_wait_ends_it_at_once(repo: Path) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/web.yaml": WEB % "1"})
    cluster, cancellation = FakeCluster(), Cancellation()
    # The Namespace becomes Active; the Deployment stays InProgress (no controller for it).
    cluster.on_apply = lambda obj: healthy(obj) if obj["kind"] == "Namespace" else None
    flags = Flags(environment="dev", paths=("k8s",), push=False, timeout=60, rollback_on_failure=True)
    with gitrepo.open_repo(repo) as git:
        resolved = resolve(Mode.DEPLOY, git.root, flags, {})
        span = gitrange.find_range(git, gitrange.read_tags(git, resolved.environment.prefix, None), "HEAD")
        context = runner.Context(
            resolved,
            git,
            Recorder(),
            cluster,
            span,
            steps.Mode.DEPLOY,
            steps.Options(),
            cancellation=cancellation,
        )
        timer = threading.Timer(0.5, cancellation.cancel, args=("SIGTERM",))
        timer.start()
        started = time.monotonic()
        with pytest.raises(Cancelled):
            runner.run(context, on_failure=pipeline.roll_back_on_failure)
    assert time.monotonic() - started < 10  # not the 60 s of --timeout
    assert cluster.live("Deployment", "shop", "web", group="apps") is not None  # not rolled back
    assert not lease_left(cluster)
