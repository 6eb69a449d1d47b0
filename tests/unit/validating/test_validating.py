"""The validating stage against the bundled v1.36 schemas (and a fake cluster), fed inline YAML."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import pytest

from gitops_push import forking, model, yamltext
from gitops_push.stages import validating

BUNDLED = validating.BundledSchemas()

WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        required: [spec, status]
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              port: {x-kubernetes-int-or-string: true}
              mode: {type: string, enum: [fast, slow]}
              note: {type: string, nullable: true}
              config:
                type: object
                x-kubernetes-preserve-unknown-fields: true
                properties:
                  level: {type: integer}
              template:
                type: object
                x-kubernetes-embedded-resource: true
                x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            properties:
              ready: {type: boolean}
"""

VALID_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  creationTimestamp: null
  labels: {app: web}
  annotations:
    example.com/built: 2024-01-01
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example/web:1.2.3
        imagePullPolicy: IfNotPresent
        ports:
        - {name: http, containerPort: 8080}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: 1, memory: 256Mi}
        readinessProbe:
          httpGet: {path: /ready, port: http}
status: {}
"""


def manifests_in(text: str, path: str = "app.yaml") -> list[model.Manifest]:
    """Every object of a YAML stream, the way `loading` hands them over (List items unpacked)."""
    found = []
    for document in yamltext.load_documents(text):
        bodies = document.data["items"] if document.data["kind"] == "List" else [document.data]
        for body in bodies:
            group, _, _ = body["apiVersion"].rpartition("/")
            metadata = body["metadata"]
            ref = model.ObjectRef(group, body["kind"], metadata.get("namespace"), metadata["name"])
            source = model.SourceLocation(path, document.line, document.index)
            found.append(model.Manifest(ref=ref, api_version=body["apiVersion"], body=body, source=source))
    return found


def check(text: str, *, crds: str = "", schemas: validating.SchemaSource = BUNDLED) -> list[model.Finding]:
    files = {"app.yaml": text, "crds.yaml": crds}
    return validating.validate(
        manifests_in(text),
        schemas,
        text_of=files.__getitem__,
        crds=manifests_in(crds, "crds.yaml") if crds else (),
    )


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line of `text` that contains `needle`."""
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


def summary(findings: Sequence[model.Finding]) -> list[tuple[str, str]]:
    return [(f.field_path, f.message) for f in findings]


def test_a_valid_deployment_passes() -> None:
    assert check(VALID_DEPLOYMENT) == []


def test_an_unknown_field_is_reported_with_its_path_and_line() -> None:
    text = VALID_DEPLOYMENT.replace("  replicas: 2", "  replicaz: 2").replace(
        "        imagePullPolicy: IfNotPresent", "        imagePulPolicy: IfNotPresent"
    )
    findings = check(text)
    assert summary(findings) == [
        ("spec.replicaz", 'unknown field "replicaz"'),
        ("spec.template.spec.containers[0].imagePulPolicy", 'unknown field "imagePulPolicy"'),
    ]
    assert [f.source.line for f in findings] == [line_of(text, "replicaz"), line_of(text, "imagePulPolicy")]
    assert all(f.source.path == "app.yaml" and f.source.document == 0 for f in findings)
    assert findings[0].ref == model.ObjectRef("apps", "Deployment", "shop", "web")


def test_a_wrong_type_is_reported() -> None:
    text = VALID_DEPLOYMENT.replace("replicas: 2", "replicas: two")
    [finding] = check(text)
    assert (finding.field_path, finding.message) == ("spec.replicas", 'expected integer, got string "two"')
    assert finding.source.line == line_of(text, "replicas: two")


def test_an_enum_violation_names_the_allowed_values() -> None:
    text = VALID_DEPLOYMENT.replace("IfNotPresent", "Sometimes")
    assert summary(check(text)) == [
        (
            "spec.template.spec.containers[0].imagePullPolicy",
            'expected one of "Always", "IfNotPresent", "Never", got "Sometimes"',
        )
    ]


def test_a_missing_required_field_points_at_its_parent_line() -> None:
    text = VALID_DEPLOYMENT.replace("  selector:\n    matchLabels: {app: web}\n", "")
    [finding] = check(text)
    assert (finding.field_path, finding.message) == ("spec.selector", 'missing required field "selector"')
    assert finding.source.line == line_of(text, "spec:")


@pytest.mark.parametrize(("target_port", "surge"), [("8080", "1"), ("http", "25%")])
def test_int_or_string_accepts_both(target_port: str, surge: str) -> None:
    text = f"""\
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: {target_port}}}]
---
{VALID_DEPLOYMENT.replace("maxSurge: 25%", f"maxSurge: {surge}")}"""
    assert check(text) == []


def test_int_or_string_rejects_other_types() -> None:
    text = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, targetPort: true}]
"""
    assert summary(check(text)) == [
        ("spec.ports[0].targetPort", "expected integer or string, got boolean true")
    ]


def test_odd_keys_are_quoted_in_the_field_path() -> None:
    text = VALID_DEPLOYMENT.replace("example.com/built: 2024-01-01", "example.com/built: 7")
    assert summary(check(text)) == [
        ('metadata.annotations["example.com/built"]', "expected string, got integer 7")
    ]


def test_preserve_unknown_fields_opens_the_object_and_everything_below_it() -> None:
    text = """\
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: shop}
spec:
  size: 1
  config:
    anything: goes
    level: 3
    nested: {deeper: [1, 2]}
  template:
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec: {whatever: 1}
"""
    assert check(text, crds=WIDGET_CRD) == []
    # Types still count there, and the levels above stay closed.
    wrong = text.replace("level: 3", "level: high").replace("  size: 1", "  size: 1\n  colour: red")
    assert summary(check(wrong, crds=WIDGET_CRD)) == [
        ("spec.colour", 'unknown field "colour"'),
        ("spec.config.level", 'expected integer, got string "high"'),
    ]


def test_a_custom_resource_is_checked_against_the_crd_of_the_change() -> None:
    text = """\
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: shop}
spec:
  size: 0
  port: http
  mode: medium
  note: null
  template: {metadata: {name: p}}
"""
    findings = check(text, crds=WIDGET_CRD)
    assert summary(findings) == [
        ("spec.mode", 'expected one of "fast", "slow", got "medium"'),
        ("spec.size", "must be >= 1, got 0"),
        ("spec.template.apiVersion", 'missing required field "apiVersion"'),
        ("spec.template.kind", 'missing required field "kind"'),
    ]
    assert findings[0].source == model.SourceLocation("app.yaml", line_of(text, "mode:"), 0)


def test_each_version_of_a_crd_checks_its_own_custom_resources() -> None:
    # v2 renames spec.size to spec.replicas; v1alpha1 has no schema, so its resources go unchecked.
    crd = (
        WIDGET_CRD
        + """\
  - name: v2
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas: {type: integer}
  - name: v1alpha1
    served: false
    storage: false
"""
    )
    text = """\
apiVersion: example.com/v1
kind: Widget
metadata: {name: a, namespace: shop}
spec: {replicas: 1}
---
apiVersion: example.com/v2
kind: Widget
metadata: {name: b, namespace: shop}
spec: {size: 1}
---
apiVersion: example.com/v2
kind: Widget
metadata: {name: c, namespace: shop}
spec: {replicas: 1}
---
apiVersion: example.com/v1alpha1
kind: Widget
metadata: {name: d, namespace: shop}
spec: {anything: 1}
"""
    findings = check(text, crds=crd)
    assert [(f.ref.name if f.ref else None, f.field_path, f.message) for f in findings] == [
        ("a", "spec.replicas", 'unknown field "replicas"'),
        ("a", "spec.size", 'missing required field "size"'),
        ("b", "spec.size", 'unknown field "size"'),
    ]


def test_status_is_never_required_of_a_manifest() -> None:
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 1}\n"
    assert check(text, crds=WIDGET_CRD) == []


def test_null_needs_nullable_in_a_crd_but_not_in_a_built_in_type() -> None:
    text = """\
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: shop}
spec: {size: 1, note: null, mode: null}
"""
    assert summary(check(text, crds=WIDGET_CRD)) == [("spec.mode", "expected string, got null")]
    # `kubectl create --dry-run=client -o yaml` writes these nulls, and the API server accepts them.
    built_in = VALID_DEPLOYMENT.replace("replicas: 2", "replicas: null").replace(
        "labels: {app: web}\n  annotations", "labels: {app: null}\n  annotations"
    )
    assert built_in.count("null") == 3
    assert check(built_in) == []


def test_a_secret_value_never_appears_in_a_message() -> None:
    text = """\
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
type: Opaque
stringData: {password: 8675309}
data: {token: 31337}
immutable: hunter2
"""
    findings = check(text)
    assert summary(findings) == [
        ("data.token", "expected string, got integer"),
        ("immutable", "expected boolean, got string"),
        ("stringData.password", "expected string, got integer"),
    ]
    for finding in findings:
        for secret in ("8675309", "31337", "hunter2"):
            assert secret not in str(finding)


def test_an_unknown_built_in_kind_is_a_finding() -> None:
    text = """\
apiVersion: apps/v1
kind: Deploymnt
metadata: {name: web}
---
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: old}
"""
    findings = check(text)
    assert summary(findings) == [
        ("kind", "unknown kind Deploymnt in apiVersion apps/v1"),
        ("kind", "unknown kind PodSecurityPolicy in apiVersion policy/v1beta1"),
    ]
    assert [f.source.line for f in findings] == [2, 6]


def test_a_custom_kind_offline_is_not_a_finding() -> None:
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: nonsense}\n"
    assert check(text) == []


def test_an_item_of_a_list_gets_the_line_of_its_own_field() -> None:
    text = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: first}
  data: {a: "1"}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: second}
  data: {b: 2}
"""
    [finding] = check(text)
    assert finding.ref == model.ObjectRef("", "ConfigMap", None, "second")
    assert (finding.field_path, finding.source.line) == ("data.b", line_of(text, "{b: 2}"))


def test_at_most_twenty_findings_per_manifest() -> None:
    extra = "".join(f"  unknown{n:02}: x\n" for n in range(25))
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n{extra}"
    findings = check(text)
    assert len(findings) == validating.MAX_FINDINGS_PER_MANIFEST + 1
    assert findings[0].field_path == "metadata.unknown00"
    assert findings[-1].message == "5 more schema errors not shown"


class CountingSource:
    """The bundled documents, counting how often each group-version is asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def document_for(self, api_version: str) -> Mapping[str, Any] | None:
        self.asked.append(api_version)
        return BUNDLED.document_for(api_version)


def test_each_document_is_read_and_compiled_once_per_source() -> None:
    source = CountingSource()
    twice = VALID_DEPLOYMENT + "---\n" + VALID_DEPLOYMENT.replace("name: web\n", "name: api\n", 1)
    assert check(twice, schemas=source) == []
    assert check(twice, schemas=source) == []
    assert source.asked == ["apps/v1"]


class FakeCluster:
    """The two OpenAPI calls of kube.Cluster, answered from the bundled documents."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        folder = resources.files("gitops_push") / "schemas" / validating.BUNDLED_VERSION
        self.documents = {
            f"/openapi/v3/{entry.name.removesuffix('.json').replace('__', '/')}?hash=X": entry
            for entry in folder.iterdir()
        }

    def openapi_index(self) -> dict[str, str]:
        self.requests.append("/openapi/v3")
        return {url.removeprefix("/openapi/v3/").removesuffix("?hash=X"): url for url in self.documents}

    def openapi_document(self, relative_url: str) -> dict[str, Any]:
        self.requests.append(relative_url)
        document: dict[str, Any] = json.loads(self.documents[relative_url].read_text(encoding="utf-8"))
        return document


def test_cluster_schemas_fetch_only_the_group_versions_in_use() -> None:
    cluster = FakeCluster()
    schemas = validating.ClusterSchemas(cluster)  # type: ignore[arg-type]
    text = VALID_DEPLOYMENT + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"
    assert check(text, schemas=schemas) == []
    assert check(text, schemas=schemas) == []
    assert cluster.requests[0] == "/openapi/v3"
    assert sorted(cluster.requests[1:]) == ["/openapi/v3/api/v1?hash=X", "/openapi/v3/apis/apps/v1?hash=X"]


class MeetingCluster(FakeCluster):
    """Answers a document only once a second request for one is in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.both_in_flight = threading.Barrier(2, timeout=10)

    def openapi_document(self, relative_url: str) -> dict[str, Any]:
        self.both_in_flight.wait()  # asked one after the other, the first would never be answered
        return super().openapi_document(relative_url)


def test_cluster_schemas_are_fetched_side_by_side() -> None:
    cluster = MeetingCluster()
    schemas = validating.ClusterSchemas(cluster)  # type: ignore[arg-type]
    text = VALID_DEPLOYMENT + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"
    assert check(text, schemas=schemas) == []
    assert len(cluster.requests) == 3


def test_with_a_cluster_a_kind_it_does_not_serve_is_a_finding_unless_its_crd_comes_along() -> None:
    schemas = validating.ClusterSchemas(FakeCluster())  # type: ignore[arg-type]
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: nonsense}\n"
    assert summary(check(text, schemas=schemas)) == [
        ("kind", "unknown kind Widget in apiVersion example.com/v1")
    ]
    assert summary(check(text, schemas=schemas, crds=WIDGET_CRD)) == [
        ("spec.size", 'expected integer, got string "nonsense"')
    ]


def test_the_bundle_lists_every_group_version_it_can_read() -> None:
    api_versions = BUNDLED.api_versions()
    assert {"v1", "apps/v1", "batch/v1", "networking.k8s.io/v1"} <= set(api_versions)
    assert "apiregistration.k8s.io/v1" in api_versions  # a dotted group is not split at its dots
    for api_version in api_versions:
        document = BUNDLED.document_for(api_version)
        assert document is not None and document["components"]["schemas"], api_version


def test_unknown_bundled_version_is_refused() -> None:
    with pytest.raises(ValueError, match=r"no bundled schemas for Kubernetes v0\.1"):
        validating.BundledSchemas("v0.1")


def test_the_bundle_covers_the_built_in_kinds_people_deploy() -> None:
    kinds = [
        ("v1", "ConfigMap"),
        ("v1", "Namespace"),
        ("apps/v1", "StatefulSet"),
        ("batch/v1", "CronJob"),
        ("networking.k8s.io/v1", "Ingress"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("policy/v1", "PodDisruptionBudget"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ]
    for api_version, kind in kinds:
        document = BUNDLED.document_for(api_version)
        assert document is not None, api_version
        gvks = [
            gvk["kind"]
            for schema in document["components"]["schemas"].values()
            for gvk in schema.get("x-kubernetes-group-version-kind", ())
        ]
        assert kind in gvks, (api_version, kind)


# --- large sets are checked in forked shares -------------------------------------------------------


def test_a_large_set_checked_in_several_processes_gives_the_same_findings_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    documents = []
    for n in range(1200):
        value = "1" if n % 97 == 0 else '"ok"'  # every 97th ConfigMap has a number where text belongs
        documents.append(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{n}}}\ndata: {{a: {value}}}\n")
    documents.insert(600, WIDGET_CRD.replace("kind: CustomResourceDefinition", "kind: Unheard"))
    text = "---\n".join(documents)
    monkeypatch.setattr(validating, "PARALLEL_MIN_MANIFESTS", 10**9)
    serial = check(text)
    monkeypatch.setattr(validating, "PARALLEL_MIN_MANIFESTS", 0)
    monkeypatch.setattr(validating, "SHARE_MANIFESTS", 50)
    monkeypatch.setattr(forking, "usable_processes", lambda: 3)
    parallel = check(text)
    assert len(serial) == 1 + len(range(0, 1200, 97))
    assert parallel == serial


# --- checked as it was parsed (`fast_check` run by loading) ---------------------------------------

INVALID_CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\ndata: {a: [1]}\n"


def marked(text: str) -> list[model.Manifest]:
    return [dataclasses.replace(m, checked_ahead=True) for m in manifests_in(text)]


def test_the_fast_check_ahead_passes_what_validation_passes_and_no_other() -> None:
    passes = validating.fast_check(BUNDLED)
    [valid] = manifests_in(VALID_DEPLOYMENT)
    [invalid] = manifests_in(INVALID_CONFIG_MAP)
    assert passes(valid.api_version, valid.ref.kind, valid.body)
    assert not passes(invalid.api_version, invalid.ref.kind, invalid.body)
    assert not passes("example.com/v1", "Widget", {"metadata": {"name": "w"}})  # no schema: not passed


def test_a_manifest_checked_ahead_against_these_schemas_is_not_checked_again() -> None:
    # An invalid body marked as passed shows the mark is trusted (loading marks only what passed).
    manifests = marked(INVALID_CONFIG_MAP)
    text_of = {"app.yaml": INVALID_CONFIG_MAP}.__getitem__
    assert validating.validate(manifests, BUNDLED, text_of=text_of, checked_ahead=BUNDLED) == []
    assert validating.validate(manifests, BUNDLED, text_of=text_of)  # not told: checked
    other = validating.BundledSchemas()  # the mark speaks of one source: another is checked
    assert validating.validate(manifests, other, text_of=text_of, checked_ahead=BUNDLED)


def test_a_kind_a_crd_of_the_change_describes_is_checked_even_when_marked() -> None:
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\nspec: {size: 0}\n"
    files = {"app.yaml": text, "crds.yaml": WIDGET_CRD}
    findings = validating.validate(
        marked(text),
        BUNDLED,
        text_of=files.__getitem__,
        crds=manifests_in(WIDGET_CRD, "crds.yaml"),
        checked_ahead=BUNDLED,
    )
    assert ("spec.size", "must be >= 1, got 0") in summary(findings)


def test_the_bundled_schemas_of_a_version_are_one_source_in_a_process() -> None:
    assert validating.bundled() is validating.bundled()
