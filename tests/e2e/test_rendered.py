"""Rendered sources on the real control plane (issue 15): kustomize overlays and a Helm chart from
tests/fixtures, rendered from Git at both ends of the range by the real tools (tools/build-renderers),
and deployed, pruned, tagged and promoted like plain manifests."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gitops_push.kube import Resource
from gitops_push.kube.client import KubeCluster
from tests.conftest import FIXTURES
from tests.e2e.workspace import (
    CONFIG_MAPS,
    DEPLOYMENTS,
    SERVICES,
    Result,
    Workspace,
    namespace_manifest,
    unique,
)
from tests.rendering.conftest import renderer_bin  # noqa: F401  (the session fixture that builds the tools)

PODINFO = FIXTURES / "podinfo"
MICROSERVICES_DEMO = FIXTURES / "microservices-demo"
JOBS = Resource(group="batch", version="v1", kind="Job", plural="jobs", namespaced=True)


@pytest.fixture
def tools_on_path(renderer_bin: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    """The CLI runs in-process: the pinned kustomize and helm go first on this process's PATH."""
    monkeypatch.setenv("PATH", f"{renderer_bin}{os.pathsep}{os.environ['PATH']}")
    return renderer_bin


def overlay(namespace: str, color: str) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        namespace: {namespace}
        resources:
          - namespace.yaml
          - ../../base
        patches:
          - patch: |-
              apiVersion: apps/v1
              kind: Deployment
              metadata: {{name: podinfo, annotations: {{color: "{color}"}}}}
        """
    )


def two_overlays(workspace: Workspace) -> tuple[str, str]:
    """The podinfo kustomize base with a staging and a production overlay. Each environment (named
    afresh: the control plane outlives a test) deploys into a namespace of its own name."""
    staging, production = unique("staging"), unique("production")
    workspace.copy(PODINFO / "kustomize", "deploy/base")
    for name, namespace in (("staging", staging), ("production", production)):
        workspace.write(f"deploy/overlays/{name}/kustomization.yaml", overlay(namespace, name))
        workspace.write(f"deploy/overlays/{name}/namespace.yaml", namespace_manifest(namespace))
    workspace.write(
        "gitops-push.yaml",
        f"""
        environments:
          {staging}:
            kustomize: deploy/overlays/staging
          {production}:
            kustomize: [deploy/overlays/production]
        """,
    )
    return staging, production


def chart_environment(workspace: Workspace) -> str:
    """The podinfo chart with its production values, released into a namespace a plain folder holds."""
    namespace = unique("helm")
    workspace.copy(PODINFO / "charts" / "podinfo", "charts/podinfo")
    workspace.write("namespaces/ns.yaml", namespace_manifest(namespace))
    workspace.write(
        "gitops-push.yaml",
        f"""
        environments:
          {workspace.env}:
            paths: [namespaces]
            helm:
              chart: charts/podinfo
              release: podinfo
              namespace: {namespace}
              values: [charts/podinfo/values-prod.yaml]
        """,
    )
    return namespace


def test_a_values_change_applies_only_what_it_changes(
    workspace: Workspace, kube: KubeCluster, tools_on_path: Path
) -> None:
    namespace = chart_environment(workspace)
    workspace.commit("podinfo chart")
    first = workspace.cli("deploy", "-o", "json", "--no-wait")
    assert first.exit_code == 0, first.stderr
    assert first.actions()[f"Deployment {namespace}/podinfo"] == "created"
    values = workspace.root / "charts/podinfo/values-prod.yaml"
    values.write_text(values.read_text().replace('color: "#34577c"', 'color: "#ff0000"'))
    workspace.commit("a new colour")

    result = workspace.cli("deploy", "-o", "json", "--no-wait")

    assert result.exit_code == 0, result.stderr
    assert acted(result) == {f"Deployment {namespace}/podinfo": "configured"}
    assert result.json["renderers"]["helm"].startswith("v3.21.4")
    assert workspace.tag_metadata(result.json["tag"])["renderers"] == result.json["renderers"]
    live = kube.get(DEPLOYMENTS, namespace, "podinfo")
    assert live is not None
    env = live["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "PODINFO_UI_COLOR", "value": "#ff0000"} in env


def test_a_base_change_reaches_each_overlays_environment(
    workspace: Workspace, kube: KubeCluster, tools_on_path: Path
) -> None:
    staging, production = two_overlays(workspace)
    workspace.commit("two overlays")
    for env in (staging, production):
        deployed = workspace.cli("deploy", "--env", env, "--no-wait")
        assert deployed.exit_code == 0, deployed.stderr
    service = workspace.root / "deploy/base/service.yaml"
    service.write_text(service.read_text().replace("type: ClusterIP", "type: NodePort"))
    workspace.commit("the base's Service becomes a NodePort")

    for namespace in (staging, production):
        result = workspace.cli("deploy", "--env", namespace, "-o", "json", "--no-wait")
        assert result.exit_code == 0, result.stderr
        assert acted(result) == {f"Service {namespace}/podinfo": "configured"}
        live = kube.get(SERVICES, namespace, "podinfo")
        assert live is not None and live["spec"]["type"] == "NodePort"


def test_an_overlay_change_reaches_its_environment_only(
    workspace: Workspace, kube: KubeCluster, tools_on_path: Path
) -> None:
    staging, production = two_overlays(workspace)
    workspace.commit("two overlays")
    for env in (staging, production):
        assert workspace.cli("deploy", "--env", env, "--no-wait").exit_code == 0
    path = workspace.root / "deploy/overlays/staging/kustomization.yaml"
    path.write_text(path.read_text().replace('color: "staging"', 'color: "staging-2"'))
    workspace.commit("staging's overlay only")

    unchanged = workspace.cli("plan", "--env", production, "-o", "json")
    changed = workspace.cli("plan", "--env", staging, "-o", "json")

    assert unchanged.exit_code == 0, unchanged.stderr
    assert unchanged.json["objects"] == []
    assert changed.exit_code == 0, changed.stderr
    assert acted(changed) == {f"Deployment {staging}/podinfo": "configured"}


def test_promote_renders_the_targets_overlay_at_stagings_commit(
    workspace: Workspace, kube: KubeCluster, tools_on_path: Path
) -> None:
    staging, production = two_overlays(workspace)
    tested = workspace.commit("two overlays")
    assert workspace.cli("deploy", "--env", staging, "--no-wait").exit_code == 0
    service = workspace.root / "deploy/base/service.yaml"
    service.write_text(service.read_text().replace("type: ClusterIP", "type: NodePort"))
    workspace.commit("not tested in staging yet")

    result = workspace.cli(
        "promote", "--from", staging, "--to", production, "--kubeconfig", str(workspace.kubeconfig),
        "-o", "json", "--no-wait",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert result.json["to"] == tested
    live = kube.get(DEPLOYMENTS, production, "podinfo")
    assert live is not None and live["metadata"]["annotations"]["color"] == "production"
    service_live = kube.get(SERVICES, production, "podinfo")
    assert service_live is not None and service_live["spec"]["type"] == "ClusterIP"


def test_a_missing_renderer_exits_2_naming_it(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart_environment(workspace)
    workspace.commit("podinfo chart")
    only_git = tmp_path / "only-git"
    only_git.mkdir()
    (only_git / "git").symlink_to(str(shutil.which("git")))
    monkeypatch.setenv("PATH", str(only_git))

    result = workspace.cli("deploy")

    assert result.exit_code == 2
    assert "helm is not on PATH" in result.stderr
    assert workspace.tags() == []


def test_an_invalid_rendered_object_names_its_source_file_and_the_fields_line(
    workspace: Workspace, kube: KubeCluster, tools_on_path: Path
) -> None:
    staging, _ = two_overlays(workspace)
    deployment = workspace.root / "deploy/base/deployment.yaml"
    deployment.write_text(deployment.read_text().replace("  minReadySeconds:", "  minReadySecondz:", 1))
    workspace.commit("a typo in the base")

    result = workspace.cli("deploy", "--env", staging)

    assert result.exit_code == 3, result.stdout + result.stderr
    typo = f"deploy/base/deployment.yaml:{line_of(deployment, 'minReadySecondz')}"
    assert f'{typo}: unknown field "minReadySecondz"' in result.stderr
    assert kube.get(DEPLOYMENTS, staging, "podinfo") is None


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the first line of the file that holds `needle`."""
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def errors(result: Result) -> list[tuple[str, int, str, bool]]:
    """(file, line, field, rendered) of each error of a JSON result that names a file (the run's
    own error, "1 validation error(s): nothing was applied", names none)."""
    return [(e["file"], e["line"], e["field"], e["rendered"]) for e in result.json["errors"] if e["file"]]


def test_a_bad_field_in_an_overlays_base_names_the_base_file_and_the_fields_line(
    workspace: Workspace, kube: KubeCluster, tools_on_path: Path
) -> None:
    staging, _ = two_overlays(workspace)
    deployment = workspace.root / "deploy/base/deployment.yaml"
    text = deployment.read_text()
    deployment.write_text(text.replace("spec:\n", 'spec:\n  replicas: "two"\n', 1))
    workspace.commit("replicas in words, in the base both overlays use")

    result = workspace.cli("deploy", "--env", staging, "-o", "json")

    assert result.exit_code == 3, result.stdout + result.stderr  # INVALID: nothing was applied
    replicas = line_of(deployment, 'replicas: "two"')
    assert errors(result) == [("deploy/base/deployment.yaml", replicas, "spec.replicas", False)]
    assert result.json["errors"][0]["message"] == 'expected integer, got string "two"'
    assert kube.get(DEPLOYMENTS, staging, "podinfo") is None
    assert workspace.git("tag", "--list") == ""


def test_a_dry_run_rejection_of_an_overlays_base_names_the_base_file_and_the_fields_line(
    workspace: Workspace, kube: KubeCluster, tools_on_path: Path
) -> None:
    staging, _ = two_overlays(workspace)
    workspace.commit("two overlays")
    # Deployed once, so that the namespace exists and the next deploy's dry-run covers every object.
    assert workspace.cli("deploy", "--env", staging, "--no-wait").exit_code == 0
    tags = workspace.git("tag", "--list")
    service = workspace.root / "deploy/base/service.yaml"
    service.write_text(service.read_text().replace("- name: http\n", "- name: Http_Port\n", 1))
    workspace.commit("a port name that is no DNS label: valid to the schema, refused by the server")

    result = workspace.cli("deploy", "--env", staging, "-o", "json")

    assert result.exit_code == 4, result.stdout + result.stderr  # REJECTED: nothing was applied
    rejection = next(e for e in result.json["errors"] if e["reference"] == "dry-run-rejected")
    assert (rejection["file"], rejection["line"], rejection["rendered"]) == (
        "deploy/base/service.yaml",
        line_of(service, "name: Http_Port"),
        False,
    )
    assert "spec.ports[0].name" in rejection["message"]
    live = kube.get(SERVICES, staging, "podinfo")
    assert live is not None and live["spec"]["ports"][0]["name"] == "http"
    assert workspace.git("tag", "--list") == tags


def test_a_field_an_overlay_patched_names_the_objects_document_and_says_so(
    workspace: Workspace, tools_on_path: Path
) -> None:
    staging, _ = two_overlays(workspace)
    kustomization = workspace.root / "deploy/overlays/staging/kustomization.yaml"
    patched = kustomization.read_text().replace(
        'metadata: {name: podinfo, annotations: {color: "staging"}}',
        'metadata: {name: podinfo, annotations: {color: "staging"}}\n      spec: {minReadySeconds: soon}',
    )
    assert patched != kustomization.read_text()
    kustomization.write_text(patched)
    workspace.commit("the staging overlay patches a bad value into the base's Deployment")

    result = workspace.cli("plan", "--env", staging, "--offline", "-o", "json")

    assert result.exit_code == 3, result.stdout + result.stderr
    assert errors(result) == [("deploy/base/deployment.yaml", 1, "spec.minReadySeconds", False)]
    assert result.json["errors"][0]["message"] == (
        'expected integer, got string "soon" (kustomize made or changed this field: the line is its document\'s)'
    )


def test_a_bad_value_in_a_chart_names_the_template_and_the_fields_rendered_line(
    workspace: Workspace, kube: KubeCluster, tools_on_path: Path
) -> None:
    namespace = chart_environment(workspace)
    values = workspace.root / "charts/podinfo/values-prod.yaml"
    values.write_text(values.read_text().replace("replicaCount: 1", "replicaCount: two"))
    workspace.commit("replicas in words")

    result = workspace.cli("deploy", "-o", "json")

    assert result.exit_code == 3, result.stdout + result.stderr
    # values-prod.yaml scales with the HorizontalPodAutoscaler: replicaCount is its minReplicas.
    template = "charts/podinfo/templates/hpa.yaml"
    [(file, line, field, rendered)] = errors(result)
    assert (file, field, rendered) == (template, "spec.minReplicas", True)
    # The line counts in the template's output, as `helm template --show-only` prints it.
    shown = helm_show_only(workspace, tools_on_path, "templates/hpa.yaml")
    assert shown.splitlines()[line - 1].strip() == "minReplicas: two"
    assert f"{template} (rendered), line {line}: expected integer" in result.stderr
    assert kube.get(DEPLOYMENTS, namespace, "podinfo") is None
    assert workspace.git("tag", "--list") == ""


def helm_show_only(workspace: Workspace, bin_folder: Path, template: str) -> str:
    """What `helm template --show-only TEMPLATE` prints for the workspace's chart environment."""
    argv = [str(bin_folder / "helm"), "template", "podinfo", "charts/podinfo", "--namespace", "x"]
    argv += ["--values", "charts/podinfo/values-prod.yaml", "--show-only", template]
    done = subprocess.run(argv, cwd=workspace.root, capture_output=True, text=True, check=True)
    return done.stdout


def hooked_chart(workspace: Workspace, *hooks: str, delete_policy: str = "before-hook-creation") -> str:
    """The podinfo chart with some of its hook Jobs on, under one delete policy (by default kept after
    they ran, so the test sees them)."""
    namespace = unique("hooks")
    workspace.copy(PODINFO / "charts" / "podinfo", "charts/podinfo")
    workspace.write("namespaces/ns.yaml", namespace_manifest(namespace))
    settings = ", ".join(
        f"hooks.{hook}.job.enabled=true, hooks.{hook}.job.hookDeletePolicy={delete_policy}" for hook in hooks
    )
    workspace.write(
        "gitops-push.yaml",
        f"""
        environments:
          {workspace.env}:
            paths: [namespaces]
            helm:
              chart: charts/podinfo
              release: podinfo
              namespace: {namespace}
              values: [charts/podinfo/values-prod.yaml]
              set: [{settings}]
        """,
    )
    return namespace


def acted(result: Result) -> dict[str, str]:
    """The objects a run changed (or would change), without those it left unchanged."""
    return {ref: action for ref, action in result.actions().items() if action != "unchanged"}


def step_names(result: Result) -> list[str]:
    return [step["step"] for step in result.json["steps"]]


def test_helm_hooks_run_in_their_phase_and_test_pods_are_not_deployed(
    workspace: Workspace, kube: KubeCluster, tools_on_path: Path
) -> None:
    namespace = hooked_chart(workspace, "postInstall", "preUpgrade")
    workspace.commit("podinfo with an install and an upgrade hook")

    installed = workspace.cli("deploy", "-o", "json", "--timeout", "120s")

    assert installed.exit_code == 0, installed.stderr
    names = step_names(installed)
    assert "pre-hooks" not in names  # the pre-upgrade hook does not run on the first deploy
    assert names.index("post-hooks") > names.index("wait-healthy")
    assert _complete(kube.get(JOBS, namespace, "podinfo-post-install"))
    assert kube.get(JOBS, namespace, "podinfo-pre-upgrade") is None
    assert not [o for o in installed.json["objects"] if o["kind"] in ("Job", "Pod")]  # hooks, helm tests

    values = workspace.root / "charts/podinfo/values-prod.yaml"
    values.write_text(values.read_text().replace('color: "#34577c"', 'color: "#00ff00"'))
    workspace.commit("an upgrade")
    upgraded = workspace.cli("deploy", "-o", "json", "--timeout", "120s")

    assert upgraded.exit_code == 0, upgraded.stderr
    names = step_names(upgraded)
    assert names.index("pre-hooks") < names.index("apply") and "post-hooks" not in names
    assert _complete(kube.get(JOBS, namespace, "podinfo-pre-upgrade"))


def _complete(job: dict[str, Any] | None) -> bool:
    return _finished(job, "Complete")


def _finished(job: dict[str, Any] | None, condition: str) -> bool:
    conditions = ((job or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == condition and c["status"] == "True" for c in conditions)


FAIL_EXIT_CODE = "devcluster.gitops-push.test/fail-exit-code"  # tools/kwok/pod-fail.yaml
HOOK_POD_TEMPLATE = "  template:\n    spec:\n"
HOOK_EXIT_CODES = "# exit codes of the hooks, set by the test\n"


def hooks_that_can_fail(workspace: Workspace) -> None:
    """kwok runs no process, so the chart's own `exitCode` value cannot fail a hook by itself: the
    pod of a hook Job whose `exitCode` is not 0 also gets the devcluster's annotation, and kwok ends
    it Failed with that exit code, as a kubelet would report the process (tools/kwok/pod-fail.yaml)."""
    job = workspace.root / "charts/podinfo/templates/hooks/job.yaml"
    text = job.read_text()
    assert text.count(HOOK_POD_TEMPLATE) == 1, "the podinfo hook template changed shape"
    annotated = (
        "  template:\n"
        "    {{- if ne (int $hookConfig.job.exitCode) 0 }}\n"
        "    metadata:\n"
        "      annotations:\n"
        f"        {FAIL_EXIT_CODE}: {{{{ $hookConfig.job.exitCode | quote }}}}\n"
        "    {{- end }}\n"
        "    spec:\n"
    )
    job.write_text(text.replace(HOOK_POD_TEMPLATE, annotated))


def set_hook_exit_code(workspace: Workspace, hook: str, code: int) -> None:
    """The exit code the hook's process ends with, in the production values (replacing an earlier one)."""
    values = workspace.root / "charts/podinfo/values-prod.yaml"
    text = values.read_text().split(HOOK_EXIT_CODES)[0]
    values.write_text(f"{text}{HOOK_EXIT_CODES}hooks: {{{hook}: {{job: {{exitCode: {code}}}}}}}\n")


def ui_color(kube: KubeCluster, namespace: str) -> str:
    live = kube.get(DEPLOYMENTS, namespace, "podinfo")
    assert live is not None
    env = {e["name"]: e.get("value") for e in live["spec"]["template"]["spec"]["containers"][0]["env"]}
    return str(env["PODINFO_UI_COLOR"])


def test_a_failing_pre_upgrade_hook_stops_the_deploy_before_the_apply_and_a_fixed_rerun_converges(
    workspace: Workspace, kube: KubeCluster, tools_on_path: Path
) -> None:
    namespace = hooked_chart(workspace, "preUpgrade")
    hooks_that_can_fail(workspace)
    workspace.commit("podinfo with an upgrade hook")
    assert workspace.cli("deploy", "--no-wait").exit_code == 0
    (installed,) = workspace.tags()
    values = workspace.root / "charts/podinfo/values-prod.yaml"
    values.write_text(values.read_text().replace('color: "#34577c"', 'color: "#ff0000"'))
    set_hook_exit_code(workspace, "preUpgrade", 3)
    workspace.commit("an upgrade whose pre-upgrade hook fails")

    failed = workspace.cli("deploy", "-o", "json", "--timeout", "120s")

    assert failed.exit_code == 1, failed.stdout + failed.stderr
    (error,) = failed.json["errors"]
    assert error["message"].startswith(f"pre-deploy hook Job.batch {namespace}/podinfo-pre-upgrade failed")
    assert "BackoffLimitExceeded" in error["message"]
    assert "container job exited with code 3" in error["message"]
    assert error["file"] == "charts/podinfo/templates/hooks/job.yaml"
    assert acted(failed) == {f"Deployment {namespace}/podinfo": "skipped"}  # the change after the hook
    assert ui_color(kube, namespace) == "#34577c"  # the new colour, after the hook, was not applied
    assert failed.json["tag"] is None and workspace.tags() == [installed]
    kept = kube.get(JOBS, namespace, "podinfo-pre-upgrade")  # before-hook-creation: kept until the next run
    assert _finished(kept, "Failed")
    assert kept is not None and kept["status"]["failed"] == 2  # the deploy waited for podinfo's one retry

    set_hook_exit_code(workspace, "preUpgrade", 0)
    workspace.commit("the pre-upgrade hook fixed")
    fixed = workspace.cli("deploy", "-o", "json", "--timeout", "120s")

    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    assert ui_color(kube, namespace) == "#ff0000"
    rerun = kube.get(JOBS, namespace, "podinfo-pre-upgrade")
    assert _complete(rerun)
    assert rerun is not None and rerun["metadata"]["uid"] != kept["metadata"]["uid"]
    assert workspace.tags() == [fixed.json["tag"], installed]


def test_a_failing_post_install_hook_fails_the_deploy_with_no_tag_and_a_fixed_rerun_converges(
    workspace: Workspace, kube: KubeCluster, tools_on_path: Path
) -> None:
    namespace = hooked_chart(workspace, "postInstall", delete_policy="hook-failed")
    hooks_that_can_fail(workspace)
    set_hook_exit_code(workspace, "postInstall", 4)
    workspace.commit("podinfo whose post-install hook fails")

    failed = workspace.cli("deploy", "-o", "json", "--timeout", "120s")

    assert failed.exit_code == 1, failed.stdout + failed.stderr
    (error,) = failed.json["errors"]
    assert error["message"].startswith(f"post-deploy hook Job.batch {namespace}/podinfo-post-install failed")
    assert "container job exited with code 4" in error["message"]
    assert failed.json["tag"] is None and workspace.tags() == []
    assert kube.get(DEPLOYMENTS, namespace, "podinfo") is not None  # applied before the post hook ran
    assert kube.get(JOBS, namespace, "podinfo-post-install") is None  # hook-failed: deleted

    set_hook_exit_code(workspace, "postInstall", 0)
    workspace.commit("the post-install hook fixed")
    fixed = workspace.cli("deploy", "-o", "json", "--timeout", "120s")

    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    assert "post-hooks" in step_names(fixed)
    assert _complete(kube.get(JOBS, namespace, "podinfo-post-install"))  # a success is kept: hook-failed only
    assert workspace.tags() == [fixed.json["tag"]]


def test_status_plan_offline_and_rollback_work_on_an_overlay_environment(
    workspace: Workspace, kube: KubeCluster, tools_on_path: Path
) -> None:
    staging, _ = two_overlays(workspace)
    workspace.commit("two overlays")
    assert workspace.cli("deploy", "--env", staging, "--no-wait").exit_code == 0
    service = workspace.root / "deploy/base/service.yaml"
    service.write_text(service.read_text().replace("type: ClusterIP", "type: NodePort"))
    workspace.commit("a NodePort")

    offline = workspace.cli("plan", "--env", staging, "--offline", "-o", "json")
    assert offline.exit_code == 0, offline.stderr
    assert acted(offline) == {f"Service {staging}/podinfo": "configured"}
    assert workspace.cli("deploy", "--env", staging, "--no-wait").exit_code == 0
    status = workspace.cli("status", "--env", staging, "--exit-code")
    assert status.exit_code == 0, status.stdout + status.stderr  # the rendering of the last tag is live

    rolled = workspace.cli("rollback", "--env", staging, "--no-wait")

    assert rolled.exit_code == 0, rolled.stderr
    live = kube.get(SERVICES, staging, "podinfo")
    assert live is not None and live["spec"]["type"] == "ClusterIP"


NOTICE_COMPONENT = {
    "kustomization.yaml": """
        apiVersion: kustomize.config.k8s.io/v1alpha1
        kind: Component
        resources: [notice.yaml]
        patches:
          - path: frontend-message.yaml
        """,
    "notice.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: shop-notice}
        data: {message: "Free shipping this week"}
        """,
    # The frontend shows FRONTEND_MESSAGE as a banner; here it comes from the component's ConfigMap.
    "frontend-message.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: frontend}
        spec:
          template:
            spec:
              containers:
                - name: server
                  env:
                    - name: FRONTEND_MESSAGE
                      valueFrom: {configMapKeyRef: {name: shop-notice, key: message}}
        """,
}


def shop_with_a_component(workspace: Workspace) -> str:
    """The microservices-demo base, a component of the test's own (a notice ConfigMap the frontend
    shows; the fixture ships no component) and an overlay that combines them in a namespace of its own.
    The component needs nothing remote and no CRD."""
    namespace = unique("shop")
    workspace.copy(MICROSERVICES_DEMO, "apps/shop/base")
    for name, text in NOTICE_COMPONENT.items():
        workspace.write(f"apps/shop/components/notice/{name}", text)
    workspace.write("apps/shop/overlays/dev/namespace.yaml", namespace_manifest(namespace))
    workspace.write(
        "apps/shop/overlays/dev/kustomization.yaml",
        f"""
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        namespace: {namespace}
        resources: [namespace.yaml, ../../base]
        components: [../../components/notice]
        """,
    )
    workspace.write(
        "gitops-push.yaml",
        f"""
        environments:
          {workspace.env}:
            kustomize: apps/shop/overlays/dev
        """,
    )
    return namespace


def test_the_microservices_demo_base_with_a_component_deploys_and_a_component_change_applies_only_its_object(
    workspace: Workspace, kube: KubeCluster, tools_on_path: Path
) -> None:
    namespace = shop_with_a_component(workspace)
    workspace.commit("the shop with a notice")

    first = workspace.cli("deploy", "-o", "json", "--timeout", "180s")

    assert first.exit_code == 0, first.stdout + first.stderr
    assert first.actions()[f"ConfigMap {namespace}/shop-notice"] == "created"
    assert first.actions()[f"Deployment {namespace}/frontend"] == "created"
    frontend = kube.get(DEPLOYMENTS, namespace, "frontend")
    assert frontend is not None
    env = {e["name"]: e for e in frontend["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["FRONTEND_MESSAGE"]["valueFrom"] == {
        "configMapKeyRef": {"name": "shop-notice", "key": "message"}
    }
    assert "PRODUCT_CATALOG_SERVICE_ADDR" in env  # the base's variables are kept beside the component's
    notice = workspace.root / "apps/shop/components/notice/notice.yaml"
    notice.write_text(notice.read_text().replace("Free shipping this week", "Closed for inventory"))
    workspace.commit("a new notice")

    plan = workspace.cli("plan", "-o", "json")

    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert acted(plan) == {f"ConfigMap {namespace}/shop-notice": "configured"}
    deployed = workspace.cli("deploy", "-o", "json", "--timeout", "180s")
    assert deployed.exit_code == 0, deployed.stdout + deployed.stderr
    assert acted(deployed) == acted(plan)
    live = kube.get(CONFIG_MAPS, namespace, "shop-notice")
    assert live is not None and live["data"] == {"message": "Closed for inventory"}
    status = workspace.cli("status", "-o", "json", "--exit-code")
    assert status.exit_code == 0, status.stdout + status.stderr
    assert set(status.actions().values()) == {"unchanged"}
    assert len(status.actions()) == len(first.actions())
