"""The runner over the in-memory cluster: the events of a deploy, and what a failure leaves behind.

Real Git repositories (tests/unit/gitutil.py), the real stages, a fake cluster (tests/unit/fakecluster.py)
for what a real server cannot be made to do on demand: fail one apply, keep a Deployment unhealthy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_push import gitrepo, naming
from gitops_push.errors import ApplyFailed, DryRunRejected
from gitops_push.events import Event, ObjectActed, PlanReady, RollbackFinished, Stage, TagRecorded
from gitops_push.model import Action
from gitops_push.pipeline import reading, runner, steps, writing
from gitops_push.settings import Flags, Mode, resolve
from gitops_push.stages import gitrange, locking, ownership
from tests.unit import gitutil
from tests.unit.fakecluster import FakeCluster, api_error

assert reading and writing  # the executors register on import

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
CONFIG = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {mode: %s}\n"
WEB = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "web:%s"}]}
"""


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)

    def acted(self, stage: Stage) -> list[tuple[str, Action]]:
        return [
            (str(e.ref), e.action) for e in self.events if isinstance(e, ObjectActed) and e.stage is stage
        ]


def healthy(obj: dict[str, Any]) -> None:
    """What the controllers would do: Namespaces become Active, CRDs Established, Deployments available."""
    if obj["kind"] == "Namespace":
        obj["status"] = {"phase": "Active"}
    if obj["kind"] == "CustomResourceDefinition":
        obj["status"] = {"conditions": [{"type": "Established", "status": "True"}]}
    if obj["kind"] == "Deployment":
        replicas = obj["spec"].get("replicas", 1)
        obj["metadata"]["generation"] = 1
        obj["status"] = {
            "observedGeneration": 1,
            **dict.fromkeys(("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"), replicas),
        }


@pytest.fixture
def cluster() -> FakeCluster:
    fake = FakeCluster()
    fake.on_apply = healthy
    return fake


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return gitutil.init(tmp_path / "repo")


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr("gitops_push.stages.waiting.POLL_SECONDS", 0.01)
    yield


def deploy(repo: Path, cluster: FakeCluster, mode: steps.Mode = steps.Mode.DEPLOY, **flags: Any) -> Recorder:
    sink = Recorder()
    options = Flags(environment="dev", paths=("k8s",), push=False, timeout=2.0, **flags)
    with gitrepo.open_repo(repo) as git:
        resolved = resolve(Mode.DEPLOY, git.root, options, {})
        span = gitrange.find_range(git, gitrange.read_tags(git, resolved.environment.prefix, None), "HEAD")
        context = runner.Context(resolved, git, sink, cluster, span, mode, steps.Options(wait=options.wait))
        on_failure = (
            (lambda step, ctx, state: _roll_back(step, ctx, state)) if options.rollback_on_failure else None
        )
        runner.run(context, on_failure=on_failure)
    return sink


def _roll_back(step: steps.Step, context: runner.Context, state: runner.State) -> None:
    from gitops_push.pipeline import roll_back_on_failure as roll_back

    roll_back(step, context, state)


def lease_left(cluster: FakeCluster) -> bool:
    return (
        cluster.live("Lease", naming.RECORD_NAMESPACE, naming.lease("dev"), group="coordination.k8s.io")
        is not None
    )


def test_a_first_deploy_applies_wave_by_wave_waits_records_and_tags(repo: Path, cluster: FakeCluster) -> None:
    head = gitutil.commit(
        repo, {"k8s/ns.yaml": NAMESPACE, "k8s/app.yaml": CONFIG % "a" + "---\n" + WEB % "1"}
    )
    sink = deploy(repo, cluster)
    assert sink.acted(Stage.APPLY) == [
        ("Namespace shop", Action.CREATED),
        ("ConfigMap shop/settings", Action.CREATED),
        ("Deployment.apps shop/web", Action.CREATED),
    ]
    plan_ready = next(e for e in sink.events if isinstance(e, PlanReady))
    assert [s.step for s in plan_ready.steps][-4:] == ["wait-healthy", "write-record", "tag", "release"]
    tag = next(e for e in sink.events if isinstance(e, TagRecorded))
    assert tag.commit == head and gitutil.git(repo, "rev-list", "-n1", tag.tag) == head
    assert ownership.read_record(cluster, "dev").commit == head
    assert not lease_left(cluster)
    live = cluster.live("ConfigMap", "shop", "settings")
    assert live is not None and ownership.is_member(live, "dev")


def test_a_second_deploy_applies_only_the_change_and_prunes_what_git_removed(
    repo: Path, cluster: FakeCluster
) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/cm.yaml": CONFIG % "a", "k8s/web.yaml": WEB % "1"})
    deploy(repo, cluster)
    gitutil.commit(repo, {"k8s/cm.yaml": CONFIG % "b", "k8s/web.yaml": None})
    sink = deploy(repo, cluster)
    assert sink.acted(Stage.APPLY) == [("ConfigMap shop/settings", Action.CONFIGURED)]
    assert sink.acted(Stage.PRUNE) == [("Deployment.apps shop/web", Action.PRUNED)]
    assert cluster.live("Deployment", "shop", "web", group="apps") is None


def test_a_dry_run_rejection_applies_nothing_and_releases_the_lock(repo: Path, cluster: FakeCluster) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE})
    deploy(repo, cluster)
    gitutil.commit(repo, {"k8s/cm.yaml": CONFIG % "a", "k8s/web.yaml": WEB % "1"})
    cluster.fail("dry-run", "web", api_error(422, "Invalid", "spec.replicas: must be positive"))
    applied_before = cluster.requests.get("apply", 0)
    with pytest.raises(DryRunRejected):
        deploy(repo, cluster)
    assert cluster.requests.get("apply", 0) == applied_before
    assert not lease_left(cluster)
    assert len(gitutil.git(repo, "tag").splitlines()) == 1


def test_an_apply_failure_stops_the_waves_keeps_the_tag_and_releases_the_lock(
    repo: Path, cluster: FakeCluster
) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/cm.yaml": CONFIG % "a", "k8s/web.yaml": WEB % "1"})
    cluster.fail("apply", "settings", api_error(500, "InternalError", "etcd is sad"))
    with pytest.raises(ApplyFailed):
        deploy(repo, cluster)
    assert cluster.live("Deployment", "shop", "web", group="apps") is None  # its wave never started
    assert gitutil.git(repo, "tag") == ""
    assert not lease_left(cluster)
    assert ownership.read_record(cluster, "dev").commit is None


def test_rollback_on_failure_restores_the_last_deployed_commit_on_the_same_runner(
    repo: Path, cluster: FakeCluster
) -> None:
    base = gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/cm.yaml": CONFIG % "a"})
    deploy(repo, cluster)
    gitutil.commit(repo, {"k8s/cm.yaml": CONFIG % "b", "k8s/web.yaml": WEB % "broken"})

    def stuck(obj: dict[str, Any]) -> None:
        healthy(obj)
        if obj["kind"] == "Deployment":
            obj["status"] = {"conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]}

    cluster.on_apply = stuck
    with pytest.raises(ApplyFailed):
        deploy(repo, cluster, rollback_on_failure=True)
    live = cluster.live("ConfigMap", "shop", "settings")
    assert live is not None and live["data"] == {"mode": "a"}
    assert cluster.live("Deployment", "shop", "web", group="apps") is None
    assert ownership.read_record(cluster, "dev").commit == base
    assert not lease_left(cluster)


def test_rollback_reports_its_outcome_once(repo: Path, cluster: FakeCluster) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE})
    deploy(repo, cluster)
    gitutil.commit(repo, {"k8s/cm.yaml": CONFIG % "a"})
    cluster.fail("apply", "settings", api_error(500, "InternalError", "no"))
    recorder = Recorder()
    with gitrepo.open_repo(repo) as git:
        resolved = resolve(Mode.DEPLOY, git.root, Flags(environment="dev", paths=("k8s",), push=False), {})
        span = gitrange.find_range(git, gitrange.read_tags(git, resolved.environment.prefix, None), "HEAD")
        context = runner.Context(resolved, git, recorder, cluster, span, steps.Mode.DEPLOY, steps.Options())
        with pytest.raises(ApplyFailed):
            runner.run(context, on_failure=_roll_back)
    outcomes = [e for e in recorder.events if isinstance(e, RollbackFinished)]
    assert [o.ok for o in outcomes] == [True]
    assert ("ConfigMap shop/settings", Action.FAILED) in recorder.acted(Stage.APPLY)
    assert (
        recorder.acted(Stage.ROLLBACK) == []
    )  # nothing to restore or delete: the failed object never existed


def test_objects_in_a_namespace_of_the_same_deploy_are_dry_run_after_it(
    repo: Path, cluster: FakeCluster
) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/cm.yaml": CONFIG % "a"})
    # Nothing can live yet in a Namespace this deploy creates: the deferred dry-run reads nothing.
    cluster.fail("get", "settings", api_error(500, "InternalError", "read by the deferred dry-run"))
    sink = deploy(repo, cluster)
    assert cluster.requests["dry-run"] == 3  # the Namespace, the ConfigMap (deferred), the ConfigMap again
    notes = [str(e) for e in sink.events if type(e).__name__ == "Note"]
    assert any("dry-run once their prerequisites are applied" in note for note in notes)


def test_a_deferred_rejection_in_a_late_wave_stops_the_deploy_before_the_earlier_waves_apply(
    repo: Path, cluster: FakeCluster
) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/cm.yaml": CONFIG % "a", "k8s/web.yaml": WEB % "1"})

    def then_reject_web(obj: dict[str, Any]) -> None:  # web's dry-run fails once its namespace exists
        healthy(obj)
        if obj["kind"] == "Namespace":
            cluster.fail("dry-run", "web", api_error(422, "Invalid", "spec.replicas: must be positive"))

    cluster.on_apply = then_reject_web
    with pytest.raises(DryRunRejected, match="only the Namespaces and CRDs before them were applied"):
        deploy(repo, cluster)
    assert cluster.live("Namespace", None, "shop") is not None
    assert cluster.live("ConfigMap", "shop", "settings") is None  # wave 4, before web's wave 5: not applied
    assert cluster.requests["dry-run"] == 5  # 3 at first (2 deferred), then both deferred ones together
    assert gitutil.git(repo, "tag") == ""
    assert not lease_left(cluster)


WIDGET_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.test}
spec:
  group: example.test
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""
WIDGET = "apiVersion: example.test/v1\nkind: Widget\nmetadata: {name: small, namespace: shop}\n"


def test_custom_resources_wait_until_their_established_crd_is_served(
    repo: Path, cluster: FakeCluster
) -> None:
    cluster.discovery_lag = 3  # Established, but three discovery refreshes pass before Widget is listed
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/crd.yaml": WIDGET_CRD, "k8s/widget.yaml": WIDGET})

    sink = deploy(repo, cluster)

    assert ("Widget.example.test shop/small", Action.CREATED) in sink.acted(Stage.APPLY)
    assert cluster.live("Widget", "shop", "small", group="example.test") is not None
    assert cluster.requests["forget_discovery"] >= 3


def test_a_crd_that_is_never_served_fails_the_deploy_by_name(
    repo: Path, cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writing, "PREREQUISITE_TIMEOUT", 0.3)
    monkeypatch.setattr(writing, "DISCOVERY_POLL", 0.01)
    cluster.discovery_lag = 10**6
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/crd.yaml": WIDGET_CRD, "k8s/widget.yaml": WIDGET})

    with pytest.raises(ApplyFailed, match=r"Widget\.example\.test v1 is established but not served"):
        deploy(repo, cluster)
    assert cluster.live("Widget", "shop", "small", group="example.test") is None
    assert gitutil.git(repo, "tag", "--list") == ""


def test_a_plan_writes_nothing(repo: Path, cluster: FakeCluster) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/cm.yaml": CONFIG % "a"})
    deploy(repo, cluster, mode=steps.Mode.PLAN)
    assert set(cluster.requests) <= {"get", "dry-run", "list", "forget_discovery"}
    assert gitutil.git(repo, "tag") == ""


def test_the_lock_is_taken_before_the_record_is_read(repo: Path, cluster: FakeCluster) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE})
    cluster.store(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": naming.lease("dev"), "namespace": naming.RECORD_NAMESPACE},
            "spec": {"holderIdentity": "someone else", "renewTime": locking.micro_time(locking.now())},
        }
    )
    with pytest.raises(Exception, match="held by someone else"):
        deploy(repo, cluster, lock_timeout=0.01)
    assert "apply" not in cluster.requests and "dry-run" not in cluster.requests


def test_a_failed_attempt_then_a_revert_applies_the_reverted_object_again(
    repo: Path, cluster: FakeCluster
) -> None:
    gitutil.commit(repo, {"k8s/ns.yaml": NAMESPACE, "k8s/web.yaml": WEB % "1"})
    deploy(repo, cluster)
    gitutil.commit(repo, {"k8s/web.yaml": WEB % "broken", "k8s/extra.yaml": CONFIG % "new"})

    def stuck(obj: dict[str, Any]) -> None:
        healthy(obj)
        if obj["kind"] == "Deployment" and "broken" in str(obj["spec"]):
            obj["status"] = {"conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]}

    cluster.on_apply = stuck
    with pytest.raises(ApplyFailed):
        deploy(repo, cluster)
    record = ownership.read_record(cluster, "dev")
    assert record.attempt is not None and record.attempt.commit == gitutil.git(repo, "rev-parse", "HEAD")
    gitutil.git(repo, "revert", "--no-edit", "HEAD")  # the tree is the last deployed one again

    sink = deploy(repo, cluster)

    assert sink.acted(Stage.APPLY) == [("Deployment.apps shop/web", Action.CONFIGURED)]
    assert sink.acted(Stage.PRUNE) == [("ConfigMap shop/settings", Action.PRUNED)]
    live = cluster.live("Deployment", "shop", "web", group="apps")
    assert live is not None and "web:1" in str(live["spec"])
    assert ownership.read_record(cluster, "dev").attempt is None
