"""Which custom kinds go unchecked offline: those of the manifests that no CRD in the change defines."""

from __future__ import annotations

from typing import Any

from gitops_push import model, yamltext
from gitops_push.stages import validating


def manifests(text: str) -> list[model.Manifest]:
    found = []
    for document in yamltext.load_documents(text):
        body: Any = document.data
        group, _, _ = body["apiVersion"].rpartition("/")
        ref = model.ObjectRef(
            group, body["kind"], body["metadata"].get("namespace"), body["metadata"]["name"]
        )
        source = model.SourceLocation("app.yaml", document.line, document.index)
        found.append(model.Manifest(ref=ref, api_version=body["apiVersion"], body=body, source=source))
    return found


OBJECTS = manifests("""\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: small, namespace: shop}
---
apiVersion: example.com/v2
kind: Widget
metadata: {name: large, namespace: shop}
---
apiVersion: cert.example.com/v1
kind: Certificate
metadata: {name: web, namespace: shop}
---
apiVersion: monitoring.example.com/v1
kind: Probe
metadata: {name: web, namespace: shop}
""")

WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true}]
"""


def test_every_custom_kind_without_a_crd_once_sorted() -> None:
    assert validating.unchecked_custom_kinds(OBJECTS, []) == [
        "Certificate.cert.example.com",
        "Probe.monitoring.example.com",
        "Widget.example.com",
    ]


def test_a_crd_in_the_change_covers_its_kind_in_every_version() -> None:
    assert validating.unchecked_custom_kinds(OBJECTS, manifests(WIDGET_CRD)) == [
        "Certificate.cert.example.com",
        "Probe.monitoring.example.com",
    ]


def test_built_in_kinds_are_never_unchecked() -> None:
    assert validating.unchecked_custom_kinds(OBJECTS[:1], []) == []
    assert validating.unchecked_custom_kinds([], manifests(WIDGET_CRD)) == []


def test_a_crd_of_another_group_or_without_a_kind_defines_nothing() -> None:
    impostor = manifests(WIDGET_CRD.replace("apiextensions.k8s.io/v1", "example.com/v1"))
    nameless = manifests(
        WIDGET_CRD.replace("names: {kind: Widget, plural: widgets}", "names: {plural: widgets}")
    )
    for crds in (impostor, nameless):
        assert "Widget.example.com" in validating.unchecked_custom_kinds(OBJECTS, crds)


def test_offline_validation_reports_no_finding_for_the_unchecked_kinds() -> None:
    # The same rule seen from `validate`: the kinds named above are skipped, not "unknown kind".
    findings = validating.validate(OBJECTS, validating.BundledSchemas(), text_of=lambda path: "")
    assert findings == []
    unknown = manifests(
        "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: old, namespace: shop}\n"
    )
    assert [
        f.message for f in validating.validate(unknown, validating.BundledSchemas(), text_of=lambda path: "")
    ] == ["unknown kind Ingress in apiVersion extensions/v1beta1"]
