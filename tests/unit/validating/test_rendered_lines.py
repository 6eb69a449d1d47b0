"""The line of a failing field in a rendered object: a kustomize object's in its source file where the
build left the field as the file has it, else its document's line, said so; a Helm object's in its
template's rendered text, marked as such."""

from __future__ import annotations

import copy
from typing import Any

from gitops_push import model, yamltext
from gitops_push.reporters import github
from gitops_push.stages import validating
from gitops_push.stages.validating import locating
from tests.unit.validating.test_validating import VALID_DEPLOYMENT, line_of

BASE = "deploy/base/deployment.yaml"
# A base file as Git has it: a Service first, so the Deployment is its second document.
SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}]\n---\n"


def built(text: str, change: dict[str, Any] | None = None, *, prefix: str = "") -> model.Manifest:
    """The Deployment of `text` (its second document) as kustomize builds it: `change` merged into
    its spec, `prefix` before its name, its origin the base file (basis BUILT)."""
    document = next(d for d in yamltext.load_documents(text) if d.data["kind"] == "Deployment")
    body = copy.deepcopy(document.data)
    body["spec"].update(change or {})
    body["metadata"]["name"] = prefix + body["metadata"]["name"]
    ref = model.ObjectRef("apps", "Deployment", "shop", body["metadata"]["name"])
    source = model.SourceLocation(BASE, document.line, document.index, model.LineBasis.BUILT)
    return model.Manifest(ref=ref, api_version="apps/v1", body=body, source=source)


def findings(manifest: model.Manifest, texts: dict[str, str]) -> list[model.Finding]:
    return validating.validate([manifest], validating.BundledSchemas(), text_of=texts.__getitem__)


def test_a_field_the_build_left_alone_is_found_in_the_base_file() -> None:
    text = SERVICE + VALID_DEPLOYMENT.replace("replicas: 2", 'replicas: "two"')

    [finding] = findings(built(text, prefix="staging-"), {BASE: text})

    assert finding.field_path == "spec.replicas"
    assert finding.source == model.SourceLocation(
        BASE, line_of(text, 'replicas: "two"'), 1, model.LineBasis.BUILT
    )
    assert (
        str(finding)
        == f'{BASE}:{line_of(text, "replicas")}: expected integer, got string "two" (field spec.replicas)'
    )


def test_an_unknown_field_of_the_base_file_is_found_there() -> None:
    text = SERVICE + VALID_DEPLOYMENT.replace("  replicas: 2", "  replicaz: 2")

    [finding] = findings(built(text), {BASE: text})

    assert (finding.field_path, finding.source.line) == ("spec.replicaz", line_of(text, "replicaz"))
    assert finding.message == 'unknown field "replicaz"'


def test_a_field_a_patch_changed_keeps_the_documents_line_and_says_so() -> None:
    text = SERVICE + VALID_DEPLOYMENT
    patched = built(text, {"replicas": "three"})  # the base says 2: an overlay's patch wrote this

    [finding] = findings(patched, {BASE: text})

    assert finding.source.line == patched.source.line == line_of(text, "apiVersion: apps/v1")
    assert finding.message == f'expected integer, got string "three" ({locating.BUILT_FIELD_CHANGED})'


def test_a_field_a_patch_added_keeps_the_documents_line() -> None:
    text = SERVICE + VALID_DEPLOYMENT
    [finding] = findings(built(text, {"replicaz": 3}), {BASE: text})

    assert (finding.field_path, finding.source.line) == (
        "spec.replicaz",
        line_of(text, "apiVersion: apps/v1"),
    )
    assert locating.BUILT_FIELD_CHANGED in finding.message


def test_a_container_a_patch_inserted_is_not_taken_for_the_one_at_its_index() -> None:
    text = SERVICE + VALID_DEPLOYMENT
    manifest = built(text)
    containers = manifest.body["spec"]["template"]["spec"]["containers"]
    # A strategic merge patch put a sidecar first; it has the same bad field the base's container has.
    sidecar = {**containers[0], "name": "sidecar", "imagePullPolicy": "Sometimes"}
    base_bad = text.replace("IfNotPresent", "Sometimes")
    containers.insert(0, sidecar)
    containers[1]["imagePullPolicy"] = "Sometimes"

    found = findings(manifest, {BASE: base_bad})

    lines = {f.field_path: (f.source.line, locating.BUILT_FIELD_CHANGED in f.message) for f in found}
    assert lines == {
        "spec.template.spec.containers[0].imagePullPolicy": (manifest.source.line, True),
        "spec.template.spec.containers[1].imagePullPolicy": (manifest.source.line, True),
    }


def test_another_object_of_the_base_file_is_never_taken_for_the_origin() -> None:
    text = SERVICE + VALID_DEPLOYMENT.replace("replicas: 2", 'replicas: "two"')
    manifest = built(text)
    # An origin whose document could not be told: line 1, document 0 (the Service).
    unplaced = model.Manifest(
        manifest.ref,
        manifest.api_version,
        manifest.body,
        model.SourceLocation(BASE, 1, 0, model.LineBasis.BUILT),
    )

    [finding] = findings(unplaced, {BASE: text})

    assert finding.source.line == 1
    assert locating.BUILT_FIELD_CHANGED in finding.message


def test_a_helm_objects_field_line_counts_in_the_rendered_template_and_says_so() -> None:
    template = "charts/web/templates/deployment.yaml"
    rendered = f"---\n# Source: web/templates/deployment.yaml\n{VALID_DEPLOYMENT.replace('replicas: 2', 'replicas: two')}"
    document = next(yamltext.load_documents(rendered))
    source = model.SourceLocation(template, document.line, 0, model.LineBasis.RENDERED)
    ref = model.ObjectRef("apps", "Deployment", "shop", "web")
    manifest = model.Manifest(ref=ref, api_version="apps/v1", body=document.data, source=source)

    [finding] = findings(manifest, {template: rendered})

    assert finding.source.line == line_of(rendered, "replicas: two") == 13
    assert not finding.source.in_file
    assert str(finding.source) == f"{template} (rendered), line 13"


def test_a_github_annotation_puts_a_rendered_line_in_the_text_not_on_the_template() -> None:
    template = "charts/web/templates/deployment.yaml"
    rendered = model.SourceLocation(template, 13, 0, model.LineBasis.RENDERED)
    built_here = model.SourceLocation(BASE, 9, 1, model.LineBasis.BUILT)

    assert github.command("error", "bad", source=rendered) == (
        f"::error file={template}::bad ({template} (rendered), line 13)"
    )
    assert github.command("error", "bad", source=built_here) == f"::error file={BASE},line=9::bad"
