"""kube.fields: who set which fields of a live object, from its managedFields (pure)."""

from __future__ import annotations

from typing import Any

from gitops_push.kube import fields
from gitops_push.model import ForeignFields

OURS = frozenset({"gitops-push"})


def entry(manager: str, tree: dict[str, Any], **extra: str) -> dict[str, Any]:
    return {"manager": manager, "operation": "Update", "fieldsV1": tree, **extra}


def config_map(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"managedFields": list(entries)}}


GIT = entry(
    "gitops-push",
    {"f:data": {"f:A": {}}, "f:metadata": {"f:labels": {"f:app": {}}}},
    operation="Apply",
)


def test_a_field_another_manager_added_is_named_with_the_manager() -> None:
    live = config_map(GIT, entry("kubectl-patch", {"f:data": {".": {}, "f:EXTRA": {}}}))
    assert fields.set_by_others(live, live, OURS) == (ForeignFields("kubectl-patch", (".data.EXTRA",)),)


def test_our_fields_co_owned_by_another_manager_are_not_extra() -> None:
    # kubectl-edit changed A: the dry-run answer (forced) gives A back to us; that is drift, not extra.
    live = config_map(
        entry("gitops-push", {"f:metadata": {"f:labels": {"f:app": {}}}}, operation="Apply"),
        entry("kubectl-edit", {"f:data": {"f:A": {}}}),
    )
    answer = config_map(GIT)
    assert fields.set_by_others(live, answer, OURS) == ()


def test_controllers_status_writers_and_apply_bookkeeping_are_quiet() -> None:
    live = config_map(
        GIT,
        entry(
            "kube-controller-manager",
            {"f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}}},
        ),
        entry("some-operator", {"f:status": {"f:phase": {}}}, subresource="status"),
        entry("before-first-apply", {"f:data": {"f:OLD": {}}}),
        entry(
            "kubectl-client-side-apply",
            {"f:metadata": {"f:annotations": {"f:kubectl.kubernetes.io/last-applied-configuration": {}}}},
        ),
    )
    assert fields.set_by_others(live, live, OURS) == ()


def test_list_items_and_set_values_are_rendered_by_their_keys() -> None:
    containers: dict[str, Any] = {
        "f:spec": {
            "f:containers": {'k:{"name":"web"}': {"f:env": {'k:{"name":"DEBUG"}': {".": {}, "f:value": {}}}}}
        }
    }
    finalizers: dict[str, Any] = {"f:metadata": {"f:finalizers": {'v:"example.com/keep"': {}}}}
    live = config_map(GIT, entry("kubectl-edit", containers), entry("operator", finalizers))
    assert fields.set_by_others(live, None, OURS) == (
        ForeignFields("kubectl-edit", (".spec.containers[name=web].env[name=DEBUG].value",)),
        ForeignFields("operator", ('.metadata.finalizers["example.com/keep"]',)),
    )


def test_inside_a_leaf_of_ours_nothing_is_extra() -> None:
    # We own .spec.selector as a whole (an atomic map): what another manager lists inside is ours.
    live = config_map(
        entry("gitops-push", {"f:spec": {"f:selector": {}}}, operation="Apply"),
        entry("someone", {"f:spec": {"f:selector": {"f:app": {}}}}),
    )
    assert fields.set_by_others(live, live, OURS) == ()
