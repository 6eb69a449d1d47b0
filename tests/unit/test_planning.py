"""planning: candidates, waves, the rendered plan, masked diffs, the applied body, and the online comparison."""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping
from typing import Any

from gitops_push import kinds
from gitops_push.model import Change, ChangeSet, Manifest, ObjectRef, Op, Plan, Range, Skipped, SourceLocation
from gitops_push.stages import planning

BASE = "1111111111111111111111111111111111111111"
HEAD = "2222222222222222222222222222222222222222"
SPAN = Range(BASE, HEAD, "deployed/prod/20240101T000000Z")


def manifest(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    path: str = "k8s/app.yaml",
    line: int = 1,
    **fields: Any,
) -> Manifest:
    group = kinds.split_api_version(api_version)[0]
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    body = {"apiVersion": api_version, "kind": kind, "metadata": metadata, **fields}
    return Manifest(ObjectRef(group, kind, namespace, name), api_version, body, SourceLocation(path, line))


def change_set(
    old: list[Manifest] | None = None, new: list[Manifest] | None = None, *, full: bool = False
) -> ChangeSet:
    return ChangeSet(
        range=SPAN,
        old={m.ref: m for m in old or []},
        new={m.ref: m for m in new or []},
        full=full,
    )


def offline_plan(old: list[Manifest], new: list[Manifest], *, prune: bool = True) -> Plan:
    changes = change_set(old, new)
    chosen = planning.candidates(changes)
    return planning.build(changes, chosen, observations=None, prune=chosen.gone if prune else ())


def refs(waves: tuple[tuple[Change, ...], ...]) -> list[list[str]]:
    return [[f"{c.op.value} {c.ref}" for c in wave] for wave in waves]


# --- candidates ----------------------------------------------------------------------------------


def test_candidates_split_new_changed_unchanged_and_gone() -> None:
    same = manifest("v1", "ConfigMap", "same", "shop", data={"a": "1"})
    edited_before = manifest("v1", "ConfigMap", "edited", "shop", data={"a": "1"})
    edited_after = manifest("v1", "ConfigMap", "edited", "shop", data={"a": "2"})
    added = manifest("v1", "ConfigMap", "added", "shop")
    removed = manifest("v1", "ConfigMap", "removed", "shop")
    chosen = planning.candidates(change_set([same, edited_before, removed], [same, edited_after, added]))
    assert chosen.to_apply == (added, edited_after)
    assert chosen.unchanged == (same,)
    assert chosen.gone == (removed,)


def test_a_full_change_set_applies_everything_even_if_unchanged() -> None:
    same = manifest("v1", "ConfigMap", "same", "shop")
    chosen = planning.candidates(change_set([same], [same], full=True))
    assert chosen.to_apply == (same,)
    assert chosen.unchanged == ()


def test_a_moved_object_is_unchanged_though_its_source_differs() -> None:
    before = manifest("v1", "ConfigMap", "a", "shop", path="k8s/old.yaml", line=3)
    after = manifest("v1", "ConfigMap", "a", "shop", path="k8s/new.yaml", line=9)
    chosen = planning.candidates(change_set([before], [after]))
    assert chosen.to_apply == ()
    assert chosen.unchanged == (after,)


# --- waves -----------------------------------------------------------------------------------------

ALL_KINDS = [
    manifest("apps/v1", "Deployment", "web", "shop"),
    manifest("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "guard"),
    manifest("v1", "Service", "web", "shop"),
    manifest("example.com/v1", "Widget", "w", "shop"),
    manifest("v1", "Secret", "creds", "shop"),
    manifest("rbac.authorization.k8s.io/v1", "ClusterRole", "reader"),
    manifest("v1", "ConfigMap", "settings", "shop"),
    manifest("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com"),
    manifest("v1", "Namespace", "shop"),
    manifest("batch/v1", "CronJob", "nightly", "shop"),
    manifest("autoscaling/v2", "HorizontalPodAutoscaler", "web", "shop"),
    manifest("scheduling.k8s.io/v1", "PriorityClass", "high"),
    manifest("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "inject"),
    manifest("example.com/v1", "Gadget", "g"),
]

EXPECTED_APPLY_WAVES = [
    ["create Namespace shop"],
    ["create CustomResourceDefinition.apiextensions.k8s.io widgets.example.com"],
    [
        "create Gadget.example.com g",
        "create ClusterRole.rbac.authorization.k8s.io reader",
        "create PriorityClass.scheduling.k8s.io high",
    ],
    ["create ConfigMap shop/settings", "create Secret shop/creds", "create Service shop/web"],
    ["create Deployment.apps shop/web", "create CronJob.batch shop/nightly"],
    ["create HorizontalPodAutoscaler.autoscaling shop/web", "create Widget.example.com shop/w"],
    [
        "create MutatingWebhookConfiguration.admissionregistration.k8s.io inject",
        "create ValidatingWebhookConfiguration.admissionregistration.k8s.io guard",
    ],
]


def test_apply_waves_follow_the_kind_order_with_webhooks_last() -> None:
    plan = offline_plan([], ALL_KINDS)
    assert refs(plan.apply_waves) == EXPECTED_APPLY_WAVES
    assert plan.prune_waves == ()


def test_prune_waves_are_the_apply_waves_reversed() -> None:
    plan = offline_plan(ALL_KINDS, [])
    expected = [
        [line.replace("create ", "delete ") for line in wave] for wave in reversed(EXPECTED_APPLY_WAVES)
    ]
    assert refs(plan.prune_waves) == expected
    assert plan.apply_waves == ()


def test_waves_with_no_member_are_left_out() -> None:
    plan = offline_plan(
        [], [manifest("apps/v1", "Deployment", "web", "shop"), manifest("v1", "Namespace", "shop")]
    )
    assert refs(plan.apply_waves) == [["create Namespace shop"], ["create Deployment.apps shop/web"]]


def test_the_wave_table_orders_the_waves() -> None:
    assert (
        kinds.Wave.NAMESPACES
        < kinds.Wave.CRDS
        < kinds.Wave.CLUSTER
        < kinds.Wave.CONFIG
        < kinds.Wave.WORKLOADS
        < kinds.Wave.OTHER
        < kinds.Wave.WEBHOOKS
    )
    assert kinds.wave_of("rbac.authorization.k8s.io", "ClusterRole", namespaced=False) is kinds.Wave.CLUSTER
    assert kinds.wave_of("example.com", "Widget", namespaced=True) is kinds.Wave.OTHER


# --- the rendered plan ------------------------------------------------------------------------------


def test_plan_render_golden() -> None:
    old = [
        manifest("v1", "ConfigMap", "settings", "shop", data={"mode": "fast"}),
        manifest("v1", "Service", "legacy", "shop"),
        manifest("v1", "ConfigMap", "same", "shop"),
    ]
    new = [
        manifest("v1", "ConfigMap", "settings", "shop", data={"mode": "safe"}),
        manifest("v1", "ConfigMap", "same", "shop"),
        manifest("apps/v1", "Deployment", "web", "shop"),
        manifest("v1", "Namespace", "shop"),
    ]
    plan = offline_plan(old, new)
    assert plan.render() == (
        f"range {BASE}..{HEAD}\n"
        "apply wave 1: create Namespace shop\n"
        "apply wave 2: update ConfigMap shop/settings\n"
        "apply wave 3: create Deployment.apps shop/web\n"
        "prune wave 1: delete Service shop/legacy\n"
        "unchanged: ConfigMap shop/same"
    )
    assert not plan.is_empty
    assert [str(c.ref) for c in plan.changes] == [
        "Namespace shop",
        "ConfigMap shop/settings",
        "Deployment.apps shop/web",
        "Service shop/legacy",
    ]


def test_an_empty_plan_renders_its_range_only() -> None:
    plan = planning.build(
        ChangeSet(Range(None, HEAD), {}, {}), planning.Candidates((), (), ()), observations=None, prune=()
    )
    assert plan.render() == f"range (none)..{HEAD}"
    assert plan.is_empty


def test_build_keeps_skipped_notes_and_fullness() -> None:
    skipped = (Skipped(SourceLocation("k8s/kustomization.yaml", 1), "a kustomize file"),)
    changes = change_set([], [manifest("v1", "Namespace", "shop")], full=True)
    plan = planning.build(
        changes, planning.candidates(changes), observations=None, prune=(), skipped=skipped, notes=("why",)
    )
    assert plan.skipped == skipped
    assert plan.notes == ("why",)
    assert plan.full
    assert plan.range == SPAN


def test_offline_diffs_are_unified_diffs_of_sorted_yaml() -> None:
    before = manifest("v1", "ConfigMap", "settings", "shop", data={"mode": "fast", "size": "1"})
    after = manifest("v1", "ConfigMap", "settings", "shop", data={"mode": "safe", "size": "1"})
    [change] = offline_plan([before], [after]).changes
    assert change.op is Op.UPDATE
    assert change.previous == before
    assert change.diff == (
        "@@ -1,6 +1,6 @@",
        " apiVersion: v1",
        " data:",
        "-  mode: fast",
        "+  mode: safe",
        "   size: '1'",
        " kind: ConfigMap",
        " metadata:",
    )


def test_a_created_object_diffs_against_nothing_and_a_pruned_one_to_nothing() -> None:
    plan = offline_plan([manifest("v1", "Service", "old", "shop")], [manifest("v1", "Namespace", "shop")])
    [create], [delete] = plan.apply_waves[0], plan.prune_waves[0]
    assert create.diff == (
        "@@ -0,0 +1,4 @@",
        "+apiVersion: v1",
        "+kind: Namespace",
        "+metadata:",
        "+  name: shop",
    )
    assert delete.op is Op.DELETE
    assert delete.desired is None
    assert delete.diff[0] == "@@ -1,5 +0,0 @@"
    assert all(line.startswith(("-", "@@")) for line in delete.diff)


# --- Secret values never reach a diff ---------------------------------------------------------------------

PLAIN_OLD = "s3cr3t-OLD-value-4711"
PLAIN_NEW = "s3cr3t-NEW-value-0815"
STRING_OLD = "string-OLD-token-9999"
STRING_NEW = "string-NEW-token-1234"
KEPT = "kept-value-never-shown"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(password: str, token: str, **extra: Any) -> Manifest:
    return manifest(
        "v1",
        "Secret",
        "creds",
        "shop",
        data={"password": b64(password), "kept": b64(KEPT)},
        stringData={"token": token},
        **extra,
    )


def all_text(changes: tuple[Change, ...]) -> str:
    return "\n".join(line for change in changes for line in change.diff)


def assert_no_secret_value(text: str) -> None:
    for value in (PLAIN_OLD, PLAIN_NEW, STRING_OLD, STRING_NEW, KEPT):
        assert value not in text
        assert b64(value) not in text


def test_a_changed_secret_diff_shows_that_values_changed_never_the_values() -> None:
    plan = offline_plan([secret(PLAIN_OLD, STRING_OLD)], [secret(PLAIN_NEW, STRING_NEW)])
    [change] = plan.changes
    text = all_text(plan.changes)
    assert_no_secret_value(text)
    assert "+  password: (hidden, changed)" in change.diff
    assert "+  token: (hidden, changed)" in change.diff
    assert "-  password: (hidden)" in change.diff
    assert "   kept: (hidden)" in change.diff  # unchanged: context, not a change


def test_a_new_key_in_a_secret_is_marked_changed() -> None:
    before = manifest("v1", "Secret", "creds", "shop", data={"a": b64(PLAIN_OLD)})
    after = manifest("v1", "Secret", "creds", "shop", data={"a": b64(PLAIN_OLD), "b": b64(PLAIN_NEW)})
    [change] = offline_plan([before], [after]).changes
    assert "+  b: (hidden, changed)" in change.diff
    assert_no_secret_value(all_text((change,)))


def test_created_and_pruned_secrets_show_no_values() -> None:
    created = secret(PLAIN_NEW, STRING_NEW)
    pruned = manifest(
        "v1", "Secret", "gone", "shop", data={"x": b64(PLAIN_OLD)}, stringData={"y": STRING_OLD}
    )
    plan = offline_plan([pruned], [created])
    assert_no_secret_value(all_text(plan.changes))
    [create] = plan.apply_waves[0]
    assert "+  password: (hidden)" in create.diff
    assert "+  token: (hidden)" in create.diff


def test_the_last_applied_annotation_is_hidden_in_diffs() -> None:
    desired = secret(PLAIN_NEW, STRING_NEW)
    last_applied = (
        f'{{"data": {{"password": "{b64(PLAIN_NEW)}"}}, "stringData": {{"token": "{STRING_NEW}"}}}}'
    )
    live = copy.deepcopy(dict(secret(PLAIN_OLD, STRING_OLD).body))
    answer = copy.deepcopy(dict(desired.body))
    answer["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": last_applied}
    change = planning.online_change(desired, None, planning.Observation(live=live, answer=answer))
    assert change.op is Op.UPDATE
    assert_no_secret_value(all_text((change,)))
    assert "+    kubectl.kubernetes.io/last-applied-configuration: (hidden)" in change.diff


def test_the_last_applied_annotation_is_hidden_for_every_kind() -> None:
    desired = manifest("v1", "ConfigMap", "a", "shop", data={"k": "v"})
    answer = copy.deepcopy(dict(desired.body))
    answer["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": '{"data":"LAST"}'
    }
    change = planning.online_change(desired, None, planning.Observation(live=None, answer=answer))
    assert "+    kubectl.kubernetes.io/last-applied-configuration: (hidden)" in change.diff
    assert "LAST" not in all_text((change,))
    assert (
        answer["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        == '{"data":"LAST"}'
    )


def test_an_online_secret_diff_hides_live_and_answered_values() -> None:
    desired = secret(PLAIN_NEW, STRING_NEW)
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "shop", "resourceVersion": "7"},
        "data": {"password": b64(PLAIN_OLD), "token": b64(STRING_OLD), "kept": b64(KEPT)},
    }
    answer = {
        **live,
        "metadata": {"name": "creds", "namespace": "shop", "resourceVersion": "8"},
        "data": {"password": b64(PLAIN_NEW), "token": b64(STRING_NEW), "kept": b64(KEPT)},
    }
    change = planning.online_change(desired, None, planning.Observation(live=live, answer=answer))
    assert change.op is Op.UPDATE
    assert_no_secret_value(all_text((change,)))
    assert "+  password: (hidden, changed)" in change.diff
    assert "+  token: (hidden, changed)" in change.diff
    assert not any("kept" in line and line.startswith(("+", "-")) for line in change.diff)


# --- the body to apply ---------------------------------------------------------------------------------


def test_desired_body_adds_labels_without_changing_the_manifest() -> None:
    original = manifest("apps/v1", "Deployment", "web", "shop", spec={"replicas": 2})
    original.body["metadata"]["labels"] = {"app": "web", "applyset": "old"}
    snapshot = copy.deepcopy(dict(original.body))
    body = planning.desired_body(original, {"applyset": "new", "team": "shop"})
    assert body["metadata"]["labels"] == {"app": "web", "applyset": "new", "team": "shop"}
    assert body["metadata"]["name"] == "web"
    assert body["spec"] == {"replicas": 2}
    assert original.body == snapshot


def test_desired_body_without_labels_in_git() -> None:
    original = manifest("v1", "ConfigMap", "a", "shop")
    body = planning.desired_body(original, {"applyset": "x"})
    assert body["metadata"] == {"name": "a", "namespace": "shop", "labels": {"applyset": "x"}}
    assert "labels" not in original.body["metadata"]


# --- online comparison -------------------------------------------------------------------------------


def live_deployment(**metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", **metadata},
        "spec": {"replicas": 2},
    }


def observation(live: Mapping[str, Any] | None, answer: Mapping[str, Any] | None) -> planning.Observation:
    return planning.Observation(live=live, answer=answer)


def test_online_unchanged_when_only_server_managed_metadata_differs() -> None:
    desired = manifest("apps/v1", "Deployment", "web", "shop", spec={"replicas": 2})
    live = live_deployment(resourceVersion="10", managedFields=[{"manager": "kubectl"}], generation=3)
    answer = live_deployment(resourceVersion="11", managedFields=[{"manager": "gitops-push"}], generation=4)
    change = planning.online_change(desired, None, observation(live, answer))
    assert change.op is Op.UNCHANGED
    assert change.diff == ()


def test_online_update_when_the_answer_differs_from_live() -> None:
    desired = manifest("apps/v1", "Deployment", "web", "shop", spec={"replicas": 3})
    live = live_deployment(resourceVersion="10")
    answer = {**live_deployment(resourceVersion="11"), "spec": {"replicas": 3}}
    change = planning.online_change(desired, None, observation(live, answer))
    assert change.op is Op.UPDATE
    assert "-  replicas: 2" in change.diff
    assert "+  replicas: 3" in change.diff
    assert not any("resourceVersion" in line for line in change.diff)


def test_online_create_when_nothing_is_live() -> None:
    desired = manifest("apps/v1", "Deployment", "web", "shop", spec={"replicas": 2})
    answer = live_deployment(uid="abc", creationTimestamp="2024-01-01T00:00:00Z")
    change = planning.online_change(desired, None, observation(None, answer))
    assert change.op is Op.CREATE
    assert "+  name: web" in change.diff
    assert not any("uid" in line or "creationTimestamp" in line for line in change.diff)


def test_online_falls_back_to_git_when_there_is_no_dry_run_answer() -> None:
    before = manifest("apps/v1", "Deployment", "web", "shop", spec={"replicas": 2})
    after = manifest("apps/v1", "Deployment", "web", "shop", spec={"replicas": 3})
    assert planning.online_change(
        after, before, observation(live_deployment(), None)
    ) == planning.offline_change(after, before)
    assert planning.online_change(after, None, None).op is Op.CREATE


def test_build_online_moves_unchanged_answers_out_of_the_waves() -> None:
    same = manifest("apps/v1", "Deployment", "web", "shop", spec={"replicas": 2})
    changed = manifest("v1", "ConfigMap", "settings", "shop", data={"a": "2"})
    changes = change_set([], [same, changed])
    live_cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop"}}
    observations = {
        same.ref: observation(live_deployment(resourceVersion="1"), live_deployment(resourceVersion="2")),
        changed.ref: observation({**live_cm, "data": {"a": "1"}}, {**live_cm, "data": {"a": "2"}}),
    }
    plan = planning.build(changes, planning.candidates(changes), observations=observations, prune=())
    assert plan.render() == (
        f"range {BASE}..{HEAD}\napply wave 1: update ConfigMap shop/settings\nunchanged: Deployment.apps shop/web"
    )


def test_an_unfinished_attempt_widens_the_change_set() -> None:
    from gitops_push.model import ChangeSet, Range

    def cm(name: str, value: str) -> Manifest:
        return Manifest(
            ObjectRef("", "ConfigMap", "shop", name),
            "v1",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "shop"},
                "data": {"v": value},
            },
            SourceLocation("k8s/a.yaml", 1),
        )

    base_to_head = ChangeSet(Range("b" * 40, "h" * 40), {}, {})  # a revert: head's tree is base's
    attempt_to_head = ChangeSet(
        Range("a" * 40, "h" * 40),
        {
            cm("edited", "attempt").ref: cm("edited", "attempt"),
            cm("added", "attempt").ref: cm("added", "attempt"),
        },
        {cm("edited", "head").ref: cm("edited", "head")},
    )
    widened = planning.with_unfinished(base_to_head, attempt_to_head)
    chosen = planning.candidates(widened)
    assert [m.ref.name for m in chosen.to_apply] == ["edited"]
    assert [m.ref.name for m in chosen.gone] == ["added"]
    assert widened.range == base_to_head.range


def test_status_asks_for_fields_other_managers_added_and_a_plan_does_not() -> None:
    desired = manifest("v1", "ConfigMap", "web-config", "shop", data={"A": "1"})
    managed = [
        {"manager": "gitops-push", "operation": "Apply", "fieldsV1": {"f:data": {"f:A": {}}}},
        {"manager": "kubectl-patch", "operation": "Update", "fieldsV1": {"f:data": {"f:EXTRA": {}}}},
    ]
    live = {
        **desired.body,
        "data": {"A": "1", "EXTRA": "x"},
        "metadata": {**desired.body["metadata"], "managedFields": managed},
    }
    changes = change_set([desired], [desired], full=True)
    chosen = planning.candidates(changes)
    observed = {desired.ref: planning.Observation(live=live, answer=live)}

    status = planning.build(changes, chosen, observations=observed, prune=(), ours=frozenset({"gitops-push"}))
    plan = planning.build(changes, chosen, observations=observed, prune=())

    (change,) = status.unchanged  # the dry-run keeps EXTRA: our own fields are in sync
    assert [(o.manager, o.fields) for o in change.others] == [("kubectl-patch", (".data.EXTRA",))]
    assert status.with_others == (change,)
    assert plan.with_others == ()
