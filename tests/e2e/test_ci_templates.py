"""The CI templates run end to end against the devcluster.

- GitLab: a temporary repository of manifests includes ci-templates/gitlab/gitops-push.gitlab-ci.yml
  and extends `.gitops-push-deploy`; gitlab-ci-local runs the job in its shell executor, and a bare
  repository plays the GitLab project (`origin`).
- GitHub: the composite action's run step, the shell that GitHub's runner would execute, with the
  inputs in the environment as the runner passes them.

Both use the gitops-push of the interpreter running pytest (its bin folder goes on PATH), so they
work from a clean clone where nox installed the package. Nothing is mocked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gitops_push.kube import Cluster
from tests.e2e.conftest import DevCluster
from tests.e2e.workspace import CONFIG_MAPS, NAMESPACES, Workspace, config_map, namespace_manifest, unique
from tests.unit.test_ci_templates_lint import (
    GITHUB,
    GITLAB_TEMPLATE,
    CiTools,
    ci_tools,
    load_yaml,
    output,
    run,
)

__all__ = ["ci_tools"]  # the session fixture, shared with the lint tests

pytestmark = pytest.mark.e2e

TEMPLATE_PATH = "ci-templates/gitlab/gitops-push.gitlab-ci.yml"
JOB = "deploy-test"


def pipeline(env: str) -> str:
    """A .gitlab-ci.yml as a user would write it: include the template, extend the deploy job."""
    return textwrap.dedent(
        f"""\
        include:
          - local: {TEMPLATE_PATH}

        stages: [deploy]

        {JOB}:
          extends: .gitops-push-deploy
          variables:
            GITOPS_PUSH_ENV: {env}
            GITOPS_PUSH_PATH: k8s
            GITOPS_PUSH_TIMEOUT: 2m
        """
    )


def with_origin(workspace: Workspace, tmp_path: Path) -> Path:
    """A bare repository as `origin`, holding main, like the GitLab project a runner clones from."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    workspace.git("remote", "add", "origin", str(origin))
    workspace.git("push", "-q", "-u", "origin", "main")
    workspace.git("remote", "set-head", "origin", "main")  # CI_DEFAULT_BRANCH
    return origin


def gitlab_ci_local(
    tools: CiTools, workspace: Workspace, cluster: DevCluster
) -> subprocess.CompletedProcess[str]:
    """Run the job as GitLab would on a shell runner (the template's image is for Docker runners)."""
    gitops_push_bin = Path(sys.executable).parent
    if not (gitops_push_bin / "gitops-push").exists():
        pytest.fail(f"gitops-push is not installed next to {sys.executable}", pytrace=False)
    env = tools.env({"KUBECONFIG": str(cluster.kubeconfig)})
    env["PATH"] = f"{tools.bin}{os.pathsep}{gitops_push_bin}{os.pathsep}{os.environ['PATH']}"
    return run(
        [tools("gitlab-ci-local"), "--force-shell-executor", "--no-color", "--timestamps", JOB],
        cwd=workspace.root,
        env=env,
        timeout=600,
    )


def remote_tags(origin: Path, env: str) -> dict[str, str]:
    """Deploy tags on the bare remote: name -> the commit each points to."""
    refs = f"refs/tags/deployed/{env}/"
    out = subprocess.run(
        ["git", "--git-dir", str(origin), "for-each-ref", "--format=%(refname:short) %(*objectname)", refs],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def junit_cases(path: Path) -> dict[str, ET.Element]:
    assert path.is_file(), f"the job wrote no JUnit report at {path}"
    root = ET.parse(path).getroot()  # noqa: S314 - a file the job under test just wrote
    return {f"{case.get('classname', '')} {case.get('name', '')}": case for case in root.iter("testcase")}


def test_gitlab_job_deploys_tags_and_pushes_end_to_end(
    ci_tools: CiTools, cluster: DevCluster, workspace: Workspace, kube: Cluster, tmp_path: Path
) -> None:
    namespace = unique("gitlab")
    workspace.write("k8s/namespace.yaml", namespace_manifest(namespace))
    workspace.write("k8s/settings.yaml", config_map(namespace, "settings", {"greeting": "hello"}))
    workspace.copy(GITLAB_TEMPLATE, TEMPLATE_PATH)
    workspace.write(".gitlab-ci.yml", pipeline(workspace.env))
    workspace.write(".gitignore", ".gitlab-ci-local/\ngitops-push-junit.xml\n")
    first = workspace.commit("manifests and pipeline")
    origin = with_origin(workspace, tmp_path)

    # The first deploy: everything is new.
    result = gitlab_ci_local(ci_tools, workspace, cluster)
    assert result.returncode == 0, output(result)
    assert re.search(rf"^ PASS +(\[[^]]*\] +)?{JOB}$", result.stdout, re.MULTILINE), output(result)
    assert live_data(kube, namespace) == {"greeting": "hello"}
    assert kube.get(NAMESPACES, None, namespace) is not None
    [tag] = workspace.tags()
    assert workspace.git("rev-parse", f"{tag}^{{commit}}") == first
    assert remote_tags(origin, workspace.env) == {tag: first}, "the deploy tag was not pushed to origin"
    metadata = workspace.tag_metadata(tag)
    assert (metadata["environment"], metadata["to"], metadata["from"]) == (workspace.env, first, None)
    # The report, as the job's artifacts:reports:junit exported it.
    cases = junit_cases(workspace.root / ".gitlab-ci-local" / "artifacts" / JOB / "gitops-push-junit.xml")
    assert any("settings" in name for name in cases), sorted(cases)
    assert not [name for name, case in cases.items() if case.find("failure") is not None], sorted(cases)

    # A second merge: the job fetches the tags, deploys only the change, and tags again.
    workspace.write("k8s/settings.yaml", config_map(namespace, "settings", {"greeting": "bonjour"}))
    second = workspace.commit("change the greeting")
    workspace.git("push", "-q", "origin", "main")
    result = gitlab_ci_local(ci_tools, workspace, cluster)
    assert result.returncode == 0, output(result)
    assert live_data(kube, namespace) == {"greeting": "bonjour"}
    newest = workspace.tags()[0]
    assert newest != tag and workspace.git("rev-parse", f"{newest}^{{commit}}") == second
    assert remote_tags(origin, workspace.env) == {tag: first, newest: second}
    metadata = workspace.tag_metadata(newest)
    assert (metadata["from"], metadata["to"]) == (first, second)
    assert metadata["counts"]["updated"] == 1 and metadata["counts"]["created"] == 0, metadata


def live_data(kube: Cluster, namespace: str) -> dict[str, str] | None:
    live = kube.get(CONFIG_MAPS, namespace, "settings")
    if live is None:
        return None
    data: dict[str, str] = live.get("data") or {}
    return data


# --- GitHub Actions: the composite action's run step ----------------------------------------------


def action_run_step() -> tuple[str, dict[str, str]]:
    """The script of the action's `run` step and the names of its inputs (`env:` INPUT_… -> input)."""
    action = load_yaml(GITHUB / "action.yml")
    step = next(step for step in action["runs"]["steps"] if step.get("id") == "run")
    script: str = step["run"]
    assert "${{" not in script, "the script must read inputs from env:, never expand expressions"
    inputs: dict[str, str] = {}
    for name, value in step["env"].items():
        if name.startswith("INPUT_"):
            match = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", value)
            assert match, f"{name}: {value}"
            inputs[name] = match.group(1)
    return script, inputs


def run_action_step(
    workspace: Workspace, tmp_path: Path, with_: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    """Run the step as the runner does (`bash --noprofile --norc -eo pipefail FILE`): exit, outputs, summary."""
    script, inputs = action_run_step()
    action = load_yaml(GITHUB / "action.yml")
    defaults = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    unknown = set(with_) - set(defaults)
    assert not unknown, f"not inputs of the action: {unknown}"
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    outputs, summary = runner_temp / "github-output", runner_temp / "step-summary"
    outputs.write_text("")
    summary.write_text("")
    step_file = runner_temp / "step.sh"
    step_file.write_text(script)
    env = {
        **os.environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(runner_temp),
        "GITOPS_PUSH_BIN": str(Path(sys.executable).parent),
        **{name: {**defaults, **with_}[input_name] for name, input_name in inputs.items()},
    }
    result = run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(step_file)],
        cwd=workspace.root / {**defaults, **with_}["working-directory"],
        env=env,
    )
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert not [p for p in runner_temp.iterdir() if p.name.startswith("kubeconfig")], "kubeconfig left behind"
    return result, values, summary.read_text()


def test_github_action_step_deploys_reports_and_plans(
    cluster: DevCluster, workspace: Workspace, kube: Cluster, tmp_path: Path
) -> None:
    namespace = unique("github")
    workspace.write("k8s/namespace.yaml", namespace_manifest(namespace))
    workspace.write("k8s/settings.yaml", config_map(namespace, "settings", {"greeting": "hello"}))
    first = workspace.commit("manifests")
    kubeconfig = cluster.kubeconfig.read_text()  # the input takes the contents, as from a secret

    result, outputs, summary = run_action_step(
        workspace,
        tmp_path,
        {"command": "deploy", "env": workspace.env, "path": "k8s", "timeout": "2m", "kubeconfig": kubeconfig},
    )
    assert result.returncode == 0, output(result)
    [tag] = workspace.tags()
    assert outputs == {"exit-code": "0", "tag": tag, "junit": "./gitops-push-junit.xml"}, output(result)
    assert workspace.git("rev-parse", f"{tag}^{{commit}}") == first
    assert live_data(kube, namespace) == {"greeting": "hello"}
    assert f"gitops-push deploy `{workspace.env}`" in summary and tag in summary, summary
    assert "::group::" in result.stdout, output(result)  # --output github
    assert junit_cases(workspace.root / "gitops-push-junit.xml")

    # Nothing changed since: a deploy creates no tag, and the tag output says so.
    result, outputs, _ = run_action_step(
        workspace,
        tmp_path,
        {"command": "deploy", "env": workspace.env, "path": "k8s", "kubeconfig": kubeconfig},
    )
    assert result.returncode == 0, output(result)
    assert (outputs["exit-code"], outputs["tag"], workspace.tags()) == ("0", "", [tag]), output(result)

    # A pending change: plan --detailed-exitcode answers 10 in the output without failing the step.
    workspace.write("k8s/settings.yaml", config_map(namespace, "settings", {"greeting": "bonjour"}))
    workspace.commit("change the greeting")
    plan = {"command": "plan", "env": workspace.env, "path": "k8s", "kubeconfig": kubeconfig}
    result, outputs, summary = run_action_step(workspace, tmp_path, {**plan, "args": "--detailed-exitcode"})
    assert result.returncode == 0, output(result)
    assert (outputs["exit-code"], outputs["tag"]) == ("10", ""), output(result)
    assert "settings" in summary, summary
    assert live_data(kube, namespace) == {"greeting": "hello"}, "a plan changed the cluster"

    # A usage error fails the step with gitops-push's exit code.
    result, outputs, _ = run_action_step(workspace, tmp_path, {**plan, "args": "--no-such-flag"})
    assert (result.returncode, outputs["exit-code"]) == (2, "2"), output(result)
