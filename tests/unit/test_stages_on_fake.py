"""applying, pruning, waiting, ownership and locking over the in-memory cluster: the edges a real API
server cannot be made to produce on demand (a conflict, a stuck pod, a lease taken over mid-run)."""

from __future__ import annotations

import datetime
import threading
import time
from typing import Any

import pytest

from gitops_push import fieldlines, naming
from gitops_push.cancelling import Cancellation, parallel
from gitops_push.errors import Cancelled, ClusterUnreachable, ExitCode, LockHeld, Terminated
from gitops_push.events import Event, HealthChanged, ObjectActed, Stage
from gitops_push.kube.errors import Cause
from gitops_push.model import Action, LineBasis, Manifest, ObjectRef, SourceLocation
from gitops_push.stages import applying, locking, ownership, pruning, waiting
from tests.unit.fakecluster import FakeCluster, api_error


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)


def manifest(kind: str, name: str, namespace: str | None = "shop", api: str = "v1", **body: Any) -> Manifest:
    group = api.rpartition("/")[0]
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    full = {"apiVersion": api, "kind": kind, "metadata": metadata, **body}
    return Manifest(ObjectRef(group, kind, namespace, name), api, full, SourceLocation("k8s/a.yaml", 3))


@pytest.fixture
def cluster() -> FakeCluster:
    fake = FakeCluster()
    fake.store({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    return fake


# --- applying -------------------------------------------------------------------------------------


def test_dry_run_defers_what_waits_for_a_namespace_of_the_same_deploy(cluster: FakeCluster) -> None:
    fresh = manifest("ConfigMap", "cm", namespace="new")
    outcomes = applying.dry_run(
        cluster,
        [fresh],
        {fresh.ref: fresh.body},
        coming=applying.Arrivals(frozenset({"new"}), frozenset()),
        field_manager="gitops-push-dev",
        force=False,
        concurrency=1,
        sink=Recorder(),
        cancellation=Cancellation(),
    )
    assert outcomes[fresh.ref].deferred == "namespace new is created by this deploy"


def test_a_conflict_names_the_other_manager_and_the_fields(cluster: FakeCluster) -> None:
    cm = manifest("ConfigMap", "cm", data={"a": "1"})
    cause = Cause(".data.a", 'conflict with "kubectl-edit" using v1', "FieldManagerConflict")
    cluster.fail("apply", "cm", api_error(409, "Conflict", "Apply failed with 1 conflict", cause))
    sink = Recorder()
    failed = applying.apply_wave(
        cluster,
        [(cm, cm.body, Action.CONFIGURED)],
        field_manager="gitops-push-dev",
        force=False,
        concurrency=1,
        sink=sink,
        cancellation=Cancellation(),
    )
    assert failed == [cm.ref]
    (event,) = sink.events
    assert isinstance(event, ObjectActed) and event.action is Action.FAILED
    assert event.error is not None and event.error.startswith(
        "field manager conflict with kubectl-edit over .data.a"
    )


def test_apply_reports_created_and_configured(cluster: FakeCluster) -> None:
    new, old = manifest("ConfigMap", "new"), manifest("ConfigMap", "old")
    sink = Recorder()
    applying.apply_wave(
        cluster,
        [(new, new.body, Action.CREATED), (old, old.body, Action.CONFIGURED)],
        field_manager="gitops-push-dev",
        force=False,
        concurrency=2,
        sink=sink,
        cancellation=Cancellation(),
    )
    assert sorted((str(e.ref), e.action) for e in sink.events if isinstance(e, ObjectActed)) == [
        ("ConfigMap shop/new", Action.CREATED),
        ("ConfigMap shop/old", Action.CONFIGURED),
    ]


def config_maps(count: int) -> list[tuple[Manifest, dict[str, Any], Action]]:
    made = [manifest("ConfigMap", f"cm-{n}") for n in range(count)]
    return [(m, dict(m.body), Action.CREATED) for m in made]


def test_an_unreachable_server_stops_the_wave_with_one_error_and_no_object_failures(
    cluster: FakeCluster,
) -> None:
    gone = ClusterUnreachable("cannot reach the API server https://fake.invalid: no answer for 30 s")
    cluster.fail("apply", "cm-1", gone)
    sink = Recorder()
    with pytest.raises(ClusterUnreachable) as raised:
        applying.apply_wave(
            cluster,
            config_maps(5),
            field_manager="gitops-push-dev",
            force=False,
            concurrency=1,
            sink=sink,
            cancellation=Cancellation(),
        )
    assert raised.value is gone
    assert cluster.requests["apply"] == 2  # cm-0 applied, cm-1 found the server gone, the rest not sent
    assert [(str(e.ref), e.action) for e in sink.events if isinstance(e, ObjectActed)] == [
        ("ConfigMap shop/cm-0", Action.CREATED)
    ]


def test_an_unreachable_server_stops_the_dry_run_the_same_way(cluster: FakeCluster) -> None:
    cluster.fail("dry-run", "cm-0", ClusterUnreachable("cannot reach the API server"))
    sink = Recorder()
    manifests = [m for m, _, _ in config_maps(3)]
    with pytest.raises(ClusterUnreachable):
        applying.dry_run(
            cluster,
            manifests,
            {m.ref: m.body for m in manifests},
            coming=applying.Arrivals(frozenset(), frozenset()),
            field_manager="gitops-push-dev",
            force=False,
            concurrency=1,
            sink=sink,
            cancellation=Cancellation(),
        )
    assert cluster.requests["dry-run"] == 1
    assert sink.events == []


def test_a_cancellation_sends_no_new_request(cluster: FakeCluster) -> None:
    cancellation = Cancellation()
    cluster.on_apply = lambda obj: cancellation.cancel("SIGTERM")  # the signal arrives during the first
    sink = Recorder()
    with pytest.raises(Terminated) as raised:
        applying.apply_wave(
            cluster,
            config_maps(4),
            field_manager="gitops-push-dev",
            force=False,
            concurrency=1,
            sink=sink,
            cancellation=cancellation,
        )
    assert raised.value.exit_code is ExitCode.TERMINATED
    assert cluster.requests["apply"] == 1
    assert len([e for e in sink.events if isinstance(e, ObjectActed)]) == 1  # the one in flight finished


def test_a_wait_is_cut_short_by_a_cancellation(cluster: FakeCluster) -> None:
    cancellation = Cancellation()
    cluster.store({**DEPLOYMENT.body, "status": {}})
    polls = cluster.requests.get("get", 0)
    cancellation.cancel("SIGINT")
    with pytest.raises(Cancelled) as raised:
        waiting.wait_healthy(cluster, [DEPLOYMENT], timeout=300, sink=Recorder(), sleep=cancellation.sleep)
    assert raised.value.exit_code is ExitCode.INTERRUPTED
    assert cluster.requests.get("get", 0) == polls + 1  # one look, then no more


# --- pruning --------------------------------------------------------------------------------------


def test_select_prunes_only_members(cluster: FakeCluster) -> None:
    label = {ownership.PART_OF_LABEL: ownership.applyset_id("dev")}
    ours = manifest("ConfigMap", "ours")
    cluster.store(
        {**ours.body, "metadata": {**ours.body["metadata"], "labels": label}},
        manager=naming.field_manager("dev"),
    )
    copied = manifest("ConfigMap", "copied")  # our label, applied by someone else
    cluster.store(
        {**copied.body, "metadata": {**copied.body["metadata"], "labels": label}}, manager="kubectl"
    )
    gone = manifest("ConfigMap", "gone")
    selection = pruning.select(
        cluster, [ours, copied, gone], is_member=lambda live: ownership.is_member(live, "dev")
    )
    assert [m.ref.name for m in selection.prune] == ["ours"]
    assert sorted((m.ref.name, why.split(":")[0]) for m, why in selection.kept) == [
        ("copied", "not pruned"),
        ("gone", "already gone from the cluster"),
    ]


def test_prune_wave_reports_under_the_stage_it_is_given(cluster: FakeCluster) -> None:
    cm = manifest("ConfigMap", "cm")
    cluster.store(cm.body)
    sink = Recorder()
    assert pruning.prune_wave(cluster, [cm], sink=sink, stage=Stage.ROLLBACK) == []
    assert [(e.stage, e.action) for e in sink.events if isinstance(e, ObjectActed)] == [
        (Stage.ROLLBACK, Action.PRUNED)
    ]
    assert cluster.live("ConfigMap", "shop", "cm") is None


def test_a_failed_deletion_is_reported_and_returned(cluster: FakeCluster) -> None:
    cm = manifest("ConfigMap", "cm")
    cluster.store(cm.body)
    cluster.fail("delete", "cm", api_error(403, "Forbidden", "cannot delete"))
    sink = Recorder()
    assert pruning.prune_wave(cluster, [cm], sink=sink) == [cm.ref]
    (event,) = sink.events
    assert isinstance(event, ObjectActed) and (event.stage, event.error) == (Stage.PRUNE, "cannot delete")


class Meeting(FakeCluster):
    """Each read and deletion waits until another one is in flight beside it: requests sent one after
    the other never meet, and break the barrier after its timeout."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier = threading.Barrier(2, timeout=10)

    def get(self, resource: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
        self.barrier.wait()
        return super().get(resource, namespace, name)

    def delete(
        self, resource: Any, namespace: str | None, name: str, *, resource_version: str | None = None
    ) -> bool:
        self.barrier.wait()
        return super().delete(resource, namespace, name, resource_version=resource_version)


def test_the_reads_and_deletions_of_a_prune_are_in_flight_together() -> None:
    cluster = Meeting()
    label = {ownership.PART_OF_LABEL: ownership.applyset_id("dev")}
    gone = [manifest("ConfigMap", name, namespace="default") for name in ("a", "b")]
    for old in gone:
        cluster.store(
            {**old.body, "metadata": {**old.body["metadata"], "labels": label}},
            manager=naming.field_manager("dev"),
        )
    member = lambda live: ownership.is_member(live, "dev")  # noqa: E731
    selection = pruning.select(cluster, gone, is_member=member, concurrency=2)
    assert [m.ref.name for m in selection.prune] == ["a", "b"]
    sink = Recorder()
    assert pruning.prune_wave(cluster, gone, sink=sink, concurrency=2) == []
    assert sorted(e.ref.name for e in sink.events if isinstance(e, ObjectActed)) == ["a", "b"]
    assert cluster.live("ConfigMap", "default", "a") is None


def test_a_wait_round_observes_its_objects_together_and_reports_them_in_order() -> None:
    cluster = Meeting()
    names = ("one", "two")
    for name in names:
        cluster.store(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name},
                "status": {"phase": "Active"},
            }
        )
    spaces = [manifest("Namespace", name, namespace=None) for name in names]
    sink = Recorder()
    failures = waiting.wait_healthy(
        cluster, spaces, timeout=30, sink=sink, sleep=lambda s: None, concurrency=2
    )
    assert failures == {}
    assert [e.ref.name for e in sink.events if isinstance(e, HealthChanged)] == ["one", "two"]


# --- waiting --------------------------------------------------------------------------------------

DEPLOYMENT = manifest(
    "Deployment", "web", api="apps/v1", spec={"replicas": 1, "selector": {"matchLabels": {"app": "web"}}}
)


def test_a_crash_looping_pod_fails_the_wait_fast_with_its_reason(cluster: FakeCluster) -> None:
    cluster.store({**DEPLOYMENT.body, "status": {"replicas": 1, "updatedReplicas": 1}})
    cluster.store(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web-1",
                "namespace": "shop",
                "labels": {"app": "web"},
                "creationTimestamp": datetime.datetime.now(datetime.UTC).isoformat(),
            },
            "status": {
                "containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
            },
        }
    )
    sink = Recorder()
    failures = waiting.wait_healthy(cluster, [DEPLOYMENT], timeout=30, sink=sink, sleep=lambda s: None)
    assert failures == {DEPLOYMENT.ref: "pod web-1: container web: CrashLoopBackOff"}
    assert any(isinstance(e, HealthChanged) for e in sink.events)


def test_the_timeout_says_what_was_still_awaited(cluster: FakeCluster) -> None:
    cluster.store({**DEPLOYMENT.body, "status": {"replicas": 1, "updatedReplicas": 1, "readyReplicas": 0}})
    ticks = iter(range(100))
    failures = waiting.wait_healthy(
        cluster,
        [DEPLOYMENT],
        timeout=3,
        sink=Recorder(),
        clock=lambda: float(next(ticks)),
        sleep=lambda s: None,
    )
    assert failures == {DEPLOYMENT.ref: "not healthy after 3 s, still waiting for: 0 of 1 replicas ready"}


def test_rounds_start_at_the_first_poll_and_double_up_to_the_usual_poll(cluster: FakeCluster) -> None:
    cluster.store({**DEPLOYMENT.body, "status": {"replicas": 1, "updatedReplicas": 1, "readyReplicas": 0}})
    pauses: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    waiting.wait_healthy(
        cluster, [DEPLOYMENT], timeout=4, sink=Recorder(), clock=lambda: now[0], sleep=sleep, first_poll=0.05
    )
    assert pauses[:6] == [0.05, 0.1, 0.2, 0.4, 0.8, waiting.POLL_SECONDS]
    assert set(pauses[6:]) == {waiting.POLL_SECONDS}
    pauses.clear()
    now[0] = 0.0
    waiting.wait_healthy(cluster, [DEPLOYMENT], timeout=3, sink=Recorder(), clock=lambda: now[0], sleep=sleep)
    assert pauses == [waiting.POLL_SECONDS] * 3  # a health wait polls at the usual pace from the start


def store_rollout(cluster: FakeCluster) -> None:
    """A Deployment at revision 2, its ReplicaSets of revisions 1 and 2, all created an hour ago."""
    cluster.store(
        {
            **DEPLOYMENT.body,
            "metadata": {
                **DEPLOYMENT.body["metadata"],
                "uid": "web-uid",
                "generation": 2,
                "annotations": {"deployment.kubernetes.io/revision": "2"},
            },
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1},
        }
    )
    for revision, template_hash in (("1", "old"), ("2", "new")):
        cluster.store(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"web-{template_hash}",
                    "namespace": "shop",
                    "labels": {"app": "web", "pod-template-hash": template_hash},
                    "annotations": {"deployment.kubernetes.io/revision": revision},
                    "ownerReferences": [{"uid": "web-uid"}],
                },
            }
        )


def old_pod(template_hash: str, status: dict[str, Any]) -> dict[str, Any]:
    an_hour_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"web-{template_hash}-1",
            "namespace": "shop",
            "labels": {"app": "web", "pod-template-hash": template_hash},
            "creationTimestamp": an_hour_ago.isoformat(),
        },
        "status": status,
    }


CRASHING = {"containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}


def test_a_rerun_judges_the_current_revisions_pods_however_old(cluster: FakeCluster) -> None:
    store_rollout(cluster)
    cluster.store(old_pod("new", CRASHING))
    failures = waiting.wait_healthy(cluster, [DEPLOYMENT], timeout=30, sink=Recorder(), sleep=lambda s: None)
    assert failures == {DEPLOYMENT.ref: "pod web-new-1: container web: CrashLoopBackOff"}


def test_old_pods_of_an_earlier_revision_are_not_blamed(cluster: FakeCluster) -> None:
    store_rollout(cluster)
    cluster.store(old_pod("old", CRASHING))
    cluster.store(
        old_pod(
            "new",
            {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            },
        )
    )
    ticks = iter(range(100))
    failures = waiting.wait_healthy(
        cluster,
        [DEPLOYMENT],
        timeout=3,
        sink=Recorder(),
        clock=lambda: float(next(ticks)),
        sleep=lambda s: None,
    )
    assert failures == {
        DEPLOYMENT.ref: "not healthy after 3 s, still waiting for: 1 old replicas pending termination; "
        "pod web-new-1 not ready: ContainersNotReady"
    }


def test_only_kinds_with_health_rules_or_custom_kinds_are_waited_for() -> None:
    assert waiting.worth_waiting(ObjectRef("apps", "Deployment", "a", "b"))
    assert waiting.worth_waiting(ObjectRef("example.com", "Widget", "a", "b"))
    assert not waiting.worth_waiting(ObjectRef("", "ConfigMap", "a", "b"))
    assert not waiting.worth_waiting(ObjectRef("", "Deployment", "a", "b"))  # no such kind in the core group


# --- ownership ------------------------------------------------------------------------------------


def test_the_record_reads_back_what_was_written(cluster: FakeCluster) -> None:
    assert ownership.read_record(cluster, "dev") == ownership.Record(exists=False)
    refs = [ObjectRef("", "ConfigMap", "shop", "a"), ObjectRef("apps", "Deployment", "web", "b")]
    written = ownership.write_parent(cluster, "dev", ownership.Record(False), refs=refs, commit="c" * 40)
    assert ownership.read_record(cluster, "dev") == written
    assert written.group_kinds == {"ConfigMap", "Deployment.apps"} and written.namespaces == {"shop", "web"}


def test_members_are_found_through_the_record(cluster: FakeCluster) -> None:
    label = {ownership.PART_OF_LABEL: ownership.applyset_id("dev")}
    cluster.store(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "m", "namespace": "shop", "labels": label},
        }
    )
    record = ownership.write_parent(
        cluster, "dev", ownership.Record(False), refs=[ObjectRef("", "ConfigMap", "shop", "m")], commit=None
    )
    assert [m.ref.name for m in ownership.members(cluster, "dev", record)] == ["m"]


# --- locking --------------------------------------------------------------------------------------


def test_a_held_lock_makes_the_second_deploy_fail_naming_the_holder(cluster: FakeCluster) -> None:
    first = locking.Lock(cluster, "dev", "alice")
    first.acquire(timeout=1, sink=Recorder())
    second = locking.Lock(cluster, "dev", "bob")
    with pytest.raises(LockHeld, match="held by alice"):
        second.acquire(timeout=0, sink=Recorder(), sleep=lambda s: None)
    first.release()
    second.acquire(timeout=0, sink=Recorder())
    second.release()


def test_a_free_lock_is_taken_in_one_request(cluster: FakeCluster) -> None:
    lock = locking.Lock(cluster, "dev", "alice")
    lock.acquire(timeout=1, sink=Recorder())
    assert cluster.requests == {"create": 1}  # no read first: a round trip saved on every deploy
    lock.release()


def test_a_lock_taken_over_after_expiry_is_not_deleted_by_its_old_holder(cluster: FakeCluster) -> None:
    old = locking.Lock(cluster, "dev", "alice")
    old.acquire(timeout=1, sink=Recorder())
    lease = cluster.live("Lease", "default", "gitops-push-dev", group="coordination.k8s.io")
    assert lease is not None
    lease["spec"]["renewTime"] = "2020-01-01T00:00:00.000000Z"  # alice died long ago
    new = locking.Lock(cluster, "dev", "bob")
    new.acquire(timeout=0, sink=Recorder())
    old.release()  # its resourceVersion is stale: a 409, swallowed
    holder = cluster.live("Lease", "default", "gitops-push-dev", group="coordination.k8s.io")
    assert holder is not None and holder["spec"]["holderIdentity"].startswith("bob")
    new.release()


def test_an_unreachable_server_is_raised_without_waiting_for_a_request_hanging_in_flight() -> None:
    hanging, released = threading.Event(), threading.Event()

    def send(item: str) -> str:
        if item == "hangs":  # a connection the vanished server never closed: held until its read timeout
            hanging.set()
            released.wait(30)
            return item
        hanging.wait(5)
        raise ClusterUnreachable("cannot reach the API server https://fake.invalid: no answer for 5 s")

    started = time.monotonic()
    try:
        with pytest.raises(ClusterUnreachable):
            parallel(send, ["hangs", "fails", "never-sent"], 2, Cancellation())
        assert time.monotonic() - started < 5
    finally:
        released.set()


SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  ports:
    - port: 80
      nodePort: 99999
"""


def rejected_service(cluster: FakeCluster, source: SourceLocation, body: dict[str, Any]) -> ObjectActed:
    """The event of a Service whose dry-run the server rejects over spec.ports[0].nodePort."""
    service = Manifest(ObjectRef("", "Service", "shop", "web"), "v1", body, source)
    cause = Cause(
        "spec.ports[0].nodePort", "Invalid value: 99999: provided port is not in the valid range", ""
    )
    cluster.fail("dry-run", "web", api_error(422, "Invalid", "Service web is invalid", cause))
    sink = Recorder()
    applying.dry_run(
        cluster,
        [service],
        {service.ref: service.body},
        coming=applying.Arrivals(frozenset(), frozenset()),
        field_manager="gitops-push-dev",
        force=False,
        concurrency=1,
        sink=sink,
        cancellation=Cancellation(),
        texts={"k8s/service.yaml": SERVICE},
    )
    [event] = [e for e in sink.events if isinstance(e, ObjectActed)]
    return event


def service_body() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"ports": [{"port": 80, "nodePort": 99999}]},
    }


def test_a_dry_run_rejection_names_the_line_of_the_field_the_server_names(cluster: FakeCluster) -> None:
    event = rejected_service(cluster, SourceLocation("k8s/service.yaml", 1), service_body())

    assert event.action is Action.FAILED and event.source == SourceLocation("k8s/service.yaml", 9)
    assert event.error == "Service web is invalid"  # as the server put it: the field is the file's, no note


def test_a_dry_run_rejection_of_a_field_kustomize_changed_keeps_the_document_line(
    cluster: FakeCluster,
) -> None:
    body = service_body()
    body["spec"]["ports"][0]["nodePort"] = 99998  # a patch's value, not the file's
    source = SourceLocation("k8s/service.yaml", 1, 0, LineBasis.BUILT)

    event = rejected_service(cluster, source, body)

    assert event.source == source
    assert event.error is not None and event.error.endswith(f"({fieldlines.BUILT_FIELD_CHANGED})")


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("spec.ports[0].nodePort", ["spec", "ports", 0, "nodePort"]),
        ("metadata.name", ["metadata", "name"]),
        (
            "spec.template.spec.containers[1].env[0].name",
            ["spec", "template", "spec", "containers", 1, "env", 0, "name"],
        ),
        ("metadata.annotations[example.com/x]", None),
        ("", None),
    ],
)
def test_an_api_errors_field_reads_as_a_path(field: str, path: list[str | int] | None) -> None:
    assert fieldlines.field_path(field) == path
