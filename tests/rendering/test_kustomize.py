"""Kustomize sources rendered by the real kustomize: the podinfo base with overlays, microservices-demo
with a component, origins, the cache, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_push.errors import ExitCode, RenderFailed, SourceRefused
from gitops_push.gitrepo import open_repo
from gitops_push.model import Finding, LineBasis, Manifest, SourceLocation
from gitops_push.stages import loading, rendering, validating
from gitops_push.stages.validating import locating
from tests.rendering.conftest import ToolRuns, fixture_files, names
from tests.unit import gitutil

STAGING = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: staging
namePrefix: staging-
resources:
  - ../../base
  - extra.yaml
configMapGenerator:
  - name: settings
    literals: [LOG_LEVEL=debug]
"""
EXTRA = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: deployer
---
# flags the app reads at start
apiVersion: v1
kind: ConfigMap
metadata:
  name: flags
data:
  beta: "true"
"""
PRODUCTION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: production
resources:
  - ../../base
patches:
  - target: {kind: HorizontalPodAutoscaler, name: podinfo}
    patch: |-
      - op: replace
        path: /spec/maxReplicas
        value: 10
"""
STAGING_SOURCE = rendering.KustomizeSource("deploy/overlays/staging")
PRODUCTION_SOURCE = rendering.KustomizeSource("./deploy/overlays/production/")


def podinfo_overlays(workdir: Path) -> str:
    return gitutil.commit(
        workdir,
        {
            **fixture_files("podinfo/kustomize", "deploy/base"),
            "deploy/overlays/staging/kustomization.yaml": STAGING,
            "deploy/overlays/staging/extra.yaml": EXTRA,
            "deploy/overlays/production/kustomization.yaml": PRODUCTION,
            "README.md": "manifests\n",
        },
    )


def render(
    workdir: Path, commit: str, source: rendering.Source, runs: ToolRuns, cache: Path
) -> rendering.Rendering:
    with open_repo(workdir) as repo:
        return rendering.render(repo, commit, source, tools=runs.tools, cache_dir=cache)


def test_the_staging_overlay_renders_with_origins_in_the_repository(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    commit = podinfo_overlays(workdir)
    result = render(workdir, commit, STAGING_SOURCE, runs, cache)
    assert names(result.objects) == [
        "ServiceAccount/staging-deployer",
        "ConfigMap/staging-flags",
        "ConfigMap/staging-settings-47668c6k28",
        "Service/staging-podinfo",
        "Deployment/staging-podinfo",
        "HorizontalPodAutoscaler/staging-podinfo",
    ]
    assert [o.origin for o in result.objects] == [
        SourceLocation("deploy/overlays/staging/extra.yaml", 1, 0, LineBasis.BUILT),
        SourceLocation("deploy/overlays/staging/extra.yaml", 7, 1, LineBasis.BUILT),  # below the comment
        SourceLocation(
            "deploy/overlays/staging/kustomization.yaml", 8, 0, LineBasis.BUILT
        ),  # the configMapGenerator key
        SourceLocation("deploy/base/service.yaml", 1, 0, LineBasis.BUILT),
        SourceLocation("deploy/base/deployment.yaml", 1, 0, LineBasis.BUILT),
        SourceLocation("deploy/base/hpa.yaml", 1, 0, LineBasis.BUILT),
    ]
    assert all(o.hook is None for o in result.objects)
    assert {o.body["metadata"]["namespace"] for o in result.objects} == {"staging"}
    assert result.tool.name == "kustomize"
    assert result.tool.version == "v5.8.2"
    assert [(i.path, i.kind) for i in result.inputs] == [
        ("deploy/base", "tree"),
        ("deploy/overlays/staging", "tree"),
    ]
    assert not result.cached


def test_origin_annotations_are_stripped_and_an_emptied_annotations_map_removed(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    commit = podinfo_overlays(workdir)
    result = render(workdir, commit, STAGING_SOURCE, runs, cache)
    for rendered in result.objects:
        assert "config.kubernetes.io/origin" not in str(rendered.body)
    service = next(o for o in result.objects if o.body["kind"] == "Service")
    assert "annotations" not in service.body["metadata"]
    deployment = next(o for o in result.objects if o.body["kind"] == "Deployment")
    # the base's own pod annotations stay
    assert deployment.body["spec"]["template"]["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9797",
    }


def test_an_edit_of_the_base_changes_every_overlay_and_an_overlay_edit_only_its_own(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    first = podinfo_overlays(workdir)
    staging = render(workdir, first, STAGING_SOURCE, runs, cache)
    production = render(workdir, first, PRODUCTION_SOURCE, runs, cache)
    assert runs.renders() == 2
    hpa = next(o for o in production.objects if o.body["kind"] == "HorizontalPodAutoscaler")
    assert hpa.body["spec"]["maxReplicas"] == 10

    base_file = "deploy/base/deployment.yaml"
    edited = (workdir / base_file).read_text().replace("minReadySeconds: 3", "minReadySeconds: 7")
    second = gitutil.commit(workdir, {base_file: edited})
    staging2 = render(workdir, second, STAGING_SOURCE, runs, cache)
    production2 = render(workdir, second, PRODUCTION_SOURCE, runs, cache)
    assert runs.renders() == 4
    assert changed(staging, staging2) == ["Deployment/staging-podinfo"]
    assert changed(production, production2) == ["Deployment/podinfo"]

    third = gitutil.commit(
        workdir, {"deploy/overlays/staging/extra.yaml": EXTRA.replace('"true"', '"false"')}
    )
    staging3 = render(workdir, third, STAGING_SOURCE, runs, cache)
    production3 = render(workdir, third, PRODUCTION_SOURCE, runs, cache)
    assert runs.renders() == 5  # production's inputs did not change: read from the cache
    assert production3.cached and production3.key == production2.key
    assert changed(staging2, staging3) == ["ConfigMap/staging-flags"]


def changed(before: rendering.Rendering, after: rendering.Rendering) -> list[str]:
    old = {name: o.body for name, o in zip(names(before.objects), before.objects, strict=True)}
    return [
        name for name, o in zip(names(after.objects), after.objects, strict=True) if old.get(name) != o.body
    ]


def test_an_unchanged_input_is_read_from_the_cache_without_a_tool_run(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    first = podinfo_overlays(workdir)
    fresh = render(workdir, first, STAGING_SOURCE, runs, cache)
    again = render(workdir, first, STAGING_SOURCE, runs, cache)
    unrelated = gitutil.commit(workdir, {"README.md": "manifests, rendered\n"})
    later = render(workdir, unrelated, STAGING_SOURCE, runs, cache)
    assert runs.renders() == 1
    assert (fresh.cached, again.cached, later.cached) == (False, True, True)
    assert again.objects == fresh.objects == later.objects
    assert later.commit == unrelated


def test_the_rendering_reads_the_commit_not_the_working_tree(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    commit = podinfo_overlays(workdir)
    gitutil.write(
        workdir, {"deploy/base/service.yaml": "not: [yaml\n", "deploy/base/kustomization.yaml": None}
    )
    result = render(workdir, commit, STAGING_SOURCE, runs, cache)
    assert "Service/staging-podinfo" in names(result.objects)


def test_microservices_demo_with_a_component_keeps_the_document_of_each_object(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    commit = gitutil.commit(
        workdir,
        {
            **fixture_files("microservices-demo", "apps/shop/base"),
            "apps/shop/components/team-label/kustomization.yaml": (
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
                "labels:\n  - pairs: {team: shop}\n"
            ),
            "apps/shop/overlays/dev/kustomization.yaml": (
                "resources: [../../base]\ncomponents: [../../components/team-label]\nnamespace: shop-dev\n"
            ),
        },
    )
    result = render(workdir, commit, rendering.KustomizeSource("apps/shop/overlays/dev"), runs, cache)
    by_name = {name: o for name, o in zip(names(result.objects), result.objects, strict=True)}
    # 10 services with a Deployment, Service and ServiceAccount each, frontend-external, redis-cart's two
    assert len(by_name) == len(result.objects) == 33
    assert "Deployment/loadgenerator" not in by_name  # commented out in the base's kustomization
    frontend = "apps/shop/base/frontend.yaml"
    assert by_name["Deployment/frontend"].origin == SourceLocation(frontend, 15, 0, LineBasis.BUILT)
    assert by_name["Service/frontend"].origin == SourceLocation(frontend, 108, 1, LineBasis.BUILT)
    assert by_name["Service/frontend-external"].origin == SourceLocation(frontend, 123, 2, LineBasis.BUILT)
    assert by_name["ServiceAccount/frontend"].origin == SourceLocation(frontend, 138, 3, LineBasis.BUILT)
    assert {o.body["metadata"]["labels"]["team"] for o in result.objects} == {"shop"}
    assert [i.path for i in result.inputs] == [
        "apps/shop/base",
        "apps/shop/components/team-label",
        "apps/shop/overlays/dev",
    ]


@pytest.mark.parametrize(
    "entry",
    [
        "https://github.com/stefanprodan/podinfo//kustomize?ref=6.14.1",
        "github.com/stefanprodan/podinfo/kustomize?ref=6.14.1",
        "git@github.com:stefanprodan/podinfo.git//kustomize",
    ],
)
def test_a_remote_base_is_refused_naming_the_file_and_entry(
    workdir: Path, runs: ToolRuns, cache: Path, entry: str
) -> None:
    commit = gitutil.commit(
        workdir,
        {
            "deploy/overlays/remote/kustomization.yaml": f"namespace: x\nresources:\n  - ../local\n  - {entry}\n",
            "deploy/overlays/local/kustomization.yaml": "resources: []\n",
        },
    )
    with pytest.raises(SourceRefused) as caught:
        render(workdir, commit, rendering.KustomizeSource("deploy/overlays/remote"), runs, cache)
    assert caught.value.message == f"{entry!r} is a remote base: gitops-push fetches nothing while rendering"
    assert caught.value.location == SourceLocation("deploy/overlays/remote/kustomization.yaml", 4)
    assert caught.value.exit_code == ExitCode.USAGE
    assert caught.value.reference == "source-refused"
    assert runs.renders() == 0


def test_a_missing_local_base_and_a_kustomize_error_name_the_source(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    commit = gitutil.commit(workdir, {"deploy/app/kustomization.yaml": "resources:\n  - ../gone\n"})
    with pytest.raises(RenderFailed) as caught:
        render(workdir, commit, rendering.KustomizeSource("deploy/app"), runs, cache)
    assert caught.value.message == f"'../gone' (deploy/gone) is not in commit {commit[:12]}"
    assert caught.value.location == SourceLocation("deploy/app/kustomization.yaml", 2)

    broken = gitutil.commit(
        workdir, {"deploy/app/kustomization.yaml": "resources: []\npatches:\n  - path: nope.yaml\n"}
    )
    with pytest.raises(RenderFailed) as caught:
        render(workdir, broken, rendering.KustomizeSource("deploy/app"), runs, cache)
    assert caught.value.message.startswith("kustomize failed: ")
    assert "nope.yaml" in caught.value.message
    assert "gitops-push-render-" not in caught.value.message  # no temporary path leaks into the message
    assert caught.value.location == SourceLocation("deploy/app/kustomization.yaml", 1)
    assert caught.value.exit_code == ExitCode.INVALID


def test_helm_charts_inside_a_kustomization_and_an_entry_leaving_the_repository_are_refused(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    commit = gitutil.commit(
        workdir,
        {
            "app/kustomization.yaml": "resources: []\nhelmCharts:\n  - name: podinfo\n    repo: https://example.test\n",
            "escape/kustomization.yaml": "resources:\n  - ../../outside\n",
        },
    )
    with pytest.raises(SourceRefused) as caught:
        render(workdir, commit, rendering.KustomizeSource("app"), runs, cache)
    assert caught.value.message == (
        "helmCharts needs `kustomize build --enable-helm`, which pulls charts at render time"
    )
    assert caught.value.location == SourceLocation("app/kustomization.yaml", 2)
    with pytest.raises(SourceRefused) as caught:
        render(workdir, commit, rendering.KustomizeSource("escape"), runs, cache)
    assert caught.value.message == "'../../outside' points outside the repository"
    assert caught.value.location == SourceLocation("escape/kustomization.yaml", 2)
    assert runs.renders() == 0


def test_a_damaged_cache_entry_is_rendered_again(workdir: Path, runs: ToolRuns, cache: Path) -> None:
    commit = podinfo_overlays(workdir)
    fresh = render(workdir, commit, STAGING_SOURCE, runs, cache)
    entry = cache / "renderings" / f"{fresh.key}.json"
    assert entry.stat().st_mode & 0o777 == 0o600  # it may hold Secrets: its owner's only
    entry.write_text(entry.read_text()[:100])  # as a run killed mid-write would leave it, were it not renamed
    again = render(workdir, commit, STAGING_SOURCE, runs, cache)
    assert not again.cached
    assert again.objects == fresh.objects
    assert runs.renders() == 2
    assert render(workdir, commit, STAGING_SOURCE, runs, cache).cached


def test_a_kustomization_named_kustomization_yml_at_the_repository_root(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    commit = gitutil.commit(
        workdir,
        {
            "kustomization.yml": "namespace: root\nresources: [app/cm.yaml]\n",
            "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: at-root\n",
        },
    )
    result = render(workdir, commit, rendering.KustomizeSource(""), runs, cache)
    assert names(result.objects) == ["ConfigMap/at-root"]
    assert result.objects[0].origin == SourceLocation("app/cm.yaml", 1, 0, LineBasis.BUILT)
    assert [(i.path, i.kind) for i in result.inputs] == [("", "tree")]


def manifests_of(result: rendering.Rendering) -> list[Manifest]:
    """The rendering's objects as the pipeline hands them to validation (through `loading`)."""
    side = loading.Side()
    for rendered in result.plain:
        loading.add_object(loading.Rendered(rendered.body, rendered.origin, result.default_namespace), side)
    scopes = loading.Scopes(lambda api_version, kind: None, side.documents)
    objects, _ = loading.key_documents(side.documents, scopes, "default")
    return list(objects.values())


def findings_of(result: rendering.Rendering) -> list[Finding]:
    schemas = validating.BundledSchemas()
    return validating.validate(manifests_of(result), schemas, text_of=lambda path: result.texts.get(path, ""))


def line_in(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_texts_of_origins_are_the_committed_files_not_the_work_tree(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    commit = podinfo_overlays(workdir)
    (workdir / "deploy/base/deployment.yaml").write_text("uncommitted: true\n")
    result = render(workdir, commit, STAGING_SOURCE, runs, cache)
    base = fixture_files("podinfo/kustomize", "deploy/base")
    assert result.texts == {
        "deploy/overlays/staging/extra.yaml": EXTRA,
        "deploy/overlays/staging/kustomization.yaml": STAGING,
        "deploy/base/service.yaml": base["deploy/base/service.yaml"],
        "deploy/base/deployment.yaml": base["deploy/base/deployment.yaml"],
        "deploy/base/hpa.yaml": base["deploy/base/hpa.yaml"],
    }
    again = render(workdir, commit, STAGING_SOURCE, runs, cache)
    assert again.cached and again.texts == result.texts


def test_a_bad_field_of_a_base_file_is_found_on_its_line_there(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    podinfo_overlays(workdir)
    deployment = (workdir / "deploy/base/deployment.yaml").read_text()
    bad = deployment.replace("spec:\n", 'spec:\n  replicas: "two"\n', 1).replace(
        "  revisionHistoryLimit:", "  revisionHistoryLimitz:"
    )
    commit = gitutil.commit(workdir, {"deploy/base/deployment.yaml": bad})
    result = render(workdir, commit, STAGING_SOURCE, runs, cache)

    found = {(f.field_path, str(f.source), f.message) for f in findings_of(result)}

    path = "deploy/base/deployment.yaml"
    assert found == {
        ("spec.replicas", f"{path}:{line_in(bad, 'replicas:')}", 'expected integer, got string "two"'),
        (
            "spec.revisionHistoryLimitz",
            f"{path}:{line_in(bad, 'Limitz')}",
            'unknown field "revisionHistoryLimitz"',
        ),
    }


def test_a_field_a_patch_changed_names_the_document_line_and_says_so(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    podinfo_overlays(workdir)
    patch = (
        "patches:\n  - target: {kind: Deployment, name: podinfo}\n    patch: |-\n"
        "      - op: replace\n        path: /spec/minReadySeconds\n        value: soon\n"
    )
    commit = gitutil.commit(workdir, {"deploy/overlays/staging/kustomization.yaml": STAGING + patch})
    result = render(workdir, commit, STAGING_SOURCE, runs, cache)

    [finding] = findings_of(result)

    assert (finding.field_path, str(finding.source)) == (
        "spec.minReadySeconds",
        "deploy/base/deployment.yaml:1",
    )
    assert finding.message == f'expected integer, got string "soon" ({locating.BUILT_FIELD_CHANGED})'


def test_render_all_renders_both_ends_of_a_range_in_order_each_once(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    first = podinfo_overlays(workdir)
    service = (workdir / "deploy/base/service.yaml").read_text()
    second = gitutil.commit(workdir, {"deploy/base/service.yaml": service.replace("ClusterIP", "NodePort")})
    wanted = [(first, STAGING_SOURCE), (second, STAGING_SOURCE), (second, PRODUCTION_SOURCE)]

    with open_repo(workdir) as repo:
        results = rendering.render_all(repo, wanted, tools=runs.tools, cache_dir=cache)

    assert [(r.commit, r.source) for r in results] == wanted
    assert runs.renders() == 3 and not any(r.cached for r in results)
    types = [next(o.body["spec"]["type"] for o in r.objects if o.body["kind"] == "Service") for r in results]
    assert types == ["ClusterIP", "NodePort", "NodePort"]
    assert results[1].objects == render(workdir, second, STAGING_SOURCE, runs, cache).objects  # cached now
    assert runs.renders() == 3
