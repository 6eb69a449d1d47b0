"""Helm sources rendered by the real helm: the podinfo chart with values-prod.yaml, its hook Jobs and
test pods, changes of values, vendored and missing dependencies."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitops_push import yamltext
from gitops_push.errors import ExitCode, RenderFailed, SourceRefused
from gitops_push.gitrepo import open_repo
from gitops_push.model import LineBasis, SourceLocation
from gitops_push.stages import rendering
from gitops_push.stages.rendering import DeletePolicy, Hook, HookPhase
from tests.rendering.conftest import ToolRuns, fixture_files, names
from tests.unit import gitutil

CHART = "charts/podinfo"
PROD_VALUES = f"{CHART}/values-prod.yaml"
# values-prod.yaml leaves the chart's hook Jobs off; a deploy that wants them turns them on.
HOOKS_ON = (
    "hooks.preUpgrade.job.enabled=true",
    "hooks.postInstall.job.enabled=true",
    "hooks.preDelete.job.enabled=true",
)
PODINFO = rendering.HelmSource(CHART, "podinfo", "podinfo", values=(PROD_VALUES,), set_values=HOOKS_ON)
TEST_DROPPED = "a helm test hook: `helm test` runs it, a deploy does not"
HOOK_JOB = f"{CHART}/templates/hooks/job.yaml"


def podinfo_chart(workdir: Path) -> str:
    return gitutil.commit(
        workdir, {**fixture_files("podinfo/charts/podinfo", CHART), "README.md": "charts\n"}
    )


def render(
    workdir: Path, commit: str, source: rendering.Source, runs: ToolRuns, cache: Path
) -> rendering.Rendering:
    with open_repo(workdir) as repo:
        return rendering.render(repo, commit, source, tools=runs.tools, cache_dir=cache)


def test_podinfo_with_values_prod_renders_objects_hooks_and_drops_tests(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    commit = podinfo_chart(workdir)
    result = render(workdir, commit, PODINFO, runs, cache)
    assert names(result.plain) == [
        "ConfigMap/podinfo-redis",
        "Service/podinfo-redis",
        "Service/podinfo",
        "Deployment/podinfo",
        "Deployment/podinfo-redis",
        "HorizontalPodAutoscaler/podinfo",
    ]
    assert [where(o.origin) for o in result.plain] == [
        (f"{CHART}/templates/redis/config.yaml", 0),
        (f"{CHART}/templates/redis/service.yaml", 0),
        (f"{CHART}/templates/service.yaml", 0),
        (f"{CHART}/templates/deployment.yaml", 0),
        (f"{CHART}/templates/redis/deployment.yaml", 0),
        (f"{CHART}/templates/hpa.yaml", 0),
    ]
    both = frozenset({DeletePolicy.HOOK_SUCCEEDED, DeletePolicy.HOOK_FAILED})
    (pre_upgrade,) = result.hooks(HookPhase.PRE_UPGRADE)
    assert names([pre_upgrade]) == ["Job/podinfo-pre-upgrade"]
    assert pre_upgrade.hook == Hook(frozenset({HookPhase.PRE_UPGRADE}), 0, both)
    assert where(pre_upgrade.origin) == (HOOK_JOB, 2)  # the template's third document
    (post_install,) = result.hooks(HookPhase.POST_INSTALL)
    assert names([post_install]) == ["Job/podinfo-post-install"]
    assert where(post_install.origin) == (HOOK_JOB, 0)
    assert result.hooks(HookPhase.PRE_INSTALL) == result.hooks(HookPhase.POST_UPGRADE) == ()
    assert [(where(d.source), d.reason) for d in result.dropped] == [
        ((f"{CHART}/templates/tests/grpc.yaml", 0), TEST_DROPPED),
        ((f"{CHART}/templates/tests/jwt.yaml", 0), TEST_DROPPED),
        ((f"{CHART}/templates/tests/service.yaml", 0), TEST_DROPPED),
        ((HOOK_JOB, 1), "a helm pre-delete hook: a deploy runs only install and upgrade hooks"),
    ]
    # The chart sets the namespace on some objects only: helm install puts the others in the release's.
    assert {o.body["metadata"].get("namespace") for o in result.objects} == {"podinfo", None}
    assert result.default_namespace == "podinfo"
    deployment = next(o for o in result.plain if o.body["kind"] == "Deployment")
    assert deployment.body["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {
        "memory": "256Mi"
    }  # from values-prod.yaml
    assert result.tool == rendering.Tool("helm", result.tool.command, "v3.21.4")
    assert [(i.path, i.kind) for i in result.inputs] == [(CHART, "tree")]


def where(origin: SourceLocation) -> tuple[str, int]:
    """A Helm origin's template and document number; its line is checked against the rendered text."""
    assert origin.basis is LineBasis.RENDERED
    return origin.path, origin.document


def test_each_origin_line_is_its_documents_in_the_templates_rendered_text(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    result = render(workdir, podinfo_chart(workdir), PODINFO, runs, cache)
    located = [(o.origin, o.body) for o in result.objects] + [(d.source, None) for d in result.dropped]
    for origin, body in located:
        document = next(
            d for d in yamltext.load_documents(result.texts[origin.path]) if d.index == origin.document
        )
        assert (origin.basis, origin.line) == (LineBasis.RENDERED, document.line), origin
        assert body is None or document.data == body
    # The deployment's `replicas` line in its finding is the one `helm template --show-only` prints.
    deployment = next(
        o for o in result.plain if o.body["kind"] == "Deployment" and "redis" not in o.origin.path
    )
    text = result.texts[deployment.origin.path]
    shown = show_only(workdir, runs, "templates/deployment.yaml")
    assert text == shown
    assert "# Source: podinfo/templates/deployment.yaml" in text.splitlines()[deployment.origin.line - 2]


def test_texts_and_rendered_origins_come_back_from_the_cache(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    commit = podinfo_chart(workdir)
    first = render(workdir, commit, PODINFO, runs, cache)
    again = render(workdir, commit, PODINFO, runs, cache)
    assert again.cached and runs.renders() == 1
    assert (again.objects, again.dropped, again.texts) == (first.objects, first.dropped, first.texts)


def show_only(workdir: Path, runs: ToolRuns, template: str) -> str:
    """`helm template --show-only TEMPLATE` of PODINFO in the work tree, as a reader would run it."""
    argv = [*runs.tools.for_source(PODINFO).command, "podinfo", CHART, "--namespace", "podinfo"]
    argv += ["--values", PROD_VALUES, *(a for s in HOOKS_ON for a in ("--set", s)), "--show-only", template]
    return subprocess.run(argv, cwd=workdir, capture_output=True, text=True, check=True).stdout


def test_a_change_of_values_prod_changes_only_the_objects_it_renders_into(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    first = podinfo_chart(workdir)
    before = render(workdir, first, PODINFO, runs, cache)
    values = (workdir / PROD_VALUES).read_text()
    second = gitutil.commit(workdir, {PROD_VALUES: values.replace('color: "#34577c"', 'color: "#ff0000"')})
    after = render(workdir, second, PODINFO, runs, cache)
    old = dict(zip(names(before.objects), before.objects, strict=True))
    assert [n for n, o in zip(names(after.objects), after.objects, strict=True) if old[n].body != o.body] == [
        "Deployment/podinfo"
    ]
    # Back to the first values: the same inputs, so the first rendering, from the cache.
    third = gitutil.commit(workdir, {PROD_VALUES: values})
    again = render(workdir, third, PODINFO, runs, cache)
    assert runs.renders() == 2
    assert again.cached and again.objects == before.objects


def test_values_outside_the_chart_are_inputs_of_their_own(workdir: Path, runs: ToolRuns, cache: Path) -> None:
    podinfo_chart(workdir)
    env_values = "envs/production/podinfo.yaml"
    commit = gitutil.commit(workdir, {env_values: "replicaCount: 1\nhpa:\n  enabled: false\n"})
    source = rendering.HelmSource(CHART, "web", "prod", values=(PROD_VALUES, env_values))
    result = render(workdir, commit, source, runs, cache)
    assert [(i.path, i.kind) for i in result.inputs] == [(CHART, "tree"), (env_values, "blob")]
    assert "HorizontalPodAutoscaler/web-podinfo" not in names(result.objects)
    scaled = gitutil.commit(workdir, {env_values: "replicaCount: 3\nhpa:\n  enabled: false\n"})
    again = render(workdir, scaled, source, runs, cache)
    deployment = next(
        o for o in again.objects if o.body["kind"] == "Deployment" and "redis" not in str(o.origin)
    )
    assert deployment.body["spec"]["replicas"] == 3
    assert runs.renders() == 2


SMALL_CHART = {
    "hooked/Chart.yaml": "apiVersion: v2\nname: hooked\nversion: 0.1.0\n",
    "hooked/templates/hooks.yaml": """\
{{- range $name, $hook := dict "late" (list "pre-install,pre-upgrade" "5" "") "early" (list "pre-upgrade" "-1" "hook-succeeded") "plain" (list "post-upgrade" "x" "before-hook-creation") "also-early" (list "pre-upgrade" "-1" "") }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $name }}
  annotations:
    helm.sh/hook: {{ index $hook 0 | quote }}
    helm.sh/hook-weight: {{ index $hook 1 | quote }}
    {{- with index $hook 2 }}
    helm.sh/hook-delete-policy: {{ . }}
    {{- end }}
{{- end }}
""",
}


def test_hooks_come_in_weight_then_name_order_with_helm_s_defaults(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    commit = gitutil.commit(workdir, SMALL_CHART)
    result = render(workdir, commit, rendering.HelmSource("hooked", "r", "ns"), runs, cache)
    assert names(result.hooks(HookPhase.PRE_UPGRADE)) == [
        "ConfigMap/also-early",
        "ConfigMap/early",
        "ConfigMap/late",
    ]
    assert names(result.hooks(HookPhase.PRE_INSTALL)) == ["ConfigMap/late"]
    late, plain = (
        next(o for o in result.objects if o.body["metadata"]["name"] == n) for n in ("late", "plain")
    )
    default = frozenset({DeletePolicy.BEFORE_HOOK_CREATION})
    assert late.hook == Hook(frozenset({HookPhase.PRE_INSTALL, HookPhase.PRE_UPGRADE}), 5, default)
    assert plain.hook == Hook(frozenset({HookPhase.POST_UPGRADE}), 0, default)  # "x" counts as 0, as in Helm
    assert result.plain == ()


def test_a_dependency_not_vendored_is_refused_and_a_vendored_one_renders(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    podinfo_chart(workdir)
    chart_yaml = (workdir / CHART / "Chart.yaml").read_text()
    dependency = (
        "dependencies:\n  - name: extras\n    version: 1.0.0\n    repository: https://charts.example.test\n"
    )
    commit = gitutil.commit(workdir, {f"{CHART}/Chart.yaml": chart_yaml + dependency})
    with pytest.raises(SourceRefused) as caught:
        render(workdir, commit, PODINFO, runs, cache)
    assert caught.value.message == (
        "chart dependency 'extras' (https://charts.example.test) is not vendored in "
        f"{CHART}/charts/: gitops-push fetches nothing while rendering"
    )
    assert caught.value.location == SourceLocation(f"{CHART}/Chart.yaml", chart_yaml.count("\n") + 2)
    assert caught.value.hint == "run `helm dependency build` and commit the charts/ folder it fills"
    assert caught.value.exit_code == ExitCode.USAGE
    assert runs.renders() == 0

    vendored = gitutil.commit(
        workdir,
        {
            f"{CHART}/charts/extras/Chart.yaml": "apiVersion: v2\nname: extras\nversion: 1.0.0\n",
            f"{CHART}/charts/extras/templates/cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-extras\n"
            ),
        },
    )
    result = render(workdir, vendored, PODINFO, runs, cache)
    subchart = next(o for o in result.objects if o.body["metadata"]["name"] == "podinfo-extras")
    path = f"{CHART}/charts/extras/templates/cm.yaml"
    # Below `---` and `# Source: podinfo/charts/extras/templates/cm.yaml` in the template's text.
    assert subchart.origin == SourceLocation(path, 3, 0, LineBasis.RENDERED)
    assert result.texts[path].startswith(
        "---\n# Source: podinfo/charts/extras/templates/cm.yaml\napiVersion: v1\n"
    )


def test_a_template_error_names_the_chart_and_the_template(
    workdir: Path, runs: ToolRuns, cache: Path
) -> None:
    commit = gitutil.commit(
        workdir,
        {**SMALL_CHART, "hooked/templates/broken.yaml": "kind: ConfigMap\nname: {{ .Values.nope.deeper }}\n"},
    )
    with pytest.raises(RenderFailed) as caught:
        render(workdir, commit, rendering.HelmSource("hooked", "r", "ns"), runs, cache)
    assert caught.value.location == SourceLocation("hooked/Chart.yaml", 1)
    assert caught.value.message.startswith("helm failed: ")
    assert "hooked/templates/broken.yaml" in caught.value.message
    assert "gitops-push-render-" not in caught.value.message
    assert caught.value.exit_code == ExitCode.INVALID
