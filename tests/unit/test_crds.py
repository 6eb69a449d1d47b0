"""The CRD parser, fed inline YAML: several versions, both scopes, and bodies with fields missing."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_push import crds, model, yamltext


def body_of(text: str) -> Any:
    return next(iter(yamltext.load_documents(text))).data


CERTIFICATE = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: certificates.cert.example.com}
spec:
  group: cert.example.com
  names: {kind: Certificate, plural: certificates, singular: certificate}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {dnsName: {type: string}}}
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
  - name: v1alpha1
    served: false
    storage: false
"""


def test_a_crd_with_several_versions() -> None:
    definition = crds.crd_definition(body_of(CERTIFICATE))
    assert definition is not None
    assert (definition.group, definition.kind, definition.plural) == (
        "cert.example.com",
        "Certificate",
        "certificates",
    )
    assert definition.namespaced is True
    assert definition.group_kind == "Certificate.cert.example.com"
    assert [(v.name, v.served, v.storage) for v in definition.versions] == [
        ("v1", True, True),
        ("v1beta1", True, False),
        ("v1alpha1", False, False),
    ]
    assert definition.versions[2].schema is None
    schemas = definition.schemas()
    assert sorted(schemas) == ["cert.example.com/v1", "cert.example.com/v1beta1"]
    assert schemas["cert.example.com/v1"]["properties"]["spec"]["properties"] == {
        "dnsName": {"type": "string"}
    }
    assert schemas["cert.example.com/v1beta1"] == {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }


def test_scope_cluster_is_the_only_way_to_be_cluster_wide() -> None:
    cluster = body_of(CERTIFICATE.replace("scope: Namespaced", "scope: Cluster"))
    unset = body_of(CERTIFICATE.replace("  scope: Namespaced\n", ""))
    assert "scope" not in unset["spec"]
    assert crds.crd_definition(cluster).namespaced is False  # type: ignore[union-attr]
    assert crds.crd_definition(unset).namespaced is True  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "spec",
    [
        None,
        "a string",
        {},
        {"names": {"kind": "Widget"}},  # no group
        {"group": "example.com"},  # no names
        {"group": "example.com", "names": {"plural": "widgets"}},  # no kind
        {"group": "", "names": {"kind": "Widget"}},
        {"group": "example.com", "names": {"kind": 3}},
        {"group": ["example.com"], "names": {"kind": "Widget"}},
        {"group": "example.com", "names": ["Widget"]},
    ],
)
def test_a_body_without_group_or_kind_defines_nothing(spec: Any) -> None:
    body = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "spec": spec}
    assert crds.crd_definition(body) is None
    assert crds.crd_definition({"kind": "CustomResourceDefinition"}) is None


def test_missing_or_odd_optional_fields_are_left_out() -> None:
    body = {
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget"},
            "versions": [
                {"served": True},  # no name: not a version
                "v2",
                {"name": "v1", "schema": "not a mapping"},
                {"name": "v3", "schema": {"openAPIV3Schema": ["not", "a", "schema"]}},
                {"name": "v4", "served": "yes", "schema": {}},
            ],
        }
    }
    definition = crds.crd_definition(body)
    assert definition is not None
    assert definition.plural is None
    assert definition.namespaced is True
    assert [v.name for v in definition.versions] == ["v1", "v3", "v4"]
    assert all(v.schema is None and not v.served and not v.storage for v in definition.versions)
    assert definition.schemas() == {}


def test_versions_that_are_not_a_list_give_none() -> None:
    body = {"spec": {"group": "example.com", "names": {"kind": "Widget"}, "versions": {"name": "v1"}}}
    definition = crds.crd_definition(body)
    assert definition is not None
    assert definition.versions == ()


def test_only_the_apiextensions_group_defines_crds() -> None:
    assert crds.is_crd("apiextensions.k8s.io", "CustomResourceDefinition")
    assert not crds.is_crd("example.com", "CustomResourceDefinition")  # a bare kind is no key
    assert not crds.is_crd("apiextensions.k8s.io", "CustomResourceDefinitionList")


def test_definitions_of_the_crds_among_manifests_in_order() -> None:
    def manifest(body: Any) -> model.Manifest:
        group, _, _ = body["apiVersion"].rpartition("/")
        ref = model.ObjectRef(group, body["kind"], None, body["metadata"]["name"])
        return model.Manifest(
            ref=ref, api_version=body["apiVersion"], body=body, source=model.SourceLocation("c.yaml", 1)
        )

    certificate = body_of(CERTIFICATE)
    widget = body_of(CERTIFICATE.replace("cert.example.com", "example.com").replace("Certificate", "Widget"))
    broken = {**certificate, "metadata": {"name": "broken"}, "spec": {"group": "example.com"}}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "spec": certificate["spec"]}
    definitions = crds.definitions([manifest(b) for b in (widget, config, broken, certificate)])
    assert [d.group_kind for d in definitions] == ["Widget.example.com", "Certificate.cert.example.com"]
